/* Unaligned little-endian loads and stores, for the byte layouts of boot protocols, firmware
 * tables and device registers (x86 is little-endian; memcpy keeps them alignment-safe). */
#ifndef N90_BYTES_H
#define N90_BYTES_H

#include <stdint.h>
#include <string.h>

static inline uint16_t get_le16(const void *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static inline uint32_t get_le32(const void *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t get_le64(const void *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline void put_le16(void *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static inline void put_le32(void *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static inline void put_le64(void *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

#endif

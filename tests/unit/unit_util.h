/* Small helpers shared by the unit tests: little-endian field access on byte buffers and
 * firmware-table checksums. Header-only; every function is static inline. */
#ifndef N90_UNIT_UTIL_H
#define N90_UNIT_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t rd16(const void *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static inline uint32_t rd32(const void *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t rd64(const void *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline void wr16(void *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static inline void wr32(void *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static inline void wr64(void *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* Byte sum modulo 256: 0 for a table whose checksum byte is right. */
static inline uint8_t sum8(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint8_t s = 0;
	for (size_t i = 0; i < len; i++)
		s += p[i];
	return s;
}

#endif

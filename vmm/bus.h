/* Address buses: a sorted table of [base, base+len) ranges per bus (port I/O, MMIO), looked
 * up by binary search on each vCPU exit. Devices are registered before the vCPUs start and the
 * table is read-only afterwards, so dispatch takes no lock; a device that shares state with
 * another thread locks inside its own handlers. */
#ifndef N90_BUS_H
#define N90_BUS_H

#include <stdbool.h>
#include <stdint.h>

struct bus_ops {
	/* offset is relative to the registered base; len is 1, 2, 4 or 8. */
	void (*read)(void *opaque, uint64_t offset, uint8_t *data, uint32_t len);
	void (*write)(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len);
};

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct bus_ops *ops;
	void *opaque;
	const char *name;
};

struct bus {
	const char *name; /* "pio" or "mmio", for messages */
	/* Port I/O decodes by the access's first port (an outl to 0xCF8 belongs to 0xCF8 even
	 * though 0xCF9 is another register); MMIO accesses must lie inside one range. */
	bool decode_by_start;
	struct bus_range *ranges;
	unsigned int count;
	unsigned int capacity;
	uint64_t unclaimed_accesses;
};

void bus_init(struct bus *bus, const char *name);
void bus_free(struct bus *bus);
/* Returns 0, -EEXIST if the range overlaps one already registered, -EINVAL, -ENOMEM. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_ops *ops, void *opaque,
		 const char *name);
const struct bus_range *bus_find(const struct bus *bus, uint64_t addr);
/* Dispatch one access. An access nobody claims reads as all ones and its writes are dropped,
 * as on a real bus with no device decoding the address. Returns false when unclaimed. */
bool bus_read(struct bus *bus, uint64_t addr, uint8_t *data, uint32_t len);
bool bus_write(struct bus *bus, uint64_t addr, const uint8_t *data, uint32_t len);

/* Little-endian helpers for device handlers. */
static inline uint64_t bus_data_get(const uint8_t *data, uint32_t len)
{
	uint64_t v = 0;
	for (uint32_t i = 0; i < len && i < 8; i++)
		v |= (uint64_t)data[i] << (8 * i);
	return v;
}

static inline void bus_data_put(uint8_t *data, uint32_t len, uint64_t v)
{
	for (uint32_t i = 0; i < len && i < 8; i++)
		data[i] = (uint8_t)(v >> (8 * i));
}

#endif

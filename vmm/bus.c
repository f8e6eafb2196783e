#include "vmm/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/log.h"

void bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
}

void bus_free(struct bus *bus)
{
	free(bus->ranges);
	bus_init(bus, bus->name);
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_ops *ops, void *opaque,
		 const char *name)
{
	if (len == 0 || base + len < base || !ops)
		return -EINVAL;
	unsigned int pos = 0;
	while (pos < bus->count && bus->ranges[pos].base < base)
		pos++;
	if (pos > 0) {
		const struct bus_range *prev = &bus->ranges[pos - 1];
		if (prev->base + prev->len > base)
			return -EEXIST;
	}
	if (pos < bus->count && base + len > bus->ranges[pos].base)
		return -EEXIST;
	if (bus->count == bus->capacity) {
		unsigned int cap = bus->capacity ? bus->capacity * 2 : 16;
		struct bus_range *r = realloc(bus->ranges, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		bus->ranges = r;
		bus->capacity = cap;
	}
	memmove(&bus->ranges[pos + 1], &bus->ranges[pos], (bus->count - pos) * sizeof(*bus->ranges));
	bus->ranges[pos] = (struct bus_range){ base, len, ops, opaque, name };
	bus->count++;
	return 0;
}

const struct bus_range *bus_find(const struct bus *bus, uint64_t addr)
{
	unsigned int lo = 0, hi = bus->count;
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->ranges[mid];
		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

/* Guests probe absent hardware all the time (Linux scans PCI through 0xCF8 without a
 * host bridge): every access is counted, only the first few are logged, at debug level. */
#define UNCLAIMED_LOG_LIMIT 16

static void note_unclaimed(struct bus *bus, uint64_t addr, uint32_t len, bool write)
{
	uint64_t n = __atomic_add_fetch(&bus->unclaimed_accesses, 1, __ATOMIC_RELAXED);
	if (n <= UNCLAIMED_LOG_LIMIT)
		log_debug("%s: unclaimed %u-byte %s at 0x%llx%s", bus->name, len, write ? "write" : "read",
			  (unsigned long long)addr, n == UNCLAIMED_LOG_LIMIT ? " (further ones only counted)" : "");
}

bool bus_read(struct bus *bus, uint64_t addr, uint8_t *data, uint32_t len)
{
	const struct bus_range *r = bus_find(bus, addr);
	if (!r || !r->ops->read || (!bus->decode_by_start && len > r->len - (addr - r->base))) {
		memset(data, 0xff, len);
		note_unclaimed(bus, addr, len, false);
		return false;
	}
	r->ops->read(r->opaque, addr - r->base, data, len);
	return true;
}

bool bus_write(struct bus *bus, uint64_t addr, const uint8_t *data, uint32_t len)
{
	const struct bus_range *r = bus_find(bus, addr);
	if (!r || !r->ops->write || (!bus->decode_by_start && len > r->len - (addr - r->base))) {
		note_unclaimed(bus, addr, len, true);
		return false;
	}
	r->ops->write(r->opaque, addr - r->base, data, len);
	return true;
}

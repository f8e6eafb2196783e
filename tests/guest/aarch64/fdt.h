/*
 * n90vmm arm64 test guest: a flattened device tree reader (Devicetree Specification 0.4
 * chapter 5), freestanding and bounds-checked: fdt_open() checks the header and walks the
 * whole structure block once (tokens, nesting, property lengths, name offsets) before
 * anything else reads it, and every accessor still stays inside the blob. Reads are
 * byte-wise (the blob has no alignment promise for 64-bit values, and with the MMU off
 * every access is Device memory, where unaligned ones fault).
 *
 * A node is named by the offset of its FDT_BEGIN_NODE token; negative means none.
 */
#ifndef N90_GUEST_FDT_H
#define N90_GUEST_FDT_H

#include "lib.h"

struct fdt {
	u64 pa;                /* where the blob is */
	u32 size;              /* totalsize */
	u32 off_struct, size_struct, off_strings, size_strings, off_rsvmap;
	u32 nodes, props;      /* counted by the walk */
};

/* Checks the header at `pa` and walks the blob; NULL, or what is wrong. `max` bounds the
 * size the blob may claim. */
const char *fdt_open(struct fdt *f, u64 pa, u32 max);

u32 fdt_be32(const struct fdt *f, u32 off);

/* The node after `node` in document order (-1 gives the root); -1 at the end. With
 * `depth` (may be NULL), *depth holds node's depth on entry and the new node's on return
 * (the root is at 0). */
int fdt_next_node(const struct fdt *f, int node, int *depth);
/* The node's first child / its next sibling; -1 if none. */
int fdt_child(const struct fdt *f, int node);
int fdt_sibling(const struct fdt *f, int node);
/* Unit name ("cpu@1"), copied into buf. */
const char *fdt_name(const struct fdt *f, int node, char *buf, u32 cap);
/* A property's value: its offset in the blob and length; -1 if absent. */
int fdt_prop(const struct fdt *f, int node, const char *name, u32 *len);
/* Property as a u32 / a cell count; `def` when absent or short. */
u32 fdt_prop_u32(const struct fdt *f, int node, const char *name, u32 def);
/* Does the string-list property `name` contain `s`? */
int fdt_prop_has(const struct fdt *f, int node, const char *name, const char *s);
/* Copies a string property into buf ("" when absent); returns buf. */
const char *fdt_prop_str(const struct fdt *f, int node, const char *name, char *buf, u32 cap);
/* Node by path ("/cpus", "/chosen"; a component without '@' matches any unit address). */
int fdt_path(const struct fdt *f, const char *path);
/* The next node after `from` (-1: from the start) whose compatible holds `compat`. */
int fdt_compatible(const struct fdt *f, int from, const char *compat);
int fdt_by_phandle(const struct fdt *f, u32 phandle);
int fdt_parent(const struct fdt *f, int node);
/* The interrupt parent (interrupt-parent up the tree). */
int fdt_interrupt_parent(const struct fdt *f, int node);
/* reg entry `i`, with the parent's #address-cells / #size-cells; 0 if there is one. */
int fdt_reg(const struct fdt *f, int node, u32 i, u64 *addr, u64 *size);
/* Reads `cells` big-endian cells at `off` as one number (cells <= 2, else the low two). */
u64 fdt_cells(const struct fdt *f, u32 off, u32 cells);

#endif

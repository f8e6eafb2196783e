/*
 * n90vmm arm64 test guest: flattened device tree reader (see fdt.h).
 */
#include "fdt.h"
#include "cpu.h"

#define FDT_MAGIC 0xd00dfeedu
#define FDT_BEGIN_NODE 1
#define FDT_END_NODE 2
#define FDT_PROP 3
#define FDT_NOP 4
#define FDT_END 9
#define FDT_MAX_DEPTH 32

static u8 byte(const struct fdt *f, u32 off)
{
	return off < f->size ? rd8(f->pa + off) : 0;
}

u32 fdt_be32(const struct fdt *f, u32 off)
{
	return (u32)byte(f, off) << 24 | (u32)byte(f, off + 1) << 16 | (u32)byte(f, off + 2) << 8 | byte(f, off + 3);
}

static u32 align4(u32 v)
{
	return (v + 3) & ~3u;
}

/* Length of the NUL-terminated string at off, which must end before `end`; -1 if not. */
static int str_len(const struct fdt *f, u32 off, u32 end)
{
	for (u32 n = 0; off + n < end; n++)
		if (!byte(f, off + n))
			return (int)n;
	return -1;
}

/* Offset just after the token at `off` (a structure-block offset made absolute), or 0
 * when it is malformed. Sets *tok. Only called on a validated blob, or by the validator. */
static u32 skip_token(const struct fdt *f, u32 off, u32 *tok)
{
	u32 end = f->off_struct + f->size_struct;
	if (off + 4 > end)
		return 0;
	*tok = fdt_be32(f, off);
	off += 4;
	switch (*tok) {
	case FDT_BEGIN_NODE: {
		int n = str_len(f, off, end);
		return n < 0 ? 0 : align4(off + (u32)n + 1);
	}
	case FDT_PROP: {
		if (off + 8 > end)
			return 0;
		u32 len = fdt_be32(f, off), nameoff = fdt_be32(f, off + 4);
		if (len > end - off - 8 || nameoff >= f->size_strings)
			return 0;
		if (str_len(f, f->off_strings + nameoff, f->off_strings + f->size_strings) < 0)
			return 0;
		return align4(off + 8 + len);
	}
	case FDT_END_NODE:
	case FDT_NOP:
	case FDT_END:
		return off;
	}
	return 0;
}

const char *fdt_open(struct fdt *f, u64 pa, u32 max)
{
	memset(f, 0, sizeof(*f));
	f->pa = pa;
	f->size = 40;
	if ((pa & 7) != 0)
		return failf("FDT at %lx is not 8-byte aligned", pa);
	if (fdt_be32(f, 0) != FDT_MAGIC)
		return failf("no FDT magic at %lx", pa);
	u32 total = fdt_be32(f, 4);
	f->off_struct = fdt_be32(f, 8);
	f->off_strings = fdt_be32(f, 12);
	f->off_rsvmap = fdt_be32(f, 16);
	u32 version = fdt_be32(f, 20), last_comp = fdt_be32(f, 24);
	f->size_strings = fdt_be32(f, 32);
	f->size_struct = fdt_be32(f, 36);
	if (total < 40 || total > max)
		return failf("totalsize %u outside 40..%u", total, max);
	if (version < 17 || last_comp > 17)
		return failf("version %u (last compatible %u): 17 expected", version, last_comp);
	if (f->off_struct > total || f->size_struct > total - f->off_struct || f->off_strings > total ||
	    f->size_strings > total - f->off_strings || f->off_rsvmap > total - 16 || (f->off_struct & 3) ||
	    (f->off_rsvmap & 7))
		return "header blocks lie outside totalsize or are misaligned";
	f->size = total;
	/* Memory reservation block: (address, size) pairs up to one of 0, 0. */
	for (u32 off = f->off_rsvmap;; off += 16) {
		if (off + 16 > total)
			return "memory reservation block has no terminator";
		if (!fdt_be32(f, off) && !fdt_be32(f, off + 4) && !fdt_be32(f, off + 8) && !fdt_be32(f, off + 12))
			break;
	}
	/* The structure block: one root node, balanced, then FDT_END. */
	u32 off = f->off_struct, tok = 0;
	int depth = 0, roots = 0;
	for (;;) {
		u32 next = skip_token(f, off, &tok);
		if (!next)
			return failf("malformed token at structure offset %u", off - f->off_struct);
		if (tok == FDT_BEGIN_NODE) {
			if (depth == 0 && roots++)
				return "more than one root node";
			if (++depth > FDT_MAX_DEPTH)
				return "nodes nested too deep";
			f->nodes++;
		} else if (tok == FDT_END_NODE) {
			if (--depth < 0)
				return "unbalanced FDT_END_NODE";
		} else if (tok == FDT_PROP) {
			if (depth == 0)
				return "property outside the root node";
			f->props++;
		} else if (tok == FDT_END) {
			break;
		}
		off = next;
	}
	if (depth != 0 || !roots)
		return "structure block ends inside a node";
	return 0;
}

int fdt_next_node(const struct fdt *f, int node, int *depth)
{
	u32 off, tok;
	int d = depth ? *depth : 0;
	if (node < 0) {
		off = f->off_struct;
		d = -1;
	} else {
		off = skip_token(f, (u32)node, &tok); /* past the node's own FDT_BEGIN_NODE */
	}
	while (off) {
		u32 at = off;
		off = skip_token(f, off, &tok);
		if (!off || tok == FDT_END)
			return -1;
		if (tok == FDT_BEGIN_NODE) {
			if (depth)
				*depth = d + 1;
			return (int)at;
		}
		if (tok == FDT_END_NODE)
			d--;
	}
	return -1;
}

const char *fdt_name(const struct fdt *f, int node, char *buf, u32 cap)
{
	u32 i = 0;
	for (u32 off = (u32)node + 4; i + 1 < cap && byte(f, off + i); i++)
		buf[i] = (char)byte(f, off + i);
	buf[i] = 0;
	return buf;
}

static int name_is(const struct fdt *f, u32 nameoff, const char *name)
{
	u32 off = f->off_strings + nameoff;
	for (u32 i = 0;; i++) {
		u8 c = byte(f, off + i);
		if (c != (u8)name[i])
			return 0;
		if (!c)
			return 1;
	}
}

int fdt_prop(const struct fdt *f, int node, const char *name, u32 *len)
{
	if (node < 0)
		return -1;
	u32 tok, off = skip_token(f, (u32)node, &tok);
	while (off) {
		u32 at = off;
		off = skip_token(f, off, &tok);
		if (tok == FDT_NOP)
			continue;
		if (tok != FDT_PROP)
			return -1; /* properties come before subnodes */
		if (name_is(f, fdt_be32(f, at + 8), name)) {
			if (len)
				*len = fdt_be32(f, at + 4);
			return (int)(at + 12);
		}
	}
	return -1;
}

u32 fdt_prop_u32(const struct fdt *f, int node, const char *name, u32 def)
{
	u32 len;
	int off = fdt_prop(f, node, name, &len);
	return off < 0 || len < 4 ? def : fdt_be32(f, (u32)off);
}

int fdt_prop_has(const struct fdt *f, int node, const char *name, const char *s)
{
	u32 len, n = (u32)strlen(s);
	int off = fdt_prop(f, node, name, &len);
	if (off < 0)
		return 0;
	for (u32 i = 0; i < len;) {
		u32 j = 0;
		while (i + j < len && byte(f, (u32)off + i + j))
			j++;
		if (j == n) {
			u32 k = 0;
			while (k < n && byte(f, (u32)off + i + k) == (u8)s[k])
				k++;
			if (k == n)
				return 1;
		}
		i += j + 1;
	}
	return 0;
}

const char *fdt_prop_str(const struct fdt *f, int node, const char *name, char *buf, u32 cap)
{
	u32 len, i = 0;
	int off = fdt_prop(f, node, name, &len);
	for (; off >= 0 && i < len && i + 1 < cap && byte(f, (u32)off + i); i++)
		buf[i] = (char)byte(f, (u32)off + i);
	buf[i] = 0;
	return buf;
}

/* Does node's name match path component [c, c+n)? A component without '@' also matches
 * the name with any unit address ("memory" matches "memory@40000000"). */
static int component_is(const struct fdt *f, int node, const char *c, u32 n)
{
	char name[64];
	fdt_name(f, node, name, sizeof(name));
	u32 i = 0;
	while (i < n && name[i] == c[i])
		i++;
	if (i != n)
		return 0;
	if (!name[i])
		return 1;
	for (u32 k = 0; k < n; k++)
		if (c[k] == '@')
			return 0;
	return name[i] == '@';
}

int fdt_child(const struct fdt *f, int node)
{
	int d = 0, c = fdt_next_node(f, node, &d);
	return c >= 0 && d == 1 ? c : -1;
}

int fdt_sibling(const struct fdt *f, int node)
{
	int d = 0, c = fdt_next_node(f, node, &d);
	while (c >= 0 && d > 0)
		c = fdt_next_node(f, c, &d);
	return c >= 0 && d == 0 ? c : -1;
}

int fdt_path(const struct fdt *f, const char *path)
{
	int node = fdt_next_node(f, -1, 0); /* the root */
	while (*path == '/')
		path++;
	while (*path && node >= 0) {
		u32 n = 0;
		while (path[n] && path[n] != '/')
			n++;
		int c = fdt_child(f, node);
		while (c >= 0 && !component_is(f, c, path, n))
			c = fdt_sibling(f, c);
		node = c;
		path += n;
		while (*path == '/')
			path++;
	}
	return node;
}

int fdt_compatible(const struct fdt *f, int from, const char *compat)
{
	for (int n = fdt_next_node(f, from, 0); n >= 0; n = fdt_next_node(f, n, 0))
		if (fdt_prop_has(f, n, "compatible", compat))
			return n;
	return -1;
}

int fdt_by_phandle(const struct fdt *f, u32 phandle)
{
	for (int n = fdt_next_node(f, -1, 0); n >= 0; n = fdt_next_node(f, n, 0))
		if (fdt_prop_u32(f, n, "phandle", 0) == phandle || fdt_prop_u32(f, n, "linux,phandle", 0) == phandle)
			return n;
	return -1;
}

int fdt_parent(const struct fdt *f, int node)
{
	int stack[FDT_MAX_DEPTH + 1], depth = 0;
	for (int n = fdt_next_node(f, -1, &depth); n >= 0; n = fdt_next_node(f, n, &depth)) {
		if (depth < 0 || depth > FDT_MAX_DEPTH)
			return -1;
		stack[depth] = n;
		if (n == node)
			return depth ? stack[depth - 1] : -1;
	}
	return -1;
}

int fdt_interrupt_parent(const struct fdt *f, int node)
{
	for (int n = node; n >= 0; n = fdt_parent(f, n)) {
		u32 ph = fdt_prop_u32(f, n, "interrupt-parent", 0);
		if (ph)
			return fdt_by_phandle(f, ph);
	}
	return -1;
}

u64 fdt_cells(const struct fdt *f, u32 off, u32 cells)
{
	u64 v = 0;
	for (u32 i = 0; i < cells; i++)
		v = v << 32 | fdt_be32(f, off + 4 * i);
	return v;
}

int fdt_reg(const struct fdt *f, int node, u32 i, u64 *addr, u64 *size)
{
	int parent = fdt_parent(f, node);
	u32 ac = fdt_prop_u32(f, parent, "#address-cells", 2), sc = fdt_prop_u32(f, parent, "#size-cells", 1), len;
	int off = fdt_prop(f, node, "reg", &len);
	u32 entry = 4 * (ac + sc);
	if (off < 0 || ac > 3 || sc > 2 || !entry || (i + 1) * entry > len)
		return -1;
	*addr = fdt_cells(f, (u32)off + i * entry, ac);
	*size = fdt_cells(f, (u32)off + i * entry + 4 * ac, sc);
	return 0;
}

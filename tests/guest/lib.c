/*
 * n90vmm test guests: the freestanding library every architecture shares (lib.h).
 *
 * The output must be byte-identical under every VMM for the same image and command line,
 * so successful checks print no addresses or VMM-specific numbers.
 */
#include <stdarg.h>
#include "lib.h"

void *memcpy(void *d, const void *s, unsigned long n)
{
	char *dp = d;
	const char *sp = s;
	while (n--)
		*dp++ = *sp++;
	return d;
}

unsigned long strlen(const char *s)
{
	unsigned long n = 0;
	while (s[n])
		n++;
	return n;
}

int streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

char *copy_str(char *d, const char *s, unsigned long cap)
{
	unsigned long i = 0;
	for (; s[i] && i + 1 < cap; i++)
		d[i] = s[i];
	if (cap)
		d[i] = 0;
	return d;
}

int memcmp(const void *a, const void *b, unsigned long n)
{
	const unsigned char *x = a, *y = b;
	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

void *memset(void *d, int c, unsigned long n)
{
	char *dp = d;
	while (n--)
		*dp++ = (char)c;
	return d;
}

/* ------------------------------------------------------------------ */
/* Minimal printf: %s %c %u %d %x, 'l' for 64 bit                      */
/* ------------------------------------------------------------------ */

struct sink {
	char *buf; /* NULL: the console */
	u32 len, cap;
};

/*
 * Everything printed is also kept in a transcript, and mirrored line by line once
 * console_mirror is set: with "--console virtio" the boot UART goes nowhere, so the
 * virtio-console test replays the transcript there and the whole report reaches the
 * monitor's output.
 */
void (*console_mirror)(const char *buf, u32 len);
static char transcript[8192];
static u32 transcript_len, mirrored_len;
static int mirror_busy;

static void out_byte(char c)
{
	arch_putc(c);
	if (transcript_len < sizeof(transcript))
		transcript[transcript_len++] = c;
	if (console_mirror && (c == '\n' || transcript_len == sizeof(transcript)) && !mirror_busy) {
		mirror_busy = 1; /* the mirror may print (its own failures): no recursion */
		console_mirror(transcript + mirrored_len, transcript_len - mirrored_len);
		mirrored_len = transcript_len;
		mirror_busy = 0;
	}
}

static void emit(struct sink *s, char c)
{
	if (!s->buf) {
		if (c == '\n')
			out_byte('\r'); /* every line ends in "\r\n" */
		out_byte(c);
	} else if (s->len + 1 < s->cap) {
		s->buf[s->len++] = c;
		s->buf[s->len] = 0;
	}
}

static void vfmt(struct sink *s, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			emit(s, *fmt);
			continue;
		}
		int lng = 0;
		if (*++fmt == 'l') {
			lng = 1;
			fmt++;
		}
		char tmp[24];
		int n = 0;
		u64 v;
		switch (*fmt) {
		case 's': {
			const char *str = va_arg(ap, const char *);
			while (*str)
				emit(s, *str++);
			break;
		}
		case 'c':
			emit(s, (char)va_arg(ap, int));
			break;
		case 'd': {
			long long sv = lng ? va_arg(ap, long long) : va_arg(ap, int);
			if (sv < 0) {
				emit(s, '-');
				sv = -sv;
			}
			v = (u64)sv;
			goto dec;
		}
		case 'u':
			v = lng ? va_arg(ap, u64) : va_arg(ap, u32);
		dec:
			do
				tmp[n++] = (char)('0' + v % 10);
			while (v /= 10);
			while (n)
				emit(s, tmp[--n]);
			break;
		case 'x':
			v = lng ? va_arg(ap, u64) : va_arg(ap, u32);
			do
				tmp[n++] = "0123456789abcdef"[v & 15];
			while (v >>= 4);
			emit(s, '0');
			emit(s, 'x');
			while (n)
				emit(s, tmp[--n]);
			break;
		case '%':
			emit(s, '%');
			break;
		default:
			emit(s, '?');
			if (!*fmt)
				return;
			break;
		}
	}
}

void kprintf(const char *fmt, ...)
{
	struct sink s = { 0, 0, 0 };
	va_list ap;
	va_start(ap, fmt);
	vfmt(&s, fmt, ap);
	va_end(ap);
}

/* Failure details: formatted into a static buffer, returned as the
 * check's result (NULL means ok). */
static char why_buf[160];
const char *failf(const char *fmt, ...)
{
	struct sink s = { why_buf, 0, sizeof(why_buf) };
	va_list ap;
	why_buf[0] = 0;
	va_start(ap, fmt);
	vfmt(&s, fmt, ap);
	va_end(ap);
	return why_buf;
}

static int all_ok = 1;

/* "debug" on the command line: extra "debug: ..." lines with addresses and
 * tables (these differ between VMMs; never used for comparisons). */
int debug;

void report(const char *name, const char *fail)
{
	if (fail) {
		all_ok = 0;
		kprintf("check %s: FAIL %s\n", name, fail);
	} else {
		kprintf("check %s: ok\n", name);
	}
}

int checks_ok(void)
{
	return all_ok;
}

/* ------------------------------------------------------------------ */
/* Command line                                                        */
/* ------------------------------------------------------------------ */

char cmdline[1024];

int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

void cmdline_set(const volatile char *s, u32 max)
{
	u32 n = 0;
	while (n < max && n < sizeof(cmdline) - 1 && s[n])
		n++;
	/* strip leading/trailing blanks */
	u32 a = 0;
	while (a < n && is_space(s[a]))
		a++;
	while (n > a && is_space(s[n - 1]))
		n--;
	for (u32 i = a; i < n; i++)
		cmdline[i - a] = s[i];
	cmdline[n - a] = 0;
}

int starts_with(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return 0;
	return 1;
}

long parse_num(const char *s)
{
	long v = 0;
	if (!*s || is_space(*s))
		return -1;
	for (; *s && !is_space(*s); s++) {
		if (*s < '0' || *s > '9' || v > 1000000)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

u64 parse_hex(const char *s)
{
	u64 v = 0;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	for (; *s && !is_space(*s); s++) {
		char c = *s;
		int n = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (n < 0)
			return 0;
		v = v * 16 + (u64)n;
	}
	return v;
}

const char *cmdline_value(const char *key)
{
	for (const char *p = cmdline; *p;) {
		while (is_space(*p))
			p++;
		if (starts_with(p, key))
			return p + strlen(key);
		while (*p && !is_space(*p))
			p++;
	}
	return 0;
}

static int word_is(const char *p, const char *word)
{
	u32 n = (u32)strlen(word);
	return starts_with(p, word) && (!p[n] || is_space(p[n]));
}

int cmdline_has(const char *word)
{
	for (const char *p = cmdline; *p;) {
		while (is_space(*p))
			p++;
		if (word_is(p, word))
			return 1;
		while (*p && !is_space(*p))
			p++;
	}
	return 0;
}

u32 expect_cpus = 1, expect_mem_mb, end_action;
const char *cmdline_err;

void parse_cmdline(const char *const *actions)
{
	debug = cmdline_has("debug");
	for (const char *p = cmdline; *p;) {
		while (is_space(*p))
			p++;
		if (starts_with(p, "expect_cpus=")) {
			long v = parse_num(p + 12);
			if (v < 1 || v > 255)
				cmdline_err = "bad expect_cpus= value";
			else
				expect_cpus = (u32)v;
		} else if (starts_with(p, "action=")) {
			u32 i = 0;
			while (actions[i] && !word_is(p + 7, actions[i]))
				i++;
			if (actions[i])
				end_action = i;
			else
				cmdline_err = "bad action= value";
		} else if (starts_with(p, "expect_mem_mb=")) {
			long v = parse_num(p + 14);
			if (v < 1)
				cmdline_err = "bad expect_mem_mb= value";
			else
				expect_mem_mb = (u32)v;
		}
		while (*p && !is_space(*p)) /* unknown words are ignored */
			p++;
	}
}

const char *check_mem_total(u64 total)
{
	if (!expect_mem_mb)
		return 0;
	u64 hi = (u64)expect_mem_mb << 20;
	u64 lo = expect_mem_mb > 4 ? hi - (4ull << 20) : 0;
	if (total < lo || total > hi)
		return failf("usable RAM %lu KiB, expected %u MiB - 4 MiB .. %u MiB", total >> 10, expect_mem_mb,
			     expect_mem_mb);
	return 0;
}

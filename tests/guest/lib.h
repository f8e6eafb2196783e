/*
 * n90vmm test guests: what every architecture's guest shares - fixed-width types, the
 * freestanding string functions, kprintf, the check reports and the command line (lib.c).
 * Output ends in arch_putc(), the boot console of each architecture.
 */
#ifndef N90_GUEST_LIB_H
#define N90_GUEST_LIB_H

#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int64_t s64;

/* The compiler may emit calls to these even in freestanding code. */
void *memcpy(void *d, const void *s, unsigned long n);
void *memset(void *d, int c, unsigned long n);
int memcmp(const void *a, const void *b, unsigned long n);
unsigned long strlen(const char *s);
int streq(const char *a, const char *b);
/* Copies s into d (cap bytes, always terminated, cut if longer); returns d. */
char *copy_str(char *d, const char *s, unsigned long cap);

/* One byte to the boot console (each architecture's UART). */
void arch_putc(char c);

/* printf subset: %s %c %u %d %x, 'l' for 64 bit. Every line ends in "\r\n". */
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A check's failure detail, formatted into a static buffer (one at a time). */
const char *failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "check NAME: ok" or "check NAME: FAIL detail"; a failure makes the RESULT FAIL. */
void report(const char *name, const char *fail);
/* No check has failed so far. */
int checks_ok(void);
extern int debug;
#define dprintf(...) do { if (debug) kprintf("debug: " __VA_ARGS__); } while (0)
/* Output mirror: once set, every line printed also goes there, starting with a replay of
 * everything printed before (virtio-console, a second UART). */
extern void (*console_mirror)(const char *buf, u32 len);

/* ---- the command line ---- */
extern char cmdline[1024];
/* Copies at most n bytes (up to a NUL) of a loader's command line, without the blanks
 * around it. */
void cmdline_set(const volatile char *s, u32 n);
int is_space(char c);
int starts_with(const char *s, const char *prefix);
/* Decimal value up to the next blank; -1 if empty or not a number. */
long parse_num(const char *s);
/* Hexadecimal value (optional 0x) up to the next blank; 0 if not a number. */
u64 parse_hex(const char *s);
/* The value of the first "KEY=value" word (KEY given with its '='), up to the next blank;
 * NULL if there is none. */
const char *cmdline_value(const char *key);
/* Does the command line hold WORD exactly (a word without '=')? */
int cmdline_has(const char *word);

/* The words every guest takes (README.md, "Contract"): debug, expect_cpus=N (default 1),
 * expect_mem_mb=M (0: not given) and action=WORD, one of the architecture's `actions`
 * (NULL-terminated; end_action is its index, 0 the default). A bad value sets
 * cmdline_err. Other words are left to their modes. */
extern u32 expect_cpus, expect_mem_mb, end_action;
extern const char *cmdline_err;
void parse_cmdline(const char *const *actions);
/* expect_mem_mb= against the usable RAM found: NULL if not given or within [M - 4 MiB, M]. */
const char *check_mem_total(u64 total);

#endif

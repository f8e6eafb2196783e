/*
 * n90vmm x86 test guest: the 64-bit core of every boot form.
 *
 * Entered from longmode.S with the first 4 GiB identity-mapped, our own GDT,
 * interrupts off.  Collects the boot information handed over by the
 * loader, runs a fixed list of checks and prints one line per check on
 * COM1, then powers off.  The output must be byte-identical under every
 * VMM for the same image and command line, so successful checks print no
 * addresses or VMM-specific numbers.
 */
#include "guest.h"

/* ------------------------------------------------------------------ */
/* Low-level helpers                                                   */
/* ------------------------------------------------------------------ */

void delay_cycles(u64 n)
{
	u64 t0 = rdtsc();
	while (rdtsc() - t0 < n)
		pause();
}

/* ------------------------------------------------------------------ */
/* COM1 (16550A)                                                       */
/* ------------------------------------------------------------------ */

#define COM1 0x3f8
#define UART_THR 0 /* DLAB=0 */
#define UART_DLL 0 /* DLAB=1 */
#define UART_IER 1
#define UART_DLM 1 /* DLAB=1 */
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LSR_THRE 0x20

/* Same sequence as Linux's early 8250 console (early_serial_init):
 * interrupts off, 115200 baud (divisor 1), 8N1, FIFOs on, DTR|RTS. */
static void serial_init(void)
{
	outb(COM1 + UART_IER, 0x00);
	outb(COM1 + UART_LCR, 0x80); /* DLAB */
	outb(COM1 + UART_DLL, 0x01);
	outb(COM1 + UART_DLM, 0x00);
	outb(COM1 + UART_LCR, 0x03); /* 8N1, DLAB off */
	outb(COM1 + UART_FCR, 0xc7); /* enable + clear FIFOs, 14-byte trigger */
	outb(COM1 + UART_MCR, 0x03); /* DTR | RTS */
}

void arch_putc(char c)
{
	/* Bounded: a missing UART reads 0xff (THRE set) anyway. */
	for (u32 i = 0; i < 1000000 && !(inb(COM1 + UART_LSR) & LSR_THRE); i++)
		pause();
	outb(COM1 + UART_THR, (u8)c);
}

/* ------------------------------------------------------------------ */
/* Exceptions: report and stop (never expected)                         */
/* ------------------------------------------------------------------ */

struct idt_entry {
	u16 off_lo, sel;
	u8 ist, type;
	u16 off_mid;
	u32 off_hi, zero;
} __attribute__((packed));

/* Exceptions 0-31 and the device interrupt vectors; the rest stay not-present. */
static struct idt_entry idt[IRQ_VECTOR_BASE + IRQ_VECTORS];

static void idt_init(void)
{
	for (int i = 0; i < IRQ_VECTOR_BASE + IRQ_VECTORS; i++) {
		if (i >= 32 && i < IRQ_VECTOR_BASE)
			continue;
		u64 a = i < 32 ? isr_table[i] : irq_stub_table[i - IRQ_VECTOR_BASE];
		idt[i].off_lo = (u16)a;
		idt[i].sel = SEL_CODE64;
		idt[i].ist = 0;
		idt[i].type = 0x8e; /* present, DPL0, 64-bit interrupt gate */
		idt[i].off_mid = (u16)(a >> 16);
		idt[i].off_hi = (u32)(a >> 32);
		idt[i].zero = 0;
	}
	struct {
		u16 limit;
		u64 base;
	} __attribute__((packed)) idtr = { sizeof(idt) - 1, (u64)idt };
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

static void poweroff(void);

void guest_exception(u64 *frame)
{
	/* frame: vector, error code, rip, cs, rflags, rsp, ss */
	u64 cr2;
	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	kprintf("exception %lu err=%lx rip=%lx cr2=%lx\n", frame[0], frame[1], frame[2], cr2);
	kprintf("RESULT: FAIL\n");
	poweroff();
}

/* ------------------------------------------------------------------ */
/* Boot information (copied before anything touches low memory)       */
/* ------------------------------------------------------------------ */

#define E820_RAM 1
#define MAX_MMAP 128

static struct {
	u64 base, len;
	u32 type;
} mmap[MAX_MMAP];
static u32 mmap_n;
static const char *mmap_err = "no boot information";

static u64 rsdp_hint; /* PVH rsdp_paddr / boot_params acpi_rsdp_addr */

/* action=: how the guest ends after its checks, so the monitor's exit statuses can be
 * tested: poweroff (default), reset (i8042 0xFE), reset-cf9, triplefault, hang. */
enum { END_POWEROFF, END_RESET_I8042, END_RESET_CF9, END_TRIPLE_FAULT, END_HANG };
static const char *const actions[] = { "poweroff", "reset", "reset-cf9", "triplefault", "hang", 0 };

static void mmap_add(u64 base, u64 len, u32 type)
{
	if (mmap_n < MAX_MMAP) {
		mmap[mmap_n].base = base;
		mmap[mmap_n].len = len;
		mmap[mmap_n].type = type;
		mmap_n++;
	}
}

/*
 * Multiboot 0.6.96 §3.3 leaves the command line format to the loader;
 * GRUB and QEMU put the kernel image path first ("/boot/x arg=..."), other
 * loaders pass only the arguments.  To print the same line either way, a
 * first word without '=' is taken to be the image name and dropped.
 */
static void drop_image_name(void)
{
	char *p = cmdline;
	int has_eq = 0;
	while (*p && !is_space(*p))
		has_eq |= *p++ == '=';
	if (has_eq || p == cmdline)
		return;
	while (is_space(*p))
		p++;
	char *d = cmdline;
	while ((*d++ = *p++))
		;
}

static void copy_cmdline(u64 pa)
{
	cmdline_set(phys(pa), sizeof(cmdline) - 1);
}

/* Multiboot 0.6.96 §3.3 boot information format. */
static void collect_multiboot(u64 mbi)
{
	u32 flags = rd32(mbi);
	if (flags & (1u << 2)) { /* cmdline */
		copy_cmdline(rd32(mbi + 16));
		drop_image_name();
	}
	if (!(flags & (1u << 6))) { /* mmap_length/mmap_addr */
		mmap_err = "no memory map (flags bit 6 clear)";
		return;
	}
	u64 p = rd32(mbi + 48), end = p + rd32(mbi + 44);
	/* entry: u32 size (not counting itself), u64 base, u64 length, u32 type */
	while (p + 24 <= end) {
		mmap_add(rd64(p + 4), rd64(p + 12), rd32(p + 20));
		p += (u64)rd32(p) + 4;
	}
	mmap_err = mmap_n ? 0 : "empty memory map";
}

/* xen/include/public/arch-x86/hvm/start_info.h */
static void collect_pvh(u64 si)
{
	u32 version = rd32(si + 4);
	u64 cl = rd64(si + 24);
	if (cl)
		copy_cmdline(cl);
	rsdp_hint = rd64(si + 32);
	if (version < 1 || rd32(si + 48) == 0) {
		mmap_err = "no memmap in start_info";
		return;
	}
	u64 mm = rd64(si + 40);
	u32 n = rd32(si + 48);
	for (u32 i = 0; i < n && i < MAX_MMAP; i++) /* hvm_memmap_table_entry */
		mmap_add(rd64(mm + 24 * i), rd64(mm + 24 * i + 8), rd32(mm + 24 * i + 16));
	mmap_err = 0;
}

/* Linux boot.rst / zero-page.rst: struct boot_params offsets. */
#define BP_ACPI_RSDP_ADDR  0x070
#define BP_EXT_CMD_LINE    0x0c8
#define BP_E820_ENTRIES    0x1e8
#define BP_HDR_MAGIC       0x202
#define BP_TYPE_OF_LOADER  0x210
#define BP_CMD_LINE_PTR    0x228
#define BP_E820_TABLE      0x2d0
#define BP_E820_MAX        128

static void collect_bzimage(u64 bp)
{
	u64 cl = rd32(bp + BP_CMD_LINE_PTR) | ((u64)rd32(bp + BP_EXT_CMD_LINE) << 32);
	if (cl)
		copy_cmdline(cl);
	rsdp_hint = rd64(bp + BP_ACPI_RSDP_ADDR);
	u32 n = rd8(bp + BP_E820_ENTRIES);
	if (n == 0) {
		mmap_err = "boot_params e820_entries is 0";
		return;
	}
	for (u32 i = 0; i < n && i < BP_E820_MAX; i++) { /* struct boot_e820_entry, packed */
		u64 e = bp + BP_E820_TABLE + 20 * i;
		mmap_add(rd64(e), rd64(e + 8), rd32(e + 16));
	}
	mmap_err = 0;
}

static const char *check_entry(u32 form, u32 magic, u64 info)
{
	u64 img0 = (u64)__image_start, img1 = (u64)__bss_end;
	switch (form) {
	case FORM_MULTIBOOT:
		if (magic != MULTIBOOT_BOOTLOADER_MAGIC)
			return failf("EAX=%x, expected 0x2badb002", magic);
		if (info == 0 || (info >= img0 && info < img1))
			return failf("EBX=%lx is not a plausible info address", info);
		return 0;
	case FORM_PVH:
		if (info == 0 || rd32(info) != XEN_HVM_START_MAGIC)
			return failf("no hvm_start_info magic at EBX=%lx", info);
		return 0;
	case FORM_BZIMAGE:
		if (info == 0 || rd32(info + BP_HDR_MAGIC) != 0x53726448) /* "HdrS" */
			return failf("boot_params at %lx has no HdrS", info);
		if (rd8(info + BP_TYPE_OF_LOADER) == 0)
			return "boot_params type_of_loader is 0";
		return 0;
	}
	return "unknown boot form";
}

/* ------------------------------------------------------------------ */
/* Command line                                                        */
/* ------------------------------------------------------------------ */

static const char *check_cmdline(void)
{
	if (!cmdline[0])
		return "no command line";
	return cmdline_err;
}

/* ------------------------------------------------------------------ */
/* Memory map                                                          */
/* ------------------------------------------------------------------ */

static int usable_covers(u64 a, u64 b)
{
	for (u32 i = 0; i < mmap_n; i++)
		if (mmap[i].type == E820_RAM && mmap[i].base <= a && mmap[i].base + mmap[i].len >= b)
			return 1;
	return 0;
}

static const char *check_memory_map(u32 form)
{
	if (mmap_err)
		return mmap_err;
	u32 usable = 0;
	u64 total = 0;
	for (u32 i = 0; i < mmap_n; i++)
		if (mmap[i].type == E820_RAM && mmap[i].len) {
			usable++;
			total += mmap[i].len;
		}
	if (!usable)
		return "no usable RAM region";
	if (form == FORM_MULTIBOOT && usable > 16)
		return failf("%u usable regions, more than 16", usable);
	if (!usable_covers((u64)__image_start, (u64)__bss_end))
		return failf("image %lx-%lx not inside one usable region", (u64)__image_start, (u64)__bss_end);
	return check_mem_total(total);
}

/* ------------------------------------------------------------------ */
/* ACPI (ACPI 6.x chapter 5) and the Intel MP table fallback            */
/* ------------------------------------------------------------------ */

static u32 cpu_ids[256]; /* APIC IDs of enabled CPUs */
static u32 ncpus;
static int have_cpu_list;

u64 acpi_dsdt, acpi_mcfg;
static int acpi_found;      /* RSDP + FADT usable for poweroff */
static u32 pm1a_cnt;        /* FADT PM1a_CNT_BLK (I/O port) */
static u8 sleep_ctl_space;  /* FADT SLEEP_CONTROL_REG (HW-reduced ACPI) */
static u64 sleep_ctl_addr;
static int slp_typ_s5 = -1; /* \_S5 SLP_TYPa */

static u8 checksum(u64 pa, u32 len)
{
	u8 s = 0;
	while (len--)
		s += rd8(pa++);
	return s;
}

static int sig_is(u64 pa, const char *sig, u32 n)
{
	for (u32 i = 0; i < n; i++)
		if (rd8(pa + i) != (u8)sig[i])
			return 0;
	return 1;
}

static void add_cpu(u32 apic_id)
{
	if (ncpus < 256)
		cpu_ids[ncpus++] = apic_id;
}

/* §5.2.5.3 RSDP: checksum over the first 20 bytes; revision >= 2 adds the
 * extended checksum over "length" bytes. */
static int rsdp_valid(u64 pa)
{
	if (!sig_is(pa, "RSD PTR ", 8) || checksum(pa, 20))
		return 0;
	if (rd8(pa + 15) >= 2) {
		u32 len = rd32(pa + 20);
		if (len < 36 || len > 4096 || checksum(pa, len))
			return 0;
	}
	return 1;
}

static u64 scan_rsdp(u64 from, u64 to)
{
	for (u64 p = from; p + 20 <= to; p += 16)
		if (rsdp_valid(p))
			return p;
	return 0;
}

/* §5.2.5.1: first KiB of the EBDA, then the BIOS area 0xE0000-0xFFFFF. */
static u64 find_rsdp(void)
{
	if (rsdp_hint && rsdp_valid(rsdp_hint))
		return rsdp_hint;
	u64 ebda = (u64)rd16(0x40e) << 4;
	u64 p = 0;
	if (ebda >= 0x80000 && ebda < 0xa0000)
		p = scan_rsdp(ebda, ebda + 1024);
	return p ? p : scan_rsdp(0xe0000, 0x100000);
}

/* §5.2.6 system description table header: signature, length, checksum. */
static const char *table_check(u64 pa, const char *sig)
{
	if (!pa || pa >= (4ull << 30))
		return failf("%s address %lx unusable", sig, pa);
	if (!sig_is(pa, sig, 4))
		return failf("%s signature mismatch", sig);
	u32 len = rd32(pa + 4);
	if (len < 36 || len > (16u << 20))
		return failf("%s length %u", sig, len);
	if (checksum(pa, len))
		return failf("%s checksum", sig);
	return 0;
}

/*
 * \_S5 in the DSDT AML (§7.4.2 / §20): NameOp "_S5_" PackageOp(0x12)
 * PkgLength NumElements, then SLP_TYPa as ZeroOp / OneOp / BytePrefix nn.
 */
static int find_s5(u64 dsdt)
{
	u64 end = dsdt + rd32(dsdt + 4);
	for (u64 p = dsdt + 36; p + 8 <= end; p++) {
		if (!sig_is(p, "_S5_", 4) || rd8(p + 4) != 0x12)
			continue;
		u64 q = p + 5;
		q += 1 + (rd8(q) >> 6); /* PkgLength: bits 7:6 = extra bytes */
		q++;                    /* NumElements */
		switch (rd8(q)) {
		case 0x00:
			return 0;
		case 0x01:
			return 1;
		case 0x0a:
			return rd8(q + 1);
		}
	}
	return -1;
}

/* §5.2.12 MADT: Processor Local APIC (type 0) and x2APIC (type 9) entries
 * with the Enabled flag; "Online Capable" CPUs are not started. */
static void madt_cpus(u64 madt)
{
	u64 end = madt + rd32(madt + 4);
	for (u64 e = madt + 44; e + 2 <= end;) {
		u8 type = rd8(e), len = rd8(e + 1);
		if (len < 2)
			break;
		if (type == 0 && len >= 8 && (rd32(e + 4) & 1))
			add_cpu(rd8(e + 3));
		else if (type == 9 && len >= 16 && (rd32(e + 8) & 1))
			add_cpu(rd32(e + 4));
		e += len;
	}
	have_cpu_list = 1;
}

static const char *acpi_tables(u64 rsdp)
{
	const char *err;
	u64 root;
	u32 esize;
	const char *rsig;
	if (rd8(rsdp + 15) >= 2 && rd64(rsdp + 24)) { /* XSDT preferred (§5.2.8) */
		root = rd64(rsdp + 24);
		esize = 8;
		rsig = "XSDT";
	} else {
		root = rd32(rsdp + 16);
		esize = 4;
		rsig = "RSDT";
	}
	if ((err = table_check(root, rsig)))
		return err;

	u64 fadt = 0, madt = 0, ssdt[8];
	u32 nssdt = 0;
	u32 n = (rd32(root + 4) - 36) / esize;
	for (u32 i = 0; i < n; i++) {
		u64 e = root + 36 + (u64)i * esize;
		u64 t = esize == 8 ? rd64(e) : rd32(e);
		if (!t || t >= (4ull << 30))
			continue;
		if (sig_is(t, "FACP", 4) && !fadt)
			fadt = t;
		else if (sig_is(t, "APIC", 4) && !madt)
			madt = t;
		else if (sig_is(t, "SSDT", 4) && nssdt < 8)
			ssdt[nssdt++] = t;
		else if (sig_is(t, "MCFG", 4) && !table_check(t, "MCFG"))
			acpi_mcfg = t;
	}
	if (!fadt)
		return "no FADT";
	if ((err = table_check(fadt, "FACP")))
		return err;
	if (!madt)
		return "no MADT";
	if ((err = table_check(madt, "APIC")))
		return err;
	madt_cpus(madt);

	/* §5.2.9 FADT: DSDT @40, X_DSDT @140, PM1a_CNT_BLK @64,
	 * X_PM1a_CNT_BLK @172, SLEEP_CONTROL_REG @244 (GAS, ACPI 5+). */
	u32 flen = rd32(fadt + 4);
	u64 dsdt = (flen >= 148 && rd64(fadt + 140)) ? rd64(fadt + 140) : rd32(fadt + 40);
	if ((err = table_check(dsdt, "DSDT")))
		return err;
	acpi_dsdt = dsdt;
	pm1a_cnt = rd32(fadt + 64);
	if (!pm1a_cnt && flen >= 184 && rd8(fadt + 172) == 1 /* SystemIO */)
		pm1a_cnt = (u32)rd64(fadt + 176);
	if (flen >= 256) {
		sleep_ctl_space = rd8(fadt + 244);
		sleep_ctl_addr = rd64(fadt + 248);
	}
	/* \_S5 may be defined in any definition block (§5.2.11); SeaBIOS's own
	 * tables, for one, have it in an SSDT. */
	slp_typ_s5 = find_s5(dsdt);
	for (u32 i = 0; i < nssdt && slp_typ_s5 < 0; i++)
		if (!table_check(ssdt[i], "SSDT"))
			slp_typ_s5 = find_s5(ssdt[i]);
	dprintf("%s=%lx fadt=%lx madt=%lx dsdt=%lx pm1a_cnt=%x sleep_ctl=%u:%lx s5=%d\n", rsig, root, fadt, madt,
		dsdt, pm1a_cnt, sleep_ctl_space, sleep_ctl_addr, slp_typ_s5);
	if (slp_typ_s5 < 0)
		return "no \\_S5 package in DSDT/SSDT";
	acpi_found = 1;
	return 0;
}

/* Intel MP spec 1.4 §4: floating pointer "_MP_" (16 bytes, checksummed). */
static u64 scan_mp(u64 from, u64 to)
{
	for (u64 p = from; p + 16 <= to; p += 16)
		if (sig_is(p, "_MP_", 4) && rd8(p + 8) && !checksum(p, 16u * rd8(p + 8)))
			return p;
	return 0;
}

static u64 find_mp(void)
{
	u64 ebda = (u64)rd16(0x40e) << 4, base_kb = rd16(0x413), p = 0;
	if (ebda >= 0x80000 && ebda < 0xa0000)
		p = scan_mp(ebda, ebda + 1024);
	if (!p && base_kb >= 512 && base_kb <= 640)
		p = scan_mp(base_kb * 1024 - 1024, base_kb * 1024);
	return p ? p : scan_mp(0xf0000, 0x100000);
}

/* MP configuration table "PCMP": processor entries (type 0, 20 bytes). */
static const char *mp_cpus(u64 mpfp)
{
	u64 cfg = rd32(mpfp + 4);
	if (!cfg)
		return "MP default configurations are not supported";
	u32 len = rd16(cfg + 4);
	if (!sig_is(cfg, "PCMP", 4) || len < 44 || checksum(cfg, len))
		return "bad MP configuration table";
	u64 e = cfg + 44, end = cfg + len;
	for (u32 i = rd16(cfg + 34); i && e < end; i--) {
		u8 type = rd8(e);
		if (type == 0) {
			if (rd8(e + 3) & 1) /* CPU flags: EN */
				add_cpu(rd8(e + 1));
			e += 20;
		} else if (type <= 4) {
			e += 8;
		} else {
			break;
		}
	}
	have_cpu_list = 1;
	return 0;
}

/*
 * Rule for "acpi":
 *   - RSDP found: RSDP, XSDT/RSDT, FADT, MADT and DSDT must all be valid and
 *     \_S5 present -> "ok"; otherwise "FAIL <what is broken>".
 *   - no RSDP, but a valid MP table: "ok (no RSDP, MP table)", so a VMM
 *     without ACPI can still PASS while its output visibly differs from one
 *     with ACPI.  CPUs then come from the MP table, poweroff uses 0x604.
 *   - neither: "FAIL no RSDP (and no MP table)".
 */
static int acpi_via_mp;

static const char *check_acpi(void)
{
	u64 rsdp = find_rsdp();
	dprintf("rsdp=%lx (hint %lx)\n", rsdp, rsdp_hint);
	if (rsdp)
		return acpi_tables(rsdp);
	u64 mp = find_mp();
	if (!mp)
		return "no RSDP (and no MP table)";
	dprintf("mp floating pointer=%lx\n", mp);
	const char *err = mp_cpus(mp);
	if (err)
		return failf("no RSDP; %s", err);
	acpi_via_mp = 1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* CPUs: INIT-SIPI-SIPI through the xAPIC                               */
/* ------------------------------------------------------------------ */

#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define ICR_BUSY     (1u << 12)
#define ICR_INIT     0x00004500u /* INIT, level assert, physical dest */
#define ICR_STARTUP  0x00004600u /* Start-up, vector in bits 7:0 */

static u32 lapic_rd(u32 reg) { return rd32(LAPIC_BASE + reg); }
static void lapic_wr(u32 reg, u32 v) { wr32(LAPIC_BASE + reg, v); }

static void lapic_wait_idle(void)
{
	for (u32 i = 0; i < 1000000 && (lapic_rd(LAPIC_ICR_LO) & ICR_BUSY); i++)
		pause();
}

static void send_ipi(u32 apic_id, u32 icr)
{
	lapic_wr(LAPIC_ICR_HI, apic_id << 24);
	lapic_wr(LAPIC_ICR_LO, icr); /* writing the low half sends it */
	lapic_wait_idle();
}

/* Cycle counts for the delays of the universal start-up algorithm (Intel
 * SDM Vol. 3 §8.4.4.1: INIT, 10 ms, SIPI, 200 us, SIPI), generous for a
 * TSC of up to 3 GHz; too long is harmless. */
#define INIT_DELAY   30000000ull
#define SIPI_DELAY   600000ull
#define AP_WAIT_MAX  3000000000ull

static const char *check_cpus(void)
{
	if (!have_cpu_list)
		return "no CPU list (no usable MADT or MP table)";
	for (u32 i = 0; i < ncpus; i++)
		dprintf("cpu apic id %u\n", cpu_ids[i]);
	if (ncpus != expect_cpus)
		return failf("%u enabled CPUs in %s, expected %u", ncpus, acpi_via_mp ? "MP table" : "MADT",
			     expect_cpus);
	if (ncpus == 1)
		return 0;
	if (!mmap_err && !usable_covers(TRAMPOLINE_ADDR, TRAMPOLINE_ADDR + 0x1000))
		return "trampoline page 0x6000 is not usable RAM";

	lapic_wr(LAPIC_SVR, lapic_rd(LAPIC_SVR) | 0x1ff); /* APIC enable, spurious vector 0xff */
	u32 bsp = lapic_rd(LAPIC_ID) >> 24;
	int bsp_listed = 0;
	for (u32 i = 0; i < ncpus; i++) {
		bsp_listed |= cpu_ids[i] == bsp;
		if (cpu_ids[i] > 0xfe)
			return failf("APIC ID %u not reachable through the xAPIC", cpu_ids[i]);
	}
	if (!bsp_listed)
		return failf("BSP APIC ID %u not in the CPU list", bsp);

	/* All boot information was copied out before this point. */
	u32 tsize = (u32)(trampoline_end - trampoline_start);
	for (u32 i = 0; i < tsize; i++)
		wr8(TRAMPOLINE_ADDR + i, (u8)trampoline_start[i]);
	volatile u32 *counter = phys(TRAMPOLINE_ADDR + (u64)(trampoline_counter - trampoline_start));
	*counter = 0;

	for (u32 i = 0; i < ncpus; i++) {
		if (cpu_ids[i] == bsp)
			continue;
		send_ipi(cpu_ids[i], ICR_INIT);
		delay_cycles(INIT_DELAY);
		for (int k = 0; k < 2; k++) {
			send_ipi(cpu_ids[i], ICR_STARTUP | (TRAMPOLINE_ADDR >> 12));
			delay_cycles(SIPI_DELAY);
		}
	}

	u64 t0 = rdtsc();
	while (*counter != ncpus - 1 && rdtsc() - t0 < AP_WAIT_MAX)
		pause();
	dprintf("bsp apic id %u, %u APs counted after %lu cycles\n", bsp, *counter, rdtsc() - t0);
	if (*counter != ncpus - 1)
		return failf("%u of %u APs started", *counter, ncpus - 1);
	return 0;
}

/* ------------------------------------------------------------------ */
/* CPUID                                                               */
/* ------------------------------------------------------------------ */

static const char *check_cpuid(void)
{
	u32 r[4];
	cpuid(1, r);
	if (!(r[2] & (1u << 31)))
		return "CPUID.1:ECX.hypervisor[bit 31] is clear";
	if (r[1] >> 24)
		return failf("BSP initial APIC ID is %u", r[1] >> 24);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Power off                                                           */
/* ------------------------------------------------------------------ */

#define SLP_EN (1u << 13) /* PM1_CNT (§4.8.3.2.1) */

static void poweroff(void)
{
	u32 typ = slp_typ_s5 >= 0 ? (u32)slp_typ_s5 : 0;
	if (starry_mode()) {
		dprintf("poweroff: StarryOS's way, port 0x604 <- 0x2000\n");
		outw(0x604, 0x2000);
	} else if (acpi_found && pm1a_cnt) {
		dprintf("poweroff: PM1a_CNT %x <- %x\n", pm1a_cnt, (typ << 10) | SLP_EN);
		outw((u16)pm1a_cnt, (u16)((typ << 10) | SLP_EN));
	} else if (acpi_found && sleep_ctl_addr) {
		/* HW-reduced ACPI (§4.8.3.7): SLP_TYPx bits 4:2, SLP_EN bit 5 */
		u8 v = (u8)(((typ & 7) << 2) | 0x20);
		dprintf("poweroff: SLEEP_CONTROL_REG %u:%lx <- %x\n", sleep_ctl_space, sleep_ctl_addr, v);
		if (sleep_ctl_space == 1)
			outb((u16)sleep_ctl_addr, v);
		else if (sleep_ctl_space == 0)
			wr8(sleep_ctl_addr, v);
	} else {
		dprintf("poweroff: no ACPI, port 0x604 <- 0x2000\n");
		outw(0x604, 0x2000); /* QEMU/cloud VMMs' default PM1a_CNT, S5 type 0 */
	}
	delay_cycles(1000000000ull);
	kprintf("poweroff failed\n");
	halt_forever();
}

/* The end chosen with action=; each must end the VM with its own exit status. */
static void end_guest(void)
{
	static const struct {
		u16 limit;
		u64 base;
	} __attribute__((packed)) no_idt = { 0, 0 };

	switch (end_action) {
	case END_RESET_I8042:
		outb(0x64, 0xfe); /* pulse the CPU reset line */
		break;
	case END_RESET_CF9:
		outb(0xcf9, 0x06); /* RST_CPU | SYS_RST */
		break;
	case END_TRIPLE_FAULT:
		/* With an empty IDT the breakpoint cannot be delivered: #GP, then #DF, then the
		 * CPU shuts down. */
		__asm__ volatile("lidt %0; int3" : : "m"(no_idt));
		break;
	case END_HANG:
		halt_forever();
	case END_POWEROFF:
		break;
	}
	poweroff();
}

/* ------------------------------------------------------------------ */

void guest_main(u32 form, u32 magic, u64 info)
{
	static const char *const names[] = { "?", "multiboot", "pvh", "bzimage" };

	serial_init();
	idt_init();
	kprintf("n90 test guest: boot=%s\n", form <= 3 ? names[form] : "?");

	/* Copy everything the loader handed over first: the AP trampoline at
	 * 0x6000 may overwrite it (crosvm puts the Multiboot info there). */
	const char *entry = check_entry(form, magic, info);
	if (!entry) {
		if (form == FORM_MULTIBOOT)
			collect_multiboot(info);
		else if (form == FORM_PVH)
			collect_pvh(info);
		else
			collect_bzimage(info);
	}
	parse_cmdline(actions);
	kprintf("cmdline: %s\n", cmdline);
	dprintf("magic=%x info=%lx image=%lx-%lx\n", magic, info, (u64)__image_start, (u64)__bss_end);
	for (u32 i = 0; i < mmap_n; i++)
		dprintf("mmap %lx-%lx type %u\n", mmap[i].base, mmap[i].base + mmap[i].len, mmap[i].type);

	report("entry", entry);
	report("memory-map", check_memory_map(form));
	report("cmdline", check_cmdline());
	const char *acpi = check_acpi();
	if (!acpi && acpi_via_mp) {
		kprintf("check acpi: ok (no RSDP, MP table)\n");
	} else {
		report("acpi", acpi);
	}
	const char *cpus = check_cpus();
	if (cpus)
		report("cpus", cpus);
	else
		kprintf("check cpus: ok (%u)\n", ncpus);
	report("cpuid", check_cpuid());
	starry_main();
	virtio_main();

	kprintf("RESULT: %s\n", checks_ok() ? "PASS" : "FAIL");
	end_guest();
}

# n90vmm — `make help` lists the targets.
#
# ARCH is the architecture to build for: this host's by default; `make ARCH=arm64` (or
# aarch64) on an x86_64 host cross-builds with Debian's aarch64-linux-gnu toolchain and the
# multiarch :arm64 libraries (make deps installs both) into build/arm64/.
HOST_ARCH := $(shell uname -m)
ARCH ?= $(HOST_ARCH)
override ARCH := $(patsubst arm64,aarch64,$(ARCH))
ifeq ($(filter $(ARCH),x86_64 aarch64),)
$(error ARCH=$(ARCH): n90vmm builds for x86_64 and aarch64 (arm64))
endif
ifneq ($(ARCH),$(HOST_ARCH))
CROSS_COMPILE ?= $(ARCH)-linux-gnu-
CC := $(CROSS_COMPILE)gcc
O ?= build/$(patsubst aarch64,arm64,$(ARCH))
endif
O       ?= build
PREFIX  ?= /usr/local

# On an x86_64 host with the cross compiler, the tests also cross-build the arm64 monitor,
# nettest and unit tests into $(O)/arm64 and run them in the arm64 rig.
ifeq ($(HOST_ARCH)-$(ARCH),x86_64-x86_64)
ARM64_CROSS := $(if $(shell command -v aarch64-linux-gnu-gcc),arm64-cross)
ARM64_UNIT := $(if $(ARM64_CROSS),unit-test-arm64)
endif
CFLAGS  ?= -O2 -g
# Not overridable: the language and warning level the code is written for.
BASE_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -MMD -MP -D_GNU_SOURCE -I.
LDLIBS  += -lseccomp -lpthread
# virtio-blk's io_uring backend (devices/virtio/blk_uring.c): liburing, like libfdt below a
# cross build links Debian's liburing2:arm64 by file name with the host's liburing-dev headers.
ifeq ($(ARCH),$(HOST_ARCH))
LDLIBS  += -luring
else
LDLIBS  += -l:liburing.so.2
endif
# The arm64 machine describes itself to the guest with a flattened device tree (libfdt).
# Debian's libfdt-dev cannot be installed for two architectures at once: a cross build
# takes the headers from the host's and links the :arm64 runtime library by its file name.
ifeq ($(ARCH),aarch64)
ifeq ($(HOST_ARCH),aarch64)
LDLIBS  += -lfdt
else
LDLIBS  += -l:libfdt.so.1
endif
endif
SANITIZE_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined

# Debian packages the build, the tests and the system-test rig need (`make deps`). The arm64
# rig (tests/system, --arch arm64) adds QEMU's arm64 machine and a cross compiler for its
# static L1 helpers; its arm64 kernel, busybox and QEMU come as arm64 packages unpacked under
# build/ (dpkg -x), for which `make deps` adds the arm64 architecture to dpkg. The N90 board
# builds its arm64 rootfs with mmdebstrap under qemu-user-static (binfmt_misc; arch-test
# checks it) and serves its guests DHCP with dnsmasq; net-up's NAT is nftables.
DEB_PACKAGES := build-essential pkg-config linux-libc-dev libfdt-dev libseccomp-dev liburing-dev \
	libcriterion-dev clang libclang-rt-14-dev qemu-system-x86 busybox-static cpio e2fsprogs kmod zstd xz-utils \
	iproute2 iputils-ping procps lz4 python3 mmdebstrap fio iperf3 gnuplot-nox \
	qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils libseccomp-dev:arm64 libfdt1:arm64 liburing2:arm64 \
	qemu-user-static arch-test dnsmasq-base nftables

# Generic code, then the one architecture's (arch/arch.h is the line between them).
VMM_SRCS := $(wildcard vmm/*.c) $(wildcard arch/$(ARCH)/*.c) $(wildcard devices/*.c) $(wildcard devices/virtio/*.c) $(wildcard harness/*.c)
LIB_SRCS := $(filter-out vmm/main.c,$(VMM_SRCS))
VMM_OBJS := $(VMM_SRCS:%.c=$(O)/obj/%.o)
LIB_OBJS := $(LIB_SRCS:%.c=$(O)/obj/%.o)
UNIT_SRCS := $(wildcard tests/unit/*.c) $(wildcard tests/unit/$(ARCH)/*.c)
# arm64's KVM-free parts (Image loader, FDT builder, pKVM answers, profiles) are unit-tested
# on every host, not only where the arm64 monitor is built.
A64_PURE_SRCS := arch/aarch64/profile.c arch/aarch64/image.c arch/aarch64/fdt.c arch/aarch64/pkvm.c
ifneq ($(ARCH),aarch64)
UNIT_SRCS += $(wildcard tests/unit/aarch64/*.c)
UNIT_LIB_SRCS := $(A64_PURE_SRCS)
UNIT_LDLIBS := -lfdt
endif
UNIT_LIB_OBJS := $(UNIT_LIB_SRCS:%.c=$(O)/obj/%.o)
UNIT_OBJS := $(UNIT_SRCS:%.c=$(O)/obj/%.o)

.PHONY: board-ci-rootfs board-ci-fetch arm64-cross unit-test-arm64 fuzz sanitize all guests run bench bench-ab bench-arm64 test unit-test integration-test system-test system-test-arm64 install clean deps help \
	board-rootfs board-test board-security-test board-test-qemu board-test-crosvm n90-security-test board-host-test board-ci FORCE

all: $(O)/n90vmm guests $(O)/nettest $(O)/hostile-peer

$(O)/n90vmm: $(VMM_OBJS)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -c -o $@ $<

# The freestanding test guests (tests/guest): on x86_64 the x86 ones and, when the cross
# compiler is installed, the arm64 one in $(O)/guest/arm64; an arm64 build makes the arm64
# one only.
guests:
ifeq ($(ARCH),x86_64)
	$(MAKE) -C tests/guest O=$(abspath $(O))/guest
else
	$(MAKE) -C tests/guest ARCH=arm64 O=$(abspath $(O))/guest
endif

# The host half of the virtio-net tests (tests/integration/net-cases.sh, tests/bench).
$(O)/nettest: tests/integration/nettest.c tests/guest/nettest.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -o $@ $<

# The badly behaved other end of n90vmm's pipes and sockets (tests/integration/hostile-host.sh).
$(O)/hostile-peer: tests/integration/hostile-peer.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -o $@ $<

# Cross-built unit tests link Criterion from the arm64 rig's sysroot (Debian's libcriterion3
# unpacked by tests/system/fetch-qemu-arm64.sh; the headers are the host's libcriterion-dev).
ifneq ($(ARCH),$(HOST_ARCH))
ARM64_SYSROOT_LIB := $(abspath build/rig/arm64/qemu/sysroot/usr/lib/aarch64-linux-gnu)
CRITERION := -L$(ARM64_SYSROOT_LIB) -l:libcriterion.so.3 -Wl,-rpath-link,$(ARM64_SYSROOT_LIB) \
	-Wl,-rpath-link,$(abspath build/rig/arm64/qemu/sysroot/lib/aarch64-linux-gnu)
else
CRITERION := -lcriterion
endif

$(O)/unit-tests: $(UNIT_OBJS) $(LIB_OBJS) $(UNIT_LIB_OBJS)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) $(LDFLAGS) -o $@ $^ $(CRITERION) $(UNIT_LDLIBS) $(LDLIBS)

unit-test: $(O)/unit-tests guests $(ARM64_UNIT)
	$(O)/unit-tests --jobs 2

# The unit tests cross-built for arm64 and run in the arm64 rig's L1: the generic ones, arm64's
# and the sandbox's, whose filters must hold for aarch64's syscall table (x86_64 hosts with
# the cross compiler; an arm64 host runs them natively above).
unit-test-arm64:
	tests/system/fetch-qemu-arm64.sh
	$(MAKE) ARCH=arm64 O=$(O)/arm64 $(O)/arm64/unit-tests
	tests/unit/run-arm64.sh $(O)/arm64/unit-tests

# Boots every test guest; the cases whose need this host's KVM does not meet (none at all, or
# 1 GiB pages on kvm-pvm: `n90vmm --host-info`) run inside the system-test rig's L1 VM (real
# KVM under QEMU emulation). N90_HOST_KVM=none|pvm|real takes the path of that kind of host.
integration-test: all $(ARM64_CROSS)
	tests/integration/run.sh $(O)

# The arm64 monitor and nettest, for the arm64 test guest's cases in the arm64 rig.
arm64-cross:
	$(MAKE) ARCH=arm64 O=$(O)/arm64 $(O)/arm64/n90vmm $(O)/arm64/nettest

# Boots the default guest (the StarryOS-shaped multiboot test guest, 4 vCPUs) on KVM: here if
# this host has a usable KVM (real or kvm-pvm), else inside the rig's L1 VM.
run: all
	tests/run-default-guest.sh $(O)

test: unit-test integration-test

# The benchmark (docs/benchmark.md): the test guest's boot, blk and net cases next to QEMU
# (tests/bench/run.sh), then fio and iperf3 in Debian's Linux under n90vmm, QEMU (and crosvm
# when on PATH) with the host's own ceiling (tests/bench/linux.sh: here when this host's KVM
# runs Linux, else in the rig), then build/bench/report.md with plots and bench.json.
# BENCH_LINUX=0 leaves the Linux half out; BENCH_RUNS, BENCH_RUNTIME, BENCH_NET tune it.
# The arm64 test guest under n90vmm's arm64 build and QEMU virt (boot, blk, net), in the
# arm64 rig's L1 (JSON: build/bench/arm64/arm64.json; not part of `make bench`, which stays
# on this host's arch).
bench-arm64: guests $(ARM64_CROSS)
	tests/bench/arm64.sh $(O)

bench: all
	tests/bench/run.sh $(O)
	$(if $(filter 0,$(BENCH_LINUX)),,tests/bench/linux.sh $(O))
	python3 tests/bench/report.py $(O)/bench

# A/B test of two commits (tests/bench/ab.sh): both built, the cheap cases interleaved, a
# permutation test per metric. AB_FAIL=1 exits 1 on a regression both significant (p < 0.01)
# and over 20 %; AB_ROUNDS sets the rounds (CI: a short form).
bench-ab: guests
	@test -n "$(A)" -a -n "$(B)" || { echo "usage: make bench-ab A=<commit> B=<commit>"; exit 2; }
	tests/bench/ab.sh $(O) $(A) $(B)

# Both rigs by default on an x86_64 host (the arm64 one with the cross-built monitor);
# RIG_ARCH=x86_64 or RIG_ARCH=arm64 runs one. On an arm64 host, the arm64 rig with this build.
ifeq ($(HOST_ARCH),aarch64)
RIG_ARCHES := arm64
N90VMM_ARM64 := $(abspath $(O))/n90vmm
else
RIG_ARCHES := $(if $(RIG_ARCH),$(patsubst aarch64,arm64,$(RIG_ARCH)),x86_64 arm64)
N90VMM_ARM64 := $(abspath build/arm64)/n90vmm
endif

system-test: all
ifneq ($(filter x86_64,$(RIG_ARCHES)),)
	tests/system/run.sh --arch x86_64
	tests/system/suite-compare.sh
endif
ifneq ($(filter arm64,$(RIG_ARCHES)),)
	$(if $(filter aarch64,$(HOST_ARCH)),,$(MAKE) ARCH=arm64 build/arm64/n90vmm)
	N90VMM_ARM64=$(N90VMM_ARM64) tests/system/run.sh --arch arm64
endif

# The arm64 rig alone (RIG_ARCH=arm64 make system-test does the same).
system-test-arm64:
	$(MAKE) RIG_ARCH=arm64 system-test

# The N90 board (board/n90-crosvm, alias board/n90; overlay/): Debian's kernel and a real
# Debian rootfs (mmdebstrap through this host's apt sources) with the board's packages, test
# script and security suite, for BOARD_ARCH (aarch64, the board's, or x86_64; ARCH stays the
# monitor's). The suites run in it under crosvm (a real one when on PATH, else n90vmm's crosvm
# compatibility mode), n90vmm or QEMU; where this host's KVM cannot run the guest, inside the
# rig's L1 of that architecture. quickstart-n90.sh wraps the same steps (docs/n90-crosvm-guide.md).
BOARD_ARCH ?= aarch64
BOARD_MONITORS := $(O)/n90vmm $(if $(filter aarch64,$(BOARD_ARCH)),$(if $(filter aarch64,$(HOST_ARCH)),,build/arm64/n90vmm))
BOARD_RUN := harness/run_board_tests.sh --board n90-crosvm --arch $(BOARD_ARCH)

ifneq ($(ARCH),aarch64)
build/arm64/n90vmm: FORCE
	$(MAKE) ARCH=arm64 build/arm64/n90vmm
FORCE:
endif

board-rootfs:
	board/n90-crosvm/mkrootfs.sh --arch $(BOARD_ARCH)

# The N90 setup's targets: the board suite under QEMU (the qemu_virt board) and under crosvm,
# the security suite; the board suite's two runs are then compared case by case.
board-test-crosvm: all $(BOARD_MONITORS) board-rootfs
	$(BOARD_RUN) --hypervisor crosvm --suite n90-board

board-test-qemu: all board-rootfs
	harness/run_board_tests.sh --board qemu_virt --arch $(BOARD_ARCH) --hypervisor qemu --suite n90-board

n90-security-test: all $(BOARD_MONITORS) board-rootfs $(O)/unit-tests
	$(BOARD_RUN) --hypervisor crosvm --suite n90-security
	$(O)/unit-tests --filter 'sandbox/*'

# The older names.
board-test: board-test-crosvm board-test-qemu
	harness/compare --verdicts build/board-tests/qemu_virt-$(BOARD_ARCH)-n90-board-qemu \
		build/board-tests/n90-crosvm-$(BOARD_ARCH)-n90-board-crosvm

board-security-test: n90-security-test

# CI's board step (.ci/run), within its ~10 minutes on a fresh machine: the default (aarch64)
# board's rootfs without the [tools] packages (gdb, strace, htop: no suite uses them), then
# the board test and the security suite in one guest boot (harness/suites/n90-ci.json) under
# crosvm (or n90vmm's crosvm mode), then the monitor's sandbox tests. The break-on-purpose
# proofs and the QEMU comparison are in the full targets above.
board-ci: all $(BOARD_MONITORS) $(O)/unit-tests board-ci-rootfs
	$(BOARD_RUN) --hypervisor crosvm --suite n90-ci
	$(O)/unit-tests --filter 'sandbox/*'

# board-ci's rootfs; board-ci-fetch: only its downloads shared with the rig (.ci/run builds
# the rest beside make test).
board-ci-rootfs:
	board/n90-crosvm/mkrootfs.sh --arch $(BOARD_ARCH) --without-tools
board-ci-fetch:
	board/n90-crosvm/mkrootfs.sh --arch $(BOARD_ARCH) --without-tools --fetch-only

# The board's host-side checks: no guest, seconds (tests/board/host-checks.sh; root).
board-host-test: all
	tests/board/host-checks.sh

# libFuzzer targets for the guest-facing parsers (tests/fuzz/fuzz_*.c), built with clang and
# ASan + UBSan, each run for FUZZ_SECONDS from the seed corpus in tests/fuzz/corpus/<target>
# (plus the test-guest images for the loader). A crash fails the target; its input is kept
# in $(O)/fuzz/crashes/<target>/ to be added to the corpus once fixed.
FUZZ_TARGETS := virtq net pci harness cli image
ifeq ($(ARCH),x86_64)
FUZZ_TARGETS += loader
endif
FUZZ_SECONDS ?= 20
FUZZ_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-Wno-gnu-variable-sized-type-not-at-end
FUZZ_SRCS := $(sort $(LIB_SRCS) $(A64_PURE_SRCS))
FUZZ_OBJS := $(FUZZ_SRCS:%.c=$(O)/fuzz/obj/%.o)

$(O)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(BASE_CFLAGS) -c -o $@ $<

$(O)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer $(BASE_CFLAGS) -o $@ $^ $(UNIT_LDLIBS) $(LDLIBS)

fuzz: guests $(FUZZ_TARGETS:%=$(O)/fuzz/fuzz_%)
	tests/fuzz/run.sh $(O) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# ASan + UBSan build of the monitor and the unit tests (in build/sanitize), then the unit
# and integration tests under it. The loaders and the virtqueue walker get hostile input there.
sanitize: guests
	$(MAKE) O=$(O)/sanitize CFLAGS="$(SANITIZE_FLAGS)" LDFLAGS="-fsanitize=address,undefined" \
		$(O)/sanitize/n90vmm $(O)/sanitize/unit-tests
	ASAN_OPTIONS=detect_leaks=1 $(O)/sanitize/unit-tests --jobs 2
	# The integration tests with the sanitized monitor (seccomp on), the groups this host's KVM
	# runs (the rig's copies ran unsanitized in integration-test). Leak checking stays in the
	# unit tests: LSan stops the world with ptrace, which the sandbox rightly forbids.
	N90VMM=$(O)/sanitize/n90vmm ASAN_OPTIONS=detect_leaks=0 INTEGRATION_HOST_ONLY=1 tests/integration/run.sh $(O)

install: $(O)/n90vmm
	install -D -m 0755 $(O)/n90vmm $(DESTDIR)$(PREFIX)/bin/n90vmm

clean:
	rm -rf $(O)/obj $(O)/n90vmm $(O)/unit-tests $(O)/guest

deps:
	dpkg --add-architecture arm64
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEB_PACKAGES)

help:
	@echo "make [all]            build $(O)/n90vmm and the test guests"
	@echo "make run              boot the default test guest with n90vmm (on KVM, or in the rig)"
	@echo "make test             unit tests + integration tests (boots the test guests)"
	@echo "make unit-test        Criterion unit tests only"
	@echo "make integration-test boot every test guest on KVM (in the rig what this host's KVM cannot run)"
	@echo "make system-test      real Linux guests on real KVM inside QEMU (tests/system): the x86_64\n                      rig, the crosscheck suite under QEMU and n90vmm compared, then the arm64\n                      rig with the cross-built arm64 monitor (RIG_ARCH=x86_64|arm64: one rig)"
	@echo "make system-test-arm64  the arm64 rig alone"
	@echo "make ARCH=arm64       cross-build the arm64 monitor into build/arm64/"
	@echo "make board-test-crosvm the N90 board suite in its Debian rootfs under crosvm (or n90vmm's\n                      crosvm mode); BOARD_ARCH=aarch64 (default) or x86_64; builds it: board/n90-crosvm"
	@echo "make board-test-qemu  the same suite on the qemu_virt board (QEMU)"
	@echo "make n90-security-test the guest security suite + the monitor's sandbox tests"
	@echo "make board-test       both board-test runs, compared (board-security-test = n90-security-test)"
	@echo "make board-ci         CI's board step: a smaller rootfs, both suites in one boot, sandbox tests"
	@echo "make board-host-test  the board's host-side checks (no guest: config, command lines, network step)"
	@echo "make bench            the benchmark: test guest and Linux (fio, iperf3) under n90vmm and QEMU,\n                      the host's ceiling; build/bench/report.md with plots, bench.json"
	@echo "make bench-ab A=x B=y A/B test of two commits on the cheap cases (permutation test)"
	@echo "make bench-arm64      the arm64 test guest: n90vmm (arm64) vs QEMU virt, boot, blk and net, in the arm64 rig"
	@echo "make sanitize         unit and integration tests under ASan + UBSan"
	@echo "make fuzz             run each libFuzzer target FUZZ_SECONDS (default 20)"
	@echo "make install PREFIX=  install n90vmm"
	@echo "make deps             apt-get install the build and test dependencies (root)"
	@echo "make clean            remove build products"

-include $(VMM_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(UNIT_LIB_OBJS:.o=.d) $(FUZZ_OBJS:.o=.d)

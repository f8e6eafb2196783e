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
CFLAGS  ?= -O2 -g
# Not overridable: the language and warning level the code is written for.
BASE_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -MMD -MP -D_GNU_SOURCE -I.
LDLIBS  += -lseccomp -lpthread
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

# Debian packages the build, the tests and the system-test rig need (`make deps`).
DEB_PACKAGES := build-essential pkg-config linux-libc-dev libfdt-dev libseccomp-dev \
	libcriterion-dev clang libclang-rt-14-dev qemu-system-x86 busybox-static cpio e2fsprogs kmod zstd xz-utils \
	iproute2 iputils-ping procps lz4 python3 mmdebstrap

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

.PHONY: fuzz sanitize all guests run bench test unit-test integration-test system-test install clean deps help \
	board-rootfs board-test board-security-test

all: $(O)/n90vmm guests $(O)/nettest $(O)/hostile-peer

$(O)/n90vmm: $(VMM_OBJS)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -c -o $@ $<

# The freestanding test guests of this architecture (tests/guest).
guests:
ifeq ($(ARCH),x86_64)
	$(MAKE) -C tests/guest O=$(abspath $(O))/guest
endif

# The host half of the virtio-net tests (tests/integration/net-cases.sh, tests/bench).
$(O)/nettest: tests/integration/nettest.c tests/guest/nettest.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -o $@ $<

# The badly behaved other end of n90vmm's pipes and sockets (tests/integration/hostile-host.sh).
$(O)/hostile-peer: tests/integration/hostile-peer.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -o $@ $<

$(O)/unit-tests: $(UNIT_OBJS) $(LIB_OBJS) $(UNIT_LIB_OBJS)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) $(LDFLAGS) -o $@ $^ -lcriterion $(UNIT_LDLIBS) $(LDLIBS)

unit-test: $(O)/unit-tests guests
	$(O)/unit-tests --jobs 2

# Boots every test guest; on a host without a usable /dev/kvm the script runs itself inside
# the system-test rig's L1 VM (real KVM under QEMU emulation).
integration-test: all
	tests/integration/run.sh $(O)

# Boots the default guest (the StarryOS-shaped multiboot test guest, 4 vCPUs) on KVM: here if
# /dev/kvm works, else inside the rig's L1 VM.
run: all
	tests/run-default-guest.sh $(O)

test: unit-test integration-test

# Boot time and memory of n90vmm next to QEMU on the same guest, as JSON (build/bench/).
bench: all
	tests/bench/run.sh $(O)

system-test: all
	tests/system/run.sh
	tests/system/suite-compare.sh

# The N90 board (board/n90, overlay/): a real Debian rootfs (mmdebstrap through this host's apt
# sources) with the board's test script and security suite, and the suites run in it under
# n90vmm (the board suite also under QEMU, compared). quickstart-n90.sh wraps the same steps.
board-rootfs:
	board/n90/mkrootfs.sh

board-test: all board-rootfs
	harness/run_board_tests.sh --board n90 --hypervisor n90vmm --suite n90-board
	harness/run_board_tests.sh --board n90 --hypervisor qemu --suite n90-board
	harness/compare build/board-tests/n90-n90-board-qemu build/board-tests/n90-n90-board-n90vmm

board-security-test: all board-rootfs $(O)/unit-tests
	harness/run_board_tests.sh --board n90 --hypervisor n90vmm --suite n90-security
	$(O)/unit-tests --filter 'sandbox/*'

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
	# The integration tests with the sanitized monitor (seccomp on). Leak checking stays in
	# the unit tests: LSan stops the world with ptrace, which the sandbox rightly forbids.
	N90VMM=$(O)/sanitize/n90vmm ASAN_OPTIONS=detect_leaks=0 tests/integration/run.sh $(O)

install: $(O)/n90vmm
	install -D -m 0755 $(O)/n90vmm $(DESTDIR)$(PREFIX)/bin/n90vmm

clean:
	rm -rf $(O)/obj $(O)/n90vmm $(O)/unit-tests $(O)/guest

deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEB_PACKAGES)

help:
	@echo "make [all]            build $(O)/n90vmm and the test guests"
	@echo "make run              boot the default test guest with n90vmm (on KVM, or in the rig)"
	@echo "make test             unit tests + integration tests (boots the test guests)"
	@echo "make unit-test        Criterion unit tests only"
	@echo "make integration-test boot every test guest on KVM (rig fallback without /dev/kvm)"
	@echo "make system-test      real Linux guests on real KVM inside QEMU (tests/system), then\n                      the crosscheck suite under QEMU and n90vmm, compared"
	@echo "make board-test       the N90 board suite in its Debian rootfs (builds it: board/n90)"
	@echo "make board-security-test  the guest security suite + the monitor's sandbox tests"
	@echo "make bench            boot time and RSS, n90vmm vs QEMU on the same guest (JSON)"
	@echo "make sanitize         unit and integration tests under ASan + UBSan"
	@echo "make fuzz             run each libFuzzer target FUZZ_SECONDS (default 20)"
	@echo "make install PREFIX=  install n90vmm"
	@echo "make deps             apt-get install the build and test dependencies (root)"
	@echo "make clean            remove build products"

-include $(VMM_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(UNIT_LIB_OBJS:.o=.d) $(FUZZ_OBJS:.o=.d)

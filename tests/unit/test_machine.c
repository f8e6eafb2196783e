/* The generic machine: placeholder disks before the rootfs, virtio counts, the layout's
 * limits (vmm/machine.c), without KVM. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <string.h>

#include "vmm/machine.h"

static struct vm_config cfg;
static struct machine_layout layout;

static void setup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	memset(&layout, 0, sizeof(layout));
	layout.virtio_mmio_slots = 8;
}

TestSuite(machine, .init = setup);

Test(machine, rootfs_second_gets_one_placeholder_before_a_lone_rootfs)
{
	layout.rootfs_disk_index = 1;
	cfg.ndisks = 1; /* n90vmm IMAGE ROOTFS */
	cr_assert_eq(machine_placeholder_disks(&layout, &cfg), 1);
	cr_assert_eq(machine_virtio_count(&layout, &cfg), 2);
	cfg.ndisks = 2; /* the user gave both */
	cr_assert_eq(machine_placeholder_disks(&layout, &cfg), 0);
	cfg.ndisks = 0; /* no disks at all (an initrd boot): nothing to place */
	cr_assert_eq(machine_placeholder_disks(&layout, &cfg), 0);
	layout.rootfs_disk_index = 0; /* x86 */
	cfg.ndisks = 1;
	cr_assert_eq(machine_placeholder_disks(&layout, &cfg), 0);
}

Test(machine, counts_every_virtio_device_in_attach_order)
{
	cfg.ndisks = 2;
	cfg.nnets = 1;
	cfg.console = CONSOLE_VIRTIO;
	cr_assert_eq(machine_virtio_count(&layout, &cfg), 4);
}

Test(machine, refuses_more_mmio_devices_than_slots_and_too_many_disks, .init = setup)
{
	cr_redirect_stderr();
	cfg.transport = VIRTIO_TRANSPORT_MMIO;
	cfg.ndisks = 8;
	cr_assert_eq(machine_check_config(&layout, &cfg), 0);
	cfg.nnets = 1;
	cr_assert_neq(machine_check_config(&layout, &cfg), 0, "9 devices, 8 slots");
	cfg.transport = VIRTIO_TRANSPORT_PCI;
	cr_assert_eq(machine_check_config(&layout, &cfg), 0, "PCI has room");
	layout.rootfs_disk_index = 1;
	cfg.nnets = 0;
	cfg.ndisks = 1;
	cr_assert_eq(machine_check_config(&layout, &cfg), 0, "1 + 1 placeholder");
	cfg.ndisks = CONFIG_MAX_DISKS;
	cr_assert_eq(machine_check_config(&layout, &cfg), 0, "the rootfs is already past index 1");
}

Test(machine, mmio_slot_addresses_are_4k_apart)
{
	layout.virtio_mmio_base = 0xa000000;
	cr_assert_eq(machine_virtio_mmio_addr(&layout, 0), 0xa000000);
	cr_assert_eq(machine_virtio_mmio_addr(&layout, 3), 0xa003000);
}

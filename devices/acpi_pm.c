#include "devices/acpi_pm.h"

#include <string.h>

#include "vmm/log.h"

#define PM1_CNT_SCI_EN 0x0001 /* always set: the machine has no SMM, so it is in ACPI mode */
#define PM1_CNT_SLP_TYP_SHIFT 10
#define PM1_CNT_SLP_EN 0x2000

void acpi_pm_init(struct acpi_pm *pm, struct vm_stopper stop)
{
	memset(pm, 0, sizeof(*pm));
	pthread_mutex_init(&pm->lock, NULL);
	pm->control = PM1_CNT_SCI_EN;
	pm->stop = stop;
}

/* The three 16-bit registers as one little-endian byte array, so byte, word and dword
 * accesses at any offset in the block compose naturally. */
static void pm_to_bytes(const struct acpi_pm *pm, uint8_t out[ACPI_PM_BLOCK_LEN])
{
	bus_data_put(out, 2, pm->status);
	bus_data_put(out + 2, 2, pm->enable);
	bus_data_put(out + 4, 2, pm->control);
}

static void acpi_pm_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct acpi_pm *pm = opaque;
	uint8_t regs[ACPI_PM_BLOCK_LEN];
	pthread_mutex_lock(&pm->lock);
	pm_to_bytes(pm, regs);
	pthread_mutex_unlock(&pm->lock);
	for (uint32_t i = 0; i < len; i++)
		data[i] = offset + i < ACPI_PM_BLOCK_LEN ? regs[offset + i] : 0xff;
}

static void acpi_pm_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct acpi_pm *pm = opaque;
	uint8_t regs[ACPI_PM_BLOCK_LEN];
	bool sleep = false;
	unsigned int slp_typ = 0;

	pthread_mutex_lock(&pm->lock);
	pm_to_bytes(pm, regs);
	uint8_t status_clear[2] = { 0, 0 };
	for (uint32_t i = 0; i < len && offset + i < ACPI_PM_BLOCK_LEN; i++) {
		regs[offset + i] = data[i];
		if (offset + i < 2)
			status_clear[offset + i] = data[i];
	}
	/* PM1 status bits are write-one-to-clear, and only the bytes this access wrote count:
	 * the merged image holds the current status in the others. */
	pm->status &= (uint16_t)~bus_data_get(status_clear, 2);
	pm->enable = (uint16_t)bus_data_get(regs + 2, 2);
	uint16_t control = (uint16_t)bus_data_get(regs + 4, 2);
	if (offset + len > 4 && (control & PM1_CNT_SLP_EN)) {
		sleep = true;
		slp_typ = (control >> PM1_CNT_SLP_TYP_SHIFT) & 7;
	}
	/* SLP_EN is write-only and reads back as zero; SCI_EN stays set. */
	pm->control = (uint16_t)((control & ~PM1_CNT_SLP_EN) | PM1_CNT_SCI_EN);
	pthread_mutex_unlock(&pm->lock);

	if (!sleep)
		return;
	if (slp_typ == ACPI_PM_S5_SLP_TYP) {
		log_info("guest entered ACPI S5 (power off)");
		vm_stopper_request(&pm->stop, VM_STOP_POWEROFF);
	} else {
		log_warn_limited("ACPI sleep type refused",
				 "guest asked for ACPI sleep type %u, which this machine does not offer; ignored", slp_typ);
	}
}

const struct bus_ops acpi_pm_bus_ops = { .read = acpi_pm_read, .write = acpi_pm_write };

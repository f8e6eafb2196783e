/* ACPI PM1a event and control registers (ACPI 6.4 §4.8.3): the fixed-hardware block through
 * which a guest enters S5 (power off). StarryOS writes 0x2000 (SLP_EN, SLP_TYP 0) as a
 * 16-bit access to the control register at 0x604; Linux writes SLP_TYP from \_S5 | SLP_EN. */
#ifndef N90_ACPI_PM_H
#define N90_ACPI_PM_H

#include <pthread.h>
#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/stop.h"

#define ACPI_PM_BLOCK_LEN 6 /* PM1a_EVT (status, enable) + PM1a_CNT */
#define ACPI_PM_S5_SLP_TYP 0 /* must match \_S5 in the DSDT (arch/x86_64/acpi.c) */

struct acpi_pm {
	pthread_mutex_t lock;
	uint16_t status, enable, control;
	struct vm_stopper stop;
};

void acpi_pm_init(struct acpi_pm *pm, struct vm_stopper stop);
extern const struct bus_ops acpi_pm_bus_ops; /* register at the profile's pm1_base */

#endif

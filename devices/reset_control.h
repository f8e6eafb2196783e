/* PCI reset control register at 0xCF9 (Intel ICH "RST_CNT"): writing a value with bit 2
 * (RST_CPU) set resets the machine. The FADT names it as the ACPI reset register too. */
#ifndef N90_RESET_CONTROL_H
#define N90_RESET_CONTROL_H

#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/stop.h"

struct reset_control {
	uint8_t value;
	struct vm_stopper stop;
};

extern const struct bus_ops reset_control_bus_ops; /* register at 0xcf9, length 1 */

#endif

/* i8042 keyboard controller, reduced to what a VMM guest uses: the CPU reset line (command
 * 0xFE on port 0x64). No keyboard or mouse; the status register reports empty buffers. */
#ifndef N90_I8042_H
#define N90_I8042_H

#include "vmm/bus.h"
#include "vmm/stop.h"

struct i8042 {
	struct vm_stopper stop;
};

void i8042_init(struct i8042 *kbc, struct vm_stopper stop);
/* Data port 0x60 and command/status port 0x64, each registered with length 1. */
extern const struct bus_ops i8042_data_ops, i8042_command_ops;

#endif

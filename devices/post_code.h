/* Port 0x80 POST/progress codes: each write is logged with its time at --verbose, which
 * makes boot-phase timing visible without a guest console. */
#ifndef N90_POST_CODE_H
#define N90_POST_CODE_H

#include <stdint.h>

#include "vmm/bus.h"

struct post_code {
	uint8_t last;
	uint64_t writes;
};

extern const struct bus_ops post_code_bus_ops; /* register at 0x80, length 1 */

#endif

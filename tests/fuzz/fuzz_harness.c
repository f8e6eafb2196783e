/* libFuzzer: the harness engine on arbitrary console output, fed in arbitrary chunks. */
#include <stdint.h>
#include <stdlib.h>

#include "harness/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct harness_command cmds[] = { { "first", 0 }, { "second", 0 } };
	struct harness_config cfg = { .nonce = size && data[0] & 1 ? "n0nce" : NULL, .boot_timeout_ms = 1000,
				      .command_timeout_ms = 1000, .poweroff_grace_ms = 10, .commands = cmds,
				      .ncommands = 2 };
	static struct harness_engine h;
	struct harness_action actions[16];
	static char out[HARNESS_CAPTURE_MAX + 1];
	if (harness_init(&h, &cfg, 0))
		abort();
	uint64_t now = 1;
	for (size_t off = 0; off < size;) {
		size_t chunk = 1 + data[off] % 64;
		if (chunk > size - off)
			chunk = size - off;
		harness_feed(&h, data + off, chunk, now++, actions, 16);
		off += chunk;
	}
	harness_tick(&h, now + 5000, actions, 16);
	for (unsigned int i = 0; i < 2; i++)
		harness_clean_output(&h, i, out, sizeof(out));
	harness_free(&h);
	return 0;
}

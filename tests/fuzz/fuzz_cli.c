/* libFuzzer: the native command line, and crosvm's (`crosvm run ...`) when the input starts
 * with 'C'; NUL bytes in the input separate arguments. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/cli.h"
#include "vmm/crosvm_cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool crosvm = size > 0 && data[0] == 'C';
	if (crosvm) {
		data++;
		size--;
	}
	char *buf = malloc(size + 1);
	char *argv[66] = { crosvm ? "crosvm" : "n90vmm" };
	int argc = 1;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (char *p = buf; p < buf + size && argc < 64; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	struct vm_config cfg;
	char err[256];
	err[0] = '\0';
	if (crosvm) {
		static struct crosvm_cli out;
		memset(&out, 0, sizeof(out));
		if (crosvm_cli_parse(argc, argv, &cfg, &out) == CROSVM_CMD_ERROR && !out.err[0])
			abort(); /* every refusal says why */
	} else if (cli_parse(argc, argv, &cfg, err, sizeof(err)) == CLI_ERROR && !err[0]) {
		abort();
	}
	cli_config_release(&cfg);
	free(buf);
	return 0;
}

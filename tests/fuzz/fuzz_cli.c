/* libFuzzer: the native command line; NUL bytes in the input separate arguments. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../vmm/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	char *argv[65] = { "n90vmm" };
	int argc = 1;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (char *p = buf; p < buf + size && argc < 64; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	struct vm_config cfg;
	char err[256];
	err[0] = '\0';
	if (cli_parse(argc, argv, &cfg, err, sizeof(err)) == CLI_ERROR && !err[0])
		abort(); /* every refusal says why */
	cli_config_release(&cfg);
	free(buf);
	return 0;
}

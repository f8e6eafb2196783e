/* What the user asked for, after parsing the command line. Defaults that depend on the
 * kernel (profile, vCPUs, memory) are filled in once the kernel format is known. */
#ifndef N90_CONFIG_H
#define N90_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

struct vm_config {
	const char *kernel_path;
	const char *rootfs_path; /* optional second positional argument */
	const char *initrd_path;
	const char *cmdline;
	const char *profile_name; /* NULL: chosen from the kernel format */
	unsigned int cpus;        /* 0: the profile's default */
	uint64_t mem_bytes;       /* 0: the profile's default */
	double timeout_sec;       /* 0: none */
	bool verbose;
	bool stats;
	bool stdin_enabled; /* feed stdin to the console (default on) */
};

#endif

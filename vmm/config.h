/* What the user asked for, after parsing the command line. Defaults that depend on the
 * kernel (profile, vCPUs, memory) are filled in once the kernel format is known. */
#ifndef N90_CONFIG_H
#define N90_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "harness/session.h"
#include "vmm/sandbox.h"

#define CONFIG_MAX_DISKS 8
#define CONFIG_MAX_NICS 4

/* One virtio-net NIC on a TAP device: an existing interface (tap_name), an inherited file
 * descriptor (tap_fd >= 0), or one the monitor creates and configures with host_ip/netmask
 * (crosvm's --net host-ip=...,netmask=...,mac=...). */
struct net_config {
	const char *tap_name; /* NULL unless tap=NAME */
	int tap_fd;           /* -1 unless tap-fd=N */
	uint32_t host_ip;     /* host side of the link, host byte order; 0 unless host-ip= */
	uint32_t netmask;     /* host byte order */
	bool has_mac;
	uint8_t mac[6]; /* the guest's MAC; the monitor picks a locally administered one if unset */
	bool vhost_net; /* reserved: vhost-net is not implemented (refused when set) */
	char *spec;     /* the parsed copy of the option text, owned: tap_name points into it */
};

/* The values of enum blk_io_kind (devices/virtio/blk_io.h). */
enum disk_io {
	DISK_IO_AUTO,
	DISK_IO_SYNC,
	DISK_IO_URING,
};

struct disk_config {
	const char *path;
	bool read_only;
	bool direct;         /* O_DIRECT */
	enum disk_io io;     /* the backend: io_uring when it works (auto) */
	unsigned int queues; /* 0: one per vCPU (up to the device's limit) */
	char *spec;  /* the parsed copy of the option text, owned: path points into it */
};

enum virtio_transport_kind {
	VIRTIO_TRANSPORT_PCI,
	VIRTIO_TRANSPORT_MMIO,
};

enum console_kind {
	CONSOLE_SERIAL, /* COM1 (16550) carries the console */
	CONSOLE_VIRTIO, /* virtio-console (hvc0); COM1 output is dropped */
};

/* Where the console (COM1, or hvc0 with --console virtio) goes: --serial. */
enum serial_sink_kind {
	SERIAL_SINK_STDIO = 0,     /* standard output (the default) */
	SERIAL_SINK_NONE,          /* output dropped (crosvm type=sink) */
	SERIAL_SINK_FILE,          /* appended to path (crosvm type=file) */
	SERIAL_SINK_UNIX_LISTEN,   /* n90vmm listens on path; one client at a time, early output kept */
	SERIAL_SINK_UNIX_CONNECT,  /* n90vmm connects to a listener at path (crosvm type=unix-stream) */
	SERIAL_SINK_UNIX_DGRAM,    /* one datagram per line to path (crosvm type=unix) */
	SERIAL_SINK_SYSLOG,        /* one syslog record per line (crosvm type=syslog) */
};

struct serial_config {
	enum serial_sink_kind kind;
	const char *path; /* NULL for stdio, none and syslog */
};

struct vm_config {
	const char *kernel_path;
	const char *rootfs_path; /* optional second positional argument: the last disk */
	const char *initrd_path;
	const char *cmdline;
	const char *profile_name; /* NULL: chosen from the kernel format */
	unsigned int cpus;        /* 0: the profile's default */
	uint64_t mem_bytes;       /* 0: the profile's default */
	double timeout_sec;       /* 0: none */
	bool verbose;
	bool stats;
	bool stdin_enabled; /* feed stdin to the console (default on) */
	/* virtio-blk disks in command-line order (--disk ..., then ROOTFS). */
	struct disk_config disks[CONFIG_MAX_DISKS];
	unsigned int ndisks;
	/* virtio-net NICs in command-line order (--net ...). */
	struct net_config nets[CONFIG_MAX_NICS];
	unsigned int nnets;
	enum virtio_transport_kind transport;
	enum console_kind console;
	/* Harness mode (--command / --script) when harness.ncommands > 0. */
	struct harness_options harness;
	const char *console_log; /* guest console to this file instead of stderr (harness mode) */
	const char *dump_fdt;    /* --dump-fdt: write the guest's device tree here (arm64) */
	/* `n90vmm harness`: the protocol against another hypervisor's serial port. */
	struct {
		const char *connect; /* "unix:PATH" or "tcp:HOST:PORT" */
		const char *listen;  /* "unix:PATH": the hypervisor connects to us */
		const char *launch;  /* shell command that starts the hypervisor, or NULL */
	} client;
	enum sandbox_mode sandbox;
	struct sandbox_jail jail; /* --jail, --uid, --gid */
	bool user_gid_default;    /* jail.gid came from --uid NAME's entry, not from --gid */
	struct serial_config serial;
	const char *control_socket; /* --socket PATH: `n90vmm stop PATH` ends the VM (exit 0) */
	bool crosvm_exit_codes;     /* `n90vmm run` / `crosvm run`: exit with crosvm's statuses */
};

#endif

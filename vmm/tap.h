/* TAP devices for virtio-net: an existing interface by name, an inherited descriptor, or
 * one the monitor creates and configures (crosvm's host-ip/netmask). Every tap is opened
 * non-blocking with IFF_VNET_HDR and a 12-byte header (virtio 1.x's virtio_net_hdr_v1), so
 * frames move between guest buffers and the tap with the header in place, no conversion. */
#ifndef N90_TAP_H
#define N90_TAP_H

#include <stddef.h>
#include <stdint.h>

#define TAP_VNET_HDR_LEN 12

/* Offloads the tap can hand us (TUNSETOFFLOAD's TUN_F_* bits). */
#define TAP_OFFLOAD_CSUM 0x01
#define TAP_OFFLOAD_TSO4 0x02
#define TAP_OFFLOAD_TSO6 0x04
#define TAP_OFFLOAD_TSO_ECN 0x08
#define TAP_OFFLOAD_UFO 0x10

struct tap {
	int fd;
	char name[16];
	unsigned int offloads; /* TAP_OFFLOAD_* the kernel accepted when probed */
};

/* Opens an existing tap interface `name` (created with `ip tuntap add ... mode tap`).
 * Returns 0 or -errno with `err` set to one line. */
int tap_open(struct tap *tap, const char *name, char *err, size_t errlen);
/* Uses an inherited tap descriptor; it must be a tap with IFF_VNET_HDR. */
int tap_adopt_fd(struct tap *tap, int fd, char *err, size_t errlen);
/* Creates a new tap (named by the kernel from "n90tap%d"), gives it host_ip/netmask (host
 * byte order) and brings it up. Needs CAP_NET_ADMIN. */
int tap_create(struct tap *tap, uint32_t host_ip, uint32_t netmask, char *err, size_t errlen);
/* Programs the offloads the guest can receive (TUNSETOFFLOAD); 0 or -errno. */
int tap_set_offloads(const struct tap *tap, unsigned int offloads);
void tap_close(struct tap *tap);

#endif

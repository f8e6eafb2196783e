#include "vmm/tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* The offload sets tried in turn: everything, then without UFO (kernels 4.14 to 6.1 refuse
 * TUN_F_UFO), then checksums only, then nothing. */
static const unsigned int offload_probes[] = {
	TAP_OFFLOAD_CSUM | TAP_OFFLOAD_TSO4 | TAP_OFFLOAD_TSO6 | TAP_OFFLOAD_TSO_ECN | TAP_OFFLOAD_UFO,
	TAP_OFFLOAD_CSUM | TAP_OFFLOAD_TSO4 | TAP_OFFLOAD_TSO6 | TAP_OFFLOAD_TSO_ECN,
	TAP_OFFLOAD_CSUM,
};

/* Header size and offload probe common to every way of getting a tap. */
static int tap_setup(struct tap *tap, char *err, size_t errlen)
{
	int hdr = TAP_VNET_HDR_LEN;
	if (ioctl(tap->fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		int e = errno;
		snprintf(err, errlen, "tap '%s': cannot set the virtio-net header size: %s", tap->name, strerror(e));
		return -e;
	}
	int fl = fcntl(tap->fd, F_GETFL);
	if (fl < 0 || fcntl(tap->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		int e = errno;
		snprintf(err, errlen, "tap '%s': %s", tap->name, strerror(e));
		return -e;
	}
	tap->offloads = 0;
	for (size_t i = 0; i < sizeof(offload_probes) / sizeof(offload_probes[0]); i++)
		if (ioctl(tap->fd, TUNSETOFFLOAD, (unsigned long)offload_probes[i]) == 0) {
			tap->offloads = offload_probes[i];
			break;
		}
	/* Until the guest says what it can take, the tap must hand us plain frames. */
	tap_set_offloads(tap, 0);
	return 0;
}

static int tap_attach(struct tap *tap, const char *name, char *err, size_t errlen)
{
	memset(tap, 0, sizeof(*tap));
	tap->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (tap->fd < 0) {
		int e = errno;
		snprintf(err, errlen, "tap: /dev/net/tun: %s", strerror(e));
		return -e;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(tap->fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		snprintf(err, errlen, "tap '%s': %s", name,
			 e == EPERM ? "not allowed (the tap belongs to another user, or CAP_NET_ADMIN is missing)"
			 : e == EBUSY ? "in use by another process"
				      : strerror(e));
		close(tap->fd);
		tap->fd = -1;
		return -e;
	}
	snprintf(tap->name, sizeof(tap->name), "%s", ifr.ifr_name);
	return 0;
}

int tap_open(struct tap *tap, const char *name, char *err, size_t errlen)
{
	int ret = tap_attach(tap, name, err, errlen);
	if (!ret && (ret = tap_setup(tap, err, errlen)))
		tap_close(tap);
	return ret;
}

int tap_adopt_fd(struct tap *tap, int fd, char *err, size_t errlen)
{
	memset(tap, 0, sizeof(*tap));
	tap->fd = fd;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
		int e = errno;
		snprintf(err, errlen, "tap-fd %d: not a tap device (%s)", fd, strerror(e));
		tap->fd = -1;
		return -e;
	}
	snprintf(tap->name, sizeof(tap->name), "%s", ifr.ifr_name);
	if (!(ifr.ifr_flags & IFF_TAP) || !(ifr.ifr_flags & IFF_VNET_HDR) || !(ifr.ifr_flags & IFF_NO_PI)) {
		snprintf(err, errlen, "tap-fd %d (%s): must be a tap opened with IFF_VNET_HDR and IFF_NO_PI", fd, tap->name);
		tap->fd = -1;
		return -EINVAL;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	int ret = tap_setup(tap, err, errlen);
	if (ret)
		tap->fd = -1;
	return ret;
}

/* SIOCSIF* on a throwaway socket: address, netmask, then up. */
static int configure_ipv4(const char *name, uint32_t ip, uint32_t mask, char *err, size_t errlen)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		int e = errno;
		snprintf(err, errlen, "tap '%s': socket: %s", name, strerror(e));
		return -e;
	}
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	const char *step = "address";
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(ip);
	int ret = ioctl(s, SIOCSIFADDR, &ifr);
	if (!ret) {
		step = "netmask";
		sin->sin_addr.s_addr = htonl(mask);
		ret = ioctl(s, SIOCSIFNETMASK, &ifr);
	}
	if (!ret) {
		step = "link up";
		ret = ioctl(s, SIOCGIFFLAGS, &ifr);
		ifr.ifr_flags |= IFF_UP;
		if (!ret)
			ret = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	int e = ret ? errno : 0;
	close(s);
	if (ret)
		snprintf(err, errlen, "tap '%s': cannot set the %s: %s", name, step, strerror(e));
	return -e;
}

int tap_create(struct tap *tap, uint32_t host_ip, uint32_t netmask, char *err, size_t errlen)
{
	int ret = tap_attach(tap, "n90tap%d", err, errlen);
	if (!ret)
		ret = configure_ipv4(tap->name, host_ip, netmask, err, errlen);
	if (!ret)
		ret = tap_setup(tap, err, errlen);
	if (ret)
		tap_close(tap);
	return ret;
}

int tap_set_offloads(const struct tap *tap, unsigned int offloads)
{
	return ioctl(tap->fd, TUNSETOFFLOAD, (unsigned long)(offloads & tap->offloads)) < 0 ? -errno : 0;
}

void tap_close(struct tap *tap)
{
	if (tap->fd >= 0)
		close(tap->fd);
	tap->fd = -1;
}

_Static_assert(TAP_OFFLOAD_CSUM == TUN_F_CSUM && TAP_OFFLOAD_TSO4 == TUN_F_TSO4 && TAP_OFFLOAD_TSO6 == TUN_F_TSO6 &&
		       TAP_OFFLOAD_TSO_ECN == TUN_F_TSO_ECN && TAP_OFFLOAD_UFO == TUN_F_UFO,
	       "TAP_OFFLOAD_* are the kernel's TUN_F_* bits");

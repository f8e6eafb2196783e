/*
 * n90vmm test guest: the virtio-console test (virtio 1.2 §5.3), port 0 only (no MULTIPORT).
 *
 * Once the device is up, every line the guest prints also goes out through the transmit
 * queue, starting with a replay of everything printed so far: with "--console virtio" the
 * monitor's output then holds the whole report. Then it reads one line of input from the
 * receive queue and prints it back.
 */
#include "virtio.h"

#define RXQ 0
#define TXQ 1
#define RX_BUFS 4
#define RX_BUF_LEN 64
#define POLL_LIMIT (10 * clock_nominal_hz())

static struct vq rxq, txq;
static u8 rx_bufs[RX_BUFS][RX_BUF_LEN];
static u8 tx_buf[8192];
static const char *tx_error;

static void rx_post(u32 slot)
{
	struct vbuf b = { (u64)rx_bufs[slot], RX_BUF_LEN, 1 };
	vq_post(&rxq, slot, &b, 1, 0);
}

/* The output mirror: one buffer per call, waits until the device has taken it. */
static void console_tx(const char *buf, u32 len)
{
	u32 id, used;
	if (len > sizeof(tx_buf))
		len = sizeof(tx_buf);
	memcpy(tx_buf, buf, len);
	struct vbuf b = { (u64)tx_buf, len, 0 };
	vq_post(&txq, 0, &b, 1, 0);
	vq_notify(&txq);
	if (vq_wait(&txq, &id, &used, POLL_LIMIT) < 0 || id != 0) {
		console_mirror = 0; /* report on COM1 only from now on */
		tx_error = "transmit buffer never returned";
	}
}

/* Reads bytes from the receive queue until a newline; returns the line without it. */
static const char *read_line(char *line, u32 cap)
{
	u32 n = 0;
	for (;;) {
		u32 id, len;
		if (vq_wait(&rxq, &id, &len, POLL_LIMIT) < 0)
			return "no input arrived";
		u32 slot = id / VQ_SLOT_DESCS;
		if (slot >= RX_BUFS || len > RX_BUF_LEN)
			return failf("used element id %u len %u is not one of our buffers", id, len);
		for (u32 i = 0; i < len; i++) {
			char c = (char)rx_bufs[slot][i];
			if (c == '\n' || c == '\r') {
				line[n] = 0;
				return 0;
			}
			if (n + 1 < cap)
				line[n++] = c;
		}
		rx_post(slot);
		vq_notify(&rxq);
	}
}

void console_main(const struct vmode *m)
{
	struct vdev *d = vdev_find(m, 0);
	const char *err = d->probe_err;
	if (!err)
		err = vdev_begin(d, 0);
	if (!err)
		err = vq_setup(&rxq, d, RXQ, 0, 0, 0);
	if (!err)
		err = vq_setup(&txq, d, TXQ, 0, 1, 0);
	if (err) {
		report("con-start", err);
		return;
	}
	for (u32 s = 0; s < RX_BUFS; s++)
		rx_post(s);
	vdev_driver_ok(d);
	vq_notify(&rxq);
	console_mirror = console_tx;
	kprintf("virtio-console: %s, port 0\n", transport_name(d));
	report("con-write", tx_error);
	char line[128];
	err = read_line(line, sizeof(line));
	if (!err)
		kprintf("console input: '%s'\n", line);
	report("con-read", err);
}

#include "devices/virtio/console.h"

#include <string.h>

static void console_transmit(struct virtio_console *con, struct virtq *vq)
{
	struct virtio_dev *dev = &con->dev;
	struct virtq_chain *c = &con->chain;
	int got;
	do {
		while ((got = virtq_pop(vq, c)) > 0) {
			/* Device-readable buffers only; anything writable is left untouched. */
			for (unsigned int i = 0; i < c->nread; i++)
				if (con->sink.write)
					con->sink.write(con->sink.opaque, c->segs[i].hva, c->segs[i].len);
			dev->stats.bytes_written += c->read_len;
			dev->stats.requests++;
			virtq_push(vq, c->head, 0);
		}
		virtio_queue_signal(dev, VIRTIO_CONSOLE_TX);
		if (got < 0)
			return;
	} while (virtq_enable_notify(vq));
}

static void console_queue_notify(struct virtio_dev *dev, unsigned int q)
{
	struct virtio_console *con = dev->model;
	if (q == VIRTIO_CONSOLE_TX) {
		console_transmit(con, &dev->queues[q]);
	} else if (q == VIRTIO_CONSOLE_RX && con->rx_starved) {
		/* New receive buffers: let the input side offer what it held back. */
		con->rx_starved = false;
		if (con->sink.rx_ready)
			con->sink.rx_ready(con->sink.opaque);
	}
}

static void console_config_read(struct virtio_dev *dev, uint32_t offset, uint8_t *data, uint32_t len)
{
	struct virtio_console *con = dev->model;
	memcpy(data, con->config + offset, len);
}

static void console_driver_ok(struct virtio_dev *dev)
{
	struct virtio_console *con = dev->model;
	/* Input may have been waiting for the driver. */
	if (con->sink.rx_ready)
		con->sink.rx_ready(con->sink.opaque);
}

static const struct virtio_device_ops console_ops = {
	.queue_notify = console_queue_notify,
	.config_read = console_config_read,
	.driver_ok = console_driver_ok,
};

void virtio_console_init(struct virtio_console *con, const struct guest_mem *mem, struct virtio_console_sink sink)
{
	memset(con, 0, sizeof(*con));
	con->sink = sink;
	/* cols = rows = 0 (unknown), max_nr_ports = 1: only meaningful with MULTIPORT. */
	con->config[4] = 1;
	virtio_dev_init(&con->dev, "virtio-console", VIRTIO_ID_CONSOLE, 0, 2, VIRTIO_CONSOLE_QUEUE_SIZE,
			VIRTIO_CONSOLE_CONFIG_LEN, mem, &console_ops, con);
}

size_t virtio_console_receive(struct virtio_console *con, const uint8_t *buf, size_t len)
{
	struct virtio_dev *dev = &con->dev;
	struct virtq *vq = &dev->queues[VIRTIO_CONSOLE_RX];
	size_t done = 0;
	bool pushed = false, broken = false;

	pthread_mutex_lock(&dev->lock);
	while (done < len && (dev->status & VIRTIO_STATUS_DRIVER_OK) && vq->ready) {
		int got = virtq_pop(vq, &con->chain);
		if (got < 0)
			broken = true;
		if (got < 0)
			break;
		if (got == 0) {
			/* Out of buffers: ask the driver to notify when it posts more (the avail
			 * event index), unless some arrived while we looked. */
			con->rx_starved = true;
			if (virtq_enable_notify(vq))
				continue;
			break;
		}
		uint64_t n = virtq_chain_write(&con->chain, 0, buf + done, len - done);
		virtq_push(vq, con->chain.head, (uint32_t)n);
		done += n;
		pushed = true;
		dev->stats.bytes_read += n;
	}
	if (pushed)
		virtio_queue_signal(dev, VIRTIO_CONSOLE_RX);
	if (done < len)
		con->rx_starved = true;
	pthread_mutex_unlock(&dev->lock);
	if (broken)
		virtio_dev_needs_reset(dev, VIRTIO_CONSOLE_RX);
	return done;
}

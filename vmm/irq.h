/* What a device sees of interrupt delivery: a line it raises and lowers. The VM decides
 * how (KVM_IRQ_LINE on the in-kernel irqchip today; irqfd for virtio later). */
#ifndef N90_IRQ_H
#define N90_IRQ_H

struct irq_line {
	void (*set_level)(void *opaque, unsigned int gsi, int level);
	void *opaque;
	unsigned int gsi;
};

static inline void irq_line_set(const struct irq_line *line, int level)
{
	if (line && line->set_level)
		line->set_level(line->opaque, line->gsi, level);
}

#endif

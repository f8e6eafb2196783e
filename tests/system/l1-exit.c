/* l1-exit STATUS: hands STATUS to the host through QEMU's isa-debug-exit device at port
 * 0xf4 (QEMU then exits with (STATUS << 1) | 1). Static, so L1 needs no libraries for it;
 * Debian's cloud kernel has no /dev/port, hence a program rather than dd. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/io.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: l1-exit STATUS\n");
		return 2;
	}
	if (ioperm(0xf4, 4, 1) < 0) {
		perror("l1-exit: ioperm");
		return 1;
	}
	outb((unsigned char)atoi(argv[1]), 0xf4);
	return 1; /* not reached when the device exists */
}

/* The arm64 Linux `Image` format (Documentation/arch/arm64/booting.rst §4): a 64-byte header
 * in front of the kernel, which runs where it is loaded, entered at its first byte with x0
 * the FDT's address. StarryOS's aarch64 images use the same header. Parsing and placement
 * are KVM-free, so hostile headers are tested on any host. */
#ifndef N90_A64_IMAGE_H
#define N90_A64_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/guest_mem.h"

#define A64_IMAGE_HEADER_SIZE 64
#define A64_IMAGE_MAGIC 0x644d5241u /* "ARM\x64", little endian, at byte 56 */
/* Before Linux 3.17 image_size was 0 and the kernel expected to sit 0x80000 past a 2 MiB
 * boundary; StarryOS's header keeps that form (text_offset = image_size = flags = 0). */
#define A64_IMAGE_LEGACY_TEXT_OFFSET 0x80000ull
#define A64_IMAGE_FLAG_BE 0x1ull

struct a64_image {
	uint64_t text_offset; /* effective: the legacy rule applied */
	uint64_t image_size;  /* effective: what must be RAM from the load address (bss included) */
	uint64_t flags;
	size_t file_size;
};

/* Whether the buffer starts with an arm64 Image header (its magic). */
bool a64_image_detect(const uint8_t *image, size_t size);
/* Checks the header; 0, or -errno with a one-line reason in err. */
int a64_image_parse(const uint8_t *image, size_t size, struct a64_image *out, char *err, size_t errlen);
/* Copies the image to ram_base + text_offset (ram_base is 2 MiB aligned, as the format asks)
 * after checking that all of image_size is RAM; *entry is the load address. 0 or -errno
 * with a reason in err. */
int a64_image_load(const struct guest_mem *mem, uint64_t ram_base, const uint8_t *image, const struct a64_image *hdr,
		   uint64_t *entry, char *err, size_t errlen);

#endif

#include "arch/aarch64/image.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/bytes.h"

#define TWO_MIB (2ull << 20)

bool a64_image_detect(const uint8_t *image, size_t size)
{
	return size >= A64_IMAGE_HEADER_SIZE && get_le32(image + 56) == A64_IMAGE_MAGIC;
}

int a64_image_parse(const uint8_t *image, size_t size, struct a64_image *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (!a64_image_detect(image, size)) {
		/* Debian ships its arm64 kernel gzip-compressed (vmlinuz) or as an EFI zboot image. */
		if (size >= 2 && image[0] == 0x1f && image[1] == 0x8b)
			snprintf(err, errlen, "a gzip-compressed kernel: decompress it to the raw Image first (zcat vmlinuz > Image)");
		else if (size >= 8 && memcmp(image, "MZ", 2) == 0 && memcmp(image + 4, "zimg", 4) == 0)
			snprintf(err, errlen, "an EFI zboot kernel: n90vmm boots the raw arm64 Image inside it");
		else
			snprintf(err, errlen, "not an arm64 Image (no \"ARM\\x64\" magic at byte 56)");
		return -ENOEXEC;
	}
	uint64_t text_offset = get_le64(image + 8), image_size = get_le64(image + 16), flags = get_le64(image + 24);
	if (flags & A64_IMAGE_FLAG_BE) {
		snprintf(err, errlen, "a big-endian arm64 Image (header flags 0x%llx): KVM guests here are little endian",
			 (unsigned long long)flags);
		return -ENOEXEC;
	}
	if (image_size == 0) {
		text_offset = A64_IMAGE_LEGACY_TEXT_OFFSET;
		image_size = size;
	}
	if (text_offset % 4096 || text_offset >= TWO_MIB * 512) {
		snprintf(err, errlen, "Image header text_offset 0x%llx is not a page-aligned offset a kernel can have",
			 (unsigned long long)text_offset);
		return -ENOEXEC;
	}
	if (image_size < size) {
		snprintf(err, errlen, "Image header image_size %llu is smaller than the file (%zu bytes): corrupt header",
			 (unsigned long long)image_size, size);
		return -ENOEXEC;
	}
	if (image_size > (1ull << 32)) {
		snprintf(err, errlen, "Image header image_size %llu is more than 4 GiB: corrupt header",
			 (unsigned long long)image_size);
		return -ENOEXEC;
	}
	*out = (struct a64_image){ text_offset, image_size, flags, size };
	return 0;
}

int a64_image_load(const struct guest_mem *mem, uint64_t ram_base, const uint8_t *image, const struct a64_image *hdr,
		   uint64_t *entry, char *err, size_t errlen)
{
	if (ram_base % TWO_MIB) {
		snprintf(err, errlen, "RAM at 0x%llx is not 2 MiB aligned", (unsigned long long)ram_base);
		return -EINVAL;
	}
	uint64_t load = ram_base + hdr->text_offset;
	uint8_t *dst = gpa_to_hva_checked(mem, load, hdr->image_size);
	if (!dst) {
		snprintf(err, errlen, "the kernel [0x%llx, +0x%llx) does not fit in guest RAM (%llu MiB at 0x%llx)",
			 (unsigned long long)load, (unsigned long long)hdr->image_size,
			 (unsigned long long)(mem->total >> 20), (unsigned long long)ram_base);
		return -ERANGE;
	}
	memcpy(dst, image, hdr->file_size);
	memset(dst + hdr->file_size, 0, hdr->image_size - hdr->file_size); /* bss */
	*entry = load;
	return 0;
}

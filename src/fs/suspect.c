/* suspect.c: recordings that are probably broken (see suspect.h). */
#include "du/suspect.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *ext_of(const char *name)
{
	const char *slash = strrchr(name, '/'), *dot = strrchr(name, '.');
	return dot && (!slash || dot > slash) ? dot + 1 : "";
}

static bool all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool wav(const unsigned char *head, size_t n, uint64_t size, char *why, size_t whysz)
{
	if (size < 12 || n < 12) {
		snprintf(why, whysz, "WAV of %" PRIu64 " bytes, shorter than its header", size);
		return true;
	}
	if (all_zero(head, n < 44 ? n : 44)) {
		snprintf(why, whysz, "WAV header is zeros");
		return true;
	}
	/* Other forms (RF64 and BW64 for files over 4 GiB, W64) carry their sizes elsewhere: not judged. */
	if (memcmp(head, "RIFF", 4) || memcmp(head + 8, "WAVE", 4))
		return false;
	/* The RIFF size is the file's less 8; recorders that stream leave 0 or 0xFFFFFFFF. A file of
	 * 4 GiB and more cannot say its size here (RF64 says it elsewhere). */
	uint32_t riff = le32(head + 4);
	if (riff != 0 && riff != 0xFFFFFFFFu && size < 0xFFFFFFFFull && (uint64_t)riff + 8 != size) {
		snprintf(why, whysz, "WAV header says %" PRIu64 " bytes, the file has %" PRIu64, (uint64_t)riff + 8,
			 size);
		return true;
	}
	return false;
}

bool du_suspect(const char *name, const unsigned char *head, size_t n, uint64_t size, char *why, size_t whysz)
{
	const char *ext = ext_of(name);
	bool is_wav = !strcasecmp(ext, "wav"), is_jpg = !strcasecmp(ext, "jpg") || !strcasecmp(ext, "jpeg");
	bool media = is_wav || is_jpg || !strcasecmp(ext, "mp4") || !strcasecmp(ext, "mov") || !strcasecmp(ext, "avi");
	if (!media)
		return false;
	if (size == 0) {
		snprintf(why, whysz, "empty file (0 bytes)");
		return true;
	}
	if (is_wav)
		return wav(head, n, size, why, whysz);
	if (is_jpg && (n < 2 || head[0] != 0xFF || head[1] != 0xD8)) {
		snprintf(why, whysz, "JPEG without a start of image (FF D8)");
		return true;
	}
	return false;
}

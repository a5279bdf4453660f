/* Unit tests for suspect.h: recordings told apart by their first bytes and size, built byte by
 * byte: a sound WAV, one of zeros (a dead battery), one whose header lies about its size, a
 * streaming recorder's header (size 0 or 0xFFFFFFFF), a truncated one, JPEGs with and without a
 * start of image, 0-byte media, and files du does not judge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "du/suspect.h"

/* A canonical 44-byte PCM header for a file of total bytes. */
static void wav_header(unsigned char h[44], uint32_t riff_size)
{
	memset(h, 0, 44);
	memcpy(h, "RIFF", 4);
	h[4] = riff_size & 0xff, h[5] = riff_size >> 8 & 0xff, h[6] = riff_size >> 16 & 0xff, h[7] = riff_size >> 24;
	memcpy(h + 8, "WAVEfmt ", 8);
	h[16] = 16, h[20] = 1, h[22] = 1;                      /* PCM, mono */
	h[24] = 0x80, h[25] = 0xbb;                           /* 48000 Hz */
	h[34] = 16;                                           /* 16 bits */
	memcpy(h + 36, "data", 4);
}

static bool check(const char *name, const unsigned char *head, size_t n, uint64_t size, const char *want)
{
	char why[96] = "";
	bool s = du_suspect(name, head, n, size, why, sizeof(why));
	if (want && (!s || !strstr(why, want)))
		fail_msg("%s: '%s', wanted '%s'", name, why, want);
	if (!want && s)
		fail_msg("%s: taken for suspect: %s", name, why);
	return s;
}

static void test_wav(void **state)
{
	(void)state;
	unsigned char h[64];
	wav_header(h, 96000 - 8);
	check("site/rec.wav", h, 44, 96000, NULL);
	check("site/REC.WAV", h, 44, 96000, NULL);                  /* any case of the extension */
	check("site/rec.wav", h, 44, 50000, "WAV header says 96000 bytes, the file has 50000");
	wav_header(h, 0);                                            /* a recorder that streams */
	check("site/rec.wav", h, 44, 50000, NULL);
	wav_header(h, 0xFFFFFFFFu);
	check("site/rec.wav", h, 44, 50000, NULL);
	memset(h, 0, sizeof(h));                                     /* the battery died */
	check("site/rec.wav", h, 64, 96000, "WAV header is zeros");
	memcpy(h, "RF64", 4);                                       /* a big file's form: not judged */
	h[8] = 'W', h[9] = 'A', h[10] = 'V', h[11] = 'E';
	check("site/rec.wav", h, 64, 96000, NULL);
	check("site/rec.wav", h, 0, 0, "empty file (0 bytes)");
	check("site/rec.wav", (const unsigned char *)"RIFF", 4, 4, "shorter than its header");
}

static void test_other_kinds(void **state)
{
	(void)state;
	const unsigned char jpg[] = { 0xFF, 0xD8, 0xFF, 0xE1, 0, 0x10, 'E', 'x', 'i', 'f' };
	check("cam/IMG_1.JPG", jpg, sizeof(jpg), 4000, NULL);
	check("cam/IMG_1.jpeg", jpg, sizeof(jpg), 4000, NULL);
	const unsigned char zeros[16] = { 0 };
	check("cam/IMG_2.jpg", zeros, sizeof(zeros), 4000, "JPEG without a start of image");
	check("cam/IMG_3.jpg", jpg, 1, 1, "JPEG without a start of image");
	check("cam/clip.mp4", zeros, 0, 0, "empty file");
	check("cam/clip.mp4", zeros, 16, 5000, NULL);               /* video is judged by its size alone */
	check("notes.txt", zeros, 0, 0, NULL);                       /* not a recording */
	check("dir.wav/readme", zeros, 0, 0, NULL);                  /* an extension of a folder is none */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wav),
		cmocka_unit_test(test_other_kinds),
	};
	return cmocka_run_group_tests_name("suspect", tests, NULL, NULL);
}

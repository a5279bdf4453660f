/* Unit tests for sensor.h: recorders' facts from files built byte by byte: AudioMoth WAVs of
 * several firmware versions (old and new comments, zones and offsets, the deployment form, an
 * IART-only device), GUANO after the audio (offsets, Z, local), GUANO over the comment, an RF64,
 * camera-trap JPEGs with real EXIF (with and without an offset, the fallbacks), truncated and
 * lying headers, the bytes du_sensor_read reads of a 10 MB WAV, and the pairs and JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "du/sensor.h"

/* ---- builders ---- */

struct bytes {
	unsigned char b[8192];
	size_t n;
};

static void add(struct bytes *w, const void *p, size_t n)
{
	assert_true(w->n + n <= sizeof(w->b));
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void w16(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff, p[1] = v >> 8 & 0xff;
}

static void w32(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff, p[1] = v >> 8 & 0xff, p[2] = v >> 16 & 0xff, p[3] = v >> 24;
}

/* A chunk header saying size, whatever follows. */
static void chunk_hdr(struct bytes *w, const char id[4], uint32_t size)
{
	unsigned char h[8];
	memcpy(h, id, 4);
	w32(h + 4, size);
	add(w, h, 8);
}

/* A whole chunk, padded to even. */
static void chunk(struct bytes *w, const char id[4], const void *body, size_t n)
{
	chunk_hdr(w, id, (uint32_t)n);
	add(w, body, n);
	if (n & 1)
		add(w, "", 1);
}

static void riff(struct bytes *w, const char *form)
{
	w->n = 0;
	add(w, form, 4);
	add(w, "\0\0\0\0WAVE", 8);
}

/* The RIFF size, once the chunks are in. */
static void riff_done(struct bytes *w)
{
	w32(w->b + 4, (uint32_t)(w->n - 8));
}

static void fmt(struct bytes *w, uint16_t channels, uint32_t rate)
{
	unsigned char f[16] = { 0 };
	w16(f, 1);
	w16(f + 2, channels);
	w32(f + 4, rate);
	w32(f + 8, rate * channels * 2);
	w16(f + 12, (uint16_t)(channels * 2));
	w16(f + 14, 16);
	chunk(w, "fmt ", f, sizeof(f));
}

/* LIST/INFO with an ICMT and an IART (each left out when NULL), as AudioMoth writes it. */
static void info(struct bytes *w, const char *comment, const char *artist)
{
	struct bytes l = { .n = 0 };
	add(&l, "INFO", 4);
	if (comment)
		chunk(&l, "ICMT", comment, strlen(comment) + 1);
	if (artist)
		chunk(&l, "IART", artist, strlen(artist) + 1);
	chunk(w, "LIST", l.b, l.n);
}

static void data(struct bytes *w, size_t n)
{
	static const unsigned char zeros[sizeof(((struct bytes *)0)->b)];
	chunk_hdr(w, "data", (uint32_t)n);
	assert_true(n <= sizeof(zeros));
	add(w, zeros, n);
}

/* An AudioMoth file: 48 kHz mono, 4800 bytes of audio (0.05 s), the comment and artist. */
static void audiomoth(struct bytes *w, const char *comment, const char *artist)
{
	riff(w, "RIFF");
	fmt(w, 1, 48000);
	info(w, comment, artist);
	data(w, 4800);
	riff_done(w);
}

static struct du_sensor from(const struct bytes *w, bool want)
{
	struct du_sensor s;
	bool got = du_sensor_from_buf(w->b, w->n, w->n, &s);
	assert_int_equal(got, want);
	return s;
}

static void assert_sound(const struct du_sensor *s, uint32_t rate, uint16_t channels, double duration)
{
	assert_int_equal(s->sample_rate, rate);
	assert_int_equal(s->channels, channels);
	if (duration < 0)
		assert_true(s->duration_s < 0);
	else
		assert_true(s->duration_s > duration - 1e-9 && s->duration_s < duration + 1e-9);
}

static void assert_no_story(const struct du_sensor *s)
{
	assert_string_equal(s->recorded_at, "");
	assert_string_equal(s->device, "");
	assert_string_equal(s->make, "");
	assert_string_equal(s->model, "");
	assert_string_equal(s->gain, "");
	assert_string_equal(s->battery, "");
	assert_string_equal(s->temperature, "");
}

/* ---- AudioMoth ---- */

static void test_audiomoth_old(void **state)
{
	(void)state;
	struct bytes w;
	audiomoth(&w, "Recorded at 21:00:00 24/02/2019 (UTC) by AudioMoth 0FE081F80FE081F0 at gain setting 2 "
		      "while battery state was 4.5V.", NULL);
	struct du_sensor s = from(&w, true);
	assert_string_equal(s.recorded_at, "2019-02-24T21:00:00Z");
	assert_string_equal(s.device, "0FE081F80FE081F0");
	assert_string_equal(s.make, "AudioMoth");
	assert_string_equal(s.model, "");
	assert_string_equal(s.gain, "2");
	assert_string_equal(s.battery, "4.5V");
	assert_string_equal(s.temperature, "");
	assert_sound(&s, 48000, 1, 0.05);

	audiomoth(&w, "Recorded at 06:15:30 01/08/2018 (UTC) by AudioMoth 0FE081F80FE081F0 at gain setting 3 "
		      "while battery state was less than 3.6V.", NULL);
	s = from(&w, true);
	assert_string_equal(s.recorded_at, "2018-08-01T06:15:30Z");
	assert_string_equal(s.gain, "3");
	assert_string_equal(s.battery, "less than 3.6V");

	/* Firmware 1.2 to 1.5: the gain by name, and still "setting" and "battery state". */
	audiomoth(&w, "Recorded at 00:20:00 06/09/2021 (UTC-5) by AudioMoth 248C7D075B1FB916 at medium-high gain "
		      "setting while battery state was 3.9V and temperature was 20.1C. Amplitude threshold was 60.",
		  NULL);
	s = from(&w, true);
	assert_string_equal(s.recorded_at, "2021-09-06T05:20:00Z");
	assert_string_equal(s.device, "248C7D075B1FB916");
	assert_string_equal(s.gain, "medium-high");
	assert_string_equal(s.battery, "3.9V");
	assert_string_equal(s.temperature, "20.1C");
}

static void test_audiomoth_new(void **state)
{
	(void)state;
	struct bytes w;
	audiomoth(&w, "Recorded at 10:30:00 01/05/2021 (UTC+1) by AudioMoth 24F319055FDF2F5B at medium gain "
		      "while battery was 4.2V and temperature was 21.6C.", "AudioMoth 24F319055FDF2F5B");
	struct du_sensor s = from(&w, true);
	assert_string_equal(s.recorded_at, "2021-05-01T09:30:00Z");
	assert_string_equal(s.device, "24F319055FDF2F5B");
	assert_string_equal(s.make, "AudioMoth");
	assert_string_equal(s.gain, "medium");
	assert_string_equal(s.battery, "4.2V");
	assert_string_equal(s.temperature, "21.6C");
	assert_sound(&s, 48000, 1, 0.05);
}

/* The zone as written, converted to UTC across days, months, years and a leap day. */
static void test_audiomoth_zones(void **state)
{
	(void)state;
	static const struct {
		const char *when, *want;
	} cases[] = {
		{ "22:30:00 31/12/2020 (UTC-5)", "2021-01-01T03:30:00Z" },
		{ "00:30:00 01/03/2020 (UTC+1)", "2020-02-29T23:30:00Z" },
		{ "00:30:00 01/03/2021 (UTC+1)", "2021-02-28T23:30:00Z" },
		{ "05:00:00 01/01/2021 (UTC+5:30)", "2020-12-31T23:30:00Z" },
		{ "09:59:59 15/06/2022 (UTC+10)", "2022-06-14T23:59:59Z" },
		{ "09:30:00 14/04/2025 (UTC-02:30)", "2025-04-14T12:00:00Z" },
		{ "23:59:59 28/02/2000 (UTC-1)", "2000-02-29T00:59:59Z" },
		{ "12:00:00 07/07/2021", "2021-07-07T12:00:00" }, /* no zone: local, no Z */
		{ "12:00:00 31/02/2021 (UTC)", "" },             /* no such day */
		{ "12:00:00 29/02/2019 (UTC)", "" },
		{ "24:00:00 01/01/2021 (UTC)", "" },
		{ "12:00:00 01/13/2021 (UTC)", "" },
		{ "12:00:00 01/01/2021 (UTC+25)", "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char comment[256];
		snprintf(comment, sizeof(comment), "Recorded at %s by AudioMoth 24F319055FDF2F5B at high gain "
			 "while battery was 4.9V and temperature was 12.0C.", cases[i].when);
		struct bytes w;
		audiomoth(&w, comment, NULL);
		struct du_sensor s = from(&w, true);
		if (strcmp(s.recorded_at, cases[i].want))
			fail_msg("'%s': '%s', wanted '%s'", cases[i].when, s.recorded_at, cases[i].want);
		assert_string_equal(s.device, "24F319055FDF2F5B"); /* a bad date spoils only the date */
		assert_string_equal(s.gain, "high");
	}
}

static void test_audiomoth_deployment(void **state)
{
	(void)state;
	struct bytes w;
	audiomoth(&w, "Recorded at 03:00:00 10/11/2022 (UTC-3) by AudioMoth 243B1F0A5FA4E8D1 during deployment "
		      "0011223344556677 at low-medium gain while battery was less than 2.5V and temperature was "
		      "-4.5C. Recording stopped due to low voltage.", NULL);
	struct du_sensor s = from(&w, true);
	assert_string_equal(s.recorded_at, "2022-11-10T06:00:00Z");
	assert_string_equal(s.device, "243B1F0A5FA4E8D1");
	assert_string_equal(s.gain, "low-medium");
	assert_string_equal(s.battery, "less than 2.5V");
	assert_string_equal(s.temperature, "-4.5C");

	audiomoth(&w, "Recorded at 03:00:00 10/11/2022 (UTC) during deployment 0011223344556677 at medium gain "
		      "while battery was greater than 4.9V and temperature was 30.0C. Recording cancelled before "
		      "completion due to change of switch position.", "AudioMoth 243B1F0A5FA4E8D1");
	s = from(&w, true);
	assert_string_equal(s.recorded_at, "2022-11-10T03:00:00Z");
	assert_string_equal(s.device, "243B1F0A5FA4E8D1"); /* from IART: the comment names none */
	assert_string_equal(s.make, "AudioMoth");
	assert_string_equal(s.battery, "greater than 4.9V");
}

static void test_iart_only(void **state)
{
	(void)state;
	struct bytes w;
	audiomoth(&w, NULL, "AudioMoth 24F319055FDF2F5B");
	struct du_sensor s = from(&w, true);
	assert_string_equal(s.device, "24F319055FDF2F5B");
	assert_string_equal(s.make, "AudioMoth");
	assert_string_equal(s.recorded_at, "");
	assert_string_equal(s.gain, "");

	audiomoth(&w, NULL, "Jane Doe"); /* an artist that is not a device */
	s = from(&w, true);
	assert_no_story(&s);
	assert_sound(&s, 48000, 1, 0.05);
}

/* ---- GUANO ---- */

static void guano_wav(struct bytes *w, const char *comment, const char *guano)
{
	riff(w, "RIFF");
	fmt(w, 2, 250000);
	if (comment)
		info(w, comment, NULL);
	data(w, 4000); /* 4 ms of 16-bit stereo */
	chunk(w, "guan", guano, strlen(guano));
	riff_done(w);
}

static void test_guano(void **state)
{
	(void)state;
	static const struct {
		const char *stamp, *want;
	} cases[] = {
		{ "2019-06-01T22:15:00-05:00", "2019-06-02T03:15:00Z" },
		{ "2019-06-01T22:15:00Z", "2019-06-01T22:15:00Z" },
		{ "2019-06-01T22:15:00.123Z", "2019-06-01T22:15:00Z" },
		{ "2019-06-01T01:15:00+0200", "2019-05-31T23:15:00Z" },
		{ "2019-06-01T22:15:00.5+02:00", "2019-06-01T20:15:00Z" },
		{ "2019-06-01T22:15:00", "2019-06-01T22:15:00" },
		{ "2019-06-01 22:15:00", "2019-06-01T22:15:00" },
		{ "2019-02-30T22:15:00Z", "" },
		{ "2019-06-01T22:15:00 garbage", "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char g[512];
		snprintf(g, sizeof(g), "GUANO|Version: 1.0\r\nMake: Wildlife Acoustics, Inc.\r\n"
			 "Model: Song Meter SM4BAT-FS\r\nSerial: S4U09999\r\nTimestamp: %s\r\n"
			 "WA|Song Meter|Prefix: ABC\r\nWA|Serial: wrong\r\nNote: caf\xc3\xa9 \"bats\"\r\n",
			 cases[i].stamp);
		struct bytes w;
		guano_wav(&w, NULL, g);
		struct du_sensor s = from(&w, true);
		if (strcmp(s.recorded_at, cases[i].want))
			fail_msg("'%s': '%s', wanted '%s'", cases[i].stamp, s.recorded_at, cases[i].want);
		assert_string_equal(s.make, "Wildlife Acoustics, Inc.");
		assert_string_equal(s.model, "Song Meter SM4BAT-FS");
		assert_string_equal(s.device, "S4U09999");
		assert_sound(&s, 250000, 2, 0.004);
	}
}

static void test_guano_over_comment(void **state)
{
	(void)state;
	struct bytes w;
	guano_wav(&w, "Recorded at 10:30:00 01/05/2021 (UTC+1) by AudioMoth 24F319055FDF2F5B at medium gain "
		      "while battery was 4.2V and temperature was 21.6C.",
		  "GUANO|Version: 1.0\nTimestamp: 2021-05-01T10:30:02+01:00\nMake: Open Acoustic Devices\n"
		  "Serial: 24F319055FDF2F5C\nSamplerate: 8000\nLength: 99\n");
	struct du_sensor s = from(&w, true);
	assert_string_equal(s.recorded_at, "2021-05-01T09:30:02Z");
	assert_string_equal(s.device, "24F319055FDF2F5C");
	assert_string_equal(s.make, "Open Acoustic Devices");
	assert_string_equal(s.model, "");
	assert_string_equal(s.gain, "medium"); /* GUANO says nothing of these: the comment's stand */
	assert_string_equal(s.battery, "4.2V");
	assert_string_equal(s.temperature, "21.6C");
	assert_sound(&s, 250000, 2, 0.004);    /* fmt and data over GUANO's Samplerate and Length */

	/* Without fmt and data, GUANO's own Samplerate and Length. */
	riff(&w, "RIFF");
	const char *g = "GUANO|Version: 1.0\nSamplerate: 384000\nLength: 15.25\n";
	chunk(&w, "guan", g, strlen(g));
	riff_done(&w);
	s = from(&w, true);
	assert_int_equal(s.sample_rate, 384000);
	assert_true(s.duration_s == 15.25);
}

static void test_rf64(void **state)
{
	(void)state;
	struct bytes w;
	riff(&w, "RF64");
	w32(w.b + 4, 0xFFFFFFFFu);
	unsigned char ds64[28] = { 0 };
	w32(ds64 + 8, 4800); /* the data's size, 64 bits */
	chunk(&w, "ds64", ds64, sizeof(ds64));
	fmt(&w, 1, 48000);
	chunk_hdr(&w, "data", 0xFFFFFFFFu);
	static const unsigned char zeros[4800];
	add(&w, zeros, sizeof(zeros));
	const char *g = "GUANO|Version: 1.0\nSerial: RF1\n";
	chunk(&w, "guan", g, strlen(g));
	struct du_sensor s = from(&w, true);
	assert_sound(&s, 48000, 1, 0.05);
	assert_string_equal(s.device, "RF1"); /* found after the data: the size came from ds64 */
}

/* ---- EXIF ---- */

struct tag {
	uint16_t id;
	const char *text;
};

/* One IFD of ASCII entries at off (and a pointer to the Exif IFD when exif_ifd): its end. */
static size_t ifd(unsigned char *t, size_t off, const struct tag *tags, int n, uint32_t exif_ifd,
		  size_t *data)
{
	w16(t + off, (uint32_t)(n + (exif_ifd != 0)));
	off += 2;
	for (int i = 0; i < n; i++, off += 12) {
		uint32_t count = (uint32_t)strlen(tags[i].text) + 1;
		w16(t + off, tags[i].id);
		w16(t + off + 2, 2); /* ASCII */
		w32(t + off + 4, count);
		if (count <= 4) {
			memcpy(t + off + 8, tags[i].text, count);
		} else {
			w32(t + off + 8, (uint32_t)*data);
			memcpy(t + *data, tags[i].text, count);
			*data += count + (count & 1);
		}
	}
	if (exif_ifd) {
		w16(t + off, 0x8769);
		w16(t + off + 2, 4); /* LONG */
		w32(t + off + 4, 1);
		w32(t + off + 8, exif_ifd);
		off += 12;
	}
	w32(t + off, 0); /* no next IFD */
	return off + 4;
}

/* A JPEG: SOI, APP1 "Exif\0\0" with a little-endian TIFF of IFD0 (and an Exif IFD), a scrap of
 * image, EOI. */
static void jpeg(struct bytes *w, const struct tag *ifd0, int n0, const struct tag *exif, int ne)
{
	unsigned char t[2048] = { 0 };
	memcpy(t, "II*\0", 4);
	w32(t + 4, 8);
	size_t exif_at = 8 + 2 + 12 * (size_t)(n0 + (ne > 0)) + 4;
	size_t data = exif_at + (ne ? 2 + 12 * (size_t)ne + 4 : 0);
	ifd(t, 8, ifd0, n0, ne ? (uint32_t)exif_at : 0, &data);
	if (ne)
		ifd(t, exif_at, exif, ne, 0, &data);
	w->n = 0;
	unsigned char app1[4] = { 0xFF, 0xD8, 0xFF, 0xE1 }, len[2];
	add(w, app1, 4);
	len[0] = (unsigned char)((2 + 6 + data) >> 8), len[1] = (unsigned char)(2 + 6 + data);
	add(w, len, 2);
	add(w, "Exif\0\0", 6);
	add(w, t, data);
	static const unsigned char tail[] = { 0xFF, 0xDA, 0, 2, 0x12, 0x34, 0xFF, 0xD9 };
	add(w, tail, sizeof(tail));
}

static const struct tag cam0[] = { { 0x010f, "RECONYX" }, { 0x0110, "HF2X HYPERFIRE 2 " } };

static void test_exif(void **state)
{
	(void)state;
	struct bytes w;
	const struct tag ex[] = { { 0x9003, "2023:07:14 01:05:04" }, { 0x9011, "+02:00" },
				  { 0xa431, "H2X0012345" } };
	jpeg(&w, cam0, 2, ex, 3);
	struct du_sensor s = from(&w, true);
	assert_string_equal(s.recorded_at, "2023-07-13T23:05:04Z");
	assert_string_equal(s.make, "RECONYX");
	assert_string_equal(s.model, "HF2X HYPERFIRE 2"); /* trailing space trimmed */
	assert_string_equal(s.device, "H2X0012345");
	assert_sound(&s, 0, 0, -1);

	const struct tag local[] = { { 0x9003, "2023:07:14 01:05:04" }, { 0xa431, "H2X0012345" } };
	jpeg(&w, cam0, 2, local, 2);
	s = from(&w, true);
	assert_string_equal(s.recorded_at, "2023-07-14T01:05:04");

	/* The fallbacks: DateTime with OffsetTime, the camera serial of IFD0. */
	const struct tag ifd0[] = { { 0x010f, "Browning" }, { 0x0132, "2022:12:31 23:30:00" },
				    { 0xc62f, "BTC-8E-001" } };
	const struct tag ex2[] = { { 0x9010, "-01:00" } };
	jpeg(&w, ifd0, 3, ex2, 1);
	s = from(&w, true);
	assert_string_equal(s.recorded_at, "2023-01-01T00:30:00Z");
	assert_string_equal(s.device, "BTC-8E-001");
	assert_string_equal(s.make, "Browning");

	/* No date in the file: none is invented. */
	jpeg(&w, cam0, 2, NULL, 0);
	s = from(&w, true);
	assert_string_equal(s.recorded_at, "");
	assert_string_equal(s.make, "RECONYX");

	/* A blank date, as cameras without a clock write it. */
	const struct tag blank[] = { { 0x9003, "    :  :     :  :  " } };
	jpeg(&w, cam0, 2, blank, 1);
	s = from(&w, true);
	assert_string_equal(s.recorded_at, "");
}

/* ---- lies and truncation ---- */

static void test_lying_headers(void **state)
{
	(void)state;
	const char *am = "Recorded at 10:30:00 01/05/2021 (UTC) by AudioMoth 24F319055FDF2F5B at medium gain "
			 "while battery was 4.2V.";
	struct bytes w;
	struct du_sensor s;

	/* A chunk whose size runs past the end: what follows it is not read. */
	riff(&w, "RIFF");
	fmt(&w, 1, 48000);
	chunk_hdr(&w, "junk", 1000000);
	info(&w, am, NULL);
	data(&w, 4800);
	s = from(&w, true);
	assert_no_story(&s);
	assert_sound(&s, 48000, 1, -1);

	/* fmt too short to hold its fields. */
	riff(&w, "RIFF");
	chunk(&w, "fmt ", "\x01\x00\x01\x00\x80\xbb", 6);
	data(&w, 4800);
	s = from(&w, false);
	assert_sound(&s, 0, 0, -1);

	/* A LIST larger than the file. */
	riff(&w, "RIFF");
	fmt(&w, 1, 48000);
	size_t at = w.n;
	info(&w, am, NULL);
	w32(w.b + at + 4, 100000);
	s = from(&w, true);
	assert_no_story(&s);
	assert_sound(&s, 48000, 1, -1);

	/* An ICMT cut by its LIST's size (after "(UTC)"): the cut value is not taken. */
	riff(&w, "RIFF");
	fmt(&w, 1, 48000);
	at = w.n;
	info(&w, am, NULL);
	w32(w.b + at + 4, 4 + 8 + 40);
	w.n = at + 8 + 4 + 8 + 40;
	data(&w, 4800);
	s = from(&w, true);
	assert_no_story(&s);
	assert_sound(&s, 48000, 1, 0.05);

	/* A fmt whose size runs past the end: not read, though its first bytes are there. */
	riff(&w, "RIFF");
	fmt(&w, 1, 48000);
	w32(w.b + 16, 5000);
	s = from(&w, false);
	assert_sound(&s, 0, 0, -1);

	/* A comment that is not AudioMoth's. */
	audiomoth(&w, "Recorded by the field team on a sunny day, 4 mics, battery was fine.", NULL);
	s = from(&w, true);
	assert_no_story(&s);
	assert_sound(&s, 48000, 1, 0.05);

	/* A data size past the end (and a streaming recorder's 0): the file's size counts. */
	riff(&w, "RIFF");
	fmt(&w, 1, 48000);
	data(&w, 4800);
	w32(w.b + w.n - 4800 - 4, 0x7FFFFFF0);
	s = from(&w, true);
	assert_sound(&s, 48000, 1, 0.05);
	w32(w.b + w.n - 4800 - 4, 0);
	s = from(&w, true);
	assert_sound(&s, 48000, 1, 0.05);

	/* Zero bytes, a bare "RIFF", a WAVE of nothing but its header. */
	assert_true(!du_sensor_from_buf(w.b, 0, 0, &s));
	assert_no_story(&s);
	assert_sound(&s, 0, 0, -1);
	assert_true(!du_sensor_from_buf("RIFF", 4, 4, &s));
	assert_true(!du_sensor_from_buf("RIFF\4\0\0\0WAVE", 12, 12, &s));
}

/* Sizes that would bring a 32-bit walk back where it was, and more chunks than the walk takes. */
static void test_walk_loops(void **state)
{
	(void)state;
	struct bytes w;
	riff(&w, "RIFF");
	fmt(&w, 1, 48000);
	chunk_hdr(&w, "junk", 0xFFFFFFF8u); /* offset + 8 + size wraps to the offset in 32 bits */
	data(&w, 4800);
	struct du_sensor s = from(&w, true);
	assert_sound(&s, 48000, 1, -1);

	riff(&w, "RIFF");
	fmt(&w, 1, 48000);
	for (int i = 0; i < 300; i++)
		chunk_hdr(&w, "pad ", 0);
	const char *g = "GUANO|Version: 1.0\nSerial: far\n";
	chunk(&w, "guan", g, strlen(g));
	data(&w, 480);
	s = from(&w, true);
	assert_string_equal(s.device, ""); /* beyond the 256th chunk */
	assert_sound(&s, 48000, 1, -1);
}

/* A JPEG cut anywhere inside its APP1: only entries that lie wholly inside are read, so each
 * fact is the whole file's or none; a cut before the first value's end yields nothing. */
static void test_jpeg_truncated(void **state)
{
	(void)state;
	struct bytes w;
	const struct tag ex[] = { { 0x9003, "2023:07:14 01:05:04" }, { 0xa431, "H2X0012345" } };
	jpeg(&w, cam0, 2, ex, 2);
	struct du_sensor full, s;
	assert_true(du_sensor_from_buf(w.b, w.n, w.n, &full));
	int partial = 0;
	for (size_t cut = 0; cut < w.n - 8; cut++) { /* every cut inside the APP1 segment */
		bool got = du_sensor_from_buf(w.b, cut, cut, &s);
		assert_true(!s.recorded_at[0] || !strcmp(s.recorded_at, full.recorded_at));
		assert_true(!s.make[0] || !strcmp(s.make, full.make));
		assert_true(!s.model[0] || !strcmp(s.model, full.model));
		assert_true(!s.device[0] || !strcmp(s.device, full.device));
		assert_sound(&s, 0, 0, -1);
		partial += got && !s.device[0];
		if (cut < 60) /* the first value ("RECONYX") lies past the IFDs */
			assert_false(got);
		struct du_sensor t;
		assert_int_equal(du_sensor_from_buf(w.b, cut, w.n, &t), got);
		assert_string_equal(t.recorded_at, s.recorded_at);
	}
	assert_true(partial > 0); /* the serial, last in the file, is lost first */
	jpeg(&w, cam0, 2, ex, 2);
	w.n -= 8 + 2; /* the tail, the pad and the serial's NUL */
	s = from(&w, true);
	assert_string_equal(s.recorded_at, "2023-07-14T01:05:04");
	assert_string_equal(s.device, "");

	unsigned char bad[] = { 0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF, 'E', 'x', 'i', 'f', 0, 0, 'I', 'I' };
	assert_false(du_sensor_from_buf(bad, sizeof(bad), sizeof(bad), &s));
	unsigned char scan[] = { 0xFF, 0xD8, 0xFF, 0xDA, 0, 8, 'E', 'x', 'i', 'f', 0, 0, 'I', 'I' };
	assert_false(du_sensor_from_buf(scan, sizeof(scan), sizeof(scan), &s));
}

/* JFIF's APP0 first, then an APP1 of nearly 64 KiB (a big thumbnail at its end): the segment
 * ends past DU_SENSOR_HEAD, its IFDs do not. */
static void test_jpeg_big_app1(void **state)
{
	(void)state;
	static unsigned char big[70000];
	struct bytes w;
	const struct tag ex[] = { { 0x9003, "2023:07:14 01:05:04" }, { 0x9011, "-03:30" } };
	jpeg(&w, cam0, 2, ex, 2);
	size_t tiff = w.n - 8 - 10, n = 0, app1 = 65533;
	static const unsigned char app0[] = { 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0 };
	memcpy(big, w.b, 2), n = 2;
	memcpy(big + n, app0, sizeof(app0)), n += sizeof(app0);
	big[n] = 0xFF, big[n + 1] = 0xE1, big[n + 2] = (unsigned char)(app1 >> 8), big[n + 3] = app1 & 0xff;
	memcpy(big + n + 4, w.b + 6, 6 + tiff);
	n += 2 + app1;
	memcpy(big + n, w.b + w.n - 8, 8), n += 8;
	assert_true(n > DU_SENSOR_HEAD && n <= sizeof(big));

	struct du_sensor s;
	assert_true(du_sensor_from_buf(big, n, n, &s));
	assert_string_equal(s.recorded_at, "2023-07-14T04:35:04Z");
	assert_string_equal(s.make, "RECONYX");
}

/* ---- bounded reads ---- */

/* A 10 MB WAV of which only the header and the tail exist: the audio reads as zeros, counted. */
struct vfile {
	const unsigned char *head, *tail;
	size_t head_n, tail_n;
	uint64_t audio_n, size;
	uint64_t read, audio_read;
	int calls;
};

static ssize_t vread(void *ctx, void *buf, size_t n, uint64_t off)
{
	struct vfile *v = ctx;
	unsigned char *b = buf;
	size_t k = 0;
	v->calls++;
	for (; k < n && off + k < v->size; k++) {
		uint64_t o = off + k;
		if (o < v->head_n)
			b[k] = v->head[o];
		else if (o < v->head_n + v->audio_n)
			b[k] = 0, v->audio_read++;
		else
			b[k] = v->tail[o - v->head_n - v->audio_n];
	}
	v->read += k;
	return (ssize_t)k;
}

static void test_bounded_read(void **state)
{
	(void)state;
	const uint32_t audio = 10u << 20;
	struct bytes head, tail = { .n = 0 };
	riff(&head, "RIFF");
	fmt(&head, 1, 48000);
	info(&head, "Recorded at 10:30:00 01/05/2021 (UTC+1) by AudioMoth 24F319055FDF2F5B at medium gain "
		    "while battery was 4.2V and temperature was 21.6C.", NULL);
	chunk_hdr(&head, "data", audio);
	const char *g = "GUANO|Version: 1.0\nTimestamp: 2021-05-01T10:30:00+01:00\nModel: AudioMoth 1.2\n";
	chunk(&tail, "guan", g, strlen(g));
	struct vfile v = { head.b, tail.b, head.n, tail.n, audio, head.n + audio + tail.n, 0, 0, 0 };
	w32(head.b + 4, (uint32_t)(v.size - 8));

	struct du_sensor s;
	assert_true(du_sensor_read(v.size, vread, &v, &s));
	assert_true(v.read < (128u << 10));
	assert_true(v.read < 4096); /* 285 bytes as written: headers, fmt, LIST, guan */
	assert_int_equal(v.audio_read, 0);
	assert_true(v.calls < 16);
	assert_string_equal(s.recorded_at, "2021-05-01T09:30:00Z");
	assert_string_equal(s.model, "AudioMoth 1.2");
	assert_string_equal(s.device, "24F319055FDF2F5B");
	assert_sound(&s, 48000, 1, (double)audio / 2 / 48000);

	/* Only the first bytes known: the comment and the sizes, nothing from the tail. */
	assert_true(du_sensor_from_buf(head.b, head.n, v.size, &s));
	assert_string_equal(s.model, "");
	assert_string_equal(s.gain, "medium");
	assert_sound(&s, 48000, 1, (double)audio / 2 / 48000);

	/* A reader that fails: nothing, and no crash. */
	v.size = 0;
	assert_false(du_sensor_read(head.n + audio, vread, &v, &s));
}

/* ---- pairs and JSON ---- */

static void test_pairs_json(void **state)
{
	(void)state;
	struct du_sensor s;
	struct bytes w;
	audiomoth(&w, "Recorded at 10:30:00 01/05/2021 (UTC+1) by AudioMoth 24F319055FDF2F5B at medium gain "
		      "while battery was 4.2V and temperature was 21.6C.", NULL);
	assert_true(du_sensor_from_buf(w.b, w.n, w.n, &s));
	s.duration_s = 12.5;
	snprintf(s.model, sizeof(s.model), "Say \"hi\" \\ bye");

	const char *pairs[DU_SENSOR_MAX_PAIRS][2];
	char text[DU_SENSOR_TEXT];
	int n = du_sensor_pairs(&s, pairs, text);
	static const char *const want[][2] = {
		{ "recorded-at", "2021-05-01T09:30:00Z" }, { "device", "24F319055FDF2F5B" },
		{ "make", "AudioMoth" },                   { "model", "Say \"hi\" \\ bye" },
		{ "sample-rate", "48000" },                { "channels", "1" },
		{ "duration", "12.5" },                    { "gain", "medium" },
		{ "battery", "4.2V" },                     { "temperature", "21.6C" },
	};
	assert_int_equal(n, 10);
	for (int i = 0; i < n; i++) {
		assert_string_equal(pairs[i][0], want[i][0]);
		assert_string_equal(pairs[i][1], want[i][1]);
	}

	char json[512];
	const char *full = "{\"recorded_at\":\"2021-05-01T09:30:00Z\",\"device\":\"24F319055FDF2F5B\","
			   "\"make\":\"AudioMoth\",\"model\":\"Say \\\"hi\\\" \\\\ bye\",\"sample_rate\":48000,"
			   "\"channels\":1,\"duration_s\":12.5,\"gain\":\"medium\",\"battery\":\"4.2V\","
			   "\"temperature\":\"21.6C\"}";
	assert_int_equal(du_sensor_json(&s, json, sizeof(json)), (int)strlen(full));
	assert_string_equal(json, full);
	assert_int_equal(du_sensor_json(&s, json, strlen(full) + 1), (int)strlen(full));
	assert_int_equal(du_sensor_json(&s, json, strlen(full)), -1); /* no room for the NUL */
	assert_string_equal(json, "");

	/* Sound facts only; durations to 3 decimals, zeros cut. */
	memset(&s, 0, sizeof(s));
	s.sample_rate = 8000, s.duration_s = 60;
	n = du_sensor_pairs(&s, pairs, text);
	assert_int_equal(n, 2);
	assert_string_equal(pairs[0][0], "sample-rate");
	assert_string_equal(pairs[1][1], "60");
	assert_int_equal(du_sensor_json(&s, json, sizeof(json)), (int)strlen("{\"sample_rate\":8000,\"duration_s\":60}"));
	assert_string_equal(json, "{\"sample_rate\":8000,\"duration_s\":60}");
	s.duration_s = 1.23456;
	du_sensor_json(&s, json, sizeof(json));
	assert_string_equal(json, "{\"sample_rate\":8000,\"duration_s\":1.235}");
	s.duration_s = 0;
	du_sensor_json(&s, json, sizeof(json));
	assert_string_equal(json, "{\"sample_rate\":8000,\"duration_s\":0}");

	/* Nothing known: no pairs, "". */
	memset(&s, 0, sizeof(s));
	s.duration_s = -1;
	assert_int_equal(du_sensor_pairs(&s, pairs, text), 0);
	assert_int_equal(du_sensor_json(&s, json, sizeof(json)), 0);
	assert_string_equal(json, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_audiomoth_old),
		cmocka_unit_test(test_audiomoth_new),
		cmocka_unit_test(test_audiomoth_zones),
		cmocka_unit_test(test_audiomoth_deployment),
		cmocka_unit_test(test_iart_only),
		cmocka_unit_test(test_guano),
		cmocka_unit_test(test_guano_over_comment),
		cmocka_unit_test(test_rf64),
		cmocka_unit_test(test_exif),
		cmocka_unit_test(test_lying_headers),
		cmocka_unit_test(test_walk_loops),
		cmocka_unit_test(test_jpeg_truncated),
		cmocka_unit_test(test_jpeg_big_app1),
		cmocka_unit_test(test_bounded_read),
		cmocka_unit_test(test_pairs_json),
	};
	return cmocka_run_group_tests_name("sensor", tests, NULL, NULL);
}

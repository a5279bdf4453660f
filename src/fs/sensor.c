/*
 * sensor.c: a recorder's own facts from a file's header (see sensor.h).
 *
 * A WAV is walked chunk by chunk: an 8-byte header read at each boundary, the body skipped by its
 * offset; only fmt, ds64, LIST and guan bodies are read, each to BODY_CAP. The walk stops at a
 * chunk whose size runs past the end of the file (a data chunk excepted: streaming recorders
 * leave 0 or 0xFFFFFFFF, and its facts then come from the file's size), at an offset that does
 * not advance, or after MAX_CHUNKS chunks. The AudioMoth comment and GUANO are read into facts of
 * their own and merged at the end: GUANO over the comment, the sound facts from fmt and data.
 */
#include "du/sensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <libexif/exif-data.h>

#define MAX_CHUNKS 256
#define BODY_CAP ((size_t)64 << 10) /* bytes of a LIST or guan body read */
#define COMMENT_MAX 1024            /* of an ICMT or IART value: AudioMoth's are under 400 */

struct reader {
	uint64_t size;
	du_sensor_pread_fn rd;
	void *ctx;
};

/* Up to n bytes at off, clamped to the file: the count read (short at the end or on an error). */
static size_t get(const struct reader *r, void *buf, size_t n, uint64_t off)
{
	if (off >= r->size)
		return 0;
	if (n > r->size - off)
		n = (size_t)(r->size - off);
	size_t got = 0;
	while (got < n) {
		ssize_t k = r->rd(r->ctx, (char *)buf + got, n - got, off + got);
		if (k <= 0 || (size_t)k > n - got)
			break;
		got += (size_t)k;
	}
	return got;
}

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* src[0..n) into dst[dsz]: printable ASCII only, stopping at a NUL, trimmed, cut to fit. */
static void put(char *dst, size_t dsz, const char *src, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n && src[i] && k + 1 < dsz; i++) {
		unsigned char c = (unsigned char)src[i];
		if (c < 0x20 || c > 0x7e || (c == ' ' && k == 0))
			continue;
		dst[k++] = (char)c;
	}
	while (k > 0 && dst[k - 1] == ' ')
		k--;
	dst[k] = '\0';
}

#define PUT(field, src, n) put(field, sizeof(field), src, n)

/* ---- time ---- */

struct stamp {
	int y, mo, d, h, mi, s;
	bool zoned;  /* the offset is known: the result is UTC with Z */
	int off_min; /* local time less UTC, in minutes */
};

static int month_days(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : days[m - 1];
}

static bool stamp_valid(const struct stamp *t)
{
	return t->y >= 1 && t->y <= 9999 && t->mo >= 1 && t->mo <= 12 && t->d >= 1 &&
	       t->d <= month_days(t->y, t->mo) && t->h >= 0 && t->h <= 23 && t->mi >= 0 && t->mi <= 59 &&
	       t->s >= 0 && t->s <= 60 && t->off_min > -24 * 60 && t->off_min < 24 * 60;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/* "2021-05-01T09:30:00Z" (zoned, in UTC) or "2021-05-01T10:30:00" (local); "" when invalid. */
static void stamp_format(struct stamp t, char out[24])
{
	out[0] = '\0';
	if (!stamp_valid(&t))
		return;
	if (t.zoned) {
		/* A leap second keeps its 60 and moves with its minute. */
		int64_t secs = days_from_civil(t.y, t.mo, t.d) * 86400 + t.h * 3600 + t.mi * 60 -
			       (int64_t)t.off_min * 60;
		int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
		int64_t rest = secs - days * 86400;
		civil_from_days(days, &t.y, &t.mo, &t.d);
		t.h = (int)(rest / 3600), t.mi = (int)(rest / 60 % 60);
		if (t.y < 1 || t.y > 9999)
			return;
	}
	snprintf(out, 24, "%04d-%02d-%02dT%02d:%02d:%02d%s", t.y, t.mo, t.d, t.h, t.mi, t.s,
		 t.zoned ? "Z" : "");
}

/* Exactly n digits at *p: their value, *p past them; -1 (and *p unmoved) otherwise. */
static int digits(const char **p, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	return v;
}

static bool lit(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

/* "+H", "+HH", "+HH:MM", "+HHMM" (or '-'): the offset in minutes; false when malformed. */
static bool parse_offset(const char **p, int *off_min)
{
	const char *q = *p;
	int sign = *q == '+' ? 1 : *q == '-' ? -1 : 0;
	if (!sign)
		return false;
	q++;
	int h = digits(&q, 2);
	if (h < 0 && (h = digits(&q, 1)) < 0)
		return false;
	int m = 0;
	if (*q == ':') {
		q++;
		if ((m = digits(&q, 2)) < 0)
			return false;
	} else if (q[0] >= '0' && q[0] <= '9') {
		if ((m = digits(&q, 2)) < 0)
			return false;
	}
	if (h > 14 || m > 59)
		return false;
	*off_min = sign * (h * 60 + m);
	*p = q;
	return true;
}

/* ISO 8601 as GUANO writes it: "2019-06-01T22:15:00[.123][Z|+02:00|+0200|-05]". */
static void iso_stamp(const char *s, char out[24])
{
	struct stamp t = { 0 };
	const char *p = s;
	out[0] = '\0';
	if ((t.y = digits(&p, 4)) < 0 || !lit(&p, '-') || (t.mo = digits(&p, 2)) < 0 || !lit(&p, '-') ||
	    (t.d = digits(&p, 2)) < 0 || !(lit(&p, 'T') || lit(&p, ' ')) || (t.h = digits(&p, 2)) < 0 ||
	    !lit(&p, ':') || (t.mi = digits(&p, 2)) < 0 || !lit(&p, ':') || (t.s = digits(&p, 2)) < 0)
		return;
	if (*p == '.' || *p == ',')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p == 'Z' || *p == 'z')
		t.zoned = true, p++;
	else if (*p == '+' || *p == '-') {
		if (!parse_offset(&p, &t.off_min))
			return;
		t.zoned = true;
	}
	while (*p == ' ')
		p++;
	if (*p)
		return;
	stamp_format(t, out);
}

/* EXIF's "YYYY:MM:DD HH:MM:SS" with its offset "+02:00" when one is given. */
static void exif_stamp(const char *s, const char *offset, char out[24])
{
	struct stamp t = { 0 };
	const char *p = s;
	out[0] = '\0';
	if ((t.y = digits(&p, 4)) < 0 || !lit(&p, ':') || (t.mo = digits(&p, 2)) < 0 || !lit(&p, ':') ||
	    (t.d = digits(&p, 2)) < 0 || !lit(&p, ' ') || (t.h = digits(&p, 2)) < 0 || !lit(&p, ':') ||
	    (t.mi = digits(&p, 2)) < 0 || !lit(&p, ':') || (t.s = digits(&p, 2)) < 0 || *p)
		return;
	const char *o = offset;
	if (parse_offset(&o, &t.off_min) && !*o)
		t.zoned = true;
	else if (!strcmp(offset, "Z"))
		t.zoned = true, t.off_min = 0;
	stamp_format(t, out);
}

/* ---- AudioMoth's comment ---- */

/* "HH:MM:SS" then "DD/MM/YYYY" (or the two the other way round), then "(UTC)" or "(UTC+H[:MM])". */
static void audiomoth_stamp(const char *p, char out[24])
{
	struct stamp t = { 0 };
	bool time = false, date = false;
	out[0] = '\0';
	for (int part = 0; part < 2; part++) {
		while (*p == ' ')
			p++;
		const char *q = p;
		if (!time && (t.h = digits(&q, 2)) >= 0 && lit(&q, ':') && (t.mi = digits(&q, 2)) >= 0 &&
		    lit(&q, ':') && (t.s = digits(&q, 2)) >= 0) {
			time = true;
		} else if (q = p, !date && (t.d = digits(&q, 2)) >= 0 && lit(&q, '/') &&
			   (t.mo = digits(&q, 2)) >= 0 && lit(&q, '/') && (t.y = digits(&q, 4)) >= 0) {
			date = true;
		} else {
			return;
		}
		p = q;
	}
	while (*p == ' ')
		p++;
	if (!strncmp(p, "(UTC", 4)) {
		p += 4;
		if (*p != ')' && !parse_offset(&p, &t.off_min))
			return;
		if (*p != ')')
			return;
		t.zoned = true;
	}
	stamp_format(t, out);
}

/* The value after key, up to and including the first stop character, within field's room. */
static void after(const char *c, const char *key, char stop, char *dst, size_t dsz)
{
	const char *p = strstr(c, key);
	if (!p)
		return;
	p += strlen(key);
	const char *end = strchr(p, stop);
	if (end && (size_t)(end - p) + 1 < dsz)
		put(dst, dsz, p, (size_t)(end - p) + 1);
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

/* The hex id after "AudioMoth " in s, into dev; false when there is none. */
static bool audiomoth_id(const char *s, char *dev, size_t dsz)
{
	for (const char *p = strstr(s, "AudioMoth "); p; p = strstr(p + 1, "AudioMoth ")) {
		const char *id = p + strlen("AudioMoth ");
		size_t n = 0;
		while (is_hex(id[n]))
			n++;
		if (n >= 4 && (!id[n] || id[n] == ' ' || id[n] == '.' || id[n] == ',')) {
			put(dev, dsz, id, n);
			return true;
		}
	}
	return false;
}

static void audiomoth(const char *c, struct du_sensor *am)
{
	const char *p = strstr(c, "Recorded at ");
	if (p)
		audiomoth_stamp(p + strlen("Recorded at "), am->recorded_at);
	if (strstr(c, "AudioMoth"))
		PUT(am->make, "AudioMoth", 9);
	audiomoth_id(c, am->device, sizeof(am->device));

	/* The first firmware's "at gain setting 2", then "at medium gain setting", now "at medium
	 * gain". */
	size_t n = 0;
	if ((p = strstr(c, "gain setting "))) {
		p += strlen("gain setting ");
		n = strspn(p, "0123456789");
		if (n && n < sizeof(am->gain))
			PUT(am->gain, p, n);
	}
	if (!n) {
		for (p = strstr(c, " gain"); p; p = strstr(p + 1, " gain")) {
			const char *w = p;
			while (w > c && (w[-1] == '-' || (w[-1] >= 'a' && w[-1] <= 'z') || (w[-1] >= 'A' && w[-1] <= 'Z')))
				w--;
			if (w < p && w - c >= 3 && !strncmp(w - 3, "at ", 3) && (size_t)(p - w) < sizeof(am->gain)) {
				PUT(am->gain, w, (size_t)(p - w));
				break;
			}
		}
	}
	if (strstr(c, "battery state was "))
		after(c, "battery state was ", 'V', am->battery, sizeof(am->battery));
	else
		after(c, "battery was ", 'V', am->battery, sizeof(am->battery));
	after(c, "temperature was ", 'C', am->temperature, sizeof(am->temperature));
}

/* LIST/INFO: ICMT (AudioMoth's comment) and IART ("AudioMoth <id>"). Sub-chunks cut by the end
 * of what was read are left alone. */
static void list_info(const unsigned char *b, size_t n, struct du_sensor *am)
{
	if (n < 4 || memcmp(b, "INFO", 4))
		return;
	char comment[COMMENT_MAX] = "", artist[COMMENT_MAX] = "";
	for (uint64_t pos = 4; pos + 8 <= n;) {
		uint64_t sz = le32(b + pos + 4);
		if (sz > n - pos - 8)
			break;
		const char *v = (const char *)b + pos + 8;
		if (!memcmp(b + pos, "ICMT", 4))
			PUT(comment, v, (size_t)sz);
		else if (!memcmp(b + pos, "IART", 4))
			PUT(artist, v, (size_t)sz);
		pos += 8 + sz + (sz & 1);
	}
	if (comment[0])
		audiomoth(comment, am);
	if (!am->device[0] && audiomoth_id(artist, am->device, sizeof(am->device)))
		PUT(am->make, "AudioMoth", 9);
}

/* ---- GUANO ---- */

/* A plain decimal ("256000", "12.5"): its value, or -1. */
static double decimal(const char *s)
{
	uint64_t mant = 0, scale = 1;
	bool dot = false, any = false;
	for (; *s; s++) {
		if (*s == '.' && !dot) {
			dot = true;
		} else if (*s >= '0' && *s <= '9') {
			if (mant > UINT64_MAX / 10 - 10 || scale > UINT64_MAX / 10)
				return -1;
			any = true;
			mant = mant * 10 + (uint64_t)(*s - '0');
			if (dot)
				scale *= 10;
		} else {
			return -1;
		}
	}
	return any ? (double)mant / (double)scale : -1;
}

/* "Key: Value" lines; complete false when the body was cut by BODY_CAP (its last line is not
 * trusted then). Namespaced keys ("WA|...") are not among those read. */
static void guano(const unsigned char *b, size_t n, bool complete, struct du_sensor *g)
{
	const char *p = (const char *)b, *end = p + n;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl && !complete)
			break;
		const char *eol = nl ? nl : end;
		const char *sep = NULL;
		for (const char *q = p; q + 1 < eol; q++)
			if (q[0] == ':' && q[1] == ' ') {
				sep = q;
				break;
			}
		if (sep) {
			char key[16], val[128];
			PUT(key, p, (size_t)(sep - p) < sizeof(key) ? (size_t)(sep - p) : 0);
			PUT(val, sep + 2, (size_t)(eol - sep - 2));
			if (!strcmp(key, "Timestamp"))
				iso_stamp(val, g->recorded_at);
			else if (!strcmp(key, "Make"))
				PUT(g->make, val, sizeof(val));
			else if (!strcmp(key, "Model"))
				PUT(g->model, val, sizeof(val));
			else if (!strcmp(key, "Serial"))
				PUT(g->device, val, sizeof(val));
			else if (!strcmp(key, "Samplerate")) {
				double v = decimal(val);
				if (v >= 1 && v <= UINT32_MAX && v == floor(v))
					g->sample_rate = (uint32_t)v;
			} else if (!strcmp(key, "Length")) {
				g->duration_s = decimal(val);
			}
		}
		p = eol + 1;
	}
}

/* ---- WAV ---- */

static void init(struct du_sensor *s)
{
	memset(s, 0, sizeof(*s));
	s->duration_s = -1;
}

static void over(char *dst, size_t dsz, const char *src)
{
	if (src[0])
		snprintf(dst, dsz, "%s", src);
}

static void wav(const struct reader *r, bool rf64, struct du_sensor *out)
{
	struct du_sensor am, gu;
	init(&am), init(&gu);
	unsigned char *body = NULL;
	bool have_fmt = false, have_data = false, have_ds64 = false;
	uint64_t data_size = 0, ds64_data = 0, off = 12;
	uint16_t align = 0, bits = 0;

	for (int i = 0; i < MAX_CHUNKS && off + 8 <= r->size; i++) {
		unsigned char h[8];
		if (get(r, h, 8, off) != 8)
			break;
		uint64_t at = off + 8, sz = le32(h + 4);
		if (!memcmp(h, "data", 4)) {
			if (have_ds64 && sz == 0xFFFFFFFFu)
				sz = ds64_data;
			if (sz == 0 || sz == 0xFFFFFFFFu || sz > r->size - at)
				sz = r->size - at;
			have_data = true, data_size = sz;
		} else if (sz > r->size - at) {
			break; /* a size past the end: nothing after it is where it says */
		} else if (!memcmp(h, "fmt ", 4) && sz >= 16) {
			unsigned char f[16];
			if (get(r, f, 16, at) == 16) {
				out->channels = le16(f + 2);
				out->sample_rate = le32(f + 4);
				align = le16(f + 12), bits = le16(f + 14);
				have_fmt = true;
			}
		} else if (!memcmp(h, "ds64", 4) && rf64 && i == 0 && sz >= 24) {
			unsigned char f[24];
			if (get(r, f, 24, at) == 24)
				have_ds64 = true, ds64_data = le64(f + 8);
		} else if (!memcmp(h, "LIST", 4) || !memcmp(h, "guan", 4)) {
			size_t n = sz < BODY_CAP ? (size_t)sz : BODY_CAP;
			if (!body)
				body = malloc(BODY_CAP);
			if (body && get(r, body, n, at) == n) {
				if (h[0] == 'L')
					list_info(body, n, &am);
				else
					guano(body, n, n == sz, &gu);
			}
		}
		uint64_t next = at + sz + (sz & 1);
		if (next <= off)
			break;
		off = next;
	}
	free(body);

	if (have_fmt && !align)
		align = (uint16_t)(out->channels * ((bits + 7) / 8));
	if (have_fmt && have_data && align && out->sample_rate)
		out->duration_s = (double)data_size / align / out->sample_rate;
	if (!have_fmt && gu.sample_rate)
		out->sample_rate = gu.sample_rate;
	if (out->duration_s < 0 && gu.duration_s >= 0)
		out->duration_s = gu.duration_s;

	memcpy(out->recorded_at, am.recorded_at, sizeof(out->recorded_at));
	memcpy(out->device, am.device, sizeof(out->device));
	memcpy(out->make, am.make, sizeof(out->make));
	memcpy(out->model, am.model, sizeof(out->model));
	memcpy(out->gain, am.gain, sizeof(out->gain));
	memcpy(out->battery, am.battery, sizeof(out->battery));
	memcpy(out->temperature, am.temperature, sizeof(out->temperature));
	over(out->recorded_at, sizeof(out->recorded_at), gu.recorded_at);
	over(out->device, sizeof(out->device), gu.device);
	over(out->make, sizeof(out->make), gu.make);
	over(out->model, sizeof(out->model), gu.model);
}

/* ---- JPEG ---- */

static ExifEntry *exif_entry(ExifData *ed, ExifTag tag, ExifIfd a, ExifIfd b)
{
	ExifEntry *e = exif_content_get_entry(ed->ifd[a], tag);
	if (!e && b != a)
		e = exif_content_get_entry(ed->ifd[b], tag);
	if (e && (e->format == EXIF_FORMAT_ASCII || e->format == EXIF_FORMAT_UNDEFINED) && e->data)
		return e;
	return NULL;
}

/* An ASCII entry's text (its data is not surely NUL-terminated) into dst; false when absent. */
static bool exif_text(ExifData *ed, ExifTag tag, ExifIfd a, ExifIfd b, char *dst, size_t dsz)
{
	ExifEntry *e = exif_entry(ed, tag, a, b);
	dst[0] = '\0';
	if (e)
		put(dst, dsz, (const char *)e->data, e->size);
	return dst[0] != '\0';
}

#define EXIF_TAG_CAMERA_SERIAL_NUMBER ((ExifTag)0xc62f)

/*
 * The APP1 "Exif\0\0" segment among a JPEG's first n bytes: from its "Exif" on, its length cut
 * to the bytes at hand; NULL when there is none before the image. The cut matters: an APP1 with
 * a big thumbnail can end past DU_SENSOR_HEAD, and libexif refuses a segment longer than its
 * data, though the IFDs come first. Given the cut one, it loads the entries that lie wholly
 * inside and skips the others, so a value is never read in part.
 */
static const unsigned char *exif_segment(const unsigned char *b, size_t n, size_t *len)
{
	size_t pos = 2; /* past SOI */
	while (pos + 4 <= n) {
		unsigned char m = b[pos + 1];
		if (b[pos] != 0xFF || m == 0xDA || m == 0xD9) /* no marker; the scan or the end */
			return NULL;
		if (m == 0xFF || m == 0x01 || (m >= 0xD0 && m <= 0xD8)) { /* fill; segments of no length */
			pos += m == 0xFF ? 1 : 2;
			continue;
		}
		size_t seg = (size_t)b[pos + 2] << 8 | b[pos + 3];
		if (seg < 2)
			return NULL;
		if (m == 0xE1 && pos + 10 <= n && !memcmp(b + pos + 4, "Exif\0\0", 6)) {
			size_t have = n - pos - 4;
			*len = seg - 2 < have ? seg - 2 : have;
			return b + pos + 4;
		}
		pos += 2 + seg;
	}
	return NULL;
}

static void jpeg(const struct reader *r, struct du_sensor *out)
{
	size_t n = r->size < DU_SENSOR_HEAD ? (size_t)r->size : DU_SENSOR_HEAD;
	unsigned char *buf = malloc(n);
	ExifData *ed = buf ? exif_data_new() : NULL;
	if (!ed)
		goto out;
	/* Keep the tags libexif does not know (the DNG serial), and do not let it "fix" the data:
	 * the fix adds the tags the standard requires with made-up values (XResolution 72, an
	 * ExifVersion), and a fact read here must have been in the file. */
	exif_data_unset_option(ed, EXIF_DATA_OPTION_IGNORE_UNKNOWN_TAGS);
	exif_data_unset_option(ed, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
	size_t len = 0;
	const unsigned char *seg = exif_segment(buf, get(r, buf, n, 0), &len);
	if (!seg)
		goto out;
	exif_data_load_data(ed, seg, (unsigned int)len); /* len < 64 KiB */

	char when[32], offset[16];
	if (exif_text(ed, EXIF_TAG_DATE_TIME_ORIGINAL, EXIF_IFD_EXIF, EXIF_IFD_0, when, sizeof(when)) ||
	    exif_text(ed, EXIF_TAG_DATE_TIME, EXIF_IFD_0, EXIF_IFD_0, when, sizeof(when))) {
		if (!exif_text(ed, EXIF_TAG_OFFSET_TIME_ORIGINAL, EXIF_IFD_EXIF, EXIF_IFD_0, offset, sizeof(offset)))
			exif_text(ed, EXIF_TAG_OFFSET_TIME, EXIF_IFD_EXIF, EXIF_IFD_0, offset, sizeof(offset));
		exif_stamp(when, offset, out->recorded_at);
	}
	exif_text(ed, EXIF_TAG_MAKE, EXIF_IFD_0, EXIF_IFD_0, out->make, sizeof(out->make));
	exif_text(ed, EXIF_TAG_MODEL, EXIF_IFD_0, EXIF_IFD_0, out->model, sizeof(out->model));
	if (!exif_text(ed, EXIF_TAG_BODY_SERIAL_NUMBER, EXIF_IFD_EXIF, EXIF_IFD_0, out->device, sizeof(out->device)))
		exif_text(ed, EXIF_TAG_CAMERA_SERIAL_NUMBER, EXIF_IFD_0, EXIF_IFD_EXIF, out->device,
			  sizeof(out->device));
out:
	if (ed)
		exif_data_unref(ed);
	free(buf);
}

/* ---- the interface ---- */

/* Beyond 1e15 s (31 million years) a duration is a lie of the header, and too long to print. */
static bool duration_known(double d)
{
	return d >= 0 && d < 1e15;
}

static bool known(const struct du_sensor *s)
{
	return s->recorded_at[0] || s->device[0] || s->make[0] || s->model[0] || s->sample_rate ||
	       s->channels || duration_known(s->duration_s) || s->gain[0] || s->battery[0] || s->temperature[0];
}

bool du_sensor_read(uint64_t size, du_sensor_pread_fn rd, void *ctx, struct du_sensor *out)
{
	struct reader r = { size, rd, ctx };
	unsigned char head[12];
	init(out);
	size_t n = get(&r, head, sizeof(head), 0);
	if (n == 12 && !memcmp(head + 8, "WAVE", 4) &&
	    (!memcmp(head, "RIFF", 4) || !memcmp(head, "RF64", 4) || !memcmp(head, "BW64", 4)))
		wav(&r, head[0] != 'R' || head[1] != 'I', out);
	else if (n >= 2 && head[0] == 0xFF && head[1] == 0xD8)
		jpeg(&r, out);
	return known(out);
}

struct membuf {
	const unsigned char *p;
	size_t len;
};

static ssize_t mem_pread(void *ctx, void *buf, size_t n, uint64_t off)
{
	const struct membuf *m = ctx;
	if (off >= m->len)
		return 0;
	if (n > m->len - off)
		n = (size_t)(m->len - off);
	memcpy(buf, m->p + off, n);
	return (ssize_t)n;
}

bool du_sensor_from_buf(const void *buf, size_t len, uint64_t size, struct du_sensor *out)
{
	struct membuf m = { buf, len < size ? len : (size_t)size };
	return du_sensor_read(size, mem_pread, &m, out);
}

/* "12.5" for 12.500: three decimals, trailing zeros and point cut. */
static void duration_text(double d, char *buf, size_t n)
{
	int k = snprintf(buf, n, "%.3f", d);
	if (k <= 0 || (size_t)k >= n)
		return;
	while (k > 0 && buf[k - 1] == '0')
		buf[--k] = '\0';
	if (k > 0 && buf[k - 1] == '.')
		buf[--k] = '\0';
}

int du_sensor_pairs(const struct du_sensor *s, const char *pairs[DU_SENSOR_MAX_PAIRS][2],
		    char text[DU_SENSOR_TEXT])
{
	int n = 0;
	size_t t = 0;
#define PAIR(name, value)                          \
	do {                                       \
		if ((value)[0]) {                  \
			pairs[n][0] = name;        \
			pairs[n][1] = value;       \
			n++;                       \
		}                                  \
	} while (0)
	PAIR("recorded-at", s->recorded_at);
	PAIR("device", s->device);
	PAIR("make", s->make);
	PAIR("model", s->model);
	if (s->sample_rate) {
		pairs[n][0] = "sample-rate", pairs[n][1] = text + t, n++;
		t += (size_t)snprintf(text + t, 16, "%u", (unsigned)s->sample_rate) + 1;
	}
	if (s->channels) {
		pairs[n][0] = "channels", pairs[n][1] = text + t, n++;
		t += (size_t)snprintf(text + t, 8, "%u", (unsigned)s->channels) + 1;
	}
	if (duration_known(s->duration_s)) {
		pairs[n][0] = "duration", pairs[n][1] = text + t, n++;
		duration_text(s->duration_s, text + t, DU_SENSOR_TEXT - t);
	}
	PAIR("gain", s->gain);
	PAIR("battery", s->battery);
	PAIR("temperature", s->temperature);
#undef PAIR
	return n;
}

/* A pair's name in the JSON of the database's sensor column: '_' for '-', seconds named. */
static const char *json_name(const char *pair, bool *number)
{
	static const struct {
		const char *pair, *json;
		bool number;
	} names[] = {
		{ "recorded-at", "recorded_at", false }, { "sample-rate", "sample_rate", true },
		{ "channels", "channels", true },        { "duration", "duration_s", true },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(pair, names[i].pair)) {
			*number = names[i].number;
			return names[i].json;
		}
	*number = false;
	return pair;
}

int du_sensor_json(const struct du_sensor *s, char *buf, size_t n)
{
	const char *pairs[DU_SENSOR_MAX_PAIRS][2];
	char text[DU_SENSOR_TEXT], *json = NULL;
	int np = du_sensor_pairs(s, pairs, text), len = -1;
	cJSON *o = np ? cJSON_CreateObject() : NULL;
	if (n)
		buf[0] = '\0';
	if (!np)
		return n ? 0 : -1;
	for (int i = 0; o && i < np; i++) {
		bool number;
		const char *name = json_name(pairs[i][0], &number);
		if (!(number ? cJSON_AddRawToObject(o, name, pairs[i][1]) : cJSON_AddStringToObject(o, name, pairs[i][1])))
			goto out;
	}
	if (o && (json = cJSON_PrintUnformatted(o)) && strlen(json) < n) {
		len = (int)strlen(json);
		memcpy(buf, json, (size_t)len + 1);
	}
out:
	cJSON_free(json);
	cJSON_Delete(o);
	return len;
}

/*
 * fuzz_sensor.c: a recorder's facts from a file's header (src/fs/sensor.c): WAV chunks, the
 * AudioMoth comment, GUANO, EXIF through libexif.
 *
 * The input is the whole file. It is read three ways: du_sensor_from_buf over all of it, over its
 * first half (of a file of the full size), and du_sensor_read through a pread that hands out at
 * most 7 bytes a call. Invariants:
 *   - every string field is NUL-terminated inside its array, printable ASCII, trimmed;
 *   - recorded_at is "" or YYYY-MM-DDTHH:MM:SS with an optional Z;
 *   - the short reads give the same facts as the whole buffer;
 *   - du_sensor_json's text parses as a JSON object, and a buffer one byte short gets -1;
 *   - du_sensor_pairs gives at most 10 non-empty printable values.
 */
#include <stdbool.h>

#include <cjson/cJSON.h>

#include "du/sensor.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIELD_OK(f) field_ok((f), sizeof(f))

static bool field_ok(const char *f, size_t n)
{
	const char *end = memchr(f, '\0', n);
	if (!end)
		return false;
	size_t k = (size_t)(end - f);
	for (size_t i = 0; i < k; i++)
		if (f[i] < 0x20 || f[i] > 0x7e)
			return false;
	return k == 0 || (f[0] != ' ' && f[k - 1] != ' ');
}

static bool stamp_ok(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	size_t n = strlen(s);
	if (n == 0)
		return true;
	if (n != 19 && !(n == 20 && s[19] == 'Z'))
		return false;
	for (size_t i = 0; i < 19; i++)
		if (shape[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != shape[i])
			return false;
	return true;
}

static void check(const struct du_sensor *s)
{
	FUZZ_CHECK(FIELD_OK(s->recorded_at));
	FUZZ_CHECK(FIELD_OK(s->device));
	FUZZ_CHECK(FIELD_OK(s->make));
	FUZZ_CHECK(FIELD_OK(s->model));
	FUZZ_CHECK(FIELD_OK(s->gain));
	FUZZ_CHECK(FIELD_OK(s->battery));
	FUZZ_CHECK(FIELD_OK(s->temperature));
	FUZZ_CHECK(stamp_ok(s->recorded_at));
	FUZZ_CHECK(s->duration_s == s->duration_s); /* not NaN */

	char json[2048];
	int n = du_sensor_json(s, json, sizeof(json));
	FUZZ_CHECK(n >= 0 && (size_t)n == strlen(json));
	if (n > 0) {
		cJSON *j = cJSON_Parse(json);
		FUZZ_CHECK(j && cJSON_IsObject(j));
		cJSON_Delete(j);
		char small[2048];
		FUZZ_CHECK(du_sensor_json(s, small, (size_t)n) == -1);
		FUZZ_CHECK(du_sensor_json(s, small, (size_t)n + 1) == n && !strcmp(small, json));
	}

	const char *pairs[DU_SENSOR_MAX_PAIRS][2];
	char text[DU_SENSOR_TEXT];
	int k = du_sensor_pairs(s, pairs, text);
	FUZZ_CHECK(k >= 0 && k <= 10);
	FUZZ_CHECK((k == 0) == (n == 0));
	for (int i = 0; i < k; i++) {
		FUZZ_CHECK(pairs[i][0] && pairs[i][1] && pairs[i][1][0]);
		FUZZ_CHECK(field_ok(pairs[i][1], strlen(pairs[i][1]) + 1));
	}
}

static bool same(const struct du_sensor *a, const struct du_sensor *b)
{
	return !strcmp(a->recorded_at, b->recorded_at) && !strcmp(a->device, b->device) &&
	       !strcmp(a->make, b->make) && !strcmp(a->model, b->model) && !strcmp(a->gain, b->gain) &&
	       !strcmp(a->battery, b->battery) && !strcmp(a->temperature, b->temperature) &&
	       a->sample_rate == b->sample_rate && a->channels == b->channels &&
	       (a->duration_s == b->duration_s || (a->duration_s < 0 && b->duration_s < 0));
}

struct trickle {
	const uint8_t *p;
	size_t n;
};

/* At most 7 bytes a call: the reader must loop over short reads. */
static ssize_t trickle_read(void *ctx, void *buf, size_t n, uint64_t off)
{
	const struct trickle *t = ctx;
	if (off >= t->n)
		return 0;
	if (n > t->n - off)
		n = (size_t)(t->n - off);
	if (n > 7)
		n = 7;
	memcpy(buf, t->p + off, n);
	return (ssize_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of the exact size, so ASan sees any read past the end. */
	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);

	struct du_sensor whole, half, trickled;
	bool found = du_sensor_from_buf(copy, size, size, &whole);
	check(&whole);
	FUZZ_CHECK(found == (du_sensor_json(&whole, (char[2048]){ 0 }, 2048) > 0));

	du_sensor_from_buf(copy, size / 2, size, &half);
	check(&half);

	struct trickle t = { copy, size };
	bool found2 = du_sensor_read(size, trickle_read, &t, &trickled);
	check(&trickled);
	FUZZ_CHECK(found2 == found && same(&whole, &trickled));

	free(copy);
	return 0;
}

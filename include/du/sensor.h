/*
 * sensor.h: the recorder's own facts, read from a file's header: when it was recorded, by which
 * device, and for audio its sample rate, channels and duration. Three sources:
 *
 *   - WAV (RIFF/WAVE): the fmt and data chunks (rate, channels, duration); AudioMoth's comment in
 *     LIST/INFO/ICMT ("Recorded at 10:30:00 01/05/2021 (UTC+1) by AudioMoth 24F319055FDF2F5B at
 *     medium gain while battery was 4.2V and temperature was 21.6C.", in the forms of several
 *     firmware versions) and its device in IART;
 *   - GUANO (bat recorders: Wildlife Acoustics and others): the `guan` chunk of a WAV, UTF-8
 *     "Key: Value" lines (Timestamp, Make, Model, Serial, ...), wherever in the file it sits;
 *   - EXIF (camera traps' JPEGs), through libexif: DateTimeOriginal with OffsetTimeOriginal, Make,
 *     Model, BodySerialNumber or CameraSerialNumber (0xc62f).
 *
 * The kind is told from the first bytes, not the name. Reading is bounded: a few small reads at
 * the chunk boundaries (never the audio itself), at most DU_SENSOR_HEAD bytes of a JPEG. A header
 * that cannot be read, or lies (sizes past the end, loops), yields only what was read soundly.
 *
 *     struct du_sensor s;
 *     if (du_sensor_from_buf(buf, len, len, &s)) {        // the whole file, or its first bytes
 *             const char *pairs[DU_SENSOR_MAX_PAIRS][2];
 *             char text[DU_SENSOR_TEXT];
 *             int n = du_sensor_pairs(&s, pairs, text);   // "recorded-at" "2021-05-01T09:30:00Z", ...
 *     }
 *
 * Pure (no globals, no allocation kept); thread-safe.
 */
#ifndef DU_SENSOR_H
#define DU_SENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DU_SENSOR_HEAD ((size_t)64 << 10) /* bytes of a JPEG's start that EXIF is looked for in */
#define DU_SENSOR_MAX_PAIRS 12             /* at most this many pairs from du_sensor_pairs */
#define DU_SENSOR_TEXT 256                 /* room for the numbers du_sensor_pairs formats */

struct du_sensor {
	/* ISO 8601 to the second: "2021-05-01T09:30:00Z" when the file states its zone or offset
	 * (converted to UTC), "2021-05-01T10:30:00" (local, as written, no offset) when it does not;
	 * "" unknown. */
	char recorded_at[24];
	char device[64];       /* the recorder's id or serial: AudioMoth's id, GUANO Serial, EXIF serial */
	char make[64];         /* "AudioMoth" / GUANO Make / EXIF Make */
	char model[64];        /* GUANO Model / EXIF Model */
	uint32_t sample_rate;  /* WAV: Hz; 0 unknown */
	uint16_t channels;     /* WAV; 0 unknown */
	double duration_s;     /* WAV: data bytes / (rate * block align); < 0 unknown */
	char gain[24];         /* AudioMoth: "medium", or the old firmware's setting "2"; "" unknown */
	char battery[24];      /* AudioMoth as written: "4.2V", "less than 2.5V"; "" unknown */
	char temperature[16];  /* AudioMoth as written: "21.6C"; "" unknown */
};

/* Read n bytes at off into buf; the count read (short at the end of the file), or -1. */
typedef ssize_t (*du_sensor_pread_fn)(void *ctx, void *buf, size_t n, uint64_t off);

/*
 * The facts of a file of size bytes, read through rd. Every string field is printable ASCII
 * (bytes outside 0x20..0x7e dropped), trimmed, NUL-terminated, cut to its field. True when at least
 * one fact was found; *out is always initialised (strings "", numbers 0, duration_s -1).
 */
bool du_sensor_read(uint64_t size, du_sensor_pread_fn rd, void *ctx, struct du_sensor *out);
/* The same over buf[0..len) of a file of size bytes (len < size: only its first bytes are known;
 * what lies beyond is not looked for). */
bool du_sensor_from_buf(const void *buf, size_t len, uint64_t size, struct du_sensor *out);

/*
 * The known facts as (name, value) pairs for x-amz-meta-du-<name>, in this order: recorded-at,
 * device, make, model, sample-rate, channels, duration (seconds, 3 decimals, trailing zeros cut),
 * gain, battery, temperature. Values point into s or into text. Returns the count.
 */
int du_sensor_pairs(const struct du_sensor *s, const char *pairs[DU_SENSOR_MAX_PAIRS][2],
		    char text[DU_SENSOR_TEXT]);

/* The known facts as one compact JSON object (names with '_': recorded_at, device, make, model,
 * sample_rate, channels, duration_s as numbers, gain, battery, temperature) into buf; "" when
 * none is known. Returns the length, or -1 when n is too small. */
int du_sensor_json(const struct du_sensor *s, char *buf, size_t n);

#endif

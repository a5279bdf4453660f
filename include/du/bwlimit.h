/*
 * bwlimit.h: one bandwidth cap for the whole process, over every S3 body (single PUTs and parts,
 * all workers together), in rclone's --bwlimit syntax:
 *
 *   "off", "0"                        no cap
 *   "512k", "10M", "1.5G", "800"      bytes per second, binary units (b, k, M, G, T; a bare number
 *                                     is KiB/s, as in rclone)
 *   "08:00,512k 19:00,10M 23:00,off"  a timetable in local time: each entry's rate holds from its
 *                                     time until the next entry's; the last one of a day holds
 *                                     into the next day until the first
 *   "Mon-08:00,1M Sat-00:00,off"      entries for one weekday (Mon Tue Wed Thu Fri Sat Sun); an
 *                                     entry without a day is every day's
 *
 * Entries are separated by spaces or ';'. The cap is a token bucket refilled at the rate, with a
 * burst of a quarter of a second of it, so over any 10 s the average stays within a few percent.
 *
 *     struct du_bwlimit_spec spec;
 *     if (du_bwlimit_parse(text, &spec, why, sizeof(why)) < 0) ...  // "25:00,1M": why says what
 *     struct du_bwlimit *bw = du_bwlimit_new(&spec);
 *     du_bwlimit_take(bw, n, stop, arg);   // any thread: waits until n more bytes may go
 *     size_t k = du_bwlimit_chunk(bw);     // the most to hand over at once, so sends stay smooth
 *     du_bwlimit_free(bw);
 *
 * SIGUSR2 (du_signals_install) toggles the cap off and on again; du_bwlimit_rate says the rate
 * in force now (0: none), for the progress line. Threads: every function but _new/_free is safe
 * from any thread; the lock is never held while waiting.
 */
#ifndef DU_BWLIMIT_H
#define DU_BWLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define DU_BWLIMIT_MAX_SLOTS 64

struct du_bwlimit_slot {
	int day;                    /* 0 = Sunday .. 6; -1: every day */
	int minute;                 /* of the day, 0 .. 1439 */
	uint64_t rate;              /* bytes per second; 0: off */
};

struct du_bwlimit_spec {
	int n;                      /* 0: no cap at all */
	struct du_bwlimit_slot slot[DU_BWLIMIT_MAX_SLOTS];
};

/* Parse text; 0 on success, -1 with a reason in why (which names the entry at fault). */
int du_bwlimit_parse(const char *text, struct du_bwlimit_spec *spec, char *why, size_t whysz);
/* One rate ("512k", "10M", "off"): -1 when it is not one. */
int du_bwlimit_parse_rate(const char *text, uint64_t *rate);
/* The rate the spec sets at local time tm (0: none). */
uint64_t du_bwlimit_rate_at(const struct du_bwlimit_spec *spec, const struct tm *tm);

struct du_bwlimit;
/* NULL when the spec sets no cap at any time (or out of memory: then nothing is capped). */
struct du_bwlimit *du_bwlimit_new(const struct du_bwlimit_spec *spec);
void du_bwlimit_free(struct du_bwlimit *bw);
/* Wait until n more bytes may be sent (at once when bw is NULL or the cap is off now). Returns
 * false when stop(arg) asked to stop during the wait. */
bool du_bwlimit_take(struct du_bwlimit *bw, size_t n, bool (*stop)(void *arg), void *arg);
/* The largest piece a sender should take at once under the current cap ((size_t)-1: any). */
size_t du_bwlimit_chunk(struct du_bwlimit *bw);
/* The cap in force now, bytes per second; 0 when there is none (or SIGUSR2 turned it off). */
uint64_t du_bwlimit_rate(struct du_bwlimit *bw);

#endif

/*
 * retry.h: when to retry a failed request, how long to wait, and how fast all workers together
 * may send while the service is throttling.
 *
 * Three pieces, all free of I/O except the governor's sleep (which is injectable):
 *
 *   du_retry_delay_ms()      exponential backoff with full jitter: a random wait in
 *                            [0, min(cap, base * 2^(attempt-1))], but never less than a
 *                            Retry-After the server asked for (itself capped at cap);
 *   du_retry_is_retryable()  classification of a struct du_err filled by the S3 layer: network
 *                            failures, 408/429/5xx and the S3 throttling/internal codes are
 *                            worth another attempt; auth errors, NoSuchBucket and other 4xx are not;
 *   struct du_governor       one per process, shared by all workers: a token bucket, unlimited
 *                            until the first throttle (SlowDown/503), then cut to 0.7 x the
 *                            measured request rate on each throttle, recovering along a cubic
 *                            curve on successes (the AWS SDKs' "adaptive" mode), and unlimited
 *                            again once it has climbed well past the rate that was throttled.
 *
 *     struct du_governor *g = du_governor_new(NULL);   // real monotonic clock and nanosleep
 *     for (int attempt = 1;; attempt++) {
 *         uint64_t ticket;
 *         if (du_governor_acquire(g, should_stop, arg, &ticket))  // sleeps while over the rate
 *             return interrupted;
 *         rc = send(...);
 *         if (!rc) { du_governor_success(g); break; }
 *         if (is_throttle) du_governor_throttled(g, ticket);
 *         if (!du_retry_is_retryable(&err) || attempt == max) break;
 *         sleep_ms(du_retry_delay_ms(attempt, base, cap, retry_after_ms, rnd, rnd_arg));
 *     }
 *     du_governor_free(g);
 *
 * The retry budget: two levels multiply, and this is where they are counted.
 *
 *   request level    the S3 client (s3.c) sends one request at most DU_RETRY_REQUEST_ATTEMPTS
 *                    times (du_s3_opts.max_attempts, set from this constant), retrying only
 *                    retryable failures with the backoff above;
 *   file/part level  the upload pipeline calls the operation again, times_to_retry more times
 *                    (config, default 3), when what the S3 client gave up on is still worth it.
 *
 * So one file (single PUT) or one part can be sent at most
 * du_retry_max_sends(times_to_retry) = DU_RETRY_REQUEST_ATTEMPTS x (1 + times_to_retry) times in
 * one run: 16 with the defaults. Outside that count: one more send of a request signed with the
 * server's clock after RequestTimeTooSkewed (once per request), and one resend with Content-MD5
 * after a send the server did not confirm the checksum of (once per file or part). du-retry runs
 * start the count again, up to max_attempts runs per file. The webhook (trigger.c) has its own,
 * time-bounded budget and the instance metadata client two tries per request.
 *
 * Thread-safety: the delay and classification functions are pure; every du_governor_* call is
 * safe from any thread (one mutex, never held while sleeping). A throttle reported for a request
 * that was admitted before the latest rate cut does not cut again (the ticket tells), so a burst
 * of 503s seen by 15 workers at once counts as one signal, like TCP's one cut per window.
 */
#ifndef DU_RETRY_H
#define DU_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "du/err.h"

/* Sends of one S3 request before the S3 client gives up (see "The retry budget" above). */
#define DU_RETRY_REQUEST_ATTEMPTS 4

/* The most sends one file or part costs in a run that retries it times_to_retry times:
 * DU_RETRY_REQUEST_ATTEMPTS x (1 + times_to_retry), e.g. 16 for times_to_retry = 3. */
long du_retry_max_sends(long times_to_retry);

/*
 * Delay before attempt+1 after attempt (1-based) failed. rnd returns uniformly distributed 64-bit
 * values (NULL: an internal thread-local generator). retry_after_ms < 0 or 0 means none.
 */
long du_retry_delay_ms(int attempt, long base_ms, long cap_ms, long retry_after_ms,
		       uint64_t (*rnd)(void *), void *rnd_arg);

/* Is another attempt of the same request worth it? Uses code, http_status and s3_code. */
bool du_retry_is_retryable(const struct du_err *e);

/* Is this failure the service asking us to slow down (feeds du_governor_throttled)? */
bool du_retry_is_throttle(const struct du_err *e);

/* Clock and sleep for the governor; tests inject fakes. now() is monotonic seconds. */
struct du_governor_clock {
	double (*now)(void *arg);
	void (*sleep)(void *arg, double seconds);
	void *arg;
};

struct du_governor_stats {
	uint64_t throttles;   /* throttle signals received (all, including ignored duplicates) */
	uint64_t cuts;        /* times the rate was actually cut */
	uint64_t waits;       /* acquires that had to sleep */
	double rate;          /* current allowed requests/s; 0 = unlimited */
	double measured;      /* smoothed measured request rate, requests/s */
};

struct du_governor;

/* clock NULL: CLOCK_MONOTONIC and nanosleep. NULL on allocation failure. */
struct du_governor *du_governor_new(const struct du_governor_clock *clock);
void du_governor_free(struct du_governor *g);

/*
 * Take one token, sleeping (in slices of at most 100 ms, asking stop(arg) in between when stop
 * is not NULL) while none is available. Writes the ticket to pass to du_governor_throttled.
 * Returns DU_OK, or DU_ERR_INTERRUPTED when stop returned true while waiting.
 */
int du_governor_acquire(struct du_governor *g, bool (*stop)(void *arg), void *arg, uint64_t *ticket);
void du_governor_success(struct du_governor *g);
void du_governor_throttled(struct du_governor *g, uint64_t ticket);
void du_governor_stats(struct du_governor *g, struct du_governor_stats *out);

#endif

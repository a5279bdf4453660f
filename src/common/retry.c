/* retry.c: backoff delays, retry classification and the shared rate governor (see retry.h). */
#include "du/retry.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "du/wait.h"

long du_retry_max_sends(long times_to_retry)
{
	return DU_RETRY_REQUEST_ATTEMPTS * (1 + (times_to_retry > 0 ? times_to_retry : 0));
}

/* splitmix64: enough for jitter, and seeding per thread needs no locking. */
static uint64_t mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t default_rnd(void *arg)
{
	static _Thread_local uint64_t state;
	(void)arg;
	if (!state) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		state = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)&state;
		state |= 1;
	}
	return mix(&state);
}

long du_retry_delay_ms(int attempt, long base_ms, long cap_ms, long retry_after_ms,
		       uint64_t (*rnd)(void *), void *rnd_arg)
{
	if (cap_ms < 0)
		cap_ms = 0;
	if (base_ms < 0)
		base_ms = 0;
	if (attempt < 1)
		attempt = 1;
	/* ceiling = min(cap, base << (attempt-1)) without overflowing for large attempts */
	long ceiling = cap_ms;
	int shift = attempt - 1;
	if (shift < 62 && base_ms <= (cap_ms >> shift))
		ceiling = base_ms << shift;
	if (!rnd)
		rnd = default_rnd;
	long d = ceiling > 0 ? (long)(rnd(rnd_arg) % ((uint64_t)ceiling + 1)) : 0;
	if (retry_after_ms > 0) {
		long ra = retry_after_ms < cap_ms ? retry_after_ms : cap_ms;
		if (d < ra)
			d = ra;
	}
	return d;
}

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

static const char *const throttle_codes[] = {
	"SlowDown", "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled",
	"RequestLimitExceeded", "TooManyRequestsException", "BandwidthLimitExceeded",
	"RequestThrottledException", "ProvisionedThroughputExceededException", NULL,
};

static const char *const transient_codes[] = {
	"RequestTimeout", "InternalError", "ServiceUnavailable", "RequestTimeoutException",
	"PriorRequestNotComplete", "OperationAborted", NULL,
};

bool du_retry_is_throttle(const struct du_err *e)
{
	if (!e || e->code == DU_OK)
		return false;
	if (e->s3_code[0] && in_list(e->s3_code, throttle_codes))
		return true;
	return e->http_status == 503 || e->http_status == 429;
}

bool du_retry_is_retryable(const struct du_err *e)
{
	if (!e)
		return false;
	switch (e->code) {
	case DU_ERR_NET:
		return true;
	case DU_ERR_S3:
	case DU_ERR_NOTFOUND:
		break;
	default:
		/* auth, parse, interrupted, local failures: the same request would fail the same way */
		return false;
	}
	if (e->s3_code[0]) {
		if (in_list(e->s3_code, throttle_codes) || in_list(e->s3_code, transient_codes))
			return true;
		/* A 5xx with an unfamiliar code is still the server's trouble. */
		return e->http_status >= 500 && e->http_status != 501;
	}
	switch (e->http_status) {
	case 408: case 429: case 500: case 502: case 503: case 504:
		return true;
	default:
		return false;
	}
}

/* ---- governor ---- */

#define GOV_BETA 0.7       /* rate multiplier on a throttle */
#define GOV_C 0.4          /* cubic scale, requests/s per s^3 */
#define GOV_MIN_RATE 0.5   /* never slower than one request per 2 s */
#define GOV_FREE_FACTOR 2.0/* unlimited again once the rate is this far above the throttled one */
#define GOV_BUCKET_S 0.5   /* measurement interval of the request rate */
#define GOV_SLICE_S 0.1    /* sleep slice, so an abort is seen within 100 ms */

struct du_governor {
	pthread_mutex_t mu;
	struct du_governor_clock clk;
	bool limited;
	double rate;          /* tokens/s while limited */
	double tokens;        /* may go negative: reservations of sleeping acquirers */
	double last_fill;
	double last_max;      /* rate at the last cut (cubic's W_max) */
	double last_cut;      /* time of the last cut */
	double k;             /* cubic's K for last_max */
	uint64_t epoch;       /* incremented by each cut */
	double measured;      /* smoothed admitted requests/s */
	double bucket_start;
	uint64_t bucket_count;
	uint64_t throttles, cuts, waits;
};

static double real_now(void *arg)
{
	struct timespec ts;
	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The governor slices its waits and asks stop() itself: each slice is uninterruptible. */
static void real_sleep(void *arg, double s)
{
	(void)arg;
	if (s > 0)
		du_wait_ms((long)ceil(s * 1000.0), NULL, NULL);
}

struct du_governor *du_governor_new(const struct du_governor_clock *clock)
{
	struct du_governor *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	pthread_mutex_init(&g->mu, NULL);
	if (clock && clock->now && clock->sleep)
		g->clk = *clock;
	else
		g->clk = (struct du_governor_clock){ real_now, real_sleep, NULL };
	g->bucket_start = g->clk.now(g->clk.arg);
	return g;
}

void du_governor_free(struct du_governor *g)
{
	if (!g)
		return;
	pthread_mutex_destroy(&g->mu);
	free(g);
}

/* Called under the lock on each admission: smoothed rate over GOV_BUCKET_S intervals. */
static void measure(struct du_governor *g, double now)
{
	g->bucket_count++;
	double dt = now - g->bucket_start;
	if (dt < GOV_BUCKET_S)
		return;
	double sample = (double)g->bucket_count / dt;
	g->measured = g->measured > 0 ? 0.8 * g->measured + 0.2 * sample : sample;
	g->bucket_count = 0;
	g->bucket_start = now;
}

static void refill(struct du_governor *g, double now)
{
	double cap = g->rate > 1 ? g->rate : 1;
	if (now > g->last_fill)
		g->tokens += (now - g->last_fill) * g->rate;
	if (g->tokens > cap)
		g->tokens = cap;
	g->last_fill = now;
}

int du_governor_acquire(struct du_governor *g, bool (*stop)(void *arg), void *arg, uint64_t *ticket)
{
	double wait = 0;
	pthread_mutex_lock(&g->mu);
	double now = g->clk.now(g->clk.arg);
	measure(g, now);
	if (ticket)
		*ticket = g->epoch;
	if (g->limited) {
		refill(g, now);
		g->tokens -= 1; /* reserve now, sleep outside the lock until it matures */
		if (g->tokens < 0) {
			wait = -g->tokens / g->rate;
			g->waits++;
		}
	}
	pthread_mutex_unlock(&g->mu);
	while (wait > 0) {
		if (stop && stop(arg))
			return DU_ERR_INTERRUPTED;
		double s = wait < GOV_SLICE_S ? wait : GOV_SLICE_S;
		g->clk.sleep(g->clk.arg, s);
		wait -= s;
	}
	return DU_OK;
}

void du_governor_success(struct du_governor *g)
{
	pthread_mutex_lock(&g->mu);
	if (g->limited) {
		double now = g->clk.now(g->clk.arg);
		double t = now - g->last_cut - g->k;
		double r = GOV_C * t * t * t + g->last_max;
		if (r < GOV_MIN_RATE)
			r = GOV_MIN_RATE;
		if (r >= GOV_FREE_FACTOR * g->last_max) {
			g->limited = false;
			g->rate = 0;
		} else {
			refill(g, now);
			g->rate = r;
		}
	}
	pthread_mutex_unlock(&g->mu);
}

void du_governor_throttled(struct du_governor *g, uint64_t ticket)
{
	pthread_mutex_lock(&g->mu);
	g->throttles++;
	if (ticket != g->epoch) {
		/* admitted before the last cut: that cut already answered this congestion */
		pthread_mutex_unlock(&g->mu);
		return;
	}
	double now = g->clk.now(g->clk.arg);
	double base = g->measured;
	if (base <= 0) {
		/* no full interval measured yet: estimate from this one (at least 100 ms long) */
		double dt = now - g->bucket_start;
		base = (double)g->bucket_count / (dt > 0.1 ? dt : 0.1);
	}
	if (g->limited && (g->rate < base || base <= 0))
		base = g->rate;
	if (base < GOV_MIN_RATE)
		base = GOV_MIN_RATE;
	if (g->limited) {
		refill(g, now);
	} else {
		/* one request may go at once: the retry that follows is already paced by its backoff */
		g->tokens = 1;
		g->last_fill = now;
	}
	g->last_max = base;
	g->last_cut = now;
	g->k = cbrt(base * (1 - GOV_BETA) / GOV_C);
	g->rate = base * GOV_BETA;
	if (g->rate < GOV_MIN_RATE)
		g->rate = GOV_MIN_RATE;
	g->limited = true;
	g->epoch++;
	g->cuts++;
	pthread_mutex_unlock(&g->mu);
}

void du_governor_stats(struct du_governor *g, struct du_governor_stats *out)
{
	pthread_mutex_lock(&g->mu);
	out->throttles = g->throttles;
	out->cuts = g->cuts;
	out->waits = g->waits;
	out->rate = g->limited ? g->rate : 0;
	out->measured = g->measured;
	pthread_mutex_unlock(&g->mu);
}

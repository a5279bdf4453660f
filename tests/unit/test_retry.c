/* Unit tests for retry.h: backoff bounds, classification, and the rate governor on a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "du/retry.h"

static uint64_t rnd_zero(void *arg)
{
	(void)arg;
	return 0;
}

static uint64_t rnd_max(void *arg)
{
	(void)arg;
	return UINT64_MAX;
}

static uint64_t rnd_fixed(void *arg)
{
	return *(uint64_t *)arg;
}

static void test_delay_bounds(void **state)
{
	(void)state;
	/* minimum: full jitter can wait nothing */
	for (int a = 1; a < 10; a++)
		assert_int_equal(du_retry_delay_ms(a, 100, 20000, 0, rnd_zero, NULL), 0);
	/* maximum: rnd % (ceiling + 1) with UINT64_MAX; pick values that hit the ceiling exactly */
	for (int a = 1; a <= 8; a++) {
		long ceiling = 100L << (a - 1);
		uint64_t v = (uint64_t)ceiling; /* v % (ceiling+1) == ceiling */
		assert_int_equal(du_retry_delay_ms(a, 100, 20000, 0, rnd_fixed, &v), ceiling);
	}
	/* never above the exponential ceiling, whatever the random value */
	for (int a = 1; a <= 8; a++) {
		long ceiling = 100L << (a - 1);
		for (uint64_t v = 0; v < 5000; v += 37) {
			uint64_t x = v * 0x9e3779b97f4a7c15ULL;
			long d = du_retry_delay_ms(a, 100, 20000, 0, rnd_fixed, &x);
			assert_true(d >= 0 && d <= ceiling);
		}
	}
}

static void test_delay_cap_and_overflow(void **state)
{
	(void)state;
	uint64_t v = 20000;
	/* 100 * 2^9 = 51200 > cap: capped */
	assert_int_equal(du_retry_delay_ms(10, 100, 20000, 0, rnd_fixed, &v), 20000);
	for (int a = 10; a < 100000; a = a * 3 + 1) {
		long d = du_retry_delay_ms(a, 100, 20000, 0, rnd_max, NULL);
		assert_true(d >= 0 && d <= 20000);
	}
	assert_true(du_retry_delay_ms(2147483647, 100, 20000, 0, rnd_max, NULL) <= 20000);
	assert_true(du_retry_delay_ms(63, 1L << 40, 1L << 50, 0, rnd_max, NULL) <= (1L << 50));
	/* nonsense inputs stay sane */
	assert_int_equal(du_retry_delay_ms(0, 100, 20000, 0, rnd_zero, NULL), 0);
	assert_int_equal(du_retry_delay_ms(3, -5, 20000, 0, rnd_max, NULL), 0);
	/* default generator works and respects bounds */
	for (int i = 0; i < 1000; i++) {
		long d = du_retry_delay_ms(3, 100, 20000, 0, NULL, NULL);
		assert_true(d >= 0 && d <= 400);
	}
}

static void test_delay_retry_after(void **state)
{
	(void)state;
	/* at least Retry-After */
	assert_int_equal(du_retry_delay_ms(1, 100, 20000, 3000, rnd_zero, NULL), 3000);
	/* jitter above Retry-After is kept */
	uint64_t v = 6399;
	assert_int_equal(du_retry_delay_ms(7, 100, 20000, 3000, rnd_fixed, &v), 6399);
	/* Retry-After capped at cap */
	assert_int_equal(du_retry_delay_ms(1, 100, 20000, 120000, rnd_zero, NULL), 20000);
	/* no Retry-After */
	assert_int_equal(du_retry_delay_ms(1, 100, 20000, -1, rnd_zero, NULL), 0);
}

static struct du_err mk(int code, long status, const char *s3code)
{
	struct du_err e = { .code = code, .http_status = status };
	snprintf(e.s3_code, sizeof(e.s3_code), "%s", s3code);
	return e;
}

static void test_classification(void **state)
{
	(void)state;
	static const struct {
		int code;
		long status;
		const char *s3code;
		bool retry, throttle;
	} t[] = {
		{ DU_ERR_NET, 0, "", true, false },
		{ DU_ERR_S3, 408, "", true, false },
		{ DU_ERR_S3, 429, "", true, true },
		{ DU_ERR_S3, 500, "", true, false },
		{ DU_ERR_S3, 502, "", true, false },
		{ DU_ERR_S3, 503, "", true, true },
		{ DU_ERR_S3, 504, "", true, false },
		{ DU_ERR_S3, 503, "SlowDown", true, true },
		{ DU_ERR_S3, 400, "RequestTimeout", true, false },
		{ DU_ERR_S3, 500, "InternalError", true, false },
		{ DU_ERR_S3, 200, "InternalError", true, false },  /* 200 with <Error> from Complete */
		{ DU_ERR_S3, 503, "ServiceUnavailable", true, true },
		{ DU_ERR_S3, 400, "Throttling", true, true },
		{ DU_ERR_S3, 403, "RequestTimeTooSkewed", false, false },
		{ DU_ERR_S3_AUTH, 403, "AccessDenied", false, false },
		{ DU_ERR_S3_AUTH, 403, "SignatureDoesNotMatch", false, false },
		{ DU_ERR_S3_AUTH, 403, "InvalidAccessKeyId", false, false },
		{ DU_ERR_S3, 404, "NoSuchBucket", false, false },
		{ DU_ERR_NOTFOUND, 404, "NoSuchKey", false, false },
		{ DU_ERR_S3, 400, "InvalidPart", false, false },
		{ DU_ERR_S3, 400, "EntityTooSmall", false, false },
		{ DU_ERR_S3, 400, "", false, false },
		{ DU_ERR_S3, 403, "", false, false },
		{ DU_ERR_S3, 501, "NotImplemented", false, false },
		{ DU_ERR_PARSE, 200, "", false, false },
		{ DU_ERR_INTERRUPTED, 0, "", false, false },
		{ DU_ERR_IO, 0, "", false, false },
		{ DU_OK, 0, "", false, false },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct du_err e = mk(t[i].code, t[i].status, t[i].s3code);
		if (du_retry_is_retryable(&e) != t[i].retry)
			fail_msg("row %zu (%ld %s): retryable expected %d", i, t[i].status, t[i].s3code, t[i].retry);
		if (du_retry_is_throttle(&e) != t[i].throttle)
			fail_msg("row %zu (%ld %s): throttle expected %d", i, t[i].status, t[i].s3code, t[i].throttle);
	}
	assert_false(du_retry_is_retryable(NULL));
}

/* ---- governor on a fake clock: sleeping advances time ---- */

struct fake {
	double now;
	double slept;
};

static double fake_now(void *arg)
{
	return ((struct fake *)arg)->now;
}

static void fake_sleep(void *arg, double s)
{
	struct fake *f = arg;
	f->now += s;
	f->slept += s;
}

/* Run n requests one after another, each taking 'service' seconds; returns elapsed fake time. */
static double run(struct du_governor *g, struct fake *f, int n, double service, bool succeed)
{
	double t0 = f->now;
	for (int i = 0; i < n; i++) {
		uint64_t ticket;
		assert_int_equal(du_governor_acquire(g, NULL, NULL, &ticket), DU_OK);
		f->now += service;
		if (succeed)
			du_governor_success(g);
	}
	return f->now - t0;
}

static void test_governor_unlimited_until_throttle(void **state)
{
	(void)state;
	struct fake f = { .now = 1000 };
	struct du_governor_clock clk = { fake_now, fake_sleep, &f };
	struct du_governor *g = du_governor_new(&clk);
	assert_non_null(g);
	run(g, &f, 1000, 0.01, true); /* 100 requests/s */
	struct du_governor_stats st;
	du_governor_stats(g, &st);
	assert_true(st.rate == 0);       /* unlimited */
	assert_int_equal(st.waits, 0);
	assert_true(f.slept == 0);
	assert_true(st.measured > 90 && st.measured < 110);
	du_governor_free(g);
}

static void test_governor_throttle_and_recover(void **state)
{
	(void)state;
	struct fake f = { .now = 1000 };
	struct du_governor_clock clk = { fake_now, fake_sleep, &f };
	struct du_governor *g = du_governor_new(&clk);
	struct du_governor_stats st;
	run(g, &f, 1000, 0.01, true); /* measured ~100/s */

	uint64_t ticket;
	assert_int_equal(du_governor_acquire(g, NULL, NULL, &ticket), DU_OK);
	du_governor_throttled(g, ticket);
	du_governor_stats(g, &st);
	assert_int_equal(st.throttles, 1);
	assert_int_equal(st.cuts, 1);
	assert_true(st.rate > 60 && st.rate < 77); /* ~0.7 x 100 */
	double r1 = st.rate;

	/* a second throttle from a request admitted before the cut does not cut again */
	du_governor_throttled(g, ticket);
	du_governor_stats(g, &st);
	assert_int_equal(st.throttles, 2);
	assert_int_equal(st.cuts, 1);

	/* a throttle after the cut does */
	assert_int_equal(du_governor_acquire(g, NULL, NULL, &ticket), DU_OK);
	du_governor_throttled(g, ticket);
	du_governor_stats(g, &st);
	assert_int_equal(st.cuts, 2);
	assert_true(st.rate < r1 * 0.75);
	double r2 = st.rate;

	/* now requests that would go at 1000/s are held to the allowed rate */
	double el = run(g, &f, 100, 0.001, false);
	assert_true(f.slept > 0);
	assert_true(100 / el < r2 * 1.2);
	du_governor_stats(g, &st);
	assert_true(st.waits > 0);

	/* successes over time raise the rate again (cubic), and eventually lift the limit */
	run(g, &f, 50, 0.01, true);
	du_governor_stats(g, &st);
	assert_true(st.rate >= r2 || st.rate == 0);
	double prev = st.rate;
	bool freed = false;
	for (int i = 0; i < 400 && !freed; i++) {
		f.now += 0.1;
		du_governor_success(g);
		du_governor_stats(g, &st);
		if (st.rate == 0)
			freed = true;
		else {
			assert_true(st.rate >= prev - 1e-9 || i < 5);
			prev = st.rate;
		}
	}
	assert_true(freed);
	du_governor_free(g);
}

static void test_governor_floor_and_abort(void **state)
{
	(void)state;
	struct fake f = { .now = 5 };
	struct du_governor_clock clk = { fake_now, fake_sleep, &f };
	struct du_governor *g = du_governor_new(&clk);
	struct du_governor_stats st;
	/* throttle storms never push the rate to zero */
	for (int i = 0; i < 50; i++) {
		uint64_t ticket;
		du_governor_acquire(g, NULL, NULL, &ticket);
		du_governor_throttled(g, ticket);
	}
	du_governor_stats(g, &st);
	assert_true(st.rate >= 0.5 && st.rate < 1.0);
	du_governor_free(g);
}

static int stop_calls;
static bool stop_after_two(void *arg)
{
	(void)arg;
	return ++stop_calls > 2;
}

static void test_governor_abort(void **state)
{
	(void)state;
	struct fake f = { .now = 5 };
	struct du_governor_clock clk = { fake_now, fake_sleep, &f };
	struct du_governor *g = du_governor_new(&clk);
	uint64_t ticket;
	for (int i = 0; i < 20; i++) {
		du_governor_acquire(g, NULL, NULL, &ticket);
		du_governor_throttled(g, ticket);
	}
	/* at ~0.5/s a few acquires need seconds: the stop callback ends the wait */
	int rc = DU_OK;
	for (int i = 0; i < 10 && rc == DU_OK; i++)
		rc = du_governor_acquire(g, stop_after_two, NULL, &ticket);
	assert_int_equal(rc, DU_ERR_INTERRUPTED);
	du_governor_free(g);
}

/* The budget is stated, not changed: 4 sends a request, times (1 + times_to_retry). */
static void test_max_sends(void **state)
{
	(void)state;
	assert_int_equal(DU_RETRY_REQUEST_ATTEMPTS, 4);
	assert_int_equal(du_retry_max_sends(0), 4);
	assert_int_equal(du_retry_max_sends(3), 16);
	assert_int_equal(du_retry_max_sends(100), 404);
	assert_int_equal(du_retry_max_sends(-1), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delay_bounds),
		cmocka_unit_test(test_delay_cap_and_overflow),
		cmocka_unit_test(test_delay_retry_after),
		cmocka_unit_test(test_classification),
		cmocka_unit_test(test_governor_unlimited_until_throttle),
		cmocka_unit_test(test_governor_throttle_and_recover),
		cmocka_unit_test(test_governor_floor_and_abort),
		cmocka_unit_test(test_governor_abort),
		cmocka_unit_test(test_max_sends),
	};
	return cmocka_run_group_tests_name("retry", tests, NULL, NULL);
}

/* Unit tests for bwlimit.h: rclone's syntax (rates, timetables, weekdays, what is refused and why),
 * the rate a timetable sets at a given local time, and the bucket's pacing (a lower bound only). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "du/bwlimit.h"
#include "du/progress.h"

static uint64_t one(const char *text)
{
	struct du_bwlimit_spec s;
	char why[200];
	assert_int_equal(du_bwlimit_parse(text, &s, why, sizeof(why)), 0);
	if (s.n == 0)
		return 0;
	assert_int_equal(s.n, 1);
	assert_int_equal(s.slot[0].day, -1);
	return s.slot[0].rate;
}

static void refused(const char *text, const char *why_has)
{
	struct du_bwlimit_spec s;
	char why[200] = "";
	assert_int_equal(du_bwlimit_parse(text, &s, why, sizeof(why)), -1);
	if (!strstr(why, why_has))
		fail_msg("'%s': '%s' does not say '%s'", text, why, why_has);
}

static void test_rates(void **state)
{
	(void)state;
	assert_int_equal(one("512k"), 512 * 1024);
	assert_int_equal(one("10M"), 10 * 1024 * 1024);
	assert_int_equal(one("1.5M"), 3 * 512 * 1024);
	assert_int_equal(one("1G"), 1024ULL * 1024 * 1024);
	assert_int_equal(one("800"), 800 * 1024);           /* a bare number is KiB/s, as in rclone */
	assert_int_equal(one("100b"), 100);
	assert_int_equal(one("2Mi"), 2 * 1024 * 1024);
	assert_int_equal(one("off"), 0);
	assert_int_equal(one("0"), 0);
	refused("12q", "'12q' is not a rate");
	refused("-1M", "'-1M' is not a rate");
	refused("M", "'M' is not a rate");
	refused("", "empty");
	refused("1M 2M", "has no time");
}

static struct tm at(int wday, int h, int m)
{
	struct tm tm = { .tm_wday = wday, .tm_hour = h, .tm_min = m };
	return tm;
}

static void test_timetable(void **state)
{
	(void)state;
	struct du_bwlimit_spec s;
	char why[200];
	assert_int_equal(du_bwlimit_parse("08:00,512k 19:00,10M 23:00,off", &s, why, sizeof(why)), 0);
	assert_int_equal(s.n, 3);
	struct tm t;
	t = at(2, 7, 59);  assert_int_equal(du_bwlimit_rate_at(&s, &t), 0);       /* the night before's off */
	t = at(2, 8, 0);   assert_int_equal(du_bwlimit_rate_at(&s, &t), 512 * 1024);
	t = at(2, 18, 59); assert_int_equal(du_bwlimit_rate_at(&s, &t), 512 * 1024);
	t = at(2, 19, 0);  assert_int_equal(du_bwlimit_rate_at(&s, &t), 10 * 1024 * 1024);
	t = at(0, 23, 30); assert_int_equal(du_bwlimit_rate_at(&s, &t), 0);
	t = at(0, 0, 10);  assert_int_equal(du_bwlimit_rate_at(&s, &t), 0);       /* Sunday: wraps from Saturday */

	assert_int_equal(du_bwlimit_parse("Mon-08:00,1M;Fri-18:00,off", &s, why, sizeof(why)), 0);
	t = at(1, 7, 0);   assert_int_equal(du_bwlimit_rate_at(&s, &t), 0);       /* before Monday's: Friday's off */
	t = at(2, 12, 0);  assert_int_equal(du_bwlimit_rate_at(&s, &t), 1024 * 1024);
	t = at(5, 18, 0);  assert_int_equal(du_bwlimit_rate_at(&s, &t), 0);
	t = at(6, 12, 0);  assert_int_equal(du_bwlimit_rate_at(&s, &t), 0);

	/* A weekday's entry after a daily one at the same moment wins that day only. */
	assert_int_equal(du_bwlimit_parse("09:00,1M sat-09:00,off", &s, why, sizeof(why)), 0);
	t = at(6, 10, 0);  assert_int_equal(du_bwlimit_rate_at(&s, &t), 0);
	t = at(3, 10, 0);  assert_int_equal(du_bwlimit_rate_at(&s, &t), 1024 * 1024);

	refused("25:00,1M", "'25:00' is not a time of day");
	refused("08:60,1M", "is not a time of day");
	refused("Foo-08:00,1M", "is not a time of day");
	refused("8:00,1M", "is not a time of day");
	refused("08:00,fast", "'fast' is not a rate");
	refused("08:00,1M 2M", "has no time");
	/* every entry off: no cap at all */
	assert_int_equal(du_bwlimit_parse("08:00,off 20:00,0", &s, why, sizeof(why)), 0);
	assert_int_equal(s.n, 0);
	assert_null(du_bwlimit_new(&s));
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_pacing(void **state)
{
	(void)state;
	struct du_bwlimit_spec s;
	char why[200];
	assert_int_equal(du_bwlimit_parse("4M", &s, why, sizeof(why)), 0);
	struct du_bwlimit *bw = du_bwlimit_new(&s);
	assert_non_null(bw);
	assert_int_equal(du_bwlimit_rate(bw), 4 * 1024 * 1024);
	assert_int_equal(du_bwlimit_chunk(bw), 512 * 1024);
	/* 2 MiB at 4 MiB/s: at least half a second (the bucket starts empty) */
	double t0 = now_s();
	for (int i = 0; i < 8; i++)
		assert_true(du_bwlimit_take(bw, 256 * 1024, NULL, NULL));
	assert_true(now_s() - t0 >= 0.45);
	du_bwlimit_free(bw);
	/* no cap: nothing waits, the chunk is unbounded */
	assert_true(du_bwlimit_take(NULL, 1 << 30, NULL, NULL));
	assert_int_equal(du_bwlimit_chunk(NULL), (size_t)-1);
}

static void test_progress_line(void **state)
{
	(void)state;
	char line[512];
	struct du_progress_figures f = { .files_total = 10, .files_done = 2, .bytes_total = 1 << 20,
					 .bytes_sent = 1 << 18, .elapsed = 1, .cap = 512 * 1024 };
	du_progress_line(&f, 0, line, sizeof(line));
	assert_non_null(strstr(line, "(capped at 512.0 KiB/s)"));
	f.cap = 0;
	du_progress_line(&f, 0, line, sizeof(line));
	assert_null(strstr(line, "capped"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rates),
		cmocka_unit_test(test_timetable),
		cmocka_unit_test(test_pacing),
		cmocka_unit_test(test_progress_line),
	};
	return cmocka_run_group_tests_name("bwlimit", tests, NULL, NULL);
}

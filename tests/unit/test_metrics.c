/* Unit tests for metrics.c: text format, histogram arithmetic, atomic file replacement, the writer
 * thread, and that metrics are off (and harmless) unless started. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "du/metrics.h"

static char *dir;

static int setup(void **state)
{
	(void)state;
	return (dir = du_test_tmpdir("metrics")) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	du_test_rmtree(dir);
	free(dir);
	dir = NULL;
	return 0;
}

/* The value of the sample line starting with prefix, or -1. */
static double sample(const char *text, const char *prefix)
{
	for (const char *p = text; p && *p;) {
		if (!strncmp(p, prefix, strlen(prefix)) && p[strlen(prefix)] == ' ')
			return strtod(p + strlen(prefix) + 1, NULL);
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return -1;
}

static void test_off_is_noop(void **state)
{
	(void)state;
	struct du_err err = { 0 };
	assert_int_equal(du_metrics_start(NULL, 1, NULL, &err), DU_OK);
	assert_int_equal(du_metrics_start("", 1, NULL, &err), DU_OK);
	du_metrics_file(DU_METRIC_UPLOADED, 10);
	du_metrics_request(DU_METRIC_PUT, 0.1);
	assert_int_equal(du_metrics_write(&err), DU_OK);
	du_metrics_stop("completed"); /* never started: nothing happens */
	char *t = du_metrics_render();
	assert_non_null(t);
	/* Counting while off changes nothing. */
	assert_true(sample(t, "du_files_total{session=\"0\",outcome=\"uploaded\"}") == 0);
	free(t);
}

static void test_counts_and_format(void **state)
{
	(void)state;
	struct du_err err = { 0 };
	char path[256], tmp[300];
	snprintf(path, sizeof(path), "%s/du.prom", dir);
	assert_int_equal(du_metrics_start(path, 42, NULL, &err), DU_OK);
	/* A second start while running is refused. */
	assert_int_equal(du_metrics_start(path, 43, NULL, &err), DU_ERR_USAGE);
	for (int i = 0; i < 5; i++)
		du_metrics_file(DU_METRIC_UPLOADED, 100);
	du_metrics_file(DU_METRIC_FAILED, 7);
	du_metrics_file(DU_METRIC_RELEASED, 3);
	du_metrics_file(99, 1); /* out of range: ignored */
	du_metrics_request(DU_METRIC_PUT, 0.003);
	du_metrics_request(DU_METRIC_PUT, 0.2);
	du_metrics_request(DU_METRIC_PUT, 500);
	du_metrics_request(DU_METRIC_PART, -1); /* clock oddity: counted as 0 */
	assert_int_equal(du_metrics_write(&err), DU_OK);
	char *t = du_test_slurp(path);
	assert_non_null(t);
	assert_true(sample(t, "du_files_total{session=\"42\",outcome=\"uploaded\"}") == 5);
	assert_true(sample(t, "du_files_total{session=\"42\",outcome=\"failed\"}") == 1);
	assert_true(sample(t, "du_files_total{session=\"42\",outcome=\"released\"}") == 1);
	assert_true(sample(t, "du_bytes_total{session=\"42\",outcome=\"uploaded\"}") == 500);
	assert_true(sample(t, "du_bytes_total{session=\"42\",outcome=\"failed\"}") == 7);
	/* Buckets are cumulative; +Inf equals _count. */
	assert_true(sample(t, "du_request_duration_seconds_bucket{session=\"42\",op=\"put\",le=\"0.005\"}") == 1);
	assert_true(sample(t, "du_request_duration_seconds_bucket{session=\"42\",op=\"put\",le=\"0.25\"}") == 2);
	assert_true(sample(t, "du_request_duration_seconds_bucket{session=\"42\",op=\"put\",le=\"120\"}") == 2);
	assert_true(sample(t, "du_request_duration_seconds_bucket{session=\"42\",op=\"put\",le=\"+Inf\"}") == 3);
	assert_true(sample(t, "du_request_duration_seconds_count{session=\"42\",op=\"put\"}") == 3);
	double sum = sample(t, "du_request_duration_seconds_sum{session=\"42\",op=\"put\"}");
	assert_true(sum > 500.2 && sum < 500.21);
	assert_true(sample(t, "du_request_duration_seconds_bucket{session=\"42\",op=\"part\",le=\"0.005\"}") == 1);
	assert_true(sample(t, "du_run_running{session=\"42\"}") == 1);
	assert_non_null(strstr(t, "du_run_info{session=\"42\",status=\"running\"} 1\n"));
	assert_non_null(strstr(t, "# TYPE du_request_duration_seconds histogram\n"));
	assert_non_null(strstr(t, "# TYPE du_s3_throttles_total counter\n"));
	free(t);
	/* The temporary file never stays behind. */
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	assert_int_equal(access(tmp, F_OK), -1);

	du_metrics_stop("completed_with_errors");
	t = du_test_slurp(path);
	assert_non_null(t);
	assert_true(sample(t, "du_run_running{session=\"42\"}") == 0);
	assert_non_null(strstr(t, "du_run_info{session=\"42\",status=\"completed_with_errors\"} 1\n"));
	assert_true(sample(t, "du_files_total{session=\"42\",outcome=\"uploaded\"}") == 5);
	free(t);
	/* Stopped: counting is off again, and a new start begins from zero. */
	du_metrics_file(DU_METRIC_UPLOADED, 1);
	assert_int_equal(du_metrics_start(path, 7, NULL, &err), DU_OK);
	t = du_metrics_render();
	assert_true(sample(t, "du_files_total{session=\"7\",outcome=\"uploaded\"}") == 0);
	free(t);
	du_metrics_stop(NULL);
	t = du_test_slurp(path);
	assert_non_null(strstr(t, "status=\"stopped\""));
	free(t);
}

static void test_bad_path(void **state)
{
	(void)state;
	struct du_err err = { 0 };
	char path[256];
	snprintf(path, sizeof(path), "%s/no/such/dir/du.prom", dir);
	assert_int_equal(du_metrics_start(path, 1, NULL, &err), DU_ERR_IO);
	assert_non_null(strstr(err.msg, "cannot write metrics file"));
	/* Still off, and startable again. */
	du_metrics_file(DU_METRIC_UPLOADED, 1);
	snprintf(path, sizeof(path), "%s/ok.prom", dir);
	assert_int_equal(du_metrics_start(path, 1, NULL, &err), DU_OK);
	du_metrics_stop("completed");
	char *t = du_test_slurp(path);
	assert_true(sample(t, "du_files_total{session=\"1\",outcome=\"uploaded\"}") == 0);
	free(t);
}

static void test_thread_rewrites(void **state)
{
	(void)state;
	struct du_err err = { 0 };
	char path[256];
	snprintf(path, sizeof(path), "%s/tick.prom", dir);
	assert_int_equal(du_metrics_start(path, 9, NULL, &err), DU_OK);
	du_metrics_file(DU_METRIC_UPLOADED, 1);
	/* Without any explicit write, the thread publishes the new count within one interval. */
	double found = 0;
	for (int i = 0; i < (DU_METRICS_INTERVAL + 3) * 10 && found != 1; i++) {
		struct timespec ts = { 0, 100 * 1000000L };
		nanosleep(&ts, NULL);
		char *t = du_test_slurp(path);
		if (t)
			found = sample(t, "du_files_total{session=\"9\",outcome=\"uploaded\"}");
		free(t);
	}
	assert_true(found == 1);
	du_metrics_stop("completed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_off_is_noop),
		cmocka_unit_test(test_counts_and_format),
		cmocka_unit_test(test_bad_path),
		cmocka_unit_test(test_thread_rewrites),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

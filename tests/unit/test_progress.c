/* Unit tests for progress.h: ETA (days, both rates), percent, the line and its bar, the terminal
 * frame, colour and NO_COLOR, per-file events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "du/config.h"
#include "du/log.h"
#include "du/progress.h"

static void test_fmt_eta(void **state)
{
	(void)state;
	char b[32];
	du_fmt_eta(0, b, sizeof(b));
	assert_string_equal(b, "00:00");
	du_fmt_eta(59.4, b, sizeof(b));
	assert_string_equal(b, "00:59");
	du_fmt_eta(3600, b, sizeof(b));
	assert_string_equal(b, "01:00:00");
	du_fmt_eta(86399, b, sizeof(b));
	assert_string_equal(b, "23:59:59");
	/* Whole days are kept (the Python tool lost them). */
	du_fmt_eta(86400, b, sizeof(b));
	assert_string_equal(b, "1d 00:00:00");
	du_fmt_eta(3 * 86400 + 4 * 3600 + 5 * 60 + 6, b, sizeof(b));
	assert_string_equal(b, "3d 04:05:06");
	du_fmt_eta(-1, b, sizeof(b));
	assert_string_equal(b, "--:--");
	du_fmt_eta(1e12, b, sizeof(b));
	assert_string_equal(b, "--:--");
}

static void test_fmt_bytes(void **state)
{
	(void)state;
	char b[32];
	du_fmt_bytes(512, b, sizeof(b));
	assert_string_equal(b, "512 B");
	du_fmt_bytes(1536, b, sizeof(b));
	assert_string_equal(b, "1.5 KiB");
	du_fmt_bytes(5ULL << 30, b, sizeof(b));
	assert_string_equal(b, "5.0 GiB");
}

/* 601 of 2001 files done in 60 s, but 84 % of the bytes: the small files left set the pace. */
static void test_eta_uses_the_slower_rate(void **state)
{
	(void)state;
	struct du_progress_figures f = { .files_total = 2001, .files_done = 601, .bytes_total = 1000,
					 .bytes_done = 842, .bytes_sent = 842, .elapsed = 60 };
	double eta = du_progress_eta(&f);
	/* files: 1400 left at 10.02/s = 139.8 s; bytes: 158 left at 14.03/s = 11.3 s */
	assert_true(eta > 139 && eta < 140.5);
	assert_true(du_progress_percent(&f) < 31);
	/* One big file left: the bytes set the pace. */
	f = (struct du_progress_figures){ .files_total = 101, .files_done = 100, .bytes_total = 1100,
					  .bytes_done = 100, .bytes_sent = 100, .elapsed = 10 };
	eta = du_progress_eta(&f);
	assert_true(eta > 99 && eta < 101);
	/* Done is 0 s; nothing done yet is unknown. */
	f = (struct du_progress_figures){ .files_total = 5, .files_done = 5, .bytes_total = 9, .bytes_done = 9,
					  .elapsed = 3 };
	assert_true(du_progress_eta(&f) == 0);
	assert_true(du_progress_percent(&f) == 100);
	f = (struct du_progress_figures){ .files_total = 5, .bytes_total = 9, .elapsed = 3 };
	assert_true(du_progress_eta(&f) < 0);
}

/* A run whose only big file failed has done everything: 100 %, ETA 00:00, not "2.1 % ... 01:40". */
static void test_failed_bytes_count_as_done(void **state)
{
	(void)state;
	struct du_progress_figures f = { .files_total = 2, .files_done = 2, .files_ok = 1, .files_failed = 1,
					 .bytes_total = 1000, .bytes_done = 1000, .bytes_sent = 21, .elapsed = 4 };
	char line[512];
	du_progress_line(&f, 0, line, sizeof(line));
	assert_non_null(strstr(line, "100.0% 2/2 files"));
	assert_non_null(strstr(line, "ETA 00:00"));
	assert_non_null(strstr(line, "1 failed"));
}

static void test_no_byte_total(void **state)
{
	(void)state;
	/* du-retry knows the files, not their bytes: no "100.0 MiB/0 B". */
	struct du_progress_figures f = { .files_total = 4, .files_done = 2, .files_ok = 2, .bytes_sent = 100 << 20,
					 .bytes_done = 100 << 20, .elapsed = 2 };
	char line[512];
	du_progress_line(&f, 0, line, sizeof(line));
	assert_non_null(strstr(line, " 50.0% 2/4 files"));
	assert_non_null(strstr(line, ", 100.0 MiB, "));
	assert_null(strstr(line, "/0 B"));
}

static void test_bar_fits_the_terminal(void **state)
{
	(void)state;
	struct du_progress_figures f = { .files_total = 10, .files_done = 5, .files_ok = 5, .bytes_total = 100,
					 .bytes_done = 50, .bytes_sent = 50, .elapsed = 1 };
	char line[512];
	du_progress_line(&f, 200, line, sizeof(line));
	/* 30 cells at most, half of them full. */
	assert_memory_equal(line, "[###############...............] ", 33);
	for (int w = 20; w <= 200; w += 7) {
		du_progress_line(&f, w, line, sizeof(line));
		assert_true(strlen(line) < (size_t)w);
	}
	/* Narrow: no bar at all (cut to the width). */
	du_progress_line(&f, 60, line, sizeof(line));
	assert_true(line[0] != '[');
	/* Not a terminal: no bar, whole line. */
	du_progress_line(&f, 0, line, sizeof(line));
	assert_true(line[0] != '[');
	assert_non_null(strstr(line, "ETA"));
}

static void test_tty_frame_clears_the_line(void **state)
{
	(void)state;
	char out[128];
	du_progress_tty_frame("42", false, out, sizeof(out));
	assert_string_equal(out, "\r42\033[K");
	du_progress_tty_frame("7", true, out, sizeof(out));
	assert_string_equal(out, "\r7\033[K\n");
}

static void test_color_and_no_color(void **state)
{
	(void)state;
	unsetenv("NO_COLOR");
	setenv("TERM", "xterm", 1);
	struct du_progress *p = du_progress_new(DU_PROGRESS_TTY, false);
	assert_true(du_progress_colored(p));
	du_progress_free(p);
	setenv("NO_COLOR", "1", 1);
	p = du_progress_new(DU_PROGRESS_TTY, false);
	assert_false(du_progress_colored(p));
	du_progress_free(p);
	unsetenv("NO_COLOR");
	p = du_progress_new(DU_PROGRESS_PLAIN, false);
	assert_false(du_progress_colored(p));
	du_progress_free(p);
}

/* The per-file JSON event, read back from what goes to stdout. */
static void test_file_event_json(void **state)
{
	(void)state;
	char path[] = "/tmp/du-progress-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	dup2(fd, STDOUT_FILENO);
	struct du_progress *p = du_progress_new(DU_PROGRESS_JSON, false);
	assert_true(du_progress_wants_files(p));
	du_progress_file(p, &(struct du_file_event){ .key = "a \"b\".wav", .size = 7, .outcome = "failed",
						      .error = "permission denied", .attempt = 2, .duration = 0.5 });
	du_progress_file(p, &(struct du_file_event){ .key = "c.wav", .size = 9, .outcome = "skipped",
						      .reason = "unchanged_checked", .attempt = 1 });
	du_progress_file(p, &(struct du_file_event){ .key = "z.wav", .size = 0, .outcome = "uploaded", .attempt = 1,
						      .suspect = "empty file (0 bytes)" });
	du_progress_free(p);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	char buf[2048] = "";
	FILE *f = fdopen(fd, "r");
	rewind(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(path);
	assert_non_null(strstr(buf, "{\"event\":\"file\",\"key\":\"a \\\"b\\\".wav\",\"size\":7,\"outcome\":\"failed\","
				    "\"reason\":null,\"error\":\"permission denied\",\"will_retry\":false,"
				    "\"checksum\":null,\"attempt\":2,\"duration\":0.500,\"suspect\":null}"));
	assert_non_null(strstr(buf, "\"key\":\"c.wav\",\"size\":9,\"outcome\":\"skipped\",\"reason\":\"unchanged_checked\""));
	assert_non_null(strstr(buf, "\"key\":\"z.wav\",\"size\":0,\"outcome\":\"uploaded\""));
	assert_non_null(strstr(buf, "\"suspect\":\"empty file (0 bytes)\"}"));
}

static void test_reason_labels(void **state)
{
	(void)state;
	assert_string_equal(du_progress_reason_label("missing_in_s3"), "missing in S3");
	assert_string_equal(du_progress_reason_label("unchanged_checked"), "unchanged (checked)");
	assert_string_equal(du_progress_reason_label("something_new"), "something_new");
	assert_string_equal(du_progress_reason_label(NULL), "");
}

int main(void)
{
	du_log_init("test_progress");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fmt_eta),
		cmocka_unit_test(test_fmt_bytes),
		cmocka_unit_test(test_eta_uses_the_slower_rate),
		cmocka_unit_test(test_failed_bytes_count_as_done),
		cmocka_unit_test(test_no_byte_total),
		cmocka_unit_test(test_bar_fits_the_terminal),
		cmocka_unit_test(test_tty_frame_clears_the_line),
		cmocka_unit_test(test_color_and_no_color),
		cmocka_unit_test(test_file_event_json),
		cmocka_unit_test(test_reason_labels),
	};
	return cmocka_run_group_tests_name("progress", tests, NULL, NULL);
}

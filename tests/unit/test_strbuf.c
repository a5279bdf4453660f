/* Unit tests for strbuf.h (growth, formatted adds, detach, the oom latch, du_array_grow), wait.h
 * (a whole wait, a wait ended by its stop function within a slice) and the pure pieces of the
 * HTTP layer (the body sink and its cap, header values, Retry-After, the failure classification). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "du/strbuf.h"
#include "du/wait.h"
#include "http/http.h"

static void test_grows_and_stays_terminated(void **state)
{
	(void)state;
	struct du_strbuf sb = DU_STRBUF_INIT;
	assert_string_equal(du_strbuf_str(&sb), "");
	for (int i = 0; i < 1000; i++)
		du_strbuf_addc(&sb, (char)('a' + i % 26));
	assert_int_equal(sb.len, 1000);
	assert_true(sb.alloc > 1000);
	assert_int_equal(sb.buf[1000], '\0');
	assert_int_equal(sb.buf[27], 'b');
	du_strbuf_add(&sb, "x\0y", 3);          /* bytes, not a C string */
	assert_int_equal(sb.len, 1003);
	assert_memory_equal(sb.buf + 1000, "x\0y", 3);
	du_strbuf_reset(&sb);
	assert_int_equal(sb.len, 0);
	assert_string_equal(du_strbuf_str(&sb), "");
	du_strbuf_release(&sb);
	assert_null(sb.buf);
}

static void test_addf(void **state)
{
	(void)state;
	struct du_strbuf sb = DU_STRBUF_INIT;
	du_strbuf_adds(&sb, "n=");
	du_strbuf_addf(&sb, "%d/%s", 42, "x");
	char big[600];
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	du_strbuf_addf(&sb, "[%s]", big);       /* more than the first allocation */
	assert_int_equal(sb.len, 6 + 1 + 599 + 1);
	assert_memory_equal(sb.buf, "n=42/x[zz", 9);
	assert_int_equal(sb.buf[sb.len - 1], ']');
	char *s = du_strbuf_detach(&sb);
	assert_non_null(s);
	assert_int_equal(strlen(s), 607);
	assert_null(sb.buf);
	assert_int_equal(sb.len, 0);
	free(s);
	s = du_strbuf_detach(&sb);              /* an empty buffer detaches as "" */
	assert_string_equal(s, "");
	free(s);
}

static void test_oom_latches(void **state)
{
	(void)state;
	struct du_strbuf sb = DU_STRBUF_INIT;
	du_strbuf_adds(&sb, "abc");
	assert_false(du_strbuf_grow(&sb, (size_t)-1 / 2));
	assert_true(sb.oom);
	du_strbuf_adds(&sb, "def");             /* ignored */
	assert_int_equal(sb.len, 3);
	assert_null(du_strbuf_detach(&sb));
	assert_false(sb.oom);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static bool stop_after(void *arg)
{
	return --*(int *)arg < 0;
}

static void test_wait(void **state)
{
	(void)state;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_true(du_wait_ms(250, NULL, NULL));
	assert_true(ms_since(&t0) >= 250);
	int asks = 2;                           /* stop at the third question: after two slices */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_false(du_wait_ms(60 * 1000, stop_after, &asks));
	long took = ms_since(&t0);
	assert_true(took >= 2 * DU_WAIT_SLICE_MS);
	assert_true(took < 10 * DU_WAIT_SLICE_MS);
	assert_true(du_wait_ms(0, NULL, NULL));
}

static void test_array_grow(void **state)
{
	(void)state;
	int *v = NULL;
	size_t cap = 0, n = 0;
	for (int i = 0; i < 1000; i++) {
		if (n == cap)
			assert_true(du_array_grow(&v, &cap, n + 1, sizeof(*v)));
		assert_true(cap > n);
		v[n++] = i;
	}
	assert_true(cap >= 1000 && cap < 2048);  /* doubling, not one at a time */
	for (int i = 0; i < 1000; i++)
		assert_int_equal(v[i], i);
	size_t before = cap;
	assert_true(du_array_grow(&v, &cap, 10, sizeof(*v)));   /* room already there */
	assert_int_equal(cap, before);
	assert_true(du_array_grow(&v, &cap, 5000, sizeof(*v))); /* more than double: what is asked */
	assert_int_equal(cap, 5000);
	int *keep = v;
	assert_false(du_array_grow(&v, &cap, (size_t)-1 / 2, sizeof(*v))); /* would overflow */
	assert_ptr_equal(v, keep);
	assert_int_equal(cap, 5000);
	free(v);
}

/* The HTTP layer's body sink: a cap that fails the transfer, or truncates to an excerpt. */
static void test_http_body(void **state)
{
	(void)state;
	char chunk[100];
	memset(chunk, 'x', sizeof(chunk));
	struct du_http_body b = { .max = 250 };
	assert_int_equal(du_http_body_write(chunk, 1, 100, &b), 100);
	assert_int_equal(du_http_body_write(chunk, 1, 100, &b), 100);
	assert_int_equal(du_http_body_write(chunk, 1, 100, &b), 0);      /* curl fails the transfer */
	assert_true(b.over);
	assert_int_equal(b.sb.len, 200);
	du_http_body_reset(&b);
	assert_false(b.over);
	assert_int_equal(b.sb.len, 0);
	assert_string_equal(du_strbuf_str(&b.sb), "");
	du_http_body_release(&b);

	struct du_http_body ex = { .max = 150, .truncate = true };
	assert_int_equal(du_http_body_write(chunk, 1, 100, &ex), 100);
	assert_int_equal(du_http_body_write(chunk, 1, 100, &ex), 100);   /* read on */
	assert_int_equal(du_http_body_write(chunk, 1, 100, &ex), 100);
	assert_true(ex.over);
	assert_int_equal(ex.sb.len, 150);
	assert_int_equal(strlen(ex.sb.buf), 150);
	du_http_body_release(&ex);
}

static void test_http_headers(void **state)
{
	(void)state;
	char v[16];
	const char *line = "Retry-After:  7 \r\n";
	assert_true(du_http_header(line, strlen(line), "retry-after", v, sizeof(v)));
	assert_string_equal(v, "7");
	assert_int_equal(du_http_retry_after_ms(v), 7000);
	assert_false(du_http_header(line, strlen(line), "retry", v, sizeof(v)));
	assert_int_equal(du_http_retry_after_ms("Wed, 21 Oct 2026 07:28:00 GMT"), 0);
	assert_int_equal(du_http_retry_after_ms("-3"), 0);
	assert_int_equal(du_http_retry_after_ms("999999"), 86400000L);
	assert_true(du_http_curl_retryable(CURLE_COULDNT_CONNECT));
	assert_true(du_http_curl_retryable(CURLE_RECV_ERROR));
	assert_true(du_http_curl_retryable(CURLE_WEIRD_SERVER_REPLY));
	assert_false(du_http_curl_retryable(CURLE_PEER_FAILED_VERIFICATION));
	assert_false(du_http_curl_retryable(CURLE_WRITE_ERROR));
	assert_false(du_http_curl_retryable(CURLE_ABORTED_BY_CALLBACK));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grows_and_stays_terminated),
		cmocka_unit_test(test_addf),
		cmocka_unit_test(test_oom_latches),
		cmocka_unit_test(test_wait),
		cmocka_unit_test(test_array_grow),
		cmocka_unit_test(test_http_body),
		cmocka_unit_test(test_http_headers),
	};
	return cmocka_run_group_tests_name("strbuf", tests, NULL, NULL);
}

/*
 * Unit tests for filemap.c: a view reads the file's bytes; a file truncated under a view does not
 * kill the process (the pages past its new end read as zeros and the view says it is damaged);
 * a SIGBUS outside any view still kills (checked in a child); offsets need not be page-aligned.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "du/filemap.h"

#define LEN (5 * 4096 + 123)

static int temp_file(char *path, size_t len)
{
	snprintf(path, 64, "/tmp/du-test-filemap.XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unsigned char *b = malloc(len);
	for (size_t i = 0; i < len; i++)
		b[i] = (unsigned char)(i * 7 + 1); /* never 0 */
	assert_int_equal(write(fd, b, len), (ssize_t)len);
	free(b);
	return fd;
}

static void test_reads_the_bytes(void **state)
{
	(void)state;
	char path[64];
	int fd = temp_file(path, LEN);
	struct du_fmap m;
	struct du_err err = { 0 };
	/* an offset inside a page, to the end of the file */
	assert_int_equal(du_fmap_open(&m, fd, 4096 + 5, LEN - 4096 - 5, &err), DU_OK);
	for (size_t i = 0; i < m.len; i++)
		assert_int_equal(m.p[i], (unsigned char)((i + 4096 + 5) * 7 + 1));
	assert_false(du_fmap_damaged(&m));
	/* one view per thread */
	struct du_fmap m2;
	assert_int_equal(du_fmap_open(&m2, fd, 0, 10, &err), DU_ERR_INTERNAL);
	du_fmap_close(&m);
	assert_int_equal(du_fmap_open(&m2, fd, 0, 10, &err), DU_OK);
	du_fmap_close(&m2);
	close(fd);
	unlink(path);
}

static void test_truncated_under_the_view(void **state)
{
	(void)state;
	char path[64];
	int fd = temp_file(path, LEN);
	struct du_fmap m;
	struct du_err err = { 0 };
	assert_int_equal(du_fmap_open(&m, fd, 0, LEN, &err), DU_OK);
	assert_int_equal(ftruncate(fd, 4096 + 10), 0);
	volatile unsigned sum = 0;
	for (size_t i = 0; i < m.len; i++) /* would be SIGBUS from page 2 on */
		sum += m.p[i];
	(void)sum;
	assert_true(du_fmap_damaged(&m));
	/* the bytes still in the file are the file's; the pages gone read as zeros */
	assert_int_equal(m.p[4096 + 5], (unsigned char)((4096 + 5) * 7 + 1));
	assert_int_equal(m.p[3 * 4096], 0);
	du_fmap_close(&m);
	/* the next view starts clean */
	assert_int_equal(du_fmap_open(&m, fd, 0, 4096, &err), DU_OK);
	assert_false(du_fmap_damaged(&m));
	du_fmap_close(&m);
	close(fd);
	unlink(path);
}

static void test_sigbus_elsewhere_still_kills(void **state)
{
	(void)state;
	char path[64];
	int fd = temp_file(path, LEN);
	pid_t pid = fork();
	if (pid == 0) {
		/* the handler is installed by a view, then a mapping of its own faults */
		struct du_fmap m;
		struct du_err err = { 0 };
		if (du_fmap_open(&m, fd, 0, 4096, &err))
			_exit(2);
		du_fmap_close(&m);
		volatile unsigned char *p = mmap(NULL, LEN, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED || ftruncate(fd, 0))
			_exit(3);
		(void)p[3 * 4096];
		_exit(0);
	}
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGBUS);
	close(fd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_the_bytes),
		cmocka_unit_test(test_truncated_under_the_view),
		cmocka_unit_test(test_sigbus_elsewhere_still_kills),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Regression tests for what the fuzzers and the bad-input corpus found (docs/HARDENING.md).
 * Each test names the finding it pins down.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "du/config.h"
#include "du/ini.h"
#include "du/scan.h"

/* Apply one stored setting on fresh defaults; returns the status, err filled. */
static int apply(const char *json, struct du_err *err)
{
	struct du_config cfg = {0};
	int rc = du_config_apply_json(&cfg, json, "test", err);
	du_config_release(&cfg);
	return rc;
}

/* Finding: a bucket ".." (or with '/', or blanks) went into the URL path, where a server that
 * resolves dot segments wrote the objects into another bucket while du recorded them uploaded. */
static void test_bucket_name_is_checked(void **state)
{
	(void)state;
	static const char *const bad[] = { "..", ".", "a/b", "bad bucket", "-lead", "trail.", "a..b",
					   "tab\tx", "q?x" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char json[128];
		struct du_err err = {0};
		snprintf(json, sizeof(json), "{\"bucket_name\": \"%s\"}", bad[i]);
		assert_int_equal(apply(json, &err), DU_ERR_CONFIG);
		assert_non_null(strstr(err.msg, "not a valid bucket name"));
	}
	static const char *const good[] = { "du-test", "my.bucket-1", "Legacy_Bucket", "abc" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char json[128];
		struct du_err err = {0};
		snprintf(json, sizeof(json), "{\"bucket_name\": \"%s\"}", good[i]);
		assert_int_equal(apply(json, &err), DU_OK);
	}
}

/* Finding: "." and ".." segments in s3_prefix were accepted; s3rver (like many proxies) resolved
 * them and stored the objects outside the prefix, even outside the bucket. */
static void test_prefix_dot_segments_refused(void **state)
{
	(void)state;
	static const char *const bad[] = { "..", "../x", "a/../b", "a/./b", "a/.", "./a" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char json[128];
		struct du_err err = {0};
		snprintf(json, sizeof(json), "{\"s3_prefix\": \"%s\"}", bad[i]);
		assert_int_equal(apply(json, &err), DU_ERR_CONFIG);
		assert_non_null(strstr(err.msg, "'.' or '..' segment"));
	}
	static const char *const good[] = { "a/.b./..c", "...", "x.y/z", ".hidden/a" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char json[128];
		struct du_err err = {0};
		snprintf(json, sizeof(json), "{\"s3_prefix\": \"%s\"}", good[i]);
		assert_int_equal(apply(json, &err), DU_OK);
	}
}

/* Finding: any AWS_REGION was accepted, "x/y" included, which breaks the host name and the
 * "/"-separated credential scope of every signature. */
static void test_region_is_checked(void **state)
{
	(void)state;
	struct du_err err = {0};
	assert_int_equal(apply("{\"aws_region\": \"x/y\"}", &err), DU_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "not a region name"));
	assert_int_equal(apply("{\"aws_region\": \"eu west 1\"}", &err), DU_ERR_CONFIG);
	assert_int_equal(apply("{\"aws_region\": \"us-gov-west-1\"}", &err), DU_OK);
	assert_int_equal(apply("{\"aws_region\": \"garage\"}", &err), DU_OK);
}

/* Finding: DU_EXTENSIONS=",,," (or []) gave an empty list: every run uploaded nothing, exit 0. */
static void test_empty_extensions_refused(void **state)
{
	(void)state;
	struct du_err err = {0};
	assert_int_equal(apply("{\"extensions\": []}", &err), DU_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "extensions is empty"));
	assert_int_equal(apply("{\"extensions\": \",,,\"}", &err), DU_ERR_CONFIG);
	assert_int_equal(apply("{\"extensions\": [\"wav\"]}", &err), DU_OK);
}

static void write_bytes(const char *path, const char *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	fclose(f);
}

/* Finding: a NUL byte in .env or ~/.aws/credentials silently cut the line short: "\0A=1" was
 * skipped as blank, "KEY=AK\0rest" kept "AK". Such a file is now refused, naming the line. */
static void test_nul_byte_refused(void **state)
{
	(void)state;
	char path[] = "/tmp/du-hardening.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	static const char env[] = "A=1\n\0B=2\n";
	write_bytes(path, env, sizeof(env) - 1);
	struct du_dotenv set = {0};
	struct du_err err = {0};
	assert_int_equal(du_dotenv_apply(path, false, &set, &err), DU_ERR_CONFIG);
	assert_non_null(strstr(err.msg, ":2: NUL byte in line"));
	assert_null(getenv("A")); /* nothing is set from a refused file */

	static const char ini[] = "[default]\naws_access_key_id = AK\0X\n";
	write_bytes(path, ini, sizeof(ini) - 1);
	struct du_ini *in = NULL;
	assert_int_equal(du_ini_load(&in, path, NULL, &err), DU_ERR_CONFIG);
	assert_non_null(strstr(err.msg, ":2: NUL byte in line"));
	unlink(path);
}

static int never(void *arg, const struct du_scan_entry *e)
{
	(void)arg, (void)e;
	return 0;
}

/* Finding (make valgrind): when find could not be executed in the child (exit 127, as under
 * valgrind, where posix_spawnp cannot report the exec failure), the scan "succeeded" with 0 files,
 * only a warning said "find exited with status 127", and the session completed. */
static void test_find_exit_127_is_an_error(void **state)
{
	(void)state;
	char dir[] = "/tmp/du-hardening-find.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char find[256], data[256];
	snprintf(find, sizeof(find), "%s/find", dir);
	snprintf(data, sizeof(data), "%s/data", dir);
	FILE *f = fopen(find, "w");
	assert_non_null(f);
	fputs("#!/bin/sh\nexit 127\n", f);
	fclose(f);
	assert_int_equal(chmod(find, 0755), 0);
	assert_int_equal(mkdir(data, 0755), 0);

	char *path = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	setenv("PATH", dir, 1);
	struct du_scan_opts o = { .root = data, .use_find = true };
	struct du_err err = {0};
	int rc = du_scan(&o, never, NULL, NULL, &err);
	setenv("PATH", path, 1);
	free(path);
	assert_int_equal(rc, DU_ERR_IO);
	assert_non_null(strstr(err.msg, "cannot run find (exit status 127)"));
	unlink(find);
	rmdir(data);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_name_is_checked),
		cmocka_unit_test(test_prefix_dot_segments_refused),
		cmocka_unit_test(test_region_is_checked),
		cmocka_unit_test(test_empty_extensions_refused),
		cmocka_unit_test(test_nul_byte_refused),
		cmocka_unit_test(test_find_exit_127_is_an_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

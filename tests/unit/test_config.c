/* Unit tests of the configuration: layers, sources, validation, secrets, output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "du/budget.h"
#include "du/config.h"
#include "du/log.h"

extern char **environ;

static char tmpdir[512];
static char origdir[4096];
static char dirpath[600]; /* an existing directory for local_directory */

/* ---- fixtures ---- */

/* Variables this module reads that do not start with DU_ (run-unit.sh exports some of them). */
static const char *const plain_vars[] = {
	"DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD", "DATABASE_URL", "AWS_PROFILE",
	"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "PGHOST",
	"PGDATABASE", "PGSERVICE", "AWS_ACCESS_KEY_ID", "DU_TEST_ONLY_FROM_DOTENV",
};

static void clear_env(void)
{
	for (size_t i = 0; i < sizeof(plain_vars) / sizeof(plain_vars[0]); i++)
		unsetenv(plain_vars[i]);
	/* Every DU_* except the test rig's own. */
	for (bool again = true; again;) {
		again = false;
		for (char **e = environ; *e; e++) {
			if (strncmp(*e, "DU_", 3) || !strncmp(*e, "DU_TEST_TMP=", 12) ||
			    !strncmp(*e, "DU_TOP=", 7) || !strncmp(*e, "DU_S3RVER", 9) ||
			    !strncmp(*e, "DU_MOTO", 7))
				continue;
			char name[256];
			snprintf(name, sizeof(name), "%.*s", (int)strcspn(*e, "="), *e);
			unsetenv(name);
			again = true; /* environ changed under us */
			break;
		}
	}
}

static int setup(void **state)
{
	(void)state;
	const char *base = getenv("DU_TEST_TMP");
	snprintf(tmpdir, sizeof(tmpdir), "%s/du-config-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir))
		return -1;
	if (!getcwd(origdir, sizeof(origdir)) || chdir(tmpdir))
		return -1;
	snprintf(dirpath, sizeof(dirpath), "%s/data", tmpdir);
	if (mkdir(dirpath, 0755))
		return -1;
	clear_env();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	clear_env();
	if (chdir(origdir))
		return -1;
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd);
}

static void write_file(const char *name, const char *text)
{
	FILE *f = fopen(name, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* du_config_load with a NULL-terminated list of arguments (argv[0] supplied). */
static char *argv_store[64];
static int load(struct du_config *cfg, int tool, struct du_err *err, ...)
{
	va_list ap;
	int n = 0;
	argv_store[n++] = (char *)"du-test";
	va_start(ap, err);
	for (char *a; (a = va_arg(ap, char *));)
		argv_store[n++] = a;
	va_end(ap);
	argv_store[n] = NULL;
	memset(err, 0, sizeof(*err));
	return du_config_load(cfg, tool, n, argv_store, err);
}

#define UPLOAD_OK "-d", dirpath, "-b", "bucket", "-p", "prefix"

static cJSON *dump_entry(cJSON *root, const char *key)
{
	cJSON *e = cJSON_GetObjectItemCaseSensitive(root, key);
	assert_non_null(e);
	return e;
}

static const char *dump_source(cJSON *root, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(dump_entry(root, key), "source")->valuestring;
}

/* ---- defaults ---- */

static void test_defaults(void **state)
{
	(void)state;
	struct du_config cfg;
	struct du_err err;
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, NULL), DU_OK);
	assert_string_equal(cfg.local_directory, dirpath);
	assert_string_equal(cfg.bucket_name, "bucket");
	assert_string_equal(cfg.s3_prefix, "prefix");
	assert_int_equal(cfg.max_workers, 15);
	assert_string_equal(cfg.aws_region, "eu-west-1");
	assert_int_equal(cfg.times_to_retry, 3);
	assert_string_equal(cfg.aws_profile, "default");
	assert_false(cfg.aws_profile_explicit);
	assert_true(cfg.use_find);
	assert_null(cfg.endpoint_url);
	assert_null(cfg.database_url);
	assert_string_equal(cfg.db_host, "localhost");
	assert_int_equal(cfg.db_port, 5432);
	assert_string_equal(cfg.db_name, "data_uploader");
	assert_string_equal(cfg.db_user, "uploader");
	assert_null(cfg.db_password);
	assert_false(cfg.db_configured);
	assert_null(cfg.s3_endpoint);
	assert_int_equal(cfg.s3_addressing, DU_ADDR_AUTO);
	assert_int_equal(cfg.multipart_threshold, 64ull << 20);
	assert_int_equal(cfg.multipart_chunk_size, 16ull << 20);
	assert_false(cfg.payload_signing);
	assert_int_equal(cfg.retry_base_ms, 100);
	assert_int_equal(cfg.retry_cap_ms, 20000);
	assert_int_equal(cfg.connect_timeout, 10);
	assert_int_equal(cfg.request_timeout, 60);
	const char *ext[] = { "wav", "jpg", "jpeg", "mp4", "mov", "avi" };
	for (int i = 0; i < 6; i++)
		assert_string_equal(cfg.extensions[i], ext[i]);
	assert_null(cfg.extensions[6]);
	assert_string_equal(cfg.exclude[0], "._*");
	assert_string_equal(cfg.exclude[1], ".*");
	assert_null(cfg.exclude[2]);
	assert_false(cfg.follow_symlinks);
	assert_false(cfg.dry_run);
	assert_int_equal(cfg.progress, DU_PROGRESS_AUTO);
	assert_int_equal(cfg.timeout, 30);
	assert_int_equal(cfg.max_attempts, 3);
	assert_true(cfg.delay == 5.0);
	assert_int_equal(cfg.max_rounds, 3);
	assert_string_equal(cfg.endpoint_api_key_header, "api_key");
	assert_int_equal(cfg.log_level, DU_LOG_INFO);
	assert_int_equal(cfg.nargs, 0);
	assert_string_equal(du_config_source(&cfg, "max_workers"), "default");
	assert_string_equal(du_config_source(&cfg, "bucket_name"), "flag --bucket-name");
	assert_null(du_config_source(&cfg, "no_such_key"));
	du_config_release(&cfg);
	assert_null(cfg.sources);
}

/* ---- precedence ---- */

static void test_precedence_layers(void **state)
{
	(void)state;
	struct du_config cfg;
	struct du_err err;
	write_file("c.json", "{\n"
			     "  \"bucket_name\": \"from-json\",\n"
			     "  \"max_workers\": 20,\n"
			     "  \"db_host\": \"json-host\",\n"
			     "  \"aws_region\": \"json-region\",\n"
			     "  \"times_to_retry\": 7\n"
			     "}\n");

	/* File over defaults. */
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-c", "c.json", "-d", dirpath, "-p", "x", NULL), DU_OK);
	assert_int_equal(cfg.max_workers, 20);
	assert_string_equal(du_config_source(&cfg, "max_workers"), "c.json:3");
	assert_string_equal(du_config_source(&cfg, "bucket_name"), "c.json:2");
	assert_string_equal(cfg.db_host, "json-host");
	assert_true(cfg.db_configured);
	du_config_release(&cfg);

	/* .env over the file. */
	write_file(".env", "# comment\nDU_MAX_WORKERS=30\n\nexport DB_HOST='env-file-host'\n");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-c", "c.json", "-d", dirpath, "-p", "x", NULL), DU_OK);
	assert_int_equal(cfg.max_workers, 30);
	assert_string_equal(du_config_source(&cfg, "max_workers"), ".env:2");
	assert_string_equal(cfg.db_host, "env-file-host");
	assert_string_equal(du_config_source(&cfg, "db_host"), ".env:4");
	assert_int_equal(cfg.times_to_retry, 7);
	du_config_release(&cfg);
	unsetenv("DU_MAX_WORKERS"); /* set by the .env above */
	unsetenv("DB_HOST");

	/* The environment over .env, and .env does not replace it. */
	setenv("DU_MAX_WORKERS", "40", 1);
	setenv("AWS_DEFAULT_REGION", "default-region", 1);
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-c", "c.json", "-d", dirpath, "-p", "x", NULL), DU_OK);
	assert_int_equal(cfg.max_workers, 40);
	assert_string_equal(du_config_source(&cfg, "max_workers"), "env DU_MAX_WORKERS");
	assert_string_equal(getenv("DU_MAX_WORKERS"), "40");
	assert_string_equal(cfg.aws_region, "default-region");
	assert_string_equal(du_config_source(&cfg, "aws_region"), "env AWS_DEFAULT_REGION");
	du_config_release(&cfg);
	unsetenv("DB_HOST");

	/* Flags over everything; AWS_REGION before AWS_DEFAULT_REGION. */
	setenv("AWS_REGION", "region-1", 1);
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-c", "c.json", "-d", dirpath, "-p", "x",
			      "-w", "50", "--bucket-name=flag-bucket", NULL), DU_OK);
	assert_int_equal(cfg.max_workers, 50);
	assert_string_equal(cfg.bucket_name, "flag-bucket");
	assert_string_equal(cfg.aws_region, "region-1");
	assert_string_equal(du_config_source(&cfg, "aws_region"), "env AWS_REGION");

	char *dump = du_config_dump_json(&cfg, DU_TOOL_UPLOAD);
	cJSON *root = cJSON_Parse(dump);
	assert_non_null(root);
	assert_string_equal(dump_source(root, "max_workers"), "flag --max-workers");
	assert_int_equal(cJSON_GetObjectItem(dump_entry(root, "max_workers"), "value")->valueint, 50);
	assert_string_equal(dump_source(root, "bucket_name"), "flag --bucket-name");
	assert_string_equal(dump_source(root, "times_to_retry"), "c.json:6");
	assert_string_equal(dump_source(root, "db_host"), ".env:4");
	assert_string_equal(dump_source(root, "db_port"), "default");
	assert_string_equal(dump_source(root, "aws_region"), "env AWS_REGION");
	/* A du-upload dump has no du-trigger settings. */
	assert_null(cJSON_GetObjectItem(root, "timeout"));
	assert_null(cJSON_GetObjectItem(root, "help"));
	cJSON_Delete(root);
	free(dump);
	du_config_release(&cfg);
}

static void test_dotenv_never_overrides(void **state)
{
	(void)state;
	struct du_config cfg;
	struct du_err err;
	setenv("DB_USER", "real-user", 1);
	write_file("my.env", "DB_USER=dotenv-user\n"
			     "AWS_ACCESS_KEY_ID = \"AKIAFROMDOTENV\"   # trailing comment\n"
			     "DU_TEST_ONLY_FROM_DOTENV=a b # c\n"
			     "export DB_NAME=\"quoted \\\"db\\\"\"\n"
			     "DB_NAME=second\n");
	assert_int_equal(load(&cfg, DU_TOOL_RETRY, &err, "-s", "1", "--env-file", "my.env", NULL), DU_OK);
	assert_string_equal(cfg.db_user, "real-user");
	assert_string_equal(du_config_source(&cfg, "db_user"), "env DB_USER");
	assert_string_equal(getenv("DB_USER"), "real-user");
	/* Variables only in .env reach the process environment (for the credential chain). */
	assert_string_equal(getenv("AWS_ACCESS_KEY_ID"), "AKIAFROMDOTENV");
	assert_string_equal(getenv("DU_TEST_ONLY_FROM_DOTENV"), "a b");
	/* The last line for a name wins within the file, and its line is the source. */
	assert_string_equal(cfg.db_name, "second");
	assert_string_equal(du_config_source(&cfg, "db_name"), "my.env:5");
	du_config_release(&cfg);

	/* A value set by a .env earlier is now environment: a second file cannot change it. */
	write_file("other.env", "AWS_ACCESS_KEY_ID=other\n");
	assert_int_equal(load(&cfg, DU_TOOL_RETRY, &err, "-s", "1", "--env-file", "other.env", NULL), DU_OK);
	assert_string_equal(getenv("AWS_ACCESS_KEY_ID"), "AKIAFROMDOTENV");
	du_config_release(&cfg);

	/* --env-file must exist; ./.env need not. */
	assert_int_equal(load(&cfg, DU_TOOL_RETRY, &err, "-s", "1", "--env-file", "missing.env", NULL),
			 DU_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "missing.env"));
	assert_null(cfg.sources);
}

static void test_dotenv_syntax_errors(void **state)
{
	(void)state;
	struct du_config cfg;
	struct du_err err;
	write_file("bad.env", "A=1\nDB_PASSWORD=\"hunter2-secret\n");
	assert_int_equal(load(&cfg, DU_TOOL_RETRY, &err, "-s", "1", "--env-file", "bad.env", NULL),
			 DU_ERR_CONFIG);
	assert_string_equal(err.msg, "bad.env:2: unterminated quote");
	assert_null(getenv("A")); /* nothing is set from a file with an error */

	write_file("bad2.env", "# ok\nthis line has no equals\n");
	assert_int_equal(load(&cfg, DU_TOOL_RETRY, &err, "-s", "1", "--env-file", "bad2.env", NULL),
			 DU_ERR_CONFIG);
	assert_string_equal(err.msg, "bad2.env:2: expected NAME=VALUE");

	write_file("bad3.env", "X='a'b\n");
	assert_int_equal(load(&cfg, DU_TOOL_RETRY, &err, "-s", "1", "--env-file", "bad3.env", NULL),
			 DU_ERR_CONFIG);
	assert_string_equal(err.msg, "bad3.env:1: unexpected text after the closing quote");
}

/* ---- JSON errors ---- */

static void test_invalid_json_line(void **state)
{
	(void)state;
	struct du_config cfg;
	struct du_err err;
	write_file("config.json", "{\n  \"bucket_name\": \"b\",\n  \"max_workers\": 15,,\n  \"s3_prefix\": \"p\"\n}\n");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-c", "config.json", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "config.json:3: invalid JSON");

	write_file("trail.json", "{\"bucket_name\": \"b\"}\n\n garbage\n");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-c", "trail.json", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "trail.json:3: invalid JSON");

	write_file("array.json", "[1, 2]\n");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-c", "array.json", NULL), DU_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "expected a JSON object"));

	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-c", "nope.json", NULL), DU_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "cannot read config file 'nope.json'"));
}

static void test_unknown_key_suggestion(void **state)
{
	(void)state;
	struct du_config cfg;
	struct du_err err;
	write_file("config.json", "{\n  \"bucket_name\": \"b\",\n  \"s3_prefix\": \"p\",\n  \"max_worker\": 4\n}\n");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-c", "config.json", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "unknown key 'max_worker' in config.json:4; did you mean 'max_workers'?");

	write_file("far.json", "{\"completely_unrelated_thing\": 1}");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-c", "far.json", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "unknown key 'completely_unrelated_thing' in far.json:1");

	write_file("cli.json", "{\"help\": true}");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-c", "cli.json", NULL), DU_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "command line"));
}

static void test_wrong_types(void **state)
{
	(void)state;
	struct du_config cfg;
	struct du_err err;
	write_file("a.json", "{\n  \"s3_prefix\": \"p\",\n  \"max_workers\": \"abc\"\n}\n");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-c", "a.json", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "max_workers: expected an integer, got 'abc' (from a.json:3)");

	write_file("b.json", "{\"bucket_name\": 5}");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-c", "b.json", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "bucket_name: expected a string, got a number (from b.json:1)");

	write_file("c.json", "{\"max_workers\": 1.5}");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-c", "c.json", NULL), DU_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "expected an integer"));

	write_file("d.json", "{\"extensions\": [\"wav\", 3]}");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-c", "d.json", NULL), DU_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "extensions"));

	write_file("e.json", "{\"db_port\": {\"x\": 1}}");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-c", "e.json", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "db_port: expected an integer, got an object (from e.json:1)");

	/* Python tool configs with numbers as strings still work; null means "not set". */
	write_file("ok.json", "{\"max_workers\": \"15\", \"db_port\": \"5433\", \"times_to_retry\": 2,"
			      " \"endpoint_url\": null, \"multipart_chunk_size\": \"8MiB\","
			      " \"exclude\": \"*.tmp, raw_*\", \"delay\": \"2.5\"}");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-c", "ok.json", UPLOAD_OK, NULL), DU_OK);
	assert_int_equal(cfg.max_workers, 15);
	assert_int_equal(cfg.db_port, 5433);
	assert_null(cfg.endpoint_url);
	assert_int_equal(cfg.multipart_chunk_size, 8ull << 20);
	assert_string_equal(cfg.exclude[0], "*.tmp");
	assert_string_equal(cfg.exclude[1], "raw_*");
	assert_null(cfg.exclude[2]);
	assert_true(cfg.delay == 2.5);
	du_config_release(&cfg);
}

static void test_out_of_range(void **state)
{
	(void)state;
	struct du_config cfg;
	struct du_err err;
	write_file("config.json", "{\n  \"bucket_name\": \"b\",\n  \"max_workers\": 0\n}\n");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-c", "config.json", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "max_workers must be between 1 and 1000, got 0 (from config.json:3)");

	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "-w", "10000", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "max_workers must be between 1 and 1000, got 10000 (from flag --max-workers)");

	setenv("DB_PORT", "70000", 1);
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "db_port must be between 1 and 65535, got 70000 (from env DB_PORT)");
	unsetenv("DB_PORT");

	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--multipart-chunk-size", "1MiB", NULL),
			 DU_ERR_CONFIG);
	assert_string_equal(err.msg, "multipart_chunk_size must be between 5MiB and 5GiB, got 1MiB "
				     "(from flag --multipart-chunk-size)");

	assert_int_equal(load(&cfg, DU_TOOL_RETRY, &err, "-s", "0", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "session_id must be at least 1, got 0 (from flag --session-id)");

	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--retry-base-ms", "5000",
			      "--retry-cap-ms", "1000", NULL), DU_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "retry_base_ms 5000"));
}

/* ---- required settings and directories ---- */

static void test_required_per_tool(void **state)
{
	(void)state;
	struct du_config cfg;
	struct du_err err;
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-d", dirpath, "-p", "p", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "missing required setting 'bucket_name'");
	assert_non_null(strstr(err.hint, "-b/--bucket-name"));
	assert_non_null(strstr(err.hint, "DU_BUCKET_NAME"));

	assert_int_equal(load(&cfg, DU_TOOL_MASTER, &err, "-b", "b", "-p", "p", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "missing required setting 'local_directory'");

	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-d", dirpath, "-b", "b", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "missing required setting 's3_prefix'");

	assert_int_equal(load(&cfg, DU_TOOL_RETRY, &err, "--list", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "missing required setting 'session_id'");

	assert_int_equal(load(&cfg, DU_TOOL_TRIGGER, &err, NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "missing required settings 'endpoint_url', 'session_id'");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "missing required settings 'local_directory', 'bucket_name', 's3_prefix'");
	assert_string_equal(err.hint, "give it with -d/--local-directory, env DU_LOCAL_DIRECTORY or "
				      "\"local_directory\" in the config file (-c)");
	assert_int_equal(load(&cfg, DU_TOOL_TRIGGER, &err, "-s", "4", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "missing required setting 'endpoint_url'");

	setenv("DU_ENDPOINT_URL", "https://hooks.example.com/done?x=1", 1);
	assert_int_equal(load(&cfg, DU_TOOL_TRIGGER, &err, "-s", "4", NULL), DU_OK);
	assert_int_equal(cfg.session_id, 4);
	assert_string_equal(cfg.endpoint_url, "https://hooks.example.com/done?x=1");
	du_config_release(&cfg);

	/* Retry and trigger need no upload settings. */
	assert_int_equal(load(&cfg, DU_TOOL_RETRY, &err, "-s", "9", NULL), DU_OK);
	du_config_release(&cfg);

	/* --dump-config shows what is there even when something required is missing. */
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "--dump-config", NULL), DU_OK);
	assert_true(cfg.dump_config);
	du_config_release(&cfg);
}

static void test_bad_local_directory(void **state)
{
	(void)state;
	struct du_config cfg;
	struct du_err err;
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-d", "/nonexistent/du-dir", "-b", "b", "-p", "p", NULL),
			 DU_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "'/nonexistent/du-dir'"));
	assert_non_null(strstr(err.msg, "flag --local-directory"));
	assert_non_null(strstr(err.msg, "No such file"));

	write_file("plain", "x");
	setenv("DU_LOCAL_DIRECTORY", "plain", 1);
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-b", "b", "-p", "p", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "local_directory 'plain' (from env DU_LOCAL_DIRECTORY) is not a directory");

	/* Trailing slashes go. */
	char slashed[700];
	snprintf(slashed, sizeof(slashed), "%s//", dirpath);
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-d", slashed, "-b", "b", "-p", "p", NULL), DU_OK);
	assert_string_equal(cfg.local_directory, dirpath);
	du_config_release(&cfg);
}

static void test_prefix_and_values(void **state)
{
	(void)state;
	struct du_config cfg;
	struct du_err err;
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-d", dirpath, "-b", "b", "-p", "/C1/2024/", NULL), DU_OK);
	assert_string_equal(cfg.s3_prefix, "C1/2024");
	du_config_release(&cfg);

	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-d", dirpath, "-b", "b", "-p", "///", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "s3_prefix is empty after removing '/' at either end (from flag --s3-prefix)");

	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--sse", "des", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "sse must be AES256 or aws:kms, got 'des' (from flag --sse)");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--sse-kms-key-id", "k1", NULL), DU_ERR_CONFIG);
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--sse", "AWS:KMS", "--sse-kms-key-id", "k1",
			      "--storage-class", "standard_ia", NULL), DU_OK);
	assert_string_equal(cfg.sse, "aws:kms");
	assert_string_equal(cfg.storage_class, "STANDARD_IA");
	du_config_release(&cfg);

	/* URLs. */
	const char *bad[] = { "ftp://x", "http://", "https://:9000", "localhost:9000", "http://a b",
			      "http://h:99999", "http://h:" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--s3-endpoint", bad[i], NULL),
				 DU_ERR_CONFIG);
		assert_non_null(strstr(err.msg, "s3_endpoint must be an http:// or https:// URL"));
	}
	assert_int_equal(load(&cfg, DU_TOOL_TRIGGER, &err, "-s", "1", "-e", "https://user:pw-xyz@hook.example", NULL),
			 DU_ERR_CONFIG);
	assert_null(strstr(err.msg, "pw-xyz"));
	setenv("AWS_ENDPOINT_URL", "http://generic:1", 1);
	setenv("AWS_ENDPOINT_URL_S3", "http://localhost:9000", 1);
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--addressing=path", "--progress", "json", NULL),
			 DU_OK);
	assert_string_equal(cfg.s3_endpoint, "http://localhost:9000");
	assert_string_equal(du_config_source(&cfg, "s3_endpoint"), "env AWS_ENDPOINT_URL_S3");
	du_config_release(&cfg);
	setenv("DU_S3_ENDPOINT", "http://127.0.0.1:4569", 1);
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--addressing=path", "--progress", "json", NULL),
			 DU_OK);
	assert_string_equal(cfg.s3_endpoint, "http://127.0.0.1:4569");
	assert_string_equal(du_config_source(&cfg, "s3_endpoint"), "env DU_S3_ENDPOINT");
	assert_int_equal(cfg.s3_addressing, DU_ADDR_PATH);
	assert_int_equal(cfg.progress, DU_PROGRESS_JSON);
	du_config_release(&cfg);

	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--progress=fancy", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "progress must be one of auto, tty, plain, json, none, got 'fancy' "
				     "(from flag --progress)");

	/* Lists: comma lists, repeated flags add up, extensions normalised. */
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--exclude", "*.tmp,raw_*", "--exclude",
			      "x?", "--extensions", ".WAV, Flac", NULL), DU_OK);
	assert_string_equal(cfg.exclude[0], "*.tmp");
	assert_string_equal(cfg.exclude[1], "raw_*");
	assert_string_equal(cfg.exclude[2], "x?");
	assert_null(cfg.exclude[3]);
	assert_string_equal(cfg.extensions[0], "wav");
	assert_string_equal(cfg.extensions[1], "flac");
	assert_null(cfg.extensions[2]);
	du_config_release(&cfg);

	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--resume", "3", "--join", "4", NULL),
			 DU_ERR_CONFIG);
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--resume", "3", NULL), DU_OK);
	assert_int_equal(cfg.resume_session, 3);
	du_config_release(&cfg);
}

/* ---- booleans ---- */

static void test_use_find_values(void **state)
{
	(void)state;
	struct du_config cfg;
	struct du_err err;
	static const struct { const char *json; bool want; } cases[] = {
		{ "\"yes\"", true }, { "\"true\"", true }, { "\"1\"", true }, { "\"on\"", true },
		{ "\"YES\"", true }, { "true", true }, { "1", true },
		{ "\"no\"", false }, { "\"false\"", false }, { "\"0\"", false }, { "\"off\"", false },
		{ "false", false }, { "0", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[128];
		snprintf(text, sizeof(text), "{\"use_find\": %s}", cases[i].json);
		write_file("u.json", text);
		assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-c", "u.json", UPLOAD_OK, NULL), DU_OK);
		if (cfg.use_find != cases[i].want)
			fail_msg("use_find %s gave %d", cases[i].json, cfg.use_find);
		du_config_release(&cfg);
	}
	write_file("u.json", "{\"use_find\": \"maybe\"}");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-c", "u.json", UPLOAD_OK, NULL), DU_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "use_find: expected a boolean"));
	write_file("u.json", "{\"use_find\": 2}");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-c", "u.json", UPLOAD_OK, NULL), DU_ERR_CONFIG);

	setenv("DU_USE_FIND", "nope", 1);
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "use_find: expected a boolean (true/false, yes/no, 1/0, on/off), "
				     "got 'nope' (from env DU_USE_FIND)");
	setenv("DU_USE_FIND", "off", 1);
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, NULL), DU_OK);
	assert_false(cfg.use_find);
	du_config_release(&cfg);
	/* An empty variable counts as unset. */
	setenv("DU_USE_FIND", "", 1);
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--dry-run", "--follow-symlinks=yes", NULL), DU_OK);
	assert_true(cfg.use_find);
	assert_true(cfg.dry_run);
	assert_true(cfg.follow_symlinks);
	du_config_release(&cfg);
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--use-find=no", NULL), DU_OK);
	assert_false(cfg.use_find);
	du_config_release(&cfg);
}

/* ---- flags ---- */

static void test_secret_flags_refused(void **state)
{
	(void)state;
	struct du_config cfg;
	struct du_err err;
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--db-password=hunter2", NULL), DU_ERR_USAGE);
	assert_null(strstr(err.msg, "hunter2"));
	assert_null(strstr(err.hint, "hunter2"));
	assert_non_null(strstr(err.msg, "'--db-password' is not accepted on the command line"));
	assert_non_null(strstr(err.hint, "DB_PASSWORD"));
	assert_null(cfg.sources);

	assert_int_equal(load(&cfg, DU_TOOL_MASTER, &err, UPLOAD_OK, "--database-url", "postgres://u:pw@h/db", NULL),
			 DU_ERR_USAGE);
	assert_null(strstr(err.msg, "pw@"));
	assert_non_null(strstr(err.hint, "DATABASE_URL"));
	assert_int_equal(load(&cfg, DU_TOOL_TRIGGER, &err, "--endpoint-secret=abc", NULL), DU_ERR_USAGE);
	assert_non_null(strstr(err.hint, "DU_ENDPOINT_SECRET"));
	assert_int_equal(load(&cfg, DU_TOOL_TRIGGER, &err, "--endpoint-api-key", NULL), DU_ERR_USAGE);
	/* An abbreviation is the same flag. */
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "--db-passw=zz-top", NULL), DU_ERR_USAGE);
	assert_null(strstr(err.msg, "zz-top"));
}

static void test_unknown_flag(void **state)
{
	(void)state;
	struct du_config cfg;
	struct du_err err;
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "--bogus", NULL), DU_ERR_USAGE);
	assert_string_equal(err.msg, "unrecognized option '--bogus'");
	assert_string_equal(err.hint, "try 'du-upload --help'");

	assert_int_equal(load(&cfg, DU_TOOL_RETRY, &err, "--bogus-pass=s3cret", NULL), DU_ERR_USAGE);
	assert_string_equal(err.msg, "unrecognized option '--bogus-pass'");

	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "--bucket-nam3", "x", NULL), DU_ERR_USAGE);
	assert_string_equal(err.hint, "did you mean '--bucket-name'? try 'du-upload --help'");

	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-Z", NULL), DU_ERR_USAGE);
	assert_string_equal(err.msg, "unrecognized option '-Z'");

	/* A flag of another tool. */
	assert_int_equal(load(&cfg, DU_TOOL_RETRY, &err, "--skip-retry", NULL), DU_ERR_USAGE);
	assert_non_null(strstr(err.hint, "not an option of du-retry"));

	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "-w", NULL), DU_ERR_USAGE);
	assert_string_equal(err.msg, "option '-w' requires an argument");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--max-workers", NULL), DU_ERR_USAGE);
	assert_string_equal(err.msg, "option '--max-workers' requires an argument");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "--help=x", NULL), DU_ERR_USAGE);

	/* Positional arguments: only du-master takes them. */
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "extra", NULL), DU_ERR_USAGE);
	assert_string_equal(err.msg, "unexpected argument 'extra'");
	assert_int_equal(load(&cfg, DU_TOOL_MASTER, &err, "upload", UPLOAD_OK, NULL), DU_OK);
	assert_int_equal(cfg.nargs, 1);
	assert_string_equal(cfg.args[0], "upload");
	du_config_release(&cfg);
}

static void test_no_arguments(void **state)
{
	(void)state;
	struct du_config cfg;
	struct du_err err = {0};
	char *argv[] = { (char *)"du-retry", NULL };
	setenv("DU_SESSION_ID", "5", 1);
	assert_int_equal(du_config_load(&cfg, DU_TOOL_RETRY, 1, argv, &err), DU_OK);
	assert_int_equal(cfg.session_id, 5);
	assert_int_equal(cfg.nargs, 0);
	du_config_release(&cfg);
	assert_int_equal(du_config_load(&cfg, DU_TOOL_RETRY, 0, NULL, &err), DU_OK);
	assert_int_equal(cfg.nargs, 0);
	du_config_release(&cfg);
}

static void test_help_and_version_short_circuit(void **state)
{
	(void)state;
	struct du_config cfg;
	struct du_err err;
	write_file("broken.json", "{");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "--help", "-c", "broken.json", NULL), DU_OK);
	assert_true(cfg.help);
	du_config_release(&cfg);
	assert_int_equal(load(&cfg, DU_TOOL_TRIGGER, &err, "--bogus", "-V", NULL), DU_OK);
	assert_true(cfg.version);
	du_config_release(&cfg);
}

static void test_short_flags_per_tool(void **state)
{
	(void)state;
	struct du_config cfg;
	struct du_err err;
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, "-d", dirpath, "-b", "b", "-p", "p", "-w", "4", NULL), DU_OK);
	assert_string_equal(cfg.local_directory, dirpath);
	assert_true(cfg.delay == 5.0);
	assert_int_equal(cfg.max_workers, 4);
	du_config_release(&cfg);

	assert_int_equal(load(&cfg, DU_TOOL_RETRY, &err, "-s", "12", "-d", "2.5", "-m", "4", "-a", "-r", "6", "--list",
			      NULL), DU_OK);
	assert_true(cfg.delay == 2.5);
	assert_null(cfg.local_directory);
	assert_int_equal(cfg.session_id, 12);
	assert_int_equal(cfg.max_attempts, 4);
	assert_true(cfg.auto_retry);
	assert_int_equal(cfg.max_rounds, 6);
	assert_true(cfg.list);
	assert_string_equal(du_config_source(&cfg, "delay"), "flag --delay");
	du_config_release(&cfg);

	assert_int_equal(load(&cfg, DU_TOOL_TRIGGER, &err, "-s", "1", "-e", "http://h/x", "-t", "9",
			      "--dry-run", "--list-files", NULL), DU_OK);
	assert_int_equal(cfg.timeout, 9);
	assert_true(cfg.dry_run);
	assert_true(cfg.list_files);
	du_config_release(&cfg);
	assert_int_equal(load(&cfg, DU_TOOL_TRIGGER, &err, "-s", "1", "-d", "3", NULL), DU_ERR_USAGE);

	assert_int_equal(load(&cfg, DU_TOOL_MASTER, &err, UPLOAD_OK, "-e", "http://h/x", "--skip-retry",
			      "--skip-endpoint", "--aws-profile", "lab", "--dry-run", NULL), DU_OK);
	assert_true(cfg.skip_retry);
	assert_true(cfg.skip_endpoint);
	assert_true(cfg.dry_run);
	assert_string_equal(cfg.aws_profile, "lab");
	assert_true(cfg.aws_profile_explicit);
	du_config_release(&cfg);
}

static void test_log_level(void **state)
{
	(void)state;
	struct du_config cfg;
	struct du_err err;
	assert_int_equal(load(&cfg, DU_TOOL_RETRY, &err, "-s", "1", "-q", NULL), DU_OK);
	assert_int_equal(cfg.log_level, DU_LOG_ERROR);
	assert_string_equal(du_config_source(&cfg, "log_level"), "flag --quiet");
	du_config_release(&cfg);
	assert_int_equal(load(&cfg, DU_TOOL_RETRY, &err, "-s", "1", "-v", NULL), DU_OK);
	assert_int_equal(cfg.log_level, DU_LOG_DEBUG);     /* info is the default: -v adds the files */
	du_config_release(&cfg);
	assert_int_equal(load(&cfg, DU_TOOL_RETRY, &err, "-s", "1", "-vv", NULL), DU_OK);
	assert_int_equal(cfg.log_level, DU_LOG_TRACE);     /* and -vv the files skipped */
	du_config_release(&cfg);
	assert_int_equal(load(&cfg, DU_TOOL_RETRY, &err, "-s", "1", "-vvv", NULL), DU_OK);
	assert_int_equal(cfg.log_level, DU_LOG_TRACE);
	du_config_release(&cfg);
	setenv("DU_LOG_LEVEL", "warn", 1);
	assert_int_equal(load(&cfg, DU_TOOL_RETRY, &err, "-s", "1", NULL), DU_OK);
	assert_int_equal(cfg.log_level, DU_LOG_WARN);
	assert_string_equal(du_config_source(&cfg, "log_level"), "env DU_LOG_LEVEL");
	du_config_release(&cfg);
	assert_int_equal(load(&cfg, DU_TOOL_RETRY, &err, "-s", "1", "-v", NULL), DU_OK);
	assert_int_equal(cfg.log_level, DU_LOG_INFO);
	du_config_release(&cfg);
	assert_int_equal(load(&cfg, DU_TOOL_RETRY, &err, "-s", "1", "--log-level", "debug", NULL), DU_OK);
	assert_int_equal(cfg.log_level, DU_LOG_DEBUG);
	du_config_release(&cfg);
	assert_int_equal(load(&cfg, DU_TOOL_RETRY, &err, "-s", "1", "--log-level", "trace", NULL), DU_OK);
	assert_int_equal(cfg.log_level, DU_LOG_TRACE);
	du_config_release(&cfg);
	assert_int_equal(load(&cfg, DU_TOOL_RETRY, &err, "-s", "1", "--log-level", "loud", NULL), DU_ERR_CONFIG);
}

static void test_db_configured(void **state)
{
	(void)state;
	struct du_config cfg;
	struct du_err err;
	assert_int_equal(load(&cfg, DU_TOOL_RETRY, &err, "-s", "1", NULL), DU_OK);
	assert_false(cfg.db_configured);
	du_config_release(&cfg);
	setenv("PGHOST", "/tmp", 1);
	assert_int_equal(load(&cfg, DU_TOOL_RETRY, &err, "-s", "1", NULL), DU_OK);
	assert_true(cfg.db_configured);
	du_config_release(&cfg);
	unsetenv("PGHOST");
	setenv("DATABASE_URL", "postgres://u@h/db", 1);
	assert_int_equal(load(&cfg, DU_TOOL_RETRY, &err, "-s", "1", NULL), DU_OK);
	assert_true(cfg.db_configured);
	assert_string_equal(cfg.database_url, "postgres://u@h/db");
	du_config_release(&cfg);
	unsetenv("DATABASE_URL");
	assert_int_equal(load(&cfg, DU_TOOL_RETRY, &err, "-s", "1", "--db-port", "5433", NULL), DU_OK);
	assert_true(cfg.db_configured);
	du_config_release(&cfg);
}

/* ---- output ---- */

static void test_secrets_redacted(void **state)
{
	(void)state;
	struct du_config cfg;
	struct du_err err;
	setenv("DB_PASSWORD", "pw-Xq81secret", 1);
	setenv("DATABASE_URL", "postgres://bob:url-Zr55secret@db.example/du", 1);
	setenv("DU_ENDPOINT_API_KEY", "key-Kk09secret", 1);
	write_file("s.json", "{\"endpoint_secret\": \"hmac-Hh77secret\"}");
	assert_int_equal(load(&cfg, DU_TOOL_MASTER, &err, "-c", "s.json", UPLOAD_OK, NULL), DU_OK);
	assert_string_equal(cfg.db_password, "pw-Xq81secret");
	assert_string_equal(cfg.endpoint_secret, "hmac-Hh77secret");
	assert_string_equal(du_config_source(&cfg, "endpoint_secret"), "s.json:1");

	char *dump = du_config_dump_json(&cfg, DU_TOOL_MASTER);
	char *flat = du_config_to_json(&cfg);
	const char *secrets[] = { "Xq81", "Zr55", "Kk09", "Hh77", "bob" };
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		assert_null(strstr(dump, secrets[i]));
		assert_null(strstr(flat, secrets[i]));
	}
	cJSON *root = cJSON_Parse(dump);
	const char *keys[] = { "db_password", "database_url", "endpoint_api_key", "endpoint_secret" };
	for (size_t i = 0; i < 4; i++) {
		assert_string_equal(cJSON_GetObjectItem(dump_entry(root, keys[i]), "value")->valuestring, "***");
		char quoted[64];
		snprintf(quoted, sizeof(quoted), "\"%s\"", keys[i]);
		assert_null(strstr(flat, quoted));
	}
	assert_string_equal(dump_source(root, "db_password"), "env DB_PASSWORD");
	cJSON_Delete(root);
	free(dump);
	free(flat);

	/* Help names secrets by their variable only. */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	du_config_usage(DU_TOOL_MASTER, f);
	fclose(f);
	assert_non_null(strstr(buf, "DB_PASSWORD"));
	assert_null(strstr(buf, "--db-password"));
	free(buf);
	du_config_release(&cfg);
}

static void test_apply_json_round_trip(void **state)
{
	(void)state;
	struct du_config a, b = {0}, c;
	struct du_err err;
	setenv("DB_PASSWORD", "pw-never-stored", 1);
	setenv("DU_DELAY", "1.5", 1); /* not a du-upload flag, but a setting all the same */
	assert_int_equal(load(&a, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "-w", "7", "--aws-region", "us-east-2",
			      "--times-to-retry", "5", "--use-find=no", "--multipart-threshold", "128MiB",
			      "--exclude", "a*,b*", "--extensions", "wav", "--addressing", "virtual",
			      "--storage-class", "GLACIER", "--db-host", "pg.example",
			      "--dry-run", NULL), DU_OK);
	char *json = du_config_to_json(&a);
	assert_non_null(json);
	assert_null(strstr(json, "pw-never-stored"));
	assert_null(strstr(json, "dry_run")); /* per-invocation settings are not stored */

	assert_int_equal(du_config_apply_json(&b, json, "config_history of session 7", &err), DU_OK);
	assert_string_equal(b.local_directory, a.local_directory);
	assert_string_equal(b.bucket_name, "bucket");
	assert_string_equal(b.s3_prefix, "prefix");
	assert_int_equal(b.max_workers, 7);
	assert_string_equal(b.aws_region, "us-east-2");
	assert_int_equal(b.times_to_retry, 5);
	assert_false(b.use_find);
	assert_int_equal(b.multipart_threshold, 128ull << 20);
	assert_int_equal(b.multipart_chunk_size, 16ull << 20);
	assert_string_equal(b.exclude[0], "a*");
	assert_string_equal(b.exclude[1], "b*");
	assert_null(b.exclude[2]);
	assert_string_equal(b.extensions[0], "wav");
	assert_null(b.extensions[1]);
	assert_int_equal(b.s3_addressing, DU_ADDR_VIRTUAL);
	assert_string_equal(b.storage_class, "GLACIER");
	assert_string_equal(b.db_host, "pg.example");
	assert_true(b.delay == 1.5);
	assert_false(b.dry_run);
	assert_null(b.db_password);
	assert_string_equal(du_config_source(&b, "max_workers"), "config_history of session 7");
	char *again = du_config_to_json(&b);
	assert_string_equal(again, json);
	free(again);
	du_config_release(&b);

	/* Over a loaded configuration: only what is still at its default is filled in. */
	unsetenv("DU_DELAY");
	setenv("DU_MAX_WORKERS", "3", 1);
	assert_int_equal(load(&c, DU_TOOL_RETRY, &err, "-s", "7", NULL), DU_OK);
	assert_int_equal(du_config_apply_json(&c, json, "session 7", &err), DU_OK);
	assert_int_equal(c.max_workers, 3);
	assert_string_equal(du_config_source(&c, "max_workers"), "env DU_MAX_WORKERS");
	assert_string_equal(c.bucket_name, "bucket");
	assert_int_equal(c.session_id, 7);
	du_config_release(&c);

	/* Stored JSON is validated like a file; unknown keys (a newer du) are ignored. */
	memset(&b, 0, sizeof(b));
	assert_int_equal(du_config_apply_json(&b, "{\"max_workers\": 0}", "session 8", &err), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "max_workers must be between 1 and 1000, got 0 (from session 8)");
	du_config_release(&b);
	assert_int_equal(du_config_apply_json(&b, "{\"future_key\": 1, \"db_password\": \"x\"}", "s", &err), DU_OK);
	assert_null(b.db_password);
	du_config_release(&b);
	free(json);
	du_config_release(&a);
}

static void test_derive(void **state)
{
	(void)state;
	struct du_config up, base, d;
	struct du_err err;
	assert_int_equal(load(&up, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "-w", "7", "--multipart-chunk-size", "32MiB",
			      "--sse", "AES256", NULL), DU_OK);
	char *json = du_config_to_json(&up);
	du_config_release(&up);

	/* Today's environment names another bucket and endpoint: the session's own win. */
	setenv("DU_BUCKET_NAME", "other-bucket", 1);
	setenv("AWS_ENDPOINT_URL_S3", "http://elsewhere:9000", 1);
	setenv("DU_MULTIPART_CHUNK_SIZE", "8MiB", 1);
	setenv("DU_MAX_WORKERS", "3", 1);
	assert_int_equal(load(&base, DU_TOOL_RETRY, &err, "-s", "42", "-m", "5", NULL), DU_OK);
	assert_int_equal(du_config_derive(&d, &base, json, 42, &err), DU_OK);
	assert_string_equal(d.bucket_name, "bucket");
	assert_string_equal(du_config_source(&d, "bucket_name"), "config_history of session 42");
	assert_null(d.s3_endpoint);
	assert_int_equal(d.multipart_chunk_size, 32ull << 20);
	assert_string_equal(d.sse, "AES256");
	assert_string_equal(d.local_directory, dirpath);
	/* Tuning stays with today's invocation. */
	assert_int_equal(d.max_workers, 3);
	assert_int_equal(d.max_attempts, 5);
	assert_int_equal(d.session_id, 42);
	/* base is untouched. */
	assert_string_equal(base.bucket_name, "other-bucket");
	assert_string_equal(base.s3_endpoint, "http://elsewhere:9000");
	du_config_release(&d);

	/* No stored configuration: a plain copy, released independently. */
	assert_int_equal(du_config_derive(&d, &base, NULL, 42, &err), DU_OK);
	assert_string_equal(d.bucket_name, "other-bucket");
	assert_ptr_not_equal(d.bucket_name, base.bucket_name);
	assert_string_equal(d.extensions[0], base.extensions[0]);
	assert_ptr_not_equal(d.extensions, base.extensions);
	assert_string_equal(du_config_source(&d, "max_workers"), "env DU_MAX_WORKERS");
	du_config_release(&d);

	/* A broken stored configuration leaves *out alone. */
	memset(&d, 0x5a, sizeof(d));
	assert_int_equal(du_config_derive(&d, &base, "{\"bucket_name\": 5}", 42, &err), DU_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "config_history of session 42"));
	assert_int_equal(((unsigned char *)&d)[0], 0x5a);
	assert_int_equal(((unsigned char *)&d)[sizeof(d) - 1], 0x5a);
	du_config_release(&base);
	free(json);
}

static void test_usage_text(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	du_config_usage(DU_TOOL_RETRY, f);
	fclose(f);
	assert_non_null(strstr(buf, "usage: du-retry"));
	assert_non_null(strstr(buf, "-d, --delay=SECONDS"));
	assert_non_null(strstr(buf, "-s, --session-id=SESSION"));
	assert_non_null(strstr(buf, "default 3"));
	assert_non_null(strstr(buf, "env DU_MAX_ROUNDS"));
	assert_null(strstr(buf, "--local-directory"));
	free(buf);

	f = open_memstream(&buf, &len);
	du_config_usage(DU_TOOL_UPLOAD, f);
	fclose(f);
	assert_non_null(strstr(buf, "-d, --local-directory=DIR"));
	assert_non_null(strstr(buf, "-w, --max-workers=N"));
	assert_non_null(strstr(buf, "default 15; env DU_MAX_WORKERS"));
	assert_non_null(strstr(buf, "env AWS_REGION, AWS_DEFAULT_REGION"));
	assert_non_null(strstr(buf, "-c, --config=FILE"));
	assert_non_null(strstr(buf, "--env-file=FILE"));
	assert_non_null(strstr(buf, "-q, --quiet"));
	assert_non_null(strstr(buf, "-V, --version"));
	assert_null(strstr(buf, "--delay"));
	assert_null(strstr(buf, "--skip-retry"));
	free(buf);
}

/* ---- maps: tags and metadata ---- */

/* The map as one string, "k=v|k=v", for comparisons. */
static const char *joined(char **map)
{
	static char buf[8192];
	size_t k = 0;
	buf[0] = '\0';
	for (size_t i = 0; map && map[i]; i++)
		k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%s%s", i ? "|" : "", map[i]);
	return buf;
}

/* n copies of s (a UTF-8 character or a byte). */
static char *repeat(const char *s, size_t n)
{
	static char buf[4][4096];
	static int which;
	char *b = buf[which++ % 4];
	b[0] = '\0';
	for (size_t i = 0; i < n; i++)
		strcat(b, s);
	return b;
}

static void test_maps_layers(void **state)
{
	(void)state;
	struct du_config cfg;
	struct du_err err;
	write_file("m.json", "{\n  \"tags\": {\"project\": \"bats-2026\", \"site\": \"A1\", \"year\": 2026},\n"
			     "  \"metadata\": {\"site\": \"A1\"}\n}\n");
	/* The file's object, in its order; a number is taken as its text. */
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "-c", "m.json", NULL), DU_OK);
	assert_string_equal(joined(cfg.tags), "project=bats-2026|site=A1|year=2026");
	assert_null(cfg.tags[3]);
	assert_string_equal(joined(cfg.metadata), "site=A1");
	assert_string_equal(du_config_source(&cfg, "tags"), "m.json:2");
	du_config_release(&cfg);

	/* None given: NULL. */
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, NULL), DU_OK);
	assert_null(cfg.tags);
	assert_null(cfg.metadata);
	du_config_release(&cfg);

	/* The command line replaces the file's whole map; its repeated flags add up, split at the
	 * first '='. */
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "-c", "m.json", "--tag", "site=B2",
			      "--tag", "expr=a=b", "--tag=empty=", NULL), DU_OK);
	assert_string_equal(joined(cfg.tags), "site=B2|expr=a=b|empty=");
	assert_string_equal(du_config_source(&cfg, "tags"), "flag --tag");
	assert_string_equal(joined(cfg.metadata), "site=A1"); /* untouched */
	du_config_release(&cfg);

	/* The environment: a JSON object's text, between the file and the flags. */
	setenv("DU_TAGS", "{\"from\": \"env\", \"n\": 1}", 1);
	setenv("DU_METADATA", "{\"Owner\": \"lab\"}", 1);
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "-c", "m.json", NULL), DU_OK);
	assert_string_equal(joined(cfg.tags), "from=env|n=1");
	assert_string_equal(du_config_source(&cfg, "tags"), "env DU_TAGS");
	assert_string_equal(joined(cfg.metadata), "owner=lab");
	du_config_release(&cfg);
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--metadata", "k=v", NULL), DU_OK);
	assert_string_equal(joined(cfg.tags), "from=env|n=1");
	assert_string_equal(joined(cfg.metadata), "k=v");
	du_config_release(&cfg);
	setenv("DU_TAGS", "[\"a=b\"]", 1);
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "tags: expected a JSON object of strings, got an array (from env DU_TAGS)");
	setenv("DU_TAGS", "site=A1", 1);
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, NULL), DU_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "tags: expected a JSON object of strings"));
	unsetenv("DU_TAGS");
	unsetenv("DU_METADATA");

	/* Not an object of strings. */
	write_file("n1.json", "{\"tags\": [\"a=b\"]}");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "-c", "n1.json", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "tags: expected a JSON object of strings, got an array (from n1.json:1)");
	write_file("n2.json", "{\"metadata\": {\"a\": {\"b\": \"c\"}}}");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "-c", "n2.json", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg,
			    "metadata: expected a JSON object of strings, got an object for \"a\" (from n2.json:1)");
	write_file("n3.json", "{\"tags\": {\"a\": true}}");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "-c", "n3.json", NULL), DU_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "tags: expected a JSON object of strings, got a boolean"));
	write_file("n4.json", "{\"tags\": \"a=b\"}");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "-c", "n4.json", NULL), DU_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "tags: expected a JSON object of strings, got a string"));
	/* A flag without '=' */
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--tag", "site", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "tags: expected KEY=VALUE, got 'site' (from flag --tag)");
	/* du-retry takes a session's maps from its stored settings, not from flags. */
	assert_int_equal(load(&cfg, DU_TOOL_RETRY, &err, "-s", "1", "--tag", "a=b", NULL), DU_ERR_USAGE);
}

static void test_maps_duplicates(void **state)
{
	(void)state;
	struct du_config cfg;
	struct du_err err;
	write_file("d.json", "{\"tags\": {\"site\": \"A1\", \"site\": \"A2\"}}");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "-c", "d.json", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "tags: key \"site\" given twice (from d.json:1)");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--tag", "a=1", "--tag", "b=2", "--tag",
			      "a=3", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "tags: key \"a\" given twice (from flag --tag)");
	/* Metadata names are lowercased first: Site and site are the same header. */
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--metadata", "Site=1", "--metadata",
			      "site=2", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "metadata: key \"site\" given twice (from flag --metadata)");
	/* The same key in two layers is no duplicate: the higher layer replaces the map. */
	write_file("m.json", "{\"tags\": {\"site\": \"A1\"}}");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "-c", "m.json", "--tag", "site=B", NULL),
			 DU_OK);
	assert_string_equal(joined(cfg.tags), "site=B");
	du_config_release(&cfg);
}

static void test_tags_limits(void **state)
{
	(void)state;
	struct du_config cfg;
	struct du_err err;
	char k[16][32];
	char *args[40];
	int n = 0;
	/* 10 tags are fine, the 11th is refused */
	args[n++] = (char *)"du-test";
	args[n++] = (char *)"-d", args[n++] = dirpath, args[n++] = (char *)"-b", args[n++] = (char *)"b";
	args[n++] = (char *)"-p", args[n++] = (char *)"p";
	for (int i = 0; i < 11; i++) {
		snprintf(k[i], sizeof(k[i]), "--tag=k%d=v", i);
		args[n++] = k[i];
	}
	args[n] = NULL;
	memset(&err, 0, sizeof(err));
	assert_int_equal(du_config_load(&cfg, DU_TOOL_UPLOAD, n - 1, args, &err), DU_OK);
	assert_int_equal(n - 8, 10);
	assert_string_equal(cfg.tags[9], "k9=v");
	du_config_release(&cfg);
	assert_int_equal(du_config_load(&cfg, DU_TOOL_UPLOAD, n, args, &err), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "tags: 11 tags; S3 allows at most 10 (from flag --tag)");

	/* characters */
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--tag", "a b#c=x", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "tags: key \"a b#c\" has '#', not allowed in S3 tags "
				     "(letters, digits, space, + - = . _ : / @) (from flag --tag)");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--tag", "site=A&B", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "tags: value of \"site\" has '&', not allowed in S3 tags "
				     "(letters, digits, space, + - = . _ : / @) (from flag --tag)");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--tag", "site=a\tb", NULL), DU_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "has '\\x09'"));
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--tag", "Ok +-=._:/@ 9=a +-=._:/@ Z",
			      "--tag", "ünï=çödé ✓", NULL), DU_OK);
	assert_string_equal(cfg.tags[0], "Ok +-=._:/@ 9=a +-=._:/@ Z"); /* key "Ok +-", value "._:/@ 9=..." */
	du_config_release(&cfg);

	/* lengths, in code points */
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--tag=site=", NULL), DU_OK);
	du_config_release(&cfg);
	char arg[2048];
	snprintf(arg, sizeof(arg), "site=%s", repeat("x", 300));
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--tag", arg, NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "tags: value of \"site\" is 300 characters; S3 allows 256 (from flag --tag)");
	snprintf(arg, sizeof(arg), "site=%s", repeat("é", 256)); /* 512 bytes, 256 characters */
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--tag", arg, NULL), DU_OK);
	du_config_release(&cfg);
	snprintf(arg, sizeof(arg), "site=%s", repeat("✓", 257));
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--tag", arg, NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "tags: value of \"site\" is 257 characters; S3 allows 256 (from flag --tag)");
	snprintf(arg, sizeof(arg), "%s=v", repeat("ü", 128));
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--tag", arg, NULL), DU_OK);
	du_config_release(&cfg);
	snprintf(arg, sizeof(arg), "%s=v", repeat("k", 129));
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--tag", arg, NULL), DU_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "is 129 characters; S3 allows 1 to 128 (from flag --tag)"));
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--tag", "=v", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "tags: key \"\" is 0 characters; S3 allows 1 to 128 (from flag --tag)");

	/* the header: 10 tags of 128 + 256 non-ASCII characters are 34 KiB percent-encoded */
	char *big[24] = { (char *)"du-test", (char *)"-d", dirpath, (char *)"-b", (char *)"b", (char *)"-p", (char *)"p" };
	static char tbuf[10][1600];
	int nb = 7;
	for (int i = 0; i < 10; i++) {
		snprintf(tbuf[i], sizeof(tbuf[i]), "--tag=%d%s=%s", i, repeat("ü", 100), repeat("é", 256));
		big[nb++] = tbuf[i];
	}
	big[nb] = NULL;
	assert_int_equal(du_config_load(&cfg, DU_TOOL_UPLOAD, nb, big, &err), DU_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "bytes as the x-amz-tagging header (percent-encoded); du sends at most 4096"));
	nb = 7 + 1; /* one such tag: 2.1 KiB encoded */
	big[nb] = NULL;
	assert_int_equal(du_config_load(&cfg, DU_TOOL_UPLOAD, nb, big, &err), DU_OK);
	assert_true(du_config_tagging(cfg.tags, NULL, 0) > 2000);
	du_config_release(&cfg);

	/* invalid UTF-8: a stray byte, an overlong '/', a surrogate, a cut sequence */
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--tag", "site=a\xff", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "tags: value of \"site\" is not valid UTF-8 (from flag --tag)");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--tag", "a\xc0\xaf=v", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "tags: key \"a\\xC0\\xAF\" is not valid UTF-8 (from flag --tag)");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--tag", "k=\xed\xa0\x80", NULL), DU_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "is not valid UTF-8"));
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--tag", "k=\xe2\x9c", NULL), DU_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "is not valid UTF-8"));

	/* reserved prefix, '=' in a key */
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--tag", "aws:site=A1", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "tags: key \"aws:site\" starts with 'aws:', which S3 reserves for AWS (from flag --tag)");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--tag", "AWS:x=1", NULL), DU_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "starts with 'aws:'"));
	write_file("eq.json", "{\"tags\": {\"a=b\": \"c\"}}");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "-c", "eq.json", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "tags: key \"a=b\" has '=', where du splits KEY=VALUE; not allowed in a key "
				     "(from eq.json:1)");
}

static void test_metadata_rules(void **state)
{
	(void)state;
	struct du_config cfg;
	struct du_err err;
	char a1[2048], a2[2048];
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--metadata", "Site-ID=A1",
			      "--metadata", "Recorder_Model=AudioMoth 1.2 (x=y)", NULL), DU_OK);
	assert_string_equal(joined(cfg.metadata), "site-id=A1|recorder_model=AudioMoth 1.2 (x=y)");
	du_config_release(&cfg);

	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--metadata", "du-md5=x", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "metadata: key \"du-md5\" starts with 'du-', which du keeps for its own keys "
				     "(du-md5, du-mtime, ...) (from flag --metadata)");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--metadata", "DU-Mtime=x", NULL), DU_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "key \"du-mtime\" starts with 'du-'"));
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--metadata", "site id=x", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "metadata: key \"site id\" has ' ', not allowed in metadata names "
				     "(letters, digits, - _) (from flag --metadata)");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--metadata", "=x", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "metadata: empty key (from flag --metadata)");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--metadata", "site=é", NULL), DU_ERR_CONFIG);
	assert_string_equal(err.msg, "metadata: value of \"site\" has byte 0xC3; S3 takes printable ASCII only in "
				     "metadata (from flag --metadata)");
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--metadata", "site=a\nb", NULL), DU_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "has byte 0x0A"));

	/* 1536 bytes of keys and values in all, over the flags together */
	snprintf(a1, sizeof(a1), "ab=%s", repeat("x", 766));
	snprintf(a2, sizeof(a2), "cd=%s", repeat("y", 766));
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--metadata", a1, "--metadata", a2, NULL), DU_OK);
	du_config_release(&cfg);
	snprintf(a2, sizeof(a2), "cd=%s", repeat("y", 767));
	assert_int_equal(load(&cfg, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--metadata", a1, "--metadata", a2, NULL),
			 DU_ERR_CONFIG);
	assert_string_equal(err.msg, "metadata: 1537 bytes in all; S3 allows 2 KiB, of which du keeps 512 for its "
				     "own keys (from flag --metadata)");
}

static void test_tagging_header(void **state)
{
	(void)state;
	char *tags[] = { "a b=c d", "x=1&2", "p/q==r", "\xc3\xa9t\xc3\xa9=\xe2\x9c\x93", "ok-._~=+@:", "e=", NULL };
	const char *want = "a%20b=c%20d&x=1%262&p%2Fq=%3Dr&%C3%A9t%C3%A9=%E2%9C%93&ok-._~=%2B%40%3A&e=";
	char buf[256];
	size_t n = du_config_tagging(tags, buf, sizeof(buf));
	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
	/* like snprintf: the length needed, whatever fits */
	assert_int_equal(du_config_tagging(tags, NULL, 0), strlen(want));
	assert_int_equal(du_config_tagging(tags, buf, 6), strlen(want));
	assert_string_equal(buf, "a%20b");
	char *one[] = { "site=A1", NULL };
	assert_int_equal(du_config_tagging(one, buf, sizeof(buf)), 7);
	assert_string_equal(buf, "site=A1");
	/* none */
	assert_int_equal(du_config_tagging(NULL, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	char *empty[] = { NULL };
	assert_int_equal(du_config_tagging(empty, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
}

static void test_maps_dump_and_stored(void **state)
{
	(void)state;
	struct du_config a, b = {0}, base, d;
	struct du_err err;
	assert_int_equal(load(&a, DU_TOOL_UPLOAD, &err, UPLOAD_OK, "--tag", "project=bats-2026", "--tag",
			      "site=A 1", "--metadata", "Site=A1", NULL), DU_OK);
	/* --dump-config: JSON objects, in order */
	char *dump = du_config_dump_json(&a, DU_TOOL_UPLOAD);
	cJSON *root = cJSON_Parse(dump);
	cJSON *tags = cJSON_GetObjectItemCaseSensitive(dump_entry(root, "tags"), "value");
	assert_true(cJSON_IsObject(tags));
	assert_int_equal(cJSON_GetArraySize(tags), 2);
	assert_string_equal(tags->child->string, "project");
	assert_string_equal(tags->child->valuestring, "bats-2026");
	assert_string_equal(tags->child->next->string, "site");
	assert_string_equal(tags->child->next->valuestring, "A 1");
	assert_string_equal(dump_source(root, "tags"), "flag --tag");
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(dump_entry(root, "metadata"), "value");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(meta, "site")->valuestring, "A1");
	cJSON_Delete(root);
	free(dump);

	/* The session's stored JSON: objects that load back as the same lists. */
	char *json = du_config_to_json(&a);
	assert_non_null(strstr(json, "\"tags\":{\"project\":\"bats-2026\",\"site\":\"A 1\"}"));
	assert_non_null(strstr(json, "\"metadata\":{\"site\":\"A1\"}"));
	assert_int_equal(du_config_apply_json(&b, json, "config_history of session 9", &err), DU_OK);
	assert_string_equal(joined(b.tags), joined(a.tags));
	assert_string_equal(joined(b.metadata), "site=A1");
	char *again = du_config_to_json(&b);
	assert_string_equal(again, json);
	free(again);
	du_config_release(&b);

	/* A retry tags as the session did, whatever today's environment says (as storage_class). */
	setenv("DU_TAGS", "{\"site\": \"elsewhere\"}", 1);
	assert_int_equal(load(&base, DU_TOOL_RETRY, &err, "-s", "9", NULL), DU_OK);
	assert_string_equal(joined(base.tags), "site=elsewhere");
	assert_int_equal(du_config_derive(&d, &base, json, 9, &err), DU_OK);
	assert_string_equal(joined(d.tags), "project=bats-2026|site=A 1");
	assert_string_equal(du_config_source(&d, "tags"), "config_history of session 9");
	assert_string_equal(joined(base.tags), "site=elsewhere");
	du_config_release(&d);
	free(json);
	/* A session stored without tags ({}) has none on retry either. */
	unsetenv("DU_TAGS");
	du_config_release(&a);
	assert_int_equal(load(&a, DU_TOOL_UPLOAD, &err, UPLOAD_OK, NULL), DU_OK);
	json = du_config_to_json(&a);
	assert_non_null(strstr(json, "\"tags\":{}"));
	assert_int_equal(du_config_derive(&d, &base, json, 9, &err), DU_OK);
	assert_null(d.tags);
	du_config_release(&d);
	/* Copies are deep: base and a derived copy are released independently. */
	assert_int_equal(du_config_derive(&d, &base, NULL, 9, &err), DU_OK);
	assert_ptr_not_equal(d.tags, base.tags);
	assert_string_equal(joined(d.tags), "site=elsewhere");
	du_config_release(&d);
	du_config_release(&base);
	du_config_release(&a);
	free(json);

	/* --help */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	du_config_usage(DU_TOOL_UPLOAD, f);
	fclose(f);
	assert_non_null(strstr(buf, "--tag KEY=VALUE"));
	assert_non_null(strstr(buf, "--metadata KEY=VALUE"));
	free(buf);
}

/* docs/CONFIG.md is generated from the table: it must not drift. */
static void test_reference_doc_current(void **state)
{
	(void)state;
	const char *top = getenv("DU_TOP");
	char path[4096];
	snprintf(path, sizeof(path), "%s/docs/CONFIG.md", top && *top ? top : origdir);
	FILE *f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s", path);
	char *want = NULL, *have = NULL;
	size_t wl = 0, hl = 0;
	FILE *m = open_memstream(&want, &wl);
	du_config_reference_markdown(m);
	fclose(m);
	m = open_memstream(&have, &hl);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, m);
	fclose(m);
	fclose(f);
	if (strcmp(want, have))
		fail_msg("docs/CONFIG.md is out of date: regenerate it with make docs");
	assert_non_null(strstr(want, "`max_workers`"));
	free(want);
	free(have);
}

static void test_parse_duration(void **state)
{
	(void)state;
	static const struct { const char *s; double v; } good[] = {
		{ "90m", 5400 }, { "2h", 7200 }, { "3s", 3 }, { "1h30m", 5400 }, { "45", 45 },
		{ "1.5h", 5400 }, { "1d", 86400 }, { "250ms", 0.25 }, { "off", 0 }, { "0", 0 },
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		double v = -1;
		assert_int_equal(du_parse_duration(good[i].s, &v), DU_OK);
		assert_true(v > good[i].v - 1e-9 && v < good[i].v + 1e-9);
	}
	static const char *const bad[] = { "12q", "-5m", "1h30", "h", "", "2 h", "1y", "400d", NULL };
	for (int i = 0; bad[i]; i++) {
		double v = -1;
		if (du_parse_duration(bad[i], &v) != DU_ERR_CONFIG)
			fail_msg("'%s' parsed as a duration", bad[i]);
		assert_true(v == -1);
	}
}

static void test_budget(void **state)
{
	(void)state;
	struct du_budget b;
	char why[200];
	assert_int_equal(du_budget_parse("5GiB/day", &b, why, sizeof(why)), 0);
	assert_true(b.bytes == 5ull << 30 && b.per == DU_BUDGET_DAY);
	assert_int_equal(du_budget_parse("500MiB/hour", &b, why, sizeof(why)), 0);
	assert_true(b.bytes == 500ull << 20 && b.per == DU_BUDGET_HOUR);
	assert_int_equal(du_budget_parse("off", &b, why, sizeof(why)), 0);
	assert_true(b.bytes == 0);
	assert_int_equal(du_budget_parse("5GiB/fortnight", &b, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "not 'fortnight'"));
	assert_int_equal(du_budget_parse("5GiB", &b, why, sizeof(why)), -1);
	assert_int_equal(du_budget_parse("12q/day", &b, why, sizeof(why)), -1);

	/* Periods in local time: Monday 2026-12-07 10:20 UTC, in UTC. */
	char *tz = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
	setenv("TZ", "UTC", 1);
	tzset();
	time_t now = 1796637600 + 20 * 60, start, renews;  /* 2026-12-07 10:20:00 UTC */
	static const struct { int per; time_t start, renews; } want[] = {
		{ DU_BUDGET_HOUR, 1796637600, 1796637600 + 3600 },
		{ DU_BUDGET_DAY, 1796601600, 1796601600 + 86400 },           /* midnight to midnight */
		{ DU_BUDGET_WEEK, 1796601600, 1796601600 + 7 * 86400 },      /* from Monday */
		{ DU_BUDGET_MONTH, 1796083200, 1798761600 },                  /* Dec 1 .. Jan 1 */
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct du_budget p = { .bytes = 1, .per = want[i].per };
		du_budget_period(&p, now, &start, &renews);
		assert_int_equal(start, want[i].start);
		assert_int_equal(renews, want[i].renews);
	}
	if (tz) {
		setenv("TZ", tz, 1);
		free(tz);
	} else {
		unsetenv("TZ");
	}
	tzset();
}

static void test_parse_size(void **state)
{
	(void)state;
	static const struct { const char *s; uint64_t v; } good[] = {
		{ "64MiB", 64ull << 20 }, { "64M", 64ull << 20 }, { "8m", 8ull << 20 },
		{ "1G", 1ull << 30 }, { "1GiB", 1ull << 30 }, { "512KiB", 512ull << 10 },
		{ "5242880", 5242880 }, { "64MB", 64ull << 20 }, { "2 TiB", 2ull << 40 },
		{ "0", 0 }, { "10b", 10 }, { "18446744073709551615", UINT64_MAX }, { "16777215TiB", 16777215ull << 40 },
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint64_t v = 1;
		if (du_parse_size(good[i].s, &v) != DU_OK || v != good[i].v)
			fail_msg("'%s' parsed wrong", good[i].s);
	}
	static const char *const bad[] = {
		"", "   ", "-5", "5x", "M", "1.5G", "64 MiBs", "18446744073709551616", "16777216TiB",
		"99999999999999999999", "0x10", "12 34",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 77;
		if (du_parse_size(bad[i], &v) == DU_OK)
			fail_msg("'%s' accepted", bad[i]);
		assert_int_equal(v, 77);
	}
	assert_int_not_equal(du_parse_size(NULL, NULL), DU_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_precedence_layers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dotenv_never_overrides, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dotenv_syntax_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_json_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_key_suggestion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_required_per_tool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_local_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prefix_and_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_use_find_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_flags_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help_and_version_short_circuit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_flags_per_tool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_configured, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secrets_redacted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_json_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_derive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reference_doc_current, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_duration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_maps_layers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_maps_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tags_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metadata_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tagging_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_maps_dump_and_stored, setup, teardown),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}

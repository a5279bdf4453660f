/*
 * test_creds: the AWS credential chain, the INI dialect of the AWS files, credential_process,
 * IMDSv2 against a local look-alike (tests/unit/imds_server.py), refresh under threads, region.
 *
 * Every test runs in a fresh HOME under mkdtemp with all AWS_* variables cleared and
 * AWS_EC2_METADATA_DISABLED=true (and the endpoint pointed at a closed local port, in case), so
 * nothing ever reaches 169.254.169.254; the IMDS tests point the endpoint at the local server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "du/creds.h"
#include "du/ini.h"
#include "du/log.h"

/* Every secret the tests hand out; none may ever appear in an error message. */
#define ENV_SK "envSecret/NeverPrintMe+0001"
#define ENV_TOKEN "envSessionToken-NeverPrintMe"
#define FILE_SK "fileSecret/NeverPrintMe+0002"
#define WORK_SK "workSecret/NeverPrintMe+0003"
#define CFG_SK "cfgSecret/NeverPrintMe+0004"
#define PROC_SK "procSecret/NeverPrintMe+0005"
#define GARBAGE "garbageSecret-NeverPrintMe-0006"
#define IMDS_SK "imdsSecretKey/ThisMustNeverBePrinted+0123"
#define IMDS_TOKEN "imdsSessionToken-ThisMustNeverBePrinted"

static const char *const secrets[] = {
	ENV_SK, ENV_TOKEN, FILE_SK, WORK_SK, CFG_SK, PROC_SK, GARBAGE, IMDS_SK, IMDS_TOKEN,
	"NeverPrintMe",
};

static char dir[256];
static pid_t imds_pid = -1;

static const char *const aws_vars[] = {
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
	"AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_SHARED_CREDENTIALS_FILE",
	"AWS_CONFIG_FILE", "AWS_EC2_METADATA_SERVICE_ENDPOINT", "DU_CREDS_REFRESH_MARGIN",
	"DU_CREDS_PROCESS_TIMEOUT",
};

static void assert_no_secret(const struct du_err *e)
{
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		if (strstr(e->msg, secrets[i]) || strstr(e->hint, secrets[i]))
			fail_msg("secret '%s' in error message: %s", secrets[i], e->msg);
	}
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("'%s' not found in: %s", needle, hay);
}

static int setup(void **state)
{
	(void)state;
	const char *base = getenv("DU_TEST_TMP");
	snprintf(dir, sizeof(dir), "%s/creds.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	char aws[300];
	snprintf(aws, sizeof(aws), "%s/.aws", dir);
	if (mkdir(aws, 0700))
		return -1;
	for (size_t i = 0; i < sizeof(aws_vars) / sizeof(aws_vars[0]); i++)
		unsetenv(aws_vars[i]);
	setenv("HOME", dir, 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	/* Should the switch ever be ignored, IMDS is a closed local port, never 169.254.169.254. */
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9", 1);
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void imds_stop(void)
{
	if (imds_pid > 0) {
		kill(imds_pid, SIGTERM);
		waitpid(imds_pid, NULL, 0);
		imds_pid = -1;
	}
}

static int teardown(void **state)
{
	(void)state;
	imds_stop();
	if (dir[0])
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	dir[0] = '\0';
	return 0;
}

/* Write dir/rel with content; returns the full path (static buffer rotated over 4 calls). */
static const char *write_file(const char *rel, const char *content, mode_t mode)
{
	static char paths[4][512];
	static int k;
	char *p = paths[k++ % 4];
	snprintf(p, 512, "%s/%s", dir, rel);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(p, mode), 0);
	return p;
}

static const char *path_of(const char *rel)
{
	static char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return p;
}

static int read_runs(void)
{
	FILE *f = fopen(path_of("runs"), "r");
	int n = 0;
	if (!f)
		return 0;
	if (fscanf(f, "%d", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

/*
 * A credential_process script: counts its runs in dir/runs, then runs body with $n the run
 * number; print_creds SECONDS prints the JSON with an Expiration SECONDS ahead (0: none).
 */
static const char *process_script(const char *body)
{
	char text[4096];
	snprintf(text, sizeof(text),
		 "#!/bin/sh\n"
		 "n=$(cat '%s/runs' 2>/dev/null || echo 0); n=$((n + 1)); echo $n > '%s/runs'\n"
		 "print_creds() {\n"
		 "  if [ \"$1\" -gt 0 ]; then\n"
		 "    exp=$(date -u -d \"@$(( $(date +%%s) + $1 ))\" +%%Y-%%m-%%dT%%H:%%M:%%SZ)\n"
		 "    printf '{\"Version\": 1, \"AccessKeyId\": \"AKIDRUN%%s\", \"SecretAccessKey\": "
		 "\"%s\", \"SessionToken\": \"tok%%s\", \"Expiration\": \"%%s\"}\\n' \"$n\" \"$n\" \"$exp\"\n"
		 "  else\n"
		 "    printf '{\"Version\": 1, \"AccessKeyId\": \"AKIDRUN%%s\", \"SecretAccessKey\": "
		 "\"%s\"}\\n' \"$n\"\n"
		 "  fi\n"
		 "}\n"
		 "%s\n",
		 dir, dir, PROC_SK, PROC_SK, body);
	const char *p = write_file("proc.sh", text, 0700);
	char cfg[1024];
	snprintf(cfg, sizeof(cfg), "[profile proc]\ncredential_process = %s\nregion = eu-central-1\n", p);
	write_file(".aws/config", cfg, 0600);
	return p;
}

static void test_env(void **state)
{
	(void)state;
	/* A [default] in the file must lose against the environment. */
	write_file(".aws/credentials", "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = " FILE_SK "\n", 0600);
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", ENV_SK, 1);
	setenv("AWS_SESSION_TOKEN", ENV_TOKEN, 1);
	struct du_creds_provider *cp = NULL;
	struct du_err err = { 0 };
	assert_int_equal(du_creds_provider_new(&cp, "default", false, &err), DU_OK);
	struct du_creds c;
	assert_int_equal(du_creds_get(cp, &c, &err), DU_OK);
	assert_string_equal(c.access_key, "AKIDENV");
	assert_string_equal(c.secret_key, ENV_SK);
	assert_string_equal(c.session_token, ENV_TOKEN);
	assert_int_equal(c.expires, 0);
	assert_string_equal(c.source, "environment");
	du_creds_wipe(&c);
	assert_string_equal(c.secret_key, "");
	assert_string_equal(c.access_key, "");
	du_creds_provider_free(cp);
}

static void test_env_partial(void **state)
{
	(void)state;
	struct du_creds_provider *cp = NULL;
	struct du_err err = { 0 };
	setenv("AWS_SECRET_ACCESS_KEY", ENV_SK, 1);
	assert_int_equal(du_creds_provider_new(&cp, NULL, false, &err), DU_ERR_S3_AUTH);
	assert_null(cp);
	assert_string_equal(err.msg, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
	assert_no_secret(&err);
	unsetenv("AWS_SECRET_ACCESS_KEY");
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	assert_int_equal(du_creds_provider_new(&cp, NULL, false, &err), DU_ERR_S3_AUTH);
	assert_string_equal(err.msg, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
}

static void test_profile_credentials_file(void **state)
{
	(void)state;
	write_file(".aws/credentials",
		   "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = " FILE_SK "\n"
		   "\n[work]\naws_access_key_id=AKIDWORK\naws_secret_access_key=" WORK_SK "\n"
		   "aws_session_token = worktoken\n",
		   0600);
	/* Explicit profile: the environment is not consulted. */
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", ENV_SK, 1);
	struct du_creds_provider *cp = NULL;
	struct du_err err = { 0 };
	assert_int_equal(du_creds_provider_new(&cp, "work", true, &err), DU_OK);
	struct du_creds c;
	assert_int_equal(du_creds_get(cp, &c, &err), DU_OK);
	assert_string_equal(c.access_key, "AKIDWORK");
	assert_string_equal(c.secret_key, WORK_SK);
	assert_string_equal(c.session_token, "worktoken");
	assert_int_equal(c.expires, 0);
	assert_contains(c.source, "profile 'work'");
	assert_contains(c.source, ".aws/credentials");
	du_creds_wipe(&c);
	du_creds_provider_free(cp);

	/* Not explicit, no environment: [default] of the file. */
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	assert_int_equal(du_creds_provider_new(&cp, "default", false, &err), DU_OK);
	assert_int_equal(du_creds_get(cp, &c, &err), DU_OK);
	assert_string_equal(c.access_key, "AKIDFILE");
	assert_string_equal(c.session_token, "");
	du_creds_wipe(&c);
	du_creds_provider_free(cp);

	/* AWS_SHARED_CREDENTIALS_FILE moves the file. */
	const char *alt = write_file("alt-creds", "[work]\naws_access_key_id = AKIDALT\naws_secret_access_key = " WORK_SK "\n", 0600);
	setenv("AWS_SHARED_CREDENTIALS_FILE", alt, 1);
	assert_int_equal(du_creds_provider_new(&cp, "work", true, &err), DU_OK);
	assert_int_equal(du_creds_get(cp, &c, &err), DU_OK);
	assert_string_equal(c.access_key, "AKIDALT");
	du_creds_wipe(&c);
	du_creds_provider_free(cp);
}

static void test_profile_config_file(void **state)
{
	(void)state;
	write_file(".aws/config",
		   "[default]\nregion = eu-west-3\n"
		   "[profile   cfg]\naws_access_key_id = AKIDCFG\naws_secret_access_key = " CFG_SK "\n"
		   "[bare]\naws_access_key_id = AKIDBARE\naws_secret_access_key = " CFG_SK "\n",
		   0600);
	struct du_creds_provider *cp = NULL;
	struct du_err err = { 0 };
	struct du_creds c;
	assert_int_equal(du_creds_provider_new(&cp, "cfg", true, &err), DU_OK);
	assert_int_equal(du_creds_get(cp, &c, &err), DU_OK);
	assert_string_equal(c.access_key, "AKIDCFG");
	assert_string_equal(c.secret_key, CFG_SK);
	assert_contains(c.source, ".aws/config");
	du_creds_wipe(&c);
	du_creds_provider_free(cp);
	/* In the config file a section without "profile " is not a profile (except default). */
	assert_int_equal(du_creds_provider_new(&cp, "bare", true, &err), DU_ERR_S3_AUTH);
	assert_contains(err.msg, "profile 'bare' not found");
	assert_no_secret(&err);
	/* AWS_CONFIG_FILE moves the file. */
	const char *alt = write_file("alt-config", "[profile cfg]\naws_access_key_id = AKIDALTCFG\naws_secret_access_key = " CFG_SK "\n", 0600);
	setenv("AWS_CONFIG_FILE", alt, 1);
	assert_int_equal(du_creds_provider_new(&cp, "cfg", true, &err), DU_OK);
	assert_int_equal(du_creds_get(cp, &c, &err), DU_OK);
	assert_string_equal(c.access_key, "AKIDALTCFG");
	du_creds_wipe(&c);
	du_creds_provider_free(cp);
}

static void test_unknown_profile(void **state)
{
	(void)state;
	write_file(".aws/credentials", "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = " FILE_SK "\n[a]\n", 0600);
	write_file(".aws/config", "[profile b]\nregion = x\n[profile a]\n[sso-session s]\n", 0600);
	struct du_creds_provider *cp = NULL;
	struct du_err err = { 0 };
	assert_int_equal(du_creds_provider_new(&cp, "zzz", true, &err), DU_ERR_S3_AUTH);
	assert_null(cp);
	char want[1024];
	snprintf(want, sizeof(want),
		 "profile 'zzz' not found; profiles that exist: a, b, default (in %s/.aws/credentials, "
		 "%s/.aws/config)",
		 dir, dir);
	assert_string_equal(err.msg, want);
	assert_no_secret(&err);
	/* A profile that exists but has nothing usable is named with FILE:LINE. */
	assert_int_equal(du_creds_provider_new(&cp, "b", true, &err), DU_ERR_S3_AUTH);
	assert_contains(err.msg, "profile 'b'");
	assert_contains(err.msg, "config:1");
	assert_contains(err.msg, "has no credentials");
	/* No files at all. */
	unlink(path_of(".aws/credentials"));
	unlink(path_of(".aws/config"));
	assert_int_equal(du_creds_provider_new(&cp, "zzz", true, &err), DU_ERR_S3_AUTH);
	assert_contains(err.msg, "profiles that exist: none");
}

static void test_partial_and_unsupported_profile(void **state)
{
	(void)state;
	write_file(".aws/credentials",
		   "# keys\n[half]\naws_access_key_id = AKIDHALF\n\n[other]\naws_secret_access_key = " FILE_SK "\n",
		   0600);
	write_file(".aws/config",
		   "[profile role]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = half\n"
		   "[profile sso]\nsso_start_url = https://example.awsapps.com/start\n",
		   0600);
	struct du_creds_provider *cp = NULL;
	struct du_err err = { 0 };
	assert_int_equal(du_creds_provider_new(&cp, "half", true, &err), DU_ERR_S3_AUTH);
	char want[512];
	snprintf(want, sizeof(want), "%s/.aws/credentials:2", dir);
	assert_contains(err.msg, want);
	assert_contains(err.msg, "no aws_secret_access_key");
	assert_int_equal(du_creds_provider_new(&cp, "other", true, &err), DU_ERR_S3_AUTH);
	assert_contains(err.msg, "credentials:5");
	assert_contains(err.msg, "no aws_access_key_id");
	assert_no_secret(&err);
	assert_int_equal(du_creds_provider_new(&cp, "role", true, &err), DU_ERR_S3_AUTH);
	assert_contains(err.msg, "profile 'role' uses role_arn");
	assert_contains(err.msg, "does not support yet");
	assert_contains(err.msg, "config:2");
	assert_int_equal(du_creds_provider_new(&cp, "sso", true, &err), DU_ERR_S3_AUTH);
	assert_contains(err.msg, "profile 'sso' uses sso_start_url");
	/* An indented line continues the value above it (configparser); say so instead of "no secret". */
	write_file(".aws/credentials", "[ind]\naws_access_key_id = AKIDIND\n  aws_secret_access_key = " FILE_SK "\n", 0600);
	assert_int_equal(du_creds_provider_new(&cp, "ind", true, &err), DU_ERR_S3_AUTH);
	assert_contains(err.msg, "aws_access_key_id at ");
	assert_contains(err.msg, "credentials:2 is followed by an indented line");
	assert_no_secret(&err);
	/* The default profile in the chain is held to the same rule: no silent skip. */
	write_file(".aws/config", "[default]\nsso_session = corp\n", 0600);
	assert_int_equal(du_creds_provider_new(&cp, NULL, false, &err), DU_ERR_S3_AUTH);
	assert_contains(err.msg, "profile 'default' uses sso_session");
}

static void test_malformed_files(void **state)
{
	(void)state;
	struct du_creds_provider *cp = NULL;
	struct du_err err = { 0 };
	char want[512];
	/* A bare line (here a pasted secret) is an error that does not repeat the line. */
	write_file(".aws/credentials", "[default]\naws_access_key_id = AKIDFILE\n" FILE_SK "\n", 0600);
	assert_int_equal(du_creds_provider_new(&cp, "default", true, &err), DU_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s/.aws/credentials:3:", dir);
	assert_contains(err.msg, want);
	assert_no_secret(&err);
	/* Not explicit: the chain reads the files too. */
	assert_int_equal(du_creds_provider_new(&cp, NULL, false, &err), DU_ERR_CONFIG);
	assert_contains(err.msg, want);

	unlink(path_of(".aws/credentials"));
	write_file(".aws/config", "# c\n[profile x\nregion = y\n", 0600);
	assert_int_equal(du_creds_provider_new(&cp, "x", true, &err), DU_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s/.aws/config:2: section header without closing ']'", dir);
	assert_string_equal(err.msg, want);

	write_file(".aws/config", "region = y\n[default]\n", 0600);
	assert_int_equal(du_creds_provider_new(&cp, "x", true, &err), DU_ERR_CONFIG);
	assert_contains(err.msg, "config:1: setting before any '[section]' header");

	write_file(".aws/config", "[default]\n[ ]\n", 0600);
	assert_int_equal(du_creds_provider_new(&cp, "x", true, &err), DU_ERR_CONFIG);
	assert_contains(err.msg, "config:2: empty section name");

	/* Region resolution reports the broken file as well. */
	char region[64];
	assert_int_equal(du_region_resolve(NULL, "eu-west-1", NULL, region, sizeof(region), &err), DU_ERR_CONFIG);
	assert_contains(err.msg, "config:2");

	/* A directory where the file should be. */
	unlink(path_of(".aws/config"));
	assert_int_equal(mkdir(path_of(".aws/config"), 0700), 0);
	assert_int_equal(du_creds_provider_new(&cp, "x", true, &err), DU_ERR_CONFIG);
	assert_contains(err.msg, "is a directory");
	rmdir(path_of(".aws/config"));
}

static void test_comments_whitespace(void **state)
{
	(void)state;
	const char *p = write_file(".aws/credentials",
				   "\xef\xbb\xbf# leading comment\r\n"
				   "; another comment\r\n"
				   "\r\n"
				   "  [ spaced ]   # trailing text after the header\r\n"
				   "   # indented comment\r\n"
				   "AWS_Access_Key_ID   =   AKIDSPACED  \r\n"
				   "aws_secret_access_key:" FILE_SK "\r\n"
				   "s3 =\r\n"
				   "    max_concurrent_requests = 20\r\n"
				   "    addressing_style = path\r\n"
				   "empty =\r\n"
				   "[spaced]\r\n"
				   "region = later\r\n",
				   0600);
	struct du_ini *ini = NULL;
	struct du_err err = { 0 };
	bool missing = true;
	assert_int_equal(du_ini_load(&ini, p, &missing, &err), DU_OK);
	assert_false(missing);
	assert_int_equal(du_ini_section_count(ini), 1);
	assert_string_equal(du_ini_section_name(ini, 0), "spaced");
	int line = 0;
	assert_string_equal(du_ini_get(ini, "spaced", "aws_access_key_id", &line), "AKIDSPACED");
	assert_int_equal(line, 6);
	assert_string_equal(du_ini_get(ini, "spaced", "AWS_SECRET_ACCESS_KEY", NULL), FILE_SK);
	assert_string_equal(du_ini_get(ini, "spaced", "s3", NULL),
			    "\nmax_concurrent_requests = 20\naddressing_style = path");
	assert_null(du_ini_get(ini, "spaced", "max_concurrent_requests", NULL));
	assert_string_equal(du_ini_get(ini, "spaced", "empty", NULL), "");
	assert_string_equal(du_ini_get(ini, "spaced", "region", NULL), "later");
	assert_true(du_ini_has_section(ini, "spaced", &line));
	assert_int_equal(line, 4);
	assert_null(du_ini_get(ini, "Spaced", "region", NULL));
	du_ini_free(ini);

	assert_int_equal(du_ini_load(&ini, path_of("nope"), &missing, &err), DU_OK);
	assert_true(missing);
	assert_int_equal(du_ini_section_count(ini), 0);
	du_ini_free(ini);

	struct du_creds_provider *cp = NULL;
	struct du_creds c;
	assert_int_equal(du_creds_provider_new(&cp, "spaced", true, &err), DU_OK);
	assert_int_equal(du_creds_get(cp, &c, &err), DU_OK);
	assert_string_equal(c.access_key, "AKIDSPACED");
	assert_string_equal(c.secret_key, FILE_SK);
	du_creds_wipe(&c);
	du_creds_provider_free(cp);
}

static void test_process(void **state)
{
	(void)state;
	process_script("print_creds 3600");
	struct du_creds_provider *cp = NULL;
	struct du_err err = { 0 };
	struct du_creds c;
	time_t t0 = time(NULL);
	assert_int_equal(du_creds_provider_new(&cp, "proc", true, &err), DU_OK);
	assert_int_equal(read_runs(), 1);
	assert_int_equal(du_creds_get(cp, &c, &err), DU_OK);
	assert_string_equal(c.access_key, "AKIDRUN1");
	assert_string_equal(c.secret_key, PROC_SK);
	assert_string_equal(c.session_token, "tok1");
	assert_in_range(c.expires, t0 + 3590, t0 + 3610);
	assert_string_equal(c.source, "credential_process of profile 'proc'");
	assert_int_equal(du_creds_get(cp, &c, &err), DU_OK);
	assert_int_equal(read_runs(), 1); /* an hour left: no refresh */
	du_creds_wipe(&c);
	du_creds_provider_free(cp);

	/* Without Expiration the credentials are static: never run again. */
	unlink(path_of("runs"));
	process_script("print_creds 0");
	assert_int_equal(du_creds_provider_new(&cp, "proc", true, &err), DU_OK);
	assert_int_equal(du_creds_get(cp, &c, &err), DU_OK);
	assert_int_equal(c.expires, 0);
	assert_int_equal(du_creds_get(cp, &c, &err), DU_OK);
	assert_int_equal(read_runs(), 1);
	du_creds_wipe(&c);
	du_creds_provider_free(cp);
}

static void test_process_refresh(void **state)
{
	(void)state;
	process_script("print_creds 120");
	struct du_creds_provider *cp = NULL;
	struct du_err err = { 0 };
	struct du_creds c;
	/* Margin 60 s: two minutes left is enough, no refresh. */
	setenv("DU_CREDS_REFRESH_MARGIN", "60", 1);
	assert_int_equal(du_creds_provider_new(&cp, "proc", true, &err), DU_OK);
	assert_int_equal(du_creds_get(cp, &c, &err), DU_OK);
	assert_int_equal(du_creds_get(cp, &c, &err), DU_OK);
	assert_int_equal(read_runs(), 1);
	assert_string_equal(c.access_key, "AKIDRUN1");
	du_creds_provider_free(cp);

	/* Default margin (5 min): every get finds them too close to expiry and runs the process. */
	unsetenv("DU_CREDS_REFRESH_MARGIN");
	unlink(path_of("runs"));
	assert_int_equal(du_creds_provider_new(&cp, "proc", true, &err), DU_OK);
	assert_int_equal(read_runs(), 1);
	assert_int_equal(du_creds_get(cp, &c, &err), DU_OK);
	assert_int_equal(read_runs(), 2);
	assert_string_equal(c.access_key, "AKIDRUN2");
	assert_string_equal(c.session_token, "tok2");
	/* The new ones are short-lived too, but the source is not asked again on every call. */
	assert_int_equal(du_creds_get(cp, &c, &err), DU_OK);
	assert_int_equal(read_runs(), 2);
	du_creds_wipe(&c);
	du_creds_provider_free(cp);
}

static void test_process_default_profile(void **state)
{
	(void)state;
	/* Not explicit, no environment: [default] of the config file with credential_process. */
	const char *script = process_script("print_creds 3600");
	char cfg[1024];
	snprintf(cfg, sizeof(cfg), "[default]\ncredential_process = %s\n", script);
	write_file(".aws/config", cfg, 0600);
	struct du_creds_provider *cp = NULL;
	struct du_err err = { 0 };
	struct du_creds c;
	assert_int_equal(du_creds_provider_new(&cp, NULL, false, &err), DU_OK);
	assert_int_equal(du_creds_get(cp, &c, &err), DU_OK);
	assert_string_equal(c.access_key, "AKIDRUN1");
	assert_string_equal(c.source, "credential_process of profile 'default'");
	du_creds_wipe(&c);
	du_creds_provider_free(cp);
	/* The credentials file's [default] keys come before it. */
	write_file(".aws/credentials", "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = " FILE_SK "\n", 0600);
	assert_int_equal(du_creds_provider_new(&cp, NULL, false, &err), DU_OK);
	assert_int_equal(du_creds_get(cp, &c, &err), DU_OK);
	assert_string_equal(c.access_key, "AKIDFILE");
	assert_int_equal(read_runs(), 1);
	du_creds_wipe(&c);
	du_creds_provider_free(cp);
}

static void test_process_refresh_failure(void **state)
{
	(void)state;
	/* Run 1 works; later runs fail. While the old creds are valid they are still handed out. */
	process_script("if [ $n -gt 1 ]; then echo 'cannot reach the vault' >&2; exit 1; fi\nprint_creds 120");
	struct du_creds_provider *cp = NULL;
	struct du_err err = { 0 };
	struct du_creds c;
	assert_int_equal(du_creds_provider_new(&cp, "proc", true, &err), DU_OK);
	int lvl = du_log_level();
	du_log_set_level(DU_LOG_ERROR); /* the warning is expected */
	assert_int_equal(du_creds_get(cp, &c, &err), DU_OK);
	du_log_set_level(lvl);
	assert_int_equal(read_runs(), 2);
	assert_string_equal(c.access_key, "AKIDRUN1");
	/* ...and the failing source is not hammered: the next get does not rerun it at once. */
	assert_int_equal(du_creds_get(cp, &c, &err), DU_OK);
	assert_int_equal(read_runs(), 2);
	du_creds_wipe(&c);
	du_creds_provider_free(cp);

	/* Once expired, the failure is the answer. */
	unlink(path_of("runs"));
	process_script("if [ $n -gt 1 ]; then exit 1; fi\nprint_creds 1");
	assert_int_equal(du_creds_provider_new(&cp, "proc", true, &err), DU_OK);
	sleep(2);
	assert_int_equal(du_creds_get(cp, &c, &err), DU_ERR_S3_AUTH);
	assert_string_equal(err.msg, "credential_process of profile 'proc' failed with exit status 1");
	du_creds_provider_free(cp);
}

static void test_process_errors(void **state)
{
	(void)state;
	struct du_creds_provider *cp = NULL;
	struct du_err err = { 0 };

	process_script("echo 'no creds for you' >&2; exit 1");
	assert_int_equal(du_creds_provider_new(&cp, "proc", true, &err), DU_ERR_S3_AUTH);
	assert_null(cp);
	assert_string_equal(err.msg, "credential_process of profile 'proc' failed with exit status 1");

	process_script("echo '" GARBAGE " {not json'");
	assert_int_equal(du_creds_provider_new(&cp, "proc", true, &err), DU_ERR_S3_AUTH);
	assert_contains(err.msg, "credential_process of profile 'proc'");
	assert_contains(err.msg, "not a JSON object");
	assert_no_secret(&err);

	process_script("echo '{\"AccessKeyId\": \"AKID\", \"SecretAccessKey\": \"" GARBAGE "\"}'");
	assert_int_equal(du_creds_provider_new(&cp, "proc", true, &err), DU_ERR_S3_AUTH);
	assert_contains(err.msg, "without \"Version\": 1");
	assert_no_secret(&err);

	process_script("echo '{\"Version\": 1, \"AccessKeyId\": \"AKID\", \"SecretAccessKey\": \"" GARBAGE
		       "\", \"Expiration\": \"tomorrow\"}'");
	assert_int_equal(du_creds_provider_new(&cp, "proc", true, &err), DU_ERR_S3_AUTH);
	assert_contains(err.msg, "not ISO 8601");
	assert_no_secret(&err);

	process_script("echo '{\"Version\": 1, \"SecretAccessKey\": \"" GARBAGE "\"}'");
	assert_int_equal(du_creds_provider_new(&cp, "proc", true, &err), DU_ERR_S3_AUTH);
	assert_contains(err.msg, "without AccessKeyId");
	assert_no_secret(&err);

	/* Output beyond 64 KiB is refused. */
	process_script("head -c 100000 /dev/zero | tr '\\0' 'x'");
	assert_int_equal(du_creds_provider_new(&cp, "proc", true, &err), DU_ERR_S3_AUTH);
	assert_contains(err.msg, "more than 64 KiB");

	/* A hanging process is killed after the timeout. */
	setenv("DU_CREDS_PROCESS_TIMEOUT", "1", 1);
	process_script("exec sleep 30");
	time_t t0 = time(NULL);
	assert_int_equal(du_creds_provider_new(&cp, "proc", true, &err), DU_ERR_S3_AUTH);
	assert_true(time(NULL) - t0 <= 3);
	assert_string_equal(err.msg, "credential_process of profile 'proc' did not finish within 1 s");

	/* Offsets and fractions in Expiration. */
	unsetenv("DU_CREDS_PROCESS_TIMEOUT");
	process_script("echo '{\"Version\": 1, \"AccessKeyId\": \"AKID\", \"SecretAccessKey\": \"" PROC_SK
		       "\", \"Expiration\": \"2100-01-01T02:00:00.123+02:00\"}'");
	assert_int_equal(du_creds_provider_new(&cp, "proc", true, &err), DU_OK);
	struct du_creds c;
	assert_int_equal(du_creds_get(cp, &c, &err), DU_OK);
	assert_int_equal(c.expires, 4102444800); /* 2100-01-01T00:00:00Z */
	du_creds_wipe(&c);
	du_creds_provider_free(cp);
}

/* Start imds_server.py with args; fills the endpoint URL. */
static void imds_start(char *url, size_t urlsz, const char *a1, const char *a2)
{
	const char *top = getenv("DU_TOP");
	char script[1024];
	snprintf(script, sizeof(script), "%s/tests/unit/imds_server.py", top && *top ? top : ".");
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		close(pfd[0]);
		close(pfd[1]);
		execl("/usr/bin/python3", "python3", script, "--log", path_of("imds.log"), a1, a2, (char *)NULL);
		_exit(127);
	}
	imds_pid = pid;
	close(pfd[1]);
	char buf[32] = { 0 };
	size_t len = 0;
	struct pollfd p = { .fd = pfd[0], .events = POLLIN };
	while (len < sizeof(buf) - 1 && !strchr(buf, '\n') && poll(&p, 1, 15000) > 0) {
		ssize_t n = read(pfd[0], buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(pfd[0]);
	int port = atoi(buf);
	if (port <= 0)
		fail_msg("imds_server.py did not print a port (%s)", script);
	snprintf(url, urlsz, "http://127.0.0.1:%d/", port);
}

static void test_imds(void **state)
{
	(void)state;
	char url[128];
	imds_start(url, sizeof(url), "--fail-first-token", NULL);
	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
	struct du_creds_provider *cp = NULL;
	struct du_err err = { 0 };
	struct du_creds c;
	time_t t0 = time(NULL);
	assert_int_equal(du_creds_provider_new(&cp, NULL, false, &err), DU_OK);
	assert_int_equal(du_creds_get(cp, &c, &err), DU_OK);
	assert_string_equal(c.access_key, "ASIAIMDSTESTKEY00001");
	assert_string_equal(c.secret_key, IMDS_SK);
	assert_string_equal(c.session_token, IMDS_TOKEN);
	assert_in_range(c.expires, t0 + 6 * 3600 - 10, t0 + 6 * 3600 + 10);
	assert_string_equal(c.source, "instance metadata (role 'du-test-role')");
	du_creds_wipe(&c);
	du_creds_provider_free(cp);
	/* The first token PUT failed (503) and was retried; GETs carried the token (else 401). */
	char *log = du_test_slurp(path_of("imds.log"));
	assert_non_null(log);
	assert_string_equal(log,
			    "PUT /latest/api/token 503\n"
			    "PUT /latest/api/token 200\n"
			    "GET /latest/meta-data/iam/security-credentials/ 200\n"
			    "GET /latest/meta-data/iam/security-credentials/du-test-role 200\n");
	free(log);
	imds_stop();

	/* An instance without a role: the chain ends with that reason. */
	unlink(path_of("imds.log"));
	imds_start(url, sizeof(url), "--no-role", NULL);
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
	assert_int_equal(du_creds_provider_new(&cp, NULL, false, &err), DU_ERR_S3_AUTH);
	assert_contains(err.msg, "instance metadata (instance has no IAM role)");
	imds_stop();
}

static void test_imds_unreachable(void **state)
{
	(void)state;
	/* A port that was free a moment ago: connection refused, like a machine off EC2 fails fast. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
	close(s);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(a.sin_port));
	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
	struct du_creds_provider *cp = NULL;
	struct du_err err = { 0 };
	time_t t0 = time(NULL);
	assert_int_equal(du_creds_provider_new(&cp, NULL, false, &err), DU_ERR_S3_AUTH);
	assert_true(time(NULL) - t0 <= 5);
	assert_contains(err.msg, "instance metadata (unreachable)");
}

static void test_no_creds(void **state)
{
	(void)state;
	struct du_creds_provider *cp = NULL;
	struct du_err err = { 0 };
	write_file(".aws/config", "[default]\nregion = eu-west-1\n", 0600);
	assert_int_equal(du_creds_provider_new(&cp, NULL, false, &err), DU_ERR_S3_AUTH);
	assert_null(cp);
	char want[1024];
	snprintf(want, sizeof(want),
		 "no AWS credentials found; looked in: environment (AWS_ACCESS_KEY_ID), "
		 "%s/.aws/credentials (missing), %s/.aws/config (profile 'default' has no keys), "
		 "instance metadata (disabled)",
		 dir, dir);
	assert_string_equal(err.msg, want);
	assert_true(err.hint[0]);
	assert_int_equal(du_exit_code(err.code), DU_EXIT_S3);
}

static void test_region(void **state)
{
	(void)state;
	char r[32];
	struct du_err err = { 0 };
	assert_int_equal(du_region_resolve(NULL, "eu-west-1", NULL, r, sizeof(r), &err), DU_OK);
	assert_string_equal(r, "eu-west-1");
	write_file(".aws/config", "[default]\nregion = us-west-2\n[profile work]\nregion = ap-south-1\n", 0600);
	assert_int_equal(du_region_resolve(NULL, "eu-west-1", NULL, r, sizeof(r), &err), DU_OK);
	assert_string_equal(r, "us-west-2");
	assert_int_equal(du_region_resolve(NULL, "eu-west-1", "work", r, sizeof(r), &err), DU_OK);
	assert_string_equal(r, "ap-south-1");
	setenv("AWS_PROFILE", "work", 1);
	assert_int_equal(du_region_resolve(NULL, "eu-west-1", NULL, r, sizeof(r), &err), DU_OK);
	assert_string_equal(r, "ap-south-1");
	assert_int_equal(du_region_resolve(NULL, "eu-west-1", "nosuch", r, sizeof(r), &err), DU_OK);
	assert_string_equal(r, "eu-west-1");
	setenv("AWS_DEFAULT_REGION", "ca-central-1", 1);
	assert_int_equal(du_region_resolve(NULL, "eu-west-1", "work", r, sizeof(r), &err), DU_OK);
	assert_string_equal(r, "ca-central-1");
	setenv("AWS_REGION", "sa-east-1", 1);
	assert_int_equal(du_region_resolve(NULL, "eu-west-1", "work", r, sizeof(r), &err), DU_OK);
	assert_string_equal(r, "sa-east-1");
	assert_int_equal(du_region_resolve("me-south-1", "eu-west-1", "work", r, sizeof(r), &err), DU_OK);
	assert_string_equal(r, "me-south-1");
	char tiny[4];
	assert_int_equal(du_region_resolve("me-south-1", NULL, NULL, tiny, sizeof(tiny), &err), DU_ERR_CONFIG);
}

struct worker {
	struct du_creds_provider *cp;
	pthread_barrier_t *barrier;
	int rc;
	char access_key[128];
	time_t expires;
	bool secret_ok;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct du_creds c;
	struct du_err err = { 0 };
	pthread_barrier_wait(w->barrier);
	w->rc = du_creds_get(w->cp, &c, &err);
	if (!w->rc) {
		snprintf(w->access_key, sizeof(w->access_key), "%s", c.access_key);
		w->expires = c.expires;
		w->secret_ok = !strcmp(c.secret_key, PROC_SK);
	}
	du_creds_wipe(&c);
	return NULL;
}

static void run_workers(struct du_creds_provider *cp, struct worker *w, int n)
{
	pthread_t th[8];
	pthread_barrier_t b;
	pthread_barrier_init(&b, NULL, (unsigned)n);
	for (int i = 0; i < n; i++) {
		w[i] = (struct worker){ .cp = cp, .barrier = &b };
		assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&b);
}

static void test_threads_refresh(void **state)
{
	(void)state;
	struct du_creds_provider *cp = NULL;
	struct du_err err = { 0 };
	struct worker w[8];

	/* Still valid but due: one thread refreshes (slowly), the others use the current copy. */
	process_script("if [ $n -gt 1 ]; then sleep 2; fi\nprint_creds 120");
	assert_int_equal(du_creds_provider_new(&cp, "proc", true, &err), DU_OK);
	run_workers(cp, w, 8);
	int fresh = 0;
	for (int i = 0; i < 8; i++) {
		assert_int_equal(w[i].rc, DU_OK);
		assert_true(w[i].secret_ok);
		assert_true(w[i].expires > time(NULL));
		if (!strcmp(w[i].access_key, "AKIDRUN2"))
			fresh++;
		else
			assert_string_equal(w[i].access_key, "AKIDRUN1");
	}
	assert_int_equal(fresh, 1);
	assert_int_equal(read_runs(), 2);
	du_creds_provider_free(cp);

	/* Expired: one thread refreshes, the others wait for it and all get the new ones. */
	unlink(path_of("runs"));
	process_script("if [ $n -gt 1 ]; then sleep 1; print_creds 3600; else print_creds 1; fi");
	assert_int_equal(du_creds_provider_new(&cp, "proc", true, &err), DU_OK);
	sleep(2);
	run_workers(cp, w, 8);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(w[i].rc, DU_OK);
		assert_true(w[i].secret_ok);
		assert_string_equal(w[i].access_key, "AKIDRUN2");
		assert_true(w[i].expires > time(NULL) + 3000);
	}
	assert_int_equal(read_runs(), 2);
	du_creds_provider_free(cp);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	du_log_init("test_creds");
	const struct CMUnitTest tests[] = {
		T(test_env),
		T(test_env_partial),
		T(test_profile_credentials_file),
		T(test_profile_config_file),
		T(test_unknown_profile),
		T(test_partial_and_unsupported_profile),
		T(test_malformed_files),
		T(test_comments_whitespace),
		T(test_process),
		T(test_process_refresh),
		T(test_process_default_profile),
		T(test_process_refresh_failure),
		T(test_process_errors),
		T(test_imds),
		T(test_imds_unreachable),
		T(test_no_creds),
		T(test_region),
		T(test_threads_refresh),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

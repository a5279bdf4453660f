/*
 * Unit tests of the webhook trigger: the pure pieces (payload, signature, headers, URL
 * redaction, key escaping), the sender against tests/lib/receiver.py (retries, no retry on 400,
 * timeouts), and, against the test database from DATABASE_URL, du_trigger_send and the dry run
 * for a real session (payload from the row, streamed file list, spooled signed body, attempts
 * recorded). Live parts fail, not skip, when their environment is missing.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "du/commands.h"
#include "du/config.h"
#include "du/db.h"
#include "du/trigger.h"

extern char **environ;

#define SECRET "whsec_unit_Secret-42"
#define APIKEY "ak_unit_ApiKey-77"

/* ---- helpers ---------------------------------------------------------------------------- */

static struct du_session sample_session(void)
{
	struct du_session s = { 0 };
	s.id = 42;
	s.project_name = "field-2024";
	s.bucket_name = "du-test";
	s.local_directory = "/data/rec \"A\"";
	s.s3_prefix = "site/C1";
	s.status = "completed_with_errors";
	s.total_files = 10;
	s.total_size_bytes = 5000000000000123LL;  /* beyond a double's integer-exact printing by %g */
	s.files_uploaded = 7;
	s.files_failed = 2;
	s.files_skipped = 1;
	s.bytes_uploaded = 4000;
	s.started_at = 1714550400.75;  /* 2024-05-01T08:00:00.75Z */
	s.completed_at = 1714554000;   /* 2024-05-01T09:00:00Z */
	return s;
}

static void cfg_init(struct du_config *c, const char *url)
{
	memset(c, 0, sizeof(*c));
	c->endpoint_url = (char *)url;
	c->timeout = 30;
	c->session_id = 42;
	c->endpoint_api_key_header = "api_key";
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Exact text of a JSON member, to check integers are printed as integers. */
static void assert_raw_member(const char *json, const char *member)
{
	if (!strstr(json, member))
		fail_msg("'%s' not in %s", member, json);
}

static char *run_python(const char *code, const char *arg1, const char *arg2, const char *arg3)
{
	/* Arguments through argv (never through the shell). */
	int fd[2];
	pid_t pid;
	char *argv[] = { "/usr/bin/python3", "-c", (char *)code, (char *)arg1, (char *)arg2, (char *)arg3, NULL };
	posix_spawn_file_actions_t fa;
	assert_int_equal(pipe(fd), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
	posix_spawn_file_actions_addclose(&fa, fd[0]);
	assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(fd[1]);
	char *out = calloc(1, 4096);
	size_t n = 0;
	ssize_t k;
	while ((k = read(fd[0], out + n, 4095 - n)) > 0)
		n += (size_t)k;
	close(fd[0]);
	int st;
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	out[strcspn(out, "\n")] = '\0';
	return out;
}

/* ---- receiver --------------------------------------------------------------------------- */

struct receiver {
	pid_t pid;
	char dir[256];
	char log[300];
	char url[128];
};

static const char *top_dir(void)
{
	const char *t = getenv("DU_TOP");
	return t && *t ? t : ".";
}

static void receiver_start(struct receiver *r, const char *const *extra)
{
	char script[512], portfile[320];
	char *argv[20];
	int n = 0;
	snprintf(r->dir, sizeof(r->dir), "%s/du-trigger-test-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(r->dir));
	snprintf(script, sizeof(script), "%s/tests/lib/receiver.py", top_dir());
	snprintf(portfile, sizeof(portfile), "%s/port", r->dir);
	snprintf(r->log, sizeof(r->log), "%s/requests.jsonl", r->dir);
	argv[n++] = "/usr/bin/python3";
	argv[n++] = script;
	argv[n++] = "--port-file";
	argv[n++] = portfile;
	argv[n++] = "--log";
	argv[n++] = r->log;
	for (; extra && *extra && n < 18; extra++)
		argv[n++] = (char *)*extra;
	argv[n] = NULL;
	assert_int_equal(posix_spawn(&r->pid, argv[0], NULL, NULL, argv, environ), 0);
	for (int i = 0; i < 200; i++) {
		FILE *f = fopen(portfile, "r");
		int port = 0;
		if (f) {
			if (fscanf(f, "%d", &port) == 1 && port > 0) {
				fclose(f);
				snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%d/hook?token=tok_Secret9", port);
				return;
			}
			fclose(f);
		}
		usleep(50000);
	}
	kill(r->pid, SIGKILL);
	waitpid(r->pid, NULL, 0);
	fail_msg("receiver did not start (is %s there?)", script);
}

static void receiver_stop(struct receiver *r)
{
	char cmd[600];
	if (r->pid > 0) {
		kill(r->pid, SIGTERM);
		waitpid(r->pid, NULL, 0);
		r->pid = 0;
	}
	unlink(r->log);
	snprintf(cmd, sizeof(cmd), "%s/port", r->dir);
	unlink(cmd);
	rmdir(r->dir);
}

/* The recorded requests, as a cJSON array (caller deletes). */
static cJSON *receiver_requests(const struct receiver *r)
{
	cJSON *arr = cJSON_CreateArray();
	FILE *f = fopen(r->log, "r");
	char *line = NULL;
	size_t cap = 0;
	if (!f)
		return arr;
	while (getline(&line, &cap, f) > 0) {
		cJSON *o = cJSON_Parse(line);
		assert_non_null(o);
		cJSON_AddItemToArray(arr, o);
	}
	free(line);
	fclose(f);
	return arr;
}

static const char *req_header(const cJSON *req, const char *name)
{
	return jstr(cJSON_GetObjectItemCaseSensitive(req, "headers"), name);
}

struct attempts {
	int n;
	long status[16];
	char error[16][256];
	char excerpt[16][DU_TRIGGER_EXCERPT + 1];
};

static void collect(void *arg, const struct du_trigger_attempt *a)
{
	struct attempts *at = arg;
	if (at->n < 16) {
		at->status[at->n] = a->http_status;
		snprintf(at->error[at->n], sizeof(at->error[0]), "%s", a->error);
		snprintf(at->excerpt[at->n], sizeof(at->excerpt[0]), "%s", a->excerpt);
	}
	at->n++;
}

/* ---- pure pieces ------------------------------------------------------------------------ */

static void test_payload_fields(void **state)
{
	(void)state;
	struct du_session s = sample_session();
	char *json = du_trigger_payload(&s);
	assert_non_null(json);
	cJSON *o = cJSON_Parse(json);
	assert_non_null(o);
	assert_int_equal(cJSON_GetObjectItem(o, "session_id")->valuedouble, 42);
	assert_string_equal(jstr(o, "project"), "field-2024");
	assert_string_equal(jstr(o, "bucket_name"), "du-test");
	assert_string_equal(jstr(o, "s3_prefix"), "site/C1");
	assert_string_equal(jstr(o, "local_directory"), "/data/rec \"A\"");
	assert_string_equal(jstr(o, "status"), "completed_with_errors");
	assert_string_equal(jstr(o, "started_at"), "2024-05-01T08:00:00Z");
	assert_string_equal(jstr(o, "completed_at"), "2024-05-01T09:00:00Z");
	assert_int_equal(cJSON_GetObjectItem(o, "total_files")->valuedouble, 10);
	assert_int_equal(cJSON_GetObjectItem(o, "files_uploaded")->valuedouble, 7);
	assert_int_equal(cJSON_GetObjectItem(o, "files_failed")->valuedouble, 2);
	assert_int_equal(cJSON_GetObjectItem(o, "files_skipped")->valuedouble, 1);
	/* Integers exactly, as integers (no 5e+15). */
	assert_raw_member(json, "\"total_size_bytes\":5000000000000123");
	assert_raw_member(json, "\"session_id\":42,");
	assert_null(cJSON_GetObjectItem(o, "files"));
	cJSON_Delete(o);
	free(json);

	/* A running session: completed_at is null, not 1970. */
	s.completed_at = 0;
	s.project_name = NULL;
	json = du_trigger_payload(&s);
	o = cJSON_Parse(json);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "completed_at")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "project")));
	cJSON_Delete(o);
	free(json);
}

static void test_signature_known_vector(void **state)
{
	(void)state;
	char sig[DU_TRIGGER_SIG_LEN];
	const char *body = "{\"session_id\":1}";
	/* Computed with Python's hmac module: hmac.new(b"whsec_test", b"1714550000." + body, sha256). */
	du_trigger_signature("whsec_test", "1714550000", body, strlen(body), sig);
	assert_string_equal(sig, "sha256=649ad886276dbdaf5f647b167454b206cef58db954d0ca3d0f821642dff6a20e");
}

static void test_signature_matches_python(void **state)
{
	(void)state;
	struct du_session s = sample_session();
	char sig[DU_TRIGGER_SIG_LEN];
	char *body = du_trigger_payload(&s);
	du_trigger_signature(SECRET, "1700000000", body, strlen(body), sig);
	char *py = run_python("import hmac,hashlib,sys;"
			      "print('sha256='+hmac.new(sys.argv[1].encode(),"
			      "(sys.argv[2]+'.'+sys.argv[3]).encode(),hashlib.sha256).hexdigest())",
			      SECRET, "1700000000", body);
	assert_string_equal(sig, py);
	/* Any change of body or time changes it. */
	char other[DU_TRIGGER_SIG_LEN];
	du_trigger_signature(SECRET, "1700000001", body, strlen(body), other);
	assert_string_not_equal(sig, other);
	free(py);
	free(body);
}

static bool has_line(char **h, const char *line)
{
	for (; h && *h; h++)
		if (!strcmp(*h, line))
			return true;
	return false;
}

static bool any_contains(char **h, const char *needle)
{
	for (; h && *h; h++)
		if (strstr(*h, needle))
			return true;
	return false;
}

static void test_headers(void **state)
{
	(void)state;
	struct du_config c;
	cfg_init(&c, "https://hooks.example/x");
	c.endpoint_api_key = APIKEY;
	c.endpoint_secret = SECRET;
	c.endpoint_api_key_header = "X-Api-Key";
	char **h = du_trigger_headers(&c, 42, "1700000000", "sha256=abc", false, false);
	assert_true(has_line(h, "Content-Type: application/json"));
	assert_true(has_line(h, "Idempotency-Key: du-session-42"));
	assert_true(has_line(h, "X-Api-Key: " APIKEY));
	assert_true(has_line(h, "X-Du-Timestamp: 1700000000"));
	assert_true(has_line(h, "X-Du-Signature: sha256=abc"));
	assert_false(any_contains(h, "Transfer-Encoding"));
	assert_false(any_contains(h, SECRET));
	du_trigger_headers_free(h);

	h = du_trigger_headers(&c, 42, "1700000000", "sha256=abc", true, true);
	assert_true(has_line(h, "Idempotency-Key: du-session-42"));
	assert_true(has_line(h, "X-Api-Key: ***"));
	assert_true(has_line(h, "X-Du-Signature: sha256=***"));
	assert_true(has_line(h, "Transfer-Encoding: chunked"));
	assert_false(any_contains(h, APIKEY));
	assert_false(any_contains(h, SECRET));
	du_trigger_headers_free(h);

	/* Default header name, no key, no secret. */
	cfg_init(&c, "https://hooks.example/x");
	c.endpoint_api_key = APIKEY;
	c.endpoint_api_key_header = NULL;
	h = du_trigger_headers(&c, 7, NULL, NULL, false, false);
	assert_true(has_line(h, "api_key: " APIKEY));
	assert_true(has_line(h, "Idempotency-Key: du-session-7"));
	assert_false(any_contains(h, "X-Du-"));
	du_trigger_headers_free(h);
}

static void test_redact_url(void **state)
{
	(void)state;
	char *u = du_trigger_redact_url("https://user:pw@hooks.example:8443/a/b?token=s3cr3t&x=1&bare#frag");
	assert_non_null(u);
	assert_string_equal(u, "https://hooks.example:8443/a/b?token=***&x=***&***");
	free(u);
	u = du_trigger_redact_url("http://127.0.0.1:9/hook");
	assert_string_equal(u, "http://127.0.0.1:9/hook");
	free(u);
}

static void test_check_config(void **state)
{
	(void)state;
	struct du_config c;
	struct du_err e = { 0 };
	const char *bad[] = { "", "not a url", "ftp://h/x", "hooks.example/x", "http:///x", "file:///etc/passwd" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		cfg_init(&c, bad[i]);
		if (du_trigger_check_config(&c, &e) != DU_ERR_CONFIG)
			fail_msg("'%s' accepted as an endpoint URL", bad[i]);
	}
	cfg_init(&c, NULL);
	assert_int_equal(du_trigger_check_config(&c, &e), DU_ERR_CONFIG);
	assert_non_null(strstr(e.hint, "DU_ENDPOINT_URL"));

	cfg_init(&c, "ftp://u:pw123@h/x?token=tk999");
	assert_int_equal(du_trigger_check_config(&c, &e), DU_ERR_CONFIG);
	assert_null(strstr(e.msg, "pw123"));
	assert_null(strstr(e.msg, "tk999"));

	cfg_init(&c, "https://hooks.example/x");
	c.endpoint_api_key_header = "bad header";
	assert_int_equal(du_trigger_check_config(&c, &e), DU_ERR_CONFIG);
	cfg_init(&c, "https://hooks.example/x");
	c.endpoint_api_key = "abc\r\nX-Evil: 1";
	assert_int_equal(du_trigger_check_config(&c, &e), DU_ERR_CONFIG);
	assert_null(strstr(e.msg, "Evil"));
	cfg_init(&c, "https://hooks.example/x");
	c.timeout = 0;
	assert_int_equal(du_trigger_check_config(&c, &e), DU_ERR_CONFIG);
	cfg_init(&c, "https://hooks.example:8443/x?y=1");
	assert_int_equal(du_trigger_check_config(&c, &e), DU_OK);
}

static void test_file_json_escaping(void **state)
{
	(void)state;
	const char *keys[] = { "p/a.wav", "p/q\"uote.wav", "p/back\\slash.jpg", "p/tab\there\n.mp4",
			       "p/\xc3\xa9t\xc3\xa9 \xe2\x9c\x93.mov", "p/ctl\x01\x1f\x7f.avi" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		char *j = du_trigger_file_json("du-test", keys[i]);
		char want[256];
		assert_non_null(j);
		cJSON *v = cJSON_Parse(j);
		assert_non_null(v);
		assert_true(cJSON_IsString(v));
		snprintf(want, sizeof(want), "s3://du-test/%s", keys[i]);
		assert_string_equal(v->valuestring, want);
		/* No raw control character in the JSON text. */
		for (const char *p = j; *p; p++)
			assert_false((unsigned char)*p < 0x20);
		cJSON_Delete(v);
		free(j);
	}
}

/* ---- the sender against the receiver ---------------------------------------------------- */

static void test_post_retries_500_then_success(void **state)
{
	(void)state;
	struct receiver r;
	const char *args[] = { "--fail-first", "2", NULL };
	struct du_config c;
	struct du_trigger_source src;
	struct du_trigger_mem m;
	struct du_trigger_result res = { 0 };
	struct attempts at = { 0 };
	struct du_err e = { 0 };
	const char *body = "{\"session_id\":42}";
	receiver_start(&r, args);
	cfg_init(&c, r.url);
	c.endpoint_api_key = APIKEY;
	c.endpoint_secret = SECRET;
	du_trigger_source_mem(&src, &m, body, strlen(body));
	int rc = du_trigger_post(&c, 42, &src, collect, &at, &res, &e);
	assert_int_equal(rc, DU_OK);
	assert_int_equal(res.attempts, 3);
	assert_int_equal(res.http_status, 200);
	assert_int_equal(at.n, 3);
	assert_int_equal(at.status[0], 500);
	assert_int_equal(at.status[1], 500);
	assert_int_equal(at.status[2], 200);
	assert_string_equal(at.error[0], "HTTP 500");
	assert_string_equal(at.error[2], "");
	assert_non_null(strstr(at.excerpt[0], "\"ok\": false"));

	cJSON *reqs = receiver_requests(&r);
	assert_int_equal(cJSON_GetArraySize(reqs), 3);
	for (int i = 0; i < 3; i++) {
		cJSON *q = cJSON_GetArrayItem(reqs, i);
		char sig[DU_TRIGGER_SIG_LEN];
		assert_string_equal(jstr(q, "method"), "POST");
		assert_string_equal(jstr(q, "path"), "/hook?token=tok_Secret9");
		assert_string_equal(jstr(q, "body"), body);
		assert_string_equal(req_header(q, "content-type"), "application/json");
		assert_string_equal(req_header(q, "idempotency-key"), "du-session-42");
		assert_string_equal(req_header(q, "api_key"), APIKEY);
		du_trigger_signature(SECRET, req_header(q, "x-du-timestamp"), body, strlen(body), sig);
		assert_string_equal(req_header(q, "x-du-signature"), sig);
		assert_true(labs(strtol(req_header(q, "x-du-timestamp"), NULL, 10) - (long)time(NULL)) < 60);
	}
	cJSON_Delete(reqs);
	receiver_stop(&r);
}

static void test_post_400_not_retried(void **state)
{
	(void)state;
	struct receiver r;
	const char *args[] = { "--status-always", "400", NULL };
	struct du_config c;
	struct du_trigger_source src;
	struct du_trigger_mem m;
	struct du_trigger_result res = { 0 };
	struct attempts at = { 0 };
	struct du_err e = { 0 };
	receiver_start(&r, args);
	cfg_init(&c, r.url);
	du_trigger_source_mem(&src, &m, "{}", 2);
	assert_int_equal(du_trigger_post(&c, 42, &src, collect, &at, &res, &e), DU_ERR_TRIGGER);
	assert_int_equal(res.attempts, 1);
	assert_int_equal(at.n, 1);
	assert_int_equal(at.status[0], 400);
	assert_int_equal(e.http_status, 400);
	assert_non_null(strstr(e.msg, "HTTP 400"));
	/* The URL in the message is redacted. */
	assert_null(strstr(e.msg, "tok_Secret9"));
	assert_non_null(strstr(e.msg, "token=***"));
	cJSON *reqs = receiver_requests(&r);
	assert_int_equal(cJSON_GetArraySize(reqs), 1);
	cJSON_Delete(reqs);
	receiver_stop(&r);
}

static void test_post_timeout_then_success(void **state)
{
	(void)state;
	struct receiver r;
	const char *args[] = { "--sleep-first", "1", "--sleep", "4", NULL };
	struct du_config c;
	struct du_trigger_source src;
	struct du_trigger_mem m;
	struct du_trigger_result res = { 0 };
	struct attempts at = { 0 };
	struct du_err e = { 0 };
	receiver_start(&r, args);
	cfg_init(&c, r.url);
	c.timeout = 1;
	du_trigger_source_mem(&src, &m, "{}", 2);
	assert_int_equal(du_trigger_post(&c, 42, &src, collect, &at, &res, &e), DU_OK);
	assert_int_equal(at.n, 2);
	assert_int_equal(at.status[0], 0);
	assert_non_null(strstr(at.error[0], "imed out"));
	assert_int_equal(at.status[1], 200);
	receiver_stop(&r);
}

static void test_post_budget_exhausted(void **state)
{
	(void)state;
	struct receiver r;
	const char *args[] = { "--fail-first", "1000", NULL };
	struct du_config c;
	struct du_trigger_source src;
	struct du_trigger_mem m;
	struct du_trigger_result res = { 0 };
	struct attempts at = { 0 };
	struct du_err e = { 0 };
	receiver_start(&r, args);
	cfg_init(&c, r.url);
	c.timeout = 1;   /* budget 4 s */
	du_trigger_source_mem(&src, &m, "{}", 2);
	time_t t0 = time(NULL);
	assert_int_equal(du_trigger_post(&c, 42, &src, collect, &at, &res, &e), DU_ERR_TRIGGER);
	assert_true(time(NULL) - t0 <= 6);
	assert_true(at.n >= 2);
	assert_int_equal(res.attempts, at.n);
	assert_int_equal(e.http_status, 500);
	assert_non_null(strstr(e.msg, "attempts"));
	receiver_stop(&r);
}

static void test_post_connection_refused(void **state)
{
	(void)state;
	struct du_config c;
	struct du_trigger_source src;
	struct du_trigger_mem m;
	struct du_trigger_result res = { 0 };
	struct attempts at = { 0 };
	struct du_err e = { 0 };
	/* Port 9 (discard) on loopback: nothing listens there in the test environment. */
	cfg_init(&c, "http://127.0.0.1:9/hook");
	c.timeout = 1;
	du_trigger_source_mem(&src, &m, "{}", 2);
	assert_int_equal(du_trigger_post(&c, 42, &src, collect, &at, &res, &e), DU_ERR_TRIGGER);
	assert_true(at.n >= 2);   /* connection errors are retried */
	assert_int_equal(at.status[0], 0);
	assert_true(at.error[0][0] != '\0');
}

/* ---- with the database ------------------------------------------------------------------ */

struct dbfix {
	struct du_db *db;
	PGconn *pg;
	int64_t session_id;
	int nfiles;
};

static PGconn *pg_connect(void)
{
	const char *url = getenv("DATABASE_URL");
	if (!url || !*url)
		fail_msg("DATABASE_URL is not set: run through 'make unit' (tests/run-unit.sh)");
	PGconn *pg = PQconnectdb(url);
	if (PQstatus(pg) != CONNECTION_OK)
		fail_msg("cannot connect to DATABASE_URL: %s", PQerrorMessage(pg));
	return pg;
}

static void pg_ok(PGconn *pg, const char *sql)
{
	PGresult *r = PQexec(pg, sql);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
}

static char *pg_value(PGconn *pg, const char *sql)
{
	PGresult *r = PQexec(pg, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	char *v = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

/* A finished session of bucket du-test with nfiles uploaded keys (some needing escapes), two
 * failed ones, and counters set as the upload would have left them. */
static int setup_db(void **state)
{
	static struct dbfix fx;
	struct du_config c;
	struct du_err e = { 0 };
	int64_t project;
	char sql[1024];
	memset(&fx, 0, sizeof(fx));
	memset(&c, 0, sizeof(c));
	fx.pg = pg_connect();
	c.database_url = getenv("DATABASE_URL");
	c.local_directory = "/data/field";
	c.bucket_name = "du-trigger-test";
	c.s3_prefix = "site/C1";
	c.aws_profile = "default";
	c.max_workers = 4;
	c.times_to_retry = 3;
	if (du_db_open(&fx.db, &c, &e) || du_db_migrate(fx.db, &e) ||
	    du_db_project_ensure(fx.db, c.bucket_name, "eu-west-1", &project, &e) ||
	    du_db_session_create(fx.db, project, &c, NULL, &fx.session_id, &e))
		fail_msg("database setup: %s", e.msg);
	fx.nfiles = 2345;  /* more than two cursor batches */
	snprintf(sql, sizeof(sql),
		 "INSERT INTO file_uploads (session_id, local_path, s3_key, file_size, file_type, status, uploaded_at)"
		 " SELECT %" PRId64 ", '/data/field/f' || g || '.wav',"
		 " 'site/C1/f' || g || CASE WHEN g = 7 THEN E'\"q\\\\b\\t.wav' ELSE '.wav' END, 100, 'WAV', 'uploaded', now()"
		 " FROM generate_series(1, %d) g;"
		 "INSERT INTO file_uploads (session_id, local_path, s3_key, file_size, file_type, status, error_message)"
		 " SELECT %" PRId64 ", '/data/field/x' || g || '.wav', 'site/C1/x' || g || '.wav', 5, 'WAV', 'failed', 'boom'"
		 " FROM generate_series(1, 2) g;"
		 "UPDATE sync_sessions SET total_files = %d, files_uploaded = %d, files_failed = 2, files_skipped = 3,"
		 " total_size_bytes = 234510, bytes_uploaded = 234500, started_at = '2024-05-01T08:00:00Z'"
		 " WHERE id = %" PRId64,
		 fx.session_id, fx.nfiles, fx.session_id, fx.nfiles + 2, fx.nfiles, fx.session_id);
	pg_ok(fx.pg, sql);
	if (du_db_session_finish(fx.db, fx.session_id, "completed_with_errors", NULL, &e))
		fail_msg("finish: %s", e.msg);
	*state = &fx;
	return 0;
}

static int teardown_db(void **state)
{
	struct dbfix *fx = *state;
	if (fx) {
		du_db_close(fx->db);
		PQfinish(fx->pg);
	}
	return 0;
}

static void check_session_payload(const struct dbfix *fx, const cJSON *o)
{
	assert_int_equal((int64_t)cJSON_GetObjectItem(o, "session_id")->valuedouble, fx->session_id);
	assert_string_equal(jstr(o, "project"), "du-trigger-test");
	assert_string_equal(jstr(o, "bucket_name"), "du-trigger-test");
	assert_string_equal(jstr(o, "s3_prefix"), "site/C1");
	assert_string_equal(jstr(o, "local_directory"), "/data/field");
	assert_string_equal(jstr(o, "status"), "completed_with_errors");
	assert_int_equal(cJSON_GetObjectItem(o, "total_files")->valuedouble, fx->nfiles + 2);
	assert_int_equal(cJSON_GetObjectItem(o, "files_uploaded")->valuedouble, fx->nfiles);
	assert_int_equal(cJSON_GetObjectItem(o, "files_failed")->valuedouble, 2);
	assert_int_equal(cJSON_GetObjectItem(o, "files_skipped")->valuedouble, 3);
	assert_int_equal(cJSON_GetObjectItem(o, "total_size_bytes")->valuedouble, 234510);
	assert_string_equal(jstr(o, "started_at"), "2024-05-01T08:00:00Z");
	const char *done = jstr(o, "completed_at");
	assert_non_null(done);
	assert_int_equal(strlen(done), 20);
	assert_int_equal(done[19], 'Z');
}

static void check_files(const struct dbfix *fx, const cJSON *o)
{
	const cJSON *files = cJSON_GetObjectItem(o, "files");
	assert_true(cJSON_IsArray(files));
	assert_int_equal(cJSON_GetArraySize(files), fx->nfiles);
	assert_string_equal(cJSON_GetArrayItem(files, 0)->valuestring, "s3://du-trigger-test/site/C1/f1.wav");
	assert_string_equal(cJSON_GetArrayItem(files, 6)->valuestring, "s3://du-trigger-test/site/C1/f7\"q\\b\t.wav");
	assert_string_equal(cJSON_GetArrayItem(files, fx->nfiles - 1)->valuestring,
			    "s3://du-trigger-test/site/C1/f2345.wav");
}

static void test_send_session(void **state)
{
	struct dbfix *fx = *state;
	struct receiver r;
	const char *args[] = { "--fail-first", "1", NULL };
	struct du_config c;
	struct du_trigger_result res = { 0 };
	struct du_err e = { 0 };
	char sql[256];
	receiver_start(&r, args);
	cfg_init(&c, r.url);
	c.endpoint_api_key = APIKEY;
	assert_int_equal(du_trigger_send(fx->db, &c, fx->session_id, &res, &e), DU_OK);
	assert_int_equal(res.attempts, 2);

	cJSON *reqs = receiver_requests(&r);
	assert_int_equal(cJSON_GetArraySize(reqs), 2);
	cJSON *q = cJSON_GetArrayItem(reqs, 1);
	cJSON *o = cJSON_Parse(jstr(q, "body"));
	assert_non_null(o);
	check_session_payload(fx, o);
	assert_null(cJSON_GetObjectItem(o, "files"));
	snprintf(sql, sizeof(sql), "du-session-%" PRId64, fx->session_id);
	assert_string_equal(req_header(q, "idempotency-key"), sql);
	assert_null(req_header(q, "x-du-signature"));
	cJSON_Delete(o);
	cJSON_Delete(reqs);

	/* Both attempts recorded, URL redacted, no secret anywhere in the rows. */
	snprintf(sql, sizeof(sql),
		 "SELECT string_agg(coalesce(http_status::text, '-') || ' ' || url || ' ' || coalesce(error, '')"
		 " || ' ' || (duration_ms >= 0)::text || ' ' || coalesce(response_excerpt, ''), '|' ORDER BY id)"
		 " FROM trigger_attempts WHERE session_id = %" PRId64, fx->session_id);
	char *rows = pg_value(fx->pg, sql);
	assert_non_null(strstr(rows, "500 http://127.0.0.1:"));
	assert_non_null(strstr(rows, "/hook?token=*** HTTP 500 true {\"ok\": false, \"n\": 1}|200 "));
	assert_null(strstr(rows, "tok_Secret9"));
	assert_null(strstr(rows, APIKEY));
	free(rows);
	receiver_stop(&r);
}

static void test_send_list_files_streamed(void **state)
{
	struct dbfix *fx = *state;
	struct receiver r;
	struct du_config c;
	struct du_trigger_result res = { 0 };
	struct du_err e = { 0 };
	receiver_start(&r, NULL);
	cfg_init(&c, r.url);
	c.list_files = true;
	assert_int_equal(du_trigger_send(fx->db, &c, fx->session_id, &res, &e), DU_OK);
	cJSON *reqs = receiver_requests(&r);
	cJSON *q = cJSON_GetArrayItem(reqs, 0);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(q, "chunked")));
	cJSON *o = cJSON_Parse(jstr(q, "body"));
	assert_non_null(o);
	check_session_payload(fx, o);
	check_files(fx, o);
	cJSON_Delete(o);
	cJSON_Delete(reqs);
	receiver_stop(&r);
}

static void test_send_list_files_signed(void **state)
{
	struct dbfix *fx = *state;
	struct receiver r;
	const char *args[] = { "--fail-first", "1", NULL };
	struct du_config c;
	struct du_trigger_result res = { 0 };
	struct du_err e = { 0 };
	receiver_start(&r, args);
	cfg_init(&c, r.url);
	c.list_files = true;
	c.endpoint_secret = SECRET;
	assert_int_equal(du_trigger_send(fx->db, &c, fx->session_id, &res, &e), DU_OK);
	cJSON *reqs = receiver_requests(&r);
	assert_int_equal(cJSON_GetArraySize(reqs), 2);
	for (int i = 0; i < 2; i++) {
		cJSON *q = cJSON_GetArrayItem(reqs, i);
		const char *body = jstr(q, "body");
		/* Spooled: sent with a length, signed over exactly what arrived. */
		assert_false(cJSON_IsTrue(cJSON_GetObjectItem(q, "chunked")));
		char *py = run_python("import hmac,hashlib,sys;"
				      "print('sha256='+hmac.new(sys.argv[1].encode(),"
				      "(sys.argv[2]+'.'+sys.argv[3]).encode(),hashlib.sha256).hexdigest())",
				      SECRET, req_header(q, "x-du-timestamp"), body);
		assert_string_equal(req_header(q, "x-du-signature"), py);
		free(py);
		cJSON *o = cJSON_Parse(body);
		check_files(fx, o);
		cJSON_Delete(o);
	}
	cJSON_Delete(reqs);
	receiver_stop(&r);
}

static void test_dry_run(void **state)
{
	struct dbfix *fx = *state;
	struct du_config c;
	struct du_err e = { 0 };
	char *out = NULL, want[128], sql[256];
	size_t len = 0;
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM trigger_attempts WHERE session_id = %" PRId64, fx->session_id);
	char *before = pg_value(fx->pg, sql);
	cfg_init(&c, "http://user:pw_Secret1@127.0.0.1:9/hook?token=tok_Secret9");
	c.endpoint_api_key = APIKEY;
	c.endpoint_secret = SECRET;
	c.list_files = true;
	FILE *f = open_memstream(&out, &len);
	assert_int_equal(du_trigger_dry_run(fx->db, &c, fx->session_id, f, &e), DU_OK);
	fclose(f);
	assert_non_null(strstr(out, "POST http://127.0.0.1:9/hook?token=***\n"));
	snprintf(want, sizeof(want), "\nIdempotency-Key: du-session-%" PRId64 "\n", fx->session_id);
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, "\napi_key: ***\n"));
	assert_non_null(strstr(out, "\nX-Du-Signature: sha256=***\n"));
	assert_non_null(strstr(out, "\nX-Du-Timestamp: "));
	assert_non_null(strstr(out, "s3://du-trigger-test/site/C1/f2345.wav"));
	assert_null(strstr(out, APIKEY));
	assert_null(strstr(out, SECRET));
	assert_null(strstr(out, "tok_Secret9"));
	assert_null(strstr(out, "pw_Secret1"));
	/* The body part is the JSON payload. */
	cJSON *o = cJSON_Parse(strstr(out, "\n\n{") + 2);
	assert_non_null(o);
	check_files(fx, o);
	cJSON_Delete(o);
	/* Nothing written. */
	char *after = pg_value(fx->pg, sql);
	assert_string_equal(before, after);
	free(before);
	free(after);
	free(out);
}

static void test_unknown_session(void **state)
{
	struct dbfix *fx = *state;
	struct du_config c;
	struct du_trigger_result res = { 0 };
	struct du_err e = { 0 };
	FILE *f = fopen("/dev/null", "w");
	cfg_init(&c, "http://127.0.0.1:9/hook");
	assert_int_equal(du_trigger_send(fx->db, &c, 987654321, &res, &e), DU_ERR_NOTFOUND);
	assert_string_equal(e.msg, "session 987654321 does not exist");
	assert_int_equal(du_exit_code(e.code), 3);
	assert_int_equal(du_trigger_dry_run(fx->db, &c, 987654321, f, &e), DU_ERR_NOTFOUND);
	fclose(f);
	assert_int_equal(res.attempts, 0);
}

int main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_payload_fields),
		cmocka_unit_test(test_signature_known_vector),
		cmocka_unit_test(test_signature_matches_python),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_redact_url),
		cmocka_unit_test(test_check_config),
		cmocka_unit_test(test_file_json_escaping),
		cmocka_unit_test(test_post_retries_500_then_success),
		cmocka_unit_test(test_post_400_not_retried),
		cmocka_unit_test(test_post_timeout_then_success),
		cmocka_unit_test(test_post_budget_exhausted),
		cmocka_unit_test(test_post_connection_refused),
	};
	const struct CMUnitTest db[] = {
		cmocka_unit_test(test_send_session),
		cmocka_unit_test(test_send_list_files_streamed),
		cmocka_unit_test(test_send_list_files_signed),
		cmocka_unit_test(test_dry_run),
		cmocka_unit_test(test_unknown_session),
	};
	int failed = cmocka_run_group_tests_name("trigger", pure, NULL, NULL);
	failed += cmocka_run_group_tests_name("trigger-db", db, setup_db, teardown_db);
	return failed ? 1 : 0;
}

/*
 * test_db.c: the database layer against a live PostgreSQL (tests/run-unit.sh provides it through
 * DATABASE_URL and PGHOST/PGPORT/PGUSER). Each test gets a fresh database, dropped afterwards;
 * the private-cluster test builds its own cluster in a temporary directory and stops it by PID.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "harness.h"
#include "du/db.h"
#include "du/log.h"
#include "db/db_internal.h"
#include "db/db_files.h"

struct fixture {
	char dbname[64];
	char conninfo[512];
	struct du_config cfg;
	struct du_db *db;
};

static const char *need_env(const char *name)
{
	const char *v = getenv(name);
	if (!v || !*v)
		fail_msg("%s is not set: run the unit tests through tests/run-unit.sh (make unit)", name);
	return v;
}

/* A connection to the server's maintenance database, for creating and dropping test databases. */
static PGconn *admin(void)
{
	const char *kw[] = { "dbname", "dbname", NULL };
	const char *val[] = { need_env("DATABASE_URL"), "postgres", NULL };
	PGconn *c = PQconnectdbParams(kw, val, 1);
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("cannot reach the test server: %s", PQerrorMessage(c));
	return c;
}

static void admin_exec(const char *sql)
{
	PGconn *c = admin();
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

static int setup(void **state)
{
	static int seq;
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dbname, sizeof(f->dbname), "du_t_%ld_%d", (long)getpid(), ++seq);
	char sql[128];
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", f->dbname);
	admin_exec(sql);
	/* The server's URL with the database replaced: a later dbname keyword wins in libpq, and a
	 * conninfo string is as valid a database_url as a URI. */
	snprintf(f->conninfo, sizeof(f->conninfo), "host='%s' port='%s' user='%s' dbname='%s'", need_env("PGHOST"),
		 need_env("PGPORT"), need_env("PGUSER"), f->dbname);
	f->cfg.database_url = f->conninfo;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	du_db_close(f->db);
	char sql[128];
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", f->dbname);
	admin_exec(sql);
	free(f);
	return 0;
}

static struct du_db *open_migrated(struct fixture *f)
{
	struct du_err err = {0};
	if (du_db_open(&f->db, &f->cfg, &err) || du_db_migrate(f->db, &err))
		fail_msg("%s", err.msg);
	return f->db;
}

/* First column of the first row of a query, as a malloc'd string (NULL for SQL NULL). */
static char *scalar(struct du_db *db, const char *sql, int n, const char *const *params)
{
	struct du_err err = {0};
	PGresult *r = du_db_query(db, &err, sql, n, params);
	if (!r)
		fail_msg("%s: %s", sql, err.msg);
	assert_int_equal(PQntuples(r), 1);
	char *v = du_db_get_strdup(r, 0, 0);
	PQclear(r);
	return v;
}

static long scalar_long(struct du_db *db, const char *sql)
{
	char *v = scalar(db, sql, 0, NULL);
	long n = v ? strtol(v, NULL, 10) : -1;
	free(v);
	return n;
}

/* ---- migrations ---- */

static void test_migrate_twice(void **state)
{
	struct fixture *f = *state;
	struct du_err err = {0};
	struct du_db *db = open_migrated(f);
	assert_int_equal(du_db_migrate(db, &err), DU_OK);
	/* And from another connection, as a second run of the tool would. */
	struct du_db *db2 = NULL;
	assert_int_equal(du_db_open(&db2, &f->cfg, &err), DU_OK);
	assert_int_equal(du_db_migrate(db2, &err), DU_OK);
	du_db_close(db2);

	assert_int_equal(scalar_long(db, "SELECT count(*) FROM schema_migrations"), du_migrations_count);
	assert_true(du_migrations_count >= 1);
	assert_int_equal(scalar_long(db, "SELECT min(version) FROM schema_migrations"), 1);
	static const char *const tables[] = { "projects", "sync_sessions", "file_uploads", "config_history",
					      "multipart_uploads", "multipart_parts", "trigger_attempts" };
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		const char *p[1] = { tables[i] };
		char *t = scalar(db, "SELECT to_regclass($1)::text", 1, p);
		assert_non_null(t);
		assert_string_equal(t, tables[i]);
		free(t);
	}
	/* The pipeline's indexes are there (and the one 040 dropped is not). */
	assert_int_equal(scalar_long(db, "SELECT count(*) FROM pg_indexes WHERE indexname IN ("
					 "'file_uploads_session_status_id', 'file_uploads_uploaded_key', 'file_uploads_lease',"
					 "'sync_sessions_project_started', 'sync_sessions_status')"),
			 5);
	assert_int_equal(scalar_long(db, "SELECT count(*) FROM pg_indexes WHERE indexname = 'file_uploads_session_status'"), 0);
}

struct racer {
	struct fixture *f;
	pthread_barrier_t *start;
	int rc;
	char msg[512];
};

static void *race_migrate(void *arg)
{
	struct racer *r = arg;
	struct du_err err = {0};
	struct du_db *db = NULL;
	r->rc = du_db_open(&db, &r->f->cfg, &err);
	pthread_barrier_wait(r->start);
	if (!r->rc)
		r->rc = du_db_migrate(db, &err);
	snprintf(r->msg, sizeof(r->msg), "%s", err.msg);
	du_db_close(db);
	return NULL;
}

static void test_migrate_concurrent(void **state)
{
	enum { N = 4 };
	struct fixture *f = *state;
	pthread_barrier_t start;
	pthread_t t[N];
	struct racer r[N];
	pthread_barrier_init(&start, NULL, N);
	for (int i = 0; i < N; i++) {
		r[i] = (struct racer){ .f = f, .start = &start };
		assert_int_equal(pthread_create(&t[i], NULL, race_migrate, &r[i]), 0);
	}
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
	for (int i = 0; i < N; i++)
		if (r[i].rc)
			fail_msg("racer %d: %s", i, r[i].msg);
	struct du_db *db = open_migrated(f);
	assert_int_equal(scalar_long(db, "SELECT count(*) FROM schema_migrations"), du_migrations_count);
}

static void expect_refused(struct du_db *db, const char *sql, int n, const char *const *p, const char *state)
{
	struct du_err err = {0};
	assert_int_equal(du_db_exec(db, &err, sql, n, p), DU_ERR_DB);
	assert_int_equal(err.code, DU_ERR_DB);
	assert_string_equal(du_db_sqlstate(db), state);
	assert_true(strlen(err.msg) > 0);
}

/* Tables as the Python tool created them (serial ids, timestamps without time zone, a status
 * CHECK without 'interrupted', none of du's columns) and rows in them. */
static const char legacy_schema[] =
	"CREATE TABLE projects (id SERIAL PRIMARY KEY, project_name VARCHAR(255) NOT NULL,"
	" bucket_name VARCHAR(255) UNIQUE NOT NULL, aws_region VARCHAR(50),"
	" created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);"
	"CREATE TABLE sync_sessions (id SERIAL PRIMARY KEY, project_id INTEGER REFERENCES projects(id),"
	" local_directory TEXT NOT NULL, s3_prefix TEXT NOT NULL, aws_profile VARCHAR(100), max_workers INTEGER,"
	" times_to_retry INTEGER, use_find BOOLEAN, status VARCHAR(50) DEFAULT 'in_progress'"
	" CHECK (status IN ('in_progress', 'completed', 'completed_with_errors', 'failed')),"
	" total_files INTEGER DEFAULT 0, total_size_bytes BIGINT DEFAULT 0, files_uploaded INTEGER DEFAULT 0,"
	" files_failed INTEGER DEFAULT 0, files_skipped INTEGER DEFAULT 0,"
	" started_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, completed_at TIMESTAMP);"
	"CREATE TABLE file_uploads (id SERIAL PRIMARY KEY, session_id INTEGER REFERENCES sync_sessions(id),"
	" local_path TEXT NOT NULL, s3_key TEXT NOT NULL, file_size BIGINT NOT NULL,"
	" file_type VARCHAR(20) CHECK (file_type IN ('WAV', 'JPG', 'VIDEO', 'UNKNOWN')),"
	" status VARCHAR(50) DEFAULT 'pending' CHECK (status IN ('pending', 'uploading', 'uploaded', 'failed')),"
	" retry_count INTEGER DEFAULT 0, error_message TEXT, uploaded_at TIMESTAMP);"
	"CREATE TABLE config_history (id SERIAL PRIMARY KEY, session_id INTEGER REFERENCES sync_sessions(id),"
	" config_json JSONB NOT NULL, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);"
	"INSERT INTO projects (project_name, bucket_name, aws_region) VALUES ('old', 'old-bucket', 'eu-west-1');"
	"INSERT INTO sync_sessions (project_id, local_directory, s3_prefix, status, total_files)"
	" VALUES (1, '/mnt/rec', 'C1', 'in_progress', 2);"
	"INSERT INTO file_uploads (session_id, local_path, s3_key, file_size, file_type)"
	" VALUES (1, '/mnt/rec/a.wav', 'C1/a.wav', 10, 'WAV'), (1, '/mnt/rec/b.jpg', 'C1/b.jpg', 20, 'JPG');"
	"INSERT INTO config_history (session_id, config_json) VALUES (1, '{\"s3_prefix\": \"C1\"}');";

static void make_legacy(struct fixture *f, const char *extra)
{
	struct du_err err = {0};
	if (du_db_open(&f->db, &f->cfg, &err))
		fail_msg("%s", err.msg);
	PGresult *r = PQexec(du_db_conn(f->db), legacy_schema);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	if (extra)
		assert_int_equal(du_db_exec(f->db, &err, extra, 0, NULL), DU_OK);
}

static void test_migrate_adopts_python_schema(void **state)
{
	struct fixture *f = *state;
	struct du_err err = {0};
	make_legacy(f, NULL);
	struct du_db *db = f->db;
	if (du_db_migrate(db, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(du_db_migrate(db, &err), DU_OK);
	assert_int_equal(scalar_long(db, "SELECT count(*) FROM schema_migrations"), du_migrations_count);

	/* The old rows are still there and readable through du. */
	struct du_session s;
	assert_int_equal(du_db_session_get(db, 1, &s, &err), DU_OK);
	assert_string_equal(s.bucket_name, "old-bucket");
	assert_string_equal(s.local_directory, "/mnt/rec");
	assert_string_equal(s.config_json, "{\"s3_prefix\": \"C1\"}");
	assert_int_equal(s.total_files, 2);
	du_session_release(&s);
	assert_int_equal(scalar_long(db, "SELECT count(*) FROM file_uploads WHERE md5 IS NULL AND worker IS NULL"), 2);

	/* du's states and checks apply to it now. */
	if (du_db_session_finish(db, 1, "interrupted", "stopped by SIGINT", &err))
		fail_msg("%s", err.msg);
	assert_int_equal(du_db_session_finish(db, 1, "bogus", NULL, &err), DU_ERR_DB);
	assert_string_equal(du_db_sqlstate(db), "23514");
	expect_refused(db, "UPDATE file_uploads SET status = 'uploaded' WHERE id = 1", 0, NULL, "23514");
	expect_refused(db, "INSERT INTO file_uploads (session_id, local_path, s3_key, file_size, file_type)"
			   " VALUES (1, '/mnt/rec/x/a.wav', 'C1/a.wav', 1, 'WAV')",
		       0, NULL, "23505");

	/* And new sessions go into the adopted tables. */
	int64_t project = 0, sid = 0;
	struct du_config cfg = { .local_directory = "/mnt/rec", .s3_prefix = "C1", .max_workers = 4 };
	assert_int_equal(du_db_project_ensure(db, "old-bucket", NULL, &project, &err), DU_OK);
	assert_int_equal(project, 1);
	assert_int_equal(du_db_session_create(db, project, &cfg, "{}", &sid, &err), DU_OK);
	assert_int_equal(du_db_session_get(db, sid, &s, &err), DU_OK);
	assert_string_equal(s.status, "in_progress");
	assert_string_equal(s.du_version, DU_VERSION);
	du_session_release(&s);
}

static void test_migrate_refuses_duplicates(void **state)
{
	struct fixture *f = *state;
	struct du_err err = {0};
	make_legacy(f, "INSERT INTO file_uploads (session_id, local_path, s3_key, file_size, file_type)"
		       " VALUES (1, '/mnt/rec/a.wav', 'C1/a.wav', 10, 'WAV')");
	assert_int_equal(du_db_migrate(f->db, &err), DU_ERR_DB);
	assert_non_null(strstr(err.msg, "migration '001_schema' failed: file_uploads holds several rows"));
	assert_non_null(strstr(err.hint, "delete the duplicates"));
	/* Nothing of it stuck: one transaction. */
	char *v = scalar(f->db, "SELECT to_regclass('schema_migrations')::text", 0, NULL);
	assert_null(v);
	assert_true(du_db_ok(f->db));
}

/* ---- projects and sessions ---- */

static void test_project_ensure(void **state)
{
	struct fixture *f = *state;
	struct du_db *db = open_migrated(f);
	struct du_err err = {0};
	int64_t a = 0, b = 0, c = 0;
	assert_int_equal(du_db_project_ensure(db, "bucket-a", "eu-west-1", &a, &err), DU_OK);
	assert_int_equal(du_db_project_ensure(db, "bucket-a", "eu-west-1", &b, &err), DU_OK);
	assert_true(a > 0);
	assert_int_equal(a, b);
	assert_int_equal(du_db_project_ensure(db, "bucket-b", NULL, &c, &err), DU_OK);
	assert_int_not_equal(a, c);
	assert_int_equal(scalar_long(db, "SELECT count(*) FROM projects"), 2);
	/* The name defaults to the bucket; no spurious updated_at on an unchanged region. */
	char *name = scalar(db, "SELECT project_name FROM projects WHERE bucket_name = 'bucket-a'", 0, NULL);
	assert_string_equal(name, "bucket-a");
	free(name);
	assert_int_equal(scalar_long(db, "SELECT count(*) FROM projects WHERE updated_at IS NOT NULL"), 0);
	/* A new region is recorded, a missing one keeps the stored one. */
	assert_int_equal(du_db_project_ensure(db, "bucket-a", "us-east-1", &b, &err), DU_OK);
	assert_int_equal(du_db_project_ensure(db, "bucket-a", NULL, &b, &err), DU_OK);
	assert_int_equal(a, b);
	char *region = scalar(db, "SELECT aws_region FROM projects WHERE bucket_name = 'bucket-a'", 0, NULL);
	assert_string_equal(region, "us-east-1");
	free(region);
	assert_int_equal(du_db_project_ensure(db, "", NULL, &b, &err), DU_ERR_CONFIG);
}

static void test_session_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct du_db *db = open_migrated(f);
	struct du_err err = {0};
	int64_t project, sid = 0;
	assert_int_equal(du_db_project_ensure(db, "sensor-bucket", "eu-central-1", &project, &err), DU_OK);
	struct du_config cfg = {
		.local_directory = "/data/rec 2024/it's \"here\"",
		.s3_prefix = "C1/site-07",
		.aws_profile = "field",
		.max_workers = 15,
		.times_to_retry = 3,
		.use_find = true,
		.dry_run = false,
	};
	/* jsonb's own output form, so the round trip is byte for byte. */
	const char *json = "{\"weird\": \"tab\\there é '; DROP TABLE x; --\", \"s3_prefix\": \"C1/site-07\", "
			   "\"bucket_name\": \"sensor-bucket\", \"max_workers\": 15}";
	time_t before = time(NULL);
	assert_int_equal(du_db_session_create(db, project, &cfg, json, &sid, &err), DU_OK);
	assert_true(sid > 0);

	struct du_session s;
	assert_int_equal(du_db_session_get(db, sid, &s, &err), DU_OK);
	assert_int_equal(s.id, sid);
	assert_int_equal(s.project_id, project);
	assert_string_equal(s.project_name, "sensor-bucket");
	assert_string_equal(s.bucket_name, "sensor-bucket");
	assert_string_equal(s.aws_region, "eu-central-1");
	assert_string_equal(s.local_directory, cfg.local_directory);
	assert_string_equal(s.s3_prefix, "C1/site-07");
	assert_string_equal(s.aws_profile, "field");
	assert_int_equal(s.max_workers, 15);
	assert_int_equal(s.times_to_retry, 3);
	assert_true(s.use_find);
	assert_false(s.dry_run);
	assert_string_equal(s.status, "in_progress");
	assert_int_equal(s.total_files, 0);
	assert_int_equal(s.files_uploaded, 0);
	assert_true(s.started_at >= (double)before - 5 && s.started_at <= (double)time(NULL) + 5);
	assert_true(s.completed_at == 0);
	assert_null(s.error_message);
	char host[256] = "";
	gethostname(host, sizeof(host));
	assert_string_equal(s.hostname, host);
	assert_int_equal(s.pid, getpid());
	assert_string_equal(s.du_version, DU_VERSION);
	assert_string_equal(s.config_json, json);
	du_session_release(&s);
	assert_null(s.status);

	assert_int_equal(du_db_session_finish(db, sid, "completed_with_errors", "2 files failed", &err), DU_OK);
	assert_int_equal(du_db_session_get(db, sid, &s, &err), DU_OK);
	assert_string_equal(s.status, "completed_with_errors");
	assert_string_equal(s.error_message, "2 files failed");
	assert_true(s.completed_at >= s.started_at);
	du_session_release(&s);

	/* A status outside the state machine is refused by the database itself. */
	assert_int_equal(du_db_session_finish(db, sid, "done", NULL, &err), DU_ERR_DB);
	assert_string_equal(du_db_sqlstate(db), "23514");
	assert_int_equal(du_db_session_get(db, sid, &s, &err), DU_OK);
	assert_string_equal(s.status, "completed_with_errors");
	du_session_release(&s);

	/* A dry-run session and a NULL config: the transaction stores "{}". */
	cfg.dry_run = true;
	int64_t sid2 = 0;
	assert_int_equal(du_db_session_create(db, project, &cfg, NULL, &sid2, &err), DU_OK);
	assert_int_equal(du_db_session_get(db, sid2, &s, &err), DU_OK);
	assert_true(s.dry_run);
	assert_string_equal(s.config_json, "{}");
	du_session_release(&s);

	/* Bad JSON rolls back the session row too (one transaction). */
	long before_rows = scalar_long(db, "SELECT count(*) FROM sync_sessions");
	int64_t sid3 = -7;
	assert_int_equal(du_db_session_create(db, project, &cfg, "{not json", &sid3, &err), DU_ERR_DB);
	assert_int_equal(sid3, -7);
	assert_int_equal(scalar_long(db, "SELECT count(*) FROM sync_sessions"), before_rows);
	assert_true(du_db_ok(db));
}

static void test_session_not_found(void **state)
{
	struct fixture *f = *state;
	struct du_db *db = open_migrated(f);
	struct du_err err = {0};
	struct du_session s = { .id = 99 };
	assert_int_equal(du_db_session_get(db, 424242, &s, &err), DU_ERR_NOTFOUND);
	assert_string_equal(err.msg, "session 424242 does not exist");
	assert_int_equal(du_exit_code(err.code), DU_EXIT_CONFIG);
	assert_int_equal(s.id, 99); /* untouched on failure */
	du_err_clear(&err);
	assert_int_equal(du_db_session_finish(db, 424242, "failed", "x", &err), DU_ERR_NOTFOUND);
	assert_string_equal(err.msg, "session 424242 does not exist");
}

/* ---- COPY ---- */

static void test_copy_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct du_db *db = open_migrated(f);
	struct du_err err = {0};
	assert_int_equal(du_db_exec(db, &err, "CREATE TABLE t (n int PRIMARY KEY, a text, b text)", 0, NULL), DU_OK);

	static char big[300 * 1024];
	for (size_t i = 0; i < sizeof(big) - 1; i++)
		big[i] = "ab\t\\\ncd\r"[i % 8];
	static const char *const nasty[] = {
		"plain",
		"",
		"tab\there",
		"new\nline",
		"cr\rlf\r\n",
		"back\\slash\\",
		"\\N",
		"\\.",
		"\\",
		"quote's \"double\"",
		"'; DROP TABLE t; --",
		"unicode: é ü 漢字 🎙",
		"$1 $$ %s %n",
		"\x01\x02\x1f\x7f",
		big,
		NULL,
	};
	enum { NN = sizeof(nasty) / sizeof(nasty[0]), REPEAT = 3000 };
	struct du_db_copy *cp = NULL;
	assert_int_equal(du_db_copy_begin(db, "COPY t (n, a, b) FROM STDIN", &cp, &err), DU_OK);
	char num[24];
	for (int i = 0; i < REPEAT; i++) {
		int k = i % NN;
		snprintf(num, sizeof(num), "%d", i);
		/* b holds the same value in the other order, so a column shift would show. */
		const char *row[3] = { num, nasty[k], nasty[NN - 1 - k] };
		if (du_db_copy_row(cp, 3, row, &err))
			fail_msg("copy row %d: %s", i, err.msg);
	}
	assert_int_equal(du_db_copy_rows(cp), REPEAT);
	if (du_db_copy_end(cp, &err))
		fail_msg("copy end: %s", err.msg);

	PGresult *r = du_db_query(db, &err, "SELECT n, a, b FROM t ORDER BY n", 0, NULL);
	assert_non_null(r);
	assert_int_equal(PQntuples(r), REPEAT);
	for (int i = 0; i < REPEAT; i++) {
		int k = i % NN;
		assert_int_equal(du_db_get_int64(r, i, 0), i);
		const char *want[2] = { nasty[k], nasty[NN - 1 - k] };
		for (int c = 0; c < 2; c++) {
			if (!want[c]) {
				assert_true(PQgetisnull(r, i, 1 + c));
			} else {
				assert_false(PQgetisnull(r, i, 1 + c));
				assert_string_equal(PQgetvalue(r, i, 1 + c), want[c]);
			}
		}
	}
	PQclear(r);
}

static double now_s(void);

/* A scan-sized load: 300,000 rows of (path, key, size) as the upload pipeline streams them. */
static void test_copy_bulk(void **state)
{
	enum { ROWS = 300000 };
	struct fixture *f = *state;
	struct du_db *db = open_migrated(f);
	struct du_err err = {0};
	assert_int_equal(du_db_exec(db, &err, "CREATE TEMP TABLE scan (local_path text, s3_key text, file_size bigint)", 0,
				    NULL),
			 DU_OK);
	struct du_db_copy *cp = NULL;
	double t0 = now_s();
	assert_int_equal(du_db_copy_begin(db, "COPY scan (local_path, s3_key, file_size) FROM STDIN", &cp, &err), DU_OK);
	char lp[256], key[256], size[24];
	int64_t sum = 0;
	for (int i = 0; i < ROWS; i++) {
		snprintf(lp, sizeof(lp), "/mnt/field/site-%03d/2024-06-%02d/rec_%06d.wav", i % 97, i % 28 + 1, i);
		snprintf(key, sizeof(key), "C1/site-%03d/2024-06-%02d/rec_%06d.wav", i % 97, i % 28 + 1, i);
		snprintf(size, sizeof(size), "%d", 1000 + i);
		sum += 1000 + i;
		const char *row[3] = { lp, key, size };
		if (du_db_copy_row(cp, 3, row, &err))
			fail_msg("row %d: %s", i, err.msg);
	}
	assert_int_equal(du_db_copy_end(cp, &err), DU_OK);
	double dt = now_s() - t0;
	assert_int_equal(scalar_long(db, "SELECT count(*) FROM scan"), ROWS);
	assert_int_equal(scalar_long(db, "SELECT sum(file_size) FROM scan"), sum);
	fprintf(stderr, "COPY: %d rows in %.2f s (%.0f rows/s)\n", ROWS, dt, ROWS / dt);
}

static void test_copy_errors(void **state)
{
	struct fixture *f = *state;
	struct du_db *db = open_migrated(f);
	struct du_err err = {0};
	assert_int_equal(du_db_exec(db, &err, "CREATE TABLE t (n int PRIMARY KEY, a text)", 0, NULL), DU_OK);
	/* Not a COPY. */
	struct du_db_copy *cp = NULL;
	assert_int_equal(du_db_copy_begin(db, "SELECT 1", &cp, &err), DU_ERR_DB);
	assert_null(cp);
	assert_int_equal(du_db_copy_begin(db, "COPY nope FROM STDIN", &cp, &err), DU_ERR_DB);
	assert_string_equal(du_db_sqlstate(db), "42P01");

	/* Bad data is refused at the end, and the connection stays usable. */
	assert_int_equal(du_db_copy_begin(db, "COPY t (n, a) FROM STDIN", &cp, &err), DU_OK);
	const char *ok[2] = { "1", "x" }, *dup[2] = { "1", "y" };
	assert_int_equal(du_db_copy_row(cp, 2, ok, &err), DU_OK);
	assert_int_equal(du_db_copy_row(cp, 2, dup, &err), DU_OK);
	assert_int_equal(du_db_copy_end(cp, &err), DU_ERR_DB);
	assert_string_equal(du_db_sqlstate(db), "23505");
	assert_true(du_db_ok(db));
	assert_int_equal(scalar_long(db, "SELECT count(*) FROM t"), 0);

	/* Aborting leaves nothing behind either. */
	assert_int_equal(du_db_copy_begin(db, "COPY t (n, a) FROM STDIN", &cp, &err), DU_OK);
	assert_int_equal(du_db_copy_row(cp, 2, ok, &err), DU_OK);
	du_db_copy_abort(cp);
	assert_int_equal(scalar_long(db, "SELECT count(*) FROM t"), 0);

	/* Inside a transaction the COPY is part of it. */
	assert_int_equal(du_db_begin(db, &err), DU_OK);
	assert_int_equal(du_db_copy_begin(db, "COPY t (n, a) FROM STDIN", &cp, &err), DU_OK);
	assert_int_equal(du_db_copy_row(cp, 2, ok, &err), DU_OK);
	assert_int_equal(du_db_copy_end(cp, &err), DU_OK);
	du_db_rollback(db);
	assert_int_equal(scalar_long(db, "SELECT count(*) FROM t"), 0);
}

/* ---- constraints ---- */

/* A session of bucket "b" for directory /d under prefix p: its id, and in s its id as text. */
static int64_t new_session(struct du_db *db, char s[21])
{
	struct du_err err = {0};
	int64_t project, sid;
	struct du_config cfg = { .local_directory = "/d", .s3_prefix = "p", .max_workers = 1, .times_to_retry = 1 };
	assert_int_equal(du_db_project_ensure(db, "b", NULL, &project, &err), DU_OK);
	assert_int_equal(du_db_session_create(db, project, &cfg, "{}", &sid, &err), DU_OK);
	du_db_i64(s, sid);
	return sid;
}

static void test_constraints(void **state)
{
	struct fixture *f = *state;
	struct du_db *db = open_migrated(f);
	struct du_err err = {0};
	char s[21];
	new_session(db, s);
	const char *ins = "INSERT INTO file_uploads (session_id, local_path, s3_key, file_size, file_type, status,"
			  " uploaded_at) VALUES ($1, $2, $3, 10, $4, $5, $6::timestamptz)";
	const char *good[6] = { s, "/d/a.wav", "p/a.wav", "WAV", "pending", NULL };
	assert_int_equal(du_db_exec(db, &err, ins, 6, good), DU_OK);

	const char *bad_status[6] = { s, "/d/b.wav", "p/b.wav", "WAV", "done", NULL };
	expect_refused(db, ins, 6, bad_status, "23514");
	const char *bad_type[6] = { s, "/d/b.mp3", "p/b.mp3", "MP3", "pending", NULL };
	expect_refused(db, ins, 6, bad_type, "23514");
	const char *uploaded_no_time[6] = { s, "/d/c.wav", "p/c.wav", "WAV", "uploaded", NULL };
	expect_refused(db, ins, 6, uploaded_no_time, "23514");
	const char *uploaded[6] = { s, "/d/c.wav", "p/c.wav", "WAV", "uploaded", "2024-01-01T00:00:00Z" };
	assert_int_equal(du_db_exec(db, &err, ins, 6, uploaded), DU_OK);
	const char *dup[6] = { s, "/d/other/a.wav", "p/a.wav", "WAV", "pending", NULL };
	expect_refused(db, ins, 6, dup, "23505");
	const char *bad_session[1] = { "no-such-status" };
	expect_refused(db, "INSERT INTO sync_sessions (project_id, local_directory, s3_prefix, status)"
			   " SELECT id, '/x', 'y', $1 FROM projects",
		       1, bad_session, "23514");

	/*
	 * updated_at follows an update that does not set it (the trigger), and is what an update that
	 * sets it says; deleting the session cascades.
	 */
	assert_int_equal(du_db_exec(db, &err, "UPDATE file_uploads SET updated_at = '2000-01-01'", 0, NULL), DU_OK);
	assert_int_equal(scalar_long(db, "SELECT count(*) FROM file_uploads WHERE updated_at > '2001-01-01'"), 0);
	assert_int_equal(du_db_exec(db, &err, "UPDATE file_uploads SET retry_count = 0", 0, NULL), DU_OK);
	assert_int_equal(scalar_long(db, "SELECT count(*) FROM file_uploads WHERE updated_at < '2001-01-01'"), 0);
	const char *sp[1] = { s };
	assert_int_equal(du_db_exec(db, &err, "DELETE FROM sync_sessions WHERE id = $1", 1, sp), DU_OK);
	assert_int_equal(scalar_long(db, "SELECT count(*) FROM file_uploads"), 0);
	assert_int_equal(scalar_long(db, "SELECT count(*) FROM config_history"), 0);
}

/* ---- claiming ---- */

struct claimed_ids {
	int64_t id[16];
	int n;
};

static int note_claim(void *arg, const struct du_claimed *c)
{
	struct claimed_ids *k = arg;
	if (k->n < 16)
		k->id[k->n++] = c->id;
	return 0;
}

static int claim(struct du_db *db, int64_t sid, bool failed, int limit, int64_t *cursor, struct claimed_ids *k)
{
	struct du_err err = {0};
	int n = -1;
	memset(k, 0, sizeof(*k));
	if (du_db_file_claim(db, sid, "w1", limit, 60, failed, 3, cursor, note_claim, k, &n, &err))
		fail_msg("claim: %s", err.msg);
	assert_int_equal(n, k->n);
	return n;
}

/* n pending rows p/1.wav .. p/n.wav in session s, of size (size_step ? size_step * i : 10); the
 * first row's id. */
static int64_t pending_rows(struct du_db *db, const char *s, int n, int size_step)
{
	struct du_err err = {0};
	char nn[12], st[12];
	snprintf(nn, sizeof(nn), "%d", n);
	snprintf(st, sizeof(st), "%d", size_step);
	const char *p[3] = { s, nn, st };
	assert_int_equal(du_db_exec(db, &err,
				    "INSERT INTO file_uploads (session_id, local_path, s3_key, file_size, file_type, status)"
				    " SELECT $1, '/d/' || i || '.wav', 'p/' || i || '.wav',"
				    " CASE WHEN $3::int > 0 THEN $3::int * i ELSE 10 END, 'WAV', 'pending'"
				    " FROM generate_series(1, $2::int) i",
				    3, p),
			 DU_OK);
	return scalar_long(db, "SELECT min(id) FROM file_uploads");
}

/* du_db_run, the form of the upload's statements: several statements at once without parameters,
 * bound ones with, and failures worded "database: <what>: ..." without touching the SQLSTATE. */
static void test_run(void **state)
{
	struct fixture *f = *state;
	struct du_db *db = open_migrated(f);
	struct du_err err = {0};
	assert_int_equal(du_db_run(db, &err, "two statements",
				   "CREATE TEMP TABLE t (n int); INSERT INTO t VALUES (1), (2)", 0, NULL, NULL),
			 DU_OK);
	const char *p[] = { "40" };
	PGresult *r = NULL;
	assert_int_equal(du_db_run(db, &err, "sum", "SELECT sum(n) + $1::int FROM t", 1, p, &r), DU_OK);
	assert_string_equal(du_db_get_str(r, 0, 0), "43");
	PQclear(r);
	assert_int_equal(du_db_run(db, &err, "null", "SELECT NULL::text", 0, NULL, &r), DU_OK);
	assert_null(du_db_get_str(r, 0, 0));
	PQclear(r);
	/* du_db_exec keeps the SQLSTATE of its failure; du_db_run's failure leaves it alone. */
	assert_int_equal(du_db_exec(db, &err, "SELECT nope FROM t", 0, NULL), DU_ERR_DB);
	assert_string_equal(du_db_sqlstate(db), "42703");
	r = NULL;
	assert_int_equal(du_db_run(db, &err, "divide", "SELECT 1 / (n - n) FROM t", 0, NULL, &r), DU_ERR_DB);
	assert_null(r);
	assert_int_equal(err.code, DU_ERR_DB);
	assert_true(!strncmp(err.msg, "database: divide: ERROR:", 24));
	assert_non_null(strstr(err.msg, "division by zero"));
	assert_null(strchr(err.msg, '\n'));
	assert_string_equal(du_db_sqlstate(db), "42703");
	/* Error paths pass no err: the failure is only returned. */
	assert_int_equal(du_db_run(db, NULL, "again", "SELECT nope FROM t", 0, NULL, NULL), DU_ERR_DB);
	assert_int_equal(scalar_long(db, "SELECT count(*) FROM t"), 2);
}

/*
 * Claims go forward from the cursor, never back over rows behind it; a row released behind the
 * cursor is found by the claim from 0 the caller makes before it concludes (pipeline.c: feed).
 * The same for du-retry's failed rows.
 */
static void test_claim_cursor(void **state)
{
	struct fixture *f = *state;
	struct du_db *db = open_migrated(f);
	struct du_err err = {0};
	char s[21];
	int64_t sid = new_session(db, s);
	int64_t first = pending_rows(db, s, 6, 0);
	struct claimed_ids k;
	int64_t cur = 0;

	assert_int_equal(claim(db, sid, false, 2, &cur, &k), 2);
	assert_int_equal(k.id[0], first);
	assert_int_equal(k.id[1], first + 1);
	assert_int_equal(cur, first + 1);
	/* The first row goes back to pending (a worker let it go): not claimed from the cursor on. */
	assert_int_equal(du_db_exec(db, &err, "UPDATE file_uploads SET status = 'pending', worker = NULL"
				    " WHERE id = (SELECT min(id) FROM file_uploads)", 0, NULL),
			 DU_OK);
	assert_int_equal(claim(db, sid, false, 10, &cur, &k), 4);
	assert_int_equal(k.id[0], first + 2);
	assert_int_equal(cur, first + 5);
	assert_int_equal(claim(db, sid, false, 10, &cur, &k), 0);
	assert_int_equal(cur, first + 5);
	int64_t zero = 0;
	assert_int_equal(claim(db, sid, false, 10, &zero, &k), 1);
	assert_int_equal(k.id[0], first);

	/* du-retry: failed rows with attempts left, the same way; pending rows are not its. */
	assert_int_equal(du_db_exec(db, &err, "UPDATE file_uploads SET status = 'failed', worker = NULL,"
				    " lease_until = NULL, error_message = 'HTTP 500',"
				    " retry_count = CASE WHEN id = (SELECT max(id) FROM file_uploads) THEN 3 ELSE 0 END",
				    0, NULL),
			 DU_OK);
	assert_int_equal(du_db_exec(db, &err, "UPDATE file_uploads SET status = 'pending'"
				    " WHERE id = (SELECT min(id) FROM file_uploads)", 0, NULL),
			 DU_OK);
	cur = first + 2;
	assert_int_equal(claim(db, sid, true, 10, &cur, &k), 2); /* first+3, first+4; first+5 is out of attempts */
	assert_int_equal(k.id[0], first + 3);
	assert_int_equal(cur, first + 4);
	zero = 0;
	assert_int_equal(claim(db, sid, true, 10, &zero, &k), 2); /* first+1, first+2 */
	assert_int_equal(k.id[0], first + 1);
	assert_int_equal(claim(db, sid, true, 10, &zero, &k), 0);
}

/*
 * The file state machine past the claim (du_db_file_flush): uploading -> uploaded (md5, time,
 * counters), -> failed (error, retry count), -> pending (given back, no worker); a flush by a
 * worker that does not hold the row changes nothing (its lease went to another); a lease that
 * expired lets another worker claim the row; a row is written once.
 */
static void test_flush_states(void **state)
{
	struct fixture *f = *state;
	struct du_db *db = open_migrated(f);
	struct du_err err = {0};
	char s[21];
	int64_t sid = new_session(db, s);
	int64_t first = pending_rows(db, s, 4, 100);
	struct claimed_ids k;
	int64_t cur = 0;
	assert_int_equal(claim(db, sid, false, 10, &cur, &k), 4);
	assert_int_equal(scalar_long(db, "SELECT count(*) FROM file_uploads WHERE status = 'uploading' AND worker = 'w1'"
				     " AND lease_until > now()"), 4);

	struct du_outcome o[3] = {
		{ .id = first, .status = DU_OUT_UPLOADED, .size = 100, .md5 = "0123456789abcdef0123456789abcdef",
		  .etag = "\"0123456789abcdef0123456789abcdef\"", .checksum_alg = "md5",
		  .checksum = "0123456789abcdef0123456789abcdef", .checksum_type = "FULL_OBJECT" },
		{ .id = first + 1, .status = DU_OUT_FAILED, .size = 200, .error = "PUT 'p/2.wav': 500 InternalError",
		  .retries = 2 },
		{ .id = first + 2, .status = DU_OUT_PENDING, .size = 300 },
	};
	/* another worker's flush changes nothing: w1 holds the rows */
	assert_int_equal(du_db_file_flush(db, sid, "w2", o, 3, &err), DU_OK);
	assert_int_equal(scalar_long(db, "SELECT count(*) FROM file_uploads WHERE status = 'uploading'"), 4);
	assert_int_equal(du_db_file_flush(db, sid, "w1", o, 3, &err), DU_OK);
	char q[256];
	snprintf(q, sizeof(q), "SELECT count(*) FROM file_uploads WHERE id = %" PRId64 " AND status = 'uploaded'"
		 " AND uploaded_at IS NOT NULL AND md5 = '0123456789abcdef0123456789abcdef' AND lease_until IS NULL"
		 " AND checksum_algorithm = 'md5'", first);
	assert_int_equal(scalar_long(db, q), 1);
	snprintf(q, sizeof(q), "SELECT count(*) FROM file_uploads WHERE id = %" PRId64 " AND status = 'failed'"
		 " AND retry_count = 2 AND error_message LIKE 'PUT %%500%%' AND uploaded_at IS NULL", first + 1);
	assert_int_equal(scalar_long(db, q), 1);
	snprintf(q, sizeof(q), "SELECT count(*) FROM file_uploads WHERE id = %" PRId64 " AND status = 'pending'"
		 " AND worker IS NULL AND lease_until IS NULL", first + 2);
	assert_int_equal(scalar_long(db, q), 1);
	snprintf(q, sizeof(q), "SELECT files_uploaded || ' ' || files_failed || ' ' || bytes_uploaded FROM sync_sessions"
		 " WHERE id = %" PRId64, sid);
	PGresult *r = NULL;
	assert_int_equal(du_db_run(db, &err, "counters", q, 0, NULL, &r), DU_OK);
	assert_string_equal(du_db_get_str(r, 0, 0), "1 1 100");
	PQclear(r);
	/* written once: the same outcome again counts nothing */
	assert_int_equal(du_db_file_flush(db, sid, "w1", o, 1, &err), DU_OK);
	assert_int_equal(scalar_long(db, "SELECT files_uploaded FROM sync_sessions ORDER BY id DESC LIMIT 1"), 1);

	/* w1 dies holding the last row: once its lease has passed, w2 claims it */
	int n = -1;
	int64_t zero = 0;
	memset(&k, 0, sizeof(k));
	assert_int_equal(du_db_file_claim(db, sid, "w2", 10, 60, false, 3, &zero, note_claim, &k, &n, &err), DU_OK);
	assert_int_equal(n, 1);                         /* the given-back row only */
	assert_int_equal(k.id[0], first + 2);
	assert_int_equal(du_db_exec(db, &err, "UPDATE file_uploads SET lease_until = now() - interval '1 s'"
				    " WHERE worker = 'w1' AND status = 'uploading'", 0, NULL),
			 DU_OK);
	zero = 0;
	memset(&k, 0, sizeof(k));
	assert_int_equal(du_db_file_claim(db, sid, "w2", 10, 60, false, 3, &zero, note_claim, &k, &n, &err), DU_OK);
	assert_int_equal(n, 1);
	assert_int_equal(k.id[0], first + 3);
	assert_int_equal(scalar_long(db, "SELECT count(*) FROM file_uploads WHERE worker = 'w2' AND status = 'uploading'"), 2);
}

/* ---- connecting ---- */

static void test_connect_configured(void **state)
{
	struct fixture *f = *state;
	struct du_err err = {0};
	struct du_config cfg = {
		.db_configured = true,
		.db_host = (char *)need_env("PGHOST"),
		.db_port = strtol(need_env("PGPORT"), NULL, 10),
		.db_name = f->dbname,
		.db_user = (char *)need_env("PGUSER"),
	};
	assert_int_equal(du_db_open(&f->db, &cfg, &err), DU_OK);
	assert_true(du_db_ok(f->db));
	char *v = scalar(f->db, "SELECT current_database()", 0, NULL);
	assert_string_equal(v, f->dbname);
	free(v);
	v = scalar(f->db, "SELECT current_setting('application_name')", 0, NULL);
	assert_string_equal(v, "du-test_db");
	free(v);
}

/* No DATABASE_URL, no DB_*: libpq's PG* variables (set by run-unit.sh) decide. */
static void test_connect_pg_env(void **state)
{
	struct fixture *f = *state;
	struct du_err err = {0};
	struct du_config cfg = {0};
	char *old = strdup(need_env("PGDATABASE"));
	setenv("PGDATABASE", f->dbname, 1);
	int rc = du_db_open(&f->db, &cfg, &err);
	setenv("PGDATABASE", old, 1);
	free(old);
	if (rc)
		fail_msg("%s", err.msg);
	char *v = scalar(f->db, "SELECT current_database()", 0, NULL);
	assert_string_equal(v, f->dbname);
	free(v);
}

static void test_unreachable(void **state)
{
	(void)state;
	struct du_err err = {0};
	struct du_db *db = NULL;
	struct du_config cfg = {
		.db_configured = true,
		.db_host = "/nonexistent/du-socket-dir",
		.db_port = 5999,
		.db_name = "data_uploader",
		.db_user = "uploader",
		.db_password = "hunter2-secret",
	};
	assert_int_equal(du_db_open(&db, &cfg, &err), DU_ERR_DB);
	assert_null(db);
	assert_int_equal(du_exit_code(err.code), DU_EXIT_DB);
	const char *head = "cannot connect to database 'data_uploader' at '/nonexistent/du-socket-dir:5999' as 'uploader': ";
	if (strncmp(err.msg, head, strlen(head)))
		fail_msg("unexpected message: %s", err.msg);
	assert_true(strlen(err.msg) > strlen(head));
	assert_null(strchr(err.msg, '\n'));
	assert_null(strstr(err.msg, "hunter2"));

	/* A URL with a password, to a TCP port where nothing listens. */
	cfg = (struct du_config){ .database_url = "postgresql://uploader:hunter2-secret@127.0.0.1:1/data_uploader" };
	du_err_clear(&err);
	assert_int_equal(du_db_open(&db, &cfg, &err), DU_ERR_DB);
	assert_non_null(strstr(err.msg, "cannot connect to database 'data_uploader' at '127.0.0.1:1' as 'uploader': "));
	assert_null(strstr(err.msg, "hunter2"));

	/* A malformed URL: libpq quotes the bad token back, which here is the password. */
	cfg = (struct du_config){ .database_url = "postgresql://uploader:hun%zzter2@127.0.0.1:1/data_uploader" };
	du_err_clear(&err);
	assert_int_equal(du_db_open(&db, &cfg, &err), DU_ERR_DB);
	assert_null(strstr(err.msg, "hun%zzter2"));
	assert_null(strstr(err.msg, "zzter2"));
	assert_non_null(strstr(err.msg, "cannot connect to the database: "));

	/* Same with a conninfo string. */
	cfg = (struct du_config){ .database_url = "host=127.0.0.1 port=1 dbname=x user=u password='hunter2 secret'" };
	du_err_clear(&err);
	assert_int_equal(du_db_open(&db, &cfg, &err), DU_ERR_DB);
	assert_null(strstr(err.msg, "hunter2"));
	/* Wrong password: the test cluster trusts its socket, so libpq never gets asked for one and
	 * that path cannot be shown here; its message comes from the same code as the above. */
}

static void test_reconnect(void **state)
{
	struct fixture *f = *state;
	struct du_db *db = open_migrated(f);
	struct du_err err = {0};
	char *pid = scalar(db, "SELECT pg_backend_pid()::text", 0, NULL);
	PGconn *c = admin();
	const char *p[1] = { pid };
	PGresult *r = PQexecParams(c, "SELECT pg_terminate_backend($1::int)", 1, NULL, p, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	PQclear(r);
	PQfinish(c);
	free(pid);
	assert_int_equal(du_db_exec(db, &err, "SELECT 1", 0, NULL), DU_ERR_DB);
	assert_false(du_db_ok(db));
	assert_int_equal(du_db_reconnect(db, &err), DU_OK);
	assert_true(du_db_ok(db));
	assert_int_equal(scalar_long(db, "SELECT 41 + 1"), 42);
}

/* ---- private cluster ---- */

static const char *const pg_vars[] = { "DATABASE_URL", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGSERVICE", NULL };

struct pc_state {
	char dir[512];
	char log[600];
	char *saved[8];
};

static long postmaster_pid(const char *dir)
{
	char p[600];
	snprintf(p, sizeof(p), "%s/data/postmaster.pid", dir);
	FILE *fp = fopen(p, "r");
	if (!fp)
		return 0;
	long pid = 0;
	if (fscanf(fp, "%ld", &pid) != 1)
		pid = 0;
	fclose(fp);
	return pid;
}

/* Fast shutdown by PID; done when the postmaster removed its pid file. */
static void stop_cluster(const char *dir)
{
	long pid = postmaster_pid(dir);
	if (pid <= 0)
		return;
	kill((pid_t)pid, SIGINT);
	for (int i = 0; i < 300 && postmaster_pid(dir) == pid; i++)
		usleep(100 * 1000);
	if (postmaster_pid(dir) == pid) {
		kill((pid_t)pid, SIGKILL);
		fail_msg("private cluster did not stop within 30 s");
	}
}

static int pc_setup(void **state)
{
	struct pc_state *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	static int seq;
	snprintf(s->dir, sizeof(s->dir), "%s/private-pg-%ld-%d", need_env("DU_TEST_TMP"), (long)getpid(), ++seq);
	snprintf(s->log, sizeof(s->log), "%s.log", s->dir);
	for (int i = 0; pg_vars[i]; i++) {
		const char *v = getenv(pg_vars[i]);
		s->saved[i] = v ? strdup(v) : NULL;
		unsetenv(pg_vars[i]);
	}
	setenv("DU_PG_DIR", s->dir, 1);
	*state = s;
	return 0;
}

static int pc_teardown(void **state)
{
	struct pc_state *s = *state;
	stop_cluster(s->dir);
	for (int i = 0; pg_vars[i]; i++) {
		if (s->saved[i])
			setenv(pg_vars[i], s->saved[i], 1);
		free(s->saved[i]);
	}
	unsetenv("DU_PG_DIR");
	unsetenv("DU_PG_BIN");
	du_log_close();
	free(s);
	return 0;
}

static void *race_open(void *arg)
{
	struct racer *r = arg;
	struct du_err err = {0};
	struct du_db *db = NULL;
	struct du_config cfg = {0};
	pthread_barrier_wait(r->start);
	r->rc = du_db_open(&db, &cfg, &err);
	if (!r->rc)
		r->rc = du_db_migrate(db, &err);
	snprintf(r->msg, sizeof(r->msg), "%s", err.msg);
	du_db_close(db);
	return NULL;
}

static int count_in_file(const char *path, const char *needle)
{
	FILE *fp = fopen(path, "r");
	if (!fp)
		return -1;
	char line[4096];
	int n = 0;
	while (fgets(line, sizeof(line), fp))
		if (strstr(line, needle))
			n++;
	fclose(fp);
	return n;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_private_cluster(void **state)
{
	struct pc_state *s = *state;
	struct du_err err = {0};
	assert_int_equal(du_log_set_file(s->log, &err), DU_OK);

	/* Two first uses at once: the lock file makes one create it, the other wait and reuse it. */
	enum { N = 2 };
	pthread_barrier_t start;
	pthread_t t[N];
	struct racer r[N];
	pthread_barrier_init(&start, NULL, N);
	double t0 = now_s();
	for (int i = 0; i < N; i++) {
		r[i] = (struct racer){ .start = &start };
		assert_int_equal(pthread_create(&t[i], NULL, race_open, &r[i]), 0);
	}
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
	for (int i = 0; i < N; i++)
		if (r[i].rc)
			fail_msg("first open %d: %s", i, r[i].msg);
	double t_create = now_s() - t0;
	long pid = postmaster_pid(s->dir);
	assert_true(pid > 0);
	assert_int_equal(count_in_file(s->log, "creating the private PostgreSQL cluster"), 1);

	/* Private: no TCP, socket directory and state directory closed to others. */
	struct stat st;
	char path[700];
	assert_int_equal(stat(s->dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/run", s->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/data", s->dir);
	assert_int_equal(stat(path, &st), 0);
	if (geteuid() == 0)
		assert_int_not_equal(st.st_uid, 0); /* initdb ran as an unprivileged user */

	/* Reuse: the same server, and queries work. */
	struct du_db *db = NULL;
	struct du_config cfg = {0};
	t0 = now_s();
	if (du_db_open(&db, &cfg, &err))
		fail_msg("%s", err.msg);
	double t_reuse = now_s() - t0;
	assert_int_equal(postmaster_pid(s->dir), pid);
	char *v = scalar(db, "SELECT current_database() || ' ' || current_user", 0, NULL);
	assert_string_equal(v, "du du");
	free(v);
	v = scalar(db, "SELECT current_setting('listen_addresses')", 0, NULL);
	assert_string_equal(v, "");
	free(v);
	assert_int_equal(scalar_long(db, "SELECT count(*) FROM schema_migrations"), du_migrations_count);
	du_db_close(db);
	char want[1400];
	/* Announced once per process, however many connections it opens (three here). */
	snprintf(want, sizeof(want), "using the private PostgreSQL cluster in '%s' (stop it with: ", s->dir);
	assert_int_equal(count_in_file(s->log, want), 1);
	snprintf(want, sizeof(want), "/pg_ctl -D '%s/data' stop)", s->dir);
	assert_int_equal(count_in_file(s->log, want), 1);
	if (geteuid() == 0)
		assert_int_equal(count_in_file(s->log, "(stop it with: runuser -u "), 1);
	/* On Debian the binaries are found under /usr/lib/postgresql, whatever PATH holds. */
	if (access("/usr/lib/postgresql", F_OK) == 0)
		assert_int_equal(count_in_file(s->log, " -- /usr/lib/postgresql/"), geteuid() == 0 ? 1 : 0);

	/* Stopped (say, after a reboot) under an open connection: it notices, cannot reconnect
	 * (with or without an error to fill), and the next open starts the server again. */
	struct du_db *old = NULL;
	if (du_db_open(&old, &cfg, &err))
		fail_msg("%s", err.msg);
	stop_cluster(s->dir);
	assert_int_equal(postmaster_pid(s->dir), 0);
	assert_int_equal(du_db_exec(old, &err, "SELECT 1", 0, NULL), DU_ERR_DB);
	assert_non_null(strstr(err.msg, "lost the connection to the database"));
	assert_false(du_db_ok(old));
	assert_int_equal(du_db_reconnect(old, NULL), DU_ERR_DB);
	assert_int_equal(du_db_reconnect(old, &err), DU_ERR_DB);
	snprintf(want, sizeof(want), "cannot reconnect to database 'du' at '%s/run:5432' as 'du': ", s->dir);
	if (strncmp(err.msg, want, strlen(want)))
		fail_msg("unexpected: %s", err.msg);
	t0 = now_s();
	if (du_db_open(&db, &cfg, &err))
		fail_msg("%s", err.msg);
	double t_restart = now_s() - t0;
	assert_int_not_equal(postmaster_pid(s->dir), 0);
	assert_int_equal(scalar_long(db, "SELECT count(*) FROM schema_migrations"), du_migrations_count);
	du_db_close(db);
	assert_int_equal(du_db_reconnect(old, &err), DU_OK);
	assert_int_equal(scalar_long(old, "SELECT 1"), 1);
	du_db_close(old);
	assert_int_equal(count_in_file(s->log, "creating the private PostgreSQL cluster"), 1);
	fprintf(stderr, "private cluster: create+start %.2f s, reuse %.3f s, restart %.2f s\n", t_create, t_reuse,
		t_restart);
}

static void write_script(const char *path, const char *body)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "#!/bin/sh\n%s\n", body);
	fclose(fp);
	assert_int_equal(chmod(path, 0755), 0);
}

static void test_private_cluster_failures(void **state)
{
	struct pc_state *s = *state;
	struct du_err err = {0};
	struct du_db *db = NULL;
	struct du_config cfg = {0};
	char bin[600], path[700], want[1500];

	/* initdb fails: the error names the log, which holds what initdb said. */
	snprintf(bin, sizeof(bin), "%s.bin", s->dir);
	assert_int_equal(mkdir(bin, 0755), 0);
	snprintf(path, sizeof(path), "%s/initdb", bin);
	write_script(path, "echo 'initdb: simulated failure' >&2; exit 3");
	snprintf(path, sizeof(path), "%s/pg_ctl", bin);
	write_script(path, "exit 0");
	setenv("DU_PG_BIN", bin, 1);
	assert_int_equal(du_db_open(&db, &cfg, &err), DU_ERR_DB);
	assert_null(db);
	snprintf(want, sizeof(want), "initdb failed for the private database in '%s' (exit 3); see '%s/initdb.log'", s->dir,
		 s->dir);
	assert_string_equal(err.msg, want);
	snprintf(path, sizeof(path), "%s/initdb.log", s->dir);
	char *log = du_test_slurp(path);
	assert_non_null(log);
	assert_non_null(strstr(log, "initdb: simulated failure"));
	free(log);

	/* No binaries where DU_PG_BIN points. */
	setenv("DU_PG_BIN", "/nonexistent/bin", 1);
	du_err_clear(&err);
	assert_int_equal(du_db_open(&db, &cfg, &err), DU_ERR_DB);
	assert_string_equal(err.msg, "DU_PG_BIN '/nonexistent/bin' holds no initdb and pg_ctl");
	unsetenv("DU_PG_BIN");

	/* Directories PostgreSQL's tools cannot take, refused before anything is created. */
	snprintf(path, sizeof(path), "%s/it's", s->dir);
	setenv("DU_PG_DIR", path, 1);
	du_err_clear(&err);
	assert_int_equal(du_db_open(&db, &cfg, &err), DU_ERR_DB);
	assert_non_null(strstr(err.msg, "contains a character PostgreSQL tools cannot take"));
	assert_true(access(path, F_OK) != 0);
	setenv("DU_PG_DIR", "relative/pg", 1);
	du_err_clear(&err);
	assert_int_equal(du_db_open(&db, &cfg, &err), DU_ERR_DB);
	assert_string_equal(err.msg, "the private database's directory 'relative/pg' is not absolute");
	char longdir[200];
	memset(longdir, 'x', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = '\0';
	setenv("DU_PG_DIR", longdir, 1);
	du_err_clear(&err);
	assert_int_equal(du_db_open(&db, &cfg, &err), DU_ERR_DB);
	assert_non_null(strstr(err.msg, "is too long for a Unix socket"));
}

int main(void)
{
	du_log_init("test_db");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrate_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_adopts_python_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_refuses_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_project_ensure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_bulk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_constraints, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_cursor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_states, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_configured, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_pg_env, setup, teardown),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_private_cluster, pc_setup, pc_teardown),
		cmocka_unit_test_setup_teardown(test_private_cluster_failures, pc_setup, pc_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

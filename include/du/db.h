/*
 * db.h: du's PostgreSQL layer (libpq).
 *
 * One struct du_db is one connection, used by one thread at a time. Where it connects to:
 *
 *   1. cfg->database_url when set (a postgresql:// URI or a "key=value" conninfo string);
 *   2. else, when cfg->db_configured, db_host/db_port/db_name/db_user/db_password (passed to
 *      libpq as separate keywords, never spliced into a string);
 *   3. else, when the environment has PGHOST, PGDATABASE or PGSERVICE, libpq's own PG* variables,
 *      service file and ~/.pgpass;
 *   4. else du's private cluster: a PostgreSQL instance of the user's own, created on first use
 *      under $XDG_STATE_HOME/du/pg (or DU_PG_DIR), reachable only through a Unix socket in a
 *      0700 directory (see du/pgcluster.h and docs/DATABASE.md).
 *
 * du_db_open() does not touch the schema: the tools call du_db_migrate(), which applies the
 * migrations embedded from sql/NNN_*.sql in one transaction under an advisory lock, so running it
 * twice, or from several processes at once, is harmless.
 *
 *     struct du_db *db = NULL;
 *     struct du_err err = {0};
 *     int64_t project, session;
 *     if (du_db_open(&db, &cfg, &err) || du_db_migrate(db, &err) ||
 *         du_db_project_ensure(db, cfg.bucket_name, cfg.aws_region, &project, &err) ||
 *         du_db_session_create(db, project, &cfg, json, &session, &err))
 *             goto fail;
 *
 *     struct du_db_copy *cp;                   // bulk load: COPY ... FROM STDIN, text format
 *     if (du_db_copy_begin(db, "COPY scan_tmp (path, size) FROM STDIN", &cp, &err))
 *             goto fail;
 *     const char *row[2] = { "a\tb.wav", "123" };   // NULL is SQL NULL; any bytes are escaped
 *     if (du_db_copy_row(cp, 2, row, &err) || du_db_copy_end(cp, &err))
 *             goto fail;                        // copy_end (and copy_abort) free cp in every case
 *
 *     du_db_session_finish(db, session, "completed", NULL, &err);
 *     du_db_close(db);
 *
 * Every error is DU_ERR_DB (exit 4) unless stated otherwise; messages never carry a password.
 * Parameters are always bound, never spliced into SQL. PGresult never leaves src/db/; other
 * library files that need their own SQL use src/db/db_internal.h.
 */
#ifndef DU_DB_H
#define DU_DB_H

#include <stdbool.h>
#include <stdint.h>

#include "du/config.h"
#include "du/err.h"

/* One schema migration, embedded at build time by scripts/embed-sql.sh from sql/NNN_name.sql. */
struct du_migration {
	int version;      /* NNN */
	const char *name; /* "NNN_name" */
	const char *sql;  /* the whole file; may hold several statements */
};
extern const struct du_migration du_migrations[];
extern const int du_migrations_count;

struct du_db;

/* Where the database is: the configuration's database settings (strings borrowed). A module that
 * opens connections of its own (the engine, the heartbeat) takes these, not the configuration. */
struct du_db_opts {
	const char *url;            /* database_url: a URI or a conninfo string */
	bool configured;            /* a db_* key or DB_* variable was given (the Python tool's way) */
	const char *host, *name, *user, *password;
	long port;
};
void du_db_opts_from_config(struct du_db_opts *o, const struct du_config *cfg);

/* Connect as described above (does not migrate). application_name is "du-<prog>",
 * connect_timeout 10 s unless the URL or PGCONNECT_TIMEOUT says otherwise. On failure *out is
 * untouched and err says "cannot connect to database 'x' at 'h:p' as 'u': <libpq's reason>". */
int du_db_connect(struct du_db **out, const struct du_db_opts *o, struct du_err *err);
/* du_db_connect with the configuration's settings. */
int du_db_open(struct du_db **out, const struct du_config *cfg, struct du_err *err);
void du_db_close(struct du_db *db);

/* Apply every migration not yet recorded in schema_migrations. Idempotent and safe to run
 * concurrently (pg_advisory_xact_lock). */
int du_db_migrate(struct du_db *db, struct du_err *err);

/* Is the connection usable? (libpq's status; a dead server is noticed by the next query.) */
bool du_db_ok(const struct du_db *db);
/* Reset the connection once (PQreset); backoff and retries are the caller's policy. */
int du_db_reconnect(struct du_db *db, struct du_err *err);

/* Find or create the project of bucket (project_name defaults to the bucket name). A non-NULL
 * region different from the stored one updates it. */
int du_db_project_ensure(struct du_db *db, const char *bucket, const char *region, int64_t *project_id,
			 struct du_err *err);

/* Create an 'in_progress' session from cfg (local_directory, s3_prefix, aws_profile, max_workers,
 * times_to_retry, use_find, dry_run) plus hostname, pid and DU_VERSION, and its config_history
 * row (config_json must be a JSON object without secrets; NULL stores "{}"), in one transaction. */
int du_db_session_create(struct du_db *db, int64_t project_id, const struct du_config *cfg,
			 const char *config_json, int64_t *session_id, struct du_err *err);

#define DU_TRIGGER_EXCERPT 200          /* bytes of the webhook's answer kept per attempt */

/* One webhook attempt, a row of trigger_attempts (http/trigger.c sends, db_trigger.c records). */
struct du_trigger_attempt {
	double attempted_at;            /* seconds since the epoch */
	long http_status;               /* 0 when nothing was answered */
	long duration_ms;
	char error[256];                /* "" on success */
	char excerpt[DU_TRIGGER_EXCERPT + 1];  /* valid UTF-8, NUL-terminated */
};

/* A session row, joined with its project and its latest config_history entry. Strings are
 * malloc'd and owned by the struct (NULL when the column is NULL); du_session_release frees them. */
struct du_session {
	int64_t id;
	int64_t project_id;
	char *project_name;
	char *bucket_name;
	char *aws_region;
	char *local_directory;
	char *s3_prefix;
	char *aws_profile;
	long max_workers;     /* 0 when NULL */
	long times_to_retry;  /* 0 when NULL */
	bool use_find;
	bool dry_run;
	char *status;         /* in_progress, completed, completed_with_errors, failed, interrupted */
	int64_t total_files;
	int64_t total_size_bytes;
	int64_t files_uploaded;
	int64_t files_failed;
	int64_t files_skipped;
	int64_t bytes_uploaded;
	double started_at;    /* seconds since the epoch */
	double completed_at;  /* 0 while the session runs */
	char *error_message;
	char *hostname;
	long pid;
	char *du_version;
	char *config_json;    /* latest config_history.config_json, or NULL */
};

/* DU_ERR_NOTFOUND "session 42 does not exist" when there is no such row; out is written only on
 * success. */
int du_db_session_get(struct du_db *db, int64_t id, struct du_session *out, struct du_err *err);
void du_session_release(struct du_session *s);

/* Set status (one of the five above), completed_at (NULL again for 'in_progress') and
 * error_message (NULL clears it). DU_ERR_NOTFOUND when the session does not exist. */
int du_db_session_finish(struct du_db *db, int64_t id, const char *status, const char *error_message,
			 struct du_err *err);

/*
 * COPY FROM STDIN in text format. copy_sql is the whole "COPY table (cols) FROM STDIN"
 * statement. Rows are escaped (backslash, tab, newline, carriage return; NULL values become \N)
 * and sent in ~64 KiB chunks. Until copy_end or copy_abort, the connection is busy with the COPY.
 * copy_end and copy_abort free the handle whatever happens; after a failed copy_row, call
 * copy_abort. The COPY runs in the caller's transaction, if any.
 */
struct du_db_copy;
int du_db_copy_begin(struct du_db *db, const char *copy_sql, struct du_db_copy **out, struct du_err *err);
int du_db_copy_row(struct du_db_copy *cp, int ncols, const char *const *vals, struct du_err *err);
/* Finish: flush, end the COPY and return the server's verdict on the rows. */
int du_db_copy_end(struct du_db_copy *cp, struct du_err *err);
void du_db_copy_abort(struct du_db_copy *cp);
/* Rows passed to du_db_copy_row so far. */
int64_t du_db_copy_rows(const struct du_db_copy *cp);

#endif

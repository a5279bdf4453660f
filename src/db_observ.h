/*
 * db_observ.h (private): the SQL of du-master status and verify. PGresult never leaves src/db*.c.
 *
 * Status reads the views of sql/020_views.sql (du_v_sessions) and file rows by status, all
 * read-only, so it runs beside an upload of the same session in another process.
 *
 * Verify runs in one transaction of its own connection:
 *
 *     du_dbo_verify_begin(db, &cp, err);          // temp table for the S3 listing, COPY open
 *     ... du_db_copy_row(cp, 3, {key, size, etag}) for each listed object ...
 *     du_db_copy_end(cp, err);
 *     du_dbo_verify_rows(db, sid, check, arg, &st, err);   // rows in key order, outcomes stored
 *     du_dbo_verify_finish(db, sid, &run, err);    // per-file results + verify_runs row, COMMIT
 *     // on any error: du_dbo_verify_abort(db)
 *
 * Strings handed to callbacks are valid during the callback only.
 */
#ifndef DU_DB_OBSERV_H
#define DU_DB_OBSERV_H

#include <stdbool.h>
#include <stdint.h>

#include "du/db.h"
#include "du/err.h"

/* One row of du_v_sessions. Unknown values: success_percent, files_per_s, eta_s < 0. */
struct du_obs_session {
	int64_t id;
	const char *project_name, *bucket_name, *s3_prefix, *local_directory, *status;
	const char *hostname, *started_at, *completed_at, *error_message; /* ISO 8601 text or NULL */
	long pid;
	bool dry_run;
	int64_t total_files, total_size_bytes, files_uploaded, files_failed, files_skipped;
	int64_t files_remaining, bytes_uploaded;
	double duration_s, progress_percent, success_percent, files_per_s, bytes_per_s, eta_s;
	bool python_era;   /* written by the Python tool: its file rows say nothing (all 'pending') */
};

/* Does the database hold the views of sql/020_views.sql? When not (the Python tool's database, an
 * older du's), the readers below use the base tables alone: status never migrates or writes. */
int du_dbo_has_views(struct du_db *db, bool *out, struct du_err *err);

int du_dbo_has_table(struct du_db *db, const char *name, bool *out, struct du_err *err);

/* The limit most recent sessions, newest first. */
int du_dbo_sessions(struct du_db *db, int limit, int (*cb)(void *arg, const struct du_obs_session *s), void *arg,
		    struct du_err *err);
/* One session; DU_ERR_NOTFOUND when there is none. */
int du_dbo_session(struct du_db *db, int64_t id, int (*cb)(void *arg, const struct du_obs_session *s), void *arg,
		   struct du_err *err);

/* The session's decision by reason as JSON (sync_sessions.decision), "" when it has none. */
int du_dbo_decision(struct du_db *db, int64_t id, char *out, size_t n, struct du_err *err);

/* The session's file rows by status (pending, uploading, uploaded, failed; absent ones are 0). */
struct du_obs_counts {
	int64_t files[4], bytes[4];
	int64_t files_last_minute, bytes_last_minute; /* uploaded during the last 60 s */
	int64_t verified_ok, verified_bad;
};
enum { DU_OBS_PENDING, DU_OBS_UPLOADING, DU_OBS_UPLOADED, DU_OBS_FAILED };
int du_dbo_counts(struct du_db *db, int64_t id, struct du_obs_counts *out, struct du_err *err);

/* ---- verify ---- */

int du_dbo_verify_begin(struct du_db *db, struct du_db_copy **listing, struct du_err *err);

struct du_verify_row {
	int64_t id;
	const char *local_path;
	const char *s3_key;
	uint64_t size;
	const char *md5;          /* recorded; NULL when unknown */
	const char *etag;         /* recorded; NULL when unknown */
	int64_t mtime_ns;         /* recorded at upload; 0 when unknown */
	const char *uploaded_at;  /* ISO 8601, NULL when not uploaded */
	const char *status;       /* the row's upload status */
	int64_t session_id;       /* the session that uploaded it (an earlier one for skipped files) */
	bool listed;              /* the listing holds the key */
	uint64_t s3_size;
	const char *s3_etag;      /* NULL when not listed or without ETag */
	const char *checksum_alg; /* recorded at upload (migration 060): "crc32c", "md5", ...; NULL */
	const char *checksum;     /* S3's form: base64, md5 hex, or composite "hex-N" */
	const char *checksum_type;/* "FULL_OBJECT" or "COMPOSITE" */
	uint64_t part_size;       /* recorded part size of a multipart upload; 0 when unknown */
};
struct du_verify_outcome {
	bool ok;
	char error[512];          /* why not, when !ok */
	char verified_at[40];     /* ISO 8601 */
};
struct du_verify_counts {
	int64_t files, ok, mismatches;
	int64_t earlier;          /* rows of earlier sessions (files this session skipped) */
};
/* Every file of the session: its own rows, and for the files it skipped because an earlier session
 * of the same bucket, prefix and directory uploaded them, that session's row; in key order. */
int du_dbo_verify_rows(struct du_db *db, int64_t session_id,
		       int (*cb)(void *arg, const struct du_verify_row *r, struct du_verify_outcome *o), void *arg,
		       struct du_verify_counts *st, struct du_err *err);

struct du_verify_run {
	bool deep;
	int64_t files, ok, mismatches, local_missing, heads;
	const char *manifest;
	const char *hostname;
};
int du_dbo_verify_finish(struct du_db *db, int64_t session_id, const struct du_verify_run *run, struct du_err *err);
void du_dbo_verify_abort(struct du_db *db);

#endif

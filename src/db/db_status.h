/*
 * db_status.h (private): what du-master status and du-retry read of sessions and their rows: the
 * views of sql/020_views.sql (du_v_sessions), file rows by status, the decision, the failures.
 * PGresult never leaves src/db/.
 *
 * All read-only, so status runs beside an upload of the same session in another process. When
 * the database holds no du views (the Python tool's, an older du's), du_db_status_has_views
 * makes the session readers use the base tables alone: status never migrates or writes.
 *
 * Threads: a struct du_db is one connection used by one thread at a time. du_db_status_has_views
 * records its answer for the whole process (one static, read by the session readers): call it
 * before them, from one thread. Strings handed to callbacks are valid during the callback only.
 */
#ifndef DU_DB_STATUS_H
#define DU_DB_STATUS_H

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
int du_db_status_has_views(struct du_db *db, bool *out, struct du_err *err);

int du_db_status_has_table(struct du_db *db, const char *name, bool *out, struct du_err *err);

/* The limit most recent sessions, newest first. */
int du_db_status_sessions(struct du_db *db, int limit, int (*cb)(void *arg, const struct du_obs_session *s), void *arg,
		    struct du_err *err);
/* One session; DU_ERR_NOTFOUND when there is none. */
int du_db_status_session(struct du_db *db, int64_t id, int (*cb)(void *arg, const struct du_obs_session *s), void *arg,
		   struct du_err *err);

/* The session's decision by reason as JSON (sync_sessions.decision), "" when it has none. */
int du_db_status_decision(struct du_db *db, int64_t id, char *out, size_t n, struct du_err *err);

/* The session's file rows by status (pending, uploading, uploaded, failed; absent ones are 0). */
struct du_obs_counts {
	int64_t files[4], bytes[4];
	int64_t files_last_minute, bytes_last_minute; /* uploaded during the last 60 s */
	int64_t verified_ok, verified_bad;
	int64_t suspect;           /* suspect recordings (file_uploads.suspect; 0 on an older schema) */
};
enum { DU_OBS_PENDING, DU_OBS_UPLOADING, DU_OBS_UPLOADED, DU_OBS_FAILED };
int du_db_status_counts(struct du_db *db, int64_t id, struct du_obs_counts *out, struct du_err *err);

/* The session's failures grouped by error, most frequent first (at most limit groups). */
int du_db_status_top_errors(struct du_db *db, int64_t session_id, int limit,
		      int (*cb)(void *arg, const char *error, uint64_t count), void *arg, struct du_err *err);

/* du-retry: the session's failed rows, oldest first. */
struct du_failed_row {
	const char *key;
	const char *error;
	int retry_count;
	bool permanent;
	const char *last_attempt;
};
int du_db_status_list_failed(struct du_db *db, int64_t session_id, int (*cb)(void *arg, const struct du_failed_row *r),
		       void *arg, struct du_err *err);
/* The session's failed rows, all of them. */
int du_db_status_count_failed(struct du_db *db, int64_t session_id, int64_t *out, struct du_err *err);
/* Failed rows that du-retry would still try (retry_count < max_attempts, not permanent). */
int du_db_status_count_retryable(struct du_db *db, int64_t session_id, int max_attempts, int64_t *out,
			   struct du_err *err);

#endif

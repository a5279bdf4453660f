/* db_status.c: what status and du-retry read of a session (see db_status.h). Parameters are always bound. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db/db_internal.h"
#include "db/db_status.h"

static const char session_cols[] =
	"SELECT session_id, project_name, bucket_name, s3_prefix, local_directory, status, hostname,"
	" " DU_DB_ISO("started_at") ", " DU_DB_ISO("completed_at") ", error_message, pid, dry_run,"
	" total_files, total_size_bytes, files_uploaded, files_failed, files_skipped, files_remaining,"
	" bytes_uploaded, duration_s, progress_percent, coalesce(success_percent, -1),"
	" coalesce(files_per_s, -1), coalesce(bytes_per_s, -1), coalesce(eta_s, -1),"
	" (SELECT x.du_version IS NULL FROM sync_sessions x WHERE x.id = session_id)"
	" FROM du_v_sessions";

/*
 * The same columns from the base tables alone, for a database du has not migrated (the Python
 * tool's, read by a SELECT-only role): to_jsonb(row)->>'col' reads a column that may not exist.
 * Figures the Python tool never recorded (bytes uploaded, rates) come out unknown.
 */
#define J(col) "(to_jsonb(s)->>'" col "')"
static const char plain_cols[] =
	"SELECT * FROM (SELECT s.id AS session_id, p.project_name, p.bucket_name, s.s3_prefix, s.local_directory,"
	" s.status, " J("hostname") ", " DU_DB_ISO("s.started_at") ", " DU_DB_ISO("s.completed_at") ", " J("error_message") ","
	" coalesce(" J("pid") "::bigint, 0), coalesce(" J("dry_run") "::bool, false),"
	" coalesce(s.total_files, 0), coalesce(s.total_size_bytes, 0), coalesce(s.files_uploaded, 0),"
	" coalesce(s.files_failed, 0), coalesce(s.files_skipped, 0),"
	" CASE WHEN s.status = 'in_progress' THEN greatest(coalesce(s.total_files, 0) - coalesce(s.files_uploaded, 0)"
	"  - coalesce(s.files_failed, 0) - coalesce(s.files_skipped, 0), 0) ELSE 0 END,"
	" coalesce(" J("bytes_uploaded") "::bigint, 0),"
	" extract(epoch FROM coalesce(s.completed_at, now()) - s.started_at)::float8,"
	" CASE WHEN coalesce(s.total_files, 0) > 0 THEN 100.0 * (coalesce(s.files_uploaded, 0)"
	"  + coalesce(s.files_failed, 0) + coalesce(s.files_skipped, 0)) / s.total_files ELSE 100 END::float8,"
	" CASE WHEN coalesce(s.files_uploaded, 0) + coalesce(s.files_failed, 0) > 0 THEN 100.0 * s.files_uploaded"
	"  / (s.files_uploaded + s.files_failed) ELSE -1 END::float8, -1::float8, -1::float8, -1::float8,"
	" " J("du_version") " IS NULL"
	" FROM sync_sessions s LEFT JOIN projects p ON p.id = s.project_id) v";

static int session_rows(PGresult *r, int (*cb)(void *arg, const struct du_obs_session *s), void *arg)
{
	int rc = DU_OK;
	for (int i = 0; i < PQntuples(r) && rc == DU_OK; i++) {
		struct du_obs_session s = {
			.id = du_db_get_int64(r, i, 0),
			.project_name = du_db_get_str(r, i, 1),
			.bucket_name = du_db_get_str(r, i, 2),
			.s3_prefix = du_db_get_str(r, i, 3),
			.local_directory = du_db_get_str(r, i, 4),
			.status = du_db_get_str(r, i, 5),
			.hostname = du_db_get_str(r, i, 6),
			.started_at = du_db_get_str(r, i, 7),
			.completed_at = du_db_get_str(r, i, 8),
			.error_message = du_db_get_str(r, i, 9),
			.pid = (long)du_db_get_int64(r, i, 10),
			.dry_run = du_db_get_bool(r, i, 11),
			.total_files = du_db_get_int64(r, i, 12),
			.total_size_bytes = du_db_get_int64(r, i, 13),
			.files_uploaded = du_db_get_int64(r, i, 14),
			.files_failed = du_db_get_int64(r, i, 15),
			.files_skipped = du_db_get_int64(r, i, 16),
			.files_remaining = du_db_get_int64(r, i, 17),
			.bytes_uploaded = du_db_get_int64(r, i, 18),
			.duration_s = du_db_get_double(r, i, 19),
			.progress_percent = du_db_get_double(r, i, 20),
			.success_percent = du_db_get_double(r, i, 21),
			.files_per_s = du_db_get_double(r, i, 22),
			.bytes_per_s = du_db_get_double(r, i, 23),
			.eta_s = du_db_get_double(r, i, 24),
			.python_era = du_db_get_bool(r, i, 25),
		};
		rc = cb(arg, &s);
	}
	return rc;
}

int du_db_status_has_views(struct du_db *db, bool *out, struct du_err *err)
{
	PGresult *r = NULL;
	int qrc = du_db_run(db, err, "status views", "SELECT to_regclass('du_v_sessions') IS NOT NULL", 0, NULL, &r);
	if (qrc)
		return qrc;
	*out = du_db_get_bool(r, 0, 0);
	db->status_plain = !*out;
	PQclear(r);
	return DU_OK;
}

int du_db_status_has_table(struct du_db *db, const char *name, bool *out, struct du_err *err)
{
	const char *p[] = { name };
	PGresult *r = NULL;
	int qrc = du_db_run(db, err, "status relation", "SELECT to_regclass($1) IS NOT NULL", 1, p, &r);
	if (qrc)
		return qrc;
	*out = du_db_get_bool(r, 0, 0);
	PQclear(r);
	return DU_OK;
}

int du_db_status_sessions(struct du_db *db, int limit, int (*cb)(void *arg, const struct du_obs_session *s), void *arg,
		    struct du_err *err)
{
	char sql[sizeof(plain_cols) + 64], lim[21];
	const char *p[] = { du_db_i64(lim, limit) };
	snprintf(sql, sizeof(sql), "%s ORDER BY session_id DESC LIMIT $1", db->status_plain ? plain_cols : session_cols);
	PGresult *r = NULL;
	int qrc = du_db_run(db, err, "sessions", sql, 1, p, &r);
	if (qrc)
		return qrc;
	int rc = session_rows(r, cb, arg);
	PQclear(r);
	return rc;
}

int du_db_status_session(struct du_db *db, int64_t id, int (*cb)(void *arg, const struct du_obs_session *s), void *arg,
		   struct du_err *err)
{
	char sql[sizeof(plain_cols) + 64], sid[21];
	const char *p[] = { du_db_i64(sid, id) };
	snprintf(sql, sizeof(sql), "%s WHERE session_id = $1", db->status_plain ? plain_cols : session_cols);
	PGresult *r = NULL;
	int qrc = du_db_run(db, err, "session", sql, 1, p, &r);
	if (qrc)
		return qrc;
	int rc = PQntuples(r) ? session_rows(r, cb, arg)
			      : du_err_set(err, DU_ERR_NOTFOUND, "session %" PRId64 " does not exist", id);
	PQclear(r);
	return rc;
}

int du_db_status_counts(struct du_db *db, int64_t id, struct du_obs_counts *out, struct du_err *err)
{
	static const char *const names[] = { "pending", "uploading", "uploaded", "failed" };
	char sid[21];
	const char *p[] = { du_db_i64(sid, id) };
	memset(out, 0, sizeof(*out));
	/* Uses the (session_id, status) index; a plain read, so a running upload is not disturbed. */
	PGresult *r = NULL;
	int qrc = du_db_run(db, err, "files by status",
			    "SELECT status, count(*), coalesce(sum(file_size), 0),"
			    " count(*) FILTER (WHERE status = 'uploaded' AND uploaded_at > now() - interval '1 minute'),"
			    " coalesce(sum(file_size) FILTER (WHERE status = 'uploaded'"
			    "  AND uploaded_at > now() - interval '1 minute'), 0),"
			    " count(*) FILTER (WHERE (to_jsonb(f)->>'verify_status') = 'ok'),"
			    " count(*) FILTER (WHERE (to_jsonb(f)->>'verify_status') = 'mismatch'),"
			    " count(*) FILTER (WHERE (to_jsonb(f)->>'suspect') IS NOT NULL)"
			    " FROM file_uploads f WHERE session_id = $1 GROUP BY status",
			    1, p, &r);
	if (qrc)
		return qrc;
	for (int i = 0; i < PQntuples(r); i++) {
		for (int k = 0; k < 4; k++) {
			if (strcmp(PQgetvalue(r, i, 0), names[k]))
				continue;
			out->files[k] = du_db_get_int64(r, i, 1);
			out->bytes[k] = du_db_get_int64(r, i, 2);
		}
		out->files_last_minute += du_db_get_int64(r, i, 3);
		out->bytes_last_minute += du_db_get_int64(r, i, 4);
		out->verified_ok += du_db_get_int64(r, i, 5);
		out->verified_bad += du_db_get_int64(r, i, 6);
		out->suspect += du_db_get_int64(r, i, 7);
	}
	PQclear(r);
	return DU_OK;
}

int du_db_status_decision(struct du_db *db, int64_t id, char *out, size_t n, struct du_err *err)
{
	char sid[21];
	const char *p[] = { du_db_i64(sid, id) };
	/* Through to_jsonb: a database without the column (the Python tool's, an older du's) reads too. */
	PGresult *r = NULL;
	int qrc = du_db_run(db, err, "decision", "SELECT to_jsonb(s)->>'decision' FROM sync_sessions s WHERE id = $1", 1, p, &r);
	if (qrc)
		return qrc;
	out[0] = '\0';
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
		snprintf(out, n, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return DU_OK;
}

int du_db_status_top_errors(struct du_db *db, int64_t session_id, int limit,
		      int (*cb)(void *arg, const char *error, uint64_t count), void *arg, struct du_err *err)
{
	char sid[24], lim[24];
	const char *p[] = { du_db_i64(sid, session_id), du_db_i64(lim, limit) };
	PGresult *r = NULL;
	int rc = du_db_run(db, err, "failure summary",
			   "SELECT coalesce(error_message, 'unknown'), count(*) FROM file_uploads"
			   " WHERE session_id = $1 AND status = 'failed' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $2",
			   2, p, &r);
	if (rc)
		return rc;
	for (int i = 0; i < PQntuples(r) && !rc; i++)
		rc = cb(arg, PQgetvalue(r, i, 0), strtoull(PQgetvalue(r, i, 1), NULL, 10));
	PQclear(r);
	return rc;
}

int du_db_status_list_failed(struct du_db *db, int64_t session_id, int (*cb)(void *arg, const struct du_failed_row *r),
		       void *arg, struct du_err *err)
{
	char sid[24];
	const char *p[] = { du_db_i64(sid, session_id) };
	PGresult *r = NULL;
	int rc = du_db_run(db, err, "failed files",
			   "SELECT s3_key, coalesce(error_message, ''), retry_count, error_permanent,"
			   " coalesce(to_char(last_attempt_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-')"
			   " FROM file_uploads WHERE session_id = $1 AND status = 'failed' ORDER BY id",
			   1, p, &r);
	if (rc)
		return rc;
	for (int i = 0; i < PQntuples(r) && !rc; i++) {
		struct du_failed_row fr = {
			.key = PQgetvalue(r, i, 0),
			.error = PQgetvalue(r, i, 1),
			.retry_count = atoi(PQgetvalue(r, i, 2)),
			.permanent = PQgetvalue(r, i, 3)[0] == 't',
			.last_attempt = PQgetvalue(r, i, 4),
		};
		rc = cb(arg, &fr);
	}
	PQclear(r);
	return rc;
}

int du_db_status_count_failed(struct du_db *db, int64_t session_id, int64_t *out, struct du_err *err)
{
	char sid[24];
	const char *p[] = { du_db_i64(sid, session_id) };
	PGresult *r = NULL;
	int rc = du_db_run(db, err, "failed files",
			   "SELECT count(*) FROM file_uploads WHERE session_id = $1 AND status = 'failed'", 1, p, &r);
	if (rc)
		return rc;
	*out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return DU_OK;
}

int du_db_status_count_retryable(struct du_db *db, int64_t session_id, int max_attempts, int64_t *out,
			   struct du_err *err)
{
	char sid[24], ma[24];
	const char *p[] = { du_db_i64(sid, session_id), du_db_i64(ma, max_attempts) };
	PGresult *r = NULL;
	int rc = du_db_run(db, err, "retryable files",
			   "SELECT count(*) FROM file_uploads WHERE session_id = $1 AND status = 'failed'"
			   " AND retry_count < $2::int AND NOT error_permanent",
			   2, p, &r);
	if (rc)
		return rc;
	*out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return DU_OK;
}

/* The SQL of du-master status and verify (see db_observ.h). Parameters are always bound. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db_internal.h"
#include "db_observ.h"

/* Timestamps leave the database as UTC ISO 8601, whatever the server's time zone. */
#define ISO(col) "to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

static const char session_cols[] =
	"SELECT session_id, project_name, bucket_name, s3_prefix, local_directory, status, hostname,"
	" " ISO("started_at") ", " ISO("completed_at") ", error_message, pid, dry_run,"
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
	" s.status, " J("hostname") ", " ISO("s.started_at") ", " ISO("s.completed_at") ", " J("error_message") ","
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

/* Set by du_dbo_has_views: no du views, read the base tables (plain_cols). */
static bool plain;

static const char *str(const PGresult *r, int i, int c)
{
	return PQgetisnull(r, i, c) ? NULL : PQgetvalue(r, i, c);
}

static int session_rows(PGresult *r, int (*cb)(void *arg, const struct du_obs_session *s), void *arg)
{
	int rc = DU_OK;
	for (int i = 0; i < PQntuples(r) && rc == DU_OK; i++) {
		struct du_obs_session s = {
			.id = du_db_get_int64(r, i, 0),
			.project_name = str(r, i, 1),
			.bucket_name = str(r, i, 2),
			.s3_prefix = str(r, i, 3),
			.local_directory = str(r, i, 4),
			.status = str(r, i, 5),
			.hostname = str(r, i, 6),
			.started_at = str(r, i, 7),
			.completed_at = str(r, i, 8),
			.error_message = str(r, i, 9),
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

int du_dbo_has_views(struct du_db *db, bool *out, struct du_err *err)
{
	PGresult *r = du_db_query(db, err, "SELECT to_regclass('du_v_sessions') IS NOT NULL", 0, NULL);
	if (!r)
		return err->code;
	*out = du_db_get_bool(r, 0, 0);
	plain = !*out;
	PQclear(r);
	return DU_OK;
}

int du_dbo_has_table(struct du_db *db, const char *name, bool *out, struct du_err *err)
{
	const char *p[] = { name };
	PGresult *r = du_db_query(db, err, "SELECT to_regclass($1) IS NOT NULL", 1, p);
	if (!r)
		return err->code;
	*out = du_db_get_bool(r, 0, 0);
	PQclear(r);
	return DU_OK;
}

int du_dbo_sessions(struct du_db *db, int limit, int (*cb)(void *arg, const struct du_obs_session *s), void *arg,
		    struct du_err *err)
{
	char sql[sizeof(plain_cols) + 64], lim[21];
	const char *p[] = { du_db_i64(lim, limit) };
	snprintf(sql, sizeof(sql), "%s ORDER BY session_id DESC LIMIT $1", plain ? plain_cols : session_cols);
	PGresult *r = du_db_query(db, err, sql, 1, p);
	if (!r)
		return err->code;
	int rc = session_rows(r, cb, arg);
	PQclear(r);
	return rc;
}

int du_dbo_session(struct du_db *db, int64_t id, int (*cb)(void *arg, const struct du_obs_session *s), void *arg,
		   struct du_err *err)
{
	char sql[sizeof(plain_cols) + 64], sid[21];
	const char *p[] = { du_db_i64(sid, id) };
	snprintf(sql, sizeof(sql), "%s WHERE session_id = $1", plain ? plain_cols : session_cols);
	PGresult *r = du_db_query(db, err, sql, 1, p);
	if (!r)
		return err->code;
	int rc = PQntuples(r) ? session_rows(r, cb, arg)
			      : du_err_set(err, DU_ERR_NOTFOUND, "session %" PRId64 " does not exist", id);
	PQclear(r);
	return rc;
}

int du_dbo_counts(struct du_db *db, int64_t id, struct du_obs_counts *out, struct du_err *err)
{
	static const char *const names[] = { "pending", "uploading", "uploaded", "failed" };
	char sid[21];
	const char *p[] = { du_db_i64(sid, id) };
	memset(out, 0, sizeof(*out));
	/* Uses the (session_id, status) index; a plain read, so a running upload is not disturbed. */
	PGresult *r = du_db_query(db, err,
				  "SELECT status, count(*), coalesce(sum(file_size), 0),"
				  " count(*) FILTER (WHERE status = 'uploaded' AND uploaded_at > now() - interval '1 minute'),"
				  " coalesce(sum(file_size) FILTER (WHERE status = 'uploaded'"
				  "  AND uploaded_at > now() - interval '1 minute'), 0),"
				  " count(*) FILTER (WHERE (to_jsonb(f)->>'verify_status') = 'ok'),"
				  " count(*) FILTER (WHERE (to_jsonb(f)->>'verify_status') = 'mismatch')"
				  " FROM file_uploads f WHERE session_id = $1 GROUP BY status",
				  1, p);
	if (!r)
		return err->code;
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
	}
	PQclear(r);
	return DU_OK;
}

/* ---- verify ---- */

int du_dbo_verify_begin(struct du_db *db, struct du_db_copy **listing, struct du_err *err)
{
	int rc = du_db_begin(db, err);
	if (rc)
		return rc;
	rc = du_db_exec(db, err,
			"CREATE TEMP TABLE du_verify_s3 (s3_key text NOT NULL, size bigint NOT NULL, etag text)"
			" ON COMMIT DROP",
			0, NULL);
	if (!rc)
		rc = du_db_exec(db, err,
				"CREATE TEMP TABLE du_verify_out (id bigint PRIMARY KEY, ok boolean NOT NULL,"
				" error text, verified_at timestamptz NOT NULL) ON COMMIT DROP",
				0, NULL);
	if (!rc)
		rc = du_db_copy_begin(db, "COPY du_verify_s3 (s3_key, size, etag) FROM STDIN", listing, err);
	if (rc)
		du_db_rollback(db);
	return rc;
}

/*
 * The session's rows, and for each key it skipped the newest 'uploaded' row of an earlier session
 * of the same project, prefix and directory, in byte order of the key (as S3 lists them).
 */
static const char verify_cursor[] =
	"DECLARE du_verify_rows NO SCROLL CURSOR FOR"
	" WITH me AS (SELECT id, project_id, s3_prefix, local_directory FROM sync_sessions WHERE id = $1),"
	" r AS (SELECT DISTINCT ON (f.s3_key) f.id, f.local_path, f.s3_key, f.file_size, f.md5, f.etag,"
	"   coalesce(f.mtime_ns, 0) AS mtime_ns, f.uploaded_at, f.status, f.session_id,"
	"   f.checksum_algorithm, f.checksum_value, f.checksum_type, coalesce(f.part_size, 0) AS part_size"
	"  FROM file_uploads f JOIN sync_sessions s ON s.id = f.session_id CROSS JOIN me"
	"  WHERE s.project_id = me.project_id AND s.s3_prefix = me.s3_prefix"
	"   AND s.local_directory = me.local_directory AND s.id <= me.id"
	"   AND (f.session_id = me.id OR f.status = 'uploaded')"
	"  ORDER BY f.s3_key, (f.session_id = me.id) DESC, f.uploaded_at DESC NULLS LAST)"
	" SELECT r.id, r.local_path, r.s3_key, r.file_size, r.md5, r.etag, r.mtime_ns,"
	"  " ISO("r.uploaded_at") ", r.status, r.session_id, o.s3_key IS NOT NULL, coalesce(o.size, 0), o.etag,"
	"  r.checksum_algorithm, r.checksum_value, r.checksum_type, r.part_size"
	" FROM r LEFT JOIN du_verify_s3 o ON o.s3_key = r.s3_key"
	" ORDER BY r.s3_key COLLATE \"C\"";

int du_dbo_verify_rows(struct du_db *db, int64_t session_id,
		       int (*cb)(void *arg, const struct du_verify_row *r, struct du_verify_outcome *o), void *arg,
		       struct du_verify_counts *st, struct du_err *err)
{
	char sid[21];
	const char *p[] = { du_db_i64(sid, session_id) };
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = du_db_exec(db, err, "ANALYZE du_verify_s3", 0, NULL)) ||
	    (rc = du_db_exec(db, err, verify_cursor, 1, p)))
		return rc;
	for (;;) {
		/* Batches keep memory flat; outcomes of a batch go back by COPY before the next FETCH. */
		PGresult *r = du_db_query(db, err, "FETCH 2000 FROM du_verify_rows", 0, NULL);
		if (!r)
			return err->code;
		int n = PQntuples(r);
		if (n == 0) {
			PQclear(r);
			break;
		}
		struct du_db_copy *cp = NULL;
		if ((rc = du_db_copy_begin(db, "COPY du_verify_out (id, ok, error, verified_at) FROM STDIN", &cp,
					   err))) {
			PQclear(r);
			return rc;
		}
		for (int i = 0; i < n && rc == DU_OK; i++) {
			struct du_verify_row row = {
				.id = du_db_get_int64(r, i, 0),
				.local_path = str(r, i, 1),
				.s3_key = str(r, i, 2),
				.size = (uint64_t)du_db_get_int64(r, i, 3),
				.md5 = str(r, i, 4),
				.etag = str(r, i, 5),
				.mtime_ns = du_db_get_int64(r, i, 6),
				.uploaded_at = str(r, i, 7),
				.status = str(r, i, 8),
				.session_id = du_db_get_int64(r, i, 9),
				.listed = du_db_get_bool(r, i, 10),
				.s3_size = (uint64_t)du_db_get_int64(r, i, 11),
				.s3_etag = str(r, i, 12),
				.checksum_alg = str(r, i, 13),
				.checksum = str(r, i, 14),
				.checksum_type = str(r, i, 15),
				.part_size = (uint64_t)du_db_get_int64(r, i, 16),
			};
			struct du_verify_outcome o = { 0 };
			if ((rc = cb(arg, &row, &o)))
				break;
			char id[21];
			const char *v[] = { du_db_i64(id, row.id), o.ok ? "t" : "f", o.ok ? NULL : o.error,
					    o.verified_at };
			rc = du_db_copy_row(cp, 4, v, err);
			st->files++;
			if (o.ok)
				st->ok++;
			else
				st->mismatches++;
			if (row.session_id != session_id)
				st->earlier++;
		}
		PQclear(r);
		if (rc) {
			du_db_copy_abort(cp);
			return rc;
		}
		if ((rc = du_db_copy_end(cp, err)))
			return rc;
	}
	return du_db_exec(db, err, "CLOSE du_verify_rows", 0, NULL);
}

int du_dbo_verify_finish(struct du_db *db, int64_t session_id, const struct du_verify_run *run, struct du_err *err)
{
	char sid[21], f[21], ok[21], mm[21], lm[21], h[21];
	const char *p[] = { du_db_i64(sid, session_id), run->deep ? "t" : "f", du_db_i64(f, run->files),
			    du_db_i64(ok, run->ok), du_db_i64(mm, run->mismatches), du_db_i64(lm, run->local_missing),
			    du_db_i64(h, run->heads), run->manifest, run->hostname };
	int rc = du_db_exec(db, err,
			    "UPDATE file_uploads f SET verified_at = o.verified_at,"
			    " verify_status = CASE WHEN o.ok THEN 'ok' ELSE 'mismatch' END, verify_error = o.error"
			    " FROM du_verify_out o WHERE f.id = o.id",
			    0, NULL);
	if (!rc)
		rc = du_db_exec(db, err,
				"INSERT INTO verify_runs (session_id, deep, files, files_ok, mismatches, local_missing,"
				" heads, manifest, hostname, finished_at)"
				" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, clock_timestamp())",
				9, p);
	if (!rc)
		rc = du_db_commit(db, err);
	if (rc)
		du_db_rollback(db);
	return rc;
}

void du_dbo_verify_abort(struct du_db *db)
{
	du_db_rollback(db);
}

int du_dbo_decision(struct du_db *db, int64_t id, char *out, size_t n, struct du_err *err)
{
	char sid[21];
	const char *p[] = { du_db_i64(sid, id) };
	/* Through to_jsonb: a database without the column (the Python tool's, an older du's) reads too. */
	PGresult *r = du_db_query(db, err, "SELECT to_jsonb(s)->>'decision' FROM sync_sessions s WHERE id = $1", 1, p);
	if (!r)
		return err->code;
	out[0] = '\0';
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
		snprintf(out, n, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return DU_OK;
}

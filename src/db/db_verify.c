/* db_verify.c: verify's transaction (see db_verify.h). Parameters are always bound. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db/db_internal.h"
#include "db/db_verify.h"

int du_db_verify_begin(struct du_db *db, struct du_db_copy **listing, struct du_err *err)
{
	int rc = du_db_begin(db, err);
	if (rc)
		return rc;
	rc = du_db_run(db, err, "verify tables",
			"CREATE TEMP TABLE du_verify_s3 (s3_key text NOT NULL, size bigint NOT NULL, etag text)"
			" ON COMMIT DROP",
			0, NULL, NULL);
	if (!rc)
		rc = du_db_run(db, err, "verify tables",
				"CREATE TEMP TABLE du_verify_out (id bigint PRIMARY KEY, ok boolean NOT NULL,"
				" error text, verified_at timestamptz NOT NULL) ON COMMIT DROP",
				0, NULL, NULL);
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
	"  " DU_DB_ISO("r.uploaded_at") ", r.status, r.session_id, o.s3_key IS NOT NULL, coalesce(o.size, 0), o.etag,"
	"  r.checksum_algorithm, r.checksum_value, r.checksum_type, r.part_size"
	" FROM r LEFT JOIN du_verify_s3 o ON o.s3_key = r.s3_key"
	" ORDER BY r.s3_key COLLATE \"C\"";

int du_db_verify_rows(struct du_db *db, int64_t session_id,
		       int (*cb)(void *arg, const struct du_verify_row *r, struct du_verify_outcome *o), void *arg,
		       struct du_verify_counts *st, struct du_err *err)
{
	char sid[21];
	const char *p[] = { du_db_i64(sid, session_id) };
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = du_db_run(db, err, "verify statistics", "ANALYZE du_verify_s3", 0, NULL, NULL)) ||
	    (rc = du_db_run(db, err, "verify cursor", verify_cursor, 1, p, NULL)))
		return rc;
	for (;;) {
		/* Batches keep memory flat; outcomes of a batch go back by COPY before the next FETCH. */
		PGresult *r = NULL;
		int qrc = du_db_run(db, err, "verify rows", "FETCH 2000 FROM du_verify_rows", 0, NULL, &r);
		if (qrc)
			return qrc;
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
				.local_path = du_db_get_str(r, i, 1),
				.s3_key = du_db_get_str(r, i, 2),
				.size = (uint64_t)du_db_get_int64(r, i, 3),
				.md5 = du_db_get_str(r, i, 4),
				.etag = du_db_get_str(r, i, 5),
				.mtime_ns = du_db_get_int64(r, i, 6),
				.uploaded_at = du_db_get_str(r, i, 7),
				.status = du_db_get_str(r, i, 8),
				.session_id = du_db_get_int64(r, i, 9),
				.listed = du_db_get_bool(r, i, 10),
				.s3_size = (uint64_t)du_db_get_int64(r, i, 11),
				.s3_etag = du_db_get_str(r, i, 12),
				.checksum_alg = du_db_get_str(r, i, 13),
				.checksum = du_db_get_str(r, i, 14),
				.checksum_type = du_db_get_str(r, i, 15),
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
	return du_db_run(db, err, "verify cursor", "CLOSE du_verify_rows", 0, NULL, NULL);
}

int du_db_verify_finish(struct du_db *db, int64_t session_id, const struct du_verify_run *run, struct du_err *err)
{
	char sid[21], f[21], ok[21], mm[21], lm[21], h[21];
	const char *p[] = { du_db_i64(sid, session_id), run->deep ? "t" : "f", du_db_i64(f, run->files),
			    du_db_i64(ok, run->ok), du_db_i64(mm, run->mismatches), du_db_i64(lm, run->local_missing),
			    du_db_i64(h, run->heads), run->manifest, run->hostname };
	int rc = du_db_run(db, err, "verify outcomes",
			    "UPDATE file_uploads f SET verified_at = o.verified_at,"
			    " verify_status = CASE WHEN o.ok THEN 'ok' ELSE 'mismatch' END, verify_error = o.error"
			    " FROM du_verify_out o WHERE f.id = o.id",
			    0, NULL, NULL);
	if (!rc)
		rc = du_db_run(db, err, "verify outcomes",
				"INSERT INTO verify_runs (session_id, deep, files, files_ok, mismatches, local_missing,"
				" heads, manifest, hostname, finished_at)"
				" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, clock_timestamp())",
				9, p, NULL);
	if (!rc)
		rc = du_db_commit(db, err);
	if (rc)
		du_db_rollback(db);
	return rc;
}

void du_db_verify_abort(struct du_db *db)
{
	du_db_rollback(db);
}

/* ---- a card: every session of a directory, bucket and prefix ---- */

int du_db_card_find(struct du_db *db, struct du_card *c, int64_t *session_id, struct du_err *err)
{
	const char *p[] = { c->bucket, c->prefix, c->directory };
	PGresult *r = NULL;
	int rc = du_db_run(db, err, "card sessions",
			   "SELECT p.id, s.id FROM projects p JOIN sync_sessions s ON s.project_id = p.id"
			   " WHERE p.bucket_name = $1 AND s.s3_prefix = $2 AND s.local_directory = $3"
			   " AND NOT coalesce((to_jsonb(s)->>'dry_run')::boolean, false)"
			   " ORDER BY s.id DESC LIMIT 1",
			   3, p, &r);
	if (rc)
		return rc;
	*session_id = PQntuples(r) ? du_db_get_int64(r, 0, 1) : 0;
	c->project_id = PQntuples(r) ? du_db_get_int64(r, 0, 0) : 0;
	PQclear(r);
	return DU_OK;
}

int du_db_card_begin(struct du_db *db, struct du_db_copy **keys, struct du_err *err)
{
	int rc = du_db_begin(db, err);
	if (!rc)
		rc = du_db_run(db, err, "card keys", "CREATE TEMP TABLE du_card_scan (s3_key text NOT NULL) ON COMMIT DROP",
			       0, NULL, NULL);
	if (!rc)
		rc = du_db_copy_begin(db, "COPY du_card_scan (s3_key) FROM STDIN", keys, err);
	if (rc)
		du_db_rollback(db);
	return rc;
}

/* The rows of every session of the card. */
#define CARD_ROWS "file_uploads f JOIN sync_sessions s ON s.id = f.session_id" \
		  " WHERE s.project_id = $1 AND s.s3_prefix = $2 AND s.local_directory = $3"

/* A card query's rows, (key, text) each, handed to cb in order. */
static int card_pairs(struct du_db *db, const struct du_card *c, const char *what, const char *sql,
		      int (*cb)(void *arg, const char *key, const char *text), void *arg, struct du_err *err)
{
	char pid[21];
	const char *p[] = { du_db_i64(pid, c->project_id), c->prefix, c->directory };
	PGresult *r = NULL;
	int rc = du_db_run(db, err, what, sql, 3, p, &r);
	for (int i = 0; rc == DU_OK && i < PQntuples(r); i++)
		rc = cb(arg, du_db_get_str(r, i, 0), du_db_get_str(r, i, 1));
	PQclear(r);
	return rc;
}

int du_db_card_uncovered(struct du_db *db, const struct du_card *c,
			 int (*cb)(void *arg, const char *key, const char *failed_error), void *arg, struct du_err *err)
{
	int rc = du_db_run(db, err, "card: files not uploaded", "ANALYZE du_card_scan", 0, NULL, NULL);
	return rc ? rc : card_pairs(db, c, "card: files not uploaded",
				    "SELECT k.s3_key, (SELECT f.error_message FROM " CARD_ROWS
				    "   AND f.s3_key = k.s3_key AND f.status = 'failed' ORDER BY f.id DESC LIMIT 1)"
				    " FROM du_card_scan k WHERE NOT EXISTS (SELECT 1 FROM " CARD_ROWS
				    "   AND f.s3_key = k.s3_key AND f.status = 'uploaded')"
				    " ORDER BY k.s3_key COLLATE \"C\"",
				    cb, arg, err);
}

int du_db_card_suspects(struct du_db *db, const struct du_card *c,
			int (*cb)(void *arg, const char *key, const char *reason), void *arg, struct du_err *err)
{
	return card_pairs(db, c, "card: suspect recordings",
			  "SELECT DISTINCT ON (f.s3_key) f.s3_key, f.suspect FROM " CARD_ROWS
			  " AND f.status = 'uploaded' AND f.suspect IS NOT NULL"
			  " AND f.s3_key IN (SELECT s3_key FROM du_card_scan)"
			  " ORDER BY f.s3_key, f.id DESC",
			  cb, arg, err);
}

void du_db_card_end(struct du_db *db)
{
	du_db_run(db, NULL, "card", "COMMIT", 0, NULL, NULL);
}


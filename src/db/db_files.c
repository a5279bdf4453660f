/* db_files.c: the file rows of a session (see db_files.h). Parameters are always bound. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db/db_internal.h"
#include "db/db_files.h"
#include "db/db_sessions.h"
#include "du/progress.h"

int du_db_file_stage_begin(struct du_db *db, struct du_err *err)
{
	/* Temporary: private to this connection, never WAL-logged, gone with it. */
	return du_db_run(db, err, "staging tables",
			 "SET client_min_messages = warning;"
			 "DROP TABLE IF EXISTS du_s3_stage, du_scan_stage, du_decision;"
			 "CREATE TEMP TABLE du_s3_stage (s3_key text NOT NULL, size bigint, etag text,"
			 " mtime bigint);"
			 "CREATE TEMP TABLE du_scan_stage (local_path text NOT NULL, s3_key text NOT NULL,"
			 " file_size bigint NOT NULL, mtime_ns bigint, inode bigint, file_type text NOT NULL,"
			 " bad_key text)",
			 0, NULL, NULL);
}

int du_db_file_stage_copy(struct du_db *db, bool scan, struct du_db_copy **out, struct du_err *err)
{
	return du_db_copy_begin(db,
				scan ? "COPY du_scan_stage (local_path, s3_key, file_size, mtime_ns, inode,"
				       " file_type, bad_key) FROM STDIN"
				     : "COPY du_s3_stage (s3_key, size, etag, mtime) FROM STDIN",
				out, err);
}

/*
 * One set-based decision: the table in docs/DATABASE.md ("What a run uploads"). The listing (o) says
 * what exists; du's last row of the key for this endpoint (r) says what du sent. Each scanned file
 * gets an action (skip, upload, or check: a worker hashes it and compares) and a reason, one of
 * the keys of sync_sessions.decision. $3 is the endpoint, $4 whether it is AWS (where sessions
 * without an endpoint count), $5 the mode: normal, checksum, size_only or trust_db.
 */
static const char decision_sql[] =
	"SELECT s.local_path, s.s3_key, s.file_size, s.file_type, s.mtime_ns, s.inode, s.bad_key, x.*,"
	" x.action = 'skip' AS skip"
	" FROM du_scan_stage s"
	" LEFT JOIN du_s3_stage o ON o.s3_key = s.s3_key"
	" LEFT JOIN (%s) r ON r.s3_key = s.s3_key"
	" CROSS JOIN LATERAL (SELECT"
	"  r.status = 'uploaded' AND r.file_size = s.file_size AND r.mtime_ns = s.mtime_ns"
	"   AND r.inode = s.inode AS same_row,"
	"  lower(o.etag) ~ '^[0-9a-f]{32}$' AS plain_etag,"
	"  lower(o.etag) ~ '^[0-9a-f]{32}-[0-9]{1,5}$' AND r.part_size > 0 AS composite_known,"
	"  CASE WHEN r.status = 'uploaded' AND r.file_size = s.file_size AND lower(r.md5) ~ '^[0-9a-f]{32}$'"
	"   THEN lower(r.md5) END AS row_md5) k"
	" CROSS JOIN LATERAL (SELECT a[1] AS action, a[2] AS reason,"
	"  CASE WHEN a[1] = 'check' THEN lower(coalesce(o.etag, r.etag)) END AS check_etag,"
	"  CASE WHEN a[1] = 'check' AND (k.plain_etag IS NOT TRUE OR $5 = 'trust_db')"
	"   AND (lower(r.etag) = lower(o.etag) OR $5 = 'trust_db') THEN k.row_md5 END AS check_md5,"
	"  CASE WHEN a[1] = 'check' AND k.composite_known THEN r.part_size END AS part_size"
	"  FROM (SELECT CASE"
	"   WHEN s.bad_key IS NOT NULL THEN '{upload,bad_key}'::text[]"
	"   WHEN $5 = 'trust_db' THEN CASE"
	"    WHEN k.same_row THEN '{skip,already_uploaded}'"
	"    WHEN k.row_md5 IS NOT NULL THEN '{check,to_check}'"
	"    WHEN r.status = 'uploaded' THEN '{upload,changed}'"
	"    ELSE '{upload,new}' END::text[]"
	"   WHEN o.s3_key IS NULL THEN CASE WHEN r.status = 'uploaded' THEN '{upload,missing_in_s3}'"
	"    ELSE '{upload,new}' END::text[]"
	"   WHEN o.size IS DISTINCT FROM s.file_size THEN '{upload,changed}'"
	"   WHEN $5 = 'size_only' THEN '{skip,same_size}'"
	"   WHEN $5 <> 'checksum' AND k.same_row AND lower(r.etag) = lower(o.etag)"
	"    THEN '{skip,already_uploaded}'"
	"   WHEN k.plain_etag OR k.composite_known"
	"    OR (k.row_md5 IS NOT NULL AND lower(r.etag) = lower(o.etag)) THEN '{check,to_check}'"
	"   WHEN o.mtime > 0 AND s.mtime_ns <= o.mtime * 1000000000 THEN '{skip,unverifiable_not_newer}'"
	"   ELSE '{upload,unverifiable_newer}' END AS a) t) x";

/*
 * du's last row of each key in this project for this endpoint. Sessions without an endpoint
 * (the Python tool's, du's before it recorded one) were made against AWS.
 */
static const char recorded_sql[] =
	"SELECT DISTINCT ON (f.s3_key) f.s3_key, f.status, f.file_size, f.mtime_ns, f.inode, f.md5,"
	" f.etag, f.part_size"
	" FROM file_uploads f JOIN sync_sessions ss ON ss.id = f.session_id"
	" WHERE ss.project_id = $1 AND (ss.endpoint = $3 OR (ss.endpoint IS NULL AND $4::bool))"
	" ORDER BY f.s3_key, f.id DESC";
static const char no_recorded_sql[] =
	"SELECT NULL::text AS s3_key, NULL::text AS status, NULL::bigint AS file_size,"
	" NULL::bigint AS mtime_ns, NULL::bigint AS inode, NULL::text AS md5, NULL::text AS etag,"
	" NULL::bigint AS part_size WHERE $1::bigint IS NULL AND $3::text IS NULL AND $4::bool IS NULL";

/* Totals, and the reasons as a JSON object for sync_sessions.decision; both %s name the decision. */
static const char counts_sql[] =
	"SELECT count(*), coalesce(sum(file_size),0),"
	" count(*) FILTER (WHERE action = 'upload'), coalesce(sum(file_size) FILTER (WHERE action = 'upload'),0),"
	" count(*) FILTER (WHERE action = 'check'), coalesce(sum(file_size) FILTER (WHERE action = 'check'),0),"
	" count(*) FILTER (WHERE bad_key IS NOT NULL),"
	" coalesce((SELECT jsonb_object_agg(reason, n) FROM (SELECT reason, count(*) AS n FROM %s GROUP BY reason) g),"
	"  '{}')::text"
	" FROM %s";

/*
 * A run decides and registers in one statement: every row is written once, into file_uploads
 * (the scan's keys are distinct, being paths under one root). A dry run keeps the decision in a
 * temporary table for its listing and writes nothing.
 */
static const char register_sql[] =
	"WITH d AS (%s), ins AS (INSERT INTO file_uploads (session_id, local_path, s3_key, file_size,"
	" file_type, status, error_message, mtime_ns, inode, reason, check_etag, check_md5, part_size)"
	" SELECT $2, local_path, s3_key, file_size, file_type,"
	"  CASE WHEN bad_key IS NULL THEN 'pending' ELSE 'failed' END, bad_key, mtime_ns, inode, reason,"
	"  check_etag, check_md5, part_size"
	" FROM d WHERE NOT skip) %s";
/* du_db_file_stage_begin dropped any earlier du_decision. */
static const char dry_sql[] = "CREATE TEMP TABLE du_decision AS SELECT * FROM (%s) dd WHERE $2::bigint IS NOT NULL";
/* The decision kept (for per-file lines), then registered from the table. */
static const char kept_sql[] =
	"SELECT * FROM du_decision WHERE $1::bigint IS NOT NULL AND $3::text IS NOT NULL AND $4::bool IS NOT NULL"
	" AND $5::text IS NOT NULL";

static const char *const mode_names[] = { "normal", "checksum", "size_only", "trust_db" };

int du_db_file_decide(struct du_db *db, const struct du_decide_opts *o, struct du_decision *d, struct du_err *err)
{
	char decision[sizeof(decision_sql) + sizeof(recorded_sql)];
	char counts[sizeof(counts_sql) + 32];
	char sql[sizeof(register_sql) + sizeof(decision) + sizeof(counts) + 64];
	char pid[24], sid[24];
	const char *p[] = { du_db_i64(pid, o->project_id), du_db_i64(sid, o->session_id), o->endpoint ? o->endpoint : "",
			    o->endpoint_is_aws ? "t" : "f", mode_names[o->mode] };
	PGresult *r = NULL;
	int rc;

	snprintf(decision, sizeof(decision), decision_sql,
		 o->has_schema && o->project_id ? recorded_sql : no_recorded_sql);
	if ((rc = du_db_run(db, err, "analyze staging", "ANALYZE du_s3_stage; ANALYZE du_scan_stage", 0, NULL, NULL)))
		return rc;
	if (o->session_id && o->keep) {
		snprintf(sql, sizeof(sql), dry_sql, decision);
		if (!(rc = du_db_run(db, err, "decide", sql, 5, p, NULL))) {
			snprintf(counts, sizeof(counts), counts_sql, "d", "d");
			snprintf(sql, sizeof(sql), register_sql, kept_sql, counts);
			rc = du_db_run(db, err, "register files", sql, 5, p, &r);
		}
	} else if (o->session_id) {
		snprintf(counts, sizeof(counts), counts_sql, "d", "d");
		snprintf(sql, sizeof(sql), register_sql, decision, counts);
		rc = du_db_run(db, err, "decide and register files", sql, 5, p, &r);
	} else {
		snprintf(sql, sizeof(sql), dry_sql, decision);
		rc = du_db_run(db, err, "decide", sql, 5, p, NULL);
		if (!rc) {
			snprintf(sql, sizeof(sql), counts_sql, "du_decision", "du_decision");
			rc = du_db_run(db, err, "decision counts", sql, 0, NULL, &r);
		}
	}
	if (rc)
		return rc;
	uint64_t *f[] = { &d->found, &d->bytes_found, &d->to_upload, &d->bytes_to_upload,
			  &d->to_check, &d->bytes_to_check, &d->bad_keys };
	for (int i = 0; i < 7; i++)
		*f[i] = strtoull(PQgetvalue(r, 0, i), NULL, 10);
	snprintf(d->reasons, sizeof(d->reasons), "%s", PQgetvalue(r, 0, 7));
	PQclear(r);
	return o->session_id ? du_db_session_scanned(db, o->session_id, d, err) : DU_OK;
}

int du_db_file_prefix_known(struct du_db *db, int64_t project_id, int64_t session_id, const char *prefix,
			bool *known, struct du_err *err)
{
	char pid[24], sid[24];
	const char *p[] = { du_db_i64(pid, project_id), du_db_i64(sid, session_id), prefix };
	PGresult *r = NULL;
	*known = project_id != 0;
	if (!project_id)
		return DU_OK;
	int rc = du_db_run(db, err, "look for earlier rows under the prefix",
			   "SELECT EXISTS (SELECT 1 FROM file_uploads f JOIN sync_sessions ss ON ss.id = f.session_id"
			   " WHERE ss.project_id = $1 AND f.session_id <> $2 AND starts_with(f.s3_key, $3))",
			   3, p, &r);
	if (rc)
		return rc;
	*known = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return DU_OK;
}

int du_db_file_direct_copy(struct du_db *db, struct du_db_copy **out, struct du_err *err)
{
	return du_db_copy_begin(db,
				"COPY file_uploads (session_id, local_path, s3_key, file_size, mtime_ns, inode,"
				" file_type, status, error_message, reason) FROM STDIN",
				out, err);
}

int du_db_file_dry_list(struct du_db *db, int (*cb)(void *arg, const char *key, uint64_t size, const char *action,
					      const char *reason),
		    void *arg, struct du_err *err)
{
	PGresult *r = NULL;
	int rc = du_db_run(db, err, "dry-run listing",
			   "SELECT s3_key, file_size, action, reason FROM du_decision ORDER BY s3_key", 0, NULL, &r);
	if (rc)
		return rc;
	for (int i = 0; i < PQntuples(r) && !rc; i++)
		rc = cb(arg, PQgetvalue(r, i, 0), strtoull(PQgetvalue(r, i, 1), NULL, 10), PQgetvalue(r, i, 2),
			PQgetvalue(r, i, 3));
	PQclear(r);
	return rc;
}

/*
 * Two shapes: pending rows alone (an index range scan in id order, the common case), then, only
 * when those run short, rows whose lease expired and failed rows du-retry may take again.
 */
static const char claim_sql[] =
	"UPDATE file_uploads f SET status = 'uploading', worker = $2,"
	" lease_until = now() + make_interval(secs => $4::int), last_attempt_at = now(),"
	" updated_at = now()"
	" FROM (SELECT id FROM file_uploads WHERE session_id = $1 AND id > $7::bigint AND %s"
	"  ORDER BY id LIMIT $3::int FOR UPDATE SKIP LOCKED) c"
	" WHERE f.id = c.id"
	" RETURNING f.id, f.local_path, f.s3_key, f.file_size, coalesce(f.mtime_ns, 0),"
	" coalesce(f.inode, 0), f.retry_count, f.check_etag, f.check_md5, coalesce(f.part_size, 0), f.reason";
/*
 * What du-retry may take: failed rows with attempts left whose failure is not for good. The same
 * words count them (du_db_status_count_retryable); pending rows are never du-retry's (a finished
 * session's pending rows are the upload's: the sync decision checks them against S3).
 */
#define RETRYABLE(max) "status = 'failed' AND retry_count < " max "::int AND NOT error_permanent"
static const char claim_pending[] = "status = 'pending' AND $5::bool IS NOT NULL AND $6::int IS NOT NULL";
static const char claim_rest[] =
	"status = 'uploading' AND lease_until < now() AND worker IS DISTINCT FROM $2"
	" AND $5::bool IS NOT NULL AND $6::int IS NOT NULL";
static const char claim_failed[] = RETRYABLE("$6") " AND $5::bool";

static int claim_some(struct du_db *db, const char *where, const char *const *p, int64_t *last,
		      int (*cb)(void *arg, const struct du_claimed *c), void *arg, int *n, struct du_err *err)
{
	char sql[sizeof(claim_sql) + sizeof(claim_rest)];
	PGresult *r = NULL;
	snprintf(sql, sizeof(sql), claim_sql, where);
	int rc = du_db_run(db, err, "claim files", sql, 7, p, &r);
	if (rc)
		return rc;
	*n = PQntuples(r);
	for (int i = 0; i < *n && !rc; i++) {
		struct du_claimed c = {
			.id = strtoll(PQgetvalue(r, i, 0), NULL, 10),
			.local_path = PQgetvalue(r, i, 1),
			.s3_key = PQgetvalue(r, i, 2),
			.size = strtoull(PQgetvalue(r, i, 3), NULL, 10),
			.mtime_ns = strtoll(PQgetvalue(r, i, 4), NULL, 10),
			.inode = strtoull(PQgetvalue(r, i, 5), NULL, 10),
			.retry_count = atoi(PQgetvalue(r, i, 6)),
			.check_etag = PQgetisnull(r, i, 7) ? NULL : PQgetvalue(r, i, 7),
			.check_md5 = PQgetisnull(r, i, 8) ? NULL : PQgetvalue(r, i, 8),
			.part_size = strtoull(PQgetvalue(r, i, 9), NULL, 10),
			.reason = PQgetisnull(r, i, 10) ? NULL : PQgetvalue(r, i, 10),
		};
		if (last && c.id > *last)
			*last = c.id;
		rc = cb(arg, &c);
	}
	PQclear(r);
	return rc;
}

int du_db_file_claim(struct du_db *db, int64_t session_id, const char *worker, int limit, int lease_s,
		 bool failed_too, int max_retry, int64_t *cursor,
		 int (*cb)(void *arg, const struct du_claimed *c), void *arg, int *nclaimed, struct du_err *err)
{
	char sid[24], lim[24], lease[24], mr[24], rest[24], after[24];
	const char *p[] = { du_db_i64(sid, session_id), worker, du_db_i64(lim, limit), du_db_i64(lease, lease_s),
			    failed_too ? "t" : "f", du_db_i64(mr, max_retry), du_db_i64(after, *cursor) };
	int n = 0, m = 0;
	/* du-retry: failed rows only. du-upload: pending rows, then those a dead worker left. */
	int rc = claim_some(db, failed_too ? claim_failed : claim_pending, p, cursor, cb, arg, &n, err);
	if (!rc && n < limit && !failed_too) {
		p[2] = du_db_i64(rest, limit - n);
		p[6] = "0"; /* expired leases: any id */
		rc = claim_some(db, claim_rest, p, NULL, cb, arg, &m, err);
	}
	*nclaimed = n + m;
	return rc;
}

int du_db_file_renew(struct du_db *db, int64_t session_id, const char *worker, int lease_s, struct du_err *err)
{
	char sid[24], lease[24];
	const char *p[] = { du_db_i64(sid, session_id), worker, du_db_i64(lease, lease_s) };
	/* The leases and the worker's heartbeat, in one round trip. */
	return du_db_run(db, err, "renew lease",
			 "WITH hb AS (UPDATE session_workers SET heartbeat_at = now() WHERE session_id = $1 AND worker = $2)"
			 " UPDATE file_uploads SET lease_until = now() + make_interval(secs => $3::int)"
			 " WHERE session_id = $1 AND worker = $2 AND status = 'uploading'",
			 3, p, NULL);
}

static const char *const status_names[] = { "uploaded", "failed", "pending" };

int du_db_file_flush(struct du_db *db, int64_t session_id, const char *worker, const struct du_outcome *o,
		 int n, struct du_err *err)
{
	struct du_db_copy *cp;
	int rc;
	char sid[24];
	const char *p[] = { du_db_i64(sid, session_id), worker };

	/*
	 * One round trip: the transaction, and the connection's outcome table (made by the first
	 * flush, and again after a reconnect), without the "already exists" notice every time.
	 */
	rc = du_db_run(db, err, "outcome table",
		       "BEGIN; SET LOCAL client_min_messages = warning;"
		       " CREATE TEMP TABLE IF NOT EXISTS du_outcome (id bigint, status text, size bigint,"
		       " mtime_ns bigint, md5 text, etag text, error text, retries int, count_retry bool,"
		       " permanent bool, reason text, part_size bigint, ck_alg text, ck_value text, ck_type text, suspect text, sensor jsonb)"
		       " ON COMMIT DELETE ROWS",
		       0, NULL, NULL);
	if (rc || (rc = du_db_copy_begin(db, "COPY du_outcome FROM STDIN", &cp, err)))
		goto fail;
	for (int i = 0; i < n && !rc; i++) {
		char id[24], sz[24], mt[24], rt[24], ps[24];
		const char *v[] = { du_db_i64(id, o[i].id), status_names[o[i].status], du_db_i64(sz, o[i].size),
				    du_db_i64(mt, o[i].mtime_ns), o[i].md5[0] ? o[i].md5 : NULL,
				    o[i].etag[0] ? o[i].etag : NULL, o[i].error[0] ? o[i].error : NULL,
				    du_db_i64(rt, o[i].retries), o[i].count_retry ? "t" : "f",
				    o[i].permanent ? "t" : "f", o[i].reason,
				    o[i].part_size ? du_db_i64(ps, o[i].part_size) : NULL,
				    o[i].checksum_alg[0] ? o[i].checksum_alg : NULL,
				    o[i].checksum[0] ? o[i].checksum : NULL,
				    o[i].checksum_type[0] ? o[i].checksum_type : NULL,
				    o[i].suspect[0] ? o[i].suspect : NULL,
				    o[i].sensor };
		rc = du_db_copy_row(cp, 17, v, err);
	}
	if (rc) {
		du_db_copy_abort(cp);
		goto fail;
	}
	if ((rc = du_db_copy_end(cp, err)))
		goto fail;
	/*
	 * Only rows we still hold change, so a file's final row is written once even if its lease
	 * expired and another worker took it. The session's live counters move by what changed.
	 */
	rc = du_db_run(db, err, "write outcomes",
		       "WITH u AS (UPDATE file_uploads f SET status = o.status, file_size = o.size,"
		       "  mtime_ns = o.mtime_ns, md5 = CASE WHEN o.ck_alg IS NULL THEN coalesce(o.md5, f.md5) ELSE o.md5 END,"
		       "  etag = coalesce(o.etag, f.etag),"
		       "  checksum_algorithm = CASE WHEN o.status = 'uploaded' THEN o.ck_alg ELSE f.checksum_algorithm END,"
		       "  checksum_value = CASE WHEN o.status = 'uploaded' THEN o.ck_value ELSE f.checksum_value END,"
		       "  checksum_type = CASE WHEN o.status = 'uploaded' THEN o.ck_type ELSE f.checksum_type END,"
		       "  error_message = CASE WHEN o.status = 'failed' THEN o.error ELSE NULL END,"
		       "  error_permanent = (o.status = 'failed' AND o.permanent),"
		       "  retry_count = f.retry_count + o.retries + CASE WHEN o.count_retry THEN 1 ELSE 0 END,"
		       "  uploaded_at = CASE WHEN o.status = 'uploaded' THEN now() ELSE f.uploaded_at END,"
		       "  worker = CASE WHEN o.status = 'pending' THEN NULL ELSE f.worker END,"
		       "  reason = coalesce(o.reason, f.reason),"
		       "  check_etag = CASE WHEN o.reason IS NULL THEN f.check_etag END,"
		       "  check_md5 = CASE WHEN o.reason IS NULL THEN f.check_md5 END,"
		       "  part_size = CASE WHEN o.status = 'uploaded' THEN o.part_size ELSE f.part_size END,"
		       "  suspect = CASE WHEN o.status = 'pending' THEN f.suspect ELSE o.suspect END,"
		       "  sensor = CASE WHEN o.status = 'uploaded' AND o.sensor IS NOT NULL THEN o.sensor ELSE f.sensor END,"
		       "  lease_until = NULL, updated_at = now()"
		       "  FROM du_outcome o WHERE f.id = o.id AND f.session_id = $1 AND f.status = 'uploading'"
		       "  AND f.worker = $2 RETURNING f.status, f.file_size, f.reason = 'unchanged_checked' AS checked)"
		       " UPDATE sync_sessions s SET"
		       "  files_uploaded = s.files_uploaded + c.up, files_failed = s.files_failed + c.failed,"
		       "  files_skipped = s.files_skipped + c.checked, bytes_uploaded = s.bytes_uploaded + c.bytes"
		       " FROM (SELECT count(*) FILTER (WHERE status = 'uploaded' AND checked IS NOT TRUE) AS up,"
		       "  count(*) FILTER (WHERE status = 'failed') AS failed,"
		       "  count(*) FILTER (WHERE checked) AS checked,"
		       "  coalesce(sum(file_size) FILTER (WHERE status = 'uploaded' AND checked IS NOT TRUE), 0) AS bytes"
		       "  FROM u) c"
		       " WHERE s.id = $1",
		       2, p, NULL);
	if (rc)
		goto fail;
	/*
	 * A finished multipart upload is forgotten only together with its file's uploaded row. Written
	 * so that the plan starts from the batch and probes both tables by key: as a three-way join,
	 * stale statistics (a session whose rows were all failed when last analyzed) led PostgreSQL to
	 * loop over every uploaded row of the table for each outcome, seconds per flush in du-retry.
	 */
	rc = du_db_run(db, err, "forget finished multipart uploads",
		       "DELETE FROM multipart_uploads m WHERE m.file_id IN (SELECT o.id FROM du_outcome o"
		       " WHERE o.status = 'uploaded') AND (SELECT f.status FROM file_uploads f WHERE f.id = m.file_id)"
		       " = 'uploaded'",
		       0, NULL, NULL);
	if (rc)
		goto fail;
	return du_db_run(db, err, "commit", "COMMIT", 0, NULL, NULL);
fail:
	du_db_run(db, NULL, "rollback", "ROLLBACK", 0, NULL, NULL);
	return rc;
}

int du_db_file_open_rows(struct du_db *db, int64_t session_id, int64_t *out, struct du_err *err)
{
	char sid[24];
	const char *p[] = { du_db_i64(sid, session_id) };
	PGresult *r = NULL;
	int rc = du_db_run(db, err, "open rows",
			   "SELECT count(*) FROM file_uploads WHERE session_id = $1"
			   " AND status IN ('pending', 'uploading')",
			   1, p, &r);
	if (rc)
		return rc;
	*out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return DU_OK;
}

int du_db_file_others_open(struct du_db *db, int64_t session_id, const char *worker, int64_t *out,
		       struct du_err *err)
{
	char sid[24];
	const char *p[] = { du_db_i64(sid, session_id), worker };
	PGresult *r = NULL;
	int rc = du_db_run(db, err, "open rows of others",
			   "SELECT count(*) FROM file_uploads WHERE session_id = $1"
			   " AND (status = 'pending' OR (status = 'uploading' AND worker IS DISTINCT FROM $2))",
			   2, p, &r);
	if (rc)
		return rc;
	*out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return DU_OK;
}

/*
 * "3 new, 1 missing in S3, 2 already uploaded" from the decision's JSON ({"new": 3, ...}), in a
 * fixed order. A small flat object of our own making: no JSON parser needed.
 */
void du_reasons_text(const char *json, char *out, size_t n)
{
	static const char *const order[] = { "new", "missing_in_s3", "changed", "unverifiable_newer",
					     "already_uploaded", "unchanged_checked", "to_check", "same_size",
					     "unverifiable_not_newer", "bad_key" };
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]) && o + 1 < n; i++) {
		char pat[64];
		snprintf(pat, sizeof(pat), "\"%s\": ", order[i]);
		const char *at = strstr(json, pat);
		unsigned long long v = at ? strtoull(at + strlen(pat), NULL, 10) : 0;
		if (v)
			o += (size_t)snprintf(out + o, n - o, "%s%llu %s", o ? ", " : "", v, du_progress_reason_label(order[i]));
	}
	if (!o)
		snprintf(out, n, "nothing");
}

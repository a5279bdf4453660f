/* The SQL of the upload pipeline (see db_upload.h). Parameters are always bound. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db_internal.h"
#include "db_upload.h"
#include "du/progress.h"

static int pq_fail(struct du_err *err, PGconn *c, PGresult *r, const char *what)
{
	const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
	char line[400];
	size_t n = strcspn(m, "\n");
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	memcpy(line, m, n);
	line[n] = '\0';
	if (r)
		PQclear(r);
	return du_err_set(err, DU_ERR_DB, "database: %s: %s", what, line);
}

/* Run sql with text parameters; keep the result when want is non-NULL. */
static int q(struct du_db *db, struct du_err *err, const char *what, const char *sql, int n,
	     const char *const *p, PGresult **want)
{
	PGconn *c = du_db_conn(db);
	/* Without parameters, PQexec: it takes several statements at once. */
	PGresult *r = n ? PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0) : PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		return pq_fail(err, c, r, what);
	if (want)
		*want = r;
	else
		PQclear(r);
	return DU_OK;
}

/* Reasons of the decision that skip a file at scan time, so that no row records them. */
#define DU_SCAN_ONLY_REASONS "('already_uploaded', 'unverifiable_not_newer', 'same_size')"

/* pg_advisory_lock's first key: du's job locks ("du" in ASCII), apart from anyone else's. */
#define DU_JOB_LOCK_CLASS "25717"
#define I64(buf, v) (snprintf((buf), sizeof(buf), "%" PRId64, (int64_t)(v)), (buf))

int du_dbu_has_schema(struct du_db *db, bool *out, struct du_err *err)
{
	PGresult *r = NULL;
	int rc = q(db, err, "schema check", "SELECT to_regclass('file_uploads') IS NOT NULL", 0, NULL, &r);
	if (rc)
		return rc;
	*out = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return DU_OK;
}

bool du_dbu_alive(struct du_db *db)
{
	/* libpq reports CONNECTION_OK until a query fails; an empty query finds out cheaply. */
	PGconn *c = du_db_conn(db);
	if (!c || PQstatus(c) != CONNECTION_OK)
		return false;
	PGresult *r = PQexec(c, "");
	bool ok = PQresultStatus(r) == PGRES_EMPTY_QUERY;
	PQclear(r);
	return ok && PQstatus(c) == CONNECTION_OK;
}

int du_dbu_project_find(struct du_db *db, const char *bucket, int64_t *project_id, struct du_err *err)
{
	const char *p[] = { bucket };
	PGresult *r = NULL;
	int rc = q(db, err, "find project", "SELECT id FROM projects WHERE bucket_name = $1", 1, p, &r);
	if (rc)
		return rc;
	*project_id = PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
	PQclear(r);
	return DU_OK;
}

int du_dbu_stage_begin(struct du_db *db, struct du_err *err)
{
	/* Temporary: private to this connection, never WAL-logged, gone with it. */
	return q(db, err, "staging tables",
		 "SET client_min_messages = warning;"
		 "DROP TABLE IF EXISTS du_s3_stage, du_scan_stage, du_decision;"
		 "CREATE TEMP TABLE du_s3_stage (s3_key text NOT NULL, size bigint, etag text,"
		 " mtime bigint);"
		 "CREATE TEMP TABLE du_scan_stage (local_path text NOT NULL, s3_key text NOT NULL,"
		 " file_size bigint NOT NULL, mtime_ns bigint, inode bigint, file_type text NOT NULL,"
		 " bad_key text)",
		 0, NULL, NULL);
}

int du_dbu_stage_copy(struct du_db *db, bool scan, struct du_db_copy **out, struct du_err *err)
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
/* du_dbu_stage_begin dropped any earlier du_decision. */
static const char dry_sql[] = "CREATE TEMP TABLE du_decision AS SELECT * FROM (%s) dd WHERE $2::bigint IS NOT NULL";
/* The decision kept (for per-file lines), then registered from the table. */
static const char kept_sql[] =
	"SELECT * FROM du_decision WHERE $1::bigint IS NOT NULL AND $3::text IS NOT NULL AND $4::bool IS NOT NULL"
	" AND $5::text IS NOT NULL";

static const char *const mode_names[] = { "normal", "checksum", "size_only", "trust_db" };

int du_dbu_decide(struct du_db *db, const struct du_decide_opts *o, struct du_decision *d, struct du_err *err)
{
	char decision[sizeof(decision_sql) + sizeof(recorded_sql)];
	char counts[sizeof(counts_sql) + 32];
	char sql[sizeof(register_sql) + sizeof(decision) + sizeof(counts) + 64];
	char pid[24], sid[24];
	const char *p[] = { I64(pid, o->project_id), I64(sid, o->session_id), o->endpoint ? o->endpoint : "",
			    o->endpoint_is_aws ? "t" : "f", mode_names[o->mode] };
	PGresult *r = NULL;
	int rc;

	snprintf(decision, sizeof(decision), decision_sql,
		 o->has_schema && o->project_id ? recorded_sql : no_recorded_sql);
	if ((rc = q(db, err, "analyze staging", "ANALYZE du_s3_stage; ANALYZE du_scan_stage", 0, NULL, NULL)))
		return rc;
	if (o->session_id && o->keep) {
		snprintf(sql, sizeof(sql), dry_sql, decision);
		if (!(rc = q(db, err, "decide", sql, 5, p, NULL))) {
			snprintf(counts, sizeof(counts), counts_sql, "d", "d");
			snprintf(sql, sizeof(sql), register_sql, kept_sql, counts);
			rc = q(db, err, "register files", sql, 5, p, &r);
		}
	} else if (o->session_id) {
		snprintf(counts, sizeof(counts), counts_sql, "d", "d");
		snprintf(sql, sizeof(sql), register_sql, decision, counts);
		rc = q(db, err, "decide and register files", sql, 5, p, &r);
	} else {
		snprintf(sql, sizeof(sql), dry_sql, decision);
		rc = q(db, err, "decide", sql, 5, p, NULL);
		if (!rc) {
			snprintf(sql, sizeof(sql), counts_sql, "du_decision", "du_decision");
			rc = q(db, err, "decision counts", sql, 0, NULL, &r);
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
	return o->session_id ? du_dbu_scanned(db, o->session_id, d, err) : DU_OK;
}

int du_dbu_scanned(struct du_db *db, int64_t session_id, const struct du_decision *d, struct du_err *err)
{
	char sid[24], n1[24], n2[24], n3[24];
	const char *p[] = { I64(sid, session_id), I64(n1, d->found), I64(n2, d->bytes_found),
			    I64(n3, d->found - d->to_upload - d->to_check), d->reasons[0] ? d->reasons : "{}" };
	return q(db, err, "session totals",
		 "UPDATE sync_sessions SET total_files = $2, total_size_bytes = $3, files_skipped = $4,"
		 " decision = $5::jsonb, scanned_at = now() WHERE id = $1",
		 5, p, NULL);
}

int du_dbu_session_endpoint(struct du_db *db, int64_t session_id, const char *endpoint, struct du_err *err)
{
	char sid[24];
	const char *p[] = { I64(sid, session_id), endpoint };
	return q(db, err, "session endpoint", "UPDATE sync_sessions SET endpoint = $2 WHERE id = $1", 2, p, NULL);
}

int du_dbu_prefix_known(struct du_db *db, int64_t project_id, int64_t session_id, const char *prefix,
			bool *known, struct du_err *err)
{
	char pid[24], sid[24];
	const char *p[] = { I64(pid, project_id), I64(sid, session_id), prefix };
	PGresult *r = NULL;
	*known = project_id != 0;
	if (!project_id)
		return DU_OK;
	int rc = q(db, err, "look for earlier rows under the prefix",
		   "SELECT EXISTS (SELECT 1 FROM file_uploads f JOIN sync_sessions ss ON ss.id = f.session_id"
		   " WHERE ss.project_id = $1 AND f.session_id <> $2 AND starts_with(f.s3_key, $3))",
		   3, p, &r);
	if (rc)
		return rc;
	*known = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return DU_OK;
}

int du_dbu_direct_copy(struct du_db *db, struct du_db_copy **out, struct du_err *err)
{
	return du_db_copy_begin(db,
				"COPY file_uploads (session_id, local_path, s3_key, file_size, mtime_ns, inode,"
				" file_type, status, error_message, reason) FROM STDIN",
				out, err);
}

int du_dbu_dry_list(struct du_db *db, int (*cb)(void *arg, const char *key, uint64_t size, const char *action,
					      const char *reason),
		    void *arg, struct du_err *err)
{
	PGresult *r = NULL;
	int rc = q(db, err, "dry-run listing",
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
 * words count them (du_dbu_count_retryable); pending rows are never du-retry's (a finished
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
	int rc = q(db, err, "claim files", sql, 7, p, &r);
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

int du_dbu_claim(struct du_db *db, int64_t session_id, const char *worker, int limit, int lease_s,
		 bool failed_too, int max_retry, int64_t *cursor,
		 int (*cb)(void *arg, const struct du_claimed *c), void *arg, int *nclaimed, struct du_err *err)
{
	char sid[24], lim[24], lease[24], mr[24], rest[24], after[24];
	const char *p[] = { I64(sid, session_id), worker, I64(lim, limit), I64(lease, lease_s),
			    failed_too ? "t" : "f", I64(mr, max_retry), I64(after, *cursor) };
	int n = 0, m = 0;
	/* du-retry: failed rows only. du-upload: pending rows, then those a dead worker left. */
	int rc = claim_some(db, failed_too ? claim_failed : claim_pending, p, cursor, cb, arg, &n, err);
	if (!rc && n < limit && !failed_too) {
		p[2] = I64(rest, limit - n);
		p[6] = "0"; /* expired leases: any id */
		rc = claim_some(db, claim_rest, p, NULL, cb, arg, &m, err);
	}
	*nclaimed = n + m;
	return rc;
}

int du_dbu_renew(struct du_db *db, int64_t session_id, const char *worker, int lease_s, struct du_err *err)
{
	char sid[24], lease[24];
	const char *p[] = { I64(sid, session_id), worker, I64(lease, lease_s) };
	/* The leases and the worker's heartbeat, in one round trip. */
	return q(db, err, "renew lease",
		 "WITH hb AS (UPDATE session_workers SET heartbeat_at = now() WHERE session_id = $1 AND worker = $2)"
		 " UPDATE file_uploads SET lease_until = now() + make_interval(secs => $3::int)"
		 " WHERE session_id = $1 AND worker = $2 AND status = 'uploading'",
		 3, p, NULL);
}

int du_dbu_worker_begin(struct du_db *db, int64_t session_id, const struct du_worker *w, struct du_err *err)
{
	char sid[24], pid[24], st[24];
	const char *p[] = { I64(sid, session_id), w->worker, w->host, I64(pid, w->pid), I64(st, w->proc_start),
			    w->boot_id[0] ? w->boot_id : NULL };
	return q(db, err, "worker row",
		 "INSERT INTO session_workers (session_id, worker, host, pid, proc_start, boot_id)"
		 " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (session_id, worker)"
		 " DO UPDATE SET heartbeat_at = now(), ended_at = NULL",
		 6, p, NULL);
}

int du_dbu_worker_end(struct du_db *db, int64_t session_id, const char *worker, struct du_err *err)
{
	char sid[24];
	const char *p[] = { I64(sid, session_id), worker };
	return q(db, err, "worker row",
		 "UPDATE session_workers SET ended_at = now() WHERE session_id = $1 AND worker = $2", 2, p, NULL);
}

/*
 * The in_progress sessions none of whose workers is alive (see du_dbu_dead_sessions). Sessions
 * without worker rows (du before 0.2) are judged by the process that made them, as before; the
 * Python tool's, which recorded none, are left alone.
 */
static int sessions_liveness(struct du_db *db, const struct du_worker *me, int remote_dead_s,
			     bool (*alive)(long pid, int64_t proc_start), const struct du_job *job,
			     int (*cb)(void *arg, int64_t id, bool alive, const char *why), void *arg,
			     struct du_err *err)
{
	char secs[24], proj[24];
	const char *p[] = { me->host, me->boot_id[0] ? me->boot_id : "", I64(secs, remote_dead_s),
			    job ? I64(proj, job->project_id) : NULL, job ? job->endpoint : NULL,
			    job ? job->s3_prefix : NULL, job ? job->local_directory : NULL };
	PGresult *r = NULL;
	/* One row per live-looking worker (none: one row of NULLs), and whether the session has any. */
	int rc = q(db, err, "sessions and their workers",
		   "SELECT s.id, w.worker IS NOT NULL,"
		   " EXISTS (SELECT 1 FROM session_workers x WHERE x.session_id = s.id),"
		   " coalesce(w.host = $1 AND coalesce(w.boot_id, '') = $2, s.hostname = $1, false),"
		   " coalesce(w.pid, s.pid, 0), coalesce(w.proc_start, -1),"
		   " coalesce(w.heartbeat_at > now() - make_interval(secs => $3::int), false),"
		   " coalesce(w.host, s.hostname, '?')"
		   " FROM sync_sessions s LEFT JOIN session_workers w ON w.session_id = s.id AND w.ended_at IS NULL"
		   " WHERE s.status = 'in_progress'"
		   "  AND (s.pid IS NOT NULL OR EXISTS (SELECT 1 FROM session_workers x WHERE x.session_id = s.id))"
		   "  AND ($4::bigint IS NULL OR (s.project_id = $4 AND s.endpoint = $5 AND s.s3_prefix = $6"
		   "   AND s.local_directory = $7 AND NOT coalesce(s.dry_run, false)))"
		   " ORDER BY s.id",
		   7, p, &r);
	if (rc)
		return rc;
	int n = PQntuples(r);
	for (int i = 0; i < n && !rc;) {
		int64_t id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		bool any_alive = false;
		char why[200] = "";
		int j = i;
		for (; j < n && strtoll(PQgetvalue(r, j, 0), NULL, 10) == id; j++) {
			bool worker_row = PQgetvalue(r, j, 1)[0] == 't', has_workers = PQgetvalue(r, j, 2)[0] == 't';
			bool here = PQgetvalue(r, j, 3)[0] == 't', fresh = PQgetvalue(r, j, 6)[0] == 't';
			long pid = atol(PQgetvalue(r, j, 4));
			int64_t start = strtoll(PQgetvalue(r, j, 5), NULL, 10);
			const char *host = PQgetvalue(r, j, 7);
			if (!worker_row && has_workers) {
				snprintf(why, sizeof(why), "every worker left without finishing it");
			} else if (!worker_row && !here) {
				any_alive = true; /* an older du's session on another host: nothing to go by */
			} else if (here ? alive(pid, worker_row ? start : -1) : fresh) {
				any_alive = true;
			} else if (!why[0] && here) {
				snprintf(why, sizeof(why), "its process %ld on %s ended", pid, host);
			} else if (!why[0]) {
				snprintf(why, sizeof(why), "no heartbeat from %s for over %d s", host, remote_dead_s);
			}
		}
		rc = cb(arg, id, any_alive, why);
		i = j;
	}
	PQclear(r);
	return rc;
}

struct dead_walk {
	int (*cb)(void *arg, int64_t id, const char *why);
	void *arg;
};

static int dead_only(void *arg, int64_t id, bool alive, const char *why)
{
	struct dead_walk *w = arg;
	return alive ? 0 : w->cb(w->arg, id, why);
}

int du_dbu_dead_sessions(struct du_db *db, const struct du_worker *me, int remote_dead_s,
			 bool (*alive)(long pid, int64_t proc_start), int (*cb)(void *arg, int64_t id, const char *why),
			 void *arg, struct du_err *err)
{
	struct dead_walk w = { cb, arg };
	return sessions_liveness(db, me, remote_dead_s, alive, NULL, dead_only, &w, err);
}

static int newest_alive(void *arg, int64_t id, bool alive, const char *why)
{
	(void)why;
	int64_t *out = arg;
	if (alive && id > *out)
		*out = id;
	return 0;
}

int du_dbu_live_session(struct du_db *db, const struct du_worker *me, int remote_dead_s,
			bool (*alive)(long pid, int64_t proc_start), const struct du_job *job,
			struct du_live_session *out, struct du_err *err)
{
	memset(out, 0, sizeof(*out));
	int rc = sessions_liveness(db, me, remote_dead_s, alive, job, newest_alive, &out->id, err);
	if (rc || !out->id)
		return rc;
	char sid[24];
	const char *p[] = { I64(sid, out->id) };
	PGresult *r = NULL;
	/* Who works on it, for the line that says so: its oldest worker still at work. */
	rc = q(db, err, "live session's worker",
	       "SELECT coalesce(w.host, s.hostname, '?'), coalesce(w.pid, s.pid, 0),"
	       " (SELECT count(*) FROM session_workers x WHERE x.session_id = s.id AND x.ended_at IS NULL)"
	       " FROM sync_sessions s LEFT JOIN LATERAL (SELECT host, pid FROM session_workers"
	       "  WHERE session_id = s.id AND ended_at IS NULL ORDER BY started_at LIMIT 1) w ON true"
	       " WHERE s.id = $1",
	       1, p, &r);
	if (rc)
		return rc;
	if (PQntuples(r) == 1) {
		snprintf(out->host, sizeof(out->host), "%s", PQgetvalue(r, 0, 0));
		out->pid = atol(PQgetvalue(r, 0, 1));
		out->workers = atoi(PQgetvalue(r, 0, 2));
	}
	PQclear(r);
	return DU_OK;
}

/* Two runs of one job find-or-create its session one at a time (a lock per job, not per table). */
static int job_lock(struct du_db *db, const struct du_job *job, bool lock, struct du_err *err)
{
	char key[4096];
	snprintf(key, sizeof(key), "%" PRId64 "\n%s\n%s\n%s", job->project_id, job->endpoint, job->s3_prefix,
		 job->local_directory);
	const char *p[] = { key };
	return q(db, err, lock ? "lock the job" : "unlock the job",
		 lock ? "SELECT pg_advisory_lock(" DU_JOB_LOCK_CLASS ", hashtext($1))"
		      : "SELECT pg_advisory_unlock(" DU_JOB_LOCK_CLASS ", hashtext($1))",
		 1, p, NULL);
}

int du_dbu_job_lock(struct du_db *db, const struct du_job *job, struct du_err *err)
{
	return job_lock(db, job, true, err);
}

int du_dbu_job_unlock(struct du_db *db, const struct du_job *job, struct du_err *err)
{
	return job_lock(db, job, false, err);
}

int du_dbu_mark_interrupted(struct du_db *db, int64_t session_id, const char *why, bool *done, struct du_err *err)
{
	char sid[24];
	const char *p[] = { I64(sid, session_id), why };
	PGresult *r = NULL;
	int rc = q(db, err, "mark a dead session interrupted",
		   "UPDATE sync_sessions SET status = 'interrupted', completed_at = now(),"
		   " error_message = coalesce(error_message, 'no worker left: ' || $2)"
		   " WHERE id = $1 AND status = 'in_progress'",
		   2, p, &r);
	if (rc)
		return rc;
	*done = atoi(PQcmdTuples(r)) > 0;
	PQclear(r);
	return DU_OK;
}

static const char *const status_names[] = { "uploaded", "failed", "pending" };

int du_dbu_flush(struct du_db *db, int64_t session_id, const char *worker, const struct du_outcome *o,
		 int n, struct du_err *err)
{
	struct du_db_copy *cp;
	int rc;
	char sid[24];
	const char *p[] = { I64(sid, session_id), worker };

	/*
	 * One round trip: the transaction, and the connection's outcome table (made by the first
	 * flush, and again after a reconnect), without the "already exists" notice every time.
	 */
	rc = q(db, err, "outcome table",
	       "BEGIN; SET LOCAL client_min_messages = warning;"
	       " CREATE TEMP TABLE IF NOT EXISTS du_outcome (id bigint, status text, size bigint,"
	       " mtime_ns bigint, md5 text, etag text, error text, retries int, count_retry bool,"
	       " permanent bool, reason text, part_size bigint, ck_alg text, ck_value text, ck_type text)"
	       " ON COMMIT DELETE ROWS",
	       0, NULL, NULL);
	if (rc || (rc = du_db_copy_begin(db, "COPY du_outcome FROM STDIN", &cp, err)))
		goto fail;
	for (int i = 0; i < n && !rc; i++) {
		char id[24], sz[24], mt[24], rt[24], ps[24];
		const char *v[] = { I64(id, o[i].id), status_names[o[i].status], I64(sz, o[i].size),
				    I64(mt, o[i].mtime_ns), o[i].md5[0] ? o[i].md5 : NULL,
				    o[i].etag[0] ? o[i].etag : NULL, o[i].error[0] ? o[i].error : NULL,
				    I64(rt, o[i].retries), o[i].count_retry ? "t" : "f",
				    o[i].permanent ? "t" : "f", o[i].reason,
				    o[i].part_size ? I64(ps, o[i].part_size) : NULL,
				    o[i].checksum_alg[0] ? o[i].checksum_alg : NULL,
				    o[i].checksum[0] ? o[i].checksum : NULL,
				    o[i].checksum_type[0] ? o[i].checksum_type : NULL };
		rc = du_db_copy_row(cp, 15, v, err);
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
	rc = q(db, err, "write outcomes",
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
	rc = q(db, err, "forget finished multipart uploads",
	       "DELETE FROM multipart_uploads m WHERE m.file_id IN (SELECT o.id FROM du_outcome o"
	       " WHERE o.status = 'uploaded') AND (SELECT f.status FROM file_uploads f WHERE f.id = m.file_id)"
	       " = 'uploaded'",
	       0, NULL, NULL);
	if (rc)
		goto fail;
	return q(db, err, "commit", "COMMIT", 0, NULL, NULL);
fail:
	q(db, NULL, "rollback", "ROLLBACK", 0, NULL, NULL);
	return rc;
}

/*
 * Counters from the rows. The reasons of the decision that left no row (skipped at scan time)
 * stay as the scan counted them; those of rows are counted again, as checks settle them.
 */
int du_dbu_finish(struct du_db *db, int64_t session_id, const char *status, const char *error_message,
		  struct du_err *err)
{
	char sid[24];
	const char *p[] = { I64(sid, session_id), status, error_message };
	return q(db, err, "finish session",
		 "UPDATE sync_sessions s SET files_uploaded = c.up, files_failed = c.failed,"
		 " bytes_uploaded = c.bytes,"
		 /* The last worker closes the session: its failures are every worker's, as the rows say. */
		 " status = CASE WHEN $2 = 'completed' AND c.failed > 0 THEN 'completed_with_errors'"
		 "  ELSE coalesce($2, s.status) END,"
		 " completed_at = CASE WHEN $2 IS NULL OR $2 = 'in_progress' THEN s.completed_at ELSE now() END,"
		 " error_message = coalesce($3, s.error_message),"
		 " decision = CASE WHEN s.decision IS NULL THEN NULL"
		 "  ELSE (SELECT coalesce(jsonb_object_agg(key, value), '{}') FROM jsonb_each(s.decision)"
		 "   WHERE key IN " DU_SCAN_ONLY_REASONS ") || c.reasons END,"
		 " files_skipped = CASE WHEN s.decision IS NULL THEN s.files_skipped"
		 "  ELSE (SELECT coalesce(sum(value::text::bigint), 0) FROM jsonb_each(s.decision)"
		 "   WHERE key IN " DU_SCAN_ONLY_REASONS ") + c.checked END"
		 " FROM (SELECT count(*) FILTER (WHERE status = 'uploaded' AND reason IS DISTINCT FROM 'unchanged_checked') AS up,"
		 "  count(*) FILTER (WHERE status = 'failed') AS failed,"
		 "  count(*) FILTER (WHERE reason = 'unchanged_checked') AS checked,"
		 "  coalesce(sum(file_size) FILTER (WHERE status = 'uploaded'"
		 "   AND reason IS DISTINCT FROM 'unchanged_checked'), 0) AS bytes,"
		 "  coalesce((SELECT jsonb_object_agg(reason, n) FROM (SELECT reason, count(*) AS n FROM file_uploads"
		 "   WHERE session_id = $1 AND reason IS NOT NULL GROUP BY reason) g), '{}') AS reasons"
		 "  FROM file_uploads WHERE session_id = $1) c"
		 " WHERE s.id = $1",
		 3, p, NULL);
}

int du_dbu_open_rows(struct du_db *db, int64_t session_id, int64_t *out, struct du_err *err)
{
	char sid[24];
	const char *p[] = { I64(sid, session_id) };
	PGresult *r = NULL;
	int rc = q(db, err, "open rows",
		   "SELECT count(*) FROM file_uploads WHERE session_id = $1"
		   " AND status IN ('pending', 'uploading')",
		   1, p, &r);
	if (rc)
		return rc;
	*out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return DU_OK;
}

int du_dbu_others_open(struct du_db *db, int64_t session_id, const char *worker, int64_t *out,
		       struct du_err *err)
{
	char sid[24];
	const char *p[] = { I64(sid, session_id), worker };
	PGresult *r = NULL;
	int rc = q(db, err, "open rows of others",
		   "SELECT count(*) FROM file_uploads WHERE session_id = $1"
		   " AND (status = 'pending' OR (status = 'uploading' AND worker IS DISTINCT FROM $2))",
		   2, p, &r);
	if (rc)
		return rc;
	*out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return DU_OK;
}

int du_dbu_session_state(struct du_db *db, int64_t session_id, bool *scanned, char *status, size_t status_len,
			 struct du_err *err)
{
	char sid[24];
	const char *p[] = { I64(sid, session_id) };
	PGresult *r = NULL;
	int rc = q(db, err, "session state",
		   "SELECT scanned_at IS NOT NULL, status FROM sync_sessions WHERE id = $1", 1, p, &r);
	if (rc)
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return du_err_set(err, DU_ERR_NOTFOUND, "session %" PRId64 " does not exist", session_id);
	}
	*scanned = PQgetvalue(r, 0, 0)[0] == 't';
	snprintf(status, status_len, "%s", PQgetvalue(r, 0, 1));
	PQclear(r);
	return DU_OK;
}

int du_dbu_top_errors(struct du_db *db, int64_t session_id, int limit,
		      int (*cb)(void *arg, const char *error, uint64_t count), void *arg, struct du_err *err)
{
	char sid[24], lim[24];
	const char *p[] = { I64(sid, session_id), I64(lim, limit) };
	PGresult *r = NULL;
	int rc = q(db, err, "failure summary",
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

/*
 * The multipart upload of this file row, or of the same key in an earlier session of the same
 * project (a plain re-run after a crash makes new rows): that one is adopted, so the parts it
 * finished are not sent again and no upload is left behind unfinished.
 */
static const char mpu_find_sql[] =
	"SELECT m.file_id, m.upload_id, m.part_size FROM multipart_uploads m"
	" JOIN file_uploads f ON f.id = m.file_id JOIN sync_sessions s ON s.id = f.session_id"
	" JOIN file_uploads me ON me.id = $1 JOIN sync_sessions ms ON ms.id = me.session_id"
	" WHERE f.s3_key = me.s3_key AND s.project_id = ms.project_id"
	" ORDER BY (m.file_id = $1) DESC, m.created_at DESC LIMIT 1";

static const char mpu_adopt_sql[] =
	"WITH n AS (INSERT INTO multipart_uploads (file_id, upload_id, part_size, created_at)"
	"  SELECT $1, upload_id, part_size, created_at FROM multipart_uploads WHERE file_id = $2"
	"  ON CONFLICT (file_id) DO UPDATE SET upload_id = EXCLUDED.upload_id,"
	"  part_size = EXCLUDED.part_size RETURNING file_id),"
	" p AS (INSERT INTO multipart_parts (file_id, part_number, size, md5, etag, checksum)"
	"  SELECT $1, part_number, size, md5, etag, checksum FROM multipart_parts WHERE file_id = $2"
	"  AND EXISTS (SELECT 1 FROM n) ON CONFLICT DO NOTHING)"
	" DELETE FROM multipart_uploads WHERE file_id = $2";

int du_dbu_mpu_load(struct du_db *db, int64_t file_id, char **upload_id, uint64_t *part_size,
		    struct du_mpu_part **parts, int *nparts, struct du_err *err)
{
	char fid[24], oid[24];
	const char *p[] = { I64(fid, file_id) };
	PGresult *r = NULL;
	int rc;

	*upload_id = NULL;
	*parts = NULL;
	*nparts = 0;
	if ((rc = q(db, err, "multipart state", mpu_find_sql, 1, p, &r)))
		return rc;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return DU_OK;
	}
	int64_t owner = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	*upload_id = strdup(PQgetvalue(r, 0, 1));
	*part_size = strtoull(PQgetvalue(r, 0, 2), NULL, 10);
	PQclear(r);
	if (!*upload_id)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	if (owner != file_id) {
		/* One statement, so the adoption is atomic. */
		const char *pa[] = { fid, I64(oid, owner) };
		if ((rc = q(db, err, "adopt multipart upload", mpu_adopt_sql, 2, pa, NULL)))
			goto fail;
	}
	if ((rc = q(db, err, "multipart parts",
		    "SELECT part_number, size, md5, etag, coalesce(checksum, '') FROM multipart_parts WHERE file_id = $1"
		    " ORDER BY part_number",
		    1, p, &r)))
		goto fail;
	int n = PQntuples(r);
	*parts = calloc(n ? n : 1, sizeof(**parts));
	if (!*parts) {
		PQclear(r);
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		struct du_mpu_part *pp = &(*parts)[i];
		pp->number = atoi(PQgetvalue(r, i, 0));
		pp->size = strtoull(PQgetvalue(r, i, 1), NULL, 10);
		snprintf(pp->md5, sizeof(pp->md5), "%s", PQgetvalue(r, i, 2));
		snprintf(pp->etag, sizeof(pp->etag), "%s", PQgetvalue(r, i, 3));
		snprintf(pp->checksum, sizeof(pp->checksum), "%s", PQgetvalue(r, i, 4));
	}
	*nparts = n;
	PQclear(r);
	return DU_OK;
fail:
	free(*upload_id);
	*upload_id = NULL;
	return rc;
}

int du_dbu_mpu_start(struct du_db *db, int64_t file_id, const char *upload_id, uint64_t part_size,
		     struct du_err *err)
{
	char fid[24], ps[24];
	const char *p[] = { I64(fid, file_id), upload_id, I64(ps, part_size) };
	return q(db, err, "record multipart upload",
		 "INSERT INTO multipart_uploads (file_id, upload_id, part_size) VALUES ($1, $2, $3)"
		 " ON CONFLICT (file_id) DO UPDATE SET upload_id = EXCLUDED.upload_id,"
		 " part_size = EXCLUDED.part_size, created_at = now()",
		 3, p, NULL);
}

int du_dbu_mpu_part(struct du_db *db, int64_t file_id, const struct du_mpu_part *pt, struct du_err *err)
{
	char fid[24], num[24], sz[24];
	const char *p[] = { I64(fid, file_id), I64(num, pt->number), I64(sz, pt->size), pt->md5, pt->etag,
			    pt->checksum[0] ? pt->checksum : NULL };
	return q(db, err, "record part",
		 "INSERT INTO multipart_parts (file_id, part_number, size, md5, etag, checksum)"
		 " VALUES ($1, $2, $3, $4, $5, $6)"
		 " ON CONFLICT (file_id, part_number) DO UPDATE SET size = EXCLUDED.size,"
		 " md5 = EXCLUDED.md5, etag = EXCLUDED.etag, checksum = EXCLUDED.checksum",
		 6, p, NULL);
}

int du_dbu_mpu_forget(struct du_db *db, int64_t file_id, struct du_err *err)
{
	char fid[24];
	const char *p[] = { I64(fid, file_id) };
	return q(db, err, "forget multipart upload", "DELETE FROM multipart_uploads WHERE file_id = $1", 1, p,
		 NULL);
}

int du_dbu_list_failed(struct du_db *db, int64_t session_id, int (*cb)(void *arg, const struct du_failed_row *r),
		       void *arg, struct du_err *err)
{
	char sid[24];
	const char *p[] = { I64(sid, session_id) };
	PGresult *r = NULL;
	int rc = q(db, err, "failed files",
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

int du_dbu_count_failed(struct du_db *db, int64_t session_id, int64_t *out, struct du_err *err)
{
	char sid[24];
	const char *p[] = { I64(sid, session_id) };
	PGresult *r = NULL;
	int rc = q(db, err, "failed files", "SELECT count(*) FROM file_uploads WHERE session_id = $1 AND status = 'failed'",
		   1, p, &r);
	if (rc)
		return rc;
	*out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return DU_OK;
}

int du_dbu_count_retryable(struct du_db *db, int64_t session_id, int max_attempts, int64_t *out,
			   struct du_err *err)
{
	char sid[24], ma[24];
	const char *p[] = { I64(sid, session_id), I64(ma, max_attempts) };
	PGresult *r = NULL;
	int rc = q(db, err, "retryable files",
		   "SELECT count(*) FROM file_uploads WHERE session_id = $1 AND status = 'failed'"
		   " AND retry_count < $2::int AND NOT error_permanent",
		   2, p, &r);
	if (rc)
		return rc;
	*out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return DU_OK;
}

int du_dbu_mpu_owner(struct du_db *db, const char *upload_id, int64_t *file_id, char *status, size_t n,
		     struct du_err *err)
{
	const char *p[] = { upload_id };
	PGresult *r = NULL;
	int rc = q(db, err, "multipart owner",
		   "SELECT f.id, f.status FROM multipart_uploads m JOIN file_uploads f ON f.id = m.file_id"
		   " WHERE m.upload_id = $1",
		   1, p, &r);
	if (rc)
		return rc;
	*file_id = PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
	snprintf(status, n, "%s", PQntuples(r) ? PQgetvalue(r, 0, 1) : "");
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

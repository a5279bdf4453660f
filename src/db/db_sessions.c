/* db_sessions.c: a session's life and its workers (see db_sessions.h). Parameters are always bound. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db/db_internal.h"
#include "db/db_files.h"
#include "db/db_sessions.h"

/* Reasons of the decision that skip a file at scan time, so that no row records them. */
#define DU_SCAN_ONLY_REASONS "('already_uploaded', 'unverifiable_not_newer', 'same_size')"

/* pg_advisory_lock's first key: du's job locks ("du" in ASCII), apart from anyone else's. */
#define DU_JOB_LOCK_CLASS "25717"

int du_db_session_has_schema(struct du_db *db, bool *out, struct du_err *err)
{
	PGresult *r = NULL;
	int rc = du_db_run(db, err, "schema check", "SELECT to_regclass('file_uploads') IS NOT NULL", 0, NULL, &r);
	if (rc)
		return rc;
	*out = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return DU_OK;
}

bool du_db_session_alive(struct du_db *db)
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

int du_db_session_project(struct du_db *db, const char *bucket, int64_t *project_id, struct du_err *err)
{
	const char *p[] = { bucket };
	PGresult *r = NULL;
	int rc = du_db_run(db, err, "find project", "SELECT id FROM projects WHERE bucket_name = $1", 1, p, &r);
	if (rc)
		return rc;
	*project_id = PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
	PQclear(r);
	return DU_OK;
}

int du_db_session_scanned(struct du_db *db, int64_t session_id, const struct du_decision *d, struct du_err *err)
{
	char sid[24], n1[24], n2[24], n3[24];
	const char *p[] = { du_db_i64(sid, session_id), du_db_i64(n1, d->found), du_db_i64(n2, d->bytes_found),
			    du_db_i64(n3, d->found - d->to_upload - d->to_check), d->reasons[0] ? d->reasons : "{}" };
	return du_db_run(db, err, "session totals",
			 "UPDATE sync_sessions SET total_files = $2, total_size_bytes = $3, files_skipped = $4,"
			 " decision = $5::jsonb, scanned_at = now() WHERE id = $1",
			 5, p, NULL);
}

int du_db_session_endpoint(struct du_db *db, int64_t session_id, const char *endpoint, struct du_err *err)
{
	char sid[24];
	const char *p[] = { du_db_i64(sid, session_id), endpoint };
	return du_db_run(db, err, "session endpoint", "UPDATE sync_sessions SET endpoint = $2 WHERE id = $1", 2, p, NULL);
}

int du_db_session_worker_begin(struct du_db *db, int64_t session_id, const struct du_worker *w, struct du_err *err)
{
	char sid[24], pid[24], st[24];
	const char *p[] = { du_db_i64(sid, session_id), w->worker, w->host, du_db_i64(pid, w->pid),
			    du_db_i64(st, w->proc_start), w->boot_id[0] ? w->boot_id : NULL };
	return du_db_run(db, err, "worker row",
			 "INSERT INTO session_workers (session_id, worker, host, pid, proc_start, boot_id)"
			 " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (session_id, worker)"
			 " DO UPDATE SET heartbeat_at = now(), ended_at = NULL",
			 6, p, NULL);
}

int du_db_session_worker_end(struct du_db *db, int64_t session_id, const char *worker, struct du_err *err)
{
	char sid[24];
	const char *p[] = { du_db_i64(sid, session_id), worker };
	return du_db_run(db, err, "worker row",
			 "UPDATE session_workers SET ended_at = now() WHERE session_id = $1 AND worker = $2", 2, p, NULL);
}

/*
 * The in_progress sessions none of whose workers is alive (see du_db_session_dead). Sessions
 * without worker rows (du before 0.2) are judged by the process that made them, as before; the
 * Python tool's, which recorded none, are left alone.
 */
static int sessions_liveness(struct du_db *db, const struct du_worker *me, int remote_dead_s,
			     bool (*alive)(long pid, int64_t proc_start), const struct du_job *job,
			     int (*cb)(void *arg, int64_t id, bool alive, const char *why), void *arg,
			     struct du_err *err)
{
	char secs[24], proj[24];
	const char *p[] = { me->host, me->boot_id[0] ? me->boot_id : "", du_db_i64(secs, remote_dead_s),
			    job ? du_db_i64(proj, job->project_id) : NULL, job ? job->endpoint : NULL,
			    job ? job->s3_prefix : NULL, job ? job->local_directory : NULL };
	PGresult *r = NULL;
	/* One row per live-looking worker (none: one row of NULLs), and whether the session has any. */
	int rc = du_db_run(db, err, "sessions and their workers",
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

int du_db_session_dead(struct du_db *db, const struct du_worker *me, int remote_dead_s,
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

int du_db_session_live(struct du_db *db, const struct du_worker *me, int remote_dead_s,
			bool (*alive)(long pid, int64_t proc_start), const struct du_job *job,
			struct du_live_session *out, struct du_err *err)
{
	memset(out, 0, sizeof(*out));
	int rc = sessions_liveness(db, me, remote_dead_s, alive, job, newest_alive, &out->id, err);
	if (rc || !out->id)
		return rc;
	char sid[24];
	const char *p[] = { du_db_i64(sid, out->id) };
	PGresult *r = NULL;
	/* Who works on it, for the line that says so: its oldest worker still at work. */
	rc = du_db_run(db, err, "live session's worker",
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
	return du_db_run(db, err, lock ? "lock the job" : "unlock the job",
			 lock ? "SELECT pg_advisory_lock(" DU_JOB_LOCK_CLASS ", hashtext($1))"
		      : "SELECT pg_advisory_unlock(" DU_JOB_LOCK_CLASS ", hashtext($1))",
			 1, p, NULL);
}

int du_db_session_job_lock(struct du_db *db, const struct du_job *job, struct du_err *err)
{
	return job_lock(db, job, true, err);
}

int du_db_session_job_unlock(struct du_db *db, const struct du_job *job, struct du_err *err)
{
	return job_lock(db, job, false, err);
}

int du_db_session_interrupt(struct du_db *db, int64_t session_id, const char *why, bool *done, struct du_err *err)
{
	char sid[24];
	const char *p[] = { du_db_i64(sid, session_id), why };
	PGresult *r = NULL;
	int rc = du_db_run(db, err, "mark a dead session interrupted",
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

/*
 * Counters from the rows. The reasons of the decision that left no row (skipped at scan time)
 * stay as the scan counted them; those of rows are counted again, as checks settle them.
 */
int du_db_session_close(struct du_db *db, int64_t session_id, const char *status, const char *error_message,
		  struct du_err *err)
{
	char sid[24];
	const char *p[] = { du_db_i64(sid, session_id), status, error_message };
	return du_db_run(db, err, "finish session",
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

int du_db_session_state(struct du_db *db, int64_t session_id, bool *scanned, char *status, size_t status_len,
			 struct du_err *err)
{
	char sid[24];
	const char *p[] = { du_db_i64(sid, session_id) };
	PGresult *r = NULL;
	int rc = du_db_run(db, err, "session state",
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

/*
 * db_sessions.h (private): a session's life past its creation (include/du/db.h creates, reads
 * and finishes it): the schema and project a run finds, its endpoint and scan totals, the
 * processes at work on it (session_workers), which sessions are alive or dead, the lock of one
 * job, and its close. PGresult never leaves src/db/.
 *
 * Threads: a struct du_db is one connection used by one thread at a time. Two processes of one
 * job serialise on du_db_session_job_lock, which is held by the connection that took it.
 */
#ifndef DU_DB_SESSIONS_H
#define DU_DB_SESSIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "du/db.h"
#include "du/err.h"

struct du_decision; /* db_files.h */

/* Record the S3 endpoint the session works against. */
int du_db_session_endpoint(struct du_db *db, int64_t session_id, const char *endpoint, struct du_err *err);
/* Set the session's totals from the decision and mark it scanned. */
int du_db_session_scanned(struct du_db *db, int64_t session_id, const struct du_decision *d, struct du_err *err);

/* Does the database hold du's schema (file_uploads)? A dry run does not migrate. */
int du_db_session_has_schema(struct du_db *db, bool *out, struct du_err *err);
/* Whether the connection still reaches the server (a round trip). */
bool du_db_session_alive(struct du_db *db);
/* The project of bucket, or 0 when there is none (read only: for dry runs). */
int du_db_session_project(struct du_db *db, const char *bucket, int64_t *project_id, struct du_err *err);

/* Recount the session's counters from its rows; set status (NULL: keep) and completed_at. */
int du_db_session_close(struct du_db *db, int64_t session_id, const char *status, const char *error_message,
		  struct du_err *err);

/*
 * Worker rows (session_workers): each process working on a session has one, its heartbeat renewed
 * with its leases (du_db_file_renew), ended when it leaves.
 */
struct du_worker {
	char worker[160];           /* du_worker_id() */
	char host[256];
	long pid;
	int64_t proc_start;         /* /proc/self/stat starttime */
	char boot_id[64];
};
int du_db_session_worker_begin(struct du_db *db, int64_t session_id, const struct du_worker *w, struct du_err *err);
int du_db_session_worker_end(struct du_db *db, int64_t session_id, const char *worker, struct du_err *err);
/*
 * Hand cb each in_progress session none of whose workers is alive: a worker on me's host (same
 * boot) by alive(pid, proc_start), any other by a heartbeat newer than remote_dead_s; why says
 * what was seen. Read only: status uses it to show presumed-dead sessions.
 */
int du_db_session_dead(struct du_db *db, const struct du_worker *me, int remote_dead_s,
			 bool (*alive)(long pid, int64_t proc_start), int (*cb)(void *arg, int64_t id, const char *why),
			 void *arg, struct du_err *err);
/* in_progress -> interrupted, with why; *done says whether it changed. */
int du_db_session_interrupt(struct du_db *db, int64_t session_id, const char *why, bool *done, struct du_err *err);

/* Whether the session's files are registered (its scan is over), and its status. */
int du_db_session_state(struct du_db *db, int64_t session_id, bool *scanned, char *status, size_t status_len,
			 struct du_err *err);

/*
 * One job: a bucket (project), an endpoint, a prefix and a directory. Two runs of one job at once
 * work on one session (docs/DATABASE.md, "Two runs of one job"): du_db_session_job_lock serialises their
 * find-or-create (a PostgreSQL advisory lock, released by du_db_session_job_unlock or the connection's
 * end), du_db_session_live finds the newest in_progress session of the job with a live worker
 * (as du_db_session_dead judges them); out->id = 0 when there is none.
 */
struct du_job {
	int64_t project_id;
	const char *endpoint, *s3_prefix, *local_directory;
};
struct du_live_session {
	int64_t id;
	char host[256];             /* its oldest worker at work, for the line that says so */
	long pid;
	int workers;
};
int du_db_session_job_lock(struct du_db *db, const struct du_job *job, struct du_err *err);
int du_db_session_job_unlock(struct du_db *db, const struct du_job *job, struct du_err *err);
int du_db_session_live(struct du_db *db, const struct du_worker *me, int remote_dead_s,
			bool (*alive)(long pid, int64_t proc_start), const struct du_job *job,
			struct du_live_session *out, struct du_err *err);

#endif

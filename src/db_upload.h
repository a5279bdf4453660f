/*
 * db_upload.h (private): the SQL of the upload pipeline. PGresult never leaves src/db*.c.
 *
 * Registration: the S3 listing and the scan are COPY'd into two temporary tables of the main
 * connection, then one set-based statement decides what to upload and inserts those rows as
 * 'pending' (or 'failed' when the key is invalid). Upload: workers' batches are claimed with
 * FOR UPDATE SKIP LOCKED under a lease; one writer flushes outcomes in batches.
 */
#ifndef DU_DB_UPLOAD_H
#define DU_DB_UPLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "du/db.h"
#include "du/err.h"

struct du_decision {
	uint64_t found, bytes_found;
	uint64_t to_upload, bytes_to_upload;
	uint64_t to_check, bytes_to_check;   /* listed with the same size: a worker hashes them */
	uint64_t bad_keys;
	char reasons[1024];                  /* {"new": 3, ...}: the keys below, as JSON */
};

/*
 * The reasons of the decision (keys of sync_sessions.decision, values of file_uploads.reason):
 *   new, missing_in_s3, changed, bad_key           uploaded
 *   unverifiable_newer                             uploaded: ETag not checkable, file newer
 *   already_uploaded, same_size,                   skipped at scan time (no row)
 *   unverifiable_not_newer
 *   to_check -> unchanged_checked | changed        hashed by a worker, then skipped or uploaded
 * du_progress_reason_label() gives the words a person reads.
 */
/* "3 new, 1 missing in S3, 2 already uploaded" from a decision's JSON, in a fixed order. */
void du_reasons_text(const char *json, char *out, size_t n);

enum du_decide_mode { DU_DECIDE_NORMAL, DU_DECIDE_CHECKSUM, DU_DECIDE_SIZE_ONLY, DU_DECIDE_TRUST_DB };

struct du_decide_opts {
	int64_t session_id;        /* 0: dry run (decide into a temporary table, write nothing) */
	int64_t project_id;
	bool has_schema;           /* false: the database holds no du schema yet (dry run) */
	const char *endpoint;      /* rows of sessions against another endpoint decide nothing */
	bool endpoint_is_aws;      /* sessions without a recorded endpoint were against AWS */
	enum du_decide_mode mode;
	bool keep;                 /* keep the decision for du_dbu_dry_list also in a real run */
};

/* Create the temporary staging tables (du_s3_stage, du_scan_stage). */
int du_dbu_stage_begin(struct du_db *db, struct du_err *err);
/* COPY handles for the two stages: rows are (s3_key, size, etag, mtime seconds) and
 * (local_path, s3_key, file_size, mtime_ns, inode, file_type, bad_key). */
int du_dbu_stage_copy(struct du_db *db, bool scan, struct du_db_copy **out, struct du_err *err);
/*
 * Decide (docs/DATABASE.md, "What a run uploads"). With o->session_id, insert the rows to upload
 * or check into file_uploads for that session and set the session's totals; with 0 (dry run),
 * only count and keep the decision for du_dbu_dry_list.
 */
int du_dbu_decide(struct du_db *db, const struct du_decide_opts *o, struct du_decision *d, struct du_err *err);
/* Record the S3 endpoint the session works against. */
int du_dbu_session_endpoint(struct du_db *db, int64_t session_id, const char *endpoint, struct du_err *err);
/* Set the session's totals from the decision and mark it scanned. */
int du_dbu_scanned(struct du_db *db, int64_t session_id, const struct du_decision *d, struct du_err *err);
/*
 * Whether any earlier row of the project has a key under prefix (with its trailing '/'): with an
 * empty listing and no such row there is nothing to decide, and a run may register directly.
 */
int du_dbu_prefix_known(struct du_db *db, int64_t project_id, int64_t session_id, const char *prefix,
			bool *known, struct du_err *err);
/* COPY straight into file_uploads: rows are (session_id, local_path, s3_key, file_size, mtime_ns,
 * inode, file_type, status, error_message, reason). */
int du_dbu_direct_copy(struct du_db *db, struct du_db_copy **out, struct du_err *err);
/* After a dry run or a kept decision: hand each decided file to cb (key, size, action
 * "upload"/"check"/"skip", reason). */
int du_dbu_dry_list(struct du_db *db, int (*cb)(void *arg, const char *key, uint64_t size, const char *action,
					      const char *reason),
		    void *arg, struct du_err *err);
int du_dbu_has_schema(struct du_db *db, bool *out, struct du_err *err);
/* Whether the connection still reaches the server (a round trip). */
bool du_dbu_alive(struct du_db *db);
/* The project of bucket, or 0 when there is none (read only: for dry runs). */
int du_dbu_project_find(struct du_db *db, const char *bucket, int64_t *project_id, struct du_err *err);

struct du_claimed {
	int64_t id;
	const char *local_path;
	const char *s3_key;
	uint64_t size;
	int64_t mtime_ns;
	uint64_t inode;
	int retry_count;
	const char *check_etag;    /* a row to check: the listed ETag (NULL: upload it) */
	const char *check_md5;     /* the recorded md5 of that object, when the ETag cannot say */
	uint64_t part_size;        /* the recorded part size, for a composite ETag (0: none) */
	const char *reason;        /* why the decision registered it, or NULL */
};
/*
 * Claim up to limit pending rows (or rows whose lease expired) of session for worker. With
 * failed_too, failed rows whose retry_count < max_retry instead (du-retry). Pending and failed
 * rows are taken in id order after *cursor, which moves to the last id taken: each claim starts
 * where the last one ended instead of stepping again over the rows done since. A caller that
 * finds nothing after its cursor claims once more from 0 (rows released back, or failed again)
 * before it concludes there is nothing left.
 */
int du_dbu_claim(struct du_db *db, int64_t session_id, const char *worker, int limit, int lease_s,
		 bool failed_too, int max_retry, int64_t *cursor,
		 int (*cb)(void *arg, const struct du_claimed *c), void *arg, int *nclaimed, struct du_err *err);
int du_dbu_renew(struct du_db *db, int64_t session_id, const char *worker, int lease_s, struct du_err *err);

enum du_outcome_status { DU_OUT_UPLOADED, DU_OUT_FAILED, DU_OUT_PENDING };

struct du_outcome {
	int64_t id;
	int status;                /* enum du_outcome_status */
	uint64_t size;             /* as read at upload time */
	int64_t mtime_ns;
	char md5[33];
	char etag[128];
	char checksum_alg[12];     /* "crc32c", "md5", ...; "" when none was verified */
	char checksum[64];         /* S3's form: base64, or md5's "hex" / composite "hex-N" */
	char checksum_type[12];    /* "FULL_OBJECT" or "COMPOSITE" */
	char error[256];
	int retries;               /* attempts beyond the first in this run */
	bool count_retry;          /* du-retry: add 1 to retry_count */
	bool permanent;            /* failed for good: file gone, permission or access denied */
	const char *reason;        /* a check's result (unchanged_checked, changed), or NULL */
	uint64_t part_size;        /* multipart: the part size (0: one PUT) */
};
/* Write outcomes (one transaction) and bump the session's live counters. Only rows still held by
 * worker ('uploading' with our worker id) change: a file's final row is written once. */
int du_dbu_flush(struct du_db *db, int64_t session_id, const char *worker, const struct du_outcome *o,
		 int n, struct du_err *err);

/* Recount the session's counters from its rows; set status (NULL: keep) and completed_at. */
int du_dbu_finish(struct du_db *db, int64_t session_id, const char *status, const char *error_message,
		  struct du_err *err);
/* How many rows of session are pending or uploading (by anyone). */
int du_dbu_open_rows(struct du_db *db, int64_t session_id, int64_t *out, struct du_err *err);
/*
 * Worker rows (session_workers): each process working on a session has one, its heartbeat renewed
 * with its leases (du_dbu_renew), ended when it leaves.
 */
struct du_worker {
	char worker[160];           /* du_worker_id() */
	char host[256];
	long pid;
	int64_t proc_start;         /* /proc/self/stat starttime */
	char boot_id[64];
};
int du_dbu_worker_begin(struct du_db *db, int64_t session_id, const struct du_worker *w, struct du_err *err);
int du_dbu_worker_end(struct du_db *db, int64_t session_id, const char *worker, struct du_err *err);
/*
 * Hand cb each in_progress session none of whose workers is alive: a worker on me's host (same
 * boot) by alive(pid, proc_start), any other by a heartbeat newer than remote_dead_s; why says
 * what was seen. Read only: status uses it to show presumed-dead sessions.
 */
int du_dbu_dead_sessions(struct du_db *db, const struct du_worker *me, int remote_dead_s,
			 bool (*alive)(long pid, int64_t proc_start), int (*cb)(void *arg, int64_t id, const char *why),
			 void *arg, struct du_err *err);
/* in_progress -> interrupted, with why; *done says whether it changed. */
int du_dbu_mark_interrupted(struct du_db *db, int64_t session_id, const char *why, bool *done, struct du_err *err);
/* Rows of session that are pending, or uploading under another worker's lease. */
int du_dbu_others_open(struct du_db *db, int64_t session_id, const char *worker, int64_t *out,
		       struct du_err *err);
/* Whether the session's files are registered (its scan is over), and its status. */
int du_dbu_session_state(struct du_db *db, int64_t session_id, bool *scanned, char *status, size_t status_len,
			 struct du_err *err);

/*
 * One job: a bucket (project), an endpoint, a prefix and a directory. Two runs of one job at once
 * work on one session (docs/DATABASE.md, "Two runs of one job"): du_dbu_job_lock serialises their
 * find-or-create (a PostgreSQL advisory lock, released by du_dbu_job_unlock or the connection's
 * end), du_dbu_live_session finds the newest in_progress session of the job with a live worker
 * (as du_dbu_dead_sessions judges them); out->id = 0 when there is none.
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
int du_dbu_job_lock(struct du_db *db, const struct du_job *job, struct du_err *err);
int du_dbu_job_unlock(struct du_db *db, const struct du_job *job, struct du_err *err);
int du_dbu_live_session(struct du_db *db, const struct du_worker *me, int remote_dead_s,
			bool (*alive)(long pid, int64_t proc_start), const struct du_job *job,
			struct du_live_session *out, struct du_err *err);

/* The session's failures grouped by error, most frequent first (at most limit groups). */
int du_dbu_top_errors(struct du_db *db, int64_t session_id, int limit,
		      int (*cb)(void *arg, const char *error, uint64_t count), void *arg, struct du_err *err);

/* Multipart bookkeeping, one row per file and one per finished part. */
struct du_mpu_part {
	int number;
	uint64_t size;
	char md5[33];              /* "" when the part was sent with a checksum instead */
	char etag[128];
	char checksum[64];         /* x-amz-checksum value sent with it, "" for none */
};
int du_dbu_mpu_load(struct du_db *db, int64_t file_id, char **upload_id, uint64_t *part_size,
		    struct du_mpu_part **parts, int *nparts, struct du_err *err);
int du_dbu_mpu_start(struct du_db *db, int64_t file_id, const char *upload_id, uint64_t part_size,
		     struct du_err *err);
int du_dbu_mpu_part(struct du_db *db, int64_t file_id, const struct du_mpu_part *p, struct du_err *err);
int du_dbu_mpu_forget(struct du_db *db, int64_t file_id, struct du_err *err);
/* The file row that recorded this multipart upload (0: none) and that row's status. */
int du_dbu_mpu_owner(struct du_db *db, const char *upload_id, int64_t *file_id, char *status, size_t n,
		     struct du_err *err);

/* du-retry: the session's failed rows, oldest first. */
struct du_failed_row {
	const char *key;
	const char *error;
	int retry_count;
	bool permanent;
	const char *last_attempt;
};
int du_dbu_list_failed(struct du_db *db, int64_t session_id, int (*cb)(void *arg, const struct du_failed_row *r),
		       void *arg, struct du_err *err);
/* The session's failed rows, all of them. */
int du_dbu_count_failed(struct du_db *db, int64_t session_id, int64_t *out, struct du_err *err);
/* Failed rows that du-retry would still try (retry_count < max_attempts, not permanent). */
int du_dbu_count_retryable(struct du_db *db, int64_t session_id, int max_attempts, int64_t *out,
			   struct du_err *err);
#endif

/*
 * db_files.h (private): the file rows of a session (file_uploads): registration, the sync
 * decision, claims under a lease, and the flush of outcomes. PGresult never leaves src/db/.
 *
 * Registration: the S3 listing and the scan are COPY'd into two temporary tables of the main
 * connection, then one set-based statement decides what to upload and inserts those rows as
 * 'pending' (or 'failed' when the key is invalid). Upload: workers' batches are claimed with
 * FOR UPDATE SKIP LOCKED under a lease; one writer flushes outcomes in batches.
 *
 * Threads: a struct du_db is one connection used by one thread at a time; the staging tables and
 * the decision are temporary tables of the connection that made them. Strings of a struct
 * du_claimed are valid during the callback only.
 */
#ifndef DU_DB_FILES_H
#define DU_DB_FILES_H

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
	bool keep;                 /* keep the decision for du_db_file_dry_list also in a real run */
};

/* Create the temporary staging tables (du_s3_stage, du_scan_stage). */
int du_db_file_stage_begin(struct du_db *db, struct du_err *err);
/* COPY handles for the two stages: rows are (s3_key, size, etag, mtime seconds) and
 * (local_path, s3_key, file_size, mtime_ns, inode, file_type, bad_key). */
int du_db_file_stage_copy(struct du_db *db, bool scan, struct du_db_copy **out, struct du_err *err);
/*
 * Decide (docs/DATABASE.md, "What a run uploads"). With o->session_id, insert the rows to upload
 * or check into file_uploads for that session and set the session's totals; with 0 (dry run),
 * only count and keep the decision for du_db_file_dry_list.
 */
int du_db_file_decide(struct du_db *db, const struct du_decide_opts *o, struct du_decision *d, struct du_err *err);

/*
 * Whether any earlier row of the project has a key under prefix (with its trailing '/'): with an
 * empty listing and no such row there is nothing to decide, and a run may register directly.
 */
int du_db_file_prefix_known(struct du_db *db, int64_t project_id, int64_t session_id, const char *prefix,
			bool *known, struct du_err *err);
/* COPY straight into file_uploads: rows are (session_id, local_path, s3_key, file_size, mtime_ns,
 * inode, file_type, status, error_message, reason). */
int du_db_file_direct_copy(struct du_db *db, struct du_db_copy **out, struct du_err *err);
/* After a dry run or a kept decision: hand each decided file to cb (key, size, action
 * "upload"/"check"/"skip", reason). */
int du_db_file_dry_list(struct du_db *db, int (*cb)(void *arg, const char *key, uint64_t size, const char *action,
					      const char *reason),
		    void *arg, struct du_err *err);

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
int du_db_file_claim(struct du_db *db, int64_t session_id, const char *worker, int limit, int lease_s,
		 bool failed_too, int max_retry, int64_t *cursor,
		 int (*cb)(void *arg, const struct du_claimed *c), void *arg, int *nclaimed, struct du_err *err);
int du_db_file_renew(struct du_db *db, int64_t session_id, const char *worker, int lease_s, struct du_err *err);

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
	char suspect[96];          /* a suspect recording: why (suspect.h); "" for a sound one */
	char *sensor;              /* uploaded: the recorder's facts as JSON (du_sensor_json), malloc'd and
	                            * owned by the outcome (the engine's writer frees it); NULL: none */
};
/* Write outcomes (one transaction) and bump the session's live counters. Only rows still held by
 * worker ('uploading' with our worker id) change: a file's final row is written once. */
int du_db_file_flush(struct du_db *db, int64_t session_id, const char *worker, const struct du_outcome *o,
		 int n, struct du_err *err);

/* How many rows of session are pending or uploading (by anyone). */
int du_db_file_open_rows(struct du_db *db, int64_t session_id, int64_t *out, struct du_err *err);

/* Rows of session that are pending, or uploading under another worker's lease. */
int du_db_file_others_open(struct du_db *db, int64_t session_id, const char *worker, int64_t *out,
		       struct du_err *err);

#endif

/*
 * pipeline.h (private): the upload pool shared by du-upload, du-retry and --join workers. Its
 * parts: pipeline.c (the run, the feeder, a whole file's job), pool.h (the job queue and the
 * workers), put.c, multipart.c, writer.c (the database side); pipeline_internal.h between them.
 *
 * Ownership and threads:
 *   - the caller's thread is the feeder: it claims rows of the session in batches (FOR UPDATE SKIP
 *     LOCKED, under a lease) on the caller's database connection and queues them as jobs;
 *   - max_workers worker threads each own one S3 connection and one read buffer; a job is a whole
 *     small file, the start of a multipart file, or one part of it;
 *   - one writer thread owns its own database connection: it batches outcomes (every 256 rows or
 *     200 ms), renews the leases of the rows this process holds, and is the only writer of
 *     file_uploads status during the run;
 *   - multipart bookkeeping (upload id, finished parts) goes through a third connection under a
 *     mutex, synchronously, so a part is recorded before it counts as done.
 *   Shared between threads: the job queue (pool.h: its mutex and condition variables), the run's
 *   failure state and part buffers (run.mu), the outcome queue (run.wmu), atomic counters, and the
 *   log mutex. Nothing else.
 */
#ifndef DU_PIPELINE_H
#define DU_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "db/db_sessions.h"
#include "du/config.h"
#include "du/creds.h"
#include "du/db.h"
#include "du/err.h"
#include "du/progress.h"
#include "du/s3.h"

struct du_pipeline_opts {
	int64_t session_id;
	bool retry_mode;      /* du-retry: take failed rows too, count each attempt in retry_count */
	int max_attempts;     /* du-retry: rows whose retry_count reached this stay failed */
};

struct du_pipeline_stats {
	uint64_t files_ok, files_failed, files_released, bytes_ok;
	uint64_t files_checked_same;   /* hashed, found unchanged in S3, not sent */
	uint64_t parts_sent, parts_reused;
};

int du_pipeline_run(const struct du_config *cfg, struct du_db *db, struct du_s3 *s3, struct du_progress *prog,
		    const struct du_pipeline_opts *po, struct du_pipeline_stats *st, struct du_err *err);

/*
 * Resolve credentials and region, create the S3 client and check the bucket is reachable with
 * them (HeadBucket), before any file is touched. On success the caller owns *cp and *s3.
 */
int du_pipeline_s3_open(const struct du_config *cfg, struct du_creds_provider **cp, struct du_s3 **s3,
			struct du_err *err);
void du_pipeline_s3_close(struct du_creds_provider *cp, struct du_s3 *s3);

/* "host:pid:random", stable for the process. */
const char *du_worker_id(void);
/* This process as a worker row (session_workers): id, host, PID, start time, boot id. */
void du_worker_self(struct du_worker *w);
/* PID is running and is the process that started at start (-1: any). */
bool du_proc_alive(long pid, int64_t start);
/* A worker on another host is taken for dead when its heartbeat is this old: two leases. */
int du_dead_after_seconds(void);
/*
 * This process's heartbeat (session_workers.heartbeat_at) renewed every lease/3 s by a thread on
 * its own connection, for the time it is not inside du_pipeline_run (whose writer renews it): the
 * scan of a big tree, so workers on other hosts do not take a scanning run for dead.
 */
struct du_heartbeat;
int du_heartbeat_start(const struct du_config *cfg, int64_t session_id, struct du_heartbeat **out,
		       struct du_err *err);
void du_heartbeat_stop(struct du_heartbeat *hb); /* NULL: nothing */
/* Mark the in_progress sessions none of whose workers is alive interrupted (du_db_session_dead). */
void du_reap_dead_sessions(struct du_db *db);

#endif

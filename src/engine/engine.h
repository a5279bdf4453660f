/*
 * engine.h (private): the upload engine's rooms and what they share. Commands call the engine
 * through pipeline.h (du_pipeline_run) and read liveness through liveness.h; only src/engine/
 * includes this file.
 *
 *   pipeline.c   the run: the feeder, the stop watch, the checksum mode of the run
 *   pool.c       the job queue and the worker threads (pool.h; knows no files, S3 or database)
 *   file_job.c   the job of one whole file: open, read, check against S3, hand on, finish
 *   put.c        a file sent in one PUT
 *   multipart.c  a file sent in parts: start or resume, the part-buffer pool, each part, Complete
 *   writer.c     the writer thread (outcomes, leases) and the reconnect of a lost connection
 *   liveness.c   this process as a worker, the heartbeat outside a run, reaping dead sessions
 *
 * Threads, by name:
 *   feeder       the caller's thread, inside du_pipeline_run. Claims rows of the session in
 *                batches (FOR UPDATE SKIP LOCKED, under a lease) on the caller's connection
 *                (run.db) and pushes each as a whole job; waits for room in the queue. Nothing
 *                else uses run.db during the run (the feeder also reads the endpoint's and the
 *                budget's facts on it first, and writes what the run learnt of the endpoint
 *                last). The budget's fields of struct run are the feeder's alone.
 *   worker × N   max_workers threads (pool.c). Each owns its struct worker: one S3 connection
 *                (worker.conn) and one read buffer (worker.own). Runs whole jobs and part jobs.
 *   writer       one thread (writer.c) owning run.wdb: takes the queued outcomes (run.out) every
 *                256 rows or 200 ms and flushes them in one statement; renews this process's
 *                leases and heartbeat every lease/3, and adds the body bytes the S3
 *                client sent to bytes_sent every 2 s and at its end. Every outcome of a claimed row
 *                (uploaded, failed, given back pending) is written by it; the feeder's claim
 *                is the only other status change during a run.
 *   stop watch   one thread (pipeline.c): every 100 ms wakes every waiter (cv_md5, the pool) so
 *                a signal is seen; after the first Ctrl-C aborts transfers still running 30 s
 *                later, after the second at once (du_s3_abort_all); ends the upload window at
 *                its deadline (cutoff; hard: du_s3_abort_all); ends when the workers have.
 *   heartbeat    liveness.c, outside du_pipeline_run only (the scan of a big tree): its own
 *                connection, renews the heartbeat every lease/3. Never runs beside the writer.
 *
 * Who owns a job and its file (struct job, struct ufile):
 *   - built by the feeder from a claimed row; queued, it belongs to the pool (pool.h);
 *   - popped, it belongs to that worker, which frees the struct job when its function returns;
 *   - a whole job's ufile: the worker that runs it. A single PUT ends in du_run_finish and the
 *     worker frees the ufile. A multipart file is shared from du_multipart_queue on by its part
 *     jobs: its per-part arrays are written each at its own index, parts_left and md5_parts are
 *     atomics, failed and ferr are written under run.mu; the part that takes parts_left to 0
 *     completes the upload, finishes the file and frees it;
 *   - an outcome (struct du_outcome) is copied into run.out by du_writer_emit: the writer owns
 *     the copy and its sensor text (freed after the flush); the worker keeps nothing;
 *   - jobs nobody ran (stop, fatal error) come back from du_pool_drain to the feeder's thread,
 *     which gives their rows back (pending) and frees them.
 *
 * Locks, and what runs under each (none is held while another is taken, but the log mutex):
 *   pool.mu   (pool.h) the queue, its counts and flags; nothing else, no I/O.
 *   run.mu    the run's fatal error, workers_done, the part-buffer pool (bufs, buf_free, nfree)
 *             and each multipart file's failed/ferr; cv_md5 wakes parts waiting for a buffer (or a
 *             failure), cv_watch the stop watch. No I/O.
 *   run.wmu   the outcome queue (out, nout, capout) and wstop; wcv wakes the writer. The flush
 *             itself runs outside it.
 *   run.mmu   run.mdb, the multipart bookkeeping connection: a worker records an upload id or a
 *             finished part synchronously under it (reconnecting if need be), so a part is
 *             recorded before it counts as done. Database I/O runs under this lock, and only here.
 *   log       (log.c) innermost: any thread may log under any of the above.
 * Lock-free: the run's counters (run.st), ck_alg, ck_warned, ck_echo_seen and ck_no_echo, cutoff, run.fatal as read by
 * du_run_stopping, the progress and metrics counters (atomics), and du_stop_level (a signal's
 * level). The S3 client (struct du_s3, s3.h) is thread-safe; a du_s3_conn is one worker's.
 */
#ifndef DU_ENGINE_H
#define DU_ENGINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "db/db_files.h"
#include "db/db_multipart.h"
#include "db/db_sessions.h"
#include "du/checksum.h"
#include "du/budget.h"
#include "du/crypto.h"
#include "du/s3.h"
#include "du/sensor.h"
#include "engine/liveness.h"
#include "engine/pipeline.h"
#include "engine/pool.h"

#define PART_BUFS_MAX 8

/* A claimed file, shared by its part jobs while it is multipart. */
struct ufile {
	int64_t id;
	char *path, *key;
	uint64_t size;
	int64_t mtime_ns;
	int retries;
	/* a row to check before sending: see du_claimed */
	char *check_etag, *check_md5;
	char row_reason[32];        /* why the decision registered it (file_uploads.reason) */
	uint64_t check_part_size;
	const char *reason;         /* the check's result, once known */
	/* A small file the check read whole into the worker's own buffer: its upload sends that
	 * buffer if the file is still what was read (pre_st), without reading it again. */
	bool preread;
	struct stat pre_st;
	unsigned char pre_md5[DU_MD5_LEN];
	double t0;                  /* when a worker took it (per-file duration and rate) */
	char suspect[96];           /* why it is a suspect recording (suspect.h); "" when sound */
	bool suspect_refused;       /* suspect_policy skip or fail: not sent */
	struct du_sensor *sensor;   /* the recorder's facts from the header (sensor.h); NULL: none (a
	                             * pointer: queued files that are not recordings stay small) */

	/* multipart */
	char *upload_id;
	uint64_t part_size;
	int nparts;
	char (*etags)[128];
	struct du_mpu_part *done;   /* parts recorded by an earlier run (resume) */
	int ndone;
	int parts_left;             /* atomic */
	int failed;                 /* atomic: a part failed; stop hashing and sending */
	bool changed, permanent;
	struct du_err ferr;         /* first failure, under run.mu */
	struct du_md5_ctx *md5;     /* whole-file md5, fed in part order; NULL: not computed (parts
	                             * then go in any order: see do_part) */
	int ck_alg;                 /* enum du_cksum_alg the upload was created with */
	uint64_t *crcs;             /* each part's CRC, combined at Complete */
	char (*cks)[DU_CKSUM_B64_LEN]; /* each part's checksum as sent */
	unsigned char (*pmd5)[DU_MD5_LEN]; /* each part's md5 (md5 mode): the composite ETag */
	int md5_parts;              /* atomic: parts whose md5 is in pmd5 */
	struct stat st0;
};

/* A scratch buffer; its contents are not kept when it grows. */
struct sbuf {
	unsigned char *p;
	size_t cap;
};

/* A job of the pool (pool.h): node.whole for a whole file, else one part of a multipart one. */
struct job {
	struct du_pool_job node;    /* first: a struct du_pool_job * is a struct job * */
	struct ufile *f;
	int part;                   /* 0: the whole file (or the start of a multipart one) */
};

struct run {
	const struct du_engine_opts *o;
	const struct du_pipeline_opts *po;
	struct du_s3 *s3;
	struct du_db *db;
	struct du_progress *prog;

	struct du_pool jobs;        /* the job queue and the workers, under its own lock */

	/* mu guards what follows up to fatal_err, and each file's failed and ferr. cv_md5: a part
	 * waits for a free part buffer (or its file's failure, or the run's); cv_watch: the stop
	 * watch waits for workers_done. */
	pthread_mutex_t mu;
	pthread_cond_t cv_md5, cv_watch;
	bool workers_done;
	/*
	 * Part buffers, shared: parts in flight hold one each, so a big file costs at most
	 * nbufs x part size however many workers there are (the part md5 needs next never waits).
	 */
	struct sbuf bufs[PART_BUFS_MAX];
	int buf_free[PART_BUFS_MAX], nfree, nbufs;
	int fatal;                  /* a status that ends the run (database lost, auth refused) */
	int cutoff;                 /* atomic: the upload window ended (1), and transfers were aborted (2) */

	/* The data budget (budget.h), the feeder's alone: what the period allows beyond what this
	 * machine sent before the run, what the files claimed so far reserve of it. */
	struct du_budget budget;
	uint64_t budget_left, budget_reserved;
	time_t budget_start, budget_renews;
	bool budget_hit;
	/* The body bytes sent, counted into bytes_sent by the writer (sent_counted: up to where). */
	char host[64];
	uint64_t sent_counted;
	struct du_err fatal_err;

	/* writer */
	pthread_t writer;
	pthread_mutex_t wmu;
	pthread_cond_t wcv;
	struct du_outcome *out;
	int nout;
	size_t capout;
	bool wstop;
	struct du_db *wdb;

	/* multipart bookkeeping */
	pthread_mutex_t mmu;
	struct du_db *mdb;

	/* The checksum sent now (atomic): the setting, with auto as CRC32C until a server answer shows
	 * it was not verified (or the database knows the endpoint does not verify it); then MD5 for
	 * the rest of the run (said once). */
	int ck_alg;
	bool ck_auto;
	int ck_warned;              /* atomic */
	int ck_echo_seen;           /* atomic: an answer echoed the checksum sent */
	int ck_no_echo;             /* atomic: an answer did not: learnt in this run */

	/* What every object carries (objmeta.c): the metadata's header names and values, the tags'
	 * header; whether the server kept tags sent with a PUT, a CreateMultipartUpload (atomics). */
	struct {
		char *name;             /* "x-amz-meta-site" */
		const char *value;      /* in the option's "site=A1" */
	} *meta;
	int nmeta;
	char *tagging;
	int tags_put, tags_mpu;

	struct du_pipeline_stats st;  /* atomics */
};

/* A worker thread's own: its S3 connection and its read buffer. */
struct worker {
	struct run *r;
	struct du_s3_conn *conn;
	struct sbuf own;            /* small files, and a part when the pool is empty */
	uint64_t rnd;
};

/* ---- pipeline.c: the run ---- */

/* The run cannot go on (database lost, auth refused): the first error is kept, everyone wakes. */
void du_run_fatal(struct run *r, const struct du_err *e);
/* Interrupted or fatal: no new work. */
bool du_run_stopping(struct run *r);
/* Sleep for the retry policy's delay, waking early when asked to stop. */
void du_run_backoff(struct worker *w, int attempt, const struct du_err *e);
int du_run_alg(struct run *r);
bool du_run_ck_not_echoed(struct run *r, int alg, const char *key);
/* An answer echoed the checksum sent with it: the endpoint verifies them. */
void du_run_ck_echoed(struct run *r);

/* ---- file_job.c: one whole file, and the file helpers the parts share ---- */

/* The job of a claimed file: check it if asked, then send it (one PUT or the multipart start). */
void du_file_job(struct worker *w, struct ufile *f);
void du_ufile_free(struct ufile *f);
int du_sbuf_ensure(struct sbuf *bf, size_t n, struct du_err *err);
int du_ufile_open(const char *path, int *fd, struct stat *st, struct du_err *err);
bool du_ufile_same(const struct stat *a, const struct stat *b);
int du_ufile_read(int fd, unsigned char *buf, size_t len, uint64_t off, struct du_err *err);
/* etag (as S3 returned it, quoted or not) is the hex of md5: the object or part S3 stored is what
 * was sent (S3's ETag of a single PUT or a part is its MD5, unless SSE-KMS encrypted it). */
bool du_etag_is_md5(const char *etag, const unsigned char md5[DU_MD5_LEN]);
int64_t du_mtime_ns(const struct stat *st);
bool du_run_permanent(const struct du_err *e);
void du_run_fill_failed(struct du_outcome *o, const struct ufile *f, const struct du_err *e);
/* The file's outcome: counted, told, handed to the writer. */
void du_run_finish(struct worker *w, struct ufile *f, struct du_outcome *o);
/* Given back for later: pending again. */
void du_run_release(struct worker *w, struct ufile *f);
bool du_run_resend(const struct du_err *e);
void du_outcome_ck(struct du_outcome *o, int alg, const char *value, const char *type);

/* A suspect recording (suspect.h), told from head[0..n) and size: f->suspect says why. true when
 * the policy refuses to send it (f->suspect_refused). */
bool du_run_suspect(struct run *r, struct ufile *f, const unsigned char *head, size_t n, uint64_t size);

/* ---- objmeta.c: metadata and tags ---- */

/* One object's x-amz-meta-* headers: the run's metadata and the file's sensor facts. */
struct objmeta {
	const char *h[DU_METADATA_KEYS_MAX + DU_SENSOR_MAX_PAIRS][2];
	int n;
	char names[DU_SENSOR_MAX_PAIRS][40];
	char text[DU_SENSOR_TEXT];
};

/* The run's metadata headers and tagging, from its options (run_init); released by run_release. */
int du_objmeta_init(struct run *r, struct du_err *err);
void du_objmeta_release(struct run *r);
/* f's facts from its bytes in memory (a file sent in one PUT), or read from fd (one sent in parts),
 * when sensor_metadata is on: f->sensor. */
void du_objmeta_sensor_buf(struct run *r, struct ufile *f, const void *buf, size_t len);
void du_objmeta_sensor_fd(struct run *r, struct ufile *f, int fd, uint64_t size);
/* m: the headers of f's object; then p (a PUT or CreateMultipartUpload) carries them and the tags. */
void du_objmeta_headers(const struct run *r, const struct ufile *f, struct objmeta *m);
void du_objmeta_put(const struct run *r, const struct objmeta *m, struct du_s3_put *p);
/* An uploaded outcome gets f's facts as JSON (the row's sensor column), which the writer frees. */
void du_objmeta_outcome(const struct ufile *f, struct du_outcome *o);
/* After an object is complete: its tags are the run's, set again where the server dropped them. */
int du_objmeta_tags_after(struct worker *w, const char *key, bool multipart, struct du_err *err);
/* A file whose object was found to hold its bytes already (checked, not sent) that this run would
 * have tagged: an earlier run may have died between Complete and its tags. Read back, set if not. */
int du_objmeta_tags_checked(struct worker *w, const char *key, struct du_err *err);

/* ---- put.c ---- */

/* Send f in one PUT (from the check's buffer, the file's mapped pages or a read); fills *o. */
int du_put_small(struct worker *w, struct ufile *f, struct du_outcome *o, struct du_err *err);

/* ---- multipart.c ---- */

/* Create (or continue) f's multipart upload; on success f is ready for its parts. */
int du_multipart_start(struct worker *w, struct ufile *f, struct du_err *err);
/* After du_multipart_start: queue parts 2.. at the front for every worker, send part 1. */
void du_multipart_queue(struct worker *w, struct ufile *f);
/* Send part n (1-based); the last part to end completes the upload and frees f. */
void du_multipart_part(struct worker *w, struct ufile *f, int n);

/* ---- writer.c ---- */

/* The connection failed: reconnect with backoff until it works or the grace runs out. */
bool du_run_db_heal(struct du_db *db, double *deadline, int *attempt, const char *what);
/* Queue an outcome for the writer's next batch; its sensor text is the writer's from now on. */
void du_writer_emit(struct run *r, struct du_outcome *o);
int du_writer_start(struct run *r, struct du_err *err);
/* Flush what is queued, and end the writer. */
void du_writer_stop(struct run *r);

#endif

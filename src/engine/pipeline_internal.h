/*
 * pipeline_internal.h (private): what the parts of the upload pipeline share. pipeline.c runs it
 * (feeder, stop watch); pool.c is the job queue and its workers; file_job.c is the job of one
 * whole file; put.c sends a file in one PUT; multipart.c sends one in parts; writer.c is the
 * database side (the writer thread, leases, heartbeat, this process as a worker). Threads: see
 * pipeline.h and pool.h.
 */
#ifndef DU_PIPELINE_INTERNAL_H
#define DU_PIPELINE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "db/db_files.h"
#include "db/db_multipart.h"
#include "db/db_sessions.h"
#include "du/checksum.h"
#include "du/crypto.h"
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
	const struct du_config *cfg;
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
	struct du_err fatal_err;

	/* writer */
	pthread_t writer;
	pthread_mutex_t wmu;
	pthread_cond_t wcv;
	struct du_outcome *out;
	int nout, capout;
	bool wstop;
	struct du_db *wdb;

	/* multipart bookkeeping */
	pthread_mutex_t mmu;
	struct du_db *mdb;

	/* The checksum sent now (atomic): the setting, with auto as CRC32C until a server answer shows
	 * it was not verified; then MD5 for the rest of the run (said once). */
	int ck_alg;
	bool ck_auto;
	int ck_warned;              /* atomic */

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

/* ---- file_job.c: one whole file, and the file helpers the parts share ---- */

/* The job of a claimed file: check it if asked, then send it (one PUT or the multipart start). */
void du_file_job(struct worker *w, struct ufile *f);
void du_ufile_free(struct ufile *f);
int du_sbuf_ensure(struct sbuf *bf, size_t n, struct du_err *err);
int du_ufile_open(const char *path, int *fd, struct stat *st, struct du_err *err);
bool du_ufile_same(const struct stat *a, const struct stat *b);
int du_ufile_read(int fd, unsigned char *buf, size_t len, uint64_t off, struct du_err *err);
int64_t du_mtime_ns(const struct stat *st);
bool du_run_permanent(const struct du_err *e);
void du_run_fill_failed(struct du_outcome *o, const struct ufile *f, const struct du_err *e);
/* The file's outcome: counted, told, handed to the writer. */
void du_run_finish(struct worker *w, struct ufile *f, struct du_outcome *o);
/* Given back for later: pending again. */
void du_run_release(struct worker *w, struct ufile *f);
bool du_run_resend(const struct du_err *e);
void du_outcome_ck(struct du_outcome *o, int alg, const char *value, const char *type);

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

int du_lease_seconds(void);
/* The connection failed: reconnect with backoff until it works or the grace runs out. */
bool du_run_db_heal(struct du_db *db, double *deadline, long *delay_ms, const char *what);
/* Queue an outcome for the writer's next batch. */
void du_writer_emit(struct run *r, const struct du_outcome *o);
int du_writer_start(struct run *r, struct du_err *err);
/* Flush what is queued, and end the writer. */
void du_writer_stop(struct run *r);

#endif

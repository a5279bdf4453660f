/* The upload pool: see pipeline.h for who owns what. */
#include "pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

#include "db_upload.h"
#include "du/checksum.h"
#include "du/filemap.h"
#include "du/commands.h"
#include "du/crypto.h"
#include "du/log.h"
#include "du/metrics.h"
#include "du/retry.h"

#define CLAIM_BATCH_MIN 32
#define FLUSH_ROWS 256
#define FLUSH_MS 200
#define HUGE_PAGE ((size_t)2 << 20)
#define PART_BUFS_MAX 8
/* Files hashed without being sent are read in pieces this size. */
#define CHECK_CHUNK ((size_t)1 << 20)
/* Single PUTs this big are sent from the file's mapped pages (du_fmap), as parts are. */
#define MAP_MIN ((size_t)1 << 20)
#define STOP_GRACE_S 30

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

struct job {
	struct job *next;
	struct ufile *f;
	int part;                   /* 0: the whole file (or the start of a multipart one) */
};

struct run {
	const struct du_config *cfg;
	const struct du_pipeline_opts *po;
	struct du_s3 *s3;
	struct du_db *db;
	struct du_progress *prog;

	pthread_mutex_t mu;
	pthread_cond_t cv_job, cv_space, cv_md5, cv_watch;
	struct job *head, *tail;
	int queued_files;           /* whole-file jobs waiting */
	int starting;               /* whole-file jobs taken that may still queue parts */
	bool feeding_done, workers_done;
	/*
	 * Part buffers, shared: parts in flight hold one each, so a big file costs at most
	 * npool x part size however many workers there are (the part md5 needs next never waits).
	 */
	struct sbuf pool[PART_BUFS_MAX];
	int pool_free[PART_BUFS_MAX], nfree, npool;
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

static char worker_id[160];
static pthread_once_t worker_once = PTHREAD_ONCE_INIT;

static void make_worker_id(void)
{
	char host[64] = "host";
	struct timespec ts;
	gethostname(host, sizeof(host) - 1);
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(worker_id, sizeof(worker_id), "%s:%d:%lx", host, (int)getpid(),
		 (unsigned long)(ts.tv_nsec ^ (ts.tv_sec << 20)));
}

const char *du_worker_id(void)
{
	pthread_once(&worker_once, make_worker_id);
	return worker_id;
}

static int lease_seconds(void)
{
	const char *e = getenv("DU_LEASE_SECONDS"); /* tests shorten it to watch dead workers' rows return */
	int v = e ? atoi(e) : 0;
	return v > 0 ? v : 300;
}

/* starttime, field 22 of /proc/PID/stat (after the command's closing parenthesis); -1: none. */
static int64_t proc_start(long pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	long long v = -1;
	/* after ")": state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime
	 * stime cutime cstime priority nice num_threads itrealvalue starttime(22) */
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %lld",
			 &v) != 1)
		return -1;
	return v;
}

bool du_proc_alive(long pid, int64_t start)
{
	if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH))
		return false;
	/* The same process, not another one that got its PID since. */
	return start < 0 || proc_start(pid) == start;
}

void du_worker_self(struct du_worker *w)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->worker, sizeof(w->worker), "%s", du_worker_id());
	if (gethostname(w->host, sizeof(w->host) - 1))
		snprintf(w->host, sizeof(w->host), "host");
	w->pid = (long)getpid();
	w->proc_start = proc_start(w->pid);
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	if (f) {
		if (!fgets(w->boot_id, sizeof(w->boot_id), f))
			w->boot_id[0] = '\0';
		w->boot_id[strcspn(w->boot_id, "\n")] = '\0';
		fclose(f);
	}
}

int du_dead_after_seconds(void)
{
	return 2 * lease_seconds();
}

/* ---- the heartbeat outside the pipeline ------------------------------------------------------ */

struct du_heartbeat {
	struct du_db *db;
	int64_t session_id;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, started;
};

static void *heartbeat_main(void *arg)
{
	struct du_heartbeat *hb = arg;
	int lease = lease_seconds();
	pthread_mutex_lock(&hb->mu);
	while (!hb->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += lease / 3 > 0 ? lease / 3 : 1;
		pthread_cond_timedwait(&hb->cv, &hb->mu, &ts);
		if (hb->stop)
			break;
		pthread_mutex_unlock(&hb->mu);
		struct du_err e = { 0 };
		if (du_dbu_renew(hb->db, hb->session_id, du_worker_id(), lease, &e))
			du_debug("heartbeat: %s", e.msg); /* the next one may work; the run's own errors tell */
		pthread_mutex_lock(&hb->mu);
	}
	pthread_mutex_unlock(&hb->mu);
	return NULL;
}

int du_heartbeat_start(const struct du_config *cfg, int64_t session_id, struct du_heartbeat **out,
		       struct du_err *err)
{
	struct du_heartbeat *hb = calloc(1, sizeof(*hb));
	*out = NULL;
	if (!hb)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	hb->session_id = session_id;
	int rc = du_db_open(&hb->db, cfg, err);
	if (rc) {
		free(hb);
		return rc;
	}
	pthread_mutex_init(&hb->mu, NULL);
	pthread_cond_init(&hb->cv, NULL);
	hb->started = pthread_create(&hb->th, NULL, heartbeat_main, hb) == 0;
	if (!hb->started) {
		du_heartbeat_stop(hb);
		return du_err_set(err, DU_ERR_INTERNAL, "cannot start the heartbeat thread");
	}
	*out = hb;
	return DU_OK;
}

void du_heartbeat_stop(struct du_heartbeat *hb)
{
	if (!hb)
		return;
	if (hb->started) {
		pthread_mutex_lock(&hb->mu);
		hb->stop = true;
		pthread_cond_signal(&hb->cv);
		pthread_mutex_unlock(&hb->mu);
		pthread_join(hb->th, NULL);
	}
	pthread_mutex_destroy(&hb->mu);
	pthread_cond_destroy(&hb->cv);
	du_db_close(hb->db);
	free(hb);
}

static int mark_dead(void *arg, int64_t id, const char *why)
{
	struct du_db *db = arg;
	bool done = false;
	struct du_err e = { 0 };
	if (du_dbu_mark_interrupted(db, id, why, &done, &e))
		du_warn("%s", e.msg);
	else if (done)
		du_info("session %" PRId64 " marked interrupted: %s", id, why);
	return 0;
}

void du_reap_dead_sessions(struct du_db *db)
{
	struct du_worker me;
	struct du_err e = { 0 };
	du_worker_self(&me);
	if (du_dbu_dead_sessions(db, &me, du_dead_after_seconds(), du_proc_alive, mark_dead, db, &e))
		du_warn("%s", e.msg);
}

/* How long the run waits for a database that went away before it stops (resumably). */
static double db_grace(void)
{
	const char *e = getenv("DU_DB_GRACE_SECONDS");
	double v = e ? atof(e) : 0;
	return v > 0 ? v : 120;
}

/*
 * The connection failed: reconnect with backoff until it works or the grace runs out. Returns
 * true when the caller should try again. A failure with the connection still up is an SQL
 * error, which retrying does not heal.
 */
static bool db_heal(struct du_db *db, double *deadline, long *delay_ms, const char *what)
{
	if (du_dbu_alive(db))
		return false;
	if (*deadline == 0) {
		*deadline = du_monotonic() + db_grace();
		du_warn("database connection lost (%s); reconnecting", what);
	}
	while (du_monotonic() < *deadline && du_stop_level() < 2) {
		struct timespec ts = { *delay_ms / 1000, (*delay_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		*delay_ms = *delay_ms < 5000 ? *delay_ms * 2 : 5000;
		if (du_db_reconnect(db, NULL) == DU_OK && du_db_ok(db)) {
			du_info("database connection restored");
			return true;
		}
	}
	return false;
}

static void ufile_free(struct ufile *f)
{
	if (!f)
		return;
	free(f->path);
	free(f->key);
	free(f->check_etag);
	free(f->check_md5);
	free(f->upload_id);
	free(f->etags);
	free(f->done);
	free(f->crcs);
	free(f->cks);
	free(f->pmd5);
	if (f->md5) {
		unsigned char junk[DU_MD5_LEN];
		du_md5_final(f->md5, junk);
	}
	free(f);
}

/* ---- writer ------------------------------------------------------------------------------ */

static void emit(struct run *r, const struct du_outcome *o)
{
	pthread_mutex_lock(&r->wmu);
	if (r->nout == r->capout) {
		int cap = r->capout ? r->capout * 2 : 512;
		struct du_outcome *n = realloc(r->out, cap * sizeof(*n));
		if (!n) {
			/* Without memory the outcome cannot be recorded: the row stays 'uploading' and its
			 * lease returns it to pending, which is true. */
			pthread_mutex_unlock(&r->wmu);
			return;
		}
		r->out = n;
		r->capout = cap;
	}
	r->out[r->nout++] = *o;
	if (r->nout >= FLUSH_ROWS)
		pthread_cond_signal(&r->wcv);
	pthread_mutex_unlock(&r->wmu);
}

static void set_fatal(struct run *r, const struct du_err *e)
{
	pthread_mutex_lock(&r->mu);
	if (!r->fatal) {
		r->fatal = e->code ? e->code : DU_ERR_INTERNAL;
		r->fatal_err = *e;
	}
	pthread_cond_broadcast(&r->cv_job);
	pthread_cond_broadcast(&r->cv_space);
	pthread_cond_broadcast(&r->cv_md5);
	pthread_mutex_unlock(&r->mu);
}

/* Flush with reconnects: outcomes stay buffered while the database is away (bounded). */
static int flush_batch(struct run *r, struct du_outcome *o, int n)
{
	struct du_err e = { 0 };
	double deadline = 0;
	long delay = 200;
	for (;;) {
		if (du_dbu_flush(r->wdb, r->po->session_id, du_worker_id(), o, n, &e) == DU_OK)
			return DU_OK;
		if (!db_heal(r->wdb, &deadline, &delay, "writing outcomes")) {
			set_fatal(r, &e);
			return e.code;
		}
	}
}

static void *writer_main(void *arg)
{
	struct run *r = arg;
	int lease = lease_seconds();
	double next_renew = du_monotonic() + lease / 3.0;
	struct du_outcome *batch = NULL;
	int cap = 0;

	pthread_mutex_lock(&r->wmu);
	for (;;) {
		if (r->nout < FLUSH_ROWS && !r->wstop) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += FLUSH_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&r->wcv, &r->wmu, &ts);
		}
		int n = r->nout;
		bool stop = r->wstop;
		if (n) {
			if (cap < n) {
				struct du_outcome *nb = realloc(batch, n * sizeof(*nb));
				if (!nb) {
					pthread_mutex_unlock(&r->wmu);
					continue;
				}
				batch = nb;
				cap = n;
			}
			memcpy(batch, r->out, n * sizeof(*batch));
			r->nout = 0;
		}
		pthread_mutex_unlock(&r->wmu);
		if (n)
			flush_batch(r, batch, n);
		if (du_monotonic() > next_renew) {
			struct du_err e = { 0 };
			if (du_dbu_renew(r->wdb, r->po->session_id, du_worker_id(), lease, &e))
				du_warn("%s", e.msg);
			next_renew = du_monotonic() + lease / 3.0;
		}
		pthread_mutex_lock(&r->wmu);
		if (stop && r->nout == 0)
			break;
	}
	pthread_mutex_unlock(&r->wmu);
	free(batch);
	return NULL;
}

/* ---- queue --------------------------------------------------------------------------------- */

static void push(struct run *r, struct job *j, bool front)
{
	if (front) {
		j->next = r->head;
		r->head = j;
		if (!r->tail)
			r->tail = j;
	} else {
		j->next = NULL;
		if (r->tail)
			r->tail->next = j;
		else
			r->head = j;
		r->tail = j;
	}
	if (j->part == 0)
		r->queued_files++;
}

static struct job *pop(struct run *r)
{
	pthread_mutex_lock(&r->mu);
	/* An idle worker stays while a file being started may still bring parts for everyone. */
	while (!r->head && (!r->feeding_done || r->starting > 0) && !r->fatal)
		pthread_cond_wait(&r->cv_job, &r->mu);
	struct job *j = r->head;
	if (j) {
		r->head = j->next;
		if (!r->head)
			r->tail = NULL;
		if (j->part == 0) {
			r->queued_files--;
			r->starting++;
			pthread_cond_signal(&r->cv_space);
		}
	}
	pthread_mutex_unlock(&r->mu);
	return j;
}

/* ---- one file ------------------------------------------------------------------------------ */

/*
 * The file taken by pop() will queue no parts (any it has are queued): under r->mu. Idle workers
 * wait on this only once feeding is done (they may then exit): no wake-ups before.
 */
static void file_started_locked(struct run *r)
{
	if (--r->starting == 0 && r->feeding_done)
		pthread_cond_broadcast(&r->cv_job);
}

static void file_started(struct run *r)
{
	pthread_mutex_lock(&r->mu);
	file_started_locked(r);
	pthread_mutex_unlock(&r->mu);
}

struct worker {
	struct run *r;
	struct du_s3_conn *conn;
	struct sbuf own;            /* small files, and a part when the pool is empty */
	uint64_t rnd;
};

static uint64_t xrand(void *arg)
{
	uint64_t *s = arg;
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static bool stopping(struct run *r)
{
	return du_stop_level() > 0 || __atomic_load_n(&r->fatal, __ATOMIC_RELAXED);
}

/* Sleep for the retry policy's delay, waking early when asked to stop. */
static void backoff(struct worker *w, int attempt, const struct du_err *e)
{
	long ms = du_retry_delay_ms(attempt, w->r->cfg->retry_base_ms, w->r->cfg->retry_cap_ms, 0, xrand, &w->rnd);
	(void)e;
	while (ms > 0 && !stopping(w->r)) {
		long step = ms < 100 ? ms : 100;
		struct timespec ts = { 0, step * 1000000L };
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/*
 * Make b hold at least n bytes. A part-sized buffer is asked for in huge pages: first touching
 * 16 MiB in 4 KiB pages costs 4,096 page faults, which on a virtual machine cost more than the
 * reading itself.
 */
static int ensure_buf(struct sbuf *bf, size_t n, struct du_err *err)
{
	if (n <= bf->cap)
		return DU_OK;
	size_t cap = bf->cap ? bf->cap : 1 << 16;
	while (cap < n)
		cap *= 2;
	void *b = NULL;
	if (cap >= HUGE_PAGE) {
		if (posix_memalign(&b, HUGE_PAGE, cap))
			b = NULL;
#ifdef MADV_HUGEPAGE
		else
			(void)madvise(b, cap, MADV_HUGEPAGE); /* a hint: without it, small pages */
#endif
	} else {
		b = malloc(cap);
	}
	if (!b)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory for a %zu-byte buffer", cap);
	free(bf->p);
	bf->p = b;
	bf->cap = cap;
	return DU_OK;
}

static int open_file(const char *path, int *fd, struct stat *st, struct du_err *err)
{
	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (*fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return du_err_set(err, DU_ERR_IO, "file vanished");
		if (e == EACCES || e == EPERM)
			return du_err_set(err, DU_ERR_IO, "permission denied");
		return du_err_sys(err, DU_ERR_IO, e, "cannot open");
	}
	if (fstat(*fd, st) < 0) {
		int e = errno;
		close(*fd);
		return du_err_sys(err, DU_ERR_IO, e, "cannot stat");
	}
	return DU_OK;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size && a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static int read_full(int fd, unsigned char *buf, size_t len, uint64_t off, struct du_err *err)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return du_err_sys(err, DU_ERR_IO, errno, "read failed");
		}
		if (n == 0)
			return du_err_set(err, DU_ERR_CHANGED, "changed during upload (file shrank)");
		got += (size_t)n;
	}
	return DU_OK;
}

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

/* A failure that retrying cannot heal. */
static bool permanent(const struct du_err *e)
{
	if (e->code == DU_ERR_S3_AUTH)
		return true;
	if (e->code == DU_ERR_IO)
		return strstr(e->msg, "vanished") || strstr(e->msg, "permission denied");
	return false;
}

static void fill_failed(struct du_outcome *o, const struct ufile *f, const struct du_err *e)
{
	o->id = f->id;
	o->status = DU_OUT_FAILED;
	o->size = f->size;
	o->mtime_ns = f->mtime_ns;
	snprintf(o->error, sizeof(o->error), "%s", e->msg);
	o->permanent = permanent(e);
}

/* The file's line or event for the person watching (du_progress_file). */
static void tell(struct run *r, const struct ufile *f, const struct du_outcome *o, bool skipped)
{
	bool failed = o->status == DU_OUT_FAILED;
	if (o->status == DU_OUT_PENDING || (!failed && !du_progress_wants_files(r->prog)))
		return;
	struct du_file_event ev = {
		.key = f->key, .size = o->size ? o->size : f->size,
		.outcome = failed ? "failed" : skipped ? "skipped" : "uploaded",
		.reason = failed ? NULL : f->reason ? f->reason : f->row_reason[0] ? f->row_reason : NULL,
		.error = failed ? o->error : NULL,
		/* du-retry takes it again unless the failure is for good or it has had its attempts */
		.will_retry = failed && !o->permanent,
		.checksum = o->md5[0] ? o->md5 : NULL,
		.attempt = 1 + f->retries,
		.duration = f->t0 > 0 ? du_monotonic() - f->t0 : 0,
	};
	du_progress_file(r->prog, &ev);
}

static void finish_file(struct worker *w, struct ufile *f, struct du_outcome *o)
{
	struct run *r = w->r;
	o->retries = f->retries;
	o->count_retry = r->po->retry_mode;
	o->reason = f->reason;
	if (o->status == DU_OUT_UPLOADED && f->reason && !strcmp(f->reason, "unchanged_checked")) {
		__atomic_add_fetch(&r->st.files_checked_same, 1, __ATOMIC_RELAXED);
		tell(r, f, o, true);
		emit(r, o);
		return;
	}
	tell(r, f, o, false);
	du_metrics_file(o->status == DU_OUT_UPLOADED ? DU_METRIC_UPLOADED
			: o->status == DU_OUT_FAILED ? DU_METRIC_FAILED : DU_METRIC_RELEASED, o->size);
	if (o->status == DU_OUT_UPLOADED) {
		__atomic_add_fetch(&r->st.files_ok, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&r->st.bytes_ok, o->size, __ATOMIC_RELAXED);
		du_progress_done(r->prog, 1, 0, o->size);
	} else if (o->status == DU_OUT_FAILED) {
		__atomic_add_fetch(&r->st.files_failed, 1, __ATOMIC_RELAXED);
		du_progress_done(r->prog, 0, 1, o->size);
	} else {
		__atomic_add_fetch(&r->st.files_released, 1, __ATOMIC_RELAXED);
	}
	emit(r, o);
}

static void release_file(struct worker *w, struct ufile *f)
{
	struct du_outcome o = { .id = f->id, .status = DU_OUT_PENDING, .size = f->size, .mtime_ns = f->mtime_ns };
	finish_file(w, f, &o);
}

/* ---- checksums ------------------------------------------------------------------------------ */

/* Retried within the run: what du_retry_is_retryable says, and a body the server (BadDigest) or
 * du (ETag or echoed checksum not the one sent) found damaged on the way: sent again, it may pass. */
static bool resend(const struct du_err *e)
{
	return du_retry_is_retryable(e) || !strcmp(e->s3_code, "BadDigest") ||
	       (e->code == DU_ERR_S3 && e->retryable && e->http_status >= 200 && e->http_status < 300);
}

static int run_alg(struct run *r)
{
	return __atomic_load_n(&r->ck_alg, __ATOMIC_RELAXED);
}

static void ck_init(struct run *r)
{
	int a = r->cfg->checksum_algorithm;
	r->ck_auto = a == DU_CK_AUTO;
	r->ck_alg = r->ck_auto ? DU_CK_CRC32C : a;
	if (a == DU_CK_NONE)
		du_warn("checksum_algorithm=none: objects are sent without any checksum; nothing checks "
			"that S3 stored what was read");
}

/*
 * The server's answer did not echo the checksum sent with alg: it did not verify it. With auto,
 * the rest of the run sends Content-MD5 (returns true: the caller sends this body again with it);
 * an algorithm the user chose stays, with a warning.
 */
static bool ck_not_echoed(struct run *r, int alg, const char *key)
{
	int want = alg;
	if (r->ck_auto && alg == DU_CK_CRC32C) {
		__atomic_compare_exchange_n(&r->ck_alg, &want, DU_CK_MD5, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
		if (!__atomic_exchange_n(&r->ck_warned, 1, __ATOMIC_RELAXED))
			du_warn("the server did not confirm the %s checksum of '%s': it does not verify "
				"x-amz-checksum-*; sending Content-MD5 for the rest of this run", du_cksum_name(alg), key);
		return true;
	}
	if (!__atomic_exchange_n(&r->ck_warned, 1, __ATOMIC_RELAXED))
		du_warn("the server did not confirm the %s checksum of '%s': it does not verify "
			"x-amz-checksum-*, so nothing checked the objects' contents (checksum_algorithm=md5 "
			"would)", du_cksum_name(alg), key);
	return false;
}

static void outcome_ck(struct du_outcome *o, int alg, const char *value, const char *type)
{
	snprintf(o->checksum_alg, sizeof(o->checksum_alg), "%s", du_cksum_name(alg));
	snprintf(o->checksum, sizeof(o->checksum), "%s", value);
	snprintf(o->checksum_type, sizeof(o->checksum_type), "%s", type);
}

static int put_small(struct worker *w, struct ufile *f, struct du_outcome *o, struct du_err *err)
{
	int fd, rc;
	struct stat st0, st1;
	unsigned char md5[DU_MD5_LEN];
	char b64[DU_CKSUM_B64_LEN];
	int alg = run_alg(w->r);
	struct du_fmap map = { 0 };
	const unsigned char *p;

	if ((rc = open_file(f->path, &fd, &st0, err)))
		return rc;
	size_t len = (size_t)st0.st_size;
	bool preread = f->preread && same_file(&st0, &f->pre_st);
	f->preread = false;          /* a retry reads again */
	/* A big one is sent from its mapped pages, as parts are: no file-sized buffer per worker. */
	if (!preread && len >= MAP_MIN && du_fmap_open(&map, fd, 0, len, &(struct du_err){ 0 }) == DU_OK)
		p = map.p;
	else if (!preread && ((rc = ensure_buf(&w->own, len ? len : 1, err)) || (rc = read_full(fd, w->own.p, len, 0, err))))
		goto out;
	else
		p = w->own.p;
again:
	if (alg == DU_CK_MD5 && preread)
		memcpy(md5, f->pre_md5, sizeof(md5));
	else if (alg == DU_CK_MD5)
		du_md5(p, len, md5);
	else if (alg != DU_CK_NONE)
		du_cksum_buf_b64(alg, p, len, b64);
	if (fstat(fd, &st1) < 0 || !same_file(&st0, &st1)) {
		rc = du_err_set(err, DU_ERR_CHANGED, "changed during upload");
		goto out;
	}
	struct du_s3_put put = { .md5 = alg == DU_CK_MD5 ? md5 : NULL, .checksum_alg = alg,
				 .checksum_b64 = b64, .mtime = st0.st_mtim.tv_sec };
	double t0 = du_metrics_now();
	rc = du_s3_put_object(w->conn, f->key, p, len, &put, o->etag, err);
	du_metrics_request(DU_METRIC_PUT, du_metrics_now() - t0);
	if (du_fmap_damaged(&map)) {
		rc = du_err_set(err, DU_ERR_CHANGED, "changed during upload (it shrank)");
		goto out;
	}
	if (rc)
		goto out;
	bool echoed = alg == DU_CK_MD5 || alg == DU_CK_NONE || du_s3_checksum_echoed(w->conn);
	if (!echoed && ck_not_echoed(w->r, alg, f->key)) {
		alg = DU_CK_MD5;
		goto again;
	}
	/* The object is in S3; it is the file only if the file is still what we read. */
	if (fstat(fd, &st1) < 0 || !same_file(&st0, &st1)) {
		rc = du_err_set(err, DU_ERR_CHANGED, "changed during upload");
		goto out;
	}
	o->id = f->id;
	o->status = DU_OUT_UPLOADED;
	o->size = len;
	o->mtime_ns = mtime_ns(&st0);
	if (alg == DU_CK_MD5) {
		du_hex(md5, DU_MD5_LEN, o->md5);
		outcome_ck(o, alg, o->md5, "FULL_OBJECT");
	} else if (alg != DU_CK_NONE && echoed) {
		outcome_ck(o, alg, b64, "FULL_OBJECT");
	}
out:
	du_fmap_close(&map);
	close(fd);
	return rc;
}

/* ---- multipart ------------------------------------------------------------------------------ */

static void part_fail(struct run *r, struct ufile *f, const struct du_err *e)
{
	pthread_mutex_lock(&r->mu);
	if (!f->failed) {
		f->failed = 1;
		f->ferr = *e;
		if (e->code == DU_ERR_CHANGED)
			f->changed = true;
	}
	pthread_cond_broadcast(&r->cv_md5);
	pthread_mutex_unlock(&r->mu);
}

static int mdb_call_start(struct run *r, struct ufile *f, struct du_err *err)
{
	double deadline = 0;
	long delay = 200;
	int rc;
	pthread_mutex_lock(&r->mmu);
	while ((rc = du_dbu_mpu_start(r->mdb, f->id, f->upload_id, f->part_size, err)) &&
	       db_heal(r->mdb, &deadline, &delay, "recording a multipart upload"))
		;
	pthread_mutex_unlock(&r->mmu);
	return rc;
}

static int mdb_call_part(struct run *r, struct ufile *f, const struct du_mpu_part *p, struct du_err *err)
{
	double deadline = 0;
	long delay = 200;
	int rc;
	pthread_mutex_lock(&r->mmu);
	while ((rc = du_dbu_mpu_part(r->mdb, f->id, p, err)) &&
	       db_heal(r->mdb, &deadline, &delay, "recording a part"))
		;
	pthread_mutex_unlock(&r->mmu);
	return rc;
}

struct server_parts {
	struct ufile *f;
	bool *seen;
};

static int server_part(void *arg, int number, uint64_t size, const char *etag)
{
	struct server_parts *sp = arg;
	for (int i = 0; i < sp->f->ndone; i++) {
		struct du_mpu_part *p = &sp->f->done[i];
		if (p->number == number && p->size == size && !strcmp(p->etag, etag))
			sp->seen[i] = true;
	}
	return 0;
}

/*
 * Before trusting the parts an earlier run recorded, ask the server which it holds (ListParts).
 * A recorded part the server does not confirm is sent again. Servers without ListParts (s3rver)
 * answer something other than NoSuchUpload: then the database's record stands.
 * Returns false when the upload itself is gone.
 */
static bool confirm_parts(struct worker *w, struct ufile *f)
{
	struct du_err e = { 0 };
	bool *seen = calloc(f->ndone ? f->ndone : 1, sizeof(*seen));
	struct server_parts sp = { f, seen };
	if (!seen)
		return true;
	int rc = du_s3_mpu_list_parts(w->conn, f->key, f->upload_id, server_part, &sp, &e);
	if (rc && !strcmp(e.s3_code, "NoSuchUpload")) {
		free(seen);
		return false;
	}
	if (rc == DU_OK) {
		int kept = 0;
		for (int i = 0; i < f->ndone; i++)
			if (seen[i])
				f->done[kept++] = f->done[i];
		if (kept < f->ndone)
			du_debug("'%s': %d recorded part(s) not on the server; sending them again", f->key,
				 f->ndone - kept);
		f->ndone = kept;
	} else {
		du_debug("'%s': cannot list parts (%s); trusting the recorded parts", f->key, e.msg);
	}
	free(seen);
	return true;
}

/* Parts an earlier run recorded can be reused only if they carry what this run's algorithm needs
 * (their checksum, or their md5) to check them and to compute the whole object's. */
static bool parts_fit(const struct ufile *f)
{
	for (int i = 0; i < f->ndone; i++) {
		const struct du_mpu_part *p = &f->done[i];
		if (f->ck_alg == DU_CK_MD5 ? !p->md5[0] : f->ck_alg != DU_CK_NONE && !p->checksum[0])
			return false;
	}
	return true;
}

static int start_multipart(struct worker *w, struct ufile *f, struct du_err *err)
{
	struct run *r = w->r;
	int fd, rc;
	char *prev = NULL;
	uint64_t prev_size = 0;

	if ((rc = open_file(f->path, &fd, &f->st0, err)))
		return rc;
	close(fd);
	f->size = (uint64_t)f->st0.st_size;
	f->mtime_ns = mtime_ns(&f->st0);
	if ((rc = du_s3_check_size(f->size, err)))
		return rc;
	uint64_t ps = du_s3_part_size(f->size, r->cfg->multipart_chunk_size);

	double deadline = 0;
	long delay = 200;
	pthread_mutex_lock(&r->mmu);
	while ((rc = du_dbu_mpu_load(r->mdb, f->id, &prev, &prev_size, &f->done, &f->ndone, err)) &&
	       db_heal(r->mdb, &deadline, &delay, "reading multipart state"))
		;
	pthread_mutex_unlock(&r->mmu);
	if (rc)
		return rc;
	f->ck_alg = run_alg(r);
	if (prev && prev_size == ps && parts_fit(f)) {
		f->upload_id = prev;   /* continue where an earlier run stopped */
		prev = NULL;
		if (!confirm_parts(w, f)) {
			prev = f->upload_id;
			f->upload_id = NULL;
		}
	}
	if (!f->upload_id) {
		if (prev) {
			/* The earlier upload has another part size or is gone: drop it. */
			du_s3_mpu_abort(w->conn, f->key, prev, NULL);
			free(prev);
			free(f->done);
			f->done = NULL;
			f->ndone = 0;
		}
		struct du_s3_put put = { .mtime = f->st0.st_mtim.tv_sec, .checksum_alg = f->ck_alg };
		f->part_size = ps;
		if ((rc = du_s3_mpu_create(w->conn, f->key, &put, &f->upload_id, err)))
			return rc;
		if ((rc = mdb_call_start(r, f, err)))
			return rc;
	}
	f->part_size = ps;
	f->nparts = (int)((f->size + ps - 1) / ps);
	if (f->nparts == 0)
		f->nparts = 1;
	/* No whole-file md5: the object's checksum comes from the parts' (a combined CRC, or the md5
	 * composite S3 itself computes), so each byte is hashed once and parts go in any order. */
	f->etags = calloc(f->nparts, sizeof(*f->etags));
	f->crcs = calloc(f->nparts, sizeof(*f->crcs));
	f->cks = calloc(f->nparts, sizeof(*f->cks));
	f->pmd5 = calloc(f->nparts, sizeof(*f->pmd5));
	if (!f->etags || !f->crcs || !f->cks || !f->pmd5)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	f->parts_left = f->nparts;
	return DU_OK;
}

static const struct du_mpu_part *recorded_part(const struct ufile *f, int n)
{
	for (int i = 0; i < f->ndone; i++)
		if (f->done[i].number == n)
			return &f->done[i];
	return NULL;
}

/* An ETag S3 computes from the bytes: a hex md5, or a multipart one "hex-N". Others (SSE-KMS,
 * some stores) say nothing about the content. */
static bool md5_like(const char *etag)
{
	size_t n = strspn(etag, "0123456789abcdef");
	return n == 32 && (etag[32] == '\0' || (etag[32] == '-' && etag[33] && strspn(etag + 33, "0123456789") == strlen(etag + 33)));
}

/*
 * The object behind a Complete whose answer cannot be trusted, confirmed by HEAD: a continued
 * upload that the run that died may have completed (after S3 acknowledged it, before its row was
 * written), or a Complete answered 200 without an ETag or with an error body (Ceph RGW answers
 * its first Complete with an empty <ETag>). The object is ours if it has the file's size and the
 * multipart ETag of these parts or the whole file's md5 (servers differ), or an ETag that does
 * not describe content at all.
 */
static bool completed_earlier(struct worker *w, struct ufile *f, const unsigned char md5[DU_MD5_LEN],
			      char etag_out[128])
{
	struct du_s3_object_info info;
	unsigned char *cat = malloc((size_t)f->nparts * DU_MD5_LEN);
	char whole[DU_MD5_HEX_LEN], multi[DU_MD5_HEX_LEN + 16];
	unsigned char m[DU_MD5_LEN];
	bool ours = false;

	if (!cat)
		return false;
	for (int i = 0; i < f->nparts; i++)
		for (int b = 0; b < DU_MD5_LEN; b++)
			sscanf(f->etags[i] + 2 * b, "%2hhx", &cat[i * DU_MD5_LEN + b]);
	du_md5(cat, (size_t)f->nparts * DU_MD5_LEN, m);
	free(cat);
	du_hex(m, DU_MD5_LEN, multi);
	snprintf(multi + 32, sizeof(multi) - 32, "-%d", f->nparts);
	whole[0] = '\0';
	if (md5)
		du_hex(md5, DU_MD5_LEN, whole);
	if (du_s3_head_object(w->conn, f->key, &info, NULL) == DU_OK && info.size == f->size &&
	    (!strcmp(info.etag, multi) || (md5 && !strcmp(info.etag, whole)) || !md5_like(info.etag))) {
		snprintf(etag_out, 128, "%s", info.etag);
		ours = true;
	}
	return ours;
}

/* The whole object's checksum from its parts': the CRCs combined (FULL_OBJECT), and in md5 mode
 * S3's composite ETag, md5 of the parts' md5s + "-N". */
static void object_checksum(const struct ufile *f, char whole[DU_CKSUM_B64_LEN], char composite[DU_MD5_HEX_LEN + 8])
{
	if (du_cksum_is_crc(f->ck_alg)) {
		uint64_t acc = du_cksum_init(f->ck_alg);
		for (int i = 0; i < f->nparts; i++) {
			uint64_t off = (uint64_t)i * f->part_size;
			uint64_t len = off + f->part_size > f->size ? f->size - off : f->part_size;
			acc = du_cksum_combine(f->ck_alg, acc, f->crcs[i], len);
		}
		du_cksum_b64(f->ck_alg, acc, whole);
	}
	/* also after a fall back to Content-MD5, when every part was sent with its md5 */
	if (__atomic_load_n(&f->md5_parts, __ATOMIC_ACQUIRE) == f->nparts) {
		unsigned char m[DU_MD5_LEN];
		du_md5(f->pmd5, (size_t)f->nparts * DU_MD5_LEN, m);
		du_hex(m, DU_MD5_LEN, composite);
		snprintf(composite + 32, DU_MD5_HEX_LEN + 8 - 32, "-%d", f->nparts);
	}
}

static void complete_multipart(struct worker *w, struct ufile *f)
{
	struct run *r = w->r;
	struct du_outcome o = { 0 };
	struct du_err e = { 0 };
	struct stat st;
	char whole[DU_CKSUM_B64_LEN] = "", composite[DU_MD5_HEX_LEN + 8] = "";

	if (f->failed) {
		e = f->ferr;
		goto failed;
	}
	if (stat(f->path, &st) < 0 || !same_file(&st, &f->st0)) {
		du_err_set(&e, DU_ERR_CHANGED, "changed during upload");
		f->changed = true;
		goto failed;
	}
	struct du_s3_part *parts = calloc(f->nparts, sizeof(*parts));
	if (!parts) {
		du_err_set(&e, DU_ERR_NOMEM, "out of memory");
		goto failed;
	}
	for (int i = 0; i < f->nparts; i++)
		parts[i] = (struct du_s3_part){ .number = i + 1, .etag = f->etags[i],
						.checksum = f->cks[i][0] ? f->cks[i] : NULL };
	object_checksum(f, whole, composite);
	double t0 = du_metrics_now();
	int rc = du_s3_mpu_complete_ck(w->conn, f->key, f->upload_id, parts, f->nparts, f->ck_alg, whole, o.etag,
				       &e);
	/* A 200 whose body is not a proper answer (no ETag, an <Error>) leaves the object's fate open. */
	bool unsure = rc == DU_ERR_PARSE || (rc && e.http_status == 200);
	if (rc && (f->ndone > 0 || unsure) && completed_earlier(w, f, NULL, o.etag)) {
		du_info("'%s': %s; the object is there with the file's size%s, recording it", f->key,
			unsure ? e.msg : "completed by an earlier run", md5_like(o.etag) ? " and ETag" : "");
		rc = DU_OK;
	}
	du_metrics_request(DU_METRIC_COMPLETE, du_metrics_now() - t0);
	free(parts);
	if (rc)
		goto failed;
	/* The multipart record goes with the uploaded row, in the writer's transaction. */
	o.id = f->id;
	o.status = DU_OUT_UPLOADED;
	o.size = f->size;
	o.mtime_ns = f->mtime_ns;
	o.part_size = f->part_size;
	if (whole[0] && (run_alg(r) == f->ck_alg || !r->ck_auto))
		outcome_ck(&o, f->ck_alg, whole, "FULL_OBJECT");
	else if (composite[0])
		outcome_ck(&o, DU_CK_MD5, composite, "COMPOSITE");
	finish_file(w, f, &o);
	return;
failed:
	if (stopping(r) && !f->changed && e.code != DU_ERR_S3_AUTH) {
		release_file(w, f);   /* interrupted: parts stay recorded for the next run */
		return;
	}
	if (f->changed || e.code == DU_ERR_NOTFOUND || f->ndone > 0) {
		/* The parts no longer describe the file, the upload is gone, or a continued upload would not
		 * complete: start over next time rather than fail the same way again. */
		du_s3_mpu_abort(w->conn, f->key, f->upload_id, NULL);
		pthread_mutex_lock(&r->mmu);
		du_dbu_mpu_forget(r->mdb, f->id, NULL);
		pthread_mutex_unlock(&r->mmu);
	}
	fill_failed(&o, f, &e);
	finish_file(w, f, &o);
}

/* Part n's checksums, as the file's algorithm needs them; md5 too when the run sends Content-MD5. */
/* Part n's checksums, and its md5 when the run needs it (md5_only: that alone, to resend it with
 * Content-MD5). */
static void part_checksums(struct run *r, struct ufile *f, int n, const unsigned char *p, size_t len, bool md5_only,
			   bool *md5_too)
{
	int alg = f->ck_alg;
	*md5_too = md5_only || alg == DU_CK_MD5 || run_alg(r) == DU_CK_MD5;
	if (md5_only) {
	} else if (du_cksum_is_crc(alg)) {
		f->crcs[n - 1] = du_cksum_crc(alg, du_cksum_init(alg), p, len);
		du_cksum_b64(alg, f->crcs[n - 1], f->cks[n - 1]);
	} else if (alg == DU_CK_SHA256) {
		du_cksum_buf_b64(alg, p, len, f->cks[n - 1]);
	}
	if (*md5_too) {
		du_md5(p, len, f->pmd5[n - 1]);
		__atomic_add_fetch(&f->md5_parts, 1, __ATOMIC_RELAXED);
	}
}

/* A part an earlier run sent: the same bytes if it has the same size and checksum. */
static bool reuse_part(struct ufile *f, int n, const struct du_mpu_part *prev, size_t len, bool md5_too)
{
	char md5hex[DU_MD5_HEX_LEN];
	if (prev->size != len)
		return false;
	if (f->ck_alg == DU_CK_MD5 || (f->ck_alg == DU_CK_NONE && md5_too)) {
		du_hex(f->pmd5[n - 1], DU_MD5_LEN, md5hex);
		return !strcmp(prev->md5, md5hex);
	}
	return f->ck_alg == DU_CK_NONE || !strcmp(prev->checksum, f->cks[n - 1]);
}

/*
 * Checksum part n, then send it unless an earlier run did. The part's bytes are the page cache's
 * own, mapped (du_fmap): hashed and handed to libcurl without a copy into a buffer of ours. Where
 * the file cannot be mapped, the part is read into a shared pool buffer instead.
 */
static void do_part(struct worker *w, struct ufile *f, int n)
{
	struct run *r = w->r;
	struct du_err e = { 0 };
	uint64_t off = (uint64_t)(n - 1) * f->part_size;
	size_t len = (size_t)(off + f->part_size > f->size ? f->size - off : f->part_size);
	int fd = -1, slot = -1;
	struct stat st;
	bool md5_too;
	struct du_fmap map = { 0 };
	const unsigned char *p = NULL;

	if (__atomic_load_n(&f->failed, __ATOMIC_RELAXED) || stopping(r)) {
		if (!f->failed)
			part_fail(r, f, &(struct du_err){ .code = DU_ERR_INTERRUPTED, .msg = "interrupted" });
		goto done;
	}
	if (open_file(f->path, &fd, &st, &e)) {
		part_fail(r, f, &e);
		goto done;
	}
	if (!same_file(&st, &f->st0)) {
		du_err_set(&e, DU_ERR_CHANGED, "changed during upload");
		part_fail(r, f, &e);
		goto done;
	}
	struct du_err me = { 0 };
	if (len && du_fmap_open(&map, fd, off, len, &me) == DU_OK) {
		p = map.p;
	} else {
		/* A pool buffer: parts in flight hold one each, and none waits for another. */
		pthread_mutex_lock(&r->mu);
		while (r->nfree == 0 && !f->failed && !r->fatal)
			pthread_cond_wait(&r->cv_md5, &r->mu);
		if (r->nfree > 0)
			slot = r->pool_free[--r->nfree];
		bool give_up = f->failed || r->fatal;
		pthread_mutex_unlock(&r->mu);
		if (give_up)
			goto done; /* the file failed meanwhile: its failure is recorded */
		struct sbuf *bf = slot >= 0 ? &r->pool[slot] : &w->own;
		if (ensure_buf(bf, len ? len : 1, &e) || read_full(fd, bf->p, len, off, &e)) {
			part_fail(r, f, &e);
			goto done;
		}
		p = bf->p;
	}
	part_checksums(r, f, n, p, len, false, &md5_too);

	const struct du_mpu_part *prev = recorded_part(f, n);
	if (prev) {
		if (du_fmap_damaged(&map) || !reuse_part(f, n, prev, len, md5_too)) {
			du_err_set(&e, DU_ERR_CHANGED, "changed since its upload began (part %d differs)", n);
			part_fail(r, f, &e);
			goto done;
		}
		snprintf(f->etags[n - 1], sizeof(f->etags[0]), "%s", prev->etag);
		__atomic_add_fetch(&r->st.parts_reused, 1, __ATOMIC_RELAXED);
		goto done;
	}
	bool ck = f->cks[n - 1][0] != '\0';
	for (int attempt = 1;; attempt++) {
		double t0 = du_metrics_now();
		int prc = du_s3_mpu_part_ck(w->conn, f->key, f->upload_id, n, p, len,
					    md5_too ? f->pmd5[n - 1] : NULL, f->ck_alg, ck ? f->cks[n - 1] : NULL,
					    f->etags[n - 1], &e);
		du_metrics_request(DU_METRIC_PART, du_metrics_now() - t0);
		if (du_fmap_damaged(&map)) {
			/* The file ended early under the view: what went was not the file. */
			du_err_set(&e, DU_ERR_CHANGED, "changed during upload (it shrank)");
			part_fail(r, f, &e);
			goto done;
		}
		if (prc == DU_OK && ck && !md5_too && !du_s3_checksum_echoed(w->conn) &&
		    ck_not_echoed(r, f->ck_alg, f->key)) {
			/* not verified: send it again with Content-MD5, which this server checks */
			part_checksums(r, f, n, p, len, true, &md5_too);
			attempt = 0;
			continue;
		}
		if (prc == DU_OK)
			break;
		if (!resend(&e) || attempt > r->cfg->times_to_retry || stopping(r)) {
			part_fail(r, f, &e);
			goto done;
		}
		__atomic_add_fetch(&f->retries, 1, __ATOMIC_RELAXED);
		backoff(w, attempt, &e);
	}
	struct du_mpu_part rec = { .number = n, .size = len };
	if (md5_too)
		du_hex(f->pmd5[n - 1], DU_MD5_LEN, rec.md5);
	snprintf(rec.etag, sizeof(rec.etag), "%s", f->etags[n - 1]);
	snprintf(rec.checksum, sizeof(rec.checksum), "%s", f->cks[n - 1]);
	if (mdb_call_part(r, f, &rec, &e)) {
		set_fatal(r, &e);
		part_fail(r, f, &e);
		goto done;
	}
	__atomic_add_fetch(&r->st.parts_sent, 1, __ATOMIC_RELAXED);
done:
	du_fmap_close(&map);
	if (fd >= 0)
		close(fd);
	if (slot >= 0) {
		pthread_mutex_lock(&r->mu);
		r->pool_free[r->nfree++] = slot;
		pthread_cond_broadcast(&r->cv_md5);
		pthread_mutex_unlock(&r->mu);
	}
	if (__atomic_sub_fetch(&f->parts_left, 1, __ATOMIC_ACQ_REL) == 0) {
		complete_multipart(w, f);
		ufile_free(f);
	}
}

/*
 * Hash the file as S3 would have for the object it is compared with: its md5 (a plain ETag, or
 * the md5 du recorded for that object), or the md5 of its parts' md5s at the recorded part size
 * (a multipart ETag "hex-N"). Read through the worker's own buffer in pieces, with the same
 * change-during-read check as an upload. *same is set only on success.
 */

static int check_file(struct worker *w, struct ufile *f, struct du_outcome *o, bool *same, struct du_err *err)
{
	int fd, rc;
	struct stat st0, st1;
	const char *etag = f->check_etag ? f->check_etag : "";
	bool plain = strlen(etag) == 32 && strspn(etag, "0123456789abcdef") == 32;
	const char *dash = strchr(etag, '-');
	uint64_t ps = f->check_md5 || plain || !dash ? 0 : f->check_part_size;
	struct du_md5_ctx *whole = NULL, *part = NULL, *comp = NULL;
	unsigned char md[DU_MD5_LEN];
	char hex[DU_MD5_HEX_LEN + 16];
	uint64_t nparts = 0;

	if ((rc = open_file(f->path, &fd, &st0, err)))
		return rc;
	uint64_t len = (uint64_t)st0.st_size;
	/* A file a single PUT would send is read whole, so that a difference sends this very buffer. */
	bool keep = !ps && len < w->r->cfg->multipart_threshold;
	f->preread = false;
	if ((rc = ensure_buf(&w->own, keep ? (len ? len : 1) : CHECK_CHUNK, err)))
		goto out;
	if (!(whole = du_md5_new()) || (ps && (!(part = du_md5_new()) || !(comp = du_md5_new())))) {
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (uint64_t off = 0, in_part = 0; off < len && !rc;) {
		size_t n = len - off < CHECK_CHUNK ? (size_t)(len - off) : CHECK_CHUNK;
		if (ps && n > ps - in_part)
			n = (size_t)(ps - in_part);
		unsigned char *dst = keep ? w->own.p + off : w->own.p;
		if ((rc = read_full(fd, dst, n, off, err)))
			break;
		du_md5_update(whole, dst, n);
		off += n;
		if (ps) {
			du_md5_update(part, dst, n);
			in_part += n;
			if (in_part == ps || off == len) {
				du_md5_final(part, md);
				part = off < len ? du_md5_new() : NULL;
				du_md5_update(comp, md, DU_MD5_LEN);
				nparts++;
				in_part = 0;
				if (off < len && !part)
					rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
			}
		}
		if (stopping(w->r) && du_stop_level() > 1)
			rc = du_err_set(err, DU_ERR_INTERRUPTED, "interrupted");
	}
	if (rc)
		goto out;
	if (fstat(fd, &st1) < 0 || !same_file(&st0, &st1)) {
		rc = du_err_set(err, DU_ERR_CHANGED, "changed during check");
		goto out;
	}
	du_md5_final(whole, md);
	whole = NULL;
	du_hex(md, DU_MD5_LEN, o->md5);
	if (keep) {
		f->preread = true;
		f->pre_st = st0;
		memcpy(f->pre_md5, md, DU_MD5_LEN);
	}
	if (f->check_md5)
		*same = !strcmp(o->md5, f->check_md5);
	else if (plain)
		*same = !strcmp(o->md5, etag);
	else if (ps) {
		du_md5_final(comp, md);
		comp = NULL;
		du_hex(md, DU_MD5_LEN, hex);
		snprintf(hex + 32, sizeof(hex) - 32, "-%" PRIu64, nparts);
		*same = !strcmp(hex, etag);
	} else {
		*same = false;
	}
	o->id = f->id;
	o->status = DU_OUT_UPLOADED;
	o->size = len;
	o->mtime_ns = mtime_ns(&st0);
	o->part_size = ps;
	snprintf(o->etag, sizeof(o->etag), "%s", etag);
	*same = *same && len == f->size;
out:
	if (whole)
		du_md5_final(whole, md);
	if (part)
		du_md5_final(part, md);
	if (comp)
		du_md5_final(comp, md);
	close(fd);
	return rc;
}

/* A whole-file job that ends before any part was queued: released for later (stopping) or failed. */
static void end_early(struct worker *w, struct ufile *f, const struct du_err *e, bool release)
{
	struct du_outcome o = { 0 };
	file_started(w->r);
	if (release) {
		release_file(w, f);
	} else {
		fill_failed(&o, f, e);
		finish_file(w, f, &o);
	}
	ufile_free(f);
}

static void do_file(struct worker *w, struct ufile *f)
{
	struct run *r = w->r;
	struct du_outcome o = { 0 };
	struct du_err e = { 0 };
	struct stat st;

	f->t0 = du_monotonic();
	if (stopping(r)) {
		file_started(r);
		release_file(w, f);
		ufile_free(f);
		return;
	}
	if (f->check_etag || f->check_md5) {
		/* Listed with the file's size: send it only if its bytes differ from the object's. */
		bool same = false;
		if (check_file(w, f, &o, &same, &e)) {
			end_early(w, f, &e, stopping(r) && e.code != DU_ERR_CHANGED && !permanent(&e));
			return;
		}
		f->reason = same ? "unchanged_checked" : "changed";
		du_progress_checked(r->prog, same, same ? f->size : 0);
		if (same) {
			file_started(r);
			finish_file(w, f, &o);
			ufile_free(f);
			return;
		}
	}
	/* Multipart when the file is big now (it may have grown since the scan). */
	if (stat(f->path, &st) == 0 && (uint64_t)st.st_size >= r->cfg->multipart_threshold) {
		if (start_multipart(w, f, &e)) {
			end_early(w, f, &e, stopping(r));
			return;
		}
		/* Parts go to the front of the queue, in order, so all workers help with this file. */
		pthread_mutex_lock(&r->mu);
		for (int n = f->nparts; n >= 2; n--) {
			struct job *j = calloc(1, sizeof(*j));
			if (!j) {
				/* Do the rest ourselves, one by one: slower, still correct. */
				pthread_mutex_unlock(&r->mu);
				for (int k = 2; k <= n; k++)
					do_part(w, f, k);
				pthread_mutex_lock(&r->mu);
				break;
			}
			j->f = f;
			j->part = n;
			push(r, j, true);
		}
		file_started_locked(r);
		pthread_cond_broadcast(&r->cv_job);
		pthread_mutex_unlock(&r->mu);
		do_part(w, f, 1);
		return;
	}
	file_started(r);
	for (int attempt = 1;; attempt++) {
		memset(&o, 0, sizeof(o));
		if (put_small(w, f, &o, &e) == DU_OK)
			break;
		if (stopping(r) && e.code != DU_ERR_CHANGED && !permanent(&e)) {
			release_file(w, f);
			ufile_free(f);
			return;
		}
		/* A changed file is retried later (du-retry), when it has settled. */
		if (e.code == DU_ERR_CHANGED || !resend(&e) || attempt > r->cfg->times_to_retry) {
			if (e.code == DU_ERR_S3_AUTH)
				set_fatal(r, &e);
			fill_failed(&o, f, &e);
			break;
		}
		f->retries++;
		backoff(w, attempt, &e);
	}
	finish_file(w, f, &o);
	ufile_free(f);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct job *j;
	while ((j = pop(w->r))) {
		if (j->part)
			do_part(w, j->f, j->part);
		else
			do_file(w, j->f);
		free(j);
	}
	return NULL;
}

/* ---- feeder ---------------------------------------------------------------------------------- */

static int enqueue_claimed(void *arg, const struct du_claimed *c)
{
	struct run *r = arg;
	struct ufile *f = calloc(1, sizeof(*f));
	struct job *j = calloc(1, sizeof(*j));
	if (!f || !j || !(f->path = strdup(c->local_path)) || !(f->key = strdup(c->s3_key))) {
		ufile_free(f);
		free(j);
		return DU_ERR_NOMEM;
	}
	f->id = c->id;
	f->size = c->size;
	f->mtime_ns = c->mtime_ns;
	f->check_part_size = c->part_size;
	snprintf(f->row_reason, sizeof(f->row_reason), "%s", c->reason ? c->reason : "");
	if ((c->check_etag && !(f->check_etag = strdup(c->check_etag))) ||
	    (c->check_md5 && !(f->check_md5 = strdup(c->check_md5)))) {
		ufile_free(f);
		free(j);
		return DU_ERR_NOMEM;
	}
	j->f = f;
	pthread_mutex_lock(&r->mu);
	push(r, j, false);
	pthread_cond_signal(&r->cv_job);
	pthread_mutex_unlock(&r->mu);
	return DU_OK;
}

static int feed(struct run *r, struct du_err *err)
{
	int workers = (int)r->cfg->max_workers;
	int batch = workers * 4 > CLAIM_BATCH_MIN ? workers * 4 : CLAIM_BATCH_MIN;
	double deadline = 0;
	long delay = 200;
	int64_t cursor = 0;
	for (;;) {
		pthread_mutex_lock(&r->mu);
		while (r->queued_files >= batch && !r->fatal && du_stop_level() == 0)
			pthread_cond_wait(&r->cv_space, &r->mu);
		int fatal = r->fatal;
		pthread_mutex_unlock(&r->mu);
		if (fatal || du_stop_level() > 0)
			return DU_OK;
		int n = 0;
		int rc = du_dbu_claim(r->db, r->po->session_id, du_worker_id(), batch, lease_seconds(),
				      r->po->retry_mode, r->po->max_attempts, &cursor, enqueue_claimed, r, &n, err);
		if (rc) {
			if (db_heal(r->db, &deadline, &delay, "claiming files"))
				continue;
			return rc;
		}
		deadline = 0;
		delay = 200;
		if (n > 0)
			continue;
		/* Nothing after the cursor: once more from the start, for rows released or failed again. */
		if (cursor > 0) {
			cursor = 0;
			continue;
		}
		/* du-retry takes failed rows only: none left to claim is the end of its round. */
		if (r->po->retry_mode)
			return DU_OK;
		/*
		 * Nothing to claim. Rows other workers hold may still come back (their lease expires
		 * when they die): wait for them, so the session ends only when its last file is done.
		 */
		int64_t others = 0;
		if (du_dbu_others_open(r->db, r->po->session_id, du_worker_id(), &others, err))
			return DU_OK;
		if (others == 0)
			return DU_OK;
		for (int i = 0; i < 10 && du_stop_level() == 0 && !r->fatal; i++) {
			struct timespec ts = { 0, 100 * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
}

/* Wake sleeping waiters now and then so a signal is noticed promptly. */
static void *stop_watch(void *arg)
{
	struct run *r = arg;
	double abort_at = 0;
	for (;;) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&r->mu);
		if (!r->workers_done)
			pthread_cond_timedwait(&r->cv_watch, &r->mu, &ts);
		/* Until the last transfer has ended: a signal then still gets its bounded grace. */
		bool done = r->workers_done;
		pthread_cond_broadcast(&r->cv_space);
		pthread_cond_broadcast(&r->cv_md5);
		pthread_mutex_unlock(&r->mu);
		if (du_stop_level() == 1 && !abort_at)
			abort_at = du_monotonic() + STOP_GRACE_S;
		/* In-flight transfers get a bounded grace, then are aborted as if signalled twice. */
		if (abort_at && du_monotonic() > abort_at)
			du_s3_abort_all(r->s3);
		if (du_stop_level() >= 2)
			du_s3_abort_all(r->s3);
		if (done)
			return NULL;
	}
}

int du_pipeline_run(const struct du_config *cfg, struct du_db *db, struct du_s3 *s3, struct du_progress *prog,
		    const struct du_pipeline_opts *po, struct du_pipeline_stats *st, struct du_err *err)
{
	struct run r = { .cfg = cfg, .po = po, .s3 = s3, .db = db, .prog = prog };
	ck_init(&r);
	int nw = (int)cfg->max_workers, started = 0, rc;
	struct worker *ws = calloc(nw, sizeof(*ws));
	pthread_t *th = calloc(nw, sizeof(*th));
	pthread_t watch;
	bool writer_started = false, watch_started = false;

	pthread_mutex_init(&r.mu, NULL);
	pthread_mutex_init(&r.wmu, NULL);
	pthread_mutex_init(&r.mmu, NULL);
	pthread_cond_init(&r.cv_job, NULL);
	pthread_cond_init(&r.cv_space, NULL);
	pthread_cond_init(&r.cv_md5, NULL);
	pthread_cond_init(&r.cv_watch, NULL);
	int npool = cfg->max_workers < PART_BUFS_MAX ? (int)cfg->max_workers : PART_BUFS_MAX;
	for (int i = 0; i < npool; i++)
		r.pool_free[r.nfree++] = i;
	r.npool = npool;
	pthread_cond_init(&r.wcv, NULL);
	if (!ws || !th) {
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = du_db_open(&r.wdb, cfg, err)) || (rc = du_db_open(&r.mdb, cfg, err)))
		goto out;
	/* This process works on the session: its row, whose heartbeat the writer renews with the leases. */
	struct du_worker self;
	du_worker_self(&self);
	if ((rc = du_dbu_worker_begin(db, po->session_id, &self, err)))
		goto out;
	if (pthread_create(&r.writer, NULL, writer_main, &r)) {
		rc = du_err_set(err, DU_ERR_INTERNAL, "cannot start the writer thread");
		goto out;
	}
	writer_started = true;
	for (int i = 0; i < nw; i++) {
		ws[i].r = &r;
		ws[i].rnd = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(i + 1) * 0xbf58476d1ce4e5b9ULL ^ (uint64_t)time(NULL);
		if ((rc = du_s3_conn_new(s3, &ws[i].conn, err)))
			goto join;
		if (pthread_create(&th[i], NULL, worker_main, &ws[i])) {
			du_s3_conn_free(ws[i].conn);
			ws[i].conn = NULL;
			rc = du_err_set(err, DU_ERR_INTERNAL, "cannot start worker threads");
			goto join;
		}
		started++;
	}
	watch_started = pthread_create(&watch, NULL, stop_watch, &r) == 0;
	rc = feed(&r, err);
	if (rc)
		set_fatal(&r, err);
join:
	pthread_mutex_lock(&r.mu);
	r.feeding_done = true;
	pthread_cond_broadcast(&r.cv_job);
	pthread_mutex_unlock(&r.mu);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_lock(&r.mu);
	r.workers_done = true;
	pthread_cond_signal(&r.cv_watch);
	pthread_mutex_unlock(&r.mu);
	/* Jobs nobody took (no worker started, or a fatal error): give their rows back. */
	for (struct job *j = r.head, *next; j; j = next) {
		next = j->next;
		if (j->part == 0) {
			struct worker w0 = { .r = &r };
			release_file(&w0, j->f);
			ufile_free(j->f);
		}
		free(j);
	}
	r.head = r.tail = NULL;
	if (watch_started)
		pthread_join(watch, NULL);
	if (writer_started) {
		pthread_mutex_lock(&r.wmu);
		r.wstop = true;
		pthread_cond_signal(&r.wcv);
		pthread_mutex_unlock(&r.wmu);
		pthread_join(r.writer, NULL);
	}
	if (!rc && r.fatal) {
		rc = r.fatal;
		*err = r.fatal_err;
	}
	if (!rc && du_stop_level() > 0)
		rc = du_err_set(err, DU_ERR_INTERRUPTED, "interrupted; run again to continue");
	du_dbu_worker_end(db, po->session_id, du_worker_id(), NULL);
out:
	for (int i = 0; i < nw && ws; i++) {
		du_s3_conn_free(ws[i].conn);
		free(ws[i].own.p);
	}
	free(ws);
	free(th);
	free(r.out);
	du_db_close(r.wdb);
	du_db_close(r.mdb);
	pthread_mutex_destroy(&r.mu);
	pthread_mutex_destroy(&r.wmu);
	pthread_mutex_destroy(&r.mmu);
	pthread_cond_destroy(&r.cv_job);
	pthread_cond_destroy(&r.cv_space);
	pthread_cond_destroy(&r.cv_md5);
	pthread_cond_destroy(&r.cv_watch);
	for (int i = 0; i < PART_BUFS_MAX; i++)
		free(r.pool[i].p);
	pthread_cond_destroy(&r.wcv);
	if (st)
		*st = r.st;
	return rc;
}

/*
 * pipeline.c: the upload run: the feeder (claims rows, queues them as jobs), the stop watch and
 * the run's checksum mode. See engine.h for who owns what and the other rooms of the engine.
 */
#include "engine/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db/db_budget.h"
#include "db/db_endpoints.h"
#include "db/db_files.h"
#include "db/db_multipart.h"
#include "db/db_sessions.h"
#include "du/checksum.h"
#include "du/filemap.h"
#include "du/signals.h"
#include "du/crypto.h"
#include "du/log.h"
#include "du/metrics.h"
#include "du/retry.h"
#include "du/wait.h"

#define CLAIM_BATCH_MIN 32
#define STOP_GRACE_S 30
#define STOP_WATCH_MS 100
#define ENDPOINT_FACT_DAYS 30
void du_run_fatal(struct run *r, const struct du_err *e)
{
	pthread_mutex_lock(&r->mu);
	if (!r->fatal) {
		r->fatal = e->code ? e->code : DU_ERR_INTERNAL;
		r->fatal_err = *e;
	}
	pthread_cond_broadcast(&r->cv_md5);
	pthread_mutex_unlock(&r->mu);
	du_pool_stop(&r->jobs);
}

static uint64_t xrand(void *arg)
{
	uint64_t *s = arg;
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static bool stop_run(void *r)
{
	return du_run_stopping(r);
}

bool du_run_stopping(struct run *r)
{
	return du_stop_level() > 0 || __atomic_load_n(&r->fatal, __ATOMIC_RELAXED) ||
	       __atomic_load_n(&r->cutoff, __ATOMIC_RELAXED);
}

/* The upload window ended: nothing new starts; hard, the transfers in flight are aborted too (their
 * files go back to pending, multipart uploads and their recorded parts are kept for the next run). */
static void window_end(struct run *r)
{
	bool hard = !r->po->cutoff_soft;
	__atomic_store_n(&r->cutoff, hard ? 2 : 1, __ATOMIC_RELAXED);
	du_info("the upload window ended: %s", hard ? "stopping the transfers in flight"
		: "starting nothing new, letting the transfers in flight end");
	if (hard)
		du_s3_abort_all(r->s3);
	/* As after a first Ctrl-C: the feeder stops claiming, queued jobs give their rows back, parts
	 * not started fail their file as interrupted (released, resumable); the stop watch's next
	 * tick wakes every waiter. */
}

void du_run_backoff(struct worker *w, int attempt, const struct du_err *e)
{
	long ms = du_retry_delay_ms(attempt, w->r->o->retry_base_ms, w->r->o->retry_cap_ms, 0, xrand, &w->rnd);
	(void)e;
	du_wait_ms(ms, stop_run, w->r);
}

int du_run_alg(struct run *r)
{
	return __atomic_load_n(&r->ck_alg, __ATOMIC_RELAXED);
}

/*
 * The run's first checksum. auto: CRC32C, unless the database knows this endpoint does not
 * verify x-amz-checksum-* (learnt by an earlier run within ENDPOINT_FACT_DAYS): then Content-MD5
 * from the first body on, so no body is sent twice to learn it again.
 */
static void ck_init(struct run *r)
{
	int a = r->o->checksum_algorithm;
	r->ck_auto = a == DU_CK_AUTO;
	r->ck_alg = r->ck_auto ? DU_CK_CRC32C : a;
	if (a == DU_CK_NONE)
		du_warn("checksum_algorithm=none: objects are sent without any checksum; nothing checks "
			"that S3 stored what was read");
	int echo = -1;
	int64_t by = 0;
	struct du_err e = { 0 };
	if (!r->ck_auto)
		return;
	if (du_db_endpoint_echo_get(r->db, r->o->endpoint, ENDPOINT_FACT_DAYS, &echo, &by, &e)) {
		du_debug("%s", e.msg);   /* not known: learnt again, as before there was a table */
		return;
	}
	if (echo == 0) {
		r->ck_alg = DU_CK_MD5;
		r->ck_warned = 1;
		du_info("'%s' does not verify x-amz-checksum-* (learnt by session %" PRId64 "): sending "
			"Content-MD5", r->o->endpoint, by);
	}
}

/* What this run learnt of the endpoint, for the next one (only auto learns). */
static void ck_remember(struct run *r)
{
	struct du_err e = { 0 };
	int no = __atomic_load_n(&r->ck_no_echo, __ATOMIC_RELAXED);
	int yes = __atomic_load_n(&r->ck_echo_seen, __ATOMIC_RELAXED);
	if (!r->ck_auto || (!no && !yes))
		return;
	if (du_db_endpoint_echo_set(r->db, r->o->endpoint, !no, r->po->session_id, &e))
		du_debug("%s", e.msg);
}

void du_run_ck_echoed(struct run *r)
{
	if (!__atomic_load_n(&r->ck_echo_seen, __ATOMIC_RELAXED))
		__atomic_store_n(&r->ck_echo_seen, 1, __ATOMIC_RELAXED);
}

/*
 * The server's answer did not echo the checksum sent with alg: it did not verify it. With auto,
 * the rest of the run sends Content-MD5 and the database remembers it for the next runs (returns
 * true: the caller checks this body by its ETag, or sends it again with Content-MD5); an
 * algorithm the user chose stays, with a warning.
 */
bool du_run_ck_not_echoed(struct run *r, int alg, const char *key)
{
	int want = alg;
	if (r->ck_auto && alg == DU_CK_CRC32C) {
		__atomic_compare_exchange_n(&r->ck_alg, &want, DU_CK_MD5, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
		__atomic_store_n(&r->ck_no_echo, 1, __ATOMIC_RELAXED);
		if (!__atomic_exchange_n(&r->ck_warned, 1, __ATOMIC_RELAXED))
			du_warn("the server did not confirm the %s checksum of '%s': it does not verify "
				"x-amz-checksum-*; sending Content-MD5 from now on (remembered for '%s')",
				du_cksum_name(alg), key, r->o->endpoint);
		return true;
	}
	if (!__atomic_exchange_n(&r->ck_warned, 1, __ATOMIC_RELAXED))
		du_warn("the server did not confirm the %s checksum of '%s': it does not verify "
			"x-amz-checksum-*, so nothing checked the objects' contents (checksum_algorithm=md5 "
			"would)", du_cksum_name(alg), key);
	return false;
}

static void run_job(void *worker, struct du_pool_job *node)
{
	struct job *j = (struct job *)node;
	if (j->part)
		du_multipart_part(worker, j->f, j->part);
	else
		du_file_job(worker, j->f);
	free(j);
}

/* ---- feeder ---------------------------------------------------------------------------------- */

static int enqueue_claimed(void *arg, const struct du_claimed *c)
{
	struct run *r = arg;
	struct ufile *f = calloc(1, sizeof(*f));
	struct job *j = calloc(1, sizeof(*j));
	if (!f || !j || !(f->path = strdup(c->local_path)) || !(f->key = strdup(c->s3_key))) {
		du_ufile_free(f);
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
		du_ufile_free(f);
		free(j);
		return DU_ERR_NOMEM;
	}
	/* A file starts only if it fits in what the budget has left; the first that does not ends the
	 * claiming, and it and the rest of its batch go back to pending. */
	if (r->budget.bytes && (r->budget_hit || r->budget_reserved + f->size > r->budget_left)) {
		struct worker w0 = { .r = r };
		r->budget_hit = true;
		du_run_release(&w0, f);
		du_ufile_free(f);
		free(j);
		return DU_OK;
	}
	r->budget_reserved += f->size;
	j->f = f;
	du_pool_push(&r->jobs, &j->node, true);
	return DU_OK;
}

/*
 * The budget's period now, and what this machine sent in it before this run. Spent already: no
 * file is claimed. A database error here only costs the budget's precision: the run goes on,
 * counting from zero.
 */
static void budget_init(struct run *r)
{
	char why[200];
	uint64_t spent = 0;
	bool known = false;
	struct du_err e = { 0 };
	if (!r->o->budget || du_budget_parse(r->o->budget, &r->budget, why, sizeof(why)) || !r->budget.bytes)
		return;
	du_budget_period(&r->budget, time(NULL), &r->budget_start, &r->budget_renews);
	if (du_db_budget_spent(r->db, r->host, &r->budget_start, 1, &spent, &known, &e))
		du_warn("data budget: %s; counting from zero", e.msg);
	r->budget_left = spent < r->budget.bytes ? r->budget.bytes - spent : 0;
	r->budget_hit = r->budget_left == 0;
	char b1[32], b2[32];
	du_fmt_bytes(spent, b1, sizeof(b1));
	du_fmt_bytes(r->budget_left, b2, sizeof(b2));
	du_info("data budget %s: %s sent from '%s' this %s, %s left", r->o->budget, b1, r->host,
		du_budget_per_name(r->budget.per), b2);
}

/* The run ended on its budget: when it renews, for the message. */
static int budget_stop(struct run *r, struct du_err *err)
{
	char when[32], b[32];
	struct tm tm;
	localtime_r(&r->budget_renews, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	du_fmt_bytes(r->budget.bytes, b, sizeof(b));
	return du_err_set(err, DU_ERR_STOPPED, "the data budget of %s per %s is spent; it renews at %s "
			  "(local time): run again then to continue", b, du_budget_per_name(r->budget.per), when);
}

static int feed(struct run *r, struct du_err *err)
{
	int workers = (int)r->o->workers;
	int batch = workers * 4 > CLAIM_BATCH_MIN ? workers * 4 : CLAIM_BATCH_MIN;
	double deadline = 0;
	int heal = 0;
	int64_t cursor = 0;
	for (;;) {
		if (r->budget_hit)
			return DU_OK;
		if (!du_pool_wait_room(&r->jobs, batch, stop_run, r))
			return DU_OK;
		int n = 0;
		int rc = du_db_file_claim(r->db, r->po->session_id, du_worker_id(), batch, du_lease_seconds(),
				      r->po->retry_mode, r->po->max_attempts, &cursor, enqueue_claimed, r, &n, err);
		if (rc) {
			if (du_run_db_heal(r->db, &deadline, &heal, "claiming files"))
				continue;
			return rc;
		}
		deadline = 0;
		heal = 0;
		if (r->budget_hit)
			return DU_OK;
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
		if (du_db_file_others_open(r->db, r->po->session_id, du_worker_id(), &others, err))
			return DU_OK;
		if (others == 0)
			return DU_OK;
		du_wait_ms(1000, stop_run, r);
	}
}

/* Wake sleeping waiters now and then so a signal is noticed promptly. */
static void *stop_watch(void *arg)
{
	struct run *r = arg;
	double abort_at = 0;
	for (;;) {
		struct timespec ts = du_wait_deadline(CLOCK_REALTIME, STOP_WATCH_MS);
		pthread_mutex_lock(&r->mu);
		if (!r->workers_done)
			pthread_cond_timedwait(&r->cv_watch, &r->mu, &ts);
		/* Until the last transfer has ended: a signal then still gets its bounded grace. */
		bool done = r->workers_done;
		pthread_cond_broadcast(&r->cv_md5);
		pthread_mutex_unlock(&r->mu);
		du_pool_wake(&r->jobs);
		if (r->po->deadline > 0 && !__atomic_load_n(&r->cutoff, __ATOMIC_RELAXED) &&
		    du_monotonic() >= r->po->deadline)
			window_end(r);
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

static bool run_init(struct run *r)
{
	pthread_mutex_init(&r->mu, NULL);
	pthread_mutex_init(&r->wmu, NULL);
	pthread_mutex_init(&r->mmu, NULL);
	pthread_cond_init(&r->cv_md5, NULL);
	pthread_cond_init(&r->cv_watch, NULL);
	pthread_cond_init(&r->wcv, NULL);
	int nbufs = r->o->workers < PART_BUFS_MAX ? (int)r->o->workers : PART_BUFS_MAX;
	for (int i = 0; i < nbufs; i++)
		r->buf_free[r->nfree++] = i;
	r->nbufs = nbufs;
	return du_pool_init(&r->jobs, (int)r->o->workers);
}

static void run_release(struct run *r)
{
	du_objmeta_release(r);
	du_pool_release(&r->jobs);
	free(r->out);
	du_db_close(r->wdb);
	du_db_close(r->mdb);
	pthread_mutex_destroy(&r->mu);
	pthread_mutex_destroy(&r->wmu);
	pthread_mutex_destroy(&r->mmu);
	pthread_cond_destroy(&r->cv_md5);
	pthread_cond_destroy(&r->cv_watch);
	for (int i = 0; i < PART_BUFS_MAX; i++)
		free(r->bufs[i].p);
	pthread_cond_destroy(&r->wcv);
}

/* Each worker its own S3 connection, then its thread. */
static int start_workers(struct run *r, struct worker *ws, int nw, struct du_err *err)
{
	int rc;
	for (int i = 0; i < nw; i++) {
		ws[i].r = r;
		ws[i].rnd = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(i + 1) * 0xbf58476d1ce4e5b9ULL ^ (uint64_t)time(NULL);
		if ((rc = du_s3_conn_new(r->s3, &ws[i].conn, err)))
			return rc;
		if (!du_pool_start(&r->jobs, run_job, &ws[i])) {
			du_s3_conn_free(ws[i].conn);
			ws[i].conn = NULL;
			return du_err_set(err, DU_ERR_INTERNAL, "cannot start worker threads");
		}
	}
	return DU_OK;
}

/* Feeding is over: let the workers finish, give back the rows of jobs nobody took. */
static void end_workers(struct run *r)
{
	du_pool_close(&r->jobs);
	du_pool_join(&r->jobs);
	pthread_mutex_lock(&r->mu);
	r->workers_done = true;
	pthread_cond_signal(&r->cv_watch);
	pthread_mutex_unlock(&r->mu);
	/* Jobs nobody took (no worker started, or a fatal error): give their rows back. */
	for (struct du_pool_job *n = du_pool_drain(&r->jobs), *next; n; n = next) {
		struct job *j = (struct job *)n;
		next = n->next;
		if (j->part == 0) {
			struct worker w0 = { .r = r };
			du_run_release(&w0, j->f);
			du_ufile_free(j->f);
		}
		free(j);
	}
}

void du_engine_opts_from_config(struct du_engine_opts *o, const struct du_config *cfg)
{
	bool aws;
	memset(o, 0, sizeof(*o));
	du_db_opts_from_config(&o->db, cfg);
	o->workers = (int)cfg->max_workers;
	o->suspect_policy = cfg->suspect_policy;
	o->times_to_retry = (int)cfg->times_to_retry;
	o->retry_base_ms = cfg->retry_base_ms;
	o->retry_cap_ms = cfg->retry_cap_ms;
	o->multipart_threshold = cfg->multipart_threshold;
	o->part_size = cfg->multipart_chunk_size;
	o->checksum_algorithm = cfg->checksum_algorithm;
	o->budget = cfg->budget;
	o->sensor_metadata = cfg->sensor_metadata;
	o->metadata = cfg->metadata;
	o->tags = cfg->tags;
	du_s3_endpoint_of(cfg, o->endpoint, sizeof(o->endpoint), &aws);
}

int du_pipeline_run(const struct du_engine_opts *eo, struct du_db *db, struct du_s3 *s3, struct du_progress *prog,
		    const struct du_pipeline_opts *po, struct du_pipeline_stats *st, struct du_err *err)
{
	struct run r = { .o = eo, .po = po, .s3 = s3, .db = db, .prog = prog };
	ck_init(&r);
	if (gethostname(r.host, sizeof(r.host) - 1))
		snprintf(r.host, sizeof(r.host), "host");
	struct du_s3_stats s3st;
	du_s3_stats(s3, &s3st);
	r.sent_counted = s3st.bytes_sent;
	budget_init(&r);
	int nw = eo->workers, rc;
	struct worker *ws = calloc(nw, sizeof(*ws));
	pthread_t watch;
	bool watch_started = false;

	if (!run_init(&r) || !ws) {
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = du_objmeta_init(&r, err)))
		goto out;
	if ((rc = du_db_connect(&r.wdb, &eo->db, err)) || (rc = du_db_connect(&r.mdb, &eo->db, err)))
		goto out;
	/* This process works on the session: its row, whose heartbeat the writer renews with the leases. */
	struct du_worker self;
	du_worker_self(&self);
	if ((rc = du_db_session_worker_begin(db, po->session_id, &self, err)))
		goto out;
	if ((rc = du_writer_start(&r, err)))
		goto out;
	if ((rc = start_workers(&r, ws, nw, err)) == DU_OK) {
		watch_started = pthread_create(&watch, NULL, stop_watch, &r) == 0;
		rc = feed(&r, err);
		if (rc)
			du_run_fatal(&r, err);
	}
	end_workers(&r);
	if (watch_started)
		pthread_join(watch, NULL);
	du_writer_stop(&r);
	ck_remember(&r);
	if (!rc && r.fatal) {
		rc = r.fatal;
		*err = r.fatal_err;
	}
	if (!rc && du_stop_level() > 0)
		rc = du_err_set(err, DU_ERR_INTERRUPTED, "interrupted; run again to continue");
	if (!rc && r.budget_hit)
		rc = budget_stop(&r, err);
	if (!rc && r.cutoff)
		rc = du_err_set(err, DU_ERR_STOPPED, "the upload window ended; run again to continue");
	du_db_session_worker_end(db, po->session_id, du_worker_id(), NULL);
out:
	for (int i = 0; i < nw && ws; i++) {
		du_s3_conn_free(ws[i].conn);
		free(ws[i].own.p);
	}
	free(ws);
	run_release(&r);
	if (st)
		*st = r.st;
	return rc;
}

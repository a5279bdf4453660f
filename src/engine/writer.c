/*
 * writer.c: the database side of the run: the writer thread that batches outcomes and renews
 * leases, and the reconnect that heals a lost connection. See engine.h for who writes
 * what.
 */
#include "engine/engine.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "du/signals.h"
#include "db/db_budget.h"
#include "du/log.h"
#include "du/retry.h"
#include "du/wait.h"
#include "du/strbuf.h"

#define FLUSH_ROWS 256
#define FLUSH_MS 200
#define HEAL_BASE_MS 200
#define HEAL_CAP_MS 5000
#define COUNT_SENT_S 2.0            /* bytes_sent is brought up to date this often */

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
 * error, which retrying does not heal. *attempt counts the reconnects of this failure (the caller
 * starts it at 0): the wait before each is retry.h's, full jitter from 200 ms up to 5 s.
 */
bool du_run_db_heal(struct du_db *db, double *deadline, int *attempt, const char *what)
{
	if (du_db_session_alive(db))
		return false;
	if (*deadline == 0) {
		*deadline = du_monotonic() + db_grace();
		du_warn("database connection lost (%s); reconnecting", what);
	}
	while (du_monotonic() < *deadline && du_stop_level() < 2) {
		long ms = du_retry_delay_ms(++*attempt, HEAL_BASE_MS, HEAL_CAP_MS, 0, NULL, NULL);
		if (!du_wait_ms(ms, du_wait_stop_level, &(int){ 2 }))
			break;
		if (du_db_reconnect(db, NULL) == DU_OK && du_db_ok(db)) {
			du_info("database connection restored");
			return true;
		}
	}
	return false;
}
/* ---- the writer ---- */

void du_writer_emit(struct run *r, struct du_outcome *o)
{
	pthread_mutex_lock(&r->wmu);
	if (!du_array_grow(&r->out, &r->capout, (size_t)r->nout + 1, sizeof(*r->out))) {
		/* Without memory the outcome cannot be recorded: the row stays 'uploading' and its
		 * lease returns it to pending, which is true. */
		pthread_mutex_unlock(&r->wmu);
		free(o->sensor);
		return;
	}
	r->out[r->nout++] = *o;
	if (r->nout >= FLUSH_ROWS)
		pthread_cond_signal(&r->wcv);
	pthread_mutex_unlock(&r->wmu);
}
/* Flush with reconnects: outcomes stay buffered while the database is away (bounded). */
static int flush_batch(struct run *r, struct du_outcome *o, int n)
{
	struct du_err e = { 0 };
	double deadline = 0;
	int heal = 0;
	for (;;) {
		if (du_db_file_flush(r->wdb, r->po->session_id, du_worker_id(), o, n, &e) == DU_OK)
			return DU_OK;
		if (!du_run_db_heal(r->wdb, &deadline, &heal, "writing outcomes")) {
			du_run_fatal(r, &e);
			return e.code;
		}
	}
}

/* Add what the S3 client sent since the last call to this machine's bytes_sent (writer thread). */
static void count_sent(struct run *r)
{
	struct du_s3_stats st;
	struct du_err e = { 0 };
	du_s3_stats(r->s3, &st);
	if (st.bytes_sent <= r->sent_counted)
		return;
	/* Lost counts only make a budget generous; the upload itself goes on. */
	if (du_db_budget_add(r->wdb, r->host, st.bytes_sent - r->sent_counted, &e))
		du_debug("%s", e.msg);
	else
		r->sent_counted = st.bytes_sent;
}

static void *writer_main(void *arg)
{
	struct run *r = arg;
	int lease = du_lease_seconds();
	double next_renew = du_monotonic() + lease / 3.0;
	double next_count = du_monotonic() + COUNT_SENT_S;
	struct du_outcome *batch = NULL;
	size_t cap = 0;

	pthread_mutex_lock(&r->wmu);
	for (;;) {
		if (r->nout < FLUSH_ROWS && !r->wstop) {
			struct timespec ts = du_wait_deadline(CLOCK_REALTIME, FLUSH_MS);
			pthread_cond_timedwait(&r->wcv, &r->wmu, &ts);
		}
		int n = r->nout;
		bool stop = r->wstop;
		if (n) {
			if (!du_array_grow(&batch, &cap, (size_t)n, sizeof(*batch))) {
				pthread_mutex_unlock(&r->wmu);
				continue;
			}
			memcpy(batch, r->out, n * sizeof(*batch));
			r->nout = 0;
		}
		pthread_mutex_unlock(&r->wmu);
		if (n) {
			flush_batch(r, batch, n);
			for (int i = 0; i < n; i++)
				free(batch[i].sensor);
		}
		if (du_monotonic() > next_count) {
			count_sent(r);
			next_count = du_monotonic() + COUNT_SENT_S;
		}
		if (du_monotonic() > next_renew) {
			struct du_err e = { 0 };
			if (du_db_file_renew(r->wdb, r->po->session_id, du_worker_id(), lease, &e))
				du_warn("%s", e.msg);
			next_renew = du_monotonic() + lease / 3.0;
		}
		pthread_mutex_lock(&r->wmu);
		if (stop && r->nout == 0)
			break;
	}
	pthread_mutex_unlock(&r->wmu);
	count_sent(r);
	free(batch);
	return NULL;
}

int du_writer_start(struct run *r, struct du_err *err)
{
	if (pthread_create(&r->writer, NULL, writer_main, r))
		return du_err_set(err, DU_ERR_INTERNAL, "cannot start the writer thread");
	return DU_OK;
}

void du_writer_stop(struct run *r)
{
	pthread_mutex_lock(&r->wmu);
	r->wstop = true;
	pthread_cond_signal(&r->wcv);
	pthread_mutex_unlock(&r->wmu);
	pthread_join(r->writer, NULL);
}

/*
 * metrics.c: Prometheus text-format metrics for node exporter's textfile collector (metrics.h).
 * Counters are process-wide atomics so the pipeline's workers count without locks; the file is
 * rendered from a snapshot and replaced atomically (write a temporary file, rename over the old).
 */
#include "du/metrics.h"
#include "du/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "du/s3.h"
#include "du/wait.h"

/* Upper bounds in seconds: small PUTs take milliseconds, 16 MiB parts seconds, stalls minutes. */
static const double bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120 };
#define NB (sizeof(bounds) / sizeof(bounds[0]))

static const char *const outcome_names[DU_METRIC_OUTCOMES] = { "uploaded", "failed", "released" };
static const char *const op_names[DU_METRIC_OPS] = { "put", "part", "complete" };

static struct {
	pthread_mutex_t mu;        /* start/stop and writes */
	pthread_cond_t cv;
	int on;                    /* atomic: counting enabled */
	bool stopping, thread;
	pthread_t th;
	char *path;
	int64_t session;
	struct du_s3 *s3;
	double start_wall;
	char status[32];
	uint64_t files[DU_METRIC_OUTCOMES];
	uint64_t bytes[DU_METRIC_OUTCOMES];
	uint64_t hist[DU_METRIC_OPS][NB + 1]; /* per bucket, not cumulative; [NB] is +Inf */
	uint64_t sum_us[DU_METRIC_OPS];
	uint64_t count[DU_METRIC_OPS];
} M = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static uint64_t ld(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static bool on(void)
{
	return __atomic_load_n(&M.on, __ATOMIC_ACQUIRE) != 0;
}

double du_metrics_now(void)
{
	return du_monotonic();
}

static double wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void du_metrics_file(int outcome, uint64_t bytes)
{
	if (!on() || outcome < 0 || outcome >= DU_METRIC_OUTCOMES)
		return;
	__atomic_add_fetch(&M.files[outcome], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&M.bytes[outcome], bytes, __ATOMIC_RELAXED);
}

void du_metrics_request(int op, double seconds)
{
	if (!on() || op < 0 || op >= DU_METRIC_OPS)
		return;
	if (!(seconds >= 0))
		seconds = 0;
	size_t b = 0;
	while (b < NB && seconds > bounds[b])
		b++;
	__atomic_add_fetch(&M.hist[op][b], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&M.sum_us[op], (uint64_t)(seconds * 1e6), __ATOMIC_RELAXED);
	__atomic_add_fetch(&M.count[op], 1, __ATOMIC_RELAXED);
}

/* ---- rendering ---- */

static void counter(FILE *f, const char *name, const char *help, const char *session, uint64_t v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s counter\n%s{session=\"%s\"} %" PRIu64 "\n", name, help, name, name,
		session, v);
}

static void gauge(FILE *f, const char *name, const char *help, const char *session, double v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n%s{session=\"%s\"} %.17g\n", name, help, name, name, session, v);
}

char *du_metrics_render(void)
{
	char *buf = NULL, session[24];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	snprintf(session, sizeof(session), "%" PRId64, M.session);

	fprintf(f, "# HELP du_files_total Files finished by this run, by outcome (released: handed back on stop).\n"
		   "# TYPE du_files_total counter\n");
	for (int i = 0; i < DU_METRIC_OUTCOMES; i++)
		fprintf(f, "du_files_total{session=\"%s\",outcome=\"%s\"} %" PRIu64 "\n", session, outcome_names[i],
			ld(&M.files[i]));
	fprintf(f, "# HELP du_bytes_total Bytes of the files finished by this run, by outcome.\n"
		   "# TYPE du_bytes_total counter\n");
	for (int i = 0; i < DU_METRIC_RELEASED; i++)
		fprintf(f, "du_bytes_total{session=\"%s\",outcome=\"%s\"} %" PRIu64 "\n", session, outcome_names[i],
			ld(&M.bytes[i]));

	fprintf(f, "# HELP du_request_duration_seconds Duration of S3 uploads (whole PUT, one part, completion), retries included.\n"
		   "# TYPE du_request_duration_seconds histogram\n");
	for (int op = 0; op < DU_METRIC_OPS; op++) {
		uint64_t cum = 0;
		for (size_t b = 0; b <= NB; b++) {
			cum += ld(&M.hist[op][b]);
			if (b < NB)
				fprintf(f, "du_request_duration_seconds_bucket{session=\"%s\",op=\"%s\",le=\"%g\"} %" PRIu64 "\n",
					session, op_names[op], bounds[b], cum);
			else
				fprintf(f, "du_request_duration_seconds_bucket{session=\"%s\",op=\"%s\",le=\"+Inf\"} %" PRIu64 "\n",
					session, op_names[op], cum);
		}
		fprintf(f, "du_request_duration_seconds_sum{session=\"%s\",op=\"%s\"} %.6f\n", session, op_names[op],
			ld(&M.sum_us[op]) / 1e6);
		/* _count equals the +Inf bucket, so a scrape never sees them disagree. */
		fprintf(f, "du_request_duration_seconds_count{session=\"%s\",op=\"%s\"} %" PRIu64 "\n", session,
			op_names[op], cum);
	}

	struct du_s3_stats st = { 0 };
	if (M.s3)
		du_s3_stats(M.s3, &st);
	counter(f, "du_s3_requests_total", "S3 requests (each counted once, however often retried).", session, st.requests);
	counter(f, "du_s3_attempts_total", "HTTP attempts sent to S3.", session, st.attempts);
	counter(f, "du_s3_retries_total", "S3 attempts beyond the first of their request.", session, st.retries);
	counter(f, "du_s3_throttles_total", "S3 answers asking to slow down (SlowDown, 503, 429).", session, st.throttles);
	counter(f, "du_s3_failures_total", "S3 requests that failed after all attempts.", session, st.failures);
	counter(f, "du_s3_sent_bytes_total", "Request body bytes sent to S3.", session, st.bytes_sent);
	counter(f, "du_s3_received_bytes_total", "Response body bytes received from S3.", session, st.bytes_received);
	gauge(f, "du_s3_rate_limit", "Current request rate allowed by the throttling governor (0: unlimited).", session,
	      st.rate);

	gauge(f, "du_run_start_time_seconds", "When this run started (Unix time).", session, M.start_wall);
	gauge(f, "du_run_last_write_time_seconds", "When this file was written (Unix time).", session, wall());
	bool running = strcmp(M.status, "running") == 0;
	gauge(f, "du_run_running", "1 while the run is going, 0 once it ended.", session, running ? 1 : 0);
	fprintf(f, "# HELP du_run_info The run's state.\n# TYPE du_run_info gauge\n"
		   "du_run_info{session=\"%s\",status=\"%s\"} 1\n", session, M.status);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Caller holds M.mu. */
static int write_locked(struct du_err *err)
{
	char tmp[4200];
	int rc = DU_OK;
	if (!M.path)
		return DU_OK;
	char *text = du_metrics_render();
	if (!text)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", M.path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = du_err_sys(err, DU_ERR_IO, errno, "cannot write metrics file '%s'", tmp);
		goto out;
	}
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = du_err_sys(err, DU_ERR_IO, errno, "cannot write metrics file '%s'", tmp);
			break;
		}
		off += (size_t)n;
	}
	if (close(fd) < 0 && !rc)
		rc = du_err_sys(err, DU_ERR_IO, errno, "cannot write metrics file '%s'", tmp);
	if (!rc && rename(tmp, M.path) < 0)
		rc = du_err_sys(err, DU_ERR_IO, errno, "cannot rename metrics file to '%s'", M.path);
	if (rc)
		unlink(tmp);
out:
	free(text);
	return rc;
}

int du_metrics_write(struct du_err *err)
{
	pthread_mutex_lock(&M.mu);
	int rc = write_locked(err);
	pthread_mutex_unlock(&M.mu);
	return rc;
}

static void *writer(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&M.mu);
	while (!M.stopping) {
		struct timespec ts = du_wait_deadline(CLOCK_REALTIME, 1000L * DU_METRICS_INTERVAL);
		while (!M.stopping && pthread_cond_timedwait(&M.cv, &M.mu, &ts) != ETIMEDOUT)
			;
		if (M.stopping)
			break;
		/* A failing write (disk full) is retried at the next tick; the run goes on. */
		write_locked(NULL);
	}
	pthread_mutex_unlock(&M.mu);
	return NULL;
}

static void reset_locked(void)
{
	free(M.path);
	M.path = NULL;
	M.s3 = NULL;
	M.session = 0;
	M.stopping = false;
	M.thread = false;
	memset(M.files, 0, sizeof(M.files));
	memset(M.bytes, 0, sizeof(M.bytes));
	memset(M.hist, 0, sizeof(M.hist));
	memset(M.sum_us, 0, sizeof(M.sum_us));
	memset(M.count, 0, sizeof(M.count));
}

int du_metrics_start(const char *path, int64_t session_id, struct du_s3 *s3, struct du_err *err)
{
	int rc;
	if (!path || !*path)
		return DU_OK;
	pthread_mutex_lock(&M.mu);
	if (M.path) {
		pthread_mutex_unlock(&M.mu);
		return du_err_set(err, DU_ERR_USAGE, "metrics already started");
	}
	reset_locked();
	if (!(M.path = strdup(path))) {
		pthread_mutex_unlock(&M.mu);
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	}
	M.session = session_id;
	M.s3 = s3;
	M.start_wall = wall();
	snprintf(M.status, sizeof(M.status), "running");
	if ((rc = write_locked(err))) {
		reset_locked();
		pthread_mutex_unlock(&M.mu);
		return rc;
	}
	__atomic_store_n(&M.on, 1, __ATOMIC_RELEASE);
	M.thread = pthread_create(&M.th, NULL, writer, NULL) == 0;
	pthread_mutex_unlock(&M.mu);
	return DU_OK;
}

void du_metrics_stop(const char *status)
{
	pthread_mutex_lock(&M.mu);
	if (!M.path) {
		pthread_mutex_unlock(&M.mu);
		return;
	}
	M.stopping = true;
	pthread_cond_broadcast(&M.cv);
	bool joined = M.thread;
	pthread_mutex_unlock(&M.mu);
	if (joined)
		pthread_join(M.th, NULL);
	pthread_mutex_lock(&M.mu);
	snprintf(M.status, sizeof(M.status), "%s", status ? status : "stopped");
	write_locked(NULL);
	__atomic_store_n(&M.on, 0, __ATOMIC_RELEASE);
	reset_locked();
	pthread_mutex_unlock(&M.mu);
}

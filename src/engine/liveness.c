/*
 * liveness.c: this process as a worker of a session (its id, its row), whether another worker is
 * alive, the heartbeat that keeps a session alive outside the pipeline, and the reaping of
 * sessions whose workers are all gone. See liveness.h.
 */
#include "engine/liveness.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/db_files.h"
#include "du/log.h"
#include "du/wait.h"

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

int du_lease_seconds(void)
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
	return 2 * du_lease_seconds();
}

/* ---- the heartbeat outside the pipeline ---- */

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
	int lease = du_lease_seconds();
	pthread_mutex_lock(&hb->mu);
	while (!hb->stop) {
		struct timespec ts = du_wait_deadline(CLOCK_REALTIME, 1000L * (lease / 3 > 0 ? lease / 3 : 1));
		pthread_cond_timedwait(&hb->cv, &hb->mu, &ts);
		if (hb->stop)
			break;
		pthread_mutex_unlock(&hb->mu);
		struct du_err e = { 0 };
		if (du_db_file_renew(hb->db, hb->session_id, du_worker_id(), lease, &e))
			du_debug("heartbeat: %s", e.msg); /* the next one may work; the run's own errors tell */
		pthread_mutex_lock(&hb->mu);
	}
	pthread_mutex_unlock(&hb->mu);
	return NULL;
}

int du_heartbeat_start(const struct du_db_opts *dbo, int64_t session_id, struct du_heartbeat **out,
		       struct du_err *err)
{
	struct du_heartbeat *hb = calloc(1, sizeof(*hb));
	*out = NULL;
	if (!hb)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	hb->session_id = session_id;
	int rc = du_db_connect(&hb->db, dbo, err);
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
	if (du_db_session_interrupt(db, id, why, &done, &e))
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
	if (du_db_session_dead(db, &me, du_dead_after_seconds(), du_proc_alive, mark_dead, db, &e))
		du_warn("%s", e.msg);
}

#include "du/progress.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "du/config.h"
#include "du/log.h"

struct du_progress {
	int mode;
	uint64_t total, total_bytes, skipped;
	uint64_t ok, failed, bytes;      /* atomics */
	uint64_t checks;                 /* files to hash against S3 before sending */
	uint64_t checks_done, checked;   /* hashed, and of those found unchanged (atomics) */
	uint64_t scan_files, scan_bytes;
	double t0;
	bool running, shown;
	pthread_t thr;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char line[256];
};

void du_fmt_bytes(uint64_t n, char *buf, size_t sz)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, sz, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, sz, "%.1f %s", v, unit[u]);
}

void du_fmt_eta(double s, char *buf, size_t sz)
{
	if (!(s >= 0) || isinf(s) || s > 1e9) {
		snprintf(buf, sz, "--:--");
		return;
	}
	unsigned long long t = (unsigned long long)(s + 0.5);
	unsigned long long d = t / 86400, h = t / 3600 % 24, m = t / 60 % 60, sec = t % 60;
	if (d)
		snprintf(buf, sz, "%llud %02llu:%02llu:%02llu", d, h, m, sec);
	else if (h)
		snprintf(buf, sz, "%02llu:%02llu:%02llu", h, m, sec);
	else
		snprintf(buf, sz, "%02llu:%02llu", m, sec);
}

void du_progress_line(uint64_t done, uint64_t total, uint64_t skipped, uint64_t bytes_done,
		      uint64_t bytes_total, uint64_t ok, uint64_t failed, double elapsed, char *buf, size_t sz)
{
	char b1[32], b2[32], rate[32], eta[32];
	double pct = bytes_total ? 100.0 * bytes_done / bytes_total : (total ? 100.0 * done / total : 100.0);
	double fps = elapsed > 0 ? done / elapsed : 0;
	double bps = elapsed > 0 ? bytes_done / elapsed : 0;
	double left = bytes_total > bytes_done && bps > 0 ? (bytes_total - bytes_done) / bps
		      : (total > done && fps > 0 ? (total - done) / fps : (done >= total ? 0 : -1));
	du_fmt_bytes(bytes_done, b1, sizeof(b1));
	du_fmt_bytes(bytes_total, b2, sizeof(b2));
	du_fmt_bytes((uint64_t)bps, rate, sizeof(rate));
	du_fmt_eta(left, eta, sizeof(eta));
	snprintf(buf, sz, "%5.1f%% %llu/%llu files, %llu skipped, %s/%s, %llu ok, %llu failed, %.1f files/s %s/s, ETA %s",
		 pct > 100 ? 100 : pct, (unsigned long long)done, (unsigned long long)total,
		 (unsigned long long)skipped, b1, b2, (unsigned long long)ok, (unsigned long long)failed, fps,
		 rate, eta);
}

static void render(struct du_progress *p, char *buf, size_t sz)
{
	uint64_t ok = __atomic_load_n(&p->ok, __ATOMIC_RELAXED);
	uint64_t failed = __atomic_load_n(&p->failed, __ATOMIC_RELAXED);
	uint64_t bytes = __atomic_load_n(&p->bytes, __ATOMIC_RELAXED);
	uint64_t checked = __atomic_load_n(&p->checked, __ATOMIC_RELAXED);
	uint64_t checks_done = __atomic_load_n(&p->checks_done, __ATOMIC_RELAXED);
	size_t n = 0;
	if (p->checks)
		n = (size_t)snprintf(buf, sz, "checked %llu of %llu (%llu unchanged), ", (unsigned long long)checks_done,
				     (unsigned long long)p->checks, (unsigned long long)checked);
	if (n >= sz)
		n = 0;
	du_progress_line(ok + failed + checked, p->total, p->skipped + checked, bytes, p->total_bytes, ok, failed,
			 du_monotonic() - p->t0, buf + n, sz - n);
}

/* Log hooks: a message first clears our line, then we draw it again below the message. */
static void tty_clear(void *arg)
{
	struct du_progress *p = arg;
	if (p->shown)
		fputs("\r\033[K", stderr);
}

static void tty_redraw(void *arg)
{
	struct du_progress *p = arg;
	if (p->shown)
		fprintf(stderr, "%s", p->line);
}

static void draw(struct du_progress *p, bool final)
{
	char buf[sizeof(p->line)];
	render(p, buf, sizeof(buf));
	if (p->mode == DU_PROGRESS_TTY) {
		char out[sizeof(buf) + 16];
		snprintf(p->line, sizeof(p->line), "%s", buf);
		p->shown = true;
		snprintf(out, sizeof(out), "\r%s\033[K%s", buf, final ? "\n" : "");
		du_log_raw(stderr, out);
		if (final)
			p->shown = false;
	} else if (p->mode == DU_PROGRESS_PLAIN) {
		char out[sizeof(buf) + 2];
		snprintf(out, sizeof(out), "%s\n", buf);
		du_log_raw(stderr, out);
	} else if (p->mode == DU_PROGRESS_JSON) {
		char out[512];
		snprintf(out, sizeof(out),
			 "{\"event\":\"progress\",\"files_total\":%llu,\"files_done\":%llu,\"files_ok\":%llu,"
			 "\"files_failed\":%llu,\"files_skipped\":%llu,\"bytes_total\":%llu,\"bytes_done\":%llu,"
			 "\"files_to_check\":%llu,\"files_checked_unchanged\":%llu,\"elapsed\":%.3f}\n",
			 (unsigned long long)p->total, (unsigned long long)(p->ok + p->failed + p->checked),
			 (unsigned long long)p->ok, (unsigned long long)p->failed,
			 (unsigned long long)(p->skipped + p->checked), (unsigned long long)p->total_bytes,
			 (unsigned long long)p->bytes, (unsigned long long)p->checks, (unsigned long long)p->checked,
			 du_monotonic() - p->t0);
		du_log_raw(stdout, out);
	}
}

static void *loop(void *arg)
{
	struct du_progress *p = arg;
	double period = p->mode == DU_PROGRESS_TTY ? 0.2 : 10.0;
	pthread_mutex_lock(&p->mu);
	while (p->running) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		double t = ts.tv_sec + ts.tv_nsec / 1e9 + period;
		ts.tv_sec = (time_t)t;
		ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
		pthread_cond_timedwait(&p->cv, &p->mu, &ts);
		if (p->running)
			draw(p, false);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct du_progress *du_progress_new(int mode, bool quiet)
{
	struct du_progress *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	if (mode == DU_PROGRESS_AUTO)
		mode = quiet ? DU_PROGRESS_NONE : isatty(STDERR_FILENO) ? DU_PROGRESS_TTY : DU_PROGRESS_PLAIN;
	p->mode = mode;
	p->t0 = du_monotonic();
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	return p;
}

bool du_progress_is_json(const struct du_progress *p)
{
	return p && p->mode == DU_PROGRESS_JSON;
}

void du_progress_scan(struct du_progress *p, uint64_t files, uint64_t bytes)
{
	char b[32], out[160];
	if (!p)
		return;
	p->scan_files = files;
	p->scan_bytes = bytes;
	du_fmt_bytes(bytes, b, sizeof(b));
	if (p->mode == DU_PROGRESS_JSON) {
		snprintf(out, sizeof(out), "{\"event\":\"scan\",\"files\":%llu,\"bytes\":%llu}\n",
			 (unsigned long long)files, (unsigned long long)bytes);
		du_log_raw(stdout, out);
	} else if (p->mode != DU_PROGRESS_NONE) {
		du_info("scanned %llu files (%s)", (unsigned long long)files, b);
	}
}

void du_progress_begin(struct du_progress *p, uint64_t files, uint64_t bytes, uint64_t skipped)
{
	if (!p)
		return;
	p->total = files;
	p->total_bytes = bytes;
	p->skipped = skipped;
	p->t0 = du_monotonic();
	if (p->mode == DU_PROGRESS_NONE)
		return;
	if (p->mode == DU_PROGRESS_TTY)
		du_log_set_tty_hooks(tty_clear, tty_redraw, p);
	p->running = true;
	if (pthread_create(&p->thr, NULL, loop, p))
		p->running = false;
}

void du_progress_checks(struct du_progress *p, uint64_t files)
{
	if (p)
		p->checks = files;
}

void du_progress_checked(struct du_progress *p, bool same, uint64_t bytes)
{
	if (!p)
		return;
	__atomic_add_fetch(&p->checks_done, 1, __ATOMIC_RELAXED);
	if (!same)
		return;
	__atomic_add_fetch(&p->checked, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&p->bytes, bytes, __ATOMIC_RELAXED);
}

void du_progress_done(struct du_progress *p, uint64_t ok, uint64_t failed, uint64_t bytes)
{
	if (!p)
		return;
	__atomic_add_fetch(&p->ok, ok, __ATOMIC_RELAXED);
	__atomic_add_fetch(&p->failed, failed, __ATOMIC_RELAXED);
	__atomic_add_fetch(&p->bytes, bytes, __ATOMIC_RELAXED);
}

static void json_str(char *out, size_t sz, const char *s)
{
	size_t o = 0;
	for (; *s && o + 8 < sz; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			o += snprintf(out + o, sz - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

void du_progress_failed(struct du_progress *p, const char *key, const char *error)
{
	if (!p)
		return;
	if (p->mode == DU_PROGRESS_JSON) {
		char k[2200], e[600], out[3000];
		json_str(k, sizeof(k), key);
		json_str(e, sizeof(e), error);
		snprintf(out, sizeof(out), "{\"event\":\"failed\",\"key\":\"%s\",\"error\":\"%s\"}\n", k, e);
		du_log_raw(stdout, out);
	} else {
		du_warn("'%s': %s", key, error);
	}
}

void du_progress_end(struct du_progress *p)
{
	if (!p)
		return;
	if (p->running) {
		pthread_mutex_lock(&p->mu);
		p->running = false;
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->thr, NULL);
		draw(p, true);
	}
	if (p->mode == DU_PROGRESS_TTY)
		du_log_set_tty_hooks(NULL, NULL, NULL);
}

void du_progress_json(struct du_progress *p, const char *json)
{
	if (!du_progress_is_json(p))
		return;
	char *line = malloc(strlen(json) + 2);
	if (!line)
		return;
	sprintf(line, "%s\n", json);
	du_log_raw(stdout, line);
	free(line);
}

void du_progress_free(struct du_progress *p)
{
	if (!p)
		return;
	du_progress_end(p);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}

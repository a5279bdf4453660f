#include "du/progress.h"

#include "du/bwlimit.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "du/log.h"
#include "du/wait.h"

struct du_progress {
	int mode;
	uint64_t total, total_bytes, skipped;
	uint64_t ok, failed, bytes;      /* atomics: files uploaded and failed, bytes uploaded */
	uint64_t bytes_other;            /* atomic: bytes of failed and unchanged files, done too */
	uint64_t checks;                 /* files to hash against S3 before sending */
	uint64_t checks_done, checked;   /* hashed, and of those found unchanged (atomics) */
	uint64_t scan_files, scan_bytes;
	double t0;
	bool running, shown;
	bool color;                      /* indicators and ANSI colour in per-file lines */
	pthread_t thr;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char line[512];
	struct du_bwlimit *bw;           /* borrowed: shown as "capped at" while in force */
};

void du_progress_set_bwlimit(struct du_progress *p, struct du_bwlimit *bw)
{
	if (p)
		p->bw = bw;
}

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

double du_progress_eta(const struct du_progress_figures *f)
{
	if (f->files_done >= f->files_total && f->bytes_done >= f->bytes_total)
		return 0;
	if (f->elapsed <= 0 || (f->files_done == 0 && f->bytes_done == 0))
		return -1;
	/* What is left costs the longer of its two estimates: many small files are bound by the file
	 * rate, a few big ones by the byte rate. */
	double fps = f->files_done / f->elapsed, bps = f->bytes_done / f->elapsed, eta = 0;
	if (f->files_total > f->files_done)
		eta = fps > 0 ? (f->files_total - f->files_done) / fps : -1;
	if (eta >= 0 && f->bytes_total > f->bytes_done) {
		double b = bps > 0 ? (f->bytes_total - f->bytes_done) / bps : -1;
		eta = b < 0 ? -1 : b > eta ? b : eta;
	}
	return eta;
}

double du_progress_percent(const struct du_progress_figures *f)
{
	double pf = f->files_total ? (double)f->files_done / f->files_total : 1;
	double pb = f->bytes_total ? (double)f->bytes_done / f->bytes_total : pf;
	double pct = 100.0 * (pf < pb ? pf : pb); /* the slower of the two: never 100 % with work left */
	return pct > 100 ? 100 : pct;
}

void du_progress_line(const struct du_progress_figures *f, int width, char *buf, size_t sz)
{
	char b1[32], b2[32], rate[32], eta[32], text[360];
	double fps = f->elapsed > 0 ? f->files_done / f->elapsed : 0;
	double bps = f->elapsed > 0 ? f->bytes_sent / f->elapsed : 0;
	double pct = du_progress_percent(f);
	du_fmt_bytes(f->bytes_sent, b1, sizeof(b1));
	du_fmt_bytes(f->bytes_total, b2, sizeof(b2));
	du_fmt_bytes((uint64_t)bps, rate, sizeof(rate));
	char capped[48] = "";
	if (f->cap) {
		char cap[32];
		du_fmt_bytes(f->cap, cap, sizeof(cap));
		snprintf(capped, sizeof(capped), " (capped at %s/s)", cap);
	}
	du_fmt_eta(du_progress_eta(f), eta, sizeof(eta));
	int n = snprintf(text, sizeof(text),
			 "%5.1f%% %llu/%llu files, %llu skipped, %s%s%s, %llu ok, %llu failed, %.1f files/s %s/s%s, ETA %s",
			 pct, (unsigned long long)f->files_done, (unsigned long long)f->files_total,
			 (unsigned long long)f->skipped, b1, f->bytes_total ? "/" : "", f->bytes_total ? b2 : "",
			 (unsigned long long)f->files_ok, (unsigned long long)f->files_failed, fps, rate, capped, eta);
	if (width > 0 && n + 14 > width)
		/* A narrow terminal: the figures that matter most, so the ETA stays on screen. */
		n = snprintf(text, sizeof(text), "%5.1f%% %llu/%llu files, %s%s%s, %llu failed, %s/s%s, ETA %s", pct,
			     (unsigned long long)f->files_done, (unsigned long long)f->files_total, b1,
			     f->bytes_total ? "/" : "", f->bytes_total ? b2 : "", (unsigned long long)f->files_failed,
			     rate, f->cap ? " capped" : "", eta);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(text))
		n = (int)sizeof(text) - 1;
	/* A bar in what the terminal has left, between 10 and 30 cells; none on a narrow one. */
	int cells = width > 0 ? width - n - 4 : 0;
	if (cells > 30)
		cells = 30;
	if (cells >= 10) {
		char bar[40];
		int full = (int)(pct / 100.0 * cells + 0.5);
		for (int k = 0; k < cells; k++)
			bar[k] = k < full ? '#' : '.';
		bar[cells] = '\0';
		snprintf(buf, sz, "[%s] %s", bar, text);
	} else {
		snprintf(buf, sz, "%s", text);
	}
	/* Never wider than the terminal: a wrapped line cannot be redrawn in place. */
	if (width > 1 && strlen(buf) >= (size_t)width)
		buf[width - 1] = '\0';
}

size_t du_progress_tty_frame(const char *line, bool final, char *out, size_t sz)
{
	int n = snprintf(out, sz, "\r%s\033[K%s", line, final ? "\n" : "");
	return n < 0 ? 0 : (size_t)n;
}

static int term_width(void)
{
	struct winsize ws;
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	const char *c = getenv("COLUMNS");
	int w = c ? atoi(c) : 0;
	return w > 0 ? w : 80;
}

static void figures(struct du_progress *p, struct du_progress_figures *f)
{
	uint64_t checked = __atomic_load_n(&p->checked, __ATOMIC_RELAXED);
	*f = (struct du_progress_figures){
		.files_total = p->total,
		.files_ok = __atomic_load_n(&p->ok, __ATOMIC_RELAXED),
		.files_failed = __atomic_load_n(&p->failed, __ATOMIC_RELAXED),
		.skipped = p->skipped + checked,
		.bytes_total = p->total_bytes,
		.bytes_sent = __atomic_load_n(&p->bytes, __ATOMIC_RELAXED),
		.elapsed = du_monotonic() - p->t0,
		.cap = du_bwlimit_rate(p->bw),
	};
	f->files_done = f->files_ok + f->files_failed + checked;
	f->bytes_done = f->bytes_sent + __atomic_load_n(&p->bytes_other, __ATOMIC_RELAXED);
}

static void render(struct du_progress *p, char *buf, size_t sz, int width)
{
	struct du_progress_figures f;
	figures(p, &f);
	uint64_t checks_done = __atomic_load_n(&p->checks_done, __ATOMIC_RELAXED);
	size_t n = 0;
	if (p->checks)
		n = (size_t)snprintf(buf, sz, "checked %llu of %llu (%llu unchanged), ", (unsigned long long)checks_done,
				     (unsigned long long)p->checks, (unsigned long long)(f.skipped - p->skipped));
	if (n >= sz)
		n = 0;
	du_progress_line(&f, width > 0 ? width - (int)n : 0, buf + n, sz - n);
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
	if (p->mode == DU_PROGRESS_TTY) {
		char out[sizeof(buf) + 16];
		render(p, buf, sizeof(buf), term_width());
		snprintf(p->line, sizeof(p->line), "%s", buf);
		p->shown = true;
		du_progress_tty_frame(buf, final, out, sizeof(out));
		du_log_raw(stderr, out);
		if (final)
			p->shown = false;
	} else if (p->mode == DU_PROGRESS_PLAIN) {
		char out[sizeof(buf) + 2];
		render(p, buf, sizeof(buf), 0);
		snprintf(out, sizeof(out), "%s\n", buf);
		du_log_raw(stderr, out);
	} else if (p->mode == DU_PROGRESS_JSON) {
		struct du_progress_figures f;
		char out[640];
		figures(p, &f);
		snprintf(out, sizeof(out),
			 "{\"event\":\"progress\",\"files_total\":%llu,\"files_done\":%llu,\"files_ok\":%llu,"
			 "\"files_failed\":%llu,\"files_skipped\":%llu,\"bytes_total\":%llu,\"bytes_done\":%llu,"
			 "\"files_to_check\":%llu,\"files_checked_unchanged\":%llu,\"eta_s\":%.1f,\"elapsed\":%.3f,"
			 "\"bwlimit\":%llu}\n",
			 (unsigned long long)f.files_total, (unsigned long long)f.files_done,
			 (unsigned long long)f.files_ok, (unsigned long long)f.files_failed,
			 (unsigned long long)f.skipped, (unsigned long long)f.bytes_total,
			 (unsigned long long)f.bytes_sent, (unsigned long long)p->checks,
			 (unsigned long long)(f.skipped - p->skipped), du_progress_eta(&f), f.elapsed,
			 (unsigned long long)f.cap);
		du_log_raw(stdout, out);
	}
}

static void *loop(void *arg)
{
	struct du_progress *p = arg;
	double period = p->mode == DU_PROGRESS_TTY ? 0.2 : 10.0;
	pthread_mutex_lock(&p->mu);
	while (p->running) {
		struct timespec ts = du_wait_deadline(CLOCK_REALTIME, (long)(period * 1000));
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
	const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
	p->color = mode == DU_PROGRESS_TTY && !(nc && *nc) && !(term && !strcmp(term, "dumb"));
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
	__atomic_add_fetch(&p->bytes_other, bytes, __ATOMIC_RELAXED);
}

void du_progress_done(struct du_progress *p, uint64_t ok, uint64_t failed, uint64_t bytes)
{
	if (!p)
		return;
	__atomic_add_fetch(&p->ok, ok, __ATOMIC_RELAXED);
	__atomic_add_fetch(&p->failed, failed, __ATOMIC_RELAXED);
	/* A failed file's bytes are done with too (the ETA must not wait for them), not sent. */
	__atomic_add_fetch(ok ? &p->bytes : &p->bytes_other, bytes, __ATOMIC_RELAXED);
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

bool du_progress_colored(const struct du_progress *p)
{
	return p && p->color;
}

bool du_progress_wants_files(const struct du_progress *p)
{
	return p && (p->mode == DU_PROGRESS_JSON || du_log_wants(DU_LOG_DEBUG));
}

bool du_progress_wants_skipped(const struct du_progress *p)
{
	return p && (p->mode == DU_PROGRESS_JSON || du_log_wants(DU_LOG_TRACE));
}

const char *du_progress_reason_label(const char *r)
{
	static const char *const w[][2] = {
		{ "new", "new" }, { "missing_in_s3", "missing in S3" }, { "changed", "changed" },
		{ "bad_key", "invalid key" }, { "already_uploaded", "already uploaded" },
		{ "same_size", "same size (--size-only)" }, { "unchanged_checked", "unchanged (checked)" },
		{ "unverifiable_newer", "unverifiable (by date): newer" },
		{ "unverifiable_not_newer", "unverifiable (by date): not newer" }, { "to_check", "to check" },
	};
	for (size_t i = 0; r && i < sizeof(w) / sizeof(w[0]); i++)
		if (!strcmp(r, w[i][0]))
			return w[i][1];
	return r ? r : "";
}

void du_progress_file(struct du_progress *p, const struct du_file_event *ev)
{
	if (!p)
		return;
	bool failed = !strcmp(ev->outcome, "failed");
	if (p->mode == DU_PROGRESS_JSON) {
		char k[2200], e[600], sus[200], out[3500];
		json_str(k, sizeof(k), ev->key);
		json_str(sus, sizeof(sus), ev->suspect ? ev->suspect : "");
		json_str(e, sizeof(e), ev->error ? ev->error : "");
		snprintf(out, sizeof(out),
			 "{\"event\":\"file\",\"key\":\"%s\",\"size\":%llu,\"outcome\":\"%s\",\"reason\":%s%s%s,"
			 "\"error\":%s%s%s,\"will_retry\":%s,\"checksum\":%s%s%s,\"attempt\":%d,\"duration\":%.3f,"
			 "\"suspect\":%s%s%s}\n",
			 k, (unsigned long long)ev->size, ev->outcome, ev->reason ? "\"" : "",
			 ev->reason ? ev->reason : "null", ev->reason ? "\"" : "", ev->error ? "\"" : "",
			 ev->error ? e : "null", ev->error ? "\"" : "", failed && ev->will_retry ? "true" : "false",
			 ev->checksum ? "\"" : "", ev->checksum ? ev->checksum : "null", ev->checksum ? "\"" : "",
			 ev->attempt, ev->duration, ev->suspect ? "\"" : "", ev->suspect ? sus : "null",
			 ev->suspect ? "\"" : "");
		du_log_raw(stdout, out);
		return;
	}
	/* What happened at -v; what did not (a file skipped, already in S3) only at -vv: an unchanged
	 * card of 300,000 files is not 300,000 lines. */
	/* A suspect recording is told even with -q: a person should see it before wiping a card. */
	int level = failed || ev->suspect ? DU_LOG_ERROR : !strcmp(ev->outcome, "skipped") ? DU_LOG_TRACE : DU_LOG_DEBUG;
	if (!du_log_wants(level))
		return;
	char what[600], plain[3000], tty[3100], b[32], rate[32];
	du_fmt_bytes(ev->size, b, sizeof(b));
	if (failed) {
		snprintf(what, sizeof(what), ": %s; %s", ev->error ? ev->error : "failed",
			 ev->will_retry ? "du-retry will try it again" : "permanent, not retried");
	} else if (!strcmp(ev->outcome, "uploaded")) {
		du_fmt_bytes(ev->duration > 0 ? (uint64_t)(ev->size / ev->duration) : 0, rate, sizeof(rate));
		snprintf(what, sizeof(what), " (%s, %s/s%s%s)", b, rate, ev->reason ? ", " : "",
			 ev->reason ? du_progress_reason_label(ev->reason) : "");
	} else {
		snprintf(what, sizeof(what), " (%s): %s", b, ev->reason ? du_progress_reason_label(ev->reason) : "skipped");
	}
	if (ev->suspect && !failed) {
		char b2[32];
		du_fmt_bytes(ev->size, b2, sizeof(b2));
		snprintf(what, sizeof(what), " (%s): %s; %s", b2, ev->suspect, ev->outcome);
	}
	const char *word = ev->suspect && !failed ? "suspect" : ev->outcome;
	snprintf(plain, sizeof(plain), "%-8s %s%s", word, ev->key, what);
	if (p->color) {
		const char *ind = failed ? "\u274c" : !strcmp(ev->outcome, "uploaded") ? "\u2705" : "\u23ed\ufe0f ";
		const char *col = failed ? "\033[31m" : !strcmp(ev->outcome, "uploaded") ? "\033[32m" : "\033[2m";
		if (ev->suspect && !failed) {
			ind = "\u26a0\ufe0f ";
			col = "\033[33m";
		}
		snprintf(tty, sizeof(tty), "%s %s%-8s\033[0m %s%s", ind, col, word, ev->key, what);
	}
	du_log_line(level, p->color ? tty : NULL, plain);
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

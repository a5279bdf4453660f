/*
 * du-master status [SESSION]: what the database says, from the terminal. Without a session, the
 * recent sessions one per line; with one, its counts by status, bytes, rates, the ETA of a running
 * session and its most frequent errors. --json prints the same as one JSON document.
 *
 * Only reads (views of sql/020_views.sql and file rows by status): an upload of the session may run
 * in another process meanwhile; the numbers are as fresh as its last batch of outcomes.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/db_budget.h"
#include "db/db_files.h"
#include "db/db_sessions.h"
#include "db/db_status.h"
#include "engine/liveness.h"
#include "du/commands.h"
#include "du/db.h"
#include "du/budget.h"
#include "du/config.h"
#include "du/log.h"
#include "du/progress.h"

#define RECENT 20
#define TOP_ERRORS 5


static void dur(double s, char *buf, size_t n)
{
	du_fmt_eta(s, buf, n);
}

/* ---- JSON ---- */

static const char *dead_why(int64_t id);

static cJSON *session_json(const struct du_obs_session *s)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "session_id", (double)s->id);
	cJSON_AddStringToObject(o, "project_name", s->project_name ? s->project_name : "");
	cJSON_AddStringToObject(o, "bucket_name", s->bucket_name ? s->bucket_name : "");
	cJSON_AddStringToObject(o, "s3_prefix", s->s3_prefix ? s->s3_prefix : "");
	cJSON_AddStringToObject(o, "local_directory", s->local_directory ? s->local_directory : "");
	cJSON_AddStringToObject(o, "status", s->status ? s->status : "");
	cJSON_AddBoolToObject(o, "dry_run", s->dry_run);
	if (dead_why(s->id))
		cJSON_AddStringToObject(o, "presumed_dead", dead_why(s->id));
	else
		cJSON_AddNullToObject(o, "presumed_dead");
	if (s->hostname)
		cJSON_AddStringToObject(o, "hostname", s->hostname);
	else
		cJSON_AddNullToObject(o, "hostname");
	cJSON_AddNumberToObject(o, "pid", (double)s->pid);
	cJSON_AddNumberToObject(o, "total_files", (double)s->total_files);
	cJSON_AddNumberToObject(o, "total_size_bytes", (double)s->total_size_bytes);
	cJSON_AddNumberToObject(o, "files_uploaded", (double)s->files_uploaded);
	cJSON_AddNumberToObject(o, "files_failed", (double)s->files_failed);
	cJSON_AddNumberToObject(o, "files_skipped", (double)s->files_skipped);
	cJSON_AddNumberToObject(o, "files_remaining", (double)s->files_remaining);
	cJSON_AddNumberToObject(o, "bytes_uploaded", (double)s->bytes_uploaded);
	cJSON_AddStringToObject(o, "started_at", s->started_at ? s->started_at : "");
	if (s->completed_at)
		cJSON_AddStringToObject(o, "completed_at", s->completed_at);
	else
		cJSON_AddNullToObject(o, "completed_at");
	cJSON_AddNumberToObject(o, "duration_s", s->duration_s);
	cJSON_AddNumberToObject(o, "progress_percent", s->progress_percent);
	if (s->success_percent >= 0)
		cJSON_AddNumberToObject(o, "success_percent", s->success_percent);
	else
		cJSON_AddNullToObject(o, "success_percent");
	cJSON_AddNumberToObject(o, "files_per_s", s->files_per_s >= 0 ? s->files_per_s : 0);
	cJSON_AddNumberToObject(o, "bytes_per_s", s->bytes_per_s >= 0 ? s->bytes_per_s : 0);
	if (s->eta_s >= 0)
		cJSON_AddNumberToObject(o, "eta_s", s->eta_s);
	else
		cJSON_AddNullToObject(o, "eta_s");
	if (s->error_message)
		cJSON_AddStringToObject(o, "error_message", s->error_message);
	return o;
}

static int print_json(cJSON *doc, struct du_err *err)
{
	char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
	cJSON_Delete(doc);
	if (!text)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	puts(text);
	free(text);
	return DU_OK;
}

/* ---- recent sessions ---- */

struct list {
	bool json;
	cJSON *arr;
	int n;
};

/*
 * in_progress sessions none of whose workers is alive (du_db_session_dead), found without
 * writing: shown as presumed dead. The commands that write mark them interrupted.
 */
#define MAX_DEAD 64
static struct {
	int64_t id[MAX_DEAD];
	char why[MAX_DEAD][200];
	int n;
} dead;

static int note_dead(void *arg, int64_t id, const char *why)
{
	(void)arg;
	if (dead.n < MAX_DEAD) {
		dead.id[dead.n] = id;
		snprintf(dead.why[dead.n++], sizeof(dead.why[0]), "%s", why);
	}
	return 0;
}

static void find_dead(struct du_db *db)
{
	bool has = false;
	struct du_worker me;
	if (du_db_status_has_table(db, "session_workers", &has, NULL) || !has)
		return;
	du_worker_self(&me);
	du_db_session_dead(db, &me, du_dead_after_seconds(), du_proc_alive, note_dead, NULL, NULL);
}

static const char *dead_why(int64_t id)
{
	for (int i = 0; i < dead.n; i++)
		if (dead.id[i] == id)
			return dead.why[i];
	return NULL;
}

static int list_row(void *arg, const struct du_obs_session *s)
{
	struct list *l = arg;
	char bytes[32], d[32], where[256], start[20];
	l->n++;
	if (l->json) {
		cJSON *o = session_json(s);
		if (!o)
			return DU_ERR_NOMEM;
		cJSON_AddItemToArray(l->arr, o);
		return DU_OK;
	}
	if (l->n == 1)
		printf("%-7s %-22s %-34s %8s %8s %6s %8s %10s %-16s %9s\n", "SESSION", "STATUS", "BUCKET/PREFIX",
		       "FILES", "UPLOADED", "FAILED", "SKIPPED", "BYTES", "STARTED (UTC)", "DURATION");
	/* The Python tool recorded no bytes uploaded: unknown, not 0 B beside its uploaded files. */
	if (s->python_era)
		snprintf(bytes, sizeof(bytes), "-");
	else
		du_fmt_bytes((uint64_t)s->bytes_uploaded, bytes, sizeof(bytes));
	dur(s->duration_s, d, sizeof(d));
	snprintf(where, sizeof(where), "%s/%s", s->bucket_name ? s->bucket_name : "?", s->s3_prefix ? s->s3_prefix : "");
	/* "2024-05-01T10:20:30.123Z" -> "2024-05-01 10:20" */
	snprintf(start, sizeof(start), "%.16s", s->started_at ? s->started_at : "");
	if (strlen(start) > 10)
		start[10] = ' ';
	printf("%-7" PRId64 " %-22s %-34.34s %8" PRId64 " %8" PRId64 " %6" PRId64 " %8" PRId64 " %10s %-16s %9s\n",
	       s->id, s->dry_run ? "dry run" : dead_why(s->id) ? "in_progress (dead?)" : s->status, where, s->total_files, s->files_uploaded, s->files_failed,
	       s->files_skipped, bytes, start, d);
	return DU_OK;
}

static int recent(struct du_db *db, bool json, struct du_err *err)
{
	struct list l = { .json = json, .arr = json ? cJSON_CreateArray() : NULL };
	if (json && !l.arr)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	int rc = du_db_status_sessions(db, RECENT, list_row, &l, err);
	if (rc == DU_ERR_NOMEM)
		du_err_set(err, DU_ERR_NOMEM, "out of memory");
	if (rc) {
		cJSON_Delete(l.arr);
		return rc;
	}
	if (json)
		return print_json(l.arr, err);
	if (l.n == 0)
		printf("no sessions yet\n");
	return DU_OK;
}

/*
 * What this machine sent to S3 in the current hour, day, week and month (local time), over all its
 * runs, and what the configured budget has left. Nothing where the database has no bytes_sent.
 */
static void spent_lines(struct du_db *db, const struct du_config *cfg)
{
	static const char *const when[] = { "this hour", "today", "this week", "this month" };
	char host[64] = "host", line[400], b[32], b2[32], why[200], tm_s[32];
	time_t now = time(NULL), since[5], renews;
	uint64_t spent[5];
	struct du_budget bu = { 0 };
	size_t n = 0;
	bool known;
	struct du_err e = { 0 };
	if (gethostname(host, sizeof(host) - 1))
		snprintf(host, sizeof(host), "host");
	for (int per = DU_BUDGET_HOUR; per <= DU_BUDGET_MONTH; per++)
		du_budget_period(&(struct du_budget){ .bytes = 1, .per = per }, now, &since[per], &renews);
	/* the configured budget's period, fifth */
	bool budget = cfg->budget && !du_budget_parse(cfg->budget, &bu, why, sizeof(why)) && bu.bytes;
	if (budget)
		du_budget_period(&bu, now, &since[4], &renews);
	if (du_db_budget_spent(db, host, since, budget ? 5 : 4, spent, &known, &e) || !known)
		return;
	for (int per = DU_BUDGET_HOUR; per <= DU_BUDGET_MONTH; per++) {
		du_fmt_bytes(spent[per], b, sizeof(b));
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s %s", n ? ", " : "", b, when[per]);
	}
	printf("sent to S3 from '%s': %s\n", host, line);
	if (!budget)
		return;
	struct tm tm;
	localtime_r(&renews, &tm);
	strftime(tm_s, sizeof(tm_s), "%Y-%m-%d %H:%M", &tm);
	du_fmt_bytes(spent[4], b, sizeof(b));
	du_fmt_bytes(spent[4] < bu.bytes ? bu.bytes - spent[4] : 0, b2, sizeof(b2));
	printf("data budget %s: %s spent, %s left, renews %s\n", cfg->budget, b, b2, tm_s);
}

/* ---- one session ---- */

struct one {
	struct du_obs_session s;
	char *strs[10];
	cJSON *json;
	cJSON *errors;
};

static int copy_session(void *arg, const struct du_obs_session *s)
{
	struct one *o = arg;
	o->s = *s;
	const char *src[10] = { s->project_name, s->bucket_name, s->s3_prefix, s->local_directory, s->status,
				s->hostname, s->started_at, s->completed_at, s->error_message, NULL };
	const char **dst[10] = { &o->s.project_name, &o->s.bucket_name, &o->s.s3_prefix, &o->s.local_directory,
				 &o->s.status, &o->s.hostname, &o->s.started_at, &o->s.completed_at,
				 &o->s.error_message, NULL };
	for (int i = 0; i < 9; i++) {
		o->strs[i] = src[i] ? strdup(src[i]) : NULL;
		if (src[i] && !o->strs[i])
			return DU_ERR_NOMEM;
		*dst[i] = o->strs[i];
	}
	return DU_OK;
}

static int error_row(void *arg, const char *error, uint64_t count)
{
	struct one *o = arg;
	if (o->errors) {
		cJSON *e = cJSON_CreateObject();
		if (!e)
			return DU_ERR_NOMEM;
		cJSON_AddStringToObject(e, "error", error);
		cJSON_AddNumberToObject(e, "files", (double)count);
		cJSON_AddItemToArray(o->errors, e);
		return DU_OK;
	}
	printf("  %8" PRIu64 "  %s\n", count, error);
	return DU_OK;
}

static int one_session(struct du_db *db, int64_t sid, bool json, struct du_err *err)
{
	struct one o = { 0 };
	struct du_obs_counts c;
	int rc;
	char b1[32], b2[32], b3[32], d[32], eta[32];

	if ((rc = du_db_status_session(db, sid, copy_session, &o, err)))
		goto out;
	if ((rc = du_db_status_counts(db, sid, &c, err)))
		goto out;
	char decision[1024];
	if ((rc = du_db_status_decision(db, sid, decision, sizeof(decision), err)))
		goto out;
	const struct du_obs_session *s = &o.s;
	bool running = s->status && !strcmp(s->status, "in_progress");
	double recent_fps = c.files_last_minute / 60.0, recent_bps = c.bytes_last_minute / 60.0;
	/* A running session's ETA from the last minute when it moved, else from the whole run. */
	double eta_s = -1;
	if (running && s->files_remaining >= 0) {
		if (recent_fps > 0)
			eta_s = s->files_remaining / recent_fps;
		else if (s->eta_s >= 0)
			eta_s = s->eta_s;
	}
	if (json) {
		static const char *const names[] = { "pending", "uploading", "uploaded", "failed" };
		o.json = session_json(s);
		cJSON *files = cJSON_CreateObject(), *bytes = cJSON_CreateObject();
		o.errors = cJSON_CreateArray();
		if (!o.json || !files || !bytes || !o.errors) {
			cJSON_Delete(files);
			cJSON_Delete(bytes);
			rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
			goto out;
		}
		for (int k = 0; k < 4; k++) {
			cJSON_AddNumberToObject(files, names[k], (double)c.files[k]);
			cJSON_AddNumberToObject(bytes, names[k], (double)c.bytes[k]);
		}
		cJSON_AddItemToObject(o.json, "files_by_status", files);
		cJSON_AddItemToObject(o.json, "bytes_by_status", bytes);
		cJSON_AddNumberToObject(o.json, "recent_files_per_s", recent_fps);
		cJSON_AddNumberToObject(o.json, "recent_bytes_per_s", recent_bps);
		cJSON_AddNumberToObject(o.json, "verified_ok", (double)c.verified_ok);
		cJSON_AddNumberToObject(o.json, "verified_mismatch", (double)c.verified_bad);
		cJSON_AddNumberToObject(o.json, "suspect", (double)c.suspect);
		cJSON *dj = decision[0] ? cJSON_Parse(decision) : NULL;
		if (dj)
			cJSON_AddItemToObject(o.json, "decision", dj);
		else
			cJSON_AddNullToObject(o.json, "decision");
		cJSON_DeleteItemFromObject(o.json, "eta_s");
		if (eta_s >= 0)
			cJSON_AddNumberToObject(o.json, "eta_s", eta_s);
		else
			cJSON_AddNullToObject(o.json, "eta_s");
		if ((rc = du_db_status_top_errors(db, sid, TOP_ERRORS, error_row, &o, err)))
			goto out;
		cJSON_AddItemToObject(o.json, "top_errors", o.errors);
		o.errors = NULL;
		rc = print_json(o.json, err);
		o.json = NULL;
		goto out;
	}

	printf("session %" PRId64 ": %s -> s3://%s/%s/ (project %s)\n", s->id,
	       s->local_directory ? s->local_directory : "?", s->bucket_name ? s->bucket_name : "?",
	       s->s3_prefix ? s->s3_prefix : "", s->project_name ? s->project_name : "?");
	printf("status      %s%s", s->status ? s->status : "?", s->dry_run ? " (dry run)" : "");
	if (running && dead_why(s->id))
		printf(" (presumed dead: %s; the next du-upload or du-retry marks it interrupted)", dead_why(s->id));
	else if (running && s->hostname)
		printf(" (pid %ld on %s)", s->pid, s->hostname);
	printf("\n");
	dur(s->duration_s, d, sizeof(d));
	printf("started     %s, %s %s\n", s->started_at ? s->started_at : "?", running ? "running for" : "took", d);
	if (s->completed_at)
		printf("completed   %s\n", s->completed_at);
	printf("progress    %.1f %% of %" PRId64 " files: %" PRId64 " uploaded, %" PRId64 " failed, %" PRId64
	       " skipped, %" PRId64 " to go\n",
	       s->progress_percent, s->total_files, s->files_uploaded, s->files_failed, s->files_skipped,
	       s->files_remaining);
	if (decision[0]) {
		char why[512];
		du_reasons_text(decision, why, sizeof(why));
		printf("decided     %s\n", why);
	}
	du_fmt_bytes((uint64_t)s->total_size_bytes, b2, sizeof(b2));
	if (s->python_era) {
		/* Its rows all say 'pending' (the Python tool never wrote a status): only the counters count. */
		printf("files       %" PRId64 " file rows; the Python tool wrote no file statuses, the counters above are its own\n",
		       c.files[DU_OBS_PENDING] + c.files[DU_OBS_UPLOADING] + c.files[DU_OBS_UPLOADED] + c.files[DU_OBS_FAILED]);
		printf("bytes       %s found; bytes uploaded were not recorded\n", b2);
	} else {
		printf("files       pending %" PRId64 ", uploading %" PRId64 ", uploaded %" PRId64 ", failed %" PRId64 "\n",
		       c.files[DU_OBS_PENDING], c.files[DU_OBS_UPLOADING], c.files[DU_OBS_UPLOADED], c.files[DU_OBS_FAILED]);
		du_fmt_bytes((uint64_t)s->bytes_uploaded, b1, sizeof(b1));
		du_fmt_bytes((uint64_t)(s->files_remaining > 0 ? c.bytes[DU_OBS_PENDING] + c.bytes[DU_OBS_UPLOADING] : 0),
			     b3, sizeof(b3));
		printf("bytes       %s uploaded of %s found, %s to go\n", b1, b2, b3);
	}
	du_fmt_bytes((uint64_t)(s->bytes_per_s > 0 ? s->bytes_per_s : 0), b1, sizeof(b1));
	printf("rate        %.1f files/s, %s/s over the session", s->files_per_s > 0 ? s->files_per_s : 0, b1);
	if (running) {
		du_fmt_bytes((uint64_t)recent_bps, b2, sizeof(b2));
		printf("; last minute %.1f files/s, %s/s", recent_fps, b2);
	}
	printf("\n");
	if (running) {
		du_fmt_eta(eta_s, eta, sizeof(eta));
		printf("eta         %s\n", eta);
	}
	if (c.verified_ok || c.verified_bad)
		printf("verified    %" PRId64 " ok, %" PRId64 " mismatch\n", c.verified_ok, c.verified_bad);
	if (c.suspect)
		printf("suspect     %" PRId64 " recording%s (0 bytes, a WAV header of zeros or of another size, a JPEG"
		       " without a start): see file_uploads.suspect\n", c.suspect, c.suspect == 1 ? "" : "s");
	if (s->error_message)
		printf("error       %s\n", s->error_message);
	if (c.files[DU_OBS_FAILED]) {
		printf("top errors\n");
		rc = du_db_status_top_errors(db, sid, TOP_ERRORS, error_row, &o, err);
	}
out:
	if (rc == DU_ERR_NOMEM && !err->code)
		du_err_set(err, DU_ERR_NOMEM, "out of memory");
	cJSON_Delete(o.json);
	cJSON_Delete(o.errors);
	for (int i = 0; i < 10; i++)
		free(o.strs[i]);
	return rc;
}

int du_cmd_status(const struct du_config *cfg, int nargs, char **args, struct du_err *err)
{
	struct du_db *db = NULL;
	int64_t sid = 0;
	int rc;

	if (nargs > 1) {
		du_err_set(err, DU_ERR_USAGE, "status takes at most one session id, not '%s'", args[1]);
		du_err_hint(err, "usage: du-master status [SESSION] [--json]");
		return DU_ERR_USAGE;
	}
	if (nargs == 1 && (rc = du_parse_session_id(args[0], &sid, err)))
		return rc;
	/* Read-only when the views exist (a monitoring role needs no DDL rights); a database of an
	 * older du gets them by the usual idempotent migration. */
	bool views = false;
	if ((rc = du_db_open(&db, cfg, err)) || (rc = du_db_status_has_views(db, &views, err)))
		goto out;
	find_dead(db);
	rc = sid ? one_session(db, sid, cfg->json, err) : recent(db, cfg->json, err);
	if (!rc && !sid && !cfg->json)
		spent_lines(db, cfg);
out:
	du_db_close(db);
	return rc;
}

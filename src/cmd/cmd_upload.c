/*
 * du_cmd_upload: configuration is already valid. Then, in this order: database (migrations,
 * project, session), S3 access check, scan + listing into PostgreSQL, one set-based decision,
 * the upload pool, true counters and a final status, the summary.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/cmd_session.h"
#include "db/db_files.h"
#include "db/db_multipart.h"
#include "db/db_sessions.h"
#include "db/db_status.h"
#include "du/bwlimit.h"
#include "du/commands.h"
#include "du/signals.h"
#include "du/wait.h"
#include "du/crypto.h"
#include "du/db.h"
#include "du/log.h"
#include "du/metrics.h"
#include "du/progress.h"
#include "du/s3.h"
#include "du/scan.h"
#include "engine/liveness.h"
#include "engine/pipeline.h"

/* ---- registration: listing and scan stream into COPY ---------------------------------------- */

struct reg {
	const struct du_config *cfg;
	struct du_db_copy *cp;
	struct du_progress *prog;
	struct du_err *err;
	char key[1100];
	/* Direct registration (nothing to decide against): rows go straight into file_uploads. */
	bool direct;
	char sid[24];
	struct du_decision d;
	uint64_t listed;            /* objects S3 listed under the prefix */
};

static int list_row(void *arg, const struct du_s3_object *o)
{
	struct reg *g = arg;
	char size[24], mt[24];
	snprintf(size, sizeof(size), "%" PRIu64, o->size);
	snprintf(mt, sizeof(mt), "%" PRId64, o->mtime);
	const char *v[] = { o->key, o->has_size ? size : NULL, o->etag && o->etag[0] ? o->etag : NULL, mt };
	g->listed++;
	return du_db_copy_row(g->cp, 4, v, g->err);
}

/*
 * Copy s into out (outsz > 0) as valid UTF-8: each byte that does not start a valid sequence
 * becomes the text "\xHH". PostgreSQL refuses anything else in a text column, and one such file
 * name must fail its own row, not the whole COPY (and with it the run). Distinct names stay
 * distinct unless one literally contains "\xHH". False when out was too small.
 */
static bool utf8_escape(const char *s, char *out, size_t outsz)
{
	size_t o = 0;
	while (*s && o + 5 < outsz) {
		unsigned char c = (unsigned char)*s;
		size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
		if (strnlen(s, n) == n && du_scan_utf8_valid(s, n)) {
			memcpy(out + o, s, n);
			o += n;
			s += n;
		} else {
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02X", c);
			s++;
		}
	}
	out[o] = '\0';
	return *s == '\0';
}

static int scan_row(void *arg, const struct du_scan_entry *e)
{
	struct reg *g = arg;
	struct du_err kerr = { 0 };
	char size[24], mt[24], ino[24];
	const char *bad = NULL, *path = e->path;
	char *safe_path = NULL;

	if (du_scan_key(g->cfg->s3_prefix, e->rel, g->key, sizeof(g->key), &kerr)) {
		/* The row still needs a unique key; the relative path stands in and the reason is kept. */
		bad = kerr.msg;
		char rel[1000];
		if (!utf8_escape(e->rel, rel, sizeof(rel))) {
			/* Too long to keep whole: a cut, made distinct by the md5 of the whole path. */
			unsigned char md5[DU_MD5_LEN];
			char hex[DU_MD5_HEX_LEN];
			size_t cut = 900;
			while (cut && ((unsigned char)rel[cut] & 0xC0) == 0x80)
				cut--;
			du_md5(e->rel, strlen(e->rel), md5);
			du_hex(md5, DU_MD5_LEN, hex);
			snprintf(rel + cut, sizeof(rel) - cut, "~%s", hex);
		}
		snprintf(g->key, sizeof(g->key), "%s/%s", g->cfg->s3_prefix, rel);
	}
	if (!du_scan_utf8_valid(e->path, strlen(e->path))) {
		/* A non-UTF-8 local_directory: the stored path cannot name the file, so it fails. */
		size_t n = 4 * strlen(e->path) + 1;
		if (!(safe_path = malloc(n)))
			return du_err_set(g->err, DU_ERR_NOMEM, "out of memory");
		utf8_escape(e->path, safe_path, n);
		path = safe_path;
		bad = bad ? bad : "local path is not valid UTF-8";
	}
	snprintf(size, sizeof(size), "%" PRIu64, e->size);
	snprintf(mt, sizeof(mt), "%" PRId64, e->mtime_ns);
	snprintf(ino, sizeof(ino), "%" PRIu64, e->ino);
	int rc;
	if (g->direct) {
		const char *v[] = { g->sid, path, g->key, size, mt, ino, du_file_type(e->rel),
				    bad ? "failed" : "pending", bad, bad ? "bad_key" : "new" };
		rc = du_db_copy_row(g->cp, 10, v, g->err);
		g->d.found++;
		g->d.bytes_found += e->size;
		g->d.bad_keys += bad != NULL;
	} else {
		const char *v[] = { path, g->key, size, mt, ino, du_file_type(e->rel), bad };
		rc = du_db_copy_row(g->cp, 7, v, g->err);
	}
	free(safe_path);
	return rc;
}

static void scan_progress(void *arg, uint64_t files, uint64_t bytes)
{
	du_progress_scan(arg, files, bytes);
}

static int scan_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 2 ? (int)n - 1 : 1;
}

static enum du_decide_mode decide_mode(const struct du_config *cfg)
{
	return cfg->checksum ? DU_DECIDE_CHECKSUM : cfg->size_only ? DU_DECIDE_SIZE_ONLY
		: cfg->trust_db ? DU_DECIDE_TRUST_DB : DU_DECIDE_NORMAL;
}

/* A file the decision skipped, for the per-file lines (-v, --progress=json). */
static int skipped_line(void *arg, const char *key, uint64_t size, const char *action, const char *reason)
{
	if (!strcmp(action, "skip"))
		du_progress_file(arg, &(struct du_file_event){ .key = key, .size = size, .outcome = "skipped",
							      .reason = reason, .attempt = 1 });
	return 0;
}

static int register_files(const struct du_config *cfg, struct du_db *db, struct du_s3 *s3,
			  struct du_progress *prog, int64_t session_id, int64_t project_id, bool has_schema,
			  struct du_decision *d, uint64_t *warnings, struct du_err *err)
{
	struct reg g = { .cfg = cfg, .prog = prog, .err = err };
	struct du_s3_conn *conn = NULL;
	char prefix[1100];
	int rc;

	if ((rc = du_db_file_stage_begin(db, err)))
		return rc;
	/* List under "prefix/", never "prefix": C1 must not match C10/... */
	snprintf(prefix, sizeof(prefix), "%s/", cfg->s3_prefix);
	if ((rc = du_s3_conn_new(s3, &conn, err)))
		return rc;
	/* --trust-db: the rows are the listing's cache; nothing is listed (the summary says so). */
	if (!cfg->trust_db) {
		if ((rc = du_db_file_stage_copy(db, false, &g.cp, err)))
			goto out;
		rc = du_s3_list(conn, prefix, list_row, &g, err);
		if (rc) {
			du_db_copy_abort(g.cp);
			goto out;
		}
		if ((rc = du_db_copy_end(g.cp, err)))
			goto out;
	}

	struct du_scan_opts so = {
		.root = cfg->local_directory,
		.use_find = cfg->use_find,
		.extensions = cfg->extensions,
		.exclude = cfg->exclude,
		.follow_symlinks = cfg->follow_symlinks,
		.progress = scan_progress,
		.progress_arg = prog,
		.stop = du_stop_flag(),
		/*
		 * A core is left to PostgreSQL, which stores the rows as they come (~100,000 rows/s
		 * here): one walker thread already lists ~300,000 cached files/s, and on two cores a
		 * second one only takes CPU from the database's COPY.
		 */
		.threads = scan_threads(),
	};
	struct du_scan_stats st = { 0 };
	/*
	 * The first run into a prefix (nothing listed, no earlier row under it) has nothing to decide:
	 * every file is to upload, and its row goes straight into file_uploads while the scan runs.
	 */
	if (session_id && g.listed == 0 && has_schema) {
		bool known = true;
		if ((rc = du_db_file_prefix_known(db, project_id, session_id, prefix, &known, err)))
			goto out;
		g.direct = !known;
	}
	snprintf(g.sid, sizeof(g.sid), "%" PRId64, session_id);
	if ((rc = g.direct ? du_db_file_direct_copy(db, &g.cp, err) : du_db_file_stage_copy(db, true, &g.cp, err)))
		goto out;
	rc = du_scan(&so, scan_row, &g, &st, err);
	*warnings = st.warnings;
	/* Interrupted: direct rows are dropped with their COPY, never left half-registered. */
	if (rc || (g.direct && du_stop_level() > 0)) {
		du_db_copy_abort(g.cp);
		if (!rc)
			rc = du_err_set(err, DU_ERR_INTERRUPTED, "interrupted while scanning");
		goto out;
	}
	if ((rc = du_db_copy_end(g.cp, err)))
		goto out;
	if (du_stop_level() > 0) {
		rc = du_err_set(err, DU_ERR_INTERRUPTED, "interrupted while scanning");
		goto out;
	}
	if (g.direct) {
		g.d.to_upload = g.d.found;
		g.d.bytes_to_upload = g.d.bytes_found;
		snprintf(g.d.reasons, sizeof(g.d.reasons), "{\"new\": %" PRIu64 ", \"bad_key\": %" PRIu64 "}",
			 g.d.found - g.d.bad_keys, g.d.bad_keys);
		*d = g.d;
		rc = du_db_session_scanned(db, session_id, d, err);
	} else {
		char ep[512];
		struct du_decide_opts o = { .session_id = session_id, .project_id = project_id,
					    .has_schema = has_schema, .endpoint = ep, .mode = decide_mode(cfg),
					    .keep = session_id && du_progress_wants_skipped(prog) };
		du_s3_endpoint_of(cfg, ep, sizeof(ep), &o.endpoint_is_aws);
		rc = du_db_file_decide(db, &o, d, err);
		if (!rc && o.keep)
			rc = du_db_file_dry_list(db, skipped_line, prog, err);
	}
out:
	du_s3_conn_free(conn);
	return rc;
}

/* ---- stale multipart uploads ------------------------------------------------------------------ */

struct stale {
	struct du_db *db;
	struct du_s3_conn *conn;
	bool abort;
	uint64_t listed, aborted, kept, failed;
	char first_failed[1100];
	struct du_err *err;
};

/*
 * An upload du recorded for a file that is still to be done is resumable: a later run continues
 * it. Anything else under the prefix (unknown to du's database, or its file is uploaded already)
 * only costs storage.
 */
static int stale_one(void *arg, const char *key, const char *upload_id, int64_t initiated)
{
	struct stale *st = arg;
	int64_t file_id = 0;
	char status[32], when[32] = "?";
	int rc = du_db_mpu_owner(st->db, upload_id, &file_id, status, sizeof(status), st->err);
	if (rc)
		return rc;
	time_t t = (time_t)initiated;
	struct tm tm;
	if (initiated && gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	bool resumable = file_id && strcmp(status, "uploaded") != 0;
	st->listed++;
	if (resumable) {
		st->kept++;
		printf("resumable  %s  %s  (file row %" PRId64 ", %s)\n", when, key, file_id, status);
		return 0;
	}
	if (!st->abort) {
		printf("stale      %s  %s\n", when, key);
		return 0;
	}
	struct du_err e = { 0 };
	if (du_s3_mpu_abort(st->conn, key, upload_id, &e)) {
		du_warn("cannot abort the upload of '%s': %s", key, e.msg);
		st->failed++;
		if (!st->first_failed[0])
			snprintf(st->first_failed, sizeof(st->first_failed), "%s", key);
		return 0;
	}
	st->aborted++;
	printf("aborted    %s  %s\n", when, key);
	return 0;
}

static int stale_uploads(const struct du_config *cfg, struct du_db *db, struct du_s3 *s3, struct du_err *err)
{
	struct stale st = { .db = db, .abort = cfg->stale_uploads == 2, .err = err };
	char prefix[1100];
	int rc;
	snprintf(prefix, sizeof(prefix), "%s/", cfg->s3_prefix);
	if ((rc = du_s3_conn_new(s3, &st.conn, err)))
		return rc;
	rc = du_s3_mpu_list_uploads(st.conn, prefix, stale_one, &st, err);
	du_s3_conn_free(st.conn);
	if (rc)
		return rc;
	du_info("%" PRIu64 " multipart upload%s under s3://%s/%s: %" PRIu64 " resumable, %" PRIu64 " %s",
		st.listed, st.listed == 1 ? "" : "s", cfg->bucket_name, prefix, st.kept,
		st.abort ? st.aborted : st.listed - st.kept, st.abort ? "aborted" : "stale");
	if (st.failed)
		return du_err_set(err, DU_ERR_S3, "%" PRIu64 " stale upload%s could not be aborted (first: '%s'; all named above)",
				  st.failed, st.failed == 1 ? "" : "s", st.first_failed);
	return DU_OK;
}

/* ---- dry run ------------------------------------------------------------------------------- */

static int dry_line(void *arg, const char *key, uint64_t size, const char *action, const char *reason)
{
	char b[32];
	(void)arg;
	du_fmt_bytes(size, b, sizeof(b));
	if (du_log_level() >= DU_LOG_DEBUG)
		printf("%-6s %s (%s): %s\n", action, key, b, du_progress_reason_label(reason));
	else if (strcmp(action, "skip") != 0)
		printf("%-6s %s (%s)\n", action, key, b);
	return 0;
}

/* ---- summary -------------------------------------------------------------------------------- */

static int error_line(void *arg, const char *error, uint64_t count)
{
	(void)arg;
	du_info("  %8" PRIu64 "  %s", count, error);
	return 0;
}

/* The summary of the run that registered the files: found, decided, checked, sent. */
static void summary_of_scan(const struct du_upload_result *res, const char *b1, const char *b2, const char *rate,
			    double el)
{
	char why[512];
	du_reasons_text(res->reasons, why, sizeof(why));
	du_info("session %" PRId64 " %s: %" PRIu64 " found (%s)%s: %s", res->session_id, res->status,
		res->files_found, b2, res->trusted_db ? ", decided from the database alone (--trust-db: bucket not listed)" : "",
		why);
	uint64_t sent = res->files_to_upload + res->files_to_check - res->files_checked_same;
	if (res->files_to_check)
		du_info("checked %" PRIu64 " listed file%s by hash: %" PRIu64 " unchanged, not sent", res->files_to_check,
			res->files_to_check == 1 ? "" : "s", res->files_checked_same);
	du_info("uploaded %" PRIu64 " of %" PRIu64 " files to send (%s) in %.1f s: %.1f files/s, %s/s; %" PRIu64
		" failed; %.1f s in all", res->files_uploaded, sent, b1, res->upload_elapsed, res->files_uploaded / el,
		rate, res->files_failed, res->elapsed);
}

static void summary(const struct du_config *cfg, struct du_db *db, const struct du_upload_result *res,
		    struct du_progress *prog)
{
	char b1[32], b2[32], rate[32];
	/* Rates on the progress line's clock: the upload phase, not the scan before it. */
	double el = res->upload_elapsed > 0 ? res->upload_elapsed : 1e-9;
	du_fmt_bytes(res->bytes_uploaded, b1, sizeof(b1));
	du_fmt_bytes(res->bytes_found, b2, sizeof(b2));
	du_fmt_bytes((uint64_t)(res->bytes_uploaded / el), rate, sizeof(rate));
	if (du_progress_is_json(prog)) {
		char json[2048];
		snprintf(json, sizeof(json),
			 "{\"event\":\"summary\",\"session_id\":%" PRId64 ",\"status\":\"%s\",\"files_found\":%" PRIu64
			 ",\"files_to_upload\":%" PRIu64 ",\"files_uploaded\":%" PRIu64 ",\"files_failed\":%" PRIu64
			 ",\"files_skipped\":%" PRIu64 ",\"files_checked\":%" PRIu64 ",\"files_checked_unchanged\":%" PRIu64
			 ",\"bytes_uploaded\":%" PRIu64 ",\"elapsed\":%.3f,\"trust_db\":%s,\"decision\":%s}",
			 res->session_id, res->status, res->files_found, res->files_to_upload, res->files_uploaded,
			 res->files_failed, res->files_found - res->files_to_upload - res->files_to_check + res->files_checked_same,
			 res->files_to_check, res->files_checked_same, res->bytes_uploaded, res->elapsed,
			 res->trusted_db ? "true" : "false", res->reasons[0] ? res->reasons : "{}");
		if (res->joined) /* its files were found by the run that scanned them: only what it did */
			snprintf(json, sizeof(json),
				 "{\"event\":\"summary\",\"session_id\":%" PRId64 ",\"status\":\"%s\",\"joined\":true"
				 ",\"files_uploaded\":%" PRIu64 ",\"files_failed\":%" PRIu64 ",\"files_checked_unchanged\":%" PRIu64
				 ",\"bytes_uploaded\":%" PRIu64 ",\"elapsed\":%.3f}",
				 res->session_id, res->status, res->files_uploaded, res->files_failed, res->files_checked_same,
				 res->bytes_uploaded, res->elapsed);
		du_progress_json(prog, json);
		return;
	}
	if (res->joined) {
		du_info("session %" PRId64 " %s: this run uploaded %" PRIu64 " files (%s) in %.1f s, %.1f files/s, %s/s, "
			"alongside the run that registered them; %" PRIu64 " failed%s",
			res->session_id, res->status, res->files_uploaded, b1, res->upload_elapsed,
			res->files_uploaded / el, rate, res->files_failed,
			strcmp(res->status, "in_progress") ? "" : "; other workers still hold files, the last one closes it");
	} else
		summary_of_scan(res, b1, b2, rate, el);
	if (res->files_failed && db) {
		du_info("failures by error:");
		du_db_status_top_errors(db, res->session_id, 10, error_line, NULL, NULL);
		du_info("retry them with: du-retry -s %" PRId64 "%s%s", res->session_id,
			cfg->config_file ? " -c " : "", cfg->config_file ? cfg->config_file : "");
	}
}

/* ---- which session ---------------------------------------------------------------------------- */

/*
 * A joiner works once the session's files are registered: until then it waits for the run that
 * scans them. *ended says that run stopped first (the session left in_progress unscanned, or its
 * process died: reaped here, as any run would).
 */
static int wait_for_scan(struct du_db *db, int64_t sid, bool *ended, struct du_err *err)
{
	double next_reap = du_monotonic() + 2;
	bool said = false;
	*ended = false;
	for (;;) {
		bool scanned = false;
		char status[32];
		int rc = du_db_session_state(db, sid, &scanned, status, sizeof(status), err);
		if (rc || scanned)
			return rc;
		if (strcmp(status, "in_progress") != 0) {
			*ended = true;
			return DU_OK;
		}
		if (!said) {
			du_info("session %" PRId64 " is still registering its files: waiting for them", sid);
			said = true;
		}
		if (du_stop_level() > 0)
			return du_err_set(err, DU_ERR_INTERRUPTED, "interrupted while waiting for session %" PRId64, sid);
		if (du_monotonic() > next_reap) {
			du_reap_dead_sessions(db);
			next_reap = du_monotonic() + 2;
		}
		du_wait_ms(200, du_wait_stop_level, &(int){ 1 });   /* a stop is answered above */
	}
}

/*
 * The session this run works on: --resume's or --join's; else a live session of the same job
 * (another du-upload of this bucket, endpoint, prefix and directory whose workers are alive),
 * worked on alongside it as --join does, unless --new-session; else a new one. The job lock makes
 * two runs starting at once agree; this process's worker row is written under it, so the next
 * run sees this one alive from its first moment.
 */
static int open_session(const struct du_config *cfg, struct du_db *db, int64_t project_id, int64_t *sid,
			bool *joined, bool *scanned, struct du_err *err)
{
	struct du_worker self;
	char ep[512];
	bool aws;
	int rc;
	du_worker_self(&self);
	du_s3_endpoint_of(cfg, ep, sizeof(ep), &aws);
	*joined = cfg->join_session != 0;
	*sid = cfg->join_session ? cfg->join_session : cfg->resume_session;
	if (*sid) {
		char status[32];
		if ((rc = du_db_session_state(db, *sid, scanned, status, sizeof(status), err)))
			return rc;
		if (!cfg->join_session && (rc = du_db_session_close(db, *sid, "in_progress", NULL, err)))
			return rc;
	} else {
		struct du_job job = { project_id, ep, cfg->s3_prefix, cfg->local_directory };
		struct du_live_session live = { 0 };
		if ((rc = du_db_session_job_lock(db, &job, err)))
			return rc;
		if (!cfg->new_session)
			rc = du_db_session_live(db, &self, du_dead_after_seconds(), du_proc_alive, &job, &live, err);
		if (!rc && live.id) {
			*sid = live.id;
			*joined = true;
		} else if (!rc) {
			char *json = du_config_to_json(cfg);
			if (!json)
				rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
			else
				rc = du_db_session_create(db, project_id, cfg, json, sid, err);
			free(json);
			if (!rc)
				rc = du_db_session_endpoint(db, *sid, ep, err);
		}
		/* The run that scans is seen alive from its first moment (a joiner once it works). */
		if (!rc && !*joined)
			rc = du_db_session_worker_begin(db, *sid, &self, err);
		struct du_err e2 = { 0 };
		int urc = du_db_session_job_unlock(db, &job, &e2);
		if (rc || (rc = urc)) {
			if (!err->code)
				*err = e2;
			return rc;
		}
		if (live.id)
			du_info("joining session %" PRId64 ", a run of the same job at work on %s (pid %ld%s): working on it "
				"alongside; --new-session starts a separate one",
				live.id, live.host, live.pid, live.workers > 1 ? ", with others" : "");
	}
	bool ended = false;
	if (*joined && !*scanned) {
		/* Not a worker yet: while it waits, the session lives by its scanning run alone. */
		if ((rc = wait_for_scan(db, *sid, &ended, err)))
			return rc;
		*scanned = !ended;
	}
	if (!ended)
		return du_db_session_worker_begin(db, *sid, &self, err);
	if (cfg->join_session)
		return du_err_set(err, DU_ERR_NOTFOUND, "session %" PRId64 " ended before its files were registered",
				  *sid);
	/* The run we joined stopped before registering its files: this run does the job itself. */
	du_info("session %" PRId64 " ended before registering its files: starting a session of its own", *sid);
	*joined = false;
	*scanned = false;
	*sid = 0;
	return open_session(cfg, db, project_id, sid, joined, scanned, err);
}

/* ---- the command ------------------------------------------------------------------------------ */

/* Say the cap once, as the user will want to know why the run is slow. */
static void bwlimit_note(const struct du_config *cfg, struct du_s3 *s3)
{
	uint64_t r = du_bwlimit_rate(du_s3_bwlimit(s3));
	char b[32];
	if (!du_s3_bwlimit(s3))
		return;
	du_fmt_bytes(r, b, sizeof(b));
	if (r)
		du_info("bandwidth capped at %s/s (bwlimit '%s'; SIGUSR2 toggles it)", b, cfg->bwlimit);
	else
		du_info("bandwidth not capped now (bwlimit '%s'; SIGUSR2 toggles it)", cfg->bwlimit);
}

static const char *final_status(int rc, uint64_t failed)
{
	if (du_err_paused(rc))
		return "interrupted";
	if (rc)
		return "failed";
	return failed ? "completed_with_errors" : "completed";
}

/* --dry-run: the files the decision would send, each on its line, and what it would do in one line. */
static void dry_report(const struct du_config *cfg, struct du_db *db, const struct du_decision *d,
		       struct du_upload_result *res, struct du_err *err)
{
	char b1[32], b2[32];
	char why[512], b3[32];
	du_db_file_dry_list(db, dry_line, NULL, err);
	du_fmt_bytes(d->bytes_to_upload, b1, sizeof(b1));
	du_fmt_bytes(d->bytes_to_check, b3, sizeof(b3));
	du_fmt_bytes(d->bytes_found - d->bytes_to_upload - d->bytes_to_check, b2, sizeof(b2));
	du_reasons_text(d->reasons, why, sizeof(why));
	printf("dry run: would upload %" PRIu64 " files (%s), check %" PRIu64 " by hash (%s), skip %" PRIu64
	       " (%s)%s: %s\n",
	       d->to_upload, b1, d->to_check, b3, d->found - d->to_upload - d->to_check, b2,
	       cfg->trust_db ? "; bucket not listed (--trust-db)" : "", why);
	snprintf(res->status, sizeof(res->status), "dry-run");
}

/* The session's files through the engine, with the progress display; the counts into res. */
static int run_files(const struct du_config *cfg, struct du_db *db, struct du_s3 *s3, struct du_progress *prog,
		     int64_t sid, double window_end, const struct du_decision *d, struct du_upload_result *res,
		     struct du_err *err)
{
	du_progress_checks(prog, res->files_to_check);
	du_progress_begin(prog, res->files_to_upload + res->files_to_check, res->bytes_to_upload + d->bytes_to_check,
			  res->files_found - res->files_to_upload - res->files_to_check);
	struct du_pipeline_opts po = { .session_id = sid, .deadline = window_end,
				       .cutoff_soft = cfg->cutoff_mode == DU_CUTOFF_SOFT };
	struct du_pipeline_stats ps = { 0 };
	double tu = du_monotonic();
	struct du_engine_opts eo;
	du_engine_opts_from_config(&eo, cfg);
	int rc = du_pipeline_run(&eo, db, s3, prog, &po, &ps, err);
	res->upload_elapsed = du_monotonic() - tu;
	du_progress_end(prog);
	if (ps.parts_reused)
		du_info("continued multipart uploads: %" PRIu64 " part(s) reused, %" PRIu64 " sent", ps.parts_reused,
			ps.parts_sent);
	res->files_uploaded = ps.files_ok;
	res->files_checked_same = ps.files_checked_same;
	res->bytes_uploaded = ps.bytes_ok;
	res->files_failed = ps.files_failed + d->bad_keys;
	return rc;
}

/* The run is over (rc): the session's final status, unless other workers still hold files (the last
 * one closes it); the heartbeat hb stopped, this worker's row ended, the dead reaped, the decision as
 * the checks settled it read back for the summary. Returns rc, or the close's failure. */
static int close_session(struct du_db *db, int64_t sid, int rc, struct du_heartbeat *hb,
			 struct du_upload_result *res, struct du_err *err)
{
	struct du_err e2 = { 0 };
	const char *st = final_status(rc, res->files_failed);
	int64_t open_rows = 0;
	if (rc == DU_OK && du_db_file_open_rows(db, sid, &open_rows, &e2) == DU_OK && open_rows > 0)
		st = NULL;
	if (du_db_session_close(db, sid, st, rc && rc != DU_ERR_INTERRUPTED ? err->msg : NULL, &e2) && !rc) {
		rc = e2.code;
		*err = e2;
	}
	snprintf(res->status, sizeof(res->status), "%s", st ? st : "in_progress");
	du_heartbeat_stop(hb);
	du_db_session_worker_end(db, sid, du_worker_id(), NULL);
	/* As the row says it: the last worker's "completed" counts every worker's failures. */
	bool sc;
	if (st && rc == DU_OK)
		du_db_session_state(db, sid, &sc, res->status, sizeof(res->status), &e2);
	/* Whoever died while we ran (another joiner, an earlier run) is seen now, not next time. */
	du_reap_dead_sessions(db);
	if (res->reasons[0])
		du_db_status_decision(db, sid, res->reasons, sizeof(res->reasons), &e2);
	return rc;
}

int du_cmd_upload(const struct du_config *cfg, struct du_upload_result *res, struct du_err *err)
{
	struct du_db *db = NULL;
	struct du_creds_provider *cp = NULL;
	struct du_s3 *s3 = NULL;
	struct du_progress *prog = du_progress_new(cfg->progress, du_log_level() < DU_LOG_INFO);
	struct du_decision d = { 0 };
	struct du_heartbeat *hb = NULL;
	int64_t project_id = 0, sid = 0;
	bool has_schema = true, scanned = false, joined = false;
	double t0 = du_monotonic();
	double window_end = du_cmd_deadline(cfg);  /* the window opens now: scan and listing count */
	int rc;

	memset(res, 0, sizeof(*res));
	if ((rc = du_db_open(&db, cfg, err)))
		goto out;
	if (cfg->dry_run) {
		/* Nothing is written: no migration, no session, temporary tables only. */
		if ((rc = du_db_session_has_schema(db, &has_schema, err)))
			goto out;
	} else {
		if ((rc = du_db_migrate(db, err)) ||
		    (rc = du_db_project_ensure(db, cfg->bucket_name, cfg->aws_region, &project_id, err)))
			goto out;
		du_reap_dead_sessions(db);
	}
	if (has_schema && cfg->dry_run && (rc = du_db_session_project(db, cfg->bucket_name, &project_id, err)))
		goto out;
	if (cfg->stale_uploads) {
		/* Maintenance: no session, no scan. */
		if ((rc = du_s3_open(cfg, &cp, &s3, err)) == DU_OK)
			rc = stale_uploads(cfg, db, s3, err);
		goto out;
	}

	if (!cfg->dry_run && (rc = open_session(cfg, db, project_id, &sid, &joined, &scanned, err)))
		goto out;
	struct du_err herr = { 0 };
	struct du_db_opts dbo;
	du_db_opts_from_config(&dbo, cfg);
	if (sid && du_heartbeat_start(&dbo, sid, &hb, &herr))
		du_warn("heartbeat: %s", herr.msg); /* workers on other hosts may take a long scan for dead */
	res->session_id = sid;
	res->joined = joined;
	if (sid && !joined)
		du_info("session %" PRId64 ": '%s' to s3://%s/%s/", sid, cfg->local_directory, cfg->bucket_name,
			cfg->s3_prefix);

	if ((rc = du_s3_open(cfg, &cp, &s3, err)))
		goto finish;
	du_s3_set_abort(s3, du_abort_flag());
	du_progress_set_bwlimit(prog, du_s3_bwlimit(s3));
	bwlimit_note(cfg, s3);
	struct du_err merr = { 0 };
	if (!cfg->dry_run && du_metrics_start(cfg->metrics_file, sid, s3, &merr))
		du_warn("metrics: %s", merr.msg); /* metrics never stop an upload */

	if (!scanned && !joined) {
		rc = register_files(cfg, db, s3, prog, cfg->dry_run ? 0 : sid, project_id, has_schema, &d,
				    &res->scan_warnings, err);
		if (rc)
			goto finish;
		res->files_found = d.found;
		res->bytes_found = d.bytes_found;
		res->files_to_upload = d.to_upload;
		res->bytes_to_upload = d.bytes_to_upload;
		res->files_to_check = d.to_check;
		snprintf(res->reasons, sizeof(res->reasons), "%s", d.reasons);
		res->trusted_db = cfg->trust_db;
	}
	if (cfg->dry_run) {
		dry_report(cfg, db, &d, res, err);
		goto out;
	}
	if (scanned || joined) {
		int64_t open_rows = 0;
		if (du_db_file_open_rows(db, sid, &open_rows, NULL) == DU_OK)
			res->files_to_upload = (uint64_t)open_rows;
	}
	rc = run_files(cfg, db, s3, prog, sid, window_end, &d, res, err);

finish:
	if (sid && !cfg->dry_run) {
		rc = close_session(db, sid, rc, hb, res, err);
		hb = NULL;
	}
	res->elapsed = du_monotonic() - t0;
	/* A run that never got to its files has nothing to summarise beyond the error. */
	if (sid && (rc == DU_OK || du_err_paused(rc)))
		summary(cfg, rc ? NULL : db, res, prog);
out:
	du_heartbeat_stop(hb);
	du_metrics_stop(res->status[0] ? res->status : "failed");
	du_progress_free(prog);
	du_s3_close(cp, s3);
	du_db_close(db);
	return rc;
}

/*
 * du_cmd_retry: re-upload a session's failed files with the settings the session was made with
 * (its stored configuration), through the same pool as du-upload. Each attempt counts in
 * retry_count; rows that reached max_attempts, or whose failure is permanent, stay failed.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/cmd_session.h"
#include "db/db_sessions.h"
#include "db/db_status.h"
#include "du/commands.h"
#include "du/signals.h"
#include "du/wait.h"
#include "du/db.h"
#include "du/log.h"
#include "du/metrics.h"
#include "du/progress.h"
#include "du/retry.h"
#include "engine/pipeline.h"

static int list_line(void *arg, const struct du_failed_row *r)
{
	(void)arg;
	printf("%s\t%s\t%d\t%s%s\n", r->key, r->error, r->retry_count, r->last_attempt,
	       r->permanent ? "\tpermanent" : "");
	return 0;
}

/*
 * Before round+1: retry.h's backoff with delay as its base, full jitter up to delay × 2^round (on
 * average delay × 2^(round-1), as the delay doubles each round); interruptible.
 */
static void wait_round(double delay, int round)
{
	long base = (long)ceil(delay * 1000);
	long ms = du_retry_delay_ms(round + 1, base, base << (round < 20 ? round : 20), 0, NULL, NULL);
	du_info("waiting %.1f s before round %d", ms / 1000.0, round + 1);
	du_wait_ms(ms, du_wait_stop_level, &(int){ 1 });
}

/*
 * A session whose failures are only in its counters: the Python tool never wrote file statuses, so
 * no row says which files failed. du-retry and --list both say so, in these words.
 */
static bool counters_only(struct du_db *db, const struct du_session *s)
{
	int64_t rows = 0;
	if (s->files_failed <= 0 || du_db_status_count_failed(db, s->id, &rows, NULL) || rows > 0)
		return false;
	du_info("session %" PRId64 ": %" PRId64 " failed file%s in its counters, but no file row says which (the"
		" Python tool wrote no statuses); to find and upload what is missing: du-upload -d '%s' -b %s -p %s",
		s->id, s->files_failed, s->files_failed == 1 ? "" : "s", s->local_directory ? s->local_directory : "?",
		s->bucket_name ? s->bucket_name : "?", s->s3_prefix ? s->s3_prefix : "?");
	return true;
}

int du_cmd_retry(const struct du_config *cfg, struct du_retry_result *res, struct du_err *err)
{
	struct du_cmd_session cs = DU_CMD_SESSION_INIT;
	struct du_db *db;
	const struct du_session *sess = &cs.sess;
	int64_t sid = cfg->session_id, left = 0;
	int rc;

	double window_end = du_cmd_deadline(cfg);
	memset(res, 0, sizeof(*res));
	res->session_id = sid;
	rc = du_cmd_session_open(&cs, cfg, sid, DU_CMD_SESSION_REAP, err);
	db = cs.db;
	if (rc)
		goto out;
	if (counters_only(db, sess)) {
		res->files_still_failed = (uint64_t)sess->files_failed;
		snprintf(res->status, sizeof(res->status), "%s", sess->status);
		goto out;
	}
	if (cfg->list) {
		rc = du_db_status_list_failed(db, sid, list_line, NULL, err);
		goto out;
	}
	if ((rc = du_db_status_count_retryable(db, sid, (int)cfg->max_attempts, &left, err)))
		goto out;
	if (left == 0) {
		int64_t failed = (int64_t)sess->files_failed;
		du_info("session %" PRId64 ": nothing to retry (%" PRId64 " failed file%s left)", sid, failed,
			failed == 1 ? "" : "s");
		res->files_still_failed = (uint64_t)failed;
		snprintf(res->status, sizeof(res->status), "%s", sess->status);
		goto out;
	}
	/* The session's own settings: bucket, prefix, endpoint, part sizes, workers. */
	if ((rc = du_cmd_session_s3(&cs, cfg, 0, err)))
		goto out;
	const struct du_config *scfg = &cs.cfg;
	struct du_err merr = { 0 };
	if (du_metrics_start(cfg->metrics_file, sid, cs.s3, &merr))
		du_warn("metrics: %s", merr.msg); /* metrics never stop a retry */

	/* The session's own settings drive the engine (workers, part size, checksums), with this
	 * invocation's budget and the database it was given. */
	struct du_engine_opts eo;
	du_engine_opts_from_config(&eo, scfg);
	int rounds = cfg->auto_retry ? (int)cfg->max_rounds : 1;
	for (int round = 1; round <= rounds && left > 0; round++) {
		if (round > 1) {
			wait_round(cfg->delay, round - 1);
			if (du_stop_level() > 0)
				break;
			if (window_end > 0 && du_monotonic() >= window_end) {
				rc = du_err_set(err, DU_ERR_STOPPED, "the upload window ended before round %d; "
						"run again to continue", round);
				break;
			}
		}
		du_info("session %" PRId64 ": retry round %d of %d, %" PRId64 " file%s", sid, round, rounds, left,
			left == 1 ? "" : "s");
		if ((rc = du_db_session_close(db, sid, "in_progress", NULL, err)))
			goto out;
		struct du_progress *prog = du_progress_new(scfg->progress, du_log_level() < DU_LOG_INFO);
		du_progress_set_bwlimit(prog, du_s3_bwlimit(cs.s3));
		struct du_pipeline_opts po = { .session_id = sid, .retry_mode = true,
					       .max_attempts = (int)cfg->max_attempts, .deadline = window_end,
					       .cutoff_soft = cfg->cutoff_mode == DU_CUTOFF_SOFT };
		struct du_pipeline_stats ps = { 0 };
		du_progress_begin(prog, (uint64_t)left, 0, 0);
		rc = du_pipeline_run(&eo, db, cs.s3, prog, &po, &ps, err);
		du_progress_end(prog);
		du_progress_free(prog);
		res->rounds++;
		res->files_retried += ps.files_ok + ps.files_failed;
		res->files_recovered += ps.files_ok;
		if (rc)
			break;
		if ((rc = du_db_status_count_retryable(db, sid, (int)cfg->max_attempts, &left, err)))
			break;
	}
out:
	if (db && sess->id && !cfg->list && (res->rounds || du_err_paused(rc))) {
		struct du_err e2 = { 0 };
		int64_t failed = 0;
		struct du_session after = { 0 };
		du_db_session_close(db, sid, NULL, NULL, &e2);
		if (du_db_session_get(db, sid, &after, &e2) == DU_OK) {
			failed = (int64_t)after.files_failed;
			du_session_release(&after);
		}
		const char *st = du_err_paused(rc) ? "interrupted"
				 : rc			 ? "failed"
				 : failed		 ? "completed_with_errors"
							 : "completed";
		du_db_session_close(db, sid, st, NULL, &e2);
		res->files_still_failed = (uint64_t)failed;
		snprintf(res->status, sizeof(res->status), "%s", st);
		du_info("session %" PRId64 " %s: %" PRIu64 " recovered, %" PRId64 " still failed after %" PRIu64
			" round%s",
			sid, st, res->files_recovered, failed, res->rounds, res->rounds == 1 ? "" : "s");
		if (failed)
			du_info("see them with: du-retry -s %" PRId64 " --list", sid);
	}
	du_metrics_stop(res->status[0] ? res->status : "failed");
	du_cmd_session_close(&cs);
	return rc;
}

/*
 * du_cmd_master: upload, then auto-retry, then the webhook, in one process. The session id is
 * handed from step to step; nothing ever looks up "the latest session". The run's outcome is the
 * worst step's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "du/commands.h"
#include "du/log.h"

struct step {
	const char *name;
	const char *outcome;
	int status;          /* DU_OK, DU_ERR_INTERRUPTED or the failed step's err->code */
	bool files_failed;
	int code;            /* the exit code this step alone would give */
};

struct run {
	void (*report)(const struct du_err *err, void *arg);
	void *arg;
	struct du_master_result *res;
	int code;            /* res's exit code, for ordering and the summary */
};

static void step_end(struct run *r, struct step *s, int rc, const struct du_err *err, bool files_failed)
{
	s->status = du_err_paused(rc) ? rc : rc ? err->code : DU_OK;
	s->files_failed = !rc && files_failed;
	if (rc == DU_ERR_STOPPED)
		du_warn("%s", err->msg);
	else if (rc && rc != DU_ERR_INTERRUPTED)
		r->report(err, r->arg);
	s->code = s->status ? du_exit_code(s->status) : s->files_failed ? DU_EXIT_FILES_FAILED : DU_EXIT_OK;
}

/* Interrupted (130) beats everything; then the larger code: failures over 1 over 0. */
static void take_worse(struct run *r, const struct step *s)
{
	if (s->code <= r->code)
		return;
	r->code = s->code;
	r->res->status = s->status;
	r->res->files_failed = s->files_failed;
}

static void forget_files_failed(struct run *r)
{
	if (r->code != DU_EXIT_FILES_FAILED)
		return;
	r->code = DU_EXIT_OK;
	r->res->status = DU_OK;
	r->res->files_failed = false;
}

int du_cmd_master(const struct du_config *cfg, void (*report)(const struct du_err *err, void *arg), void *arg,
		  struct du_master_result *res, struct du_err *err)
{
	struct step steps[3] = { { "upload", "not run" }, { "retry", "skipped" }, { "trigger", "skipped" } };
	struct run r = { report, arg, res, 0 };
	struct du_upload_result up = { 0 };
	char buf[3][160];
	int rc;

	*res = (struct du_master_result){ 0 };
	rc = du_cmd_upload(cfg, &up, err);
	step_end(&r, &steps[0], rc, err, up.files_failed > 0);
	snprintf(buf[0], sizeof(buf[0]), "%s: %" PRIu64 " uploaded, %" PRIu64 " failed, %" PRIu64 " skipped",
		 up.status[0] ? up.status : "failed", up.files_uploaded, up.files_failed,
		 up.files_found - up.files_to_upload);
	steps[0].outcome = buf[0];
	take_worse(&r, &steps[0]);

	/* A copy whose session id is the one this run made; strings stay owned by cfg. */
	struct du_config next = *cfg;
	next.session_id = up.session_id;
	res->session_id = up.session_id;

	if (rc == DU_ERR_STOPPED) {
		/* Neither retry nor webhook: the session is not done, only paused (exit 7). */
		du_warn("no retry round and no webhook: session %" PRId64 " is paused by the upload window, "
			"not done", up.session_id);
		steps[1].outcome = "skipped: the upload window ended (exit 7); run again to continue";
		steps[2].outcome = "skipped: the session is not done (the upload window ended)";
	} else if (up.session_id && !cfg->dry_run && rc != DU_ERR_INTERRUPTED && rc != DU_ERR_DB &&
		   rc != DU_ERR_S3_AUTH) {
		if (!cfg->skip_retry && up.files_failed) {
			struct du_retry_result rr = { 0 };
			next.auto_retry = true;
			rc = du_cmd_retry(&next, &rr, err);
			step_end(&r, &steps[1], rc, err, rr.files_still_failed > 0);
			snprintf(buf[1], sizeof(buf[1]), "%" PRIu64 " recovered, %" PRIu64 " still failed",
				 rr.files_recovered, rr.files_still_failed);
			steps[1].outcome = buf[1];
			/* The retry's result replaces the upload's "some files failed". */
			forget_files_failed(&r);
			take_worse(&r, &steps[1]);
		} else if (!cfg->skip_retry) {
			steps[1].outcome = "nothing to retry";
		}
		if (cfg->endpoint_url && !cfg->skip_endpoint && !du_err_paused(rc)) {
			struct du_trigger_result tr = { 0 };
			rc = du_cmd_trigger(&next, &tr, err);
			step_end(&r, &steps[2], rc, err, false);
			if (rc)
				snprintf(buf[2], sizeof(buf[2]), "failed after %d attempt%s", tr.attempts,
					 tr.attempts == 1 ? "" : "s");
			else
				snprintf(buf[2], sizeof(buf[2]), "delivered (HTTP %ld)", tr.http_status);
			steps[2].outcome = buf[2];
			take_worse(&r, &steps[2]);
		} else if (!cfg->endpoint_url) {
			steps[2].outcome = "no endpoint configured";
		}
	}
	du_info("du-master: session %" PRId64 "", up.session_id);
	for (int i = 0; i < 3; i++)
		du_info("  %-8s %s", steps[i].name, steps[i].outcome);
	du_info("exit code %d", r.code);
	return DU_OK;
}

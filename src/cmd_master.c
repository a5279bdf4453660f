/*
 * du_cmd_master: upload, then auto-retry, then the webhook, in one process. The session id is
 * handed from step to step; nothing ever looks up "the latest session". The exit code is the
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
	int code;
};

static int worse(int a, int b)
{
	/* Interrupted (130) beats everything; then the larger code: failures over 1 over 0. */
	return a > b ? a : b;
}

static int step_code(int rc, struct du_err *err, bool files_failed)
{
	if (rc == DU_ERR_INTERRUPTED)
		return DU_EXIT_INTERRUPTED;
	if (rc)
		return du_err_report(err);
	return files_failed ? DU_EXIT_FILES_FAILED : DU_EXIT_OK;
}

int du_cmd_master(const struct du_config *cfg, struct du_err *err)
{
	struct step steps[3] = { { "upload", "not run", 0 }, { "retry", "skipped", 0 }, { "trigger", "skipped", 0 } };
	struct du_upload_result up = { 0 };
	char buf[3][160];
	int code = 0, rc;

	if (cfg->nargs > 0 && !strcmp(cfg->args[0], "status"))
		return du_cmd_status(cfg, cfg->nargs - 1, cfg->args + 1, err);
	if (cfg->nargs > 0 && !strcmp(cfg->args[0], "verify"))
		return du_cmd_verify(cfg, cfg->nargs - 1, cfg->args + 1, err);
	if (cfg->nargs > 0) {
		du_err_set(err, DU_ERR_USAGE, "unknown command '%s'", cfg->args[0]);
		du_err_hint(err, "try 'du-master --help'");
		return du_err_report(err);
	}

	rc = du_cmd_upload(cfg, &up, err);
	steps[0].code = step_code(rc, err, up.files_failed > 0);
	snprintf(buf[0], sizeof(buf[0]), "%s: %" PRIu64 " uploaded, %" PRIu64 " failed, %" PRIu64 " skipped",
		 up.status[0] ? up.status : "failed", up.files_uploaded, up.files_failed,
		 up.files_found - up.files_to_upload);
	steps[0].outcome = buf[0];
	code = steps[0].code;

	/* A copy whose session id is the one this run made; strings stay owned by cfg. */
	struct du_config next = *cfg;
	next.session_id = up.session_id;

	if (up.session_id && !cfg->dry_run && rc != DU_ERR_INTERRUPTED && rc != DU_ERR_DB && rc != DU_ERR_S3_AUTH) {
		if (!cfg->skip_retry && up.files_failed) {
			struct du_retry_result rr = { 0 };
			next.auto_retry = true;
			rc = du_cmd_retry(&next, &rr, err);
			steps[1].code = step_code(rc, err, rr.files_still_failed > 0);
			snprintf(buf[1], sizeof(buf[1]), "%" PRIu64 " recovered, %" PRIu64 " still failed",
				 rr.files_recovered, rr.files_still_failed);
			steps[1].outcome = buf[1];
			/* The retry's result replaces the upload's "some files failed". */
			if (code == DU_EXIT_FILES_FAILED)
				code = 0;
			code = worse(code, steps[1].code);
		} else if (!cfg->skip_retry) {
			steps[1].outcome = "nothing to retry";
		}
		if (cfg->endpoint_url && !cfg->skip_endpoint && rc != DU_ERR_INTERRUPTED) {
			struct du_trigger_result tr = { 0 };
			rc = du_cmd_trigger(&next, &tr, err);
			steps[2].code = step_code(rc, err, false);
			if (rc)
				snprintf(buf[2], sizeof(buf[2]), "failed after %d attempt%s", tr.attempts,
					 tr.attempts == 1 ? "" : "s");
			else
				snprintf(buf[2], sizeof(buf[2]), "delivered (HTTP %ld)", tr.http_status);
			steps[2].outcome = buf[2];
			code = worse(code, steps[2].code);
		} else if (!cfg->endpoint_url) {
			steps[2].outcome = "no endpoint configured";
		}
	}
	du_info("du-master: session %" PRId64 "", up.session_id);
	for (int i = 0; i < 3; i++)
		du_info("  %-8s %s", steps[i].name, steps[i].outcome);
	du_info("exit code %d", code);
	return code;
}

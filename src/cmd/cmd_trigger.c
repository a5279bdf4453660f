/* cmd_trigger.c: the body of du-trigger: deliver one session's webhook (or show it with --dry-run). */
#include <inttypes.h>
#include <stdio.h>

#include "du/commands.h"
#include "du/db.h"
#include "du/log.h"
#include "du/trigger.h"

int du_cmd_trigger(const struct du_config *cfg, struct du_trigger_result *res, struct du_err *err)
{
	struct du_db *db = NULL;
	int rc = du_trigger_check_config(cfg, err);
	if (rc)
		return rc;
	if (cfg->session_id <= 0) {
		rc = du_err_set(err, DU_ERR_CONFIG, "no session id");
		du_err_hint(err, "pass -s/--session-id");
		return rc;
	}
	res->session_id = cfg->session_id;
	if ((rc = du_db_open(&db, cfg, err)))
		return rc;
	if (cfg->dry_run) {
		rc = du_trigger_dry_run(db, cfg, cfg->session_id, stdout, err);
	} else if ((rc = du_db_migrate(db, err)) == DU_OK) {
		rc = du_trigger_send(db, cfg, cfg->session_id, res, err);
		if (rc == DU_OK)
			du_info("session %" PRId64 " delivered: HTTP %ld after %d attempt%s", cfg->session_id,
				res->http_status, res->attempts, res->attempts == 1 ? "" : "s");
	}
	du_db_close(db);
	return rc;
}

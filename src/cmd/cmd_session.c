#include <stdlib.h>
#include <string.h>

#include "cmd/cmd_session.h"
#include "du/log.h"
#include "du/signals.h"
#include "engine/liveness.h"

int du_cmd_session_open(struct du_cmd_session *cs, const struct du_config *cfg, int64_t sid, int flags,
			struct du_err *err)
{
	int rc;
	if ((rc = du_db_open(&cs->db, cfg, err)) || (rc = du_db_migrate(cs->db, err)))
		return rc;
	if (flags & DU_CMD_SESSION_REAP)
		du_reap_dead_sessions(cs->db);
	return du_db_session_get(cs->db, sid, &cs->sess, err);
}

int du_cmd_session_s3(struct du_cmd_session *cs, const struct du_config *cfg, int flags, struct du_err *err)
{
	int rc;
	if ((rc = du_config_derive(&cs->cfg, cfg, cs->sess.config_json, cs->sess.id, err)))
		return rc;
	cs->have_cfg = true;
	if ((flags & DU_CMD_SESSION_ROW_BUCKET) && !cs->cfg.bucket_name && cs->sess.bucket_name &&
	    !(cs->cfg.bucket_name = strdup(cs->sess.bucket_name)))
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	if ((rc = du_s3_open(&cs->cfg, &cs->cp, &cs->s3, err)))
		return rc;
	du_s3_set_abort(cs->s3, du_abort_flag());
	return DU_OK;
}

void du_cmd_session_close(struct du_cmd_session *cs)
{
	du_s3_close(cs->cp, cs->s3);
	if (cs->have_cfg)
		du_config_release(&cs->cfg);
	du_session_release(&cs->sess);
	du_db_close(cs->db);
	*cs = (struct du_cmd_session)DU_CMD_SESSION_INIT;
}

double du_cmd_deadline(const struct du_config *cfg)
{
	static double opened;
	double sec = 0;
	if (!opened)
		opened = du_monotonic();
	if (!cfg->max_duration || du_parse_duration(cfg->max_duration, &sec) || sec <= 0)
		return 0;
	return opened + sec;
}

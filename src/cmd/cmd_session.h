/*
 * cmd_session.h (private): what du-retry and du-master verify do first and last: open the
 * database, find the session the command names, and later reach its bucket with the settings the
 * session was made with (its stored configuration, not today's).
 *
 *     struct du_cmd_session cs = DU_CMD_SESSION_INIT;
 *     if ((rc = du_cmd_session_open(&cs, cfg, sid, DU_CMD_SESSION_REAP, err)))
 *         goto out;                         // DU_ERR_DB, or DU_ERR_NOTFOUND for an unknown id
 *     ... cs.db, cs.sess ...
 *     if ((rc = du_cmd_session_s3(&cs, cfg, 0, err)))
 *         goto out;
 *     ... cs.cfg, cs.s3 ...
 * out:
 *     du_cmd_session_close(&cs);            // whatever was opened, in reverse
 *
 * One thread: the caller's. The pipeline opens its own connections.
 */
#ifndef DU_CMD_SESSION_H
#define DU_CMD_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "du/config.h"
#include "du/creds.h"
#include "du/db.h"
#include "du/err.h"
#include "du/s3.h"

struct du_cmd_session {
	struct du_db *db;
	struct du_session sess;      /* the row; sess.id is 0 until found */
	struct du_config cfg;        /* the session's own settings, valid once have_cfg */
	bool have_cfg;
	struct du_creds_provider *cp;
	struct du_s3 *s3;            /* aborts on the second signal */
};

#define DU_CMD_SESSION_INIT { 0 }

enum {
	DU_CMD_SESSION_REAP = 1,        /* _open: mark dead runs' sessions first (du_reap_dead_sessions) */
	DU_CMD_SESSION_ROW_BUCKET = 2,  /* _s3: a stored configuration without a bucket takes the row's */
};

/* Open the database (migrated) and read session sid into cs->sess. */
int du_cmd_session_open(struct du_cmd_session *cs, const struct du_config *cfg, int64_t sid, int flags,
			struct du_err *err);
/* The session's settings (du_config_derive over cfg) and an S3 client for them. */
int du_cmd_session_s3(struct du_cmd_session *cs, const struct du_config *cfg, int flags, struct du_err *err);
void du_cmd_session_close(struct du_cmd_session *cs);

/* The end of the upload window (max_duration) on du_monotonic(), 0 when there is none. The window
 * opens with the first command of the process that asks: du-master's steps share one. */
double du_cmd_deadline(const struct du_config *cfg);

#endif

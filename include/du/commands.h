/*
 * commands.h: the bodies of the four tools, as library functions, so du-master runs them in one
 * process and hands the session id from step to step (never "the latest session").
 *
 *     struct du_upload_result up = {0};
 *     int rc = du_cmd_upload(&cfg, &up, &err);        // rc: DU_OK or an enum du_status
 *     if (rc == DU_OK && up.files_failed) exit(DU_EXIT_FILES_FAILED);
 *     cfg.session_id = up.session_id;
 *     du_cmd_retry(&cfg, &rr, &err);
 *
 * Each returns DU_OK when the command ran to its end (even if some files failed: the result says
 * so), DU_ERR_INTERRUPTED after SIGINT/SIGTERM, or another status with err filled.
 */
#ifndef DU_COMMANDS_H
#define DU_COMMANDS_H

#include <signal.h>
#include <stdint.h>

#include "du/config.h"
#include "du/err.h"

struct du_upload_result {
	int64_t session_id;
	uint64_t files_found, bytes_found;
	uint64_t files_to_upload, bytes_to_upload;
	uint64_t files_to_check;              /* listed with the same size: hashed and compared */
	uint64_t files_checked_same;          /* of those, found unchanged: not sent */
	char reasons[1024];                   /* the decision by reason, JSON (sync_sessions.decision) */
	bool trusted_db;                      /* --trust-db: decided without listing the bucket */
	bool joined;                          /* worked on another run's session (--join, or a live run of the job) */
	uint64_t files_uploaded, bytes_uploaded;
	uint64_t files_failed;
	uint64_t scan_warnings;
	double elapsed;
	double upload_elapsed;    /* from the first file taken to the last done: the rates' clock */
	char status[32];          /* final session status */
};

struct du_retry_result {
	int64_t session_id;
	uint64_t rounds;
	uint64_t files_retried, files_recovered, files_still_failed;
	char status[32];
};

struct du_trigger_result {
	int64_t session_id;
	long http_status;
	int attempts;
};

int du_cmd_upload(const struct du_config *cfg, struct du_upload_result *res, struct du_err *err);
int du_cmd_retry(const struct du_config *cfg, struct du_retry_result *res, struct du_err *err);
int du_cmd_trigger(const struct du_config *cfg, struct du_trigger_result *res, struct du_err *err);
/* du-master: upload, auto-retry, trigger; or a subcommand in cfg->args. Returns the exit code. */
int du_cmd_master(const struct du_config *cfg, struct du_err *err);

/*
 * du-master status [SESSION]: without a session, the recent sessions; with one, its counts by
 * status, bytes, rates, ETA while it runs, and top errors. cfg->json prints JSON instead.
 * Read-only: safe while an upload of the session runs in another process. args/nargs are the
 * subcommand's own arguments (after "status"). Returns the exit code.
 */
int du_cmd_status(const struct du_config *cfg, int nargs, char **args, struct du_err *err);
/*
 * du-master verify SESSION: every uploaded file of the session against a streamed S3 listing
 * (HEAD only for keys the listing does not settle) and against the local file when it is still
 * there (size and mtime; md5 with cfg->deep). Records verify_status/verify_error/verified_at per
 * file and a verify_runs row, writes the manifest (cfg->manifest or du-manifest-SESSION, .csv and
 * .jsonl). Exit 0 when everything matches, 1 when anything does not, other codes for errors.
 */
int du_cmd_verify(const struct du_config *cfg, int nargs, char **args, struct du_err *err);

/*
 * Signals. The first SIGINT/SIGTERM asks commands to stop taking work and finish cleanly; the
 * second asks them to abort transfers in flight. Commands poll du_stop_level().
 */
void du_signals_install(void);
int du_stop_level(void);
const volatile int *du_stop_flag(void);   /* non-zero after the first signal: du_scan_opts.stop */
const volatile int *du_abort_flag(void);  /* non-zero after the second: du_s3_set_abort */
void du_stop_reset(void);                 /* tests */

#endif

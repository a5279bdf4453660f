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
 * so), DU_ERR_INTERRUPTED after SIGINT/SIGTERM, or another status with err filled. None prints
 * an error or knows an exit code: the tool (cli.c) reports err and maps the outcome.
 */
#ifndef DU_COMMANDS_H
#define DU_COMMANDS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "du/config.h"
#include "du/err.h"
#include "du/trigger.h" /* struct du_trigger_result */

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

/* du-verify's outcome when it ran to its end (DU_OK): whether the source may be deleted. */
struct du_verify_result {
	int64_t session_id;
	int64_t files;        /* uploaded files of the session checked */
	int64_t mismatches;   /* of those, not matching S3 or the local file */
	int64_t unrecorded;   /* found by the session without a du row: in S3 before du, not verified */
	bool intact;          /* no mismatch and nothing unrecorded: the source may be deleted */
};

/* du-master's run: the step that decides the exit code (the worst: interrupted, then the larger
 * code; the retry's result replaces the upload's failed files). */
struct du_master_result {
	int64_t session_id;
	int status;           /* that step's status; DU_OK when no step failed */
	bool files_failed;    /* status is DU_OK and that step left files failed */
};

int du_cmd_upload(const struct du_config *cfg, struct du_upload_result *res, struct du_err *err);
int du_cmd_retry(const struct du_config *cfg, struct du_retry_result *res, struct du_err *err);
int du_cmd_trigger(const struct du_config *cfg, struct du_trigger_result *res, struct du_err *err);
/* du-trigger's two steps for an open database (src/cmd/cmd_trigger.c; the unit tests call them):
 * the body is the session's payload, its keys streamed from a cursor when list_files is on. */
struct du_db;
/* Load the session, POST its payload with retries, record every attempt. Does not look at
 * cfg->dry_run (see du_trigger_dry_run). Returns DU_OK when an attempt got a 2xx. */
int du_trigger_send(struct du_db *db, const struct du_config *cfg, int64_t session_id,
		    struct du_trigger_result *res, struct du_err *err);

/* Write the request that du_trigger_send would make to out (method, URL, headers with secrets
 * as "***", body), send nothing and write nothing to the database. */
int du_trigger_dry_run(struct du_db *db, const struct du_config *cfg, int64_t session_id, FILE *out,
		       struct du_err *err);
/*
 * du-master: upload, auto-retry, trigger. A step that fails (not by an interruption) is handed to
 * report(err, arg) at once, so its error shows between the steps' own output; the run goes on as
 * documented and ends with a summary. Returns DU_OK: res says how the run ended.
 */
int du_cmd_master(const struct du_config *cfg, void (*report)(const struct du_err *err, void *arg), void *arg,
		  struct du_master_result *res, struct du_err *err);

/*
 * du-master status [SESSION]: without a session, the recent sessions; with one, its counts by
 * status, bytes, rates, ETA while it runs, and top errors. cfg->json prints JSON instead.
 * Read-only: safe while an upload of the session runs in another process. args/nargs are the
 * subcommand's own arguments (after "status").
 */
int du_cmd_status(const struct du_config *cfg, int nargs, char **args, struct du_err *err);
/*
 * du-master verify SESSION: every uploaded file of the session against a streamed S3 listing
 * (HEAD only for keys the listing does not settle) and against the local file when it is still
 * there (size and mtime; md5 with cfg->deep). Records verify_status/verify_error/verified_at per
 * file and a verify_runs row, writes the manifest (cfg->manifest or du-manifest-SESSION, .csv and
 * .jsonl). DU_OK when it ran to its end: res->intact says whether everything matched.
 */
int du_cmd_verify(const struct du_config *cfg, int nargs, char **args, struct du_verify_result *res,
		  struct du_err *err);

#endif

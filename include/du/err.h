/*
 * err.h: the one error idiom of du.
 *
 * A fallible function returns int: DU_OK (0) or an enum du_status, and fills the caller's
 * struct du_err with what went wrong. The library never prints and never exits; the tool
 * reports the error once (du_log_err) and maps the status to an exit code (du_exit_code).
 *
 *     struct du_err err = {0};
 *     if (du_thing_do(x, &err))
 *         return du_err_report(&err);          // prints "prog: error: ..." and maybe "hint: ..."
 *
 *     // inside the library:
 *     if (fd < 0)
 *         return du_err_sys(err, DU_ERR_IO, errno, "cannot open '%s'", path);
 *
 * Messages are lower-case, without a full stop, and quote names in '...'.
 * Secrets never go into a message.
 */
#ifndef DU_ERR_H
#define DU_ERR_H

#include <stddef.h>

enum du_status {
	DU_OK = 0,
	DU_ERR_USAGE,       /* bad flag or argument                          -> exit 2 */
	DU_ERR_CONFIG,      /* bad configuration value, file or combination  -> exit 3 */
	DU_ERR_DB,          /* PostgreSQL unreachable or failing             -> exit 4 */
	DU_ERR_S3,          /* S3 service error (not auth)                   -> exit 5 */
	DU_ERR_S3_AUTH,     /* credentials missing/refused, access denied    -> exit 5 */
	DU_ERR_NET,         /* connection, DNS, TLS or timeout               -> exit 5 */
	DU_ERR_IO,          /* local file system                             -> exit 1 */
	DU_ERR_PARSE,       /* malformed answer or file                      -> exit 1 */
	DU_ERR_NOMEM,       /* allocation failed                             -> exit 1 */
	DU_ERR_TRIGGER,     /* the webhook could not be delivered            -> exit 6 */
	DU_ERR_NOTFOUND,    /* a named thing (session, object) does not exist -> exit 3 */
	DU_ERR_CHANGED,     /* the file changed while it was read            -> exit 1 */
	DU_ERR_INTERRUPTED, /* SIGINT/SIGTERM                                 -> exit 130 */
	DU_ERR_STOPPED,     /* the upload window ended (max_duration)         -> exit 7 */
	DU_ERR_INTERNAL,    /* a bug                                          -> exit 1 */
};

/* Documented exit codes (README "Exit codes"). */
enum du_exit {
	DU_EXIT_OK = 0,
	DU_EXIT_FILES_FAILED = 1,
	DU_EXIT_USAGE = 2,
	DU_EXIT_CONFIG = 3,
	DU_EXIT_DB = 4,
	DU_EXIT_S3 = 5,
	DU_EXIT_TRIGGER = 6,
	DU_EXIT_STOPPED = 7,
	DU_EXIT_INTERRUPTED = 130,
};

struct du_err {
	int code;            /* enum du_status */
	int sys_errno;       /* errno when a system call failed, else 0 */
	long http_status;    /* HTTP status when a server answered, else 0 */
	int retryable;       /* set by the layer that knows (s3, trigger) */
	char s3_code[64];    /* S3 <Code>, e.g. "NoSuchBucket" */
	char request_id[64]; /* S3 <RequestId> or x-amz-request-id */
	char msg[512];
	char hint[256];      /* optional second line for the user */
};

/* A stop that leaves the work resumable, not a failure: a signal (130) or the upload window or
 * data budget (7). Commands mark the session 'interrupted' and report it as a warning. */
static inline int du_err_paused(int code)
{
	return code == DU_ERR_INTERRUPTED || code == DU_ERR_STOPPED;
}

/* Fill err (may be NULL) and return code. Always returns code so it can end a function. */
int du_err_set(struct du_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Same, and appends ": strerror(errnum)" and records errnum. */
int du_err_sys(struct du_err *err, int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Set the hint line; keeps the rest. */
void du_err_hint(struct du_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void du_err_clear(struct du_err *err);

/* Map a status to the documented exit code. */
int du_exit_code(int status);
/* Short stable name of a status, e.g. "config", "s3-auth". */
const char *du_status_name(int status);

#endif

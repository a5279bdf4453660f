#include "du/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void vset(struct du_err *err, const char *fmt, va_list ap)
{
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int du_err_set(struct du_err *err, int code, const char *fmt, ...)
{
	if (!err)
		return code;
	va_list ap;
	du_err_clear(err);
	err->code = code;
	va_start(ap, fmt);
	vset(err, fmt, ap);
	va_end(ap);
	return code;
}

int du_err_sys(struct du_err *err, int code, int errnum, const char *fmt, ...)
{
	if (!err)
		return code;
	va_list ap;
	du_err_clear(err);
	err->code = code;
	err->sys_errno = errnum;
	va_start(ap, fmt);
	vset(err, fmt, ap);
	va_end(ap);
	size_t n = strlen(err->msg);
	snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(errnum));
	return code;
}

void du_err_hint(struct du_err *err, const char *fmt, ...)
{
	if (!err)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->hint, sizeof(err->hint), fmt, ap);
	va_end(ap);
}

void du_err_clear(struct du_err *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

int du_exit_code(int status)
{
	switch (status) {
	case DU_OK:
		return DU_EXIT_OK;
	case DU_ERR_USAGE:
		return DU_EXIT_USAGE;
	case DU_ERR_CONFIG:
	case DU_ERR_NOTFOUND:
		return DU_EXIT_CONFIG;
	case DU_ERR_DB:
		return DU_EXIT_DB;
	case DU_ERR_S3:
	case DU_ERR_S3_AUTH:
	case DU_ERR_NET:
		return DU_EXIT_S3;
	case DU_ERR_TRIGGER:
		return DU_EXIT_TRIGGER;
	case DU_ERR_INTERRUPTED:
		return DU_EXIT_INTERRUPTED;
	case DU_ERR_STOPPED:
		return DU_EXIT_STOPPED;
	default:
		return DU_EXIT_FILES_FAILED;
	}
}

const char *du_status_name(int status)
{
	static const char *const names[] = {
		[DU_OK] = "ok",
		[DU_ERR_USAGE] = "usage",
		[DU_ERR_CONFIG] = "config",
		[DU_ERR_DB] = "database",
		[DU_ERR_S3] = "s3",
		[DU_ERR_S3_AUTH] = "s3-auth",
		[DU_ERR_NET] = "network",
		[DU_ERR_IO] = "io",
		[DU_ERR_PARSE] = "parse",
		[DU_ERR_NOMEM] = "nomem",
		[DU_ERR_TRIGGER] = "trigger",
		[DU_ERR_NOTFOUND] = "not-found",
		[DU_ERR_CHANGED] = "changed",
		[DU_ERR_INTERRUPTED] = "interrupted",
		[DU_ERR_STOPPED] = "stopped",
		[DU_ERR_INTERNAL] = "internal",
	};
	if (status < 0 || (size_t)status >= sizeof(names) / sizeof(names[0]) || !names[status])
		return "unknown";
	return names[status];
}

#include "du/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char prog[64] = "du";
static int level = DU_LOG_INFO;
static FILE *logfile;
static void (*hook_clear)(void *);
static void (*hook_redraw)(void *);
static void *hook_arg;

static const char *const level_names[] = { "error", "warning", "info", "debug", "trace" };

void du_log_init(const char *name)
{
	const char *slash = strrchr(name, '/');
	snprintf(prog, sizeof(prog), "%s", slash ? slash + 1 : name);
	const char *env = getenv("DU_LOG_LEVEL");
	int l = env ? du_log_parse_level(env) : -1;
	if (l >= 0)
		level = l;
}

const char *du_log_prog(void)
{
	return prog;
}

void du_log_set_level(int l)
{
	level = l;
}

int du_log_level(void)
{
	return level;
}

int du_log_parse_level(const char *s)
{
	if (!strcasecmp(s, "warn"))
		return DU_LOG_WARN;
	for (int i = 0; i <= DU_LOG_TRACE; i++)
		if (!strcasecmp(s, level_names[i]))
			return i;
	return -1;
}

int du_log_set_file(const char *path, struct du_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return du_err_sys(err, DU_ERR_CONFIG, errno, "cannot open log file '%s'", path);
	FILE *f = fdopen(fd, "a");
	if (!f) {
		close(fd);
		return du_err_sys(err, DU_ERR_CONFIG, errno, "cannot open log file '%s'", path);
	}
	setvbuf(f, NULL, _IOLBF, 0);
	pthread_mutex_lock(&mu);
	if (logfile)
		fclose(logfile);
	logfile = f;
	pthread_mutex_unlock(&mu);
	return DU_OK;
}

void du_log_close(void)
{
	pthread_mutex_lock(&mu);
	if (logfile)
		fclose(logfile);
	logfile = NULL;
	pthread_mutex_unlock(&mu);
}

static void emit2(int l, const char *tag, const char *msg, const char *tty_msg)
{
	pthread_mutex_lock(&mu);
	if (l <= level) {
		if (hook_clear)
			hook_clear(hook_arg);
		if (tag)
			fprintf(stderr, "%s: %s: %s\n", prog, tag, msg);
		else
			fprintf(stderr, "%s\n", tty_msg ? tty_msg : msg);
		if (hook_redraw)
			hook_redraw(hook_arg);
	}
	if (logfile) {
		char ts[32];
		struct timespec now;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(logfile, "%s.%03ldZ %s %s: %s\n", ts, now.tv_nsec / 1000000, prog,
			tag ? tag : level_names[l], msg);
	}
	pthread_mutex_unlock(&mu);
}

static void emit(int l, const char *tag, const char *msg)
{
	emit2(l, tag, msg, NULL);
}

bool du_log_wants(int l)
{
	return l <= level || logfile;
}

void du_log_line(int l, const char *tty_text, const char *plain_text)
{
	if (l > level && !logfile)
		return;
	emit2(l, NULL, plain_text, tty_text);
}

void du_log(int l, const char *fmt, ...)
{
	if (l > level && !logfile)
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(l, l <= DU_LOG_WARN ? level_names[l] : NULL, msg);
}

void du_hint(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(DU_LOG_ERROR, "hint", msg);
}

int du_err_report(const struct du_err *err)
{
	du_error("%s", err->msg[0] ? err->msg : du_status_name(err->code));
	if (err->hint[0])
		du_hint("%s", err->hint);
	return du_exit_code(err->code);
}

void du_log_set_tty_hooks(void (*clear)(void *), void (*redraw)(void *), void *arg)
{
	pthread_mutex_lock(&mu);
	hook_clear = clear;
	hook_redraw = redraw;
	hook_arg = arg;
	pthread_mutex_unlock(&mu);
}

void du_log_raw(FILE *f, const char *s)
{
	pthread_mutex_lock(&mu);
	fputs(s, f);
	fflush(f);
	pthread_mutex_unlock(&mu);
}

double du_monotonic(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * log.h: the one message layer of du.
 *
 * Messages go to stderr as "du-upload: error: cannot open 'x'" (the program name first, then the
 * level for warnings and errors), optionally followed by "hint: ...". With --log-file, every
 * message is also appended to that file with a UTC timestamp. Thread-safe: one mutex.
 *
 *     du_log_init("du-upload");
 *     du_log_set_level(DU_LOG_DEBUG);          // -v; -q is DU_LOG_ERROR; DU_LOG_LEVEL env
 *     du_info("uploading %zu files", n);
 *     return du_err_report(&err);              // error + hint, returns the exit code
 *
 * Never log a secret: the config module redacts, callers pass redacted values only.
 */
#ifndef DU_LOG_H
#define DU_LOG_H

#include <stdbool.h>
#include <stdio.h>

#include "du/err.h"

/* TRACE: what did not happen, file by file (skipped files, -vv); DEBUG: what happened (-v). */
enum du_log_level { DU_LOG_ERROR = 0, DU_LOG_WARN, DU_LOG_INFO, DU_LOG_DEBUG, DU_LOG_TRACE };

void du_log_init(const char *prog);
const char *du_log_prog(void);
void du_log_set_level(int level);
int du_log_level(void);
/* "error", "warn", "info", "debug", "trace" -> level, or -1. */
int du_log_parse_level(const char *s);
/* Also append to path (created 0600). Returns DU_OK or DU_ERR_CONFIG. */
int du_log_set_file(const char *path, struct du_err *err);
void du_log_close(void);

/* Whether a message at level goes anywhere (stderr at this level, or the log file). */
bool du_log_wants(int level);
void du_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define du_error(...) du_log(DU_LOG_ERROR, __VA_ARGS__)
#define du_warn(...) du_log(DU_LOG_WARN, __VA_ARGS__)
#define du_info(...) du_log(DU_LOG_INFO, __VA_ARGS__)
#define du_debug(...) du_log(DU_LOG_DEBUG, __VA_ARGS__)
/* One untagged line shown at level (a per-file line): tty_text on stderr when given (indicators,
 * colour), plain_text otherwise and always in the log file, with its timestamp. */
void du_log_line(int level, const char *tty_text, const char *plain_text);
/* "hint: ..." line, shown at any level where the error before it was shown. */
void du_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print err (and its hint) once and return du_exit_code(err->code). */
int du_err_report(const struct du_err *err);

/*
 * Progress output shares stderr with messages: the progress module registers a callback that
 * clears its in-place line before a message is printed, and redraws it afterwards.
 */
void du_log_set_tty_hooks(void (*clear)(void *), void (*redraw)(void *), void *arg);
/* Seconds on the monotonic clock: for durations, rates and deadlines everywhere in du. */
double du_monotonic(void);

/* Write raw text (a progress line) under the log mutex. */
void du_log_raw(FILE *f, const char *s);

#endif

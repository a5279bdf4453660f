/*
 * progress.h: what a person watching an upload sees.
 *
 * On a terminal, one in-place line on stderr redrawn at most 5 times a second (cleared to the end
 * of the line, so no stale characters); not on a terminal, one plain line every 10 s; in JSON mode,
 * JSON lines on stdout (events "scan", "file", "progress", "summary"); none: silent.
 *
 *     struct du_progress *p = du_progress_new(cfg->progress, quiet);
 *     du_progress_scan(p, files, bytes);                  // from the scanner's callback
 *     du_progress_begin(p, total_files, total_bytes, skipped);
 *     du_progress_done(p, 1, 0, nbytes);                  // from any thread
 *     du_progress_file(p, &(struct du_file_event){ .key = k, .outcome = "failed", ... });
 *     du_progress_end(p);                                 // final line, stops the thread
 *     du_progress_free(p);
 *
 * Sizes are in base 1024 (KiB, MiB, GiB, TiB); the ETA shows days when it is that long.
 */
#ifndef DU_PROGRESS_H
#define DU_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum du_progress_mode { DU_PROGRESS_AUTO = 0, DU_PROGRESS_TTY, DU_PROGRESS_PLAIN, DU_PROGRESS_JSON, DU_PROGRESS_NONE };

struct du_progress;

struct du_progress *du_progress_new(int mode, bool quiet);
/* The bandwidth cap to show on the line while one is in force (bwlimit.h; borrowed, NULL: none). */
struct du_bwlimit;
void du_progress_set_bwlimit(struct du_progress *p, struct du_bwlimit *bw);
void du_progress_free(struct du_progress *p);
void du_progress_scan(struct du_progress *p, uint64_t files, uint64_t bytes);
void du_progress_begin(struct du_progress *p, uint64_t files, uint64_t bytes, uint64_t skipped);
/* Files done, with their bytes (sent when ok, only done when failed). */
void du_progress_done(struct du_progress *p, uint64_t ok, uint64_t failed, uint64_t bytes);
/* Of the files begun, how many are hashed against S3 first; one check done (any thread): an
 * unchanged file is done with its bytes, a changed one goes on to be uploaded. */
void du_progress_checks(struct du_progress *p, uint64_t files);
void du_progress_checked(struct du_progress *p, bool same, uint64_t bytes);
void du_progress_end(struct du_progress *p);
/*
 * One file's fate as soon as it is known (any thread): a line like rclone -v's ("uploaded KEY
 * (4.0 KiB, 1.2 MiB/s)", "skipped KEY: unchanged (checked)", "failed KEY: error; du-retry will try
 * it again"), shown above the progress line: failures at every level (also -q), the rest with
 * -v; with indicators and colour on a terminal unless NO_COLOR is set. In JSON mode, an event
 * {"event":"file", key, size, outcome, reason, error, will_retry, checksum, attempt, duration}.
 * --log-file gets the plain line, timestamped.
 */
struct du_file_event {
	const char *key;
	uint64_t size;
	const char *outcome;   /* "uploaded", "skipped", "failed" */
	const char *reason;    /* the decision's reason key (db_files.h), or NULL */
	const char *error;     /* failed: why */
	bool will_retry;       /* failed: du-retry may send it (not permanent) */
	const char *checksum;  /* md5 hex, or NULL */
	int attempt;           /* 1 + retries in this run */
	double duration;       /* seconds since a worker took the file (0: not measured) */
	const char *suspect;   /* a suspect recording: why (suspect.h), or NULL */
};
void du_progress_file(struct du_progress *p, const struct du_file_event *ev);
/* The words a person reads for a reason of the sync decision (db_files.h's keys): "new",
 * "missing in S3", "unchanged (checked)", ...; an unknown key as it is. */
const char *du_progress_reason_label(const char *reason);
/* Whether the lines of files that did not fail are wanted at all (-v, --log-file, JSON); a
 * failure is always told. */
bool du_progress_wants_files(const struct du_progress *p);
/* Whether the lines of files skipped (already in S3) are wanted: -vv, --log-file, JSON. */
bool du_progress_wants_skipped(const struct du_progress *p);

/* Emit a JSON summary event (JSON mode only); json is a complete object. */
void du_progress_json(struct du_progress *p, const char *json);
bool du_progress_is_json(const struct du_progress *p);

/* "1.5 GiB", "512 B". */
void du_fmt_bytes(uint64_t n, char *buf, size_t sz);
/* "3d 04:05:06", "04:05", "--:--" for unknown. */
void du_fmt_eta(double seconds, char *buf, size_t sz);

/*
 * One definition of each figure, for the progress line, the JSON events and the tests. Done files
 * are uploaded, failed or found unchanged; done bytes are theirs, sent bytes the uploaded ones.
 */
struct du_progress_figures {
	uint64_t files_total, files_done, files_ok, files_failed, skipped;
	uint64_t bytes_total, bytes_done, bytes_sent;
	double elapsed;           /* seconds since du_progress_begin, on du_monotonic() */
	uint64_t cap;             /* the bandwidth cap in force, bytes/s; 0: none */
};
/* Seconds left: the longer of the file-rate and the byte-rate estimates; 0 when done, -1 unknown. */
double du_progress_eta(const struct du_progress_figures *f);
/* Percent done: the smaller of files and bytes done, so never 100 with work left. */
double du_progress_percent(const struct du_progress_figures *f);
/* The progress line; with width > 0 (a terminal) a bar where it fits, never wider than width-1. */
void du_progress_line(const struct du_progress_figures *f, int width, char *buf, size_t sz);
/* What goes to the terminal: back to column 0, the line, clear to its end (no stale characters). */
size_t du_progress_tty_frame(const char *line, bool final, char *out, size_t sz);
/* Whether per-file lines get indicators and colour (a terminal, NO_COLOR unset). */
bool du_progress_colored(const struct du_progress *p);

#endif

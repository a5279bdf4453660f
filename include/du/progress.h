/*
 * progress.h: what a person watching an upload sees.
 *
 * On a terminal, one in-place line on stderr redrawn at most 5 times a second (cleared to the end
 * of the line, so no stale characters); not on a terminal, one plain line every 10 s; in JSON mode,
 * JSON lines on stdout (events "scan", "failed", "progress", "summary"); none: silent.
 *
 *     struct du_progress *p = du_progress_new(cfg->progress, quiet);
 *     du_progress_scan(p, files, bytes);                  // from the scanner's callback
 *     du_progress_begin(p, total_files, total_bytes, skipped);
 *     du_progress_done(p, 1, 0, nbytes);                  // from any thread
 *     du_progress_failed(p, key, "permission denied");
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

struct du_progress;

struct du_progress *du_progress_new(int mode, bool quiet);
void du_progress_free(struct du_progress *p);
void du_progress_scan(struct du_progress *p, uint64_t files, uint64_t bytes);
void du_progress_begin(struct du_progress *p, uint64_t files, uint64_t bytes, uint64_t skipped);
void du_progress_done(struct du_progress *p, uint64_t ok, uint64_t failed, uint64_t bytes);
void du_progress_failed(struct du_progress *p, const char *key, const char *error);
/* Of the files begun, how many are hashed against S3 first; one check done (any thread): an
 * unchanged file is done with its bytes, a changed one goes on to be uploaded. */
void du_progress_checks(struct du_progress *p, uint64_t files);
void du_progress_checked(struct du_progress *p, bool same, uint64_t bytes);
void du_progress_end(struct du_progress *p);
/* Emit a JSON summary event (JSON mode only); json is a complete object. */
void du_progress_json(struct du_progress *p, const char *json);
bool du_progress_is_json(const struct du_progress *p);

/* "1.5 GiB", "512 B". */
void du_fmt_bytes(uint64_t n, char *buf, size_t sz);
/* "3d 04:05:06", "04:05", "--:--" for unknown. */
void du_fmt_eta(double seconds, char *buf, size_t sz);
/* Render the progress line into buf (for tests). */
void du_progress_line(uint64_t done, uint64_t total, uint64_t skipped, uint64_t bytes_done,
		      uint64_t bytes_total, uint64_t ok, uint64_t failed, double elapsed, char *buf, size_t sz);

#endif

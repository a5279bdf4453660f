/*
 * metrics.h: Prometheus text-format metrics of a run, for node exporter's textfile collector
 * (--metrics-file PATH, key metrics_file).
 *
 * One set of counters per process. The pipeline counts files and bytes by outcome and the
 * latency of its S3 requests; the S3 client's own counters (requests, retries, throttles,
 * failures, bytes) are read from du_s3_stats() when the file is written. A background thread
 * rewrites the file every DU_METRICS_INTERVAL seconds and du_metrics_stop() writes it a last time.
 * Each write goes to "PATH.tmp.PID" and is renamed over PATH, so the collector never reads half a
 * file. Every counting function is thread-safe, lock-free and a no-op when metrics are off.
 *
 *     if (du_metrics_start(cfg->metrics_file, session_id, s3, &err))   // NULL path: off, DU_OK
 *             du_warn("%s", err.msg);                                  // metrics never stop a run
 *     ...
 *     double t = du_metrics_now();
 *     rc = du_s3_put_object(...);
 *     du_metrics_request(DU_METRIC_PUT, du_metrics_now() - t);
 *     du_metrics_file(DU_METRIC_UPLOADED, size);
 *     ...
 *     du_metrics_stop("completed");                                     // final write, thread joined
 *
 * Exposed (all with label session="N"):
 *   du_files_total{outcome="uploaded|failed|released"}      counter
 *   du_bytes_total{outcome="uploaded|failed"}                counter
 *   du_request_duration_seconds{op="put|part|complete"}     histogram (_bucket, _sum, _count)
 *   du_s3_requests_total, du_s3_attempts_total, du_s3_retries_total, du_s3_throttles_total,
 *   du_s3_failures_total, du_s3_sent_bytes_total, du_s3_received_bytes_total   counters
 *   du_s3_rate_limit                                         gauge (requests/s, 0 = unlimited)
 *   du_run_start_time_seconds, du_run_last_write_time_seconds, du_run_running   gauges
 *   du_run_info{status="running|completed|..."}                                 gauge 1
 */
#ifndef DU_METRICS_H
#define DU_METRICS_H

#include <stdint.h>

#include "du/err.h"

struct du_s3;

#define DU_METRICS_INTERVAL 5

enum du_metric_outcome { DU_METRIC_UPLOADED, DU_METRIC_FAILED, DU_METRIC_RELEASED, DU_METRIC_OUTCOMES };
enum du_metric_op { DU_METRIC_PUT, DU_METRIC_PART, DU_METRIC_COMPLETE, DU_METRIC_OPS };

/* Start: remember path, session and s3 (borrowed, may be NULL; must outlive du_metrics_stop),
 * write the file once (so a bad path is reported now) and start the writer thread. path NULL or
 * "": metrics off, DU_OK. DU_ERR_IO when the first write fails (metrics stay off), DU_ERR_USAGE
 * when already started. */
int du_metrics_start(const char *path, int64_t session_id, struct du_s3 *s3, struct du_err *err);
/* Final write with status as du_run_info's label (NULL: "stopped"), join the thread, reset
 * everything. Safe when never started. */
void du_metrics_stop(const char *status);

void du_metrics_file(int outcome, uint64_t bytes);
void du_metrics_request(int op, double seconds);
/* CLOCK_MONOTONIC seconds, for timing requests. */
double du_metrics_now(void);

/* Write the file now (the thread does this every DU_METRICS_INTERVAL s). DU_OK when off. */
int du_metrics_write(struct du_err *err);
/* Render the current metrics into a malloc'd string (tests); NULL when out of memory. */
char *du_metrics_render(void);

#endif

/*
 * pipeline.h (private): the upload engine as commands see it. du-upload, du-retry and --join
 * workers run a session's rows through du_pipeline_run: the caller's thread feeds a pool of
 * max_workers threads, a writer thread records outcomes, and the call returns when no row is left
 * to claim (or on a stop). Who owns what and which thread does what: engine.h.
 */
#ifndef DU_PIPELINE_H
#define DU_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "du/config.h"
#include "du/db.h"
#include "du/err.h"
#include "du/progress.h"
#include "du/s3.h"

/*
 * What the engine takes of the configuration (du_engine_opts_from_config), so that it is built,
 * run and tested without one. Strings are borrowed.
 */
struct du_engine_opts {
	struct du_db_opts db;          /* for the writer's and the multipart bookkeeping's connections */
	int workers;                   /* max_workers */
	int suspect_policy;            /* enum du_suspect_policy: upload (default), skip or fail */
	int times_to_retry;            /* file- and part-level attempts beyond the first (retry.h) */
	long retry_base_ms, retry_cap_ms;
	uint64_t multipart_threshold;  /* files this large go in parts */
	uint64_t part_size;            /* multipart_chunk_size; du_s3_part_size fits it to the file */
	int checksum_algorithm;        /* enum du_cksum_alg; DU_CK_AUTO learns per endpoint */
	const char *budget;            /* SIZE/PERIOD (budget.h), NULL: none */
	char endpoint[1100];           /* du_s3_endpoint_of: what s3_endpoints knows the server by */
	bool sensor_metadata;          /* read the recorder's facts from headers (sensor.h) */
	char **metadata;               /* "key=value": x-amz-meta-key on every object; NULL: none */
	char **tags;                   /* "key=value": the tags of every object; NULL: none */
};
void du_engine_opts_from_config(struct du_engine_opts *o, const struct du_config *cfg);

struct du_pipeline_opts {
	int64_t session_id;
	bool retry_mode;      /* du-retry: take failed rows too, count each attempt in retry_count */
	int max_attempts;     /* du-retry: rows whose retry_count reached this stay failed */
	double deadline;      /* the upload window's end on du_monotonic(); 0: none */
	bool cutoff_soft;     /* at the deadline: start nothing new, let transfers end (else abort them) */
};

struct du_pipeline_stats {
	uint64_t files_ok, files_failed, files_released, bytes_ok;
	uint64_t files_checked_same;   /* hashed, found unchanged in S3, not sent */
	uint64_t parts_sent, parts_reused;
	uint64_t etag_verified;        /* bodies whose checksum the server ignored, proven by ETag */
};

int du_pipeline_run(const struct du_engine_opts *eo, struct du_db *db, struct du_s3 *s3, struct du_progress *prog,
		    const struct du_pipeline_opts *po, struct du_pipeline_stats *st, struct du_err *err);

#endif

/*
 * db_multipart.h (private): the bookkeeping of multipart uploads (multipart_uploads, one row per
 * file; multipart_parts, one per finished part), so that a later run resumes or adopts an upload
 * instead of sending its parts again. PGresult never leaves src/db/.
 *
 * Threads: a struct du_db is one connection used by one thread at a time; the pipeline's
 * workers share one for these rows, under a mutex (src/engine/pipeline.h).
 */
#ifndef DU_DB_MULTIPART_H
#define DU_DB_MULTIPART_H

#include <stdbool.h>
#include <stdint.h>

#include "du/db.h"
#include "du/err.h"

/* Multipart bookkeeping, one row per file and one per finished part. */
struct du_mpu_part {
	int number;
	uint64_t size;
	char md5[33];              /* "" when the part was sent with a checksum instead */
	char etag[128];
	char checksum[64];         /* x-amz-checksum value sent with it, "" for none */
};
int du_db_mpu_load(struct du_db *db, int64_t file_id, char **upload_id, uint64_t *part_size,
		    struct du_mpu_part **parts, int *nparts, struct du_err *err);
int du_db_mpu_start(struct du_db *db, int64_t file_id, const char *upload_id, uint64_t part_size,
		     struct du_err *err);
int du_db_mpu_part(struct du_db *db, int64_t file_id, const struct du_mpu_part *p, struct du_err *err);
int du_db_mpu_forget(struct du_db *db, int64_t file_id, struct du_err *err);
/* The file row that recorded this multipart upload (0: none) and that row's status. */
int du_db_mpu_owner(struct du_db *db, const char *upload_id, int64_t *file_id, char *status, size_t n,
		     struct du_err *err);

#endif

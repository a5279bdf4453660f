/*
 * db_verify.h (private): du-master verify's rows: the S3 listing against the recorded file rows,
 * each file's outcome (file_uploads.verify_*) and one verify_runs row. PGresult never leaves
 * src/db/.
 *
 * Verify runs in one transaction of its own connection:
 *
 *     du_db_verify_begin(db, &cp, err);          // temp table for the S3 listing, COPY open
 *     ... du_db_copy_row(cp, 3, {key, size, etag}) for each listed object ...
 *     du_db_copy_end(cp, err);
 *     du_db_verify_rows(db, sid, check, arg, &st, err);   // rows in key order, outcomes stored
 *     du_db_verify_finish(db, sid, &run, err);    // per-file results + verify_runs row, COMMIT
 *     // on any error: du_db_verify_abort(db)
 *
 * Threads: the connection is the verify's alone, used by one thread. Strings handed to callbacks
 * are valid during the callback only.
 */
#ifndef DU_DB_VERIFY_H
#define DU_DB_VERIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "du/db.h"
#include "du/err.h"

int du_db_verify_begin(struct du_db *db, struct du_db_copy **listing, struct du_err *err);

struct du_verify_row {
	int64_t id;
	const char *local_path;
	const char *s3_key;
	uint64_t size;
	const char *md5;          /* recorded; NULL when unknown */
	const char *etag;         /* recorded; NULL when unknown */
	int64_t mtime_ns;         /* recorded at upload; 0 when unknown */
	const char *uploaded_at;  /* ISO 8601, NULL when not uploaded */
	const char *status;       /* the row's upload status */
	int64_t session_id;       /* the session that uploaded it (an earlier one for skipped files) */
	bool listed;              /* the listing holds the key */
	uint64_t s3_size;
	const char *s3_etag;      /* NULL when not listed or without ETag */
	const char *checksum_alg; /* recorded at upload (migration 060): "crc32c", "md5", ...; NULL */
	const char *checksum;     /* S3's form: base64, md5 hex, or composite "hex-N" */
	const char *checksum_type;/* "FULL_OBJECT" or "COMPOSITE" */
	uint64_t part_size;       /* recorded part size of a multipart upload; 0 when unknown */
};
struct du_verify_outcome {
	bool ok;
	char error[512];          /* why not, when !ok */
	char verified_at[40];     /* ISO 8601 */
};
struct du_verify_counts {
	int64_t files, ok, mismatches;
	int64_t earlier;          /* rows of earlier sessions (files this session skipped) */
};
/* Every file of the session: its own rows, and for the files it skipped because an earlier session
 * of the same bucket, prefix and directory uploaded them, that session's row; in key order. */
int du_db_verify_rows(struct du_db *db, int64_t session_id,
		       int (*cb)(void *arg, const struct du_verify_row *r, struct du_verify_outcome *o), void *arg,
		       struct du_verify_counts *st, struct du_err *err);

struct du_verify_run {
	bool deep;
	int64_t files, ok, mismatches, local_missing, heads;
	const char *manifest;
	const char *hostname;
};
int du_db_verify_finish(struct du_db *db, int64_t session_id, const struct du_verify_run *run, struct du_err *err);
void du_db_verify_abort(struct du_db *db);

/*
 * A card (du-master verify without a session): the files under a directory, across every session
 * of any machine that uploaded from it to a bucket and prefix.
 */
struct du_card {
	const char *bucket, *prefix, *directory;
	int64_t project_id;       /* filled by du_db_card_find */
};
/* The newest session (not a dry run) of the card; 0 in *session_id when there is none. */
int du_db_card_find(struct du_db *db, struct du_card *c, int64_t *session_id, struct du_err *err);
/* The card's keys as the scan finds them today: COPY rows of one column, s3_key (a transaction). */
int du_db_card_begin(struct du_db *db, struct du_db_copy **keys, struct du_err *err);
/* The keys found today that no session of the card uploaded, in key order; failed_error is the
 * newest failure of the key, NULL when it never failed (not uploaded yet). */
int du_db_card_uncovered(struct du_db *db, const struct du_card *c,
			 int (*cb)(void *arg, const char *key, const char *failed_error), void *arg, struct du_err *err);
/* The card's suspect recordings (file_uploads.suspect) among the keys found today. */
int du_db_card_suspects(struct du_db *db, const struct du_card *c,
			int (*cb)(void *arg, const char *key, const char *reason), void *arg, struct du_err *err);
void du_db_card_end(struct du_db *db);

#endif

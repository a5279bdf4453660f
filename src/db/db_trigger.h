/*
 * db_trigger.h (private): the SQL of the webhook trigger. PGresult never leaves src/db/.
 *
 * The uploaded keys of a session are read through a server-side cursor inside a read-only
 * transaction, DU_TRIGGER_BATCH rows per FETCH, so however many files a session has, only one
 * batch is in memory:
 *
 *     if (du_db_trigger_files_begin(db, session_id, &err)) ...
 *     while ((rc = du_db_trigger_files_next(db, 1000, on_key, arg, &n, &err)) == DU_OK && n > 0)
 *         ;
 *     du_db_trigger_files_end(db);               // closes the cursor and ends the transaction
 *
 * Threads: a struct du_db is one connection used by one thread at a time; the cursor belongs to
 * the connection, so one walk of a session's keys at a time per connection.
 */
#ifndef DU_DB_TRIGGER_H
#define DU_DB_TRIGGER_H

#include <stdbool.h>
#include <stdint.h>

#include "du/db.h"
#include "du/err.h"

/* Does the database hold du's schema at all (a dry run does not migrate)? */
int du_db_trigger_has_schema(struct du_db *db, bool *out, struct du_err *err);

int du_db_trigger_files_begin(struct du_db *db, int64_t session_id, struct du_err *err);
/* Fetch up to batch keys, calling cb for each; *n is how many came (0 at the end). A non-zero
 * return of cb stops and is returned (err is then the callback's to fill). */
int du_db_trigger_files_next(struct du_db *db, int batch, int (*cb)(void *arg, const char *key), void *arg,
		      int *n, struct du_err *err);
/* Never fails from the caller's point of view. */
void du_db_trigger_files_end(struct du_db *db);

/* Insert one trigger_attempts row; url must already be redacted. */
int du_db_trigger_attempt(struct du_db *db, int64_t session_id, const char *url,
			  const struct du_trigger_attempt *a, struct du_err *err);

#endif

/* The SQL of the webhook trigger (see db_trigger.h). Parameters are always bound. */
#include <stdio.h>
#include <stdlib.h>

#include <libpq-fe.h>

#include "db/db_internal.h"
#include "db/db_trigger.h"

int du_db_trigger_has_schema(struct du_db *db, bool *out, struct du_err *err)
{
	PGresult *r = NULL;
	int qrc = du_db_run(db, err, "trigger schema", "SELECT to_regclass('sync_sessions') IS NOT NULL", 0, NULL, &r);
	if (qrc)
		return qrc;
	*out = du_db_get_bool(r, 0, 0);
	PQclear(r);
	return DU_OK;
}

int du_db_trigger_files_begin(struct du_db *db, int64_t session_id, struct du_err *err)
{
	char id[21];
	const char *p[] = { du_db_i64(id, session_id) };
	/* A cursor lives in a transaction; read only, so ending it any way is harmless. */
	int rc = du_db_run(db, err, "read-only transaction", "BEGIN READ ONLY", 0, NULL, NULL);
	if (rc)
		return rc;
	rc = du_db_run(db, err, "uploaded keys cursor",
			"DECLARE du_trigger_files NO SCROLL CURSOR FOR"
			" SELECT s3_key FROM file_uploads WHERE session_id = $1 AND status = 'uploaded'"
			" ORDER BY id",
			1, p, NULL);
	if (rc)
		du_db_rollback(db);
	return rc;
}

int du_db_trigger_files_next(struct du_db *db, int batch, int (*cb)(void *arg, const char *key), void *arg,
		      int *n, struct du_err *err)
{
	char sql[64];
	snprintf(sql, sizeof(sql), "FETCH %d FROM du_trigger_files", batch);
	PGresult *r = NULL;
	int qrc = du_db_run(db, err, "uploaded keys", sql, 0, NULL, &r);
	if (qrc)
		return qrc;
	int rows = PQntuples(r), rc = DU_OK;
	for (int i = 0; i < rows && rc == DU_OK; i++)
		rc = cb(arg, PQgetvalue(r, i, 0));
	PQclear(r);
	if (rc == DU_OK)
		*n = rows;
	return rc;
}

void du_db_trigger_files_end(struct du_db *db)
{
	/* Rolling back closes the cursor too, and works whatever state the transaction is in. */
	du_db_rollback(db);
}

int du_db_trigger_attempt(struct du_db *db, int64_t session_id, const char *url,
			  const struct du_trigger_attempt *a, struct du_err *err)
{
	char id[21], at[32], status[24], ms[24];
	snprintf(at, sizeof(at), "%.6f", a->attempted_at);
	snprintf(status, sizeof(status), "%ld", a->http_status);
	snprintf(ms, sizeof(ms), "%ld", a->duration_ms);
	const char *p[] = {
		du_db_i64(id, session_id), at, url, a->http_status ? status : NULL, ms,
		a->error[0] ? a->error : NULL, a->excerpt[0] ? a->excerpt : NULL,
	};
	return du_db_run(db, err, "webhook attempt",
			  "INSERT INTO trigger_attempts (session_id, attempted_at, url, http_status, duration_ms,"
			  " error, response_excerpt) VALUES ($1, to_timestamp($2::double precision), $3, $4, $5, $6, $7)",
			  7, p, NULL);
}

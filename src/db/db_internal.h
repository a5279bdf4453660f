/*
 * db_internal.h: for src/db/ files only. The raw connection and small helpers so that the
 * database files of the library (db_files, db_sessions, db_multipart, db_status, db_verify,
 * db_trigger, db_endpoints, db_budget: one per kind of row) run their SQL with one idiom,
 * du_db_run: bound parameters, a name for what the statement does, the result kept or not.
 * PGresult never leaves src/db/.
 *
 *     const char *p[2] = { du_db_i64(id, file_id), status };
 *     if ((rc = du_db_run(db, err, "file status", "UPDATE file_uploads SET status = $2 WHERE id = $1",
 *                         2, p, NULL)))
 *             return rc;
 *
 *     PGresult *r = NULL;
 *     if ((rc = du_db_run(db, err, "rows", "SELECT id, s3_key FROM file_uploads WHERE session_id = $1",
 *                         1, p, &r)))
 *             return rc;
 *     for (int i = 0; i < PQntuples(r); i++) { int64_t id = du_db_get_int64(r, i, 0); ... }
 *     PQclear(r);
 *
 * A failure is DU_ERR_DB "database: <what>: <first line of the server's message>" (or "lost the
 * connection to the database: ..." when it went away). db.c's own statements (migrations,
 * projects, sessions, COPY) use du_db_exec/du_db_query, which also keep the SQLSTATE of the
 * last failure (du_db_sqlstate) so that a unique violation (23505) is told from an outage.
 *
 * Threads: as struct du_db, one thread at a time per connection.
 */
#ifndef DU_DB_INTERNAL_H
#define DU_DB_INTERNAL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "du/db.h"

#define MAX_SECRETS 4

/* A connection and what du keeps with it. One thread at a time. */
struct du_db {
	PGconn *conn;
	char sqlstate[6];
	/* Passwords known to this connection, to scrub from libpq's messages should one ever be
	 * echoed (a malformed URL can be quoted back in part). */
	char *secrets[MAX_SECRETS];
	/* Set by du_db_status_has_views: the database has no du views (a Python-era one read by a
	 * role that may not migrate), so status reads the base tables (db_status.c). */
	bool status_plain;
};

PGconn *du_db_conn(struct du_db *db);

/* Run sql with bound text parameters (NULL = SQL NULL); any result rows are discarded. */
int du_db_exec(struct du_db *db, struct du_err *err, const char *sql, int nparams, const char *const *params);
/* Same, returning the result (PGRES_TUPLES_OK or PGRES_COMMAND_OK) for the caller to PQclear,
 * or NULL with err set. */
PGresult *du_db_query(struct du_db *db, struct du_err *err, const char *sql, int nparams,
		      const char *const *params);

int du_db_begin(struct du_db *db, struct du_err *err);
int du_db_commit(struct du_db *db, struct du_err *err);
/* Never fails from the caller's point of view: used on error paths, keeps the first error. */
void du_db_rollback(struct du_db *db);

/* SQLSTATE of the last failed statement ("" after a success or a connection failure). */
const char *du_db_sqlstate(const struct du_db *db);

/* Column helpers; a NULL value gives 0 / false / NULL. */
int64_t du_db_get_int64(const PGresult *r, int row, int col);
double du_db_get_double(const PGresult *r, int row, int col);
bool du_db_get_bool(const PGresult *r, int row, int col);
/* malloc'd copy of the value, NULL for SQL NULL (or when out of memory: check PQgetisnull). */
char *du_db_get_strdup(const PGresult *r, int row, int col);

/* Format an int64 as a parameter: buf must hold 21 bytes. Returns buf. */
const char *du_db_i64(char buf[21], int64_t v);

/* Fill err from a failed result (or the connection when r is NULL), prefixed by what. */
int du_db_fail(struct du_db *db, struct du_err *err, const PGresult *r, const char *what);

/*
 * The statements of the file, session, multipart and status rows: run sql with text parameters
 * (without any, by PQexec, so sql may hold several statements) and keep the result in *want when
 * want is non-NULL, for the caller to PQclear. A failure is DU_ERR_DB "database: <what>: <first
 * line of libpq's message>" (err may be NULL) and leaves du_db_sqlstate as it was.
 */
int du_db_run(struct du_db *db, struct du_err *err, const char *what, const char *sql, int n,
	      const char *const *p, PGresult **want);

/* The value, borrowed from r (valid until PQclear), or NULL for SQL NULL. */
const char *du_db_get_str(const PGresult *r, int row, int col);

/* Timestamps leave the database as UTC ISO 8601, whatever the server's time zone. */
#define DU_DB_ISO(col) "to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

#endif

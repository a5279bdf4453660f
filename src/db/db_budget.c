/* db_budget.c: the bytes a machine sent, by the minute (see db_budget.h). Parameters are always bound. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <libpq-fe.h>

#include "db/db_budget.h"
#include "db/db_internal.h"

int du_db_budget_add(struct du_db *db, const char *host, uint64_t bytes, struct du_err *err)
{
	char b[24];
	const char *p[] = { host, du_db_i64(b, (int64_t)bytes) };
	return du_db_run(db, err, "bytes sent",
			 "INSERT INTO bytes_sent (host, minute, bytes) VALUES ($1, date_trunc('minute', now()), $2)"
			 " ON CONFLICT (host, minute) DO UPDATE SET bytes = bytes_sent.bytes + EXCLUDED.bytes",
			 2, p, NULL);
}

int du_db_budget_spent(struct du_db *db, const char *host, time_t since, uint64_t *bytes, bool *known,
		       struct du_err *err)
{
	char t[24];
	const char *p[] = { host, du_db_i64(t, (int64_t)since) };
	PGresult *r = NULL;
	*bytes = 0;
	*known = false;
	/* Read-only commands (status) may face a database du never migrated: no table, nothing known. */
	int rc = du_db_run(db, err, "bytes sent",
			   "SELECT to_regclass('bytes_sent') IS NOT NULL", 0, NULL, &r);
	if (rc)
		return rc;
	bool have = du_db_get_bool(r, 0, 0);
	PQclear(r);
	if (!have)
		return DU_OK;
	rc = du_db_run(db, err, "bytes sent",
		       "SELECT coalesce(sum(bytes), 0) FROM bytes_sent WHERE host = $1"
		       " AND minute >= date_trunc('minute', to_timestamp($2::bigint))",
		       2, p, &r);
	if (rc)
		return rc;
	*bytes = (uint64_t)du_db_get_int64(r, 0, 0);
	*known = true;
	PQclear(r);
	return DU_OK;
}

/* db_budget.c: the bytes a machine sent, by the minute (see db_budget.h). Parameters are always bound. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int du_db_budget_spent(struct du_db *db, const char *host, const time_t *since, int n, uint64_t *bytes,
		       bool *known, struct du_err *err)
{
	char t[DU_DB_BUDGET_MAX][24], sql[1024];
	const char *p[1 + DU_DB_BUDGET_MAX] = { host };
	PGresult *r = NULL;
	size_t k = 0;
	*known = false;
	if (n < 1 || n > DU_DB_BUDGET_MAX)
		return du_err_set(err, DU_ERR_INTERNAL, "bytes sent: %d periods", n);
	memset(bytes, 0, (size_t)n * sizeof(*bytes));
	/* Read-only commands (status) may face a database du never migrated: no table, nothing known. */
	int rc = du_db_run(db, err, "bytes sent", "SELECT to_regclass('bytes_sent') IS NOT NULL", 0, NULL, &r);
	if (rc)
		return rc;
	bool have = du_db_get_bool(r, 0, 0);
	PQclear(r);
	if (!have)
		return DU_OK;
	k += (size_t)snprintf(sql + k, sizeof(sql) - k, "SELECT");
	for (int i = 0; i < n; i++) {
		p[1 + i] = du_db_i64(t[i], (int64_t)since[i]);
		k += (size_t)snprintf(sql + k, sizeof(sql) - k,
				      "%s coalesce(sum(bytes) FILTER (WHERE minute >= date_trunc('minute',"
				      " to_timestamp($%d::bigint))), 0)", i ? "," : "", i + 2);
	}
	snprintf(sql + k, sizeof(sql) - k, " FROM bytes_sent WHERE host = $1");
	if ((rc = du_db_run(db, err, "bytes sent", sql, 1 + n, p, &r)))
		return rc;
	for (int i = 0; i < n; i++)
		bytes[i] = (uint64_t)du_db_get_int64(r, 0, i);
	*known = true;
	PQclear(r);
	return DU_OK;
}

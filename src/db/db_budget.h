/*
 * db_budget.h (private): the body bytes a machine sent (bytes_sent, by the minute), which data
 * budgets are counted against. The engine's writer adds what the S3 client sent; the feeder and
 * du-master status read the sum since a period's start. PGresult never leaves src/db/.
 */
#ifndef DU_DB_BUDGET_H
#define DU_DB_BUDGET_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "du/db.h"
#include "du/err.h"

/* Add bytes to host's count for the current minute. */
int du_db_budget_add(struct du_db *db, const char *host, uint64_t bytes, struct du_err *err);
/* What host sent since each of since[0..n) (Unix times, n <= DU_DB_BUDGET_MAX), in one query;
 * *known false (and zeros) where the table is missing (a database du never migrated). */
#define DU_DB_BUDGET_MAX 8
int du_db_budget_spent(struct du_db *db, const char *host, const time_t *since, int n, uint64_t *bytes,
		       bool *known, struct du_err *err);

#endif

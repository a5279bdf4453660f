/*
 * budget.h: a data budget, "5GiB/day": at most so many body bytes sent to S3 by this machine in
 * each period (hour, day, week, month) of its local time, over all its runs. The bytes are
 * counted in PostgreSQL (bytes_sent); a run that reaches the budget stops claiming files, ends
 * resumable (exit 7) and says when the budget renews.
 *
 *     struct du_budget b;
 *     if (du_budget_parse("5GiB/day", &b, why, sizeof(why))) ...   // "5GiB/fortnight": why says so
 *     time_t start, renews;
 *     du_budget_period(&b, time(NULL), &start, &renews);          // local midnight .. next midnight
 *
 * Weeks start on Monday. Pure functions; thread-safe.
 */
#ifndef DU_BUDGET_H
#define DU_BUDGET_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum du_budget_per { DU_BUDGET_HOUR, DU_BUDGET_DAY, DU_BUDGET_WEEK, DU_BUDGET_MONTH };

struct du_budget {
	uint64_t bytes;             /* 0: no budget */
	int per;                    /* enum du_budget_per */
};

/* "SIZE/PERIOD" (SIZE as du_parse_size: 500MiB, 5GiB; PERIOD hour, day, week or month); 0, or
 * -1 with the reason in why. "off" is no budget. */
int du_budget_parse(const char *text, struct du_budget *b, char *why, size_t whysz);
/* The period of the budget that holds now: its start and the start of the next (local time). */
void du_budget_period(const struct du_budget *b, time_t now, time_t *start, time_t *renews);
/* "day", "hour", ... */
const char *du_budget_per_name(int per);

#endif

/* budget.c: data budgets, "5GiB/day" (see budget.h). */
#include "du/budget.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "du/config.h"

static const char *const pers[] = { "hour", "day", "week", "month" };

const char *du_budget_per_name(int per)
{
	return per >= 0 && per < 4 ? pers[per] : "?";
}

int du_budget_parse(const char *text, struct du_budget *b, char *why, size_t whysz)
{
	char size[64];
	memset(b, 0, sizeof(*b));
	if (!strcasecmp(text, "off"))
		return 0;
	const char *slash = strchr(text, '/');
	if (!slash || (size_t)(slash - text) >= sizeof(size)) {
		snprintf(why, whysz, "'%s' is not SIZE/PERIOD (like 5GiB/day or 500MiB/hour)", text);
		return -1;
	}
	memcpy(size, text, (size_t)(slash - text));
	size[slash - text] = '\0';
	if (du_parse_size(size, &b->bytes) || b->bytes == 0) {
		snprintf(why, whysz, "'%s': '%s' is not a size (like 5GiB or 500MiB)", text, size);
		return -1;
	}
	b->per = -1;
	for (int i = 0; i < 4; i++)
		if (!strcasecmp(slash + 1, pers[i]))
			b->per = i;
	if (b->per < 0) {
		snprintf(why, whysz, "'%s': the period is hour, day, week or month, not '%s'", text, slash + 1);
		b->bytes = 0;
		return -1;
	}
	return 0;
}

void du_budget_period(const struct du_budget *b, time_t now, time_t *start, time_t *renews)
{
	struct tm tm;
	localtime_r(&now, &tm);
	tm.tm_sec = 0;
	tm.tm_min = 0;
	if (b->per != DU_BUDGET_HOUR)
		tm.tm_hour = 0;
	if (b->per == DU_BUDGET_WEEK)
		tm.tm_mday -= (tm.tm_wday + 6) % 7;      /* back to Monday */
	if (b->per == DU_BUDGET_MONTH)
		tm.tm_mday = 1;
	tm.tm_isdst = -1;
	struct tm next = tm;
	*start = mktime(&tm);
	switch (b->per) {
	case DU_BUDGET_HOUR: next.tm_hour++; break;
	case DU_BUDGET_DAY: next.tm_mday++; break;
	case DU_BUDGET_WEEK: next.tm_mday += 7; break;
	default: next.tm_mon++; break;
	}
	next.tm_isdst = -1;
	*renews = mktime(&next);
}

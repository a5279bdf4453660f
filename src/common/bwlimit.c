/* bwlimit.c: the process-wide bandwidth cap of bwlimit.h: rclone's syntax, a token bucket. */
#include "du/bwlimit.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "du/signals.h"
#include "du/wait.h"

#define BURST_S 0.25            /* the bucket holds a quarter of a second of the rate */
#define RECHECK_S 1.0           /* the timetable and SIGUSR2 are looked at every second */
#define WAIT_SLICE_MS 100

static const char *const days[7] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

int du_bwlimit_parse_rate(const char *text, uint64_t *rate)
{
	if (!strcasecmp(text, "off")) {
		*rate = 0;
		return 0;
	}
	char *end;
	double v = strtod(text, &end);
	if (end == text || !isfinite(v) || v < 0 || !isdigit((unsigned char)text[0]))
		return -1;
	double mul = 1024;      /* a bare number is KiB/s */
	if (*end) {
		switch (tolower((unsigned char)*end)) {
		case 'b': mul = 1; break;
		case 'k': mul = 1024; break;
		case 'm': mul = 1024.0 * 1024; break;
		case 'g': mul = 1024.0 * 1024 * 1024; break;
		case 't': mul = 1024.0 * 1024 * 1024 * 1024; break;
		default: return -1;
		}
		end++;
		if (*end == 'i' && mul > 1)
			end++;
		if (*end == 'B' && mul > 1)
			end++;
		if (*end)
			return -1;
	}
	v *= mul;
	if (v >= 1e18)
		return -1;
	*rate = (uint64_t)v;
	return 0;
}

/* "[Day-]HH:MM" into day (-1: every day) and minute of the day. */
static int parse_when(const char *s, size_t n, int *day, int *minute)
{
	*day = -1;
	if (n > 4 && s[3] == '-') {
		for (int d = 0; d < 7 && *day < 0; d++)
			if (!strncasecmp(s, days[d], 3))
				*day = d;
		if (*day < 0)
			return -1;
		s += 4;
		n -= 4;
	}
	if (n != 5 || s[2] != ':' || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
	    !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
		return -1;
	int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
	if (h > 23 || m > 59)
		return -1;
	*minute = h * 60 + m;
	return 0;
}

int du_bwlimit_parse(const char *text, struct du_bwlimit_spec *spec, char *why, size_t whysz)
{
	memset(spec, 0, sizeof(*spec));
	const char *p = text;
	int entries = 0;
	while (*p) {
		while (*p == ' ' || *p == ';' || *p == '\t')
			p++;
		if (!*p)
			break;
		size_t n = strcspn(p, " ;\t");
		char tok[64];
		if (n >= sizeof(tok)) {
			snprintf(why, whysz, "'%.*s...' is not a rate or a timetable entry", 20, p);
			return -1;
		}
		memcpy(tok, p, n);
		tok[n] = '\0';
		p += n;
		entries++;
		char *comma = strchr(tok, ',');
		struct du_bwlimit_slot sl = { .day = -1 };
		if (!comma) {
			/* a single rate: the whole timetable */
			if (du_bwlimit_parse_rate(tok, &sl.rate)) {
				snprintf(why, whysz, "'%s' is not a rate (like 512k, 10M or off)", tok);
				return -1;
			}
		} else if (parse_when(tok, (size_t)(comma - tok), &sl.day, &sl.minute)) {
			snprintf(why, whysz, "'%s': '%.*s' is not a time of day (HH:MM, or Mon-HH:MM)", tok,
				 (int)(comma - tok), tok);
			return -1;
		} else if (du_bwlimit_parse_rate(comma + 1, &sl.rate)) {
			snprintf(why, whysz, "'%s': '%s' is not a rate (like 512k, 10M or off)", tok, comma + 1);
			return -1;
		}
		if (!comma && (entries > 1 || *p)) {
			/* A rate alone is the whole setting; in a timetable every entry has its time. */
			while (*p == ' ' || *p == ';' || *p == '\t')
				p++;
			if (*p || entries > 1) {
				snprintf(why, whysz, "'%s' has no time: a timetable's entries are HH:MM,RATE", tok);
				return -1;
			}
		}
		if (spec->n == DU_BWLIMIT_MAX_SLOTS) {
			snprintf(why, whysz, "more than %d timetable entries", DU_BWLIMIT_MAX_SLOTS);
			return -1;
		}
		spec->slot[spec->n++] = sl;
	}
	if (!spec->n) {
		snprintf(why, whysz, "empty: give a rate (512k, 10M, off) or a timetable");
		return -1;
	}
	/* "off" alone (or every entry off) is no cap at all. */
	bool any = false;
	for (int i = 0; i < spec->n; i++)
		any |= spec->slot[i].rate > 0;
	if (!any)
		spec->n = 0;
	return 0;
}

uint64_t du_bwlimit_rate_at(const struct du_bwlimit_spec *spec, const struct tm *tm)
{
	if (spec->n == 0)
		return 0;
	int now = tm->tm_wday * 1440 + tm->tm_hour * 60 + tm->tm_min;
	int best = -1, last = -1;
	uint64_t rate_best = 0, rate_last = 0;
	/* The latest entry at or before now this week; before the week's first, the week's last. A
	 * later entry for the same moment wins (a weekday's entry after a daily one). */
	for (int i = 0; i < spec->n; i++) {
		const struct du_bwlimit_slot *s = &spec->slot[i];
		for (int d = 0; d < 7; d++) {
			if (s->day >= 0 && s->day != d)
				continue;
			int t = d * 1440 + s->minute;
			if (t <= now && t >= best) {
				best = t;
				rate_best = s->rate;
			}
			if (t >= last) {
				last = t;
				rate_last = s->rate;
			}
		}
	}
	return best >= 0 ? rate_best : rate_last;
}

struct du_bwlimit {
	pthread_mutex_t mu;
	struct du_bwlimit_spec spec;
	uint64_t rate;              /* in force now (0: none) */
	double tokens, last, next_check;
};

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rate_now(const struct du_bwlimit *bw)
{
	if (du_signal_usr2_count() & 1)
		return 0;           /* SIGUSR2 turned the cap off */
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	return du_bwlimit_rate_at(&bw->spec, &tm);
}

/* Under mu: the rate of this second, and the bucket refilled to now. */
static void refresh(struct du_bwlimit *bw, double now)
{
	if (now >= bw->next_check) {
		uint64_t r = rate_now(bw);
		if (r != bw->rate) {
			bw->rate = r;
			if (bw->tokens > r * BURST_S)
				bw->tokens = r * BURST_S;
		}
		bw->next_check = now + RECHECK_S;
	}
	if (bw->rate) {
		bw->tokens += (now - bw->last) * (double)bw->rate;
		if (bw->tokens > bw->rate * BURST_S)
			bw->tokens = bw->rate * BURST_S;
	}
	bw->last = now;
}

struct du_bwlimit *du_bwlimit_new(const struct du_bwlimit_spec *spec)
{
	if (!spec || spec->n == 0)
		return NULL;
	struct du_bwlimit *bw = calloc(1, sizeof(*bw));
	if (!bw)
		return NULL;
	pthread_mutex_init(&bw->mu, NULL);
	bw->spec = *spec;
	bw->last = mono();
	bw->rate = rate_now(bw);
	bw->next_check = bw->last + RECHECK_S;
	bw->tokens = 0;             /* no burst at the start: the first quarter second is paced too */
	return bw;
}

void du_bwlimit_free(struct du_bwlimit *bw)
{
	if (!bw)
		return;
	pthread_mutex_destroy(&bw->mu);
	free(bw);
}

bool du_bwlimit_take(struct du_bwlimit *bw, size_t n, bool (*stop)(void *arg), void *arg)
{
	if (!bw || n == 0)
		return true;
	pthread_mutex_lock(&bw->mu);
	refresh(bw, mono());
	double wait = 0;
	uint64_t rate = bw->rate;
	if (rate) {
		bw->tokens -= (double)n;            /* reserved now, waited for outside the lock */
		if (bw->tokens < 0)
			wait = -bw->tokens / (double)rate;
	}
	pthread_mutex_unlock(&bw->mu);
	while (wait > 0) {
		if (stop && stop(arg))
			return false;
		long ms = wait * 1000 < WAIT_SLICE_MS ? (long)ceil(wait * 1000) : WAIT_SLICE_MS;
		du_wait_ms(ms, NULL, NULL);
		wait -= ms / 1000.0;
		/* a cap turned off (timetable, SIGUSR2) ends the wait */
		if (du_bwlimit_rate(bw) == 0)
			break;
	}
	return true;
}

size_t du_bwlimit_chunk(struct du_bwlimit *bw)
{
	uint64_t r = du_bwlimit_rate(bw);
	if (!r)
		return (size_t)-1;
	uint64_t c = r / 8;
	if (c < 4096)
		c = 4096;
	if (c > 512 * 1024)
		c = 512 * 1024;
	return (size_t)c;
}

uint64_t du_bwlimit_rate(struct du_bwlimit *bw)
{
	if (!bw)
		return 0;
	pthread_mutex_lock(&bw->mu);
	refresh(bw, mono());
	uint64_t r = bw->rate;
	pthread_mutex_unlock(&bw->mu);
	return r;
}

/* wait.c: the interruptible wait of wait.h. */
#include <errno.h>
#include <time.h>

#include "du/signals.h"
#include "du/wait.h"

bool du_wait_ms(long ms, bool (*stop)(void *arg), void *arg)
{
	while (ms > 0) {
		if (stop && stop(arg))
			return false;
		long step = ms < DU_WAIT_SLICE_MS ? ms : DU_WAIT_SLICE_MS;
		struct timespec ts = { 0, step * 1000000L };
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			if (stop && stop(arg))
				return false;
		ms -= step;
	}
	return !(stop && stop(arg));
}

struct timespec du_wait_deadline(clockid_t clock, long ms)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

bool du_wait_stop_level(void *level)
{
	return du_stop_level() >= *(const int *)level;
}

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

bool du_wait_stop_level(void *level)
{
	return du_stop_level() >= *(const int *)level;
}

/*
 * wait.h: du's one interruptible wait. Every pause (a backoff, a reconnect, a poll of another
 * run) sleeps through du_wait() in slices of at most DU_WAIT_SLICE_MS, asking stop() between
 * slices, so Ctrl-C or an aborted transfer ends it within a slice.
 *
 *     if (!du_wait_ms(delay_ms, du_wait_stop_level, &(int){1}))
 *         return interrupted;               // du_stop_level() reached 1 while waiting
 */
#ifndef DU_WAIT_H
#define DU_WAIT_H

#include <stdbool.h>
#include <time.h>

#define DU_WAIT_SLICE_MS 100

/* Sleep ms milliseconds; true when the whole wait passed, false when stop(arg) said stop first.
 * stop may be NULL (an uninterruptible wait). */
bool du_wait_ms(long ms, bool (*stop)(void *arg), void *arg);
/* A stop() for du_wait_ms: true once du_stop_level() >= *(const int *)level. */
bool du_wait_stop_level(void *level);
/* The time ms milliseconds from now on clock, for pthread_cond_timedwait (CLOCK_REALTIME unless
 * the condition variable was made for another clock). */
struct timespec du_wait_deadline(clockid_t clock, long ms);

#endif

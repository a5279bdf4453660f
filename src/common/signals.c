#include <signal.h>
#include <string.h>

#include "du/signals.h"

/* Written only by the handler (async-signal-safe), read by everyone. */
static volatile int stop_level;
static volatile int abort_now;   /* the second signal: transfers in flight are abandoned */
static volatile int usr2;        /* SIGUSR2s received: an odd count turns the bandwidth cap off */

static void on_signal(int sig)
{
	(void)sig;
	if (stop_level < 2)
		stop_level++;
	if (stop_level >= 2)
		abort_now = 1;
}

static void on_usr2(int sig)
{
	(void)sig;
	usr2++;
}

void du_signals_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_usr2;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR2, &sa, NULL);
	/* A dropped connection must be an error on the socket, never the end of the process. */
	signal(SIGPIPE, SIG_IGN);
}

int du_stop_level(void)
{
	return __atomic_load_n(&stop_level, __ATOMIC_RELAXED);
}

const volatile int *du_stop_flag(void)
{
	return &stop_level;
}

int du_signal_usr2_count(void)
{
	return __atomic_load_n(&usr2, __ATOMIC_RELAXED);
}

const volatile int *du_abort_flag(void)
{
	return &abort_now;
}

/*
 * signals.h: how a command learns it should stop. The first SIGINT/SIGTERM asks commands to
 * stop taking work and finish cleanly; the second asks them to abort transfers in flight.
 * SIGUSR2 toggles the bandwidth cap (bwlimit.h) off and on.
 *
 *     du_signals_install();                 // once, in du_cli_main, before the command runs
 *     while (more_work() && du_stop_level() == 0)
 *         do_one();
 *
 * Threads: the handler is the only writer; any thread may read the level and the flags.
 */
#ifndef DU_SIGNALS_H
#define DU_SIGNALS_H

#include <signal.h>

void du_signals_install(void);
int du_stop_level(void);
const volatile int *du_stop_flag(void);   /* non-zero after the first signal: du_scan_opts.stop */
const volatile int *du_abort_flag(void);  /* non-zero after the second: du_s3_set_abort */
/* SIGUSR2s received since du_signals_install: each toggles the bandwidth cap (bwlimit.h). */
int du_signal_usr2_count(void);

#endif

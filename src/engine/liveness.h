/*
 * liveness.h (private): whether the processes working on a session are alive. Every process that
 * works on a session (the first run and each --join, on any machine) is a row of session_workers
 * with its id, host, PID, process start time and boot id, and renews a heartbeat with its leases:
 * the writer thread does it during du_pipeline_run, the heartbeat below outside it (the scan). A
 * session whose workers are all gone (a local PID that is dead or reused, or a heartbeat older
 * than du_dead_after_seconds) is marked interrupted by du_reap_dead_sessions; read-only commands
 * (status) ask the same question with du_db_session_dead and write nothing.
 *
 * This header needs only the database layer: du-master status and verify read liveness without
 * the upload engine.
 */
#ifndef DU_LIVENESS_H
#define DU_LIVENESS_H

#include <stdbool.h>
#include <stdint.h>

#include "db/db_sessions.h"
#include "du/config.h"
#include "du/db.h"
#include "du/err.h"

/* Seconds a claimed row stays leased without renewal ($DU_LEASE_SECONDS, default 300). */
int du_lease_seconds(void);
/* "host:pid:random", stable for the process. */
const char *du_worker_id(void);
/* This process as a worker row (session_workers): id, host, PID, start time, boot id. */
void du_worker_self(struct du_worker *w);
/* PID is running and is the process that started at start (-1: any). */
bool du_proc_alive(long pid, int64_t start);
/* A worker on another host is taken for dead when its heartbeat is this old: two leases. */
int du_dead_after_seconds(void);
/*
 * This process's heartbeat (session_workers.heartbeat_at) renewed every lease/3 s by a thread on
 * its own connection, for the time it is not inside du_pipeline_run (whose writer renews it): the
 * scan of a big tree, so workers on other hosts do not take a scanning run for dead.
 */
struct du_heartbeat;
int du_heartbeat_start(const struct du_db_opts *dbo, int64_t session_id, struct du_heartbeat **out,
		       struct du_err *err);
void du_heartbeat_stop(struct du_heartbeat *hb); /* NULL: nothing */
/* Mark the in_progress sessions none of whose workers is alive interrupted (du_db_session_dead). */
void du_reap_dead_sessions(struct du_db *db);


#endif

/*
 * pgcluster.h: du's private PostgreSQL cluster (src/db/pgcluster.c), for users who configured no
 * database: a server of the user's own under $XDG_STATE_HOME/du/pg (or DU_PG_DIR), reachable only
 * through a Unix socket in a 0700 directory (docs/DATABASE.md). du_db_open uses it when neither
 * a URL, nor DB_* settings, nor libpq's PG* environment name a database:
 *
 *     char conninfo[1024];
 *     if (du_pgcluster_ensure(conninfo, sizeof(conninfo), &err))
 *             return err.code;               // DU_ERR_DB, with a hint where one helps
 *     // conninfo: "host='DIR/run' port=5432 user=du dbname=du connect_timeout=10"
 *
 * Threads and processes: du_pgcluster_ensure serialises creating, starting and checking the
 * cluster across processes by a lock file (DIR/lock), so any thread may call it; it announces the
 * cluster in one info line per process.
 */
#ifndef DU_PGCLUSTER_H
#define DU_PGCLUSTER_H

#include <stddef.h>

#include "du/err.h"

/* Make sure the cluster exists and runs, and write a libpq conninfo string for its database "du"
 * into conninfo_out. */
int du_pgcluster_ensure(char *conninfo_out, size_t n, struct du_err *err);
/* Where the private cluster lives (DU_PG_DIR, else $XDG_STATE_HOME/du/pg, else
 * ~/.local/state/du/pg; for root without either, /var/lib/du/pg). */
int du_pgcluster_dir(char *out, size_t n, struct du_err *err);

#endif

-- Who works on a session: one row per process (the first run and every --join'er, on any machine),
-- with its heartbeat. A session is alive while one of its workers is: on this host by PID and
-- process start time (so a reused PID is not taken for it), elsewhere by a heartbeat newer than
-- two lease periods. docs/DATABASE.md, "Dead sessions".
CREATE TABLE IF NOT EXISTS session_workers (
    session_id    bigint NOT NULL REFERENCES sync_sessions(id) ON DELETE CASCADE,
    worker        text NOT NULL,          -- the lease holder's id (host:pid:random)
    host          text NOT NULL,
    pid           int NOT NULL,
    proc_start    bigint NOT NULL,        -- /proc/PID/stat starttime (clock ticks since boot)
    boot_id       text,                   -- /proc/sys/kernel/random/boot_id: PIDs are per boot
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    ended_at      timestamptz,
    PRIMARY KEY (session_id, worker)
);

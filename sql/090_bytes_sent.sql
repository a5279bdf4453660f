-- The body bytes each machine sent to S3, re-sends included, by the minute: what a data budget
-- (--budget 5GiB/day) is counted against, over all runs of the machine, with a budget or
-- without. A budget's period (hour, day, week, month) is in the machine's local time; du sums
-- the minutes since its start. docs/DATABASE.md, "Data budgets".
CREATE TABLE IF NOT EXISTS bytes_sent (
    host    text NOT NULL,
    minute  timestamptz NOT NULL,
    bytes   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (host, minute)
);

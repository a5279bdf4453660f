-- Observability: the views the Grafana dashboard (tools/grafana/du-dashboard.json), its alert rules
-- and `du-master status` read, plus what `du-master verify` records per file and per run.
--
-- Every view carries bucket_name and s3_prefix so that the dashboard's two variables can filter
-- any panel. Rates and durations are in seconds and bytes; the *_gb/*_mib columns are the same
-- numbers in base 1024 for display. Views are plain (not materialised): the numbers are as live
-- as the rows, which du writes in batches while an upload runs.

-- ---- verification outcome ------------------------------------------------------------------------
-- verified_at already exists (001); verify_status says what the last verify found, verify_error
-- what was wrong. 'ok' with a NULL error: S3 holds the object with the recorded size and checksum
-- (and the local file, when it is still there, is the one that was uploaded).
ALTER TABLE file_uploads
    ADD COLUMN IF NOT EXISTS verify_status text,
    ADD COLUMN IF NOT EXISTS verify_error  text;
DO $verify$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'file_uploads'::regclass
                   AND conname = 'file_uploads_verify_status_check') THEN
        ALTER TABLE file_uploads ADD CONSTRAINT file_uploads_verify_status_check
            CHECK (verify_status IN ('ok', 'mismatch'));
    END IF;
END
$verify$;

-- One row per verify run: what an archive of manifests refers to.
CREATE TABLE IF NOT EXISTS verify_runs (
    id            bigserial PRIMARY KEY,
    session_id    bigint NOT NULL REFERENCES sync_sessions (id) ON DELETE CASCADE,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    deep          boolean NOT NULL DEFAULT false,
    files         bigint NOT NULL DEFAULT 0,
    files_ok      bigint NOT NULL DEFAULT 0,
    mismatches    bigint NOT NULL DEFAULT 0,
    local_missing bigint NOT NULL DEFAULT 0,
    heads         bigint NOT NULL DEFAULT 0,
    manifest      text,
    hostname      text
);
CREATE INDEX IF NOT EXISTS verify_runs_session ON verify_runs (session_id, started_at);

-- Time-series panels and the "no upload in 24 h" alert scan uploaded rows by time.
CREATE INDEX IF NOT EXISTS file_uploads_uploaded_at ON file_uploads (uploaded_at) WHERE status = 'uploaded';

-- ---- views ----------------------------------------------------------------------------------------

-- One row per file row, with its project and session: the base of the time-series panels.
-- subdir is the first path component under the session's prefix ("sensor-a" for
-- "prefix/sensor-a/2024/x.wav"), the "prefix" grouping of the files-by-type panel.
CREATE OR REPLACE VIEW du_v_files AS
SELECT f.id               AS file_id,
       f.session_id,
       s.project_id,
       p.project_name,
       p.bucket_name,
       s.s3_prefix,
       f.local_path,
       f.s3_key,
       f.file_size,
       f.file_type,
       lower(substring(f.s3_key FROM '\.([^./]+)$')) AS extension,
       CASE WHEN position('/' IN substr(f.s3_key, length(s.s3_prefix) + 2)) > 0
            THEN split_part(substr(f.s3_key, length(s.s3_prefix) + 2), '/', 1)
            ELSE '' END   AS subdir,
       f.status,
       f.retry_count,
       f.error_message,
       f.error_permanent,
       f.md5,
       f.etag,
       f.uploaded_at,
       f.last_attempt_at,
       f.created_at,
       f.updated_at,
       f.verified_at,
       f.verify_status,
       f.verify_error
FROM file_uploads f
JOIN sync_sessions s ON s.id = f.session_id
JOIN projects p ON p.id = s.project_id;

-- One row per session: counters, progress, rates, duration, ETA.
-- progress_percent counts every file the session has dealt with (uploaded, failed or skipped
-- because S3 already had it); success_percent is the share of those that are in S3.
-- files_remaining is what is still pending or in flight. Rates are over the session's whole
-- duration (scan included); eta_s is NULL unless the session runs and has uploaded something.
CREATE OR REPLACE VIEW du_v_sessions AS
WITH b AS (
    SELECT s.id AS session_id,
           s.project_id,
           p.project_name,
           p.bucket_name,
           s.s3_prefix,
           s.local_directory,
           s.status,
           s.dry_run,
           s.hostname,
           s.pid,
           s.du_version,
           s.total_files,
           s.total_size_bytes,
           s.files_uploaded,
           s.files_failed,
           s.files_skipped,
           s.bytes_uploaded,
           greatest(s.total_files - s.files_uploaded - s.files_failed - s.files_skipped, 0) AS files_remaining,
           s.started_at,
           s.completed_at,
           s.scanned_at,
           s.error_message,
           greatest(extract(epoch FROM coalesce(s.completed_at, now()) - s.started_at)::float8, 0) AS duration_s
    FROM sync_sessions s
    JOIN projects p ON p.id = s.project_id
)
SELECT b.*,
       make_interval(secs => b.duration_s)                                        AS duration,
       CASE WHEN b.total_files > 0
            THEN round(100.0 * (b.files_uploaded + b.files_failed + b.files_skipped) / b.total_files, 2)
            WHEN b.status = 'in_progress' THEN 0
            ELSE 100 END::float8                                                   AS progress_percent,
       CASE WHEN b.files_uploaded + b.files_failed + b.files_skipped > 0
            THEN round(100.0 * (b.files_uploaded + b.files_skipped)
                       / (b.files_uploaded + b.files_failed + b.files_skipped), 2)
            END::float8                                                            AS success_percent,
       CASE WHEN b.duration_s > 0 THEN b.files_uploaded / b.duration_s END          AS files_per_s,
       CASE WHEN b.duration_s > 0 THEN b.bytes_uploaded / b.duration_s END          AS bytes_per_s,
       CASE WHEN b.duration_s > 0 THEN b.bytes_uploaded / b.duration_s / 1048576.0 END AS mib_per_s,
       b.total_size_bytes / 1073741824.0                                            AS total_gb,
       b.bytes_uploaded / 1073741824.0                                              AS uploaded_gb,
       CASE WHEN b.status = 'in_progress' AND b.files_uploaded > 0 AND b.duration_s > 0
            THEN b.files_remaining / (b.files_uploaded / b.duration_s) END          AS eta_s
FROM b;

-- One row per project (bucket): sessions, files and bytes du put in S3, failures, last activity.
CREATE OR REPLACE VIEW du_v_projects AS
SELECT p.id                                                       AS project_id,
       p.project_name,
       p.bucket_name,
       p.aws_region,
       count(s.id)                                                AS sessions,
       count(s.id) FILTER (WHERE s.status = 'in_progress')        AS sessions_in_progress,
       coalesce(sum(s.total_files), 0)::bigint                    AS files_seen,
       coalesce(sum(s.files_uploaded), 0)::bigint                 AS files_uploaded,
       coalesce(sum(s.files_failed), 0)::bigint                   AS files_failed,
       coalesce(sum(s.files_skipped), 0)::bigint                  AS files_skipped,
       coalesce(sum(s.bytes_uploaded), 0)::bigint                 AS bytes_uploaded,
       coalesce(sum(s.bytes_uploaded), 0) / 1073741824.0          AS gb_uploaded,
       max(s.started_at)                                          AS last_session_at
FROM projects p
LEFT JOIN sync_sessions s ON s.project_id = p.id AND NOT s.dry_run
GROUP BY p.id, p.project_name, p.bucket_name, p.aws_region;

-- Per day (server time zone), bucket and prefix: what reached S3 and what failed that day.
CREATE OR REPLACE VIEW du_v_daily AS
SELECT date_trunc('day', coalesce(f.uploaded_at, f.last_attempt_at, f.created_at)) AS day,
       f.bucket_name,
       f.s3_prefix,
       count(DISTINCT f.session_id)                                           AS sessions,
       count(*) FILTER (WHERE f.status = 'uploaded')                          AS files_uploaded,
       coalesce(sum(f.file_size) FILTER (WHERE f.status = 'uploaded'), 0)::bigint AS bytes_uploaded,
       coalesce(sum(f.file_size) FILTER (WHERE f.status = 'uploaded'), 0) / 1073741824.0 AS gb_uploaded,
       count(*) FILTER (WHERE f.status = 'failed')                            AS files_failed,
       count(*) FILTER (WHERE f.retry_count > 0)                              AS files_retried
FROM du_v_files f
GROUP BY 1, 2, 3;

-- Files by type, prefix, first directory under the prefix, and status.
CREATE OR REPLACE VIEW du_v_file_types AS
SELECT bucket_name,
       s3_prefix,
       subdir,
       file_type,
       status,
       count(*)                        AS files,
       coalesce(sum(file_size), 0)::bigint AS bytes
FROM du_v_files
GROUP BY bucket_name, s3_prefix, subdir, file_type, status;

-- Every failed file with its error. resolved_later: a later row of the same bucket holds the key
-- as uploaded (a later session or a retry put it in S3), so the failure needs no action.
CREATE OR REPLACE VIEW du_v_failures AS
SELECT f.file_id,
       f.session_id,
       f.project_id,
       f.bucket_name,
       f.s3_prefix,
       f.local_path,
       f.s3_key,
       f.file_size,
       f.file_type,
       f.retry_count,
       coalesce(f.error_message, 'unknown') AS error_message,
       f.error_permanent,
       coalesce(f.last_attempt_at, f.updated_at) AS failed_at,
       EXISTS (SELECT 1 FROM file_uploads g
               JOIN sync_sessions gs ON gs.id = g.session_id
               WHERE g.s3_key = f.s3_key AND g.status = 'uploaded'
                 AND gs.project_id = f.project_id AND g.id <> f.file_id) AS resolved_later
FROM du_v_files f
WHERE f.status = 'failed';

-- Failures grouped by error message.
CREATE OR REPLACE VIEW du_v_errors AS
SELECT bucket_name,
       s3_prefix,
       error_message,
       bool_or(error_permanent)      AS permanent,
       count(*)                      AS files,
       count(DISTINCT session_id)    AS sessions,
       max(failed_at)                AS last_seen
FROM du_v_failures
GROUP BY bucket_name, s3_prefix, error_message;

-- Sessions still in progress, with the throughput of the last minute and the last time any of
-- their rows moved. stalled: nothing happened for 10 minutes (a killed process leaves its session
-- in_progress until a resume; this tells it from a slow one).
CREATE OR REPLACE VIEW du_v_active_sessions AS
SELECT s.*,
       r.files_last_minute,
       r.bytes_last_minute,
       r.files_last_minute / 60.0                        AS recent_files_per_s,
       r.bytes_last_minute / 60.0                        AS recent_bytes_per_s,
       r.files_uploading,
       greatest(r.last_activity_at, s.scanned_at, s.started_at) AS last_activity_at,
       greatest(r.last_activity_at, s.scanned_at, s.started_at) < now() - interval '10 minutes' AS stalled
FROM du_v_sessions s
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE f.status = 'uploaded' AND f.uploaded_at > now() - interval '1 minute') AS files_last_minute,
           coalesce(sum(f.file_size) FILTER (WHERE f.status = 'uploaded'
                                             AND f.uploaded_at > now() - interval '1 minute'), 0)::bigint AS bytes_last_minute,
           count(*) FILTER (WHERE f.status = 'uploading') AS files_uploading,
           max(f.updated_at) AS last_activity_at
    FROM file_uploads f
    WHERE f.session_id = s.session_id
) r
WHERE s.status = 'in_progress';

-- Every webhook delivery attempt with its session's bucket and prefix.
CREATE OR REPLACE VIEW du_v_trigger_attempts AS
SELECT t.id AS attempt_id,
       t.session_id,
       p.bucket_name,
       s.s3_prefix,
       t.attempted_at,
       t.url,
       t.http_status,
       coalesce(t.http_status BETWEEN 200 AND 299, false) AS succeeded,
       t.duration_ms,
       t.error
FROM trigger_attempts t
JOIN sync_sessions s ON s.id = t.session_id
JOIN projects p ON p.id = s.project_id;

-- du schema, version 1: the Python tool's tables and columns, plus what correct resumable uploads need.
-- Applied by du_db_migrate() inside one transaction under an advisory lock.
--
-- Every CREATE is IF NOT EXISTS and every column added by du is also added with ADD COLUMN IF NOT
-- EXISTS, so a database created by the Python tool is adopted in place: its rows stay, du's
-- columns appear.

-- Adoption of the Python tool's tables, before anything else: its CHECKs on the status columns
-- (which lack 'interrupted') give way to du's, and the unique keys du's upserts rely on are added.
-- Added CHECKs are NOT VALID: old rows are left alone, new and updated rows are checked.
-- On a fresh database this block does nothing.
DO $adopt$
DECLARE
    c record;
BEGIN
    IF to_regclass('sync_sessions') IS NOT NULL THEN
        FOR c IN SELECT conname FROM pg_constraint
                 WHERE conrelid = 'sync_sessions'::regclass AND contype = 'c'
                   AND pg_get_constraintdef(oid) ~ '\mstatus\M'
        LOOP
            EXECUTE format('ALTER TABLE sync_sessions DROP CONSTRAINT %I', c.conname);
        END LOOP;
        ALTER TABLE sync_sessions ADD CONSTRAINT sync_sessions_status_check
            CHECK (status IN ('in_progress', 'completed', 'completed_with_errors', 'failed', 'interrupted')) NOT VALID;
    END IF;
    IF to_regclass('file_uploads') IS NOT NULL THEN
        FOR c IN SELECT conname FROM pg_constraint
                 WHERE conrelid = 'file_uploads'::regclass AND contype = 'c'
                   AND pg_get_constraintdef(oid) ~ '\m(status|file_type)\M'
        LOOP
            EXECUTE format('ALTER TABLE file_uploads DROP CONSTRAINT %I', c.conname);
        END LOOP;
        ALTER TABLE file_uploads
            ADD CONSTRAINT file_uploads_file_type_check
                CHECK (file_type IN ('WAV', 'JPG', 'VIDEO', 'UNKNOWN')) NOT VALID,
            ADD CONSTRAINT file_uploads_status_check
                CHECK (status IN ('pending', 'uploading', 'uploaded', 'failed')) NOT VALID,
            ADD CONSTRAINT file_uploads_uploaded_has_time
                CHECK (status <> 'uploaded' OR uploaded_at IS NOT NULL) NOT VALID;
        IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'file_uploads'::regclass
                       AND contype IN ('u', 'p') AND pg_get_constraintdef(oid) = 'UNIQUE (session_id, s3_key)') THEN
            BEGIN
                ALTER TABLE file_uploads ADD CONSTRAINT file_uploads_session_key UNIQUE (session_id, s3_key);
            EXCEPTION WHEN unique_violation THEN
                RAISE EXCEPTION 'file_uploads holds several rows for one (session_id, s3_key)'
                    USING HINT = 'the older tool recorded a file twice in one session; delete the duplicates, then run du again';
            END;
        END IF;
    END IF;
    -- Nested, not AND: SQL does not promise to skip the ::regclass of a missing table.
    IF to_regclass('projects') IS NOT NULL THEN
        IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'projects'::regclass
                       AND contype IN ('u', 'p') AND pg_get_constraintdef(oid) = 'UNIQUE (bucket_name)') THEN
            ALTER TABLE projects ADD CONSTRAINT projects_bucket_name_key UNIQUE (bucket_name);
        END IF;
    END IF;
END
$adopt$;

CREATE TABLE IF NOT EXISTS projects (
    id           bigserial PRIMARY KEY,
    project_name text NOT NULL,
    bucket_name  text NOT NULL UNIQUE,
    aws_region   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz
);
ALTER TABLE projects ADD COLUMN IF NOT EXISTS updated_at timestamptz;

CREATE TABLE IF NOT EXISTS sync_sessions (
    id               bigserial PRIMARY KEY,
    project_id       bigint NOT NULL REFERENCES projects (id),
    local_directory  text NOT NULL,
    s3_prefix        text NOT NULL,
    aws_profile      text,
    max_workers      int,
    times_to_retry   int,
    use_find         boolean,
    status           text NOT NULL DEFAULT 'in_progress'
                     CONSTRAINT sync_sessions_status_check
                     CHECK (status IN ('in_progress', 'completed', 'completed_with_errors', 'failed', 'interrupted')),
    total_files      bigint NOT NULL DEFAULT 0,
    total_size_bytes bigint NOT NULL DEFAULT 0,
    files_uploaded   bigint NOT NULL DEFAULT 0,
    files_failed     bigint NOT NULL DEFAULT 0,
    files_skipped    bigint NOT NULL DEFAULT 0,
    bytes_uploaded   bigint NOT NULL DEFAULT 0,
    started_at       timestamptz NOT NULL DEFAULT now(),
    completed_at     timestamptz,
    error_message    text,
    hostname         text,
    pid              int,
    du_version       text,
    dry_run          boolean NOT NULL DEFAULT false
);
ALTER TABLE sync_sessions
    ADD COLUMN IF NOT EXISTS bytes_uploaded bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS error_message  text,
    ADD COLUMN IF NOT EXISTS hostname       text,
    ADD COLUMN IF NOT EXISTS pid            int,
    ADD COLUMN IF NOT EXISTS du_version     text,
    ADD COLUMN IF NOT EXISTS dry_run        boolean NOT NULL DEFAULT false;

CREATE TABLE IF NOT EXISTS file_uploads (
    id              bigserial PRIMARY KEY,
    session_id      bigint NOT NULL REFERENCES sync_sessions (id) ON DELETE CASCADE,
    local_path      text NOT NULL,
    s3_key          text NOT NULL,
    file_size       bigint NOT NULL,
    file_type       text NOT NULL
                    CONSTRAINT file_uploads_file_type_check
                    CHECK (file_type IN ('WAV', 'JPG', 'VIDEO', 'UNKNOWN')),
    status          text NOT NULL DEFAULT 'pending'
                    CONSTRAINT file_uploads_status_check
                    CHECK (status IN ('pending', 'uploading', 'uploaded', 'failed')),
    retry_count     int NOT NULL DEFAULT 0,
    error_message   text,
    uploaded_at     timestamptz,
    md5             text,
    etag            text,
    mtime_ns        bigint,
    inode           bigint,
    worker          text,
    lease_until     timestamptz,
    last_attempt_at timestamptz,
    verified_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT file_uploads_session_key UNIQUE (session_id, s3_key),
    -- "uploaded" is only ever written together with the moment S3 acknowledged the object.
    CONSTRAINT file_uploads_uploaded_has_time CHECK (status <> 'uploaded' OR uploaded_at IS NOT NULL)
);
ALTER TABLE file_uploads
    ADD COLUMN IF NOT EXISTS md5             text,
    ADD COLUMN IF NOT EXISTS etag            text,
    ADD COLUMN IF NOT EXISTS mtime_ns        bigint,
    ADD COLUMN IF NOT EXISTS inode           bigint,
    ADD COLUMN IF NOT EXISTS worker          text,
    ADD COLUMN IF NOT EXISTS lease_until     timestamptz,
    ADD COLUMN IF NOT EXISTS last_attempt_at timestamptz,
    ADD COLUMN IF NOT EXISTS verified_at     timestamptz,
    ADD COLUMN IF NOT EXISTS created_at      timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN IF NOT EXISTS updated_at      timestamptz NOT NULL DEFAULT now();

CREATE TABLE IF NOT EXISTS config_history (
    id          bigserial PRIMARY KEY,
    session_id  bigint NOT NULL REFERENCES sync_sessions (id) ON DELETE CASCADE,
    config_json jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A multipart upload in flight: a later run continues it with the same upload id and parts.
CREATE TABLE IF NOT EXISTS multipart_uploads (
    file_id    bigint PRIMARY KEY REFERENCES file_uploads (id) ON DELETE CASCADE,
    upload_id  text NOT NULL,
    part_size  bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS multipart_parts (
    file_id     bigint REFERENCES multipart_uploads (file_id) ON DELETE CASCADE,
    part_number int,
    size        bigint NOT NULL,
    md5         text NOT NULL,
    etag        text NOT NULL,
    PRIMARY KEY (file_id, part_number)
);

-- Every webhook delivery attempt, successful or not.
CREATE TABLE IF NOT EXISTS trigger_attempts (
    id               bigserial PRIMARY KEY,
    session_id       bigint NOT NULL REFERENCES sync_sessions (id) ON DELETE CASCADE,
    attempted_at     timestamptz NOT NULL DEFAULT now(),
    url              text NOT NULL,
    http_status      int,
    duration_ms      int,
    error            text,
    response_excerpt text
);

CREATE INDEX IF NOT EXISTS file_uploads_session_status ON file_uploads (session_id, status);
CREATE INDEX IF NOT EXISTS file_uploads_uploaded_key ON file_uploads (s3_key) WHERE status = 'uploaded';
CREATE INDEX IF NOT EXISTS file_uploads_lease ON file_uploads (status, lease_until) WHERE status = 'uploading';
CREATE INDEX IF NOT EXISTS sync_sessions_project_started ON sync_sessions (project_id, started_at);
CREATE INDEX IF NOT EXISTS sync_sessions_status ON sync_sessions (status);
CREATE INDEX IF NOT EXISTS config_history_session ON config_history (session_id, id);
CREATE INDEX IF NOT EXISTS trigger_attempts_session ON trigger_attempts (session_id, attempted_at);

-- updated_at follows every change of a file row, whoever writes it (du, a dashboard fix-up, psql).
CREATE OR REPLACE FUNCTION du_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
DROP TRIGGER IF EXISTS file_uploads_touch ON file_uploads;
CREATE TRIGGER file_uploads_touch BEFORE UPDATE ON file_uploads
    FOR EACH ROW EXECUTE FUNCTION du_touch_updated_at();

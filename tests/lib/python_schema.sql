-- The Python tool's schema, as its database.py created it (serial ids, timestamps without time zone,
-- a status CHECK without 'interrupted', none of du's columns). Tests load it into an empty database
-- and then fill it as that tool did: every file_uploads row 'pending' (its status bug), failures only
-- in sync_sessions.files_failed, no md5. docs/DATABASE.md describes it; tests/unit/test_db.c holds
-- the same DDL for the migration's unit test.
CREATE TABLE projects (
    id SERIAL PRIMARY KEY,
    project_name VARCHAR(255) NOT NULL,
    bucket_name VARCHAR(255) UNIQUE NOT NULL,
    aws_region VARCHAR(50),
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE sync_sessions (
    id SERIAL PRIMARY KEY,
    project_id INTEGER REFERENCES projects(id),
    local_directory TEXT NOT NULL,
    s3_prefix TEXT NOT NULL,
    aws_profile VARCHAR(100),
    max_workers INTEGER,
    times_to_retry INTEGER,
    use_find BOOLEAN,
    status VARCHAR(50) DEFAULT 'in_progress'
        CHECK (status IN ('in_progress', 'completed', 'completed_with_errors', 'failed')),
    total_files INTEGER DEFAULT 0,
    total_size_bytes BIGINT DEFAULT 0,
    files_uploaded INTEGER DEFAULT 0,
    files_failed INTEGER DEFAULT 0,
    files_skipped INTEGER DEFAULT 0,
    started_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    completed_at TIMESTAMP
);
CREATE TABLE file_uploads (
    id SERIAL PRIMARY KEY,
    session_id INTEGER REFERENCES sync_sessions(id),
    local_path TEXT NOT NULL,
    s3_key TEXT NOT NULL,
    file_size BIGINT NOT NULL,
    file_type VARCHAR(20) CHECK (file_type IN ('WAV', 'JPG', 'VIDEO', 'UNKNOWN')),
    status VARCHAR(50) DEFAULT 'pending' CHECK (status IN ('pending', 'uploading', 'uploaded', 'failed')),
    retry_count INTEGER DEFAULT 0,
    error_message TEXT,
    uploaded_at TIMESTAMP
);
CREATE TABLE config_history (
    id SERIAL PRIMARY KEY,
    session_id INTEGER REFERENCES sync_sessions(id),
    config_json JSONB NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

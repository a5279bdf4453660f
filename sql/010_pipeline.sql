-- What the upload pipeline needs beyond the Python tool's schema.
-- scanned_at: the session's files are registered (a resume need not scan again).
-- error_permanent: the failure cannot heal by retrying (file gone, permission or access denied).
ALTER TABLE sync_sessions ADD COLUMN IF NOT EXISTS scanned_at timestamptz;
ALTER TABLE file_uploads ADD COLUMN IF NOT EXISTS error_permanent boolean NOT NULL DEFAULT false;

-- Claiming pending files reads only pending rows, in id order, however many are done already:
-- without this, every claim filtered and sorted the whole session (quadratic over a run).
CREATE INDEX IF NOT EXISTS file_uploads_session_status_id ON file_uploads (session_id, status, id);

-- The sync decision (docs/DATABASE.md, "What a run uploads"): rows decide only for the endpoint
-- they were made against, each file row says why it was registered, and a row to check carries
-- what the worker compares the file with.

-- The S3 endpoint a session talked to: the configured s3_endpoint, or AWS's regional endpoint.
-- Sessions from before this column (the Python tool's, du's older ones) have none and count for
-- AWS only.
ALTER TABLE sync_sessions
    ADD COLUMN IF NOT EXISTS endpoint text,
    -- How the scan's files were decided, by reason: {"new": 3, "already_uploaded": 120, ...}.
    ADD COLUMN IF NOT EXISTS decision jsonb;

ALTER TABLE file_uploads
    -- Why the row is here: 'new', 'missing in S3', 'changed', 'unverifiable (by date)', 'check'
    -- (to be hashed by a worker), then 'unchanged (checked)' when the check found S3 holds it.
    ADD COLUMN IF NOT EXISTS reason text,
    -- The listed ETag to compare the file with (a 'check' row), and the recorded whole-file md5
    -- of an earlier upload of that same object, when the ETag alone cannot say (multipart).
    ADD COLUMN IF NOT EXISTS check_etag text,
    ADD COLUMN IF NOT EXISTS check_md5 text,
    -- The part size of a multipart upload (NULL: one PUT), so its composite ETag can be
    -- recomputed from the local file.
    ADD COLUMN IF NOT EXISTS part_size bigint;

-- What du learnt of an S3 endpoint, so that a later run starts in the right mode instead of learning
-- it again by sending bodies twice. checksum_echo: whether the server answers a body sent with
-- x-amz-checksum-* with the same header (it verified it). False: checksum_algorithm=auto sends
-- Content-MD5 from the first body on. A fact older than 30 days is probed again (a server upgraded).
-- docs/S3.md, "Checksums".
CREATE TABLE IF NOT EXISTS s3_endpoints (
    endpoint       text PRIMARY KEY,          -- the configured endpoint URL, or AWS's of the region
    checksum_echo  boolean NOT NULL,
    learnt_at      timestamptz NOT NULL DEFAULT now(),
    session_id     bigint                     -- the session that learnt it (no foreign key: kept
                                               -- when the session is deleted)
);

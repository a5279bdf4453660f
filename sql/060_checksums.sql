-- Checksums S3 verifies (x-amz-checksum-*), recorded per file: the algorithm ('crc32c', 'crc64nvme',
-- 'crc32', 'sha256' or 'md5'), its value in S3's form (base64 for the CRCs and SHA-256; for md5,
-- the multipart composite "hex-N" that S3 returns as the ETag, or the object's md5 hex), and its
-- type ('FULL_OBJECT': of the whole object; 'COMPOSITE': of the parts' checksums).
-- Rows written before this migration (and by the Python tool) have none: verify then uses md5/etag.
ALTER TABLE file_uploads
    ADD COLUMN IF NOT EXISTS checksum_algorithm text,
    ADD COLUMN IF NOT EXISTS checksum_value     text,
    ADD COLUMN IF NOT EXISTS checksum_type      text;

-- A part sent with x-amz-checksum-<alg> carries that value instead of (or besides) its md5, so a
-- later run can continue the upload and combine the whole object's CRC without reading it again.
ALTER TABLE multipart_parts
    ADD COLUMN IF NOT EXISTS checksum text;

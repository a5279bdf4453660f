-- A recording that is probably broken (a 0-byte media file, a WAV whose header is zeros or says
-- another size, a JPEG without a start of image), with the reason; NULL for a sound one. It is
-- still uploaded unless suspect_policy says otherwise. docs/DATABASE.md.
ALTER TABLE file_uploads ADD COLUMN IF NOT EXISTS suspect text;

-- The recorder's own facts, read by du from each file's header as it was uploaded (WAV fmt and
-- data, AudioMoth's comment, GUANO, EXIF): a JSON object with recorded_at, device, make, model,
-- sample_rate, channels, duration_s, gain, battery, temperature, each only when known; NULL for a
-- file with none (or uploaded with sensor_metadata off, or by the Python tool). docs/DATABASE.md.
ALTER TABLE file_uploads ADD COLUMN IF NOT EXISTS sensor jsonb;

-- One row per uploaded recording with facts: what a person asks of a card ("which recorder, when,
-- how long") without opening files. recorded_at is as the file states it: recorded_utc when the
-- file gives its zone or offset (du wrote "...Z"), else NULL; recorded_day is that moment's UTC day,
-- or the day as written when the file gives no zone.
CREATE OR REPLACE VIEW du_recordings AS
SELECT f.s3_key,
       p.bucket_name,
       s.s3_prefix,
       f.session_id,
       p.project_name,
       f.sensor ->> 'device'      AS device,
       f.sensor ->> 'make'        AS make,
       f.sensor ->> 'model'       AS model,
       f.sensor ->> 'recorded_at' AS recorded_at,
       CASE WHEN f.sensor ->> 'recorded_at' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$'
            THEN (f.sensor ->> 'recorded_at')::timestamptz END AS recorded_utc,
       CASE WHEN f.sensor ->> 'recorded_at' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$'
            THEN ((f.sensor ->> 'recorded_at')::timestamptz AT TIME ZONE 'UTC')::date
            WHEN f.sensor ->> 'recorded_at' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$'
            THEN (f.sensor ->> 'recorded_at')::timestamp::date END AS recorded_day,
       (f.sensor ->> 'duration_s')::float8 AS duration_s,
       (f.sensor ->> 'sample_rate')::int   AS sample_rate,
       (f.sensor ->> 'channels')::int      AS channels,
       f.sensor ->> 'gain'        AS gain,
       f.sensor ->> 'battery'     AS battery,
       f.sensor ->> 'temperature' AS temperature,
       f.file_size,
       f.uploaded_at
FROM file_uploads f
JOIN sync_sessions s ON s.id = f.session_id
JOIN projects p ON p.id = s.project_id
WHERE f.status = 'uploaded' AND f.sensor IS NOT NULL;

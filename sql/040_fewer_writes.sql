-- Fewer writes per file row: each file row is written three times (registered, claimed, finished),
-- and each version of it goes into every index whose columns changed.

-- (session_id, status, id) from 030 serves every query (session_id, status) did: one index less to
-- write on every claim and every outcome.
DROP INDEX IF EXISTS file_uploads_session_status;

-- du's own updates set updated_at themselves; the trigger stays for everyone else's (a dashboard
-- fix-up, psql). A WHEN condition is checked without calling the function.
DROP TRIGGER IF EXISTS file_uploads_touch ON file_uploads;
CREATE TRIGGER file_uploads_touch BEFORE UPDATE ON file_uploads
    FOR EACH ROW WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)
    EXECUTE FUNCTION du_touch_updated_at();

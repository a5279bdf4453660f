# Helpers for 40-trigger.bats (load after helpers): a webhook receiver per test, sessions made with SQL.
#
#   recv_start [receiver.py options]   start tests/lib/receiver.py; exports RECV_URL, RECV_LOG, RECV_DIR
#   recv_stop                          stop it by PID (call from teardown: runs even when a test failed)
#   recv_count                         how many requests it received
#   recv_py 'EXPR'                     print EXPR evaluated with reqs = the recorded requests (list of dicts)
#   recv_verify I SECRET               True/False: docs/WEBHOOK.md's verification of request I (0-based)
#   mk_session BUCKET PREFIX NFILES    a finished session with NFILES uploaded files; prints its id
#   attempts SID                       "status,status,..." of the session's trigger_attempts ('-' for none)

recv_start() {
	local d="$BATS_TEST_TMPDIR/recv"
	du_recv_start "$d" "$@" || return 1
	RECV_DIR=$d
	RECV_LOG="$d/requests.jsonl"
	RECV_URL="$DU_RECV_URL/hooks/du"
	export RECV_URL RECV_LOG RECV_DIR
}

recv_stop() {
	[ -n "${RECV_DIR:-}" ] && du_recv_stop "$RECV_DIR"
	return 0
}

recv_count() {
	if [ -f "$RECV_LOG" ]; then wc -l <"$RECV_LOG" | tr -d ' '; else echo 0; fi
}

recv_py() {
	/usr/bin/python3 - "$RECV_LOG" "$1" <<'PY'
import json, os, sys
reqs = [json.loads(l) for l in open(sys.argv[1])] if os.path.exists(sys.argv[1]) else []
print(eval(sys.argv[2]))
PY
}

recv_verify() {
	/usr/bin/python3 - "$RECV_LOG" "$1" "$2" <<'PY'
import base64, json, sys

# As in docs/WEBHOOK.md, word for word.
import hashlib, hmac, time

def du_verify(secret: bytes, headers, body: bytes, tolerance=300) -> bool:
    ts = headers.get("X-Du-Timestamp", "")
    sig = headers.get("X-Du-Signature", "")
    if not ts.isdigit() or abs(time.time() - int(ts)) > tolerance:
        return False
    mac = hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("sha256=" + mac, sig)

class Headers(dict):  # case-insensitive like a web framework's
    def get(self, k, d=None):
        return dict.get(self, k.lower(), d)

r = [json.loads(l) for l in open(sys.argv[1])][int(sys.argv[2])]
print(du_verify(sys.argv[3].encode(), Headers(r["headers"]), base64.b64decode(r["body_b64"])))
PY
}

mk_session() {
	local bucket=$1 prefix=$2 n=$3 sid
	sql "INSERT INTO projects (project_name, bucket_name, aws_region) VALUES ('proj-$bucket', '$bucket', 'eu-west-1')
	     ON CONFLICT (bucket_name) DO NOTHING" >/dev/null
	sid=$(sql "INSERT INTO sync_sessions (project_id, local_directory, s3_prefix, status, total_files,
	             total_size_bytes, files_uploaded, files_failed, files_skipped, started_at, completed_at)
	           SELECT id, '/data/$bucket', '$prefix', 'completed_with_errors', $n + 1, $n * 1000 + 7, $n, 1, 0,
	             '2024-05-01T08:00:00Z', '2024-05-01T09:30:15Z'
	           FROM projects WHERE bucket_name = '$bucket' RETURNING id")
	sql "INSERT INTO file_uploads (session_id, local_path, s3_key, file_size, file_type, status, uploaded_at)
	     SELECT $sid, '/data/f' || g || '.wav', '$prefix/f' || g || '.wav', 1000, 'WAV', 'uploaded', now()
	     FROM generate_series(1, $n) g;
	     INSERT INTO file_uploads (session_id, local_path, s3_key, file_size, file_type, status, error_message)
	     VALUES ($sid, '/data/bad.wav', '$prefix/bad.wav', 7, 'WAV', 'failed', 'permission denied')" >/dev/null
	echo "$sid"
}

attempts() {
	sql "SELECT coalesce(string_agg(coalesce(http_status::text, '-'), ',' ORDER BY id), '')
	     FROM trigger_attempts WHERE session_id = $1"
}

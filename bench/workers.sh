#!/usr/bin/env bash
# Files/s of 1, 2 and 4 du-upload processes draining one session (the first process plus --join
# workers) against s3rver, with PostgreSQL tracking. Usage: bash bench/workers.sh [FILES] [WORKERS_EACH]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/lib/servers.sh"
files=${1:-5000}
each=${2:-8}
tmp=$(mktemp -d /tmp/du-workers.XXXXXX)
chmod 755 "$tmp"
cleanup() { du_pg_stop "$tmp/pg"; du_kill_pidfile "$tmp/s3/s3rver.pid"; rm -rf "$tmp"; }
trap cleanup EXIT
du_pg_start "$tmp/pg" >/dev/null
DU_TEST_BUCKETS=bench du_s3rver_start "$tmp/s3"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL_S3="$DU_S3RVER_URL"
/usr/bin/python3 - "$tmp/tree" "$files" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, f"sensor-{i % 10:02d}", f"day-{i // 500:03d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"rec_{i:07d}.wav"), "wb") as f:
        f.write(os.urandom(4096))
PY
echo "| processes | workers each | files | wall s | files/s |"
echo "|---|---|---|---|---|"
for procs in 1 2 4; do
	prefix="w$procs"
	t0=$(date +%s.%N)
	"$top/bin/du-upload" -d "$tmp/tree" -b bench -p "$prefix" -w "$each" --progress=none -q &
	first=$!
	sid=""
	for _ in $(seq 1 400); do
		sid=$(psql -qtAX -c "SELECT id FROM sync_sessions WHERE s3_prefix = '$prefix' AND scanned_at IS NOT NULL" 2>/dev/null || true)
		[ -n "$sid" ] && break
		sleep 0.02
	done
	pids=()
	for _ in $(seq 2 "$procs"); do
		"$top/bin/du-upload" -d "$tmp/tree" -b bench -p "$prefix" -w "$each" --join "$sid" --progress=none -q &
		pids+=($!)
	done
	wait "$first"
	for p in "${pids[@]}"; do wait "$p"; done
	t1=$(date +%s.%N)
	st=$(psql -qtAX -c "SELECT status || ' ' || files_uploaded FROM sync_sessions WHERE id = $sid")
	[ "$st" = "completed $files" ] || { echo "session $sid: $st" >&2; exit 1; }
	/usr/bin/python3 -c "import sys; w=float(sys.argv[2])-float(sys.argv[1]); print(f'| {sys.argv[3]} | {sys.argv[4]} | {sys.argv[5]} | {w:.2f} | {int(sys.argv[5])/w:.0f} |')" \
		"$t0" "$t1" "$procs" "$each" "$files"
done

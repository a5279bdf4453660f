#!/usr/bin/env bash
# make demo: a generated sensor tree and an s3rver under demo-state/, uploaded with du-master on du's
# own default database (the private PostgreSQL cluster a first run creates: /var/lib/du/pg for root,
# ~/.local/state/du/pg otherwise; DU_PG_DIR overrides), a second run that uploads nothing, and the
# psql command to look at the rows. Works as root from anywhere (a clone under /root included).
#   bash scripts/demo.sh        run the demo (servers stay up so the rows can be inspected)
#   bash scripts/demo.sh stop   stop the demo's servers
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
state="$top/demo-state"
. "$top/tests/lib/servers.sh"

stop() {
	du_kill_pidfile "$state/s3/s3rver.pid"
	du_kill_pidfile "$state/receiver.pid"
}
if [ "${1:-}" = "stop" ]; then
	stop
	echo "demo servers stopped"
	exit 0
fi

stop
rm -rf "$state"
mkdir -p "$state"
chmod 755 "$state"
echo "== starting s3rver under $state"
DU_TEST_BUCKETS=field-recordings du_s3rver_start "$state/s3"
# No database configured: du uses (and on the first run creates) its private cluster.
unset DATABASE_URL PGHOST PGPORT PGUSER PGDATABASE PGSERVICE DB_HOST DB_PORT DB_NAME DB_USER DB_PASSWORD
if [ -n "${DU_PG_DIR:-}" ]; then pgdir=$DU_PG_DIR
elif [ "$(id -u)" -eq 0 ]; then pgdir=/var/lib/du/pg
else pgdir=${XDG_STATE_HOME:-$HOME/.local/state}/du/pg
fi

echo "== generating a sensor tree: 300 recordings and images, one 24 MiB video, and files to ignore"
/usr/bin/python3 "$top/tests/lib/mktree.py" "$state/card01" --files 300 --big $((24 * 1024 * 1024))

export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL_S3="$DU_S3RVER_URL" DU_MULTIPART_THRESHOLD=16MiB DU_MULTIPART_CHUNK_SIZE=8MiB
cat >"$state/config.json" <<JSON
{
  "local_directory": "$state/card01",
  "bucket_name": "field-recordings",
  "s3_prefix": "site-7/2024-05",
  "max_workers": 8
}
JSON

echo "== starting a webhook receiver on 127.0.0.1"
/usr/bin/python3 "$top/tests/lib/receiver.py" --port-file "$state/receiver.port" --log "$state/webhook.jsonl" \
	--pid-file "$state/receiver.pid" >"$state/receiver.log" 2>&1 &
echo $! >"$state/receiver.pid"
for _ in $(seq 1 100); do [ -s "$state/receiver.port" ] && break; sleep 0.05; done
export DU_ENDPOINT_URL="http://127.0.0.1:$(cat "$state/receiver.port")/hooks/du"

echo
echo "== du-master -c demo-state/config.json   (upload, retry what failed, notify the webhook)"
"$top/bin/du-master" -c "$state/config.json" || true
echo
echo "== the webhook received:"
/usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(r["method"], r["path"], "->", r["status"])
    print(json.dumps(json.loads(r["body"]), indent=2))
' "$state/webhook.jsonl"
echo
echo "== du-upload again: nothing is uploaded twice"
"$top/bin/du-upload" -c "$state/config.json" --progress=none || true
echo
echo "== the rows"
psql -X -h "$pgdir/run" -U du du -c "SELECT id, status, total_files, files_uploaded, files_skipped, files_failed,
                   pg_size_pretty(total_size_bytes) AS size, completed_at - started_at AS took
            FROM sync_sessions ORDER BY id DESC LIMIT 4"
echo "Look around with:"
echo "  psql -h '$pgdir/run' -U du du"
echo "  e.g. SELECT s3_key, status, md5, file_size FROM file_uploads LIMIT 10;"
echo "Stop the demo's servers with: bash scripts/demo.sh stop (du's private cluster keeps running for"
echo "the next run; docs/DATABASE.md says how to stop it)"

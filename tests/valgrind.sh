#!/usr/bin/env bash
# Memcheck pass (make valgrind): every unit test, then one end-to-end upload (du-upload against
# a private PostgreSQL and s3rver, 20 files, one of them multipart, three of them recordings with facts
# (sensor.h), with tags s3rver drops and du sets after), all under
#   valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
# Any memory error or definite leak fails. Prints the time taken.
#   bash tests/valgrind.sh build/std
set -u
out=${1:-build/std}
top=$(cd "$(dirname "$0")/.." && pwd)
start=$(date +%s)
vg="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
vg="$vg --show-leak-kinds=definite --track-origins=yes --suppressions=$top/tests/valgrind.supp"
command -v valgrind >/dev/null || { echo "valgrind: not installed (sh scripts/deps.sh)" >&2; exit 1; }

rc=0
echo "valgrind: unit tests" >&2
DU_VALGRIND="$vg" bash "$top/tests/run-unit.sh" "$top/$out/tests" || rc=1

echo "valgrind: one end-to-end upload" >&2
. "$top/tests/lib/servers.sh"
tmp=$(mktemp -d /tmp/du-valgrind.XXXXXX)
chmod 755 "$tmp"
cleanup() {
	du_pg_stop "$tmp/pg"
	du_kill_pidfile "$tmp/s3/s3rver.pid"
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
if du_pg_start "$tmp/pg" && du_s3rver_start "$tmp/s3"; then
	mkdir -p "$tmp/tree/a" "$tmp/tree/b"
	for i in $(seq 3 19); do head -c $((i * 1000)) /dev/urandom >"$tmp/tree/a/rec_$i.wav"; done
	# Recordings with facts (sensor.h) and tags s3rver drops (set after the PUT and after Complete).
	sf() { /usr/bin/python3 "$top/tests/lib/sensorfiles.py" "$@"; }
	sf audiomoth "$tmp/tree/a/rec_1.wav" --when "10:30:00 01/05/2021" --zone UTC+1 --device 24F319055FDF2F5B
	sf exif "$tmp/tree/a/rec_2.jpg" --when "2024:05:01 03:00:00" --offset +02:00 --make RECONYX --model HP2X --serial H2X0042
	sf guano "$tmp/tree/b/big.wav" --timestamp 2019-06-01T22:15:00-05:00 --serial S4U12345 --seconds 11
	export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
	export AWS_ENDPOINT_URL_S3="$DU_S3RVER_URL" AWS_EC2_METADATA_DISABLED=true
	export AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_CONFIG_FILE=/nonexistent
	unset AWS_ENDPOINT_URL
	# shellcheck disable=SC2086
	if ! $vg "$top/$out/bin/du-upload" -d "$tmp/tree" -b du-test -p valgrind -w 4 --progress=none \
		--multipart-threshold=5MiB --multipart-chunk-size=5MiB --tag project=bats-2026 --metadata site=a1; then
		echo "valgrind: du-upload failed or had memory errors" >&2
		rc=1
	elif [ "$(psql -qtAX -c "SELECT count(*) FROM file_uploads WHERE status = 'uploaded'")" -ne 20 ]; then
		echo "valgrind: du-upload did not upload the 20 files" >&2
		rc=1
	elif [ "$(psql -qtAX -c "SELECT count(*) FROM file_uploads WHERE sensor IS NOT NULL")" -ne 3 ]; then
		echo "valgrind: du-upload did not record the facts of the 3 recordings" >&2
		rc=1
	fi
else
	echo "valgrind: cannot start the servers" >&2
	rc=1
fi
echo "valgrind: $([ $rc -eq 0 ] && echo clean || echo FAILED) in $(($(date +%s) - start)) s" >&2
exit $rc

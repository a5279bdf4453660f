#!/usr/bin/env bash
# Do the installed tools work? --version, then a small tree uploaded by BINDIR/du-upload to a
# throwaway s3rver, on whatever database the environment names (none: du's private cluster, as
# a first run on a new machine), the session read back with du-master status --json and checked
# with du-master verify. make fresh-check runs it after 'apt-get install ./build/du_*.deb';
# tests/e2e/97-packaging.bats runs it on the package's files unpacked with dpkg-deb -x.
#   bash scripts/installed-check.sh [BINDIR]     (default /usr/bin)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bindir=${1:-/usr/bin}
. "$top/tests/lib/servers.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/du-installed.XXXXXX")
chmod 755 "$work"
trap 'du_kill_pidfile "$work/s3/s3rver.pid"; rm -rf "$work"' EXIT
fail() { echo "installed-check: FAILED: $*" >&2; exit 1; }

"$bindir/du-upload" --version
DU_TEST_BUCKETS=installed-check du_s3rver_start "$work/s3"
mkdir -p "$work/card/site-1"
for i in 1 2 3 4 5; do head -c $((i * 1000)) /dev/urandom >"$work/card/site-1/rec_$i.wav"; done
echo "not a recording" >"$work/card/site-1/notes.txt"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL_S3="$DU_S3RVER_URL"
unset AWS_ENDPOINT_URL AWS_PROFILE
cd "$work"
"$bindir/du-upload" -d "$work/card" -b installed-check -p installed --checksum-algorithm=md5 \
	--progress=json >upload.jsonl ||
	fail "du-upload exited $?: $(tail -n 3 upload.jsonl)"
sid=$(sed -n 's/^{"event":"summary","session_id":\([0-9]*\),.*/\1/p' upload.jsonl)
[ -n "$sid" ] || fail "no summary line in du-upload's output"
"$bindir/du-master" status "$sid" --json >status.json || fail "du-master status $sid exited $?"
grep -q '"status":"completed"' status.json || fail "session $sid is not completed: $(cat status.json)"
grep -q '"files_uploaded":5,' status.json || fail "session $sid did not upload 5 files: $(cat status.json)"
"$bindir/du-master" verify "$sid" >verify.txt || fail "du-master verify $sid exited $?: $(cat verify.txt)"
[ -f "$work/s3/s3data/installed-check/installed/site-1/rec_5.wav._S3rver_object" ] ||
	fail "s3rver holds no installed/site-1/rec_5.wav"
echo "installed-check: $bindir/du-upload uploaded 5 files in session $sid (completed, verified)"

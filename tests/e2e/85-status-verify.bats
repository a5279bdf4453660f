#!/usr/bin/env bats
# du-master status and verify against PostgreSQL and s3rver: a finished and a running session; a
# clean verify, objects deleted or overwritten behind du's back, local files changed or gone.

load helpers

setup_file() { du_e2e_start s3rver; }

teardown_file() { du_e2e_stop; }

setup() {
	du_env_s3rver
	cd "$BATS_TEST_TMPDIR"
}

# upload PREFIX FILES: a fresh tree uploaded under PREFIX; prints the session id.
upload() {
	local tree="$BATS_TEST_TMPDIR/tree-$1"
	/usr/bin/python3 "$DU_TOP/tests/lib/mktree.py" "$tree" --files "$2" --seed "${#1}"
	du-upload -d "$tree" -b du-test -p "$1" -w 4 --progress=none >"$BATS_TEST_TMPDIR/up-$1.log" 2>&1
	sql "SELECT max(id) FROM sync_sessions WHERE s3_prefix = '$1'"
}

# Rows of a CSV file without its header (fields may hold newlines).
csv_rows() {
	/usr/bin/python3 -c 'import csv, sys; print(sum(1 for _ in csv.reader(open(sys.argv[1], newline=""))) - 1)' "$1"
}

@test "status: recent sessions and a finished session, text and JSON" {
	sid=$(upload st-done 40)
	run du-master status
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == SESSION*STATUS*BUCKET/PREFIX* ]]
	[[ "$output" == *"$sid"*"completed"*"du-test/st-done"*" 40 "*" 40 "* ]]
	run du-master status "$sid"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"status      completed"* ]]
	[[ "$output" == *"progress    100.0 % of 40 files: 40 uploaded, 0 failed, 0 skipped"* ]]
	[[ "$output" == *"files       pending 0, uploading 0, uploaded 40, failed 0"* ]]
	[[ "$output" != *"eta "* ]]
	run du-master status "$sid" --json
	echo "$output"
	[ "$status" -eq 0 ]
	bytes=$(sql "SELECT sum(file_size) FROM file_uploads WHERE session_id = $sid")
	echo "$output" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
sid, nbytes = int(sys.argv[1]), int(sys.argv[2])
assert d["session_id"] == sid and d["status"] == "completed", d
assert d["files_by_status"] == {"pending": 0, "uploading": 0, "uploaded": 40, "failed": 0}, d
assert d["bytes_uploaded"] == nbytes == d["bytes_by_status"]["uploaded"], d
assert d["progress_percent"] == 100 and d["success_percent"] == 100 and d["eta_s"] is None, d
assert d["top_errors"] == [] and d["s3_prefix"] == "st-done" and d["bucket_name"] == "du-test", d
' "$sid" "$bytes"
	run du-master status --json
	[ "$status" -eq 0 ]
	echo "$output" | /usr/bin/python3 -c 'import json, sys; a = json.load(sys.stdin); assert a[0]["session_id"] == int(sys.argv[1]), a' "$sid"
}

@test "status: a session running in another process shows in_progress, counts and an ETA" {
	tree="$BATS_TEST_TMPDIR/tree-big"
	/usr/bin/python3 "$DU_TOP/tests/lib/mktree.py" "$tree" --files 3000 --seed 9
	du-upload -d "$tree" -b du-test -p st-run -w 1 --progress=none >"$BATS_TEST_TMPDIR/run.log" 2>&1 3>&- &
	pid=$!
	sid=""
	for _ in $(seq 1 300); do
		sid=$(sql "SELECT id FROM sync_sessions WHERE s3_prefix = 'st-run' AND files_uploaded >= 20")
		[ -n "$sid" ] && break
		sleep 0.1
	done
	[ -n "$sid" ]
	run du-master status "$sid"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"status      in_progress (pid $pid on "* ]]
	[[ "$output" == *"running for"* ]]
	[[ "$output" =~ eta\ +[0-9] ]]
	run du-master status "$sid" --json
	echo "$output"
	kill -INT "$pid"
	wait "$pid" || true
	cat "$BATS_TEST_TMPDIR/run.log"
	echo "$output" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
f = d["files_by_status"]
assert d["status"] == "in_progress", d
assert d["total_files"] == 3000, d
assert f["uploaded"] >= 20 and f["pending"] > 0, f
assert f["pending"] + f["uploading"] + f["uploaded"] + f["failed"] == 3000, f
assert 0 < d["progress_percent"] < 100 and d["eta_s"] is not None and d["eta_s"] > 0, d
assert d["files_per_s"] > 0 and d["duration_s"] > 0, d
'
	# After Ctrl-C the session is resumable and says so.
	run du-master status "$sid"
	[[ "$output" == *"status      interrupted"* ]]
}

@test "status: bad arguments and unknown sessions" {
	run du-master status abc
	[ "$status" -eq 2 ]
	[[ "$output" == *"'abc' is not a session id"* ]]
	run du-master status 1 2
	[ "$status" -eq 2 ]
	run du-master status 999999
	[ "$status" -eq 3 ]
	[[ "$output" == *"session 999999 does not exist"* ]]
	run du-master verify
	[ "$status" -eq 2 ]
	[[ "$output" == *"verify needs a session id"* ]]
	run du-master frobnicate
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown command 'frobnicate'"* ]]
	# The upload path still needs its settings.
	run du-master -b du-test -p x
	[ "$status" -eq 3 ]
	[[ "$output" == *"local_directory"* ]]
}

@test "verify: a clean session writes the manifest and says the source may be deleted" {
	sid=$(upload vf-clean 30)
	run du-master verify "$sid"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[${#lines[@]}-1]}" == "session $sid: all 30 files are in s3://du-test/vf-clean/ intact; the source may be deleted. Manifest: du-manifest-$sid.csv, du-manifest-$sid.jsonl" ]]
	[[ "$output" != *MISMATCH* ]]
	[ "$(csv_rows "du-manifest-$sid.csv")" -eq 30 ]
	[ "$(wc -l <"du-manifest-$sid.jsonl")" -eq 30 ]
	head -n 1 "du-manifest-$sid.csv" | grep -qx 'local_path,s3_key,size,md5,etag,uploaded_at,verified_at,verify_status,verify_error,checksum_algorithm,checksum,checksum_type'
	# Each JSON line matches the database row of its key.
	/usr/bin/python3 - "du-manifest-$sid.jsonl" "$sid" <<'EOF'
import csv, io, json, subprocess, sys
out = subprocess.run(["psql", "-X", "--csv", "-c",
                      "SELECT s3_key, local_path, file_size, md5, etag FROM file_uploads WHERE session_id = %d"
                      % int(sys.argv[2])], capture_output=True, text=True, check=True).stdout
db = {r["s3_key"]: r for r in csv.DictReader(io.StringIO(out))}
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) == len(db) == 30
for m in lines:
    r = db[m["s3_key"]]
    assert m["local_path"] == r["local_path"] and m["size"] == int(r["file_size"]), (m, r)
    assert m["md5"] == r["md5"] and m["etag"] == r["etag"] and m["verify_status"] == "ok", (m, r)
    assert m["uploaded_at"].endswith("Z") and m["verified_at"] >= m["uploaded_at"], m
EOF
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $sid AND verify_status = 'ok' AND verified_at IS NOT NULL AND verify_error IS NULL")" -eq 30 ]
	[ "$(sql "SELECT files, files_ok, mismatches, deep FROM verify_runs WHERE session_id = $sid")" = "30|30|0|f" ]
	# --deep hashes the local files too, still clean; --manifest names the files.
	run du-master verify "$sid" --deep --manifest "$BATS_TEST_TMPDIR/proof"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"(local md5 checked); the source may be deleted"* ]]
	[ "$(csv_rows "$BATS_TEST_TMPDIR/proof.csv")" -eq 30 ]
	[ ! -e "$BATS_TEST_TMPDIR/proof.csv.tmp" ]
	# status reports the verification.
	run du-master status "$sid"
	[[ "$output" == *"verified    30 ok, 0 mismatch"* ]]
}

@test "verify: objects deleted or overwritten in S3 behind du's back are listed, exit 1" {
	sid=$(upload vf-s3 30)
	gone=$(sql "SELECT s3_key FROM file_uploads WHERE session_id = $sid AND s3_key ~ '/rec_[0-9]+\.wav$' ORDER BY s3_key LIMIT 1")
	over=$(sql "SELECT s3_key FROM file_uploads WHERE session_id = $sid AND s3_key ~ '/rec_[0-9]+\.jpg$' AND file_size > 0 ORDER BY s3_key LIMIT 1")
	size=$(sql "SELECT file_size FROM file_uploads WHERE session_id = $sid AND s3_key = '$over'")
	[ -n "$gone" ] && [ -n "$over" ]
	# s3rver accepts unsigned requests: delete one object, replace another by bytes of the same size.
	curl -fsS -X DELETE "$DU_S3RVER_URL/du-test/$gone"
	head -c "$size" /dev/urandom >"$BATS_TEST_TMPDIR/other"
	curl -fsS -X PUT --data-binary @"$BATS_TEST_TMPDIR/other" "$DU_S3RVER_URL/du-test/$over" >/dev/null
	run du-master verify "$sid"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"MISMATCH $gone: missing in S3"* ]]
	[[ "$output" == *"MISMATCH $over: S3 object was overwritten"* ]]
	[[ "$output" == *"2 of 30 files do not match"*"do NOT delete the source"* ]]
	[[ "$output" != *"may be deleted"* ]]
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $sid AND verify_status = 'mismatch'")" -eq 2 ]
	[ "$(sql "SELECT verify_error FROM file_uploads WHERE s3_key = '$gone'")" = "missing in S3" ]
	[ "$(sql "SELECT mismatches, heads FROM verify_runs WHERE session_id = $sid")" = "2|1" ]
	# The manifest records the outcome of each file.
	grep -q "\"$over\".*\"mismatch\",\"S3 object was overwritten" "du-manifest-$sid.csv"
	[ "$(grep -c '"verify_status":"mismatch"' "du-manifest-$sid.jsonl")" -eq 2 ]
	# The dashboard's failure views do not confuse verification with upload failures.
	[ "$(sql "SELECT count(*) FROM du_v_failures WHERE session_id = $sid")" -eq 0 ]
}

@test "verify: a local file changed since upload is a mismatch; a deleted one is not" {
	sid=$(upload vf-local 30)
	grown=$(sql "SELECT local_path FROM file_uploads WHERE session_id = $sid AND s3_key ~ '/rec_[0-9]+\.wav$' ORDER BY s3_key LIMIT 1")
	touched=$(sql "SELECT local_path FROM file_uploads WHERE session_id = $sid AND s3_key ~ '/rec_[0-9]+\.jpg$' ORDER BY s3_key LIMIT 1")
	same=$(sql "SELECT local_path FROM file_uploads WHERE session_id = $sid AND s3_key ~ '/rec_[0-9]+\.mov$' AND file_size > 16 ORDER BY s3_key LIMIT 1")
	gone=$(sql "SELECT local_path FROM file_uploads WHERE session_id = $sid AND s3_key ~ '/rec_[0-9]+\.avi$' ORDER BY s3_key LIMIT 1")
	[ -n "$grown" ] && [ -n "$touched" ] && [ -n "$same" ] && [ -n "$gone" ]
	printf 'more' >>"$grown"
	touch -d '2001-01-01 00:00:00' "$touched"
	rm -f "$gone"
	# Same size and modification time, other bytes: only --deep can tell.
	cp -p "$same" "$BATS_TEST_TMPDIR/ref"
	printf 'XXXXXXXXXXXXXXXX' | dd of="$same" bs=1 seek=0 conv=notrunc status=none
	touch -r "$BATS_TEST_TMPDIR/ref" "$same"
	run du-master verify "$sid"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"local file changed since upload:"*"bytes now"* ]]
	[[ "$output" == *"local file changed since upload: modification time differs"* ]]
	[[ "$output" == *"2 of 30 files do not match"* ]]
	[[ "$output" == *"1 local files gone"* ]]
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $sid AND verify_status = 'mismatch'")" -eq 2 ]
	run du-master verify "$sid" --deep
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"local file changed since upload: md5 "* ]]
	[[ "$output" == *"3 of 30 files do not match"* ]]
	# Once the changed files are gone too (the card was wiped), S3 alone decides: clean.
	rm -f "$grown" "$touched" "$same"
	run du-master verify "$sid" --deep
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"the source may be deleted"* ]]
	[[ "$output" == *"4 local files gone"* ]]
}

@test "verify: files a session skipped are verified through the session that uploaded them" {
	sid1=$(upload vf-skip 20)
	tree="$BATS_TEST_TMPDIR/tree-vf-skip"
	head -c 777 /dev/urandom >"$tree/sensor-00/new.wav"
	du-upload -d "$tree" -b du-test -p vf-skip --progress=none
	sid2=$(sql "SELECT max(id) FROM sync_sessions WHERE s3_prefix = 'vf-skip'")
	[ "$sid2" -gt "$sid1" ]
	[ "$(sql "SELECT files_uploaded, files_skipped FROM sync_sessions WHERE id = $sid2")" = "1|20" ]
	run du-master verify "$sid2"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"all 21 files are in s3://du-test/vf-skip/ intact"* ]]
	[ "$(csv_rows "du-manifest-$sid2.csv")" -eq 21 ]
}

@test "verify takes bucket, prefix and endpoint from the session, not from today's settings" {
	sid=$(upload vf-cfg 10)
	run env -u AWS_ENDPOINT_URL_S3 DU_BUCKET_NAME=elsewhere du-master verify "$sid"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"all 10 files are in s3://du-test/vf-cfg/ intact"* ]]
}

@test "status runs as a read-only database role" {
	sid=$(upload st-ro 5)
	sql "DROP ROLE IF EXISTS du_ro; CREATE ROLE du_ro LOGIN; GRANT USAGE ON SCHEMA public TO du_ro; GRANT SELECT ON ALL TABLES IN SCHEMA public TO du_ro"
	ro_url=${DATABASE_URL/user=postgres/user=du_ro}
	[ "$ro_url" != "$DATABASE_URL" ]
	DATABASE_URL="$ro_url" run du-master status "$sid"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"status      completed"* ]]
	# The role cannot write: status really did not need to.
	run psql -X -d "$ro_url" -c "CREATE TABLE x (i int)"
	[ "$status" -ne 0 ]
}

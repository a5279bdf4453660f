#!/usr/bin/env bats
# du-master: upload, retry and trigger in one process, the session id handed from step to step.

DU_E2E_SERVERS="s3rver"
load helpers
load trigger_helpers

teardown() { recv_stop; }

@test "du-master uploads and triggers with its own session while another session starts concurrently" {
	recv_start
	tree="$BATS_TEST_TMPDIR/a"
	/usr/bin/python3 "$DU_TOP/tests/lib/mktree.py" "$tree" --files 1500 --seed 3
	mkdir -p "$BATS_TEST_TMPDIR/b"
	head -c 100 /dev/urandom >"$BATS_TEST_TMPDIR/b/x.wav"
	du-master -d "$tree" -b du-test -p master/a -w 2 -e "$RECV_URL" >"$BATS_TEST_TMPDIR/out" 2>&1 &
	pid=$!
	# The Python tool's race: a newer session appears while the master is still uploading.
	for _ in $(seq 1 200); do
		[ "$(sql "SELECT count(*) FROM sync_sessions WHERE s3_prefix = 'master/a'" 2>/dev/null || echo 0)" -eq 1 ] && break
		sleep 0.05
	done
	run du-upload -d "$BATS_TEST_TMPDIR/b" -b du-test -p master/b --progress=none
	[ "$status" -eq 0 ]
	rc=0
	wait "$pid" || rc=$?
	cat "$BATS_TEST_TMPDIR/out"
	[ "$rc" -eq 0 ]
	mine=$(sql "SELECT id FROM sync_sessions WHERE s3_prefix = 'master/a'")
	other=$(sql "SELECT id FROM sync_sessions WHERE s3_prefix = 'master/b'")
	[ "$other" -gt "$mine" ]
	[ "$(recv_count)" -eq 1 ]
	[ "$(recv_py 'json.loads(reqs[0]["body"])["session_id"]')" = "$mine" ]
	[ "$(recv_py 'json.loads(reqs[0]["body"])["files_uploaded"]')" = "1500" ]
	[ "$(recv_py 'json.loads(reqs[0]["body"])["s3_prefix"]')" = "master/a" ]
	[ "$(attempts "$mine")" = "200" ]
}

@test "du-master --dry-run writes nothing and sends nothing" {
	recv_start
	mkdir -p "$BATS_TEST_TMPDIR/dry"
	head -c 100 /dev/urandom >"$BATS_TEST_TMPDIR/dry/x.wav"
	before=$(sql "SELECT (SELECT count(*) FROM sync_sessions) || '/' || (SELECT count(*) FROM file_uploads)")
	run du-master -d "$BATS_TEST_TMPDIR/dry" -b du-test -p master/dry -e "$RECV_URL" --dry-run
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(sql "SELECT (SELECT count(*) FROM sync_sessions) || '/' || (SELECT count(*) FROM file_uploads)")" = "$before" ]
	[ "$(recv_count)" -eq 0 ]
}

@test "a session with failed files still triggers; the payload says so; exit 1" {
	recv_start
	d=$(du_user_dir)
	for i in 1 2 3; do head -c 300 /dev/urandom >"$d/f$i.wav"; done
	[ "$(id -u)" -ne 0 ] || chown nobody "$d"/f*.wav
	chmod 000 "$d/f3.wav"
	run du_as_user "$DU_BIN/du-master" -d "$d" -b du-test -p master/fail -e "$RECV_URL" --max-rounds 1 --delay 0.1
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(recv_count)" -eq 1 ]
	[ "$(recv_py 'json.loads(reqs[0]["body"])["files_failed"]')" = "1" ]
	[ "$(recv_py 'json.loads(reqs[0]["body"])["files_uploaded"]')" = "2" ]
	rm -rf "$d"
}

@test "--skip-endpoint and --skip-retry skip their steps" {
	recv_start
	mkdir -p "$BATS_TEST_TMPDIR/skip"
	head -c 100 /dev/urandom >"$BATS_TEST_TMPDIR/skip/x.wav"
	run du-master -d "$BATS_TEST_TMPDIR/skip" -b du-test -p master/skip -e "$RECV_URL" --skip-endpoint --skip-retry
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(recv_count)" -eq 0 ]
}

@test "an invalid endpoint URL is a configuration error before anything runs" {
	before=$(sql "SELECT count(*) FROM sync_sessions")
	run du-master -d "$BATS_TEST_TMPDIR" -b du-test -p master/x -e "not a url"
	[ "$status" -eq 3 ]
	[ "$(sql "SELECT count(*) FROM sync_sessions")" = "$before" ]
}

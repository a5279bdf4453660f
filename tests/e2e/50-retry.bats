#!/usr/bin/env bats
# du-retry: recovering failures, leaving permanent ones, listing them.

DU_E2E_SERVERS="s3rver"
load helpers

@test "a file appended to during its upload fails 'changed during upload', then du-retry uploads it (and writes its metrics)" {
	d="$BATS_TEST_TMPDIR/grow"
	mkdir -p "$d"
	head -c $((40 * 1024 * 1024)) /dev/urandom >"$d/growing.wav"
	head -c 1000 /dev/urandom >"$d/steady.wav"
	( for _ in $(seq 1 400); do printf 'x' >>"$d/growing.wav"; sleep 0.01; done ) &
	appender=$!
	run du-upload -d "$d" -b du-test -p grow --progress=none --times-to-retry 0
	kill "$appender" 2>/dev/null || true
	wait "$appender" 2>/dev/null || true
	echo "$output"
	[ "$status" -eq 1 ]
	sid=$(last_session)
	[ "$(sql "SELECT status, error_message FROM file_uploads WHERE session_id = $sid AND s3_key = 'grow/growing.wav'")" = "failed|changed during upload" ]
	[ "$(sql "SELECT status FROM sync_sessions WHERE id = $sid")" = "completed_with_errors" ]

	run du-retry -s "$sid" --metrics-file "$BATS_TEST_TMPDIR/retry.prom"
	echo "$output"
	[ "$status" -eq 0 ]
	# The retry's own metrics: the one file it recovered, and how the session ended.
	cat "$BATS_TEST_TMPDIR/retry.prom"
	grep -qx "du_files_total{session=\"$sid\",outcome=\"uploaded\"} 1" "$BATS_TEST_TMPDIR/retry.prom"
	grep -qx "du_run_info{session=\"$sid\",status=\"completed\"} 1" "$BATS_TEST_TMPDIR/retry.prom"
	want=$(md5sum "$d/growing.wav" | cut -d' ' -f1)
	[ "$(sql "SELECT status, md5, retry_count FROM file_uploads WHERE session_id = $sid AND s3_key = 'grow/growing.wav'")" = "uploaded|$want|1" ]
	[ "$(md5sum <"$(s3rver_object du-test grow/growing.wav)" | cut -d' ' -f1)" = "$want" ]
	[ "$(sql "SELECT status, files_uploaded, files_failed FROM sync_sessions WHERE id = $sid")" = "completed|2|0" ]
}

@test "permanent failures stay failed with their reason; --list shows them; exit 1" {
	d=$(du_user_dir)
	for i in 1 2; do head -c 300 /dev/urandom >"$d/f$i.wav"; done
	[ "$(id -u)" -ne 0 ] || chown nobody "$d"/f*.wav
	chmod 000 "$d/f2.wav"
	run du_as_user "$DU_BIN/du-upload" -d "$d" -b du-test -p permfail --progress=none
	[ "$status" -eq 1 ]
	sid=$(last_session)
	run du-retry -s "$sid" --auto-retry --delay 0.1
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(sql "SELECT status, error_message, retry_count FROM file_uploads WHERE session_id = $sid AND status = 'failed'")" = "failed|permission denied|0" ]
	run du-retry -s "$sid" --list
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"permfail/f2.wav"*"permission denied"* ]]
	rm -rf "$d"
}

@test "a session with nothing failed: du-retry says so, exit 0" {
	mkdir -p "$BATS_TEST_TMPDIR/ok"
	head -c 10 /dev/urandom >"$BATS_TEST_TMPDIR/ok/a.wav"
	run du-upload -d "$BATS_TEST_TMPDIR/ok" -b du-test -p okretry --progress=none
	[ "$status" -eq 0 ]
	sid=$(last_session)
	run du-retry -s "$sid"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"nothing to retry"* ]]
}

@test "an unknown session id is an error naming it (exit 3)" {
	run du-retry -s 999999
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"999999"* ]]
}

#!/usr/bin/env bats
# Interrupt and resume; signatures verified by moto; a file that changes while it is uploaded.

DU_E2E_SERVERS="s3rver moto"
load helpers

@test "SIGINT mid-run: exit 130, session interrupted; the next run finishes without re-sending recorded files" {
	du_env_s3rver
	tree="$BATS_TEST_TMPDIR/tree"
	/usr/bin/python3 "$DU_TOP/tests/lib/mktree.py" "$tree" --files 3000 --seed 7
	du-upload -d "$tree" -b du-test -p sigint -w 2 --progress=none 2>"$BATS_TEST_TMPDIR/err1" &
	pid=$!
	# Wait until uploads are under way, then interrupt.
	for _ in $(seq 1 200); do
		n=$(sql "SELECT count(*) FROM file_uploads WHERE status = 'uploaded' AND s3_key LIKE 'sigint/%'" 2>/dev/null || echo 0)
		[ "$n" -gt 50 ] && break
		sleep 0.05
	done
	kill -INT "$pid"
	rc=0
	wait "$pid" || rc=$?
	cat "$BATS_TEST_TMPDIR/err1"
	[ "$rc" -eq 130 ]
	first=$(last_session)
	[ "$(sql "SELECT status FROM sync_sessions WHERE id = $first")" = "interrupted" ]
	# No row is left claimed by the dead run.
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $first AND status = 'uploading'")" -eq 0 ]
	up1=$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $first AND status = 'uploaded'")
	[ "$up1" -lt 3000 ]

	run du-upload -d "$tree" -b du-test -p sigint -w 4 --progress=none
	[ "$status" -eq 0 ]
	second=$(last_session)
	[ "$(sql "SELECT status FROM sync_sessions WHERE id = $second")" = "completed" ]
	# Nothing recorded uploaded in the first run was sent again.
	[ "$(sql "SELECT count(*) FROM file_uploads a JOIN file_uploads b ON a.s3_key = b.s3_key
	          WHERE a.session_id = $first AND a.status = 'uploaded' AND b.session_id = $second")" -eq 0 ]
	run /usr/bin/python3 "$DU_TOP/tests/lib/check_upload.py" --root "$tree" --prefix sigint --bucket du-test \
		--s3data "$DU_E2E_TMP/s3/s3data" --session "$second" --any-session
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "--resume continues the interrupted session itself" {
	du_env_s3rver
	tree="$BATS_TEST_TMPDIR/tree"
	/usr/bin/python3 "$DU_TOP/tests/lib/mktree.py" "$tree" --files 2000 --seed 8
	du-upload -d "$tree" -b du-test -p resume -w 2 --progress=none 2>/dev/null &
	pid=$!
	for _ in $(seq 1 200); do
		n=$(sql "SELECT count(*) FROM file_uploads WHERE status = 'uploaded' AND s3_key LIKE 'resume/%'" 2>/dev/null || echo 0)
		[ "$n" -gt 20 ] && break
		sleep 0.05
	done
	kill -INT "$pid"
	wait "$pid" || true
	sid=$(last_session)
	run du-upload -d "$tree" -b du-test -p resume --resume "$sid" --progress=none
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(last_session)" -eq "$sid" ]
	[ "$(sql "SELECT status, files_uploaded, files_failed FROM sync_sessions WHERE id = $sid")" = "completed|2000|0" ]
}

@test "moto (SigV4 verified): nasty names and a multipart file upload intact" {
	du_env_moto
	tree="$BATS_TEST_TMPDIR/tree"
	/usr/bin/python3 "$DU_TOP/tests/lib/mktree.py" "$tree" --files 200 --big $((11 * 1024 * 1024)) --seed 9
	DU_MULTIPART_THRESHOLD=6MiB DU_MULTIPART_CHUNK_SIZE=5MiB run du-upload -d "$tree" -b du-test -p moto/run -w 4 --progress=none
	echo "$output"
	[ "$status" -eq 0 ]
	sid=$(last_session)
	[ "$(sql "SELECT status, files_uploaded, files_failed FROM sync_sessions WHERE id = $sid")" = "completed|201|0" ]
	# Bytes: fetch every object back with botocore and compare with the file.
	run "$DU_PY" "$DU_TOP/tests/lib/check_moto.py" --root "$tree" --prefix moto/run --bucket du-test
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "moto: a wrong secret is a permanent auth error (exit 5), not retried" {
	du_env_moto
	export AWS_SECRET_ACCESS_KEY=wrong-secret-value
	mkdir -p "$BATS_TEST_TMPDIR/one"
	head -c 100 /dev/urandom >"$BATS_TEST_TMPDIR/one/a.wav"
	run du-upload -d "$BATS_TEST_TMPDIR/one" -b du-test -p auth --progress=none
	echo "$output"
	[ "$status" -eq 5 ]
	[[ "$output" != *"wrong-secret-value"* ]]
	sid=$(last_session)
	[ "$(sql "SELECT status FROM sync_sessions WHERE id = $sid")" = "failed" ]
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $sid")" -eq 0 ]
}

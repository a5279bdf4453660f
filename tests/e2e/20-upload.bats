#!/usr/bin/env bats
# du-upload end to end against PostgreSQL and s3rver: bytes, rows, counters, resume, skips.

load helpers

setup_file() {
	du_e2e_start s3rver
	export TREE="$DU_E2E_TMP/tree"
	/usr/bin/python3 "$DU_TOP/tests/lib/mktree.py" "$TREE" --files 2000 --big $((13 * 1024 * 1024))
}

teardown_file() { du_e2e_stop; }

setup() {
	du_env_s3rver
	export DU_MULTIPART_THRESHOLD=6MiB DU_MULTIPART_CHUNK_SIZE=5MiB
}

check() {
	/usr/bin/python3 "$DU_TOP/tests/lib/check_upload.py" --root "$TREE" --prefix "$1" --bucket du-test \
		--s3data "$DU_E2E_TMP/s3/s3data" --session "$2" ${3:-}
}

@test "first run uploads every media file with true rows and counters" {
	run du-upload -d "$TREE" -b du-test -p run1 -w 8 --progress=plain
	echo "$output"
	[ "$status" -eq 0 ]
	upload_output=$output
	sid=$(last_session)
	run check run1 "$sid"
	echo "$output"
	[ "$status" -eq 0 ]
	n=$(echo "$output" | awk '{print $2}')
	[ "$n" -eq 2001 ]
	[ "$(sql "SELECT status, total_files, files_uploaded, files_failed, files_skipped FROM sync_sessions WHERE id = $sid")" = "completed|2001|2001|0|0" ]
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $sid AND status = 'uploaded' AND uploaded_at IS NOT NULL")" -eq 2001 ]
	# s3rver ignores x-amz-checksum-*: auto fell back to Content-MD5, said so once, and every file
	# went with a checksum the server checks: its md5 (single PUT) or the parts' (multipart composite)
	[ "$(echo "$upload_output" | grep -c 'did not confirm the crc32c checksum')" -eq 1 ]
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $sid AND checksum_algorithm = 'md5'
		AND (checksum_type = 'FULL_OBJECT' AND checksum_value = md5 OR checksum_type = 'COMPOSITE' AND md5 IS NULL)")" -eq 2001 ]
	# Ignored: non-media, AppleDouble and hidden files.
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE s3_key ~ '(notes\.txt|/\._|/\.hidden|\.Trash|readme|\.csv)'")" -eq 0 ]
	# The multipart file went in parts; its composite md5 is checked by check_upload.py.
	[ "$(sql "SELECT count(*) FROM multipart_uploads")" -eq 0 ]
}

@test "second run uploads nothing and counts everything skipped" {
	run du-upload -d "$TREE" -b du-test -p run1 --progress=none
	[ "$status" -eq 0 ]
	sid=$(last_session)
	[ "$(sql "SELECT status, total_files, files_uploaded, files_skipped FROM sync_sessions WHERE id = $sid")" = "completed|2001|0|2001" ]
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $sid")" -eq 0 ]
}

@test "a changed size re-uploads only that file" {
	f=$(find "$TREE/sensor-03" -name 'rec_*.wav' | head -n 1)
	printf 'more bytes' >>"$f"
	run du-upload -d "$TREE" -b du-test -p run1 --progress=none
	echo "$output"
	[ "$status" -eq 0 ]
	sid=$(last_session)
	[ "$(sql "SELECT files_uploaded, files_skipped FROM sync_sessions WHERE id = $sid")" = "1|2000" ]
	run check run1 "$sid" --any-session
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "prefix C1 does not see C10's objects" {
	mkdir -p "$BATS_TEST_TMPDIR/small"
	head -c 100 /dev/urandom >"$BATS_TEST_TMPDIR/small/a.wav"
	run du-upload -d "$BATS_TEST_TMPDIR/small" -b du-test -p C10 --progress=none
	[ "$status" -eq 0 ]
	run du-upload -d "$BATS_TEST_TMPDIR/small" -b du-test -p C1 --progress=none
	[ "$status" -eq 0 ]
	sid=$(last_session)
	[ "$(sql "SELECT files_uploaded FROM sync_sessions WHERE id = $sid")" -eq 1 ]
}

@test "dry run writes nothing and says what it would do" {
	mkdir -p "$BATS_TEST_TMPDIR/dry"
	head -c 100 /dev/urandom >"$BATS_TEST_TMPDIR/dry/x.wav"
	before=$(sql "SELECT (SELECT count(*) FROM sync_sessions) || '/' || (SELECT count(*) FROM file_uploads)")
	run du-upload -d "$BATS_TEST_TMPDIR/dry" -b du-test -p dry --dry-run
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"would upload 1 files"* ]]
	after=$(sql "SELECT (SELECT count(*) FROM sync_sessions) || '/' || (SELECT count(*) FROM file_uploads)")
	[ "$before" = "$after" ]
}

@test "empty directory completes with zero files" {
	mkdir -p "$BATS_TEST_TMPDIR/empty"
	run du-upload -d "$BATS_TEST_TMPDIR/empty" -b du-test -p empty --progress=none
	[ "$status" -eq 0 ]
	sid=$(last_session)
	[ "$(sql "SELECT status, total_files FROM sync_sessions WHERE id = $sid")" = "completed|0" ]
}

@test "wrong bucket: exit 5 before scanning, session failed, no file rows" {
	run du-upload -d "$TREE" -b no-such-bucket -p x --progress=none
	echo "$output"
	[ "$status" -eq 5 ]
	[[ "$output" == *"no-such-bucket"* ]]
	sid=$(last_session)
	[ "$(sql "SELECT status FROM sync_sessions WHERE id = $sid")" = "failed" ]
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $sid")" -eq 0 ]
}

@test "unreachable endpoint: exit 5" {
	port=$(du_free_port)
	AWS_ENDPOINT_URL_S3="http://127.0.0.1:$port" run du-upload -d "$TREE" -b du-test -p x --progress=none
	[ "$status" -eq 5 ]
}

@test "an unreadable file fails with permission denied, the rest upload, exit 1" {
	d=$(du_user_dir)
	for i in 1 2 3; do head -c 300 /dev/urandom >"$d/f$i.wav"; done
	[ "$(id -u)" -ne 0 ] || chown nobody "$d"/f*.wav
	chmod 000 "$d/f2.wav"
	run du_as_user "$DU_BIN/du-upload" -d "$d" -b du-test -p perm --progress=none
	echo "$output"
	[ "$status" -eq 1 ]
	sid=$(last_session)
	[ "$(sql "SELECT status, files_uploaded, files_failed FROM sync_sessions WHERE id = $sid")" = "completed_with_errors|2|1" ]
	[ "$(sql "SELECT error_message FROM file_uploads WHERE session_id = $sid AND status = 'failed'")" = "permission denied" ]
	rm -rf "$d"
}

@test "a first run into an empty database shows no PostgreSQL notice, even with -v" {
	psql -qX -d postgres -c "CREATE DATABASE empty_notices" >/dev/null
	d=$DU_E2E_TMP/notices
	mkdir -p "$d"
	head -c 100 /dev/urandom >"$d/a.wav"
	run env DATABASE_URL="${DATABASE_URL/du_test/empty_notices}" du-upload -d "$d" -b du-test -p notices -v --progress=none
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"already exists"* ]]
	[[ "$output" != *"NOTICE"* ]]
	[[ "$output" != *"postgres:"* ]]
	# The migrations did run.
	[ "$(psql -qtAX -d empty_notices -c "SELECT count(*) > 5 FROM schema_migrations")" = t ]
}

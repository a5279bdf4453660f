#!/usr/bin/env bats
# The Grafana dashboard and its alert rules against a database filled by real uploads: every panel
# query and every alert query runs (tests/lib/check_dashboard.py) and agrees with what the test put
# on disk. Also the SQL views and the metrics file of a real upload.

load helpers

setup_file() {
	# s3rver does not echo x-amz-checksum-*: with auto the run's first body would go twice (CRC32C,
	# then Content-MD5; 20-upload.bats), one PUT more than files; these tests count requests.
	export DU_CHECKSUM_ALGORITHM=md5
	du_e2e_start s3rver
	du_env_s3rver
	# Tree A: media files plus one nobody can read (a failure with an error for the failure panels).
	export TREE_A TREE_B
	TREE_A=$(du_user_dir)
	TREE_B=$(du_user_dir)
	/usr/bin/python3 "$DU_TOP/tests/lib/mktree.py" "$TREE_A" --files 60 --seed 3 --sensor
	/usr/bin/python3 "$DU_TOP/tests/lib/mktree.py" "$TREE_B" --files 15 --seed 4
	mkdir -p "$TREE_A/locked"
	head -c 4096 /dev/urandom >"$TREE_A/locked/secret.wav"
	chmod -R a+rX "$TREE_A" "$TREE_B"
	chmod 000 "$TREE_A/locked/secret.wav"
	du_as_user "$DU_BIN/du-upload" -d "$TREE_A" -b du-test -p dash-a -w 4 --progress=none \
		--metrics-file "$TREE_A.prom" >"$DU_E2E_TMP/up-a.log" 2>&1 || echo "upload a: $?" >"$DU_E2E_TMP/up-a.rc"
	du_as_user "$DU_BIN/du-upload" -d "$TREE_B" -b du-test -p dash-b -w 4 --progress=none \
		>"$DU_E2E_TMP/up-b.log" 2>&1
	# Failed webhook attempts (nothing listens there) for the webhook panel.
	port=$(du_free_port)
	sid=$(sql "SELECT max(id) FROM sync_sessions")
	du-trigger -s "$sid" -e "http://127.0.0.1:$port/hook" -t 1 >"$DU_E2E_TMP/trigger.log" 2>&1 || true
}

teardown_file() {
	rm -rf "$TREE_A" "$TREE_B" "$TREE_A.prom"
	du_e2e_stop
}

setup() { du_env_s3rver; }

# What is on disk: media files (as du selects them) and their bytes, minus the unreadable one.
media() {
	find "$1" -type f ! -name '.*' ! -path '*/.*/*' \
		\( -iname '*.wav' -o -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.mp4' -o -iname '*.mov' -o -iname '*.avi' \) \
		! -path '*/locked/*' -printf '%s\n' | awk -v what="$2" '{n++; b+=$1} END {print (what == "bytes" ? b+0 : n+0)}'
}

check() {
	/usr/bin/python3 "$DU_TOP/tests/lib/check_dashboard.py" \
		--dashboard "$DU_TOP/tools/grafana/du-dashboard.json" \
		--alerts "$DU_TOP/tools/grafana/provisioning/alerting/du-alerts.yaml" "$@"
}

@test "uploads behind the dashboard test did what the test expects" {
	cat "$DU_E2E_TMP/up-a.log"
	cat "$DU_E2E_TMP/trigger.log"
	[ "$(cat "$DU_E2E_TMP/up-a.rc")" = "upload a: 1" ]
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE status = 'failed' AND error_message = 'permission denied'")" -eq 1 ]
	[ "$(sql "SELECT count(*) FROM trigger_attempts")" -ge 1 ]
}

@test "every panel and alert query runs and agrees with the files on disk" {
	files=$(( $(media "$TREE_A" files) + $(media "$TREE_B" files) ))
	bytes=$(( $(media "$TREE_A" bytes) + $(media "$TREE_B" bytes) ))
	# Tree A's non-empty .wav are AudioMoth recordings (mktree.py --sensor); the unreadable one is not.
	recordings=$(find "$TREE_A" -type f -iname '*.wav' ! -name '.*' ! -path '*/.*/*' ! -path '*/locked/*' -size +0 -printf . | wc -c)
	[ "$recordings" -gt 5 ]
	run check --files-uploaded "$files" --files-failed 1 --bytes-uploaded "$bytes" --recordings "$recordings" \
		--bucket du-test --prefix dash-a
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"all checks passed"* ]]
	# The variables were exercised with a narrower selection than All.
	[[ "$output" == *"facts (du-test/dash-a)"* ]]
}

@test "a broken panel query fails the check" {
	broken="$BATS_TEST_TMPDIR/broken.json"
	sed 's/FROM du_v_errors/FROM du_v_no_such_view/' "$DU_TOP/tools/grafana/du-dashboard.json" >"$broken"
	run /usr/bin/python3 "$DU_TOP/tests/lib/check_dashboard.py" --dashboard "$broken" \
		--alerts "$DU_TOP/tools/grafana/provisioning/alerting/du-alerts.yaml"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"panel 'Failures by error'"*"du_v_no_such_view"* ]]
}

@test "a panel returning wrong numbers or columns fails the check" {
	broken="$BATS_TEST_TMPDIR/wrong.json"
	# Count failed files as uploaded: runs fine, but the numbers are wrong.
	/usr/bin/python3 - "$DU_TOP/tools/grafana/du-dashboard.json" "$broken" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
for p in d["panels"]:
    if p["title"] == "Files uploaded":
        p["targets"][0]["rawSql"] = p["targets"][0]["rawSql"].replace("sum(files_uploaded)", "sum(files_uploaded + files_failed)")
    if p["title"] == "Daily statistics":
        p["targets"][0]["rawSql"] = p["targets"][0]["rawSql"].replace("AS files_retried", "AS retried")
    if p["title"] == "Recordings per device per day":
        # Without the grid a silent day is no row at all: the gap a dead recorder leaves disappears.
        p["targets"][0]["rawSql"] = p["targets"][0]["rawSql"].replace("LEFT JOIN r", "JOIN r")
json.dump(d, open(sys.argv[2], "w"))
EOF
	run /usr/bin/python3 "$DU_TOP/tests/lib/check_dashboard.py" --dashboard "$broken" \
		--alerts "$DU_TOP/tools/grafana/provisioning/alerting/du-alerts.yaml"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"panel 'Files uploaded': files_uploaded"* ]]
	[[ "$output" == *"panel 'Daily statistics': columns"* ]]
	[[ "$output" == *"panel 'Recordings per device per day': "*" rows for "*" devices over "*" days"* ]]
}

@test "a variable the checker cannot expand fails the check" {
	broken="$BATS_TEST_TMPDIR/var.json"
	sed 's/s3_prefix IN (\$s3_prefix)/s3_prefix IN ($prefix)/' "$DU_TOP/tools/grafana/du-dashboard.json" >"$broken"
	run /usr/bin/python3 "$DU_TOP/tests/lib/check_dashboard.py" --dashboard "$broken" \
		--alerts "$DU_TOP/tools/grafana/provisioning/alerting/du-alerts.yaml"
	[ "$status" -eq 1 ]
	[[ "$output" == *'variable $prefix is not defined'* ]]
}

@test "alerts fire on a stuck session, a low success rate and a long silence" {
	sid=$(sql "SELECT min(id) FROM sync_sessions")
	sql "CREATE TABLE saved_session AS SELECT * FROM sync_sessions WHERE id = $sid"
	# A session in progress for 7 hours.
	sql "UPDATE sync_sessions SET status = 'in_progress', started_at = now() - interval '7 hours' WHERE id = $sid"
	run check --alerts-only --expect-firing du-session-stuck
	echo "$output"
	[ "$status" -eq 0 ]
	# Most files failed: success rate under 90 %.
	sql "UPDATE sync_sessions s SET status = v.status, started_at = v.started_at, files_failed = s.files_uploaded * 2 FROM saved_session v WHERE s.id = v.id"
	run check --alerts-only --expect-firing du-success-rate
	echo "$output"
	[ "$status" -eq 0 ]
	sql "UPDATE sync_sessions s SET files_failed = v.files_failed FROM saved_session v WHERE s.id = v.id; DROP TABLE saved_session"
	# Nothing uploaded for two days.
	sql "UPDATE file_uploads SET uploaded_at = uploaded_at - interval '2 days' WHERE status = 'uploaded'"
	run check --alerts-only --expect-firing du-no-upload
	echo "$output"
	sql "UPDATE file_uploads SET uploaded_at = uploaded_at + interval '2 days' WHERE status = 'uploaded'"
	[ "$status" -eq 0 ]
	# And a wrong expectation is reported.
	run check --alerts-only --expect-firing du-no-upload
	[ "$status" -eq 1 ]
	[[ "$output" == *"du: no upload in 24 hours' does not fire"* ]]
}

@test "views: per-session progress, rates and duration are consistent with the rows" {
	sid=$(sql "SELECT id FROM sync_sessions WHERE s3_prefix = 'dash-a'")
	[ "$(sql "SELECT status, progress_percent, files_failed, files_uploaded = (SELECT count(*) FROM file_uploads WHERE session_id = $sid AND status = 'uploaded') FROM du_v_sessions WHERE session_id = $sid")" = "completed_with_errors|100|1|t" ]
	[ "$(sql "SELECT duration_s > 0 AND files_per_s > 0 AND bytes_per_s > 0 AND eta_s IS NULL FROM du_v_sessions WHERE session_id = $sid")" = "t" ]
	[ "$(sql "SELECT error_message, files FROM du_v_errors WHERE s3_prefix = 'dash-a'")" = "permission denied|1" ]
	[ "$(sql "SELECT count(*) FROM du_v_failures WHERE s3_key = 'dash-a/locked/secret.wav' AND NOT resolved_later")" -eq 1 ]
	[ "$(sql "SELECT count(DISTINCT subdir) FROM du_v_file_types WHERE s3_prefix = 'dash-a'")" -ge 7 ]
	# The migration is idempotent with the views in place.
	run du-master status
	[ "$status" -eq 0 ]
}

@test "the metrics file of the upload holds its true counts" {
	m="$TREE_A.prom"
	cat "$m"
	sid=$(sql "SELECT id FROM sync_sessions WHERE s3_prefix = 'dash-a'")
	up=$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $sid AND status = 'uploaded'")
	bytes=$(sql "SELECT sum(file_size) FROM file_uploads WHERE session_id = $sid AND status = 'uploaded'")
	grep -qx "du_files_total{session=\"$sid\",outcome=\"uploaded\"} $up" "$m"
	grep -qx "du_files_total{session=\"$sid\",outcome=\"failed\"} 1" "$m"
	grep -qx "du_bytes_total{session=\"$sid\",outcome=\"uploaded\"} $bytes" "$m"
	grep -qx "du_request_duration_seconds_count{session=\"$sid\",op=\"put\"} $up" "$m"
	grep -qx "du_run_info{session=\"$sid\",status=\"completed_with_errors\"} 1" "$m"
	grep -qx "du_run_running{session=\"$sid\"} 0" "$m"
	grep -q "^du_s3_retries_total{session=\"$sid\"} [0-9]" "$m"
	grep -q "^du_s3_throttles_total{session=\"$sid\"} [0-9]" "$m"
	# Only the renamed file is left: no temporary file beside it.
	[ -z "$(ls "$(dirname "$m")" | grep -F "$(basename "$m").tmp")" ]
}

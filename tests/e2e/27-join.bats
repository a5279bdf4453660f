#!/usr/bin/env bats
# Two runs of one job at once (a cron run overlapping the last one, two people on one station): the
# second works on the first one's live session instead of uploading everything again; --new-session
# keeps them apart; another prefix is another job; a joined run whose first run dies before its scan
# ends does the job itself. PUTs are counted at tests/lib/faultproxy.py in front of s3rver.

load helpers
load fault_helpers

setup_file() {
	du_e2e_start s3rver
	du_fp_start "$DU_E2E_TMP/fp" "$DU_S3RVER_URL" --seed 27
	export TREE=$DU_E2E_TMP/tree
	/usr/bin/python3 "$DU_TOP/tests/lib/mktree.py" "$TREE" --files 2000 --seed 27
}

teardown_file() { du_e2e_stop; }

setup() {
	du_env_proxy
	fp_ctl clear >/dev/null
	fp_ctl zero >/dev/null
	# Each run's first bodies would go twice against s3rver with auto (it echoes no checksum).
	export DU_CHECKSUM_ALGORITHM=md5
}

# (0 before the first run has made the tables)
sessions_of() { sql "SELECT count(*) FROM sync_sessions WHERE s3_prefix = '$1'" 2>/dev/null || echo 0; }

# The bucket listing of the run that scans is held for $1 seconds, so a second run surely starts while
# the first one is live and still registering its files.
hold_listing() {
	fp_ctl "set?ratio=1&kinds=stall&stall=$1&methods=GET&match=list-type" >/dev/null
}

# Wait until a session of prefix $1 exists (its run has started), or $2 ended.
wait_session() {
	wait_until 60 eval '[ "$(sessions_of '"$1"')" -ge 1 ] || ! kill -0 '"$2"
}

# The first run of job PREFIX, its listing held HOLD seconds, in the background ($a its PID, $args its
# arguments, a.log its output), once its session exists.
first_run() {
	hold_listing "$2"
	args=(-d "$TREE" -b du-test -p "$1" -w 2 --progress=none)
	du-upload "${args[@]}" >"$BATS_TEST_TMPDIR/a.log" 2>&1 &
	a=$!
	wait_session "$1" "$a"
}

puts_received() { fp_py 'sum(e["received"] for e in s["put_object"].values())'; }
keys_sent_twice() { fp_py 'sum(1 for e in s["put_object"].values() if e["received"] > 1)'; }

@test "two runs of one config at once: one session, each file sent once, both at work, rows true" {
	first_run twice 3
	du-upload "${args[@]}" >"$BATS_TEST_TMPDIR/b.log" 2>&1 &
	b=$!
	wait "$a"
	sa=$?
	wait "$b"
	sb=$?
	cat "$BATS_TEST_TMPDIR/a.log" "$BATS_TEST_TMPDIR/b.log"
	[ "$sa" -eq 0 ]
	[ "$sb" -eq 0 ]
	sid=$(sql "SELECT max(id) FROM sync_sessions WHERE s3_prefix = 'twice'")
	[ "$(sessions_of twice)" -eq 1 ]
	grep -q "joining session $sid, a run of the same job at work on $(hostname) (pid $a)" "$BATS_TEST_TMPDIR/b.log"
	grep -q "waiting for them" "$BATS_TEST_TMPDIR/b.log"
	# Every file went once, not once per run.
	[ "$(puts_received)" -eq 2000 ]
	[ "$(keys_sent_twice)" -eq 0 ]
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $sid AND status = 'uploaded'")" -eq 2000 ]
	# Both processes sent some of them.
	[ "$(sql "SELECT count(DISTINCT worker) FROM file_uploads WHERE session_id = $sid")" -eq 2 ]
	[ "$(sql "SELECT status || ' ' || files_uploaded || ' ' || files_failed FROM sync_sessions WHERE id = $sid")" = "completed 2000 0" ]
	[ "$(sql "SELECT count(*) FROM session_workers WHERE session_id = $sid AND ended_at IS NOT NULL")" -eq 2 ]
	# The joiner's summary is about what it did, not a scan it did not make.
	grep -Eq "session $sid (completed|in_progress): this run uploaded [1-9][0-9]* files" "$BATS_TEST_TMPDIR/b.log"
	# And the bucket holds each object as the file is.
	[ "$(/usr/bin/python3 "$DU_TOP/tests/lib/s3_admin.py" "$DU_S3RVER_URL" S3RVER S3RVER count du-test twice/)" = \
		"$(sql "SELECT count(*) || ' ' || sum(file_size) FROM file_uploads WHERE session_id = $sid")" ]
}

@test "--new-session: the second run keeps a session of its own" {
	first_run apart 2
	run du-upload "${args[@]}" --new-session
	echo "$output"
	wait "$a"
	[ "$status" -eq 0 ]
	[ "$(sessions_of apart)" -eq 2 ]
	! grep -q "joining session" <<<"$output"
	[[ "$output" == *" found ("* ]]
	# --new-session with --join or --resume is a contradiction, refused before anything is written.
	n=$(sql "SELECT count(*) FROM sync_sessions")
	run du-upload "${args[@]}" --new-session --join 1
	[ "$status" -eq 3 ]
	[[ "$output" == *"new_session (from flag --new-session) and join_session (from flag --join) exclude each other"* ]]
	[ "$(sql "SELECT count(*) FROM sync_sessions")" -eq "$n" ]
}

@test "another prefix is another job: no joining" {
	first_run job-one 2
	run du-upload -d "$TREE" -b du-test -p job-two -w 2 --progress=none
	echo "$output"
	wait "$a"
	[ "$status" -eq 0 ]
	! grep -q "joining session" <<<"$output"
	[ "$(sessions_of job-one)" -eq 1 ]
	[ "$(sessions_of job-two)" -eq 1 ]
	[ "$(sql "SELECT count(*) FROM file_uploads f JOIN sync_sessions s ON s.id = f.session_id WHERE s.s3_prefix = 'job-two' AND f.status = 'uploaded'")" -eq 2000 ]
}

@test "the run it joined dies before registering its files: the joiner does the job in a session of its own" {
	first_run orphan 30
	du-upload "${args[@]}" >"$BATS_TEST_TMPDIR/b.log" 2>&1 &
	b=$!
	wait_until 30 grep -q "waiting for them" "$BATS_TEST_TMPDIR/b.log"
	kill -9 "$a"
	wait "$a" || true
	# The joiner must not stay behind the stalled listing of the dead run: it lists with no fault.
	fp_ctl clear >/dev/null
	wait "$b"
	sb=$?
	cat "$BATS_TEST_TMPDIR/b.log"
	[ "$sb" -eq 0 ]
	first=$(sql "SELECT min(id) FROM sync_sessions WHERE s3_prefix = 'orphan'")
	second=$(sql "SELECT max(id) FROM sync_sessions WHERE s3_prefix = 'orphan'")
	[ "$first" -ne "$second" ]
	grep -q "session $first ended before registering its files: starting a session of its own" "$BATS_TEST_TMPDIR/b.log"
	[ "$(sql "SELECT status FROM sync_sessions WHERE id = $first")" = interrupted ]
	[ "$(sql "SELECT status || ' ' || files_uploaded FROM sync_sessions WHERE id = $second")" = "completed 2000" ]
	[ "$(keys_sent_twice)" -eq 0 ]
}

@test "a run still scanning keeps its heartbeat, so workers on other hosts do not take it for dead" {
	export DU_LEASE_SECONDS=3 # heartbeat every second
	first_run beat 6
	sleep 4
	sid=$(sql "SELECT max(id) FROM sync_sessions WHERE s3_prefix = 'beat'")
	# Still registering (the listing is held), and its heartbeat moved since its row was written.
	[ "$(sql "SELECT scanned_at IS NULL FROM sync_sessions WHERE id = $sid")" = t ]
	[ "$(sql "SELECT count(*) FROM session_workers WHERE session_id = $sid AND pid = $a AND ended_at IS NULL AND heartbeat_at > started_at + interval '1.5 s'")" -eq 1 ]
	wait "$a"
	[ "$(sql "SELECT status FROM sync_sessions WHERE id = $sid")" = completed ]
}

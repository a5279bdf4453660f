#!/usr/bin/env bats
# Field links (issue 28): the bandwidth cap, one for all workers together, single PUTs and parts
# alike, measured on the wire (the fault proxy counts the body bytes it receives) over a transfer of
# more than 10 s; SIGUSR2 turning it off mid-run; the upload window (max_duration), hard and soft,
# ending resumable with exit 7 and a next run that sends no finished part again; du-master after a
# window; bad values refused before anything is written.

load helpers
load fault_helpers

setup_file() {
	du_e2e_start s3rver
	du_fp_start "$DU_E2E_TMP/fp" "$DU_S3RVER_URL" --seed 38
}

teardown_file() { du_e2e_stop; }

setup() {
	du_env_proxy
	fp_ctl zero >/dev/null
	export DU_MULTIPART_THRESHOLD=6MiB DU_MULTIPART_CHUNK_SIZE=5MiB DU_CHECKSUM_ALGORITHM=md5
}

figure() { echo "# $*" >&3; }

# bw_tree DIR: 12 recordings of 300 KiB and one 8 MiB video (two parts): 11.5 MiB.
bw_tree() {
	mkdir -p "$1"
	for i in $(seq 1 12); do head -c $((300 * 1024)) /dev/urandom >"$1/rec_$i.wav"; done
	head -c $((8 * 1024 * 1024)) /dev/urandom >"$1/clip.mp4"
}

@test "bad --bwlimit values are refused in one line naming bwlimit, exit 3, nothing written" {
	d="$BATS_TEST_TMPDIR/t"
	mkdir -p "$d"
	head -c 1000 /dev/urandom >"$d/a.wav"
	before=$(sql "SELECT count(*) FROM pg_tables WHERE tablename = 'sync_sessions'")
	for bad in 12q "25:00,1M" "08:00,fast" "Foo-08:00,1M" "1M 2M" -5M; do
		run du-upload -d "$d" -b du-test -p bad --bwlimit "$bad" --progress=none
		echo "$bad: $output"
		[ "$status" -eq 3 ]
		[ "$(echo "$output" | grep -c .)" -eq 1 ]
		[[ "$output" == "du-upload: error: bwlimit: "*"(from flag --bwlimit)" ]]
	done
	DU_BWLIMIT="09:00,1M 24:00,off" run du-upload -d "$d" -b du-test -p bad --progress=none
	[ "$status" -eq 3 ]
	echo "$output"
	[[ "$output" == *"bwlimit: '24:00,off': '24:00' is not a time of day"*"DU_BWLIMIT"* ]]
	# nothing written: not even the schema (this test runs first in a fresh database) or a session
	[ "$(sql "SELECT count(*) FROM pg_tables WHERE tablename = 'sync_sessions'")" -eq "$before" ]
}

@test "--bwlimit 896k: 16 workers together stay within 10 % of the cap over 13 s, parts and PUTs alike" {
	d="$BATS_TEST_TMPDIR/t"
	bw_tree "$d"
	t0=$(date +%s.%N)
	run du-upload -d "$d" -b du-test -p cap -w 16 --bwlimit 896k -v --progress=none
	t1=$(date +%s.%N)
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"bandwidth capped at 896.0 KiB/s (bwlimit '896k'"* ]]
	read -r sends bytes bodies <<<"$(fp_sends cap/)"
	[ "$bytes" -eq "$(tree_bytes "$d")" ] && [ "$sends" -eq 14 ]
	# The transfer's own time (du's summary: from the first file taken to the last outcome), and
	# the whole run's (startup included): the bytes over the transfer within 10 % of the cap, and
	# over the whole run never above it.
	sent_s=$(sed -n 's/^.* files to send (.*) in \([0-9.]*\) s:.*$/\1/p' <<<"$output")
	[ -n "$sent_s" ]
	rate=$(/usr/bin/python3 -c "import sys; print(round(int(sys.argv[1]) / float(sys.argv[2]) / 1024, 1))" "$bytes" "$sent_s")
	whole=$(/usr/bin/python3 -c "import sys; print(round(int(sys.argv[1]) / (float(sys.argv[3]) - float(sys.argv[2])) / 1024, 1))" "$bytes" "$t0" "$t1")
	figure "bwlimit 896 KiB/s: $bytes bytes in $sent_s s of transfer = $rate KiB/s ($whole KiB/s over the whole run)"
	/usr/bin/python3 -c "import sys; r = float(sys.argv[1]); sys.exit(0 if 896 * 0.9 <= r <= 896 * 1.1 else 1)" "$rate"
	/usr/bin/python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 896 * 1.1 else 1)" "$whole"
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $(last_session) AND status = 'uploaded'")" -eq 13 ]
}

@test "SIGUSR2 turns the cap off mid-run, and the run ends far sooner than the cap allowed" {
	d="$BATS_TEST_TMPDIR/t"
	bw_tree "$d"
	t0=$(date +%s)
	du-upload -d "$d" -b du-test -p usr2 -w 8 --bwlimit 256k --progress=none 2>"$BATS_TEST_TMPDIR/err" &
	pid=$!
	sleep 3
	kill -USR2 "$pid"
	wait "$pid"
	t1=$(date +%s)
	cat "$BATS_TEST_TMPDIR/err"
	figure "SIGUSR2 after 3 s: 11.5 MiB in $((t1 - t0)) s (at 256 KiB/s it would take 46 s)"
	[ $((t1 - t0)) -lt 15 ]
	read -r sends bytes bodies <<<"$(fp_sends usr2/)"
	[ "$bytes" -eq "$(tree_bytes "$d")" ]
	[ "$(sql "SELECT status FROM sync_sessions WHERE id = $(last_session)")" = completed ]
}

@test "bad --max-duration and --cutoff-mode values: one line naming the setting, exit 3" {
	d="$BATS_TEST_TMPDIR/t"
	mkdir -p "$d"
	head -c 1000 /dev/urandom >"$d/a.wav"
	for bad in 12q -5m 1h30 "" x2h; do
		[ -n "$bad" ] || continue
		run du-upload -d "$d" -b du-test -p bad --max-duration "$bad" --progress=none
		echo "$bad: $output"
		[ "$status" -eq 3 ]
		[ "$(echo "$output" | grep -c .)" -eq 1 ]
		[[ "$output" == "du-upload: error: max_duration: '$bad' is not a duration"* ]]
	done
	run du-upload -d "$d" -b du-test -p bad --max-duration 1h --cutoff-mode maybe --progress=none
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"cutoff_mode"* ]]
}

@test "hard window mid-multipart: exit 7, nothing recorded uploaded, upload id kept; the next run sends no finished part again" {
	d="$BATS_TEST_TMPDIR/w"
	mkdir -p "$d"
	head -c $((40 * 1024 * 1024)) /dev/urandom >"$d/long.mp4"     # 8 parts, two at a time at 4 MiB/s: 10 s
	run du-upload -d "$d" -b du-test -p win -w 2 --bwlimit 4M --max-duration 6s --progress=none -v
	echo "$output"
	[ "$status" -eq 7 ]
	[[ "$output" == *"the upload window ended: stopping the transfers in flight"* ]]
	sid=$(last_session)
	[ "$(sql "SELECT status FROM sync_sessions WHERE id = $sid")" = interrupted ]
	[ "$(sql "SELECT status FROM file_uploads WHERE session_id = $sid")" = pending ]
	done1=$(sql "SELECT string_agg(part_number::text, ' ' ORDER BY part_number) FROM multipart_parts
		WHERE file_id IN (SELECT id FROM file_uploads WHERE session_id = $sid)")
	figure "hard window at 6 s: parts recorded before it: ${done1:-none}"
	[ -n "$done1" ]
	[ "$(fp_py 'len(s["mpu_abort"])')" -eq 0 ]                    # never aborted

	run du-upload -d "$d" -b du-test -p win --progress=none
	echo "$output"
	[ "$status" -eq 0 ]
	for n in $done1; do
		[ "$(fp_py "s['upload_part']['win/long.mp4']['parts']['$n']['received']")" -eq 1 ]
	done
	cmp "$d/long.mp4" "$(s3rver_object du-test win/long.mp4)"
	[ "$(sql "SELECT status FROM file_uploads WHERE session_id = $(last_session) AND s3_key = 'win/long.mp4'")" = uploaded ]
}

@test "soft window: nothing new starts, the transfers in flight end whole; exit 7, the rest pending" {
	d="$BATS_TEST_TMPDIR/t"
	bw_tree "$d"
	rm "$d/clip.mp4"
	run du-upload -d "$d" -b du-test -p soft -w 2 --bwlimit 512k --max-duration 2s --cutoff-mode soft --progress=none -v
	echo "$output"
	[ "$status" -eq 7 ]
	[[ "$output" == *"starting nothing new, letting the transfers in flight end"* ]]
	sid=$(last_session)
	up=$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $sid AND status = 'uploaded'")
	[ "$up" -gt 0 ] && [ "$up" -lt 12 ]
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $sid AND status = 'failed'")" -eq 0 ]
	# every PUT that reached the server completed: none was cut off
	[ "$(fp_py 'sum(v["received"] for k, v in s["put_object"].items() if k.startswith("soft/"))')" -eq \
	  "$(fp_py 'sum(v["ok"] for k, v in s["put_object"].items() if k.startswith("soft/"))')" ]
	[ "$(fp_py 'sum(v["ok"] for k, v in s["put_object"].items() if k.startswith("soft/"))')" -eq "$up" ]
}

@test "du-master after a window: exit 7, no retry round, no webhook, and it says why" {
	d="$BATS_TEST_TMPDIR/t"
	bw_tree "$d"
	run du-master -d "$d" -b du-test -p mwin -w 2 --bwlimit 512k --max-duration 2s \
		-e http://127.0.0.1:9/hook --progress=none
	echo "$output"
	[ "$status" -eq 7 ]
	[[ "$output" == *"no retry round and no webhook: session "*" is paused by the upload window, not done"* ]]
	! echo "$output" | grep -q "webhook 'http"
	[ "$(sql "SELECT count(*) FROM trigger_attempts WHERE session_id = $(last_session)")" -eq 0 ]
}

# spent_today: what this machine's bytes_sent says it sent since local midnight
spent_today() {
	[ "$(sql "SELECT to_regclass('bytes_sent') IS NOT NULL")" = t ] || { echo 0; return; }
	sql "SELECT coalesce(sum(bytes), 0) FROM bytes_sent WHERE host = '$(hostname)'
		AND minute >= date_trunc('minute', to_timestamp($(date -d 'today 00:00' +%s)))"
}

@test "a data budget over two runs: files start only if they fit, exit 7 with the renewal, then nothing sent until more is allowed" {
	d="$BATS_TEST_TMPDIR/b"
	mkdir -p "$d"
	for i in $(seq 1 10); do head -c $((300 * 1024)) /dev/urandom >"$d/rec_$i.wav"; done
	base=$(spent_today)
	budget="$((base + 1024 * 1024))/day"                    # 1 MiB more than sent today: 3 files fit
	p0=$(fp_sends budget/ | cut -d' ' -f2)
	run du-upload -d "$d" -b du-test -p budget -w 2 --budget "$budget" --progress=none
	echo "$output"
	[ "$status" -eq 7 ]
	[[ "$output" == *"the data budget of "*" per day is spent; it renews at $(date -d tomorrow +%Y-%m-%d) 00:00 (local time)"* ]]
	sid=$(last_session)
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $sid AND status = 'uploaded'")" -eq 3 ]
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $sid AND status = 'pending'")" -eq 7 ]
	[ "$(sql "SELECT status FROM sync_sessions WHERE id = $sid")" = interrupted ]
	# the bytes counted are the bytes that reached the server
	sent=$(( $(fp_sends budget/ | cut -d' ' -f2) - p0 ))
	[ "$sent" -eq $((3 * 300 * 1024)) ]
	[ "$(( $(spent_today) - base ))" -eq "$sent" ]

	# The second run of the day: 124 KiB left, no file fits: nothing is sent at all.
	run du-upload -d "$d" -b du-test -p budget -w 2 --budget "$budget" --progress=none
	[ "$status" -eq 7 ]
	[ "$(fp_sends budget/ | cut -d' ' -f2)" -eq $((p0 + sent)) ]

	# status shows what is spent, with the budget; a larger budget lets the rest go.
	run du-master status --budget "$budget"
	echo "$output"
	[[ "$output" == *"sent to S3 from '$(hostname)': "*" today, "* ]]
	[[ "$output" == *"data budget $budget: "*" spent, 124.0 KiB left, renews "* ]]
	run du-upload -d "$d" -b du-test -p budget --budget "$((base + 4 * 1024 * 1024))/day" --progress=none
	[ "$status" -eq 0 ]
	[ "$(fp_sends budget/ | cut -d' ' -f2)" -eq $((p0 + 10 * 300 * 1024)) ]
}

@test "bad --budget values: one line naming budget, exit 3, nothing written" {
	d="$BATS_TEST_TMPDIR/t"
	mkdir -p "$d"
	head -c 1000 /dev/urandom >"$d/a.wav"
	for bad in 5GiB/fortnight 12q/day -5GiB/day 5GiB 0/day; do
		run du-upload -d "$d" -b du-test -p badb --budget "$bad" --progress=none
		echo "$bad: $output"
		[ "$status" -eq 3 ]
		[ "$(echo "$output" | grep -c .)" -eq 1 ]
		[[ "$output" == "du-upload: error: budget: "*"(from flag --budget)" ]]
	done
	run du-upload -d "$d" -b du-test -p badb --budget 5GiB/fortnight --progress=none
	[[ "$output" == *"the period is hour, day, week or month, not 'fortnight'"* ]]
	# nothing written: no schema in a fresh database, no row in a used one
	[ "$(sql "SELECT to_regclass('file_uploads') IS NULL")" = t ] ||
		[ "$(sql "SELECT count(*) FROM file_uploads WHERE s3_key LIKE 'badb/%'")" -eq 0 ]
}


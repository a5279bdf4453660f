#!/usr/bin/env bats
# What a person sees: one line per file (-v), failures even with -q, JSON events per file counted
# against the rows, the progress bar in a real terminal (tmux), NO_COLOR.

DU_E2E_SERVERS="s3rver"
load helpers

# tree DIR N: N recordings, one unreadable (it fails with "permission denied").
tree() {
	mkdir -p "$1/site"
	for i in $(seq 1 "$2"); do head -c $((i * 100 + 50)) /dev/urandom >"$1/site/rec_$i.wav"; done
	[ "$(id -u)" -ne 0 ] || chown -R nobody "$1"
	chmod 000 "$1/site/rec_2.wav"
}

@test "-v: a line per file as it ends (uploaded, failed), plain words when piped; a re-run says nothing per unchanged file, -vv does" {
	d=$(du_user_dir)
	tree "$d" 6
	run du_as_user "$DU_BIN/du-upload" -d "$d" -b du-test -p out-v -v --progress=none
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(grep -c '^uploaded out-v/' <<<"$output")" -eq 5 ]
	grep -q '^uploaded out-v/site/rec_3.wav (350 B, .*/s, new)$' <<<"$output"
	grep -q '^failed   out-v/site/rec_2.wav: permission denied; permanent, not retried$' <<<"$output"
	! grep -q $'\033' <<<"$output"
	# The re-run at -v: what happened (the failure again), not what did not: no line per skipped file.
	run du_as_user "$DU_BIN/du-upload" -d "$d" -b du-test -p out-v -v --progress=none
	echo "$output"
	! grep -q '^skipped ' <<<"$output"
	grep -q '^failed   out-v/site/rec_2.wav' <<<"$output"
	# -vv: every file skipped with its reason.
	run du_as_user "$DU_BIN/du-upload" -d "$d" -b du-test -p out-v -vv --progress=none
	echo "$output"
	[ "$(grep -c '^skipped  out-v/site/rec_[0-9].wav (.*): already uploaded$' <<<"$output")" -eq 5 ]
	grep -q '^failed   out-v/site/rec_2.wav' <<<"$output"
	rm -rf "$d"
}

@test "-q: failures only, with their error" {
	d=$(du_user_dir)
	tree "$d" 4
	run du_as_user "$DU_BIN/du-upload" -d "$d" -b du-test -p out-q -q
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(wc -l <<<"$output")" -eq 1 ]
	grep -q '^failed   out-q/site/rec_2.wav: permission denied' <<<"$output"
	rm -rf "$d"
}

@test "--log-file gets the per-file lines, timestamped" {
	d=$(du_user_dir)
	tree "$d" 3
	log=$d/du.log
	run du_as_user "$DU_BIN/du-upload" -d "$d" -b du-test -p out-log -q --log-file "$log"
	[ "$status" -eq 1 ]
	grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z du-upload debug: uploaded out-log/site/rec_1.wav' "$log"
	grep -Eq 'Z du-upload error: failed   out-log/site/rec_2.wav: permission denied' "$log"
	rm -rf "$d"
}

@test "--progress=json: one event per file, counted against the rows" {
	d=$(du_user_dir)
	tree "$d" 8
	run du_as_user "$DU_BIN/du-upload" -d "$d" -b du-test -p out-json --progress=json
	[ "$status" -eq 1 ]
	sid=$(last_session)
	echo "$output" | grep '^{' >"$DU_E2E_TMP/events.jsonl"
	/usr/bin/python3 - "$DU_E2E_TMP/events.jsonl" "$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $sid AND status = 'uploaded'")" \
		"$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $sid AND status = 'failed'")" \
		"$(sql "SELECT string_agg(s3_key || '=' || md5, ',' ORDER BY s3_key) FROM file_uploads WHERE session_id = $sid AND status = 'uploaded'")" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
files = [e for e in ev if e["event"] == "file"]
up = sorted(e["key"] + "=" + e["checksum"] for e in files if e["outcome"] == "uploaded")
failed = [e for e in files if e["outcome"] == "failed"]
assert len(up) == int(sys.argv[2]) == 7, (up, sys.argv[2])
assert len(failed) == int(sys.argv[3]) == 1, failed
assert ",".join(up) == sys.argv[4], (up, sys.argv[4])
assert failed[0]["error"] == "permission denied" and failed[0]["will_retry"] is False
assert all(e["reason"] == "new" and e["attempt"] == 1 and e["duration"] >= 0 for e in files if e["outcome"] == "uploaded")
assert [e for e in ev if e["event"] == "summary"][0]["files_uploaded"] == 7
PY
	rm -rf "$d"
}

# The screen of a tmux pane running CMD (80 columns), once CMD has ended.
tmux_screen() {
	local sock=$DU_E2E_TMP/tmux.sock out=$DU_E2E_TMP/pane
	tmux -S "$sock" new-session -d -x 100 -y 30 "$1; echo EXIT=\$?; sleep 30"
	for _ in $(seq 1 200); do
		tmux -S "$sock" capture-pane -p -e >"$out" 2>/dev/null
		grep -q 'EXIT=' "$out" && break
		sleep 0.1
	done
	cat "$out"
	tmux -S "$sock" kill-server
}

@test "a real terminal: the bar redraws in place, one line, no stale characters; NO_COLOR: no escapes" {
	command -v tmux >/dev/null || skip "tmux is not installed"
	d=$DU_E2E_TMP/tty
	mkdir -p "$d"
	for i in $(seq 1 300); do head -c 2000 /dev/urandom >"$d/r$i.wav"; done
	env_s="AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 AWS_ENDPOINT_URL_S3=$AWS_ENDPOINT_URL_S3 DATABASE_URL='$DATABASE_URL' AWS_EC2_METADATA_DISABLED=true HOME=$HOME"
	screen=$(tmux_screen "env $env_s TERM=xterm $DU_BIN/du-upload -d $d -b du-test -p tty -w 2")
	echo "$screen"
	grep -q 'EXIT=0' <<<"$screen"
	# One progress line, the final one, with its bar; nothing left over from earlier frames.
	plain=$(sed 's/\x1b\[[0-9;]*m//g' <<<"$screen")
	[ "$(grep -c 'ETA' <<<"$plain")" -eq 1 ]
	grep -Eq '^\[#{10,30}\] 100\.0% 300/300 files, 585\.9 KiB/585\.9 KiB, 0 failed, .*/s, ETA 00:00$' <<<"$plain"
	# -v on a terminal: indicators and colour.
	screen=$(tmux_screen "env $env_s TERM=xterm $DU_BIN/du-upload -d $d -b du-test -p tty2 -w 2 -v")
	grep -q $'\u2705' <<<"$screen"
	grep -q $'\033\\[32m' <<<"$screen"
	screen=$(tmux_screen "env $env_s TERM=xterm NO_COLOR=1 $DU_BIN/du-upload -d $d -b du-test -p tty3 -w 2 -v")
	echo "$screen"
	! grep -q $'\033\\[3[0-9]m' <<<"$screen"
	! grep -q $'\u2705' <<<"$screen"
	grep -Eq '^uploaded tty3/r[0-9]+.wav' <<<"$screen"
}

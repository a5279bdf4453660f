#!/usr/bin/env bats
# Sessions are alive only while one of their workers is: killed runs end up interrupted, a worker on
# another host is seen dead when its heartbeat stops, a reused PID does not keep a session alive,
# and du-master status shows all that without writing.

load helpers
load fault_helpers

setup_file() {
	du_e2e_start s3rver
	export TREE=$DU_E2E_TMP/tree
	/usr/bin/python3 "$DU_TOP/tests/lib/mktree.py" "$TREE" --files 3000 --seed 32
}

teardown_file() { du_e2e_stop; }

setup() { du_env_s3rver; }

in_progress() { sql "SELECT count(*) FROM sync_sessions WHERE status = 'in_progress'"; }

@test "kill -9 three times, then a run to the end: no session is left in_progress" {
	for k in 1 2 3; do
		du-upload -d "$TREE" -b du-test -p dead -w 2 --progress=none >"$DU_E2E_TMP/kill-$k.log" 2>&1 &
		pid=$!
		# Once it has sent something (a few PUTs in), at a moment of its own.
		wait_until 60 eval '[ "$(sql "SELECT count(*) FROM file_uploads f JOIN sync_sessions s ON s.id = f.session_id WHERE s.pid = '"$pid"' AND f.status = '"'uploaded'"'")" -ge $((k * 40)) ] || ! kill -0 '"$pid"
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" || true
	done
	run du-upload -d "$TREE" -b du-test -p dead --progress=none
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(in_progress)" -eq 0 ]
	[ "$(sql "SELECT count(*) FROM sync_sessions WHERE s3_prefix = 'dead' AND status = 'interrupted' AND error_message LIKE 'no worker left: its process % ended'")" -ge 1 ]
	[ "$(sql "SELECT status FROM sync_sessions ORDER BY id DESC LIMIT 1")" = completed ]
	# The last killed one at least was seen by this run.
	[[ "$output" == *" marked interrupted: its process "*" ended"* ]]
}

# session_with_worker HOST PID START AGE: an in_progress session whose only worker row is HOST/PID
# with process start time START and a heartbeat AGE seconds old; prints its id.
session_with_worker() {
	sql "WITH s AS (INSERT INTO sync_sessions (project_id, local_directory, s3_prefix, status, hostname, pid)
	       SELECT min(id), '/nowhere', 'ghost-$1-$2', 'in_progress', '$1', $2 FROM projects RETURNING id),
	     w AS (INSERT INTO session_workers (session_id, worker, host, pid, proc_start, boot_id, heartbeat_at)
	       SELECT id, '$1:$2:x', '$1', $2, $3, '$(cat /proc/sys/kernel/random/boot_id)', now() - make_interval(secs => $4)
	       FROM s)
	     SELECT id FROM s"
}

@test "a worker on another host is dead after two leases without a heartbeat; a live one is not" {
	stale=$(session_with_worker other-host 4242 1 700)
	fresh=$(session_with_worker other-host 4343 1 30)
	# status shows it without writing anything.
	run du-master status "$stale"
	echo "$output"
	[[ "$output" == *"presumed dead: no heartbeat from other-host for over 600 s"* ]]
	[ "$(sql "SELECT status FROM sync_sessions WHERE id = $stale")" = in_progress ]
	run du-master status --json
	/usr/bin/python3 -c '
import json, sys
d = {s["session_id"]: s for s in json.loads(sys.argv[1])}
assert d[int(sys.argv[2])]["presumed_dead"].startswith("no heartbeat"), d[int(sys.argv[2])]
assert d[int(sys.argv[3])]["presumed_dead"] is None, d[int(sys.argv[3])]' "$output" "$stale" "$fresh"
	# A command that writes marks it interrupted, and leaves the live one alone.
	d=$DU_E2E_TMP/one
	mkdir -p "$d"
	head -c 10 /dev/urandom >"$d/a.wav"
	run du-upload -d "$d" -b du-test -p one --progress=none
	[ "$status" -eq 0 ]
	[ "$(sql "SELECT status FROM sync_sessions WHERE id = $stale")" = interrupted ]
	[ "$(sql "SELECT status FROM sync_sessions WHERE id = $fresh")" = in_progress ]
	sql "UPDATE sync_sessions SET status = 'interrupted' WHERE id = $fresh" >/dev/null
}

@test "a reused PID on this host does not keep a session alive: the process start time differs" {
	# This shell's PID is alive, but it started at another moment than the worker row says.
	reused=$(session_with_worker "$(hostname)" $$ 12345 0)
	live_start=$(awk '{ sub(/.*\) /, ""); print $20 }' /proc/$$/stat)
	alive=$(session_with_worker "$(hostname)" $$ "$live_start" 0)
	d=$DU_E2E_TMP/two
	mkdir -p "$d"
	head -c 10 /dev/urandom >"$d/b.wav"
	run du-upload -d "$d" -b du-test -p two --progress=none
	[ "$status" -eq 0 ]
	[ "$(sql "SELECT status FROM sync_sessions WHERE id = $reused")" = interrupted ]
	[ "$(sql "SELECT error_message FROM sync_sessions WHERE id = $reused")" = "no worker left: its process $$ on $(hostname) ended" ]
	[ "$(sql "SELECT status FROM sync_sessions WHERE id = $alive")" = in_progress ]
	sql "UPDATE sync_sessions SET status = 'interrupted' WHERE id = $alive" >/dev/null
}

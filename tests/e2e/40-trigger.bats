#!/usr/bin/env bats
# du-trigger: the webhook payload, its signature, retries, the attempts record, dry run, bad input.

load helpers
load trigger_helpers

SECRET=whsec_e2e_Sekret-314
APIKEY=ak_e2e_Key-2718

setup_file() {
	du_e2e_start
	# The schema: du-trigger migrates before it looks the session up (and finds none).
	run du-trigger -s 999999 -e http://127.0.0.1:9/x
	[ "$status" -eq 3 ]
}

teardown_file() { du_e2e_stop; }

setup() { unset DU_ENDPOINT_URL DU_ENDPOINT_API_KEY DU_ENDPOINT_SECRET; }

teardown() { recv_stop; }

@test "the payload has exactly the documented fields and values" {
	recv_start
	sid=$(mk_session du-trig-a site/C1 3)
	run du-trigger -s "$sid" -e "$RECV_URL"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(recv_count)" -eq 1 ]
	want="{'session_id': $sid, 'project': 'proj-du-trig-a', 'bucket_name': 'du-trig-a', 's3_prefix': 'site/C1',
	       'local_directory': '/data/du-trig-a', 'status': 'completed_with_errors', 'total_files': 4,
	       'files_uploaded': 3, 'files_failed': 1, 'files_skipped': 0, 'total_size_bytes': 3007,
	       'bytes_uploaded': 0, 'started_at': '2024-05-01T08:00:00Z', 'completed_at': '2024-05-01T09:30:15Z'}"
	[ "$(recv_py "json.loads(reqs[0]['body']) == $want")" = True ]
	[ "$(recv_py "reqs[0]['method'] + ' ' + reqs[0]['path']")" = "POST /hooks/du" ]
	[ "$(recv_py "reqs[0]['headers']['content-type']")" = application/json ]
	[ "$(recv_py "reqs[0]['headers']['idempotency-key']")" = "du-session-$sid" ]
	[ "$(recv_py "'x-du-signature' in reqs[0]['headers']")" = False ]
	[ "$(attempts "$sid")" = 200 ]
}

@test "the endpoint can come from DU_ENDPOINT_URL, and --list-files adds every uploaded key" {
	recv_start
	sid=$(mk_session du-trig-b p 2500)
	DU_ENDPOINT_URL=$RECV_URL run du-trigger -s "$sid" --list-files
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(recv_py "len(json.loads(reqs[0]['body'])['files'])")" -eq 2500 ]
	[ "$(recv_py "json.loads(reqs[0]['body'])['files'] == ['s3://du-trig-b/p/f%d.wav' % i for i in range(1, 2501)]")" = True ]
	[ "$(recv_py "reqs[0]['chunked']")" = True ]
}

@test "the HMAC signature verifies with the documented method, with and without --list-files" {
	recv_start
	sid=$(mk_session du-trig-c q 1500)
	export DU_ENDPOINT_SECRET=$SECRET DU_ENDPOINT_API_KEY=$APIKEY
	run du-trigger -s "$sid" -e "$RECV_URL" -v
	echo "$output"
	[ "$status" -eq 0 ]
	run du-trigger -s "$sid" -e "$RECV_URL" --list-files -v
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"$SECRET"* && "$output" != *"$APIKEY"* ]]
	[ "$(recv_count)" -eq 2 ]
	for i in 0 1; do
		[ "$(recv_verify $i "$SECRET")" = True ]
		[ "$(recv_verify $i wrong-secret)" = False ]
		[ "$(recv_py "reqs[$i]['headers']['api_key']")" = "$APIKEY" ]
	done
	[ "$(recv_py "len(json.loads(reqs[1]['body'])['files'])")" -eq 1500 ]
	# Signed and listed: spooled, so sent with a length.
	[ "$(recv_py "reqs[1]['chunked']")" = False ]
	[ "$(sql "SELECT count(*) FROM trigger_attempts WHERE session_id = $sid AND (url || coalesce(error, '') || coalesce(response_excerpt, '')) LIKE '%Sekret%'")" -eq 0 ]
}

@test "500 twice, then success: three attempts recorded as 500,500,200 with one idempotency key" {
	recv_start --fail-first 2
	sid=$(mk_session du-trig-d r 1)
	run du-trigger -s "$sid" -e "$RECV_URL?token=tok_e2e_Hidden"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(recv_count)" -eq 3 ]
	[ "$(attempts "$sid")" = "500,500,200" ]
	[ "$(recv_py "sorted(set(r['headers']['idempotency-key'] for r in reqs))")" = "['du-session-$sid']" ]
	[ "$(sql "SELECT count(*) FROM trigger_attempts WHERE session_id = $sid AND url LIKE '%/hooks/du?token=***' AND duration_ms >= 0")" -eq 3 ]
	[ "$(sql "SELECT error FROM trigger_attempts WHERE session_id = $sid ORDER BY id LIMIT 1")" = "HTTP 500" ]
	[ "$(sql "SELECT count(*) FROM trigger_attempts WHERE url LIKE '%tok_e2e_Hidden%'")" -eq 0 ]
	[[ "$output" != *tok_e2e_Hidden* ]]
}

@test "400 is not retried: exit 6, one attempt recorded" {
	recv_start --status-always 400
	sid=$(mk_session du-trig-e s 1)
	run du-trigger -s "$sid" -e "$RECV_URL"
	echo "$output"
	[ "$status" -eq 6 ]
	[[ "$output" == *"HTTP 400"* ]]
	[ "$(recv_count)" -eq 1 ]
	[ "$(attempts "$sid")" = 400 ]
	[ "$(sql "SELECT response_excerpt FROM trigger_attempts WHERE session_id = $sid")" = '{"ok": false, "n": 1}' ]
}

@test "a timeout is retried, then success" {
	recv_start --sleep-first 1 --sleep 5
	sid=$(mk_session du-trig-f t 1)
	start=$(date +%s)
	run du-trigger -s "$sid" -e "$RECV_URL" -t 1
	echo "$output"
	[ "$status" -eq 0 ]
	[ $(($(date +%s) - start)) -lt 5 ]
	[ "$(recv_count)" -eq 2 ]
	[ "$(attempts "$sid")" = "-,200" ]
	[[ "$(sql "SELECT error FROM trigger_attempts WHERE session_id = $sid ORDER BY id LIMIT 1")" == *"imed out"* ]]
}

@test "an endpoint that keeps failing: exit 6 within the budget" {
	recv_start --fail-first 1000
	sid=$(mk_session du-trig-g u 1)
	start=$(date +%s)
	run du-trigger -s "$sid" -e "$RECV_URL" -t 1
	echo "$output"
	[ "$status" -eq 6 ]
	[ $(($(date +%s) - start)) -le 6 ]
	n=$(recv_count)
	[ "$n" -ge 2 ]
	[ "$(sql "SELECT count(*) FROM trigger_attempts WHERE session_id = $sid AND http_status = 500")" -eq "$n" ]
}

@test "--dry-run prints the request, sends nothing, records nothing and shows no secret" {
	recv_start
	sid=$(mk_session du-trig-h v 3)
	export DU_ENDPOINT_SECRET=$SECRET DU_ENDPOINT_API_KEY=$APIKEY
	run du-trigger -s "$sid" -e "$RECV_URL?token=tok_e2e_Hidden" --dry-run --list-files
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"POST $RECV_URL?token=***"* ]]
	[[ "$output" == *"Idempotency-Key: du-session-$sid"* ]]
	[[ "$output" == *"api_key: ***"* ]]
	[[ "$output" == *"X-Du-Signature: sha256=***"* ]]
	[[ "$output" == *'"files":["s3://du-trig-h/v/f1.wav","s3://du-trig-h/v/f2.wav","s3://du-trig-h/v/f3.wav"]}'* ]]
	[[ "$output" != *"$SECRET"* && "$output" != *"$APIKEY"* && "$output" != *tok_e2e_Hidden* ]]
	sleep 0.3
	[ "$(recv_count)" -eq 0 ]
	[ "$(attempts "$sid")" = "" ]
}

@test "an unknown session: exit 3, nothing sent" {
	recv_start
	run du-trigger -s 987654 -e "$RECV_URL"
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"session 987654 does not exist"* ]]
	[ "$(recv_count)" -eq 0 ]
	run du-trigger -s 987654 -e "$RECV_URL" --dry-run
	[ "$status" -eq 3 ]
}

@test "an invalid endpoint URL: exit 3 before anything runs" {
	recv_start
	sid=$(mk_session du-trig-i w 1)
	for url in "ftp://127.0.0.1/x" "not a url" "127.0.0.1:9/x"; do
		# An unreachable database proves that nothing ran before the URL was refused.
		DATABASE_URL="postgresql://du@127.0.0.1:1/none" run du-trigger -s "$sid" -e "$url"
		echo "$url: $output"
		[ "$status" -eq 3 ]
	done
	[ "$(attempts "$sid")" = "" ]
}

@test "Retry-After is honoured, and Ctrl-C during the wait stops at once with exit 130" {
	recv_start --fail-first 1000 --retry-after 20
	sid=$(mk_session du-trig-j x 1)
	start=$(date +%s)
	du-trigger -s "$sid" -e "$RECV_URL" -t 30 >"$BATS_TEST_TMPDIR/out" 2>&1 &
	pid=$!
	for _ in $(seq 1 100); do [ "$(recv_count)" -ge 1 ] && break; sleep 0.05; done
	sleep 1
	# Still waiting the 20 s the receiver asked for: one request only.
	[ "$(recv_count)" -eq 1 ]
	kill -INT "$pid"
	st=0
	wait "$pid" || st=$?
	cat "$BATS_TEST_TMPDIR/out"
	[ "$st" -eq 130 ]
	[ $(($(date +%s) - start)) -lt 10 ]
	[ "$(attempts "$sid")" = 500 ]
	grep -q "retrying in 20.0 s" "$BATS_TEST_TMPDIR/out"
}

#!/usr/bin/env bats
# Secret hygiene: recognisable fake secrets go in through the environment; none may come out in
# stdout, stderr, --log-file, --dump-config, any database table (pg_dump), the webhook request
# (the HMAC secret), or the command line of any process while du runs. And TLS: a self-signed
# S3 endpoint is refused unless its CA is given with AWS_CA_BUNDLE.

load helpers
load fault_helpers
load trigger_helpers

setup_file() {
	du_e2e_start s3rver
	export TREE="$DU_E2E_TMP/tree"
	mk_tree "$TREE" 30
	export SECRETS="$DU_E2E_TMP/secrets.txt"
	# Distinct and recognisable; the patterns live in a file so grep's own command line is clean.
	export S_AWS=FakeAwsSecret0xDEADBEEFfromEnv S_TOKEN=FakeSessionToken0xC0FFEEfromEnv
	export S_DBPW=FakeDbPassword0xBADC0DE S_URLPW=FakeUrlPassword0x5EC12E7
	export S_API=FakeEndpointApiKey0xA11CE S_HMAC=FakeHmacSecret0xB0B
	printf '%s\n' "$S_AWS" "$S_TOKEN" "$S_DBPW" "$S_URLPW" "$S_API" "$S_HMAC" >"$SECRETS"
}

teardown_file() { du_e2e_stop; }

setup() {
	du_env_s3rver
	unset AWS_CA_BUNDLE
	export AWS_SECRET_ACCESS_KEY=$S_AWS AWS_SESSION_TOKEN=$S_TOKEN DB_PASSWORD=$S_DBPW
	export DU_ENDPOINT_API_KEY=$S_API DU_ENDPOINT_SECRET=$S_HMAC
	# The test cluster trusts its socket: the password is ignored by the server, not by du.
	export DATABASE_URL="postgresql://postgres:$S_URLPW@/du_test?host=$PGHOST&port=$PGPORT"
}

teardown() {
	recv_stop
	du_fp_stop "$BATS_TEST_TMPDIR/fp"
	du_bad_s3_stop "$BATS_TEST_TMPDIR/tls"
}

# no_secret FILE...: none of the fake secrets in any of the files (names the file and secret).
no_secret() {
	local f
	for f in "$@"; do
		if grep -aF -f "$SECRETS" "$f" >/dev/null; then
			echo "secret found in $f:"
			grep -aoF -f "$SECRETS" "$f" | sort -u
			return 1
		fi
	done
}

# sample_cmdlines PID OUT: while PID lives, append the command line of every process on the
# machine to OUT (du's own first, then its find(1), helpers, everything). Builtins only, so a
# sweep is quick enough to catch du itself even on a loaded machine.
sample_once() {
	local pid=$1 out=$2 p arg line
	for p in "/proc/$pid" /proc/[0-9]*; do
		line=""
		# A process may end between the glob and the read: not an error.
		{ while IFS= read -r -d '' arg; do line+="$arg "; done <"$p/cmdline"; } 2>/dev/null || true
		[ -z "$line" ] || printf '%s\n' "$line" >>"$out"
	done
}

# The proxy holds a PUT in its stall now (so du, waiting for its answer, is alive).
put_stalled() { [ "$(fp_py 's["faults"].get("stall", 0)')" -ge 1 ]; }

sample_cmdlines() {
	while kill -0 "$1" 2>/dev/null; do sample_once "$1" "$2"; done
}

@test "upload, retry and trigger never show a secret: output, logs, dump-config, database, cmdline" {
	local d="$BATS_TEST_TMPDIR" sid
	recv_start

	# du-upload, held at a known point while sampled: the fault proxy stalls its first PUT, so du
	# is certainly running (blocked in that PUT) when one sweep reads every command line.
	du_fp_start "$d/fp" "$DU_S3RVER_URL"
	fp_ctl "set?next=stall&stall=4&methods=PUT" >/dev/null
	AWS_ENDPOINT_URL_S3=$DU_FP_URL du-upload -d "$TREE" -b du-test -p secrets -w 1 --log-file "$d/upload.log" -v \
		>"$d/upload.out" 2>"$d/upload.err" &
	local pid=$!
	wait_until 30 put_stalled
	sample_once "$pid" "$d/cmdlines"
	[ "$(grep -c 'du-upload' "$d/cmdlines")" -ge 1 ] # the sweep saw du, stalled in its PUT
	sample_cmdlines "$pid" "$d/cmdlines" &
	local sampler=$!
	wait "$pid"
	wait "$sampler" || true
	sid=$(sql "SELECT max(id) FROM sync_sessions")
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $sid AND status = 'uploaded'")" -gt 30 ]

	# A failed file for du-retry to work on.
	sql "UPDATE file_uploads SET status = 'failed', error_message = 'test' WHERE id = (SELECT min(id) FROM file_uploads WHERE session_id = $sid)"
	du-retry -s "$sid" --log-file "$d/retry.log" -v >"$d/retry.out" 2>"$d/retry.err"

	# du-trigger: dry run, then a real POST to the receiver.
	du-trigger -s "$sid" -e "$RECV_URL" --dry-run --log-file "$d/trigger.log" -v >"$d/trigger-dry.out" 2>"$d/trigger-dry.err"
	du-trigger -s "$sid" -e "$RECV_URL" --log-file "$d/trigger.log" -v >"$d/trigger.out" 2>"$d/trigger.err" &
	pid=$!
	sample_cmdlines "$pid" "$d/cmdlines" &
	sampler=$!
	wait "$pid"
	wait "$sampler" || true
	[ "$(recv_count)" -eq 1 ]

	# --dump-config of each tool: the secrets were read (source env), their values are masked.
	du-upload -d "$TREE" -b du-test -p secrets --dump-config >"$d/dump-upload.json"
	du-retry -s "$sid" --dump-config >"$d/dump-retry.json"
	du-trigger -s "$sid" -e "$RECV_URL" --dump-config >"$d/dump-trigger.json"
	grep -A3 '"db_password"' "$d/dump-upload.json" | grep -q '"source":.*"env DB_PASSWORD"'
	grep -A3 '"endpoint_secret"' "$d/dump-trigger.json" | grep -q '"source":.*"env DU_ENDPOINT_SECRET"'
	grep -A3 '"endpoint_api_key"' "$d/dump-trigger.json" | grep -q '"\*\*\*"'

	# Every table.
	pg_dump --data-only du_test >"$d/dump.sql"
	[ "$(grep -c 'secrets/' "$d/dump.sql")" -gt 30 ] # the dump does hold the session's rows

	no_secret "$d"/*.out "$d"/*.err "$d"/*.log "$d"/dump-*.json "$d/dump.sql" "$d/cmdlines"

	# The webhook: the API key is sent (that is its purpose), the HMAC secret never is.
	[ "$(recv_py 'reqs[0]["headers"].get("api_key")')" = "$S_API" ]
	recv_py 'json.dumps(reqs)' >"$d/webhook.json"
	grep -vF "$S_API" "$SECRETS" >"$d/not-sent.txt"
	! grep -aF -f "$d/not-sent.txt" "$d/webhook.json"
	[ "$(recv_verify 0 "$S_HMAC")" = True ]
}

@test "errors that involve a secret do not show it" {
	local d="$BATS_TEST_TMPDIR"
	# refused database with a password in the URL; a bad region; a bad secret flag value
	DATABASE_URL="postgresql://u:$S_URLPW@127.0.0.1:1/x" run du-upload -d "$TREE" -b du-test -p s
	[ "$status" -eq 4 ]
	echo "$output" >"$d/e1"
	run du-upload -d "$TREE" -b du-test -p s --db-password="$S_DBPW"
	[ "$status" -eq 2 ]
	echo "$output" >"$d/e2"
	DU_ENDPOINT_URL="http://user:$S_API@127.0.0.1:9/x" run du-trigger -s 1
	[ "$status" -ne 0 ]
	echo "$output" >"$d/e3"
	no_secret "$d/e1" "$d/e2" "$d/e3"
}

# ---- TLS -----------------------------------------------------------------------------------

tls_start() {
	local d="$BATS_TEST_TMPDIR/tls"
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/key.pem" -out "$d/cert.pem" -days 2 \
		-subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
	du_bad_s3_start "$d" ok --tls-cert "$d/cert.pem" --tls-key "$d/key.pem" || return 1
	TLS_LOG="$d/requests.log"
	TLS_URL=$DU_BAD_S3_URL
	TLS_CERT="$d/cert.pem"
}

@test "a self-signed HTTPS endpoint is refused (exit 5, certificate) unless AWS_CA_BUNDLE names its CA" {
	tls_start
	mkdir -p "$BATS_TEST_TMPDIR/t"
	head -c 500 /dev/urandom >"$BATS_TEST_TMPDIR/t/a.wav"
	export AWS_ENDPOINT_URL_S3=$TLS_URL DU_CONNECT_TIMEOUT=5 DU_RETRY_BASE_MS=1 DU_RETRY_CAP_MS=10

	# The machine's default bundle does not hold our CA either.
	for ca in "" /etc/ssl/certs/ca-certificates.crt; do
		if [ -n "$ca" ]; then export AWS_CA_BUNDLE=$ca; else unset AWS_CA_BUNDLE; fi
		run du-upload -d "$BATS_TEST_TMPDIR/t" -b bucket -p tls --progress=none
		echo "$output"
		[ "$status" -eq 5 ]
		grep -iE '^du-upload: error: .*(certificate|SSL)' <<<"$output"
		[ "$(sql "SELECT count(*) FROM file_uploads WHERE s3_key LIKE 'tls/%' AND status = 'uploaded'")" -eq 0 ]
	done
	! grep -q '^STORED' "$TLS_LOG"

	export AWS_CA_BUNDLE=$TLS_CERT
	run du-upload -d "$BATS_TEST_TMPDIR/t" -b bucket -p tls --progress=none
	echo "$output"
	[ "$status" -eq 0 ]
	grep -qx 'STORED bucket/tls/a.wav' "$TLS_LOG"
	[ "$(sql "SELECT status FROM file_uploads WHERE s3_key = 'tls/a.wav' ORDER BY id DESC LIMIT 1")" = uploaded ]

	# A bundle that does not exist is an error, not a silent fallback to no verification.
	export AWS_CA_BUNDLE=/nonexistent/ca.pem
	run du-upload -d "$BATS_TEST_TMPDIR/t" -b bucket -p tls2 --progress=none
	echo "$output"
	[ "$status" -ne 0 ]
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE s3_key LIKE 'tls2/%' AND status = 'uploaded'")" -eq 0 ]
}

#!/usr/bin/env bats
# The bad-input corpus (tests/bad/): configs, flags, environment, .env files, credential files,
# directory contents and server answers. Every case asserts du-upload's exit status, the one-line
# message (a key phrase), and that the database holds no false 'uploaded' row. Data-driven groups
# run every case and then report each failing case by name.

load helpers

setup_file() {
	du_e2e_start s3rver
	export TREE="$DU_E2E_TMP/tree"
	mk_tree "$TREE" 4
	export BAD="$DU_TOP/tests/bad"
	# The control: a good run works (and creates the schema the cases below count rows in).
	du_env_s3rver
	du-upload -d "$TREE" -b du-test -p control --progress=none >"$DU_E2E_TMP/control.out" 2>&1 ||
		{ cat "$DU_E2E_TMP/control.out" >&2; return 1; }
}

teardown_file() { du_e2e_stop; }

setup() {
	du_env_s3rver
	unset AWS_CA_BUNDLE AWS_PROFILE DU_MAX_WORKERS DU_EXTENSIONS
	FAILS=""
}

uploaded_rows() { sql "SELECT count(*) FROM file_uploads WHERE status = 'uploaded'"; }

# fail_case NAME WHY: remember a failing case (the group fails at the end, naming them all).
fail_case() {
	FAILS="$FAILS
case $1: $2
--- output:
$output
---"
}

# check_case NAME WANT_EXIT PHRASE [SECRET]: after `run`, check the status, that the one error
# line carries PHRASE, and that SECRET (when given) appears nowhere. Bash only, no forks: the
# groups run well over a hundred cases.
check_case() {
	local name=$1 want=$2 phrase=$3 secret=${4:-} line errs=0 hit=0
	if [ "$status" -ne "$want" ]; then
		fail_case "$name" "exit $status, expected $want"
		return
	fi
	while IFS= read -r line; do
		[[ $line == "du-upload: error: "* ]] || continue
		errs=$((errs + 1))
		[[ $line == *"$phrase"* ]] && hit=1
	done <<<"$output"
	if [ "$hit" -ne 1 ]; then
		fail_case "$name" "no error line containing '$phrase'"
	elif [ "$errs" -ne 1 ]; then
		fail_case "$name" "expected exactly one error line, got $errs"
	elif [ -n "$secret" ] && [[ $output == *"$secret"* ]]; then
		fail_case "$name" "the secret '$secret' was shown"
	fi
}

report() {
	if [ -n "$FAILS" ]; then
		echo "$FAILS"
		return 1
	fi
}

# read_expect FILE: E_EXIT, E_MSG, E_ARGS, E_SECRET, E_PROFILE from a case's .expect file.
read_expect() {
	local k v
	E_EXIT="" E_MSG="" E_ARGS="" E_SECRET="" E_PROFILE=""
	while IFS='=' read -r k v; do
		case $k in
		exit) E_EXIT=$v ;;
		msg) E_MSG=$v ;;
		args) E_ARGS=$v ;;
		secret) E_SECRET=$v ;;
		profile) E_PROFILE=$v ;;
		esac
	done <"$1"
}

# ---- configuration files ------------------------------------------------------------------------

@test "bad config files: each is refused with exit 3 and its message, nothing uploaded" {
	local before n=0
	before=$(uploaded_rows)
	for json in "$BAD"/configs/*.json; do
		local name=${json##*/} exp=${json%.json}.expect args
		name=${name%.json}
		[ -f "$exp" ] || { fail_case "$name" "no $exp"; continue; }
		read_expect "$exp"
		args=${E_ARGS:-"-d $TREE -b du-test -p cfg"}
		# shellcheck disable=SC2086
		run du-upload -c "$json" $args --progress=none
		check_case "$name" "$E_EXIT" "$E_MSG" "$E_SECRET"
		n=$((n + 1))
	done
	[ "$(uploaded_rows)" -eq "$before" ] || fail_case configs "uploaded rows changed"
	[ "$n" -ge 40 ] || fail_case configs "only $n config cases"
	report
}

# ---- command line, environment ------------------------------------------------------------------

@test "bad flags: each is refused with its exit status and message, nothing uploaded" {
	local before
	before=$(uploaded_rows)
	while IFS=$'\t' read -r name want phrase args; do
		case $name in '#'* | '') continue ;; esac
		args=${args//TREE/$TREE}
		# shellcheck disable=SC2086
		run du-upload $args
		check_case "flag $name" "$want" "$phrase" FlagSecret99
	done <"$BAD/flags.tsv"
	[ "$(uploaded_rows)" -eq "$before" ] || fail_case flags "uploaded rows changed"
	report
}

@test "bad tags and metadata: exit 3, one line naming the setting, nothing written" {
	local before sessions i args=()
	before=$(uploaded_rows)
	sessions=$(sql "SELECT count(*) FROM sync_sessions")
	run du-upload -d "$TREE" -b du-test -p tagged --progress=none --tag 'bad#key=x'
	check_case "tag with '#'" 3 "tags: key \"bad#key\" has '#', not allowed in S3 tags"
	for i in $(seq 1 11); do args+=(--tag "k$i=v"); done
	run du-upload -d "$TREE" -b du-test -p tagged --progress=none "${args[@]}"
	check_case "11 tags" 3 "tags: 11 tags; S3 allows at most 10"
	run du-upload -d "$TREE" -b du-test -p tagged --progress=none --metadata du-md5=0123
	check_case "metadata du-md5" 3 "metadata: key \"du-md5\" starts with 'du-'"
	run env DU_TAGS='{"site": ["A1"]}' du-upload -d "$TREE" -b du-test -p tagged --progress=none
	check_case "DU_TAGS not an object of strings" 3 "tags: expected a JSON object of strings"
	[ "$(uploaded_rows)" -eq "$before" ] || fail_case tags "uploaded rows changed"
	[ "$(sql "SELECT count(*) FROM sync_sessions")" -eq "$sessions" ] || fail_case tags "a session was made"
	# s3rver keeps a key's folders as directories: the control's are there, none for tagged/
	[ -d "$DU_E2E_TMP/s3/s3data/du-test/control" ] || fail_case tags "no control objects where expected"
	[ ! -e "$DU_E2E_TMP/s3/s3data/du-test/tagged" ] || fail_case tags "an object was stored under tagged/"
	report
}

@test "bad environment: each variable is refused with its exit status and message" {
	local before
	before=$(uploaded_rows)
	export DU_RETRY_BASE_MS=1 DU_RETRY_CAP_MS=10 DU_CONNECT_TIMEOUT=2
	while IFS=$'\t' read -r name want phrase assign; do
		case $name in '#'* | '') continue ;; esac
		run env "$assign" du-upload -d "$TREE" -b du-test -p envc --progress=none
		check_case "env $name" "$want" "$phrase" UrlSecret77
	done <"$BAD/env.tsv"
	[ "$(uploaded_rows)" -eq "$before" ] || fail_case env "uploaded rows changed"
	report
}

@test "bad .env files: refused naming FILE:LINE, never quoting a value" {
	local before
	before=$(uploaded_rows)
	for f in "$BAD"/dotenv/*.env; do
		local name=${f##*/}
		read_expect "${f%.env}.expect"
		run du-upload --env-file="$f" -d "$TREE" -b du-test -p dotenv --progress=none
		check_case "dotenv ${name%.env}" "$E_EXIT" "$E_MSG" "$E_SECRET"
	done
	[ "$(uploaded_rows)" -eq "$before" ] || fail_case dotenv "uploaded rows changed"
	report
}

@test "bad AWS credential files: refused naming FILE:LINE or the profile, secret never shown" {
	local before
	before=$(uploaded_rows)
	for f in "$BAD"/credentials/*.ini; do
		local name=${f##*/}
		read_expect "${f%.ini}.expect"
		run env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_SHARED_CREDENTIALS_FILE="$f" \
			${E_PROFILE:+AWS_PROFILE=$E_PROFILE} du-upload -d "$TREE" -b du-test -p creds --progress=none
		check_case "credentials ${name%.ini}" "$E_EXIT" "$E_MSG" "$E_SECRET"
	done
	[ "$(uploaded_rows)" -eq "$before" ] || fail_case credentials "uploaded rows changed"
	report
}

# ---- server answers -----------------------------------------------------------------------------

# bad_s3_start MODE DIR [ARGS...]: start tests/lib/bad_s3.py (du_bad_s3_start); sets BAD_S3_URL,
# BAD_S3_DIR, BAD_S3_LOG.
bad_s3_start() {
	BAD_S3_DIR=$2
	BAD_S3_LOG="$2/requests.log"
	du_bad_s3_start "$2" "$1" "${@:3}" || return 1
	BAD_S3_URL=$DU_BAD_S3_URL
}

bad_s3_stop() {
	[ -n "${BAD_S3_DIR:-}" ] || return 0
	du_bad_s3_stop "$BAD_S3_DIR"
	BAD_S3_DIR=""
}

teardown() { bad_s3_stop; }

# Every row marked uploaded under PREFIX names an object the server really stored in BUCKET.
no_false_uploaded() {
	local prefix=$1 bucket=${2:-bucket} key
	while IFS= read -r key; do
		[ -n "$key" ] || continue
		grep -qxF "STORED $bucket/$key" "$BAD_S3_LOG" || { echo "false uploaded row: $key"; return 1; }
	done < <(sql "SELECT s3_key FROM file_uploads WHERE status = 'uploaded' AND s3_key LIKE '$prefix/%'")
}

@test "bad server answers: the file or the run fails, with the cause, and no row lies" {
	local src="$BATS_TEST_TMPDIR/s3tree"
	mkdir -p "$src"
	head -c 300 /dev/urandom >"$src/small.wav"
	head -c $((5 * 1024 * 1024 + 5)) /dev/urandom >"$src/big.wav"
	export DU_MULTIPART_THRESHOLD=5MiB DU_MULTIPART_CHUNK_SIZE=5MiB DU_TIMES_TO_RETRY=1
	export DU_RETRY_BASE_MS=1 DU_RETRY_CAP_MS=10
	# One server; each case's bucket is named after the misbehaviour it gets.
	bad_s3_start by-bucket "$BATS_TEST_TMPDIR/bad-s3"
	local n=0
	while IFS=$'\t' read -r mode want phrase file; do
		case $mode in '#'* | '') continue ;; esac
		n=$((n + 1))
		run env AWS_ENDPOINT_URL_S3="$BAD_S3_URL" du-upload -d "$src" -b "$mode" -p "$mode" --progress=none
		if [ "$file" = "-" ]; then
			check_case "s3 $mode" "$want" "$phrase"
			[ "$(sql "SELECT count(*) FROM file_uploads WHERE s3_key LIKE '$mode/%' AND status = 'uploaded'")" -eq 0 ] ||
				fail_case "s3 $mode" "a row is marked uploaded although the run failed"
		else
			[ "$status" -eq "$want" ] || fail_case "s3 $mode" "exit $status, expected $want"
			[[ $output == *"$phrase"* ]] || fail_case "s3 $mode" "output lacks '$phrase'"
			local row
			row=$(sql "SELECT status || '|' || coalesce(error_message, '') FROM file_uploads WHERE s3_key = '$mode/$file'")
			case $row in
			failed\|*"$phrase"*) ;;
			*) fail_case "s3 $mode" "row of $file is '$row', expected failed with '$phrase'" ;;
			esac
		fi
		local why
		why=$(no_false_uploaded "$mode" "$mode") || fail_case "s3 $mode" "$why"
	done <"$BAD/s3.tsv"
	bad_s3_stop
	[ "$n" -ge 15 ] || fail_case s3 "only $n cases"
	# the control: the same server, honest, stores both files and du records them
	[ "$(grep -c '^STORED ' "$BAD_S3_LOG")" -ge 10 ] || fail_case s3 "honest answers stored too little"
	report
}

# ---- directory contents -------------------------------------------------------------------------

@test "an unreadable file fails its row with 'permission denied'; the others upload" {
	local d
	d=$(du_user_dir)
	mkdir -p "$d/t"
	head -c 200 /dev/urandom >"$d/t/ok.wav"
	head -c 200 /dev/urandom >"$d/t/secret.wav"
	chmod 000 "$d/t/secret.wav"
	[ "$(id -u)" -ne 0 ] || chown -R nobody "$d/t"
	run du_as_user du-upload -d "$d/t" -b du-test -p unreadable --progress=none
	echo "$output"
	[ "$status" -eq 1 ]
	grep -q "^failed   .*secret.wav: permission denied" <<<"$output"
	[ "$(sql "SELECT status || '|' || error_message FROM file_uploads WHERE s3_key = 'unreadable/secret.wav'")" = "failed|permission denied" ]
	[ "$(sql "SELECT status FROM file_uploads WHERE s3_key = 'unreadable/ok.wav'")" = uploaded ]
	[ -f "$(s3rver_object du-test unreadable/ok.wav)" ]
	[ ! -e "$(s3rver_object du-test unreadable/secret.wav)" ]
	rm -rf "$d"
}

@test "an unreadable directory is a warning naming it; the rest uploads (both scanners)" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to run as another user"
	local d
	d=$(du_user_dir)
	mkdir -p "$d/t/open" "$d/t/locked"
	head -c 200 /dev/urandom >"$d/t/open/a.wav"
	head -c 200 /dev/urandom >"$d/t/locked/b.wav"
	chown -R nobody "$d/t"
	chmod 000 "$d/t/locked"
	for uf in true false; do
		run du_as_user du-upload -d "$d/t" -b du-test -p "lockeddir-$uf" --use-find=$uf --progress=none
		echo "$output"
		[ "$status" -eq 0 ]
		grep -E "^du-upload: warning: .*locked'?: Permission denied" <<<"$output"
		[ "$(sql "SELECT status FROM file_uploads WHERE s3_key = 'lockeddir-$uf/open/a.wav'")" = uploaded ]
		[ "$(sql "SELECT count(*) FROM file_uploads WHERE s3_key LIKE 'lockeddir-$uf/locked/%'")" -eq 0 ]
	done
	rm -rf "$d"
}

@test "an unreadable root directory ends the run with exit 1 and its name" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to run as another user"
	local d
	d=$(du_user_dir)
	mkdir -p "$d/t"
	head -c 200 /dev/urandom >"$d/t/a.wav"
	chmod 000 "$d/t"
	run du_as_user du-upload -d "$d/t" -b du-test -p lockedroot --progress=none
	echo "$output"
	[ "$status" -eq 1 ]
	grep -E "^du-upload: error: cannot open directory '.*/t': Permission denied" <<<"$output"
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE s3_key LIKE 'lockedroot/%'")" -eq 0 ]
	chmod 755 "$d/t"
	rm -rf "$d"
}

@test "symlink loops are reported and skipped, never followed forever (both scanners)" {
	local t="$BATS_TEST_TMPDIR/loops"
	mkdir -p "$t/d"
	head -c 200 /dev/urandom >"$t/d/a.wav"
	ln -s . "$t/d/self"
	ln -s .. "$t/d/parent"
	ln -s lb "$t/la"
	ln -s la "$t/lb"
	ln -s la "$t/lc.wav"
	for uf in true false; do
		run timeout 60 du-upload -d "$t" -b du-test -p "loops-$uf" --use-find=$uf --follow-symlinks --progress=none
		echo "$output"
		[ "$status" -eq 0 ]
		grep -qiE "^du-upload: warning: .*(loop|too many levels of symbolic links)" <<<"$output"
		# a.wav once, under its real path only
		[ "$(sql "SELECT string_agg(s3_key || ':' || status, ',') FROM file_uploads WHERE s3_key LIKE 'loops-$uf/%'")" = "loops-$uf/d/a.wav:uploaded" ]
	done
}

@test "FIFOs and device files named like media are skipped, never read (both scanners)" {
	local t="$BATS_TEST_TMPDIR/special"
	mkdir -p "$t"
	head -c 200 /dev/urandom >"$t/real.wav"
	mkfifo "$t/fifo.wav"
	local dev=0
	if [ "$(id -u)" -eq 0 ] && mknod "$t/zero.wav" c 1 5 2>/dev/null; then
		dev=1 # /dev/zero: reading it would never end
	fi
	for uf in true false; do
		run timeout 60 du-upload -d "$t" -b du-test -p "special-$uf" --use-find=$uf --progress=none
		echo "$output"
		[ "$status" -eq 0 ]
		[ "$(sql "SELECT string_agg(s3_key, ',') FROM file_uploads WHERE s3_key LIKE 'special-$uf/%'")" = "special-$uf/real.wav" ]
	done
	[ "$dev" -eq 1 ] || skip "device file part needs root (mknod); FIFO part passed"
}

@test "a name that is not UTF-8 fails its row with 'key is not valid UTF-8'; the run goes on" {
	local t="$BATS_TEST_TMPDIR/utf8"
	mkdir -p "$t"
	head -c 200 /dev/urandom >"$t/good.wav"
	head -c 200 /dev/urandom >"$t/$(printf 'bad\xff\xfename.wav')"
	head -c 200 /dev/urandom >"$t/$(printf 'latin1-\xe9t\xe9.wav')"
	for uf in true false; do
		run du-upload -d "$t" -b du-test -p "utf8-$uf" --use-find=$uf --progress=none
		echo "$output"
		[ "$status" -eq 1 ]
		grep -q "key is not valid UTF-8" <<<"$output"
		[ "$(sql "SELECT count(*) FROM file_uploads WHERE s3_key LIKE 'utf8-$uf/%' AND status = 'failed' AND error_message = 'key is not valid UTF-8'")" -eq 2 ]
		[ "$(sql "SELECT status FROM file_uploads WHERE s3_key = 'utf8-$uf/good.wav'")" = uploaded ]
		[ "$(sql "SELECT count(*) FROM file_uploads WHERE s3_key LIKE 'utf8-$uf/%' AND status = 'uploaded'")" -eq 1 ]
		# the stored key shows the bad bytes escaped, so the user can find the file
		[ "$(sql "SELECT count(*) FROM file_uploads WHERE s3_key = 'utf8-$uf/bad\\xFF\\xFEname.wav'")" -eq 1 ]
	done
}

@test "a key longer than 1024 bytes fails its row; the run goes on" {
	local t="$BATS_TEST_TMPDIR/long" d
	d="$t/$(printf 'x%.0s' $(seq 1 200))"
	d="$d/$(basename "$d")/$(basename "$d")/$(basename "$d")/$(basename "$d")/$(basename "$d")"
	mkdir -p "$d" "$t/short"
	head -c 10 /dev/urandom >"$d/deep.wav"
	head -c 10 /dev/urandom >"$t/short/ok.wav"
	run du-upload -d "$t" -b du-test -p long --progress=none
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(sql "SELECT status || '|' || error_message FROM file_uploads WHERE s3_key LIKE 'long/x%'")" = "failed|key is longer than 1024 bytes" ]
	[ "$(sql "SELECT status FROM file_uploads WHERE s3_key = 'long/short/ok.wav'")" = uploaded ]
}

@test "files that vanish during the run fail their rows and are never recorded uploaded" {
	local t="$BATS_TEST_TMPDIR/vanish"
	mkdir -p "$t"
	for i in $(seq -w 1 20); do head -c 1000 /dev/urandom >"$t/rec_$i.wav"; done
	bad_s3_start put-slow "$BATS_TEST_TMPDIR/slow"
	# One worker, 0.3 s per PUT: delete most files once the first object is stored.
	AWS_ENDPOINT_URL_S3="$BAD_S3_URL" du-upload -d "$t" -b bucket -p vanish -w 1 --progress=none \
		>"$BATS_TEST_TMPDIR/vanish.out" 2>&1 &
	local pid=$!
	for _ in $(seq 1 200); do
		grep -q '^STORED' "$BAD_S3_LOG" && break
		sleep 0.05
	done
	rm -f "$t"/rec_1*.wav "$t"/rec_20.wav
	local st=0
	wait "$pid" || st=$?
	output=$(cat "$BATS_TEST_TMPDIR/vanish.out")
	echo "$output"
	[ "$st" -eq 1 ]
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE s3_key LIKE 'vanish/%' AND status = 'failed'")" -ge 1 ]
	sql "SELECT error_message FROM file_uploads WHERE s3_key LIKE 'vanish/%' AND status = 'failed'" | grep -qi "no such file\|vanished\|not found\|disappeared"
	grep -q "file vanished" <<<"$output"
	no_false_uploaded vanish
}

@test "names made of SQL and shell metacharacters round-trip into rows and keys unchanged" {
	local t="$BATS_TEST_TMPDIR/meta" names=(
		"a'; DROP TABLE file_uploads; --.wav"
		'b"double"quote.wav'
		'$(touch pwned).wav'
		'`touch pwned2`.wav'
		'back\slash\N.wav'
		'semi;colon&amp|pipe>gt<lt.wav'
		'pct%2F100%25.wav'
		"$(printf 'new\nline.wav')"
		"$(printf 'tab\tchar.wav')"
		' leading space.wav'
		'#hash?q=1&r=2.wav'
		'+plus+ sign.wav'
		'ünïcödé ✓.wav'
		'*glob[1]{a,b}.wav'
		'\\.wav'
	)
	mkdir -p "$t"
	for n in "${names[@]}"; do printf '%s' "$n" >"$t/$n"; done
	cd "$BATS_TEST_TMPDIR"
	for uf in true false; do
		run du-upload -d "$t" -b du-test -p "meta-$uf" --use-find=$uf --progress=none
		echo "$output"
		[ "$status" -eq 0 ]
		# keys, NUL-separated so newlines in names survive
		local want got
		want=$(for n in "${names[@]}"; do printf 'meta-%s/%s\0' "$uf" "$n"; done | sort -z | od -c)
		got=$(psql -qtAX -0 -c "SELECT s3_key FROM file_uploads WHERE s3_key LIKE 'meta-$uf/%' AND status = 'uploaded'" | sort -z | od -c)
		[ "$want" = "$got" ]
		want=$(for n in "${names[@]}"; do printf '%s/%s\0' "$t" "$n"; done | sort -z | od -c)
		got=$(psql -qtAX -0 -c "SELECT local_path FROM file_uploads WHERE s3_key LIKE 'meta-$uf/%' AND status = 'uploaded'" | sort -z | od -c)
		[ "$want" = "$got" ]
		for n in "${names[@]}"; do cmp "$t/$n" "$(s3rver_object du-test "meta-$uf/$n")"; done
	done
	[ ! -e pwned ] && [ ! -e pwned2 ] && [ ! -e "$t/pwned" ]
	[ "$(sql "SELECT count(*) FROM file_uploads")" -gt 0 ]
}

# Shared by the bats files, which load it at their top (it is then in setup_file, every test and
# teardown_file). Servers per file, started by tests/lib/servers.sh, stopped by PID. A file says
# which servers it needs and takes the default lifecycle:
#
#   DU_E2E_SERVERS="s3rver"        # or "moto", "s3rver moto", "" (PostgreSQL alone)
#   load helpers
#
# which is setup_file: du_e2e_start $DU_E2E_SERVERS; teardown_file: du_e2e_stop; setup: du_e2e_env
# (du at the first S3 server named). A file that needs more (a fault proxy, RGW, a tree made once)
# defines its own setup_file/setup after the load, calling the same functions.
#
#   du_e2e_start [s3rver] [moto]   start PostgreSQL (always) and the named S3 servers under $DU_E2E_TMP
#   du_e2e_stop                    stop every server started under $DU_E2E_TMP (fault proxy, RGW, a
#                                  second s3rver, ...), then remove it
#   du_env_s3rver, du_env_moto     point du at s3rver, moto (env)
#   du_e2e_env                     point du at the first server of DU_E2E_SERVERS
#   last_session                   the newest session's id
#   reason WHY                     the count of one reason in the newest session's decision (0 if absent)
#   mk_tree DIR N                  a small sensor tree (tests/lib/mktree.py --layout small)
DU_TOP=${DU_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
DU_BIN=${DU_BIN:-$DU_TOP/bin}
. "$DU_TOP/tests/lib/servers.sh"
PATH="$DU_BIN:$PATH"

du_e2e_start() {
	export DU_E2E_TMP
	DU_E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/du-e2e.XXXXXX")
	chmod 755 "$DU_E2E_TMP"
	du_pg_start "$DU_E2E_TMP/pg"
	for s in "$@"; do
		case $s in
		s3rver) du_s3rver_start "$DU_E2E_TMP/s3" ;;
		moto) if du_moto_available; then du_moto_start "$DU_E2E_TMP/moto"; else export DU_NO_MOTO=1; fi ;;
		esac
	done
	# Never reach a real metadata service or a user's AWS files from tests.
	export AWS_EC2_METADATA_DISABLED=true
	export AWS_SHARED_CREDENTIALS_FILE="$DU_E2E_TMP/no-credentials" AWS_CONFIG_FILE="$DU_E2E_TMP/no-config"
	export HOME="$DU_E2E_TMP/home"
	mkdir -p "$HOME"
}

du_e2e_stop() {
	local f
	[ -n "${DU_E2E_TMP:-}" ] || return 0
	du_pg_stop "$DU_E2E_TMP/pg"
	[ ! -d "$DU_E2E_TMP/rgw" ] || du_rgw_stop "$DU_E2E_TMP/rgw"
	for f in "$DU_E2E_TMP"/*/*.pid; do du_kill_pidfile "$f"; done
	rm -rf "$DU_E2E_TMP"
}

setup_file() { du_e2e_start ${DU_E2E_SERVERS:-}; }

teardown_file() { du_e2e_stop; }

setup() { du_e2e_env; }

du_e2e_env() {
	local s
	for s in ${DU_E2E_SERVERS:-}; do
		case $s in
		s3rver) du_env_s3rver; return ;;
		moto) du_env_moto; return ;;
		esac
	done
}

last_session() { sql "SELECT max(id) FROM sync_sessions"; }

reason() { sql "SELECT coalesce((decision->>'$1')::int, 0) FROM sync_sessions WHERE id = $(last_session)"; }

du_env_s3rver() {
	export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
	export AWS_ENDPOINT_URL_S3="$DU_S3RVER_URL"
	unset AWS_ENDPOINT_URL
}

# Point du at moto; skips the test, saying why, where moto is not installed.
du_env_moto() {
	[ -z "${DU_NO_MOTO:-}" ] || skip "moto is not installed (only this image's pyenv has it)"
	export AWS_ACCESS_KEY_ID="$DU_MOTO_AK" AWS_SECRET_ACCESS_KEY="$DU_MOTO_SK" AWS_REGION=us-east-1
	export AWS_ENDPOINT_URL_S3="$DU_MOTO_URL"
}

# Object bytes as s3rver stored them.
s3rver_object() {
	printf '%s/s3/s3data/%s/%s._S3rver_object' "$DU_E2E_TMP" "$1" "$2"
}

# mk_tree DIR [N [SEED]]: the small card of tests/lib/mktree.py (the tests' one tree generator).
mk_tree() {
	/usr/bin/python3 "$DU_TOP/tests/lib/mktree.py" "$1" --layout small --files "${2:-20}" --seed "${3:-$RANDOM}"
}

sql() {
	psql -qtAX -v ON_ERROR_STOP=1 -c "$1"
}

# Run a du tool as an unprivileged user when we are root (so file permissions apply), else as us.
# A clone under /root (mode 700) is out of that user's reach: the tool is then run from a copy in
# the test's temporary directory, and from / as the working directory.
du_as_user() {
	if [ "$(id -u)" -eq 0 ]; then
		local exe=$1
		shift
		case $exe in */*) ;; *) exe=$DU_BIN/$exe ;; esac
		if ! runuser -u nobody -- test -x "$exe" 2>/dev/null; then
			mkdir -p "$DU_E2E_TMP/ubin"
			chmod 755 "$DU_E2E_TMP/ubin"
			cp "$exe" "$DU_E2E_TMP/ubin/"
			exe=$DU_E2E_TMP/ubin/$(basename "$exe")
		fi
		(cd / && runuser -u nobody -- env PATH="$PATH" DATABASE_URL="$DATABASE_URL" \
			AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
			AWS_REGION="$AWS_REGION" AWS_ENDPOINT_URL_S3="$AWS_ENDPOINT_URL_S3" AWS_EC2_METADATA_DISABLED=true \
			AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_CONFIG_FILE=/nonexistent HOME=/tmp "$exe" "$@")
	else
		"$@"
	fi
}

# A directory an unprivileged user can work in.
du_user_dir() {
	local d
	d=$(mktemp -d "${TMPDIR:-/tmp}/du-user.XXXXXX")
	chmod 755 "$d"
	[ "$(id -u)" -ne 0 ] || chown nobody "$d"
	echo "$d"
}

#!/usr/bin/env bash
# Run every cmocka unit test in DIR. Prints one closing line "unit: N passed, N failed".
#
# Pure tests first, before any server starts: every test_* binary not named in LIVE below (so a new
# test is pure until it is listed). Then the servers the live ones need (a throwaway PostgreSQL
# cluster, s3rver, moto where installed), stopped by PID whatever happens. A server that cannot
# start fails the live tests that need it, with a line saying so; the pure ones have already counted.
# DU_VALGRIND (e.g. "valgrind --error-exitcode=99 ...") is put in front of each test binary.
set -u
dir=$1
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/lib/servers.sh"

# Live test: the servers it needs (pg, s3rver; moto is optional, test_s3_live skips its cases
# without it). They find them through DATABASE_URL, DU_S3RVER_URL and DU_MOTO_URL/_AK/_SK.
declare -A LIVE=(
	[test_db]="pg"
	[test_trigger]="pg"
	[test_s3_live]="s3rver moto"
)

tmp=$(mktemp -d /tmp/du-unit.XXXXXX)
chmod 755 "$tmp"
cleanup() {
	du_pg_stop "$tmp/pg"
	du_s3rver_stop "$tmp/s3"
	du_moto_stop "$tmp/moto"
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
export DU_TEST_TMP="$tmp" DU_TOP="$top"

pass=0; fail=0; failed=""
run_test() {
	if ${DU_VALGRIND:-} "$1"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1)); failed="$failed $(basename "$1")"
	fi
}
fail_test() {
	echo "unit: $1 not run: $2" >&2
	fail=$((fail + 1)); failed="$failed $1"
}

for t in "$dir"/test_*; do
	[ -x "$t" ] || continue
	[ -n "${LIVE[$(basename "$t")]+x}" ] || run_test "$t"
done

# down[SERVER] is set when SERVER could not start.
declare -A down=()
need() {
	local s
	for s in "${LIVE[@]}"; do
		case " $s " in *" $1 "*) return 0 ;; esac
	done
	return 1
}
if need pg && ! du_pg_start "$tmp/pg"; then
	echo "unit: cannot start PostgreSQL" >&2; down[pg]=1
fi
if need s3rver && ! du_s3rver_start "$tmp/s3"; then
	echo "unit: cannot start s3rver" >&2; down[s3rver]=1
fi
if need moto; then
	if ! du_moto_available; then
		echo "unit: moto is not installed (only this image's pyenv has it): the moto tests of test_s3_live are skipped" >&2
		export DU_NO_MOTO=1
	elif ! du_moto_start "$tmp/moto"; then
		echo "unit: cannot start moto" >&2; down[moto]=1
	fi
fi

for t in "$dir"/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	[ -n "${LIVE[$name]+x}" ] || continue
	missing=""
	for s in ${LIVE[$name]}; do [ -z "${down[$s]:-}" ] || missing="$missing $s"; done
	if [ -n "$missing" ]; then fail_test "$name" "cannot start$missing"; else run_test "$t"; fi
done

[ -n "$failed" ] && echo "unit: failed:$failed" >&2
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

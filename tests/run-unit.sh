#!/usr/bin/env bash
# Run every cmocka unit test in DIR against a throwaway PostgreSQL cluster (for the db tests),
# stopped by PID whatever happens. Prints one closing line "N passed, N failed".
# DU_VALGRIND (e.g. "valgrind --error-exitcode=99 ...") is put in front of each test binary.
set -u
dir=$1
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/lib/servers.sh"
tmp=$(mktemp -d /tmp/du-unit.XXXXXX)
chmod 755 "$tmp"
cleanup() {
	du_pg_stop "$tmp/pg"
	du_kill_pidfile "$tmp/s3/s3rver.pid"
	du_kill_pidfile "$tmp/moto/moto.pid"
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
# Live tests find the servers through DATABASE_URL, DU_S3RVER_URL and DU_MOTO_URL/_AK/_SK.
du_pg_start "$tmp/pg" || { echo "unit: cannot start PostgreSQL" >&2; exit 1; }
du_s3rver_start "$tmp/s3" || { echo "unit: cannot start s3rver" >&2; exit 1; }
if du_moto_available; then
	du_moto_start "$tmp/moto" || { echo "unit: cannot start moto" >&2; exit 1; }
else
	echo "unit: moto is not installed (only this image's pyenv has it): the moto tests of test_s3_live are skipped" >&2
	export DU_NO_MOTO=1
fi
export DU_TEST_TMP="$tmp" DU_TOP="$top"
pass=0; fail=0; failed=""
for t in "$dir"/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	if ${DU_VALGRIND:-} "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); failed="$failed $name"; fi
done
[ -n "$failed" ] && echo "unit: failed:$failed" >&2
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

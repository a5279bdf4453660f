#!/bin/sh
# Run every fuzz target in DIR for SECONDS each, starting from its committed seed corpus
# (tests/fuzz/corpus/NAME, which also holds the inputs of past findings, so they are re-checked
# first). New interesting inputs go to DIR/corpus/NAME, never into the committed seeds; a crash,
# leak or broken invariant saves its input as DIR/artifacts/NAME-* and fails the run.
#   sh tests/fuzz/run.sh build/fuzz 20 [NAME...]
set -u
secs=$2
mkdir -p "$1"
dir=$(cd "$1" && pwd) # absolute: a target may change its working directory
shift 2
top=$(cd "$(dirname "$0")/../.." && pwd)
names=${*:-$(cd "$top/tests/fuzz" && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//')}
fail=""
for n in $names; do
	mkdir -p "$dir/corpus/$n" "$dir/artifacts"
	seeds="$top/tests/fuzz/corpus/$n"
	[ -d "$seeds" ] || seeds=""
	echo "fuzz: $n for ${secs}s" >&2
	# halt_on_error: UBSan findings stop the run like ASan's do; leaks are checked at every input.
	if ! UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
		"$dir/fuzz_$n" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
		-print_final_stats=1 -artifact_prefix="$dir/artifacts/$n-" \
		"$dir/corpus/$n" $seeds >"$dir/$n.log" 2>&1; then
		tail -n 40 "$dir/$n.log" >&2
		fail="$fail $n"
	else
		grep -E '^stat::number_of_executed_units|^Done' "$dir/$n.log" | tr '\n' ' ' >&2
		echo >&2
	fi
done
if [ -n "$fail" ]; then
	echo "fuzz: FAILED:$fail (inputs in $dir/artifacts/)" >&2
	exit 1
fi
echo "fuzz: all targets clean" >&2

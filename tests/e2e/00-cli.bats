#!/usr/bin/env bats
# Every tool: --help, --version, usage errors, configuration errors, database errors.

load helpers

setup_file() { du_e2e_start; }

teardown_file() { du_e2e_stop; }

setup() {
	cd "$BATS_TEST_TMPDIR"
	mkdir -p data
}

@test "every tool answers --help and --version with 0" {
	for t in du-upload du-retry du-trigger du-master; do
		run "$t" --help
		[ "$status" -eq 0 ]
		[[ "$output" == *"Usage"* || "$output" == *"usage"* ]]
		run "$t" --version
		[ "$status" -eq 0 ]
		[[ "$output" == *"$t"* ]]
	done
}

@test "an unknown option is a usage error (exit 2) with a hint" {
	for t in du-upload du-retry du-trigger du-master; do
		run "$t" --no-such-flag
		[ "$status" -eq 2 ]
		[[ "$output" == *"no-such-flag"* ]]
		[[ "$output" == *"--help"* ]]
	done
}

@test "invalid JSON: exit 3 naming file and line" {
	printf '{\n  "local_directory": "data",\n  "bucket_name": "b",\n  oops\n}\n' >bad.json
	run du-upload -c bad.json
	[ "$status" -eq 3 ]
	[[ "$output" == *"bad.json:4"* ]]
	[ "${#lines[@]}" -le 2 ]
}

@test "unknown key: exit 3 with the nearest known key" {
	printf '{\n  "local_directory": "data",\n  "max_worker": 4\n}\n' >typo.json
	run du-upload -c typo.json
	[ "$status" -eq 3 ]
	[[ "$output" == *"max_worker"* ]]
	[[ "$output" == *"typo.json:3"* ]]
	[[ "$output" == *"max_workers"* ]]
}

@test "wrong type and out-of-range values: exit 3" {
	printf '{"local_directory": "data", "bucket_name": "b", "s3_prefix": "p", "max_workers": "many"}\n' >type.json
	run du-upload -c type.json
	[ "$status" -eq 3 ]
	[[ "$output" == *"max_workers"* ]]
	for w in 0 10000; do
		run du-upload -d data -b b -p p -w "$w"
		[ "$status" -eq 3 ]
		[[ "$output" == *"max_workers"* ]]
		[[ "$output" == *"--max-workers"* ]]
	done
}

@test "missing or unreadable config file, missing directory: exit 3" {
	run du-upload -c nope.json
	[ "$status" -eq 3 ]
	[[ "$output" == *"nope.json"* ]]
	run du-upload -d does-not-exist -b b -p p
	[ "$status" -eq 3 ]
	[[ "$output" == *"does-not-exist"* ]]
	run du-upload -b b -p p
	[ "$status" -eq 3 ]
	[[ "$output" == *"local_directory"* ]]
}

@test "--dump-config shows sources and redacts secrets" {
	printf '{\n  "local_directory": "data",\n  "bucket_name": "bkt",\n  "s3_prefix": "p1",\n  "db_password": "hunter2-file"\n}\n' >c.json
	DB_PASSWORD=sekrit-env-pw run du-upload -c c.json -w 7 --dump-config
	[ "$status" -eq 0 ]
	[[ "$output" != *"sekrit-env-pw"* ]]
	[[ "$output" != *"hunter2-file"* ]]
	echo "$output" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["bucket_name"]["source"] == "c.json:3", d["bucket_name"]
assert d["max_workers"]["value"] == 7 and d["max_workers"]["source"].startswith("flag"), d["max_workers"]
assert d["db_password"]["value"] == "***", d["db_password"]
assert d["db_password"]["source"] == "env DB_PASSWORD", d["db_password"]
assert d["aws_region"]["source"] in ("default", "env AWS_REGION"), d["aws_region"]
'
}

@test "dump-config of config.example.json works" {
	mkdir -p "$BATS_TEST_TMPDIR/ex" && cd "$BATS_TEST_TMPDIR/ex"
	sed 's#"local_directory": *"[^"]*"#"local_directory": "."#' "$DU_TOP/config.example.json" >cfg.json
	DB_PASSWORD=pw-example run du-upload --dump-config -c cfg.json
	[ "$status" -eq 0 ]
	[[ "$output" != *"pw-example"* ]]
}

@test "unreachable database: exit 4, one line, no password" {
	run env -u DATABASE_URL DB_HOST=127.0.0.1 DB_PORT=1 DB_PASSWORD=pw-unreach du-upload -d data -b b -p p
	[ "$status" -eq 4 ]
	[[ "$output" != *"pw-unreach"* ]]
	[[ "$output" == *"database"* ]]
}

@test "a secret on the command line is refused" {
	run du-upload -d data -b b -p p --db-password x
	[ "$status" -ne 0 ]
	[ "$status" -le 3 ]
}

@test "with no database configured, a tool creates and then reuses the private cluster" {
	dir=$(mktemp -d /tmp/du-private.XXXXXX)
	chmod 755 "$dir"
	run env -u DATABASE_URL -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE DU_PG_DIR="$dir/pg" du-retry -s 7
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"private PostgreSQL cluster"* ]]
	[[ "$output" == *"session 7 does not exist"* ]]
	[ -f "$dir/pg/data/PG_VERSION" ]
	pid=$(head -n 1 "$dir/pg/data/postmaster.pid")
	run env -u DATABASE_URL -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE DU_PG_DIR="$dir/pg" du-retry -s 7
	[ "$status" -eq 3 ]
	[ "$(head -n 1 "$dir/pg/data/postmaster.pid")" = "$pid" ]
	kill -QUIT "$pid"
	for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	rm -rf "$dir"
}

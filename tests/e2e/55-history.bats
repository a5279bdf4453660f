#!/usr/bin/env bats
# Databases the Python tool filled (tests/lib/python_schema.sql, filled as it filled them: every
# file row 'pending', failures only in the session's counters, no md5): du-retry re-sends only
# failed rows, --list agrees, du-master status reads it as a SELECT-only role without changing the
# schema, and the Python tool's own Grafana queries (ROUND over double precision) work after du's
# migrations.

load helpers

setup_file() { du_e2e_start s3rver; }

teardown_file() { du_e2e_stop; }

setup() {
	du_env_s3rver
	export T=$DU_E2E_TMP/tree
	mkdir -p "$T/site"
	for i in $(seq 1 40); do [ -f "$T/site/r$i.wav" ] || head -c 4096 /dev/urandom >"$T/site/r$i.wav"; done
}

# pydb NAME: a database as the Python tool left it after one run of 40 files, 36 uploaded and 4
# failed (in the counters only), and a second session still "in progress".
pydb() {
	psql -qX -d postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null
	psql -qX -v ON_ERROR_STOP=1 -d "$1" -f "$DU_TOP/tests/lib/python_schema.sql" >/dev/null
	psql -qX -v ON_ERROR_STOP=1 -d "$1" >/dev/null <<-SQL
		INSERT INTO projects (project_name, bucket_name, aws_region) VALUES ('field', 'du-test', 'us-east-1');
		INSERT INTO sync_sessions (project_id, local_directory, s3_prefix, status, total_files, total_size_bytes,
		    files_uploaded, files_failed, files_skipped, completed_at)
		    VALUES (1, '$T', 'py', 'completed_with_errors', 40, 163840, 36, 4, 0, now());
		INSERT INTO file_uploads (session_id, local_path, s3_key, file_size, file_type)
		    SELECT 1, '$T/site/r' || i || '.wav', 'py/site/r' || i || '.wav', 4096, 'WAV' FROM generate_series(1, 40) i;
		INSERT INTO config_history (session_id, config_json)
		    VALUES (1, '{"local_directory": "$T", "bucket_name": "du-test", "s3_prefix": "py"}');
	SQL
}

dburl() { echo "${DATABASE_URL/du_test/$1}"; }
schema() { psql -qtAX -d "$1" -c "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables WHERE table_schema = 'public'"; }

@test "du-master status reads a Python-era database as a SELECT-only role and changes nothing" {
	pydb pyro
	psql -qX -d pyro -c "DROP ROLE IF EXISTS monitor" -c "CREATE ROLE monitor LOGIN" \
		-c "GRANT SELECT ON ALL TABLES IN SCHEMA public TO monitor" >/dev/null
	before=$(schema pyro)
	url="postgresql:///pyro?host=$PGHOST&port=$PGPORT&user=monitor"
	run env DATABASE_URL="$url" du-master status
	echo "$output"
	[ "$status" -eq 0 ]
	grep -Eq '^1 +completed_with_errors +du-test/py +40 +36 +4 +0 +- ' <<<"$output"
	run env DATABASE_URL="$url" du-master status 1
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"100.0 % of 40 files: 36 uploaded, 4 failed, 0 skipped, 0 to go"* ]]
	[[ "$output" == *"40 file rows; the Python tool wrote no file statuses"* ]]
	[[ "$output" != *"pending 40"* ]]
	run env DATABASE_URL="$url" du-master status 1 --json
	[ "$status" -eq 0 ]
	/usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["files_uploaded"] == 36 and d["files_failed"] == 4, d' "$output"
	[ "$(schema pyro)" = "$before" ]
	[ "$(psql -qtAX -d pyro -c "SELECT to_regclass('schema_migrations') IS NULL")" = t ]
}

@test "du-retry and --list agree on a session whose failures are only in its counters, and name the fix" {
	pydb pyretry
	run env DATABASE_URL="$(dburl pyretry)" du-retry -s 1
	echo "$output"
	[ "$status" -eq 1 ]
	line="session 1: 4 failed files in its counters, but no file row says which (the Python tool wrote no statuses); to find and upload what is missing: du-upload -d '$T' -b du-test -p py"
	[[ "$output" == *"$line"* ]]
	run env DATABASE_URL="$(dburl pyretry)" du-retry -s 1 --list
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$line"* ]]
	# Nothing was sent, no pending row was touched.
	[ "$(psql -qtAX -d pyretry -c "SELECT count(*) FROM file_uploads WHERE status = 'pending' AND retry_count = 0")" -eq 40 ]
}

@test "du-retry re-sends only the failed rows, never the pending ones" {
	pydb pyfail
	# du has adopted it (a run of du-retry migrates), and one row really failed.
	psql -qX -d pyfail -c "SELECT 1" >/dev/null
	run env DATABASE_URL="$(dburl pyfail)" du-retry -s 1 --list
	psql -qX -d pyfail -c "UPDATE file_uploads SET status = 'failed', error_message = 'reset by peer' WHERE s3_key = 'py/site/r7.wav'" >/dev/null
	run env DATABASE_URL="$(dburl pyfail)" du-retry -s 1
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"retry round 1 of 1, 1 file"* ]]
	[[ "$output" == *"1 recovered"* ]]
	[ "$(psql -qtAX -d pyfail -c "SELECT count(*) FROM file_uploads WHERE status = 'pending' AND retry_count = 0")" -eq 39 ]
	[ "$(psql -qtAX -d pyfail -c "SELECT status, retry_count FROM file_uploads WHERE s3_key = 'py/site/r7.wav'")" = "uploaded|1" ]
	[ -f "$(s3rver_object du-test py/site/r7.wav)" ]
	[ ! -f "$(s3rver_object du-test py/site/r8.wav)" ]
}

@test "the Python tool's Grafana queries with ROUND(double precision, int) run after du's migrations" {
	pydb pygraf
	q1="SELECT p.project_name, ROUND(SUM(s.total_size_bytes)::float / 1024 / 1024 / 1024, 2) AS gb FROM sync_sessions s JOIN projects p ON p.id = s.project_id GROUP BY 1"
	q2="SELECT ROUND(AVG(files_uploaded::float / NULLIF(total_files, 0)) * 100, 1) FROM sync_sessions"
	q3="SELECT ROUND(SUM(files_uploaded)::float / NULLIF(SUM(files_uploaded + files_failed), 0) * 100, 2) FROM sync_sessions"
	# They fail on the Python tool's own database: PostgreSQL has no round(double precision, integer).
	run psql -qtAX -v ON_ERROR_STOP=1 -d pygraf -c "$q3"
	[ "$status" -ne 0 ]
	[[ "$output" == *"round(double precision, integer) does not exist"* ]]
	# A du run adopts the database (its migrations), then they work with the right numbers.
	run env DATABASE_URL="$(dburl pygraf)" du-retry -s 1 --list
	[ "$(psql -qtAX -v ON_ERROR_STOP=1 -d pygraf -c "$q1")" = "field|0.00" ]
	[ "$(psql -qtAX -v ON_ERROR_STOP=1 -d pygraf -c "$q2")" = "90.0" ]
	[ "$(psql -qtAX -v ON_ERROR_STOP=1 -d pygraf -c "$q3")" = "90.00" ]
	[ "$(psql -qtAX -d pygraf -c "SELECT round(2.675::float8, 2), round(-0.5::float8, 0)")" = "2.68|-1" ]
}

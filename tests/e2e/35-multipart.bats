#!/usr/bin/env bats
# Multipart uploads across process death, against moto (ListParts, ListMultipartUploads, Abort).

DU_E2E_SERVERS="moto"
load helpers

setup() {
	du_env_moto
	export DU_MULTIPART_THRESHOLD=6MiB DU_MULTIPART_CHUNK_SIZE=5MiB
}

@test "kill -9 mid multipart: the next run continues the upload; stale uploads are listed and aborted" {
	d="$BATS_TEST_TMPDIR/big"
	mkdir -p "$d"
	head -c $((100 * 1024 * 1024)) /dev/urandom >"$d/long.mp4"
	# An upload nobody will continue: made behind du's back.
	"$DU_PY" - <<'PY'
import os, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["DU_MOTO_URL"], region_name="us-east-1",
                  aws_access_key_id=os.environ["DU_MOTO_AK"], aws_secret_access_key=os.environ["DU_MOTO_SK"])
s3.create_multipart_upload(Bucket="du-test", Key="mpu/orphan.mp4")
PY
	du-upload -d "$d" -b du-test -p mpu -w 1 --progress=none 2>"$BATS_TEST_TMPDIR/err" &
	pid=$!
	for _ in $(seq 1 400); do
		[ "$(sql "SELECT count(*) FROM multipart_parts" 2>/dev/null || echo 0)" -ge 2 ] && break
		sleep 0.05
	done
	kill -9 "$pid"
	wait "$pid" || true
	parts_before=$(sql "SELECT count(*) FROM multipart_parts")
	[ "$parts_before" -ge 2 ]
	[ "$parts_before" -lt 20 ]

	run du-upload -d "$d" -b du-test -p mpu --stale-uploads=list
	echo "$output"
	[ "$status" -eq 0 ]
	echo "$output" | grep -q '^resumable .*mpu/long.mp4'
	echo "$output" | grep -q '^stale .*mpu/orphan.mp4'
	run du-upload -d "$d" -b du-test -p mpu --stale-uploads=abort
	echo "$output"
	[ "$status" -eq 0 ]
	echo "$output" | grep -q '^aborted .*mpu/orphan.mp4'
	! echo "$output" | grep -q '^aborted .*mpu/long.mp4'
	echo "$output" | grep -q '^resumable .*mpu/long.mp4'

	# A plain re-run adopts the dead run's upload and sends only the missing parts.
	run du-upload -d "$d" -b du-test -p mpu -v --progress=none
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"continued multipart uploads: $parts_before part(s) reused"* ]]
	sid=$(last_session)
	# moto echoes x-amz-checksum-crc32c: the object's CRC32C, combined from the parts', is recorded
	# (and no whole-file md5: each byte is hashed once)
	run sql "SELECT status, md5 IS NULL, checksum_algorithm, checksum_type, length(checksum_value)
		FROM file_uploads WHERE session_id = $sid"
	[ "$output" = "uploaded|t|crc32c|FULL_OBJECT|8" ]
	# The finished upload is forgotten; nothing is left open on the server.
	[ "$(sql "SELECT count(*) FROM multipart_uploads")" -eq 0 ]
	run du-upload -d "$d" -b du-test -p mpu --stale-uploads=list
	! echo "$output" | grep -qE '^(resumable|stale|aborted) '
	[[ "$output" == *"0 multipart uploads"* ]]
	run "$DU_PY" "$DU_TOP/tests/lib/check_moto.py" --root "$d" --prefix mpu --bucket du-test
	echo "$output"
	[ "$status" -eq 0 ]
}

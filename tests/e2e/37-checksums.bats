#!/usr/bin/env bats
# Checksums S3 verifies (issue 16): x-amz-checksum-crc32c on single PUTs and FULL_OBJECT multipart
# uploads (moto, which echoes them), verify from HEAD, --deep recomputation, and a body corrupted on
# the wire (faultproxy in front of s3rver) caught in md5 mode, and the fall back to Content-MD5
# against a server that does not echo (s3rver) counted on the wire: each body once, the fact kept
# in s3_endpoints for the next run (also in 20-upload.bats, and against Ceph RGW in 45-rgw.bats).
#
# What the servers here do (moto 5.2.1, s3rver 3.7): neither VERIFIES x-amz-checksum-*. moto stores
# and echoes the value the client sent (with x-amz-sdk-checksum-algorithm), computes FULL_OBJECT
# checksums of multipart objects itself, and without the optional crc32c module computes "CRC32C" as
# CRC32; s3rver ignores the headers. Only AWS (not reachable here) rejects a wrong CRC.

load helpers
load fault_helpers

setup_file() {
	du_e2e_start s3rver
	if [ -x "${DU_PY:-}" ] && "$DU_PY" -c 'import moto' 2>/dev/null; then
		du_moto_start "$DU_E2E_TMP/moto"
	fi
}

teardown_file() { du_e2e_stop; }

setup() { export DU_MULTIPART_THRESHOLD=6MiB DU_MULTIPART_CHUNK_SIZE=5MiB; }

@test "crc32c: single PUT and FULL_OBJECT multipart recorded, verify by HEAD, --deep recomputes" {
	[ -n "${DU_MOTO_URL:-}" ] || skip "moto is not installed (image pyenv only)"
	du_env_moto
	d="$BATS_TEST_TMPDIR/t"
	mkdir -p "$d"
	head -c 100000 /dev/urandom >"$d/small.wav"
	head -c $((12 * 1024 * 1024 + 7)) /dev/urandom >"$d/big.mp4"
	run du-upload -d "$d" -b du-test -p ck -v --progress=none
	echo "$output"
	[ "$status" -eq 0 ]
	! echo "$output" | grep -q 'did not confirm'
	sid=$(last_session)
	run sql "SELECT s3_key, checksum_algorithm, checksum_type, md5 IS NULL FROM file_uploads
		WHERE session_id = $sid ORDER BY s3_key"
	echo "$output"
	[ "$output" = "ck/big.mp4|crc32c|FULL_OBJECT|t
ck/small.wav|crc32c|FULL_OBJECT|t" ]
	# The single PUT's value is what moto stored and HEAD returns with x-amz-checksum-mode.
	small=$(sql "SELECT checksum_value FROM file_uploads WHERE session_id = $sid AND s3_key = 'ck/small.wav'")
	run "$DU_PY" - <<PY
import os, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["DU_MOTO_URL"], region_name="us-east-1",
                  aws_access_key_id=os.environ["DU_MOTO_AK"], aws_secret_access_key=os.environ["DU_MOTO_SK"])
print(s3.head_object(Bucket="du-test", Key="ck/small.wav", ChecksumMode="ENABLED").get("ChecksumCRC32C"))
PY
	echo "$output"
	[ "$output" = "$small" ]
	# --deep recomputes each CRC32C from the local file in one streaming pass (another code path
	# than the upload's combined part values).
	cd "$BATS_TEST_TMPDIR"   # the manifest goes to the current directory
	run du-master verify "$sid" --deep
	echo "$output"
	[[ "$output" == *"(1 matched the recorded x-amz-checksum)"* ]]
	[ "$(sql "SELECT verify_status FROM file_uploads WHERE session_id = $sid AND s3_key = 'ck/small.wav'")" = ok ]
	# moto's own FULL_OBJECT value for the multipart object is not a CRC32C: without its optional
	# crc32c module it computes CRC32 and labels it CRC32C. verify reports the difference (as it must
	# on AWS); that the recorded value is the true CRC32C is shown by the unit tests and by --deep.
	moto=$(/usr/bin/python3 -c "import base64,sys,zlib; print(base64.b64encode(zlib.crc32(open(sys.argv[1],'rb').read()).to_bytes(4,'big')).decode())" "$d/big.mp4")
	[[ "$output" == *"MISMATCH ck/big.mp4: S3 object was overwritten: crc32c $moto, uploaded "* ]]
	! echo "$output" | grep -q 'local file changed'
	# A changed local file (same size and mtime) is caught by --deep through its CRC32C.
	cp -p "$d/small.wav" "$BATS_TEST_TMPDIR/ref"
	printf 'X' | dd of="$d/small.wav" bs=1 seek=500 conv=notrunc status=none
	touch -r "$BATS_TEST_TMPDIR/ref" "$d/small.wav"
	run du-master verify "$sid" --deep
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"local file changed since upload: crc32c "* ]]
}

@test "auto against a server that ignores checksums (s3rver): each body sent once, remembered for the next run" {
	du_fp_start "$DU_E2E_TMP/fp1" "$DU_S3RVER_URL" --seed 11
	du_env_proxy
	d="$BATS_TEST_TMPDIR/once"
	mkdir -p "$d/a" "$d/b"
	for i in $(seq 1 30); do head -c $((40000 + i * 997)) /dev/urandom >"$d/a/rec_$i.wav"; done
	head -c $((40 * 1024 * 1024 + 5)) /dev/urandom >"$d/a/big.mp4"     # 9 parts of 5 MiB
	run du-upload -d "$d/a" -b du-test -p once -w 8 -v --progress=none
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | grep -c 'did not confirm the crc32c checksum')" -eq 1 ]
	read -r sends bytes bodies <<<"$(fp_sends once/)"
	echo "sends=$sends bytes=$bytes bodies=$bodies files=$(tree_bytes "$d/a")"
	[ "$bodies" -eq 39 ]                        # 30 PUTs and 9 parts
	[ "$sends" -eq "$bodies" ]
	[ "$bytes" -eq "$(tree_bytes "$d/a")" ]
	sid=$(last_session)
	# every row carries a checksum the server verified or du proved by the ETag: md5 everywhere
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $sid AND status = 'uploaded'
		AND checksum_algorithm = 'md5'")" -eq 31 ]
	cmp "$d/a/big.mp4" "$(s3rver_object du-test once/big.mp4)"
	[ "$(sql "SELECT checksum_echo FROM s3_endpoints WHERE endpoint = '$DU_FP_URL'")" = f ]

	# The next run knows: Content-MD5 from its first body, no warning, still each body once.
	cp -r "$d/a" "$d/b/again"
	run du-upload -d "$d/b" -b du-test -p once2 -w 8 -v --progress=none
	echo "$output"
	[ "$status" -eq 0 ]
	! echo "$output" | grep -q 'did not confirm'
	[[ "$output" == *"does not verify x-amz-checksum-* (learnt by session $sid)"* ]]
	read -r sends bytes bodies <<<"$(fp_sends once2/)"
	[ "$sends" -eq 39 ] && [ "$bodies" -eq 39 ]
	[ "$bytes" -eq "$(tree_bytes "$d/b")" ]
}

@test "md5 mode: a part corrupted on the wire is refused (ETag check) and sent again" {
	du_fp_start "$DU_E2E_TMP/fp" "$DU_S3RVER_URL" --seed 37
	du_env_proxy
	d="$BATS_TEST_TMPDIR/c"
	mkdir -p "$d"
	head -c $((12 * 1024 * 1024)) /dev/urandom >"$d/big.mp4"
	fp_ctl "set?next=corrupt&methods=PUT&match=partNumber=2" >/dev/null
	run du-upload -d "$d" -b du-test -p corrupt --checksum-algorithm=md5 -v --progress=none
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(fp_py 's["faults"].get("corrupt", 0)')" -eq 1 ]
	# part 2 reached the server twice: the corrupted copy, refused by du, and the good one
	[ "$(fp_py 's["upload_part"]["corrupt/big.mp4"]["parts"]["2"]["received"]')" -eq 2 ]
	sid=$(last_session)
	[ "$(sql "SELECT status, checksum_algorithm, checksum_type FROM file_uploads WHERE session_id = $sid")" = "uploaded|md5|COMPOSITE" ]
	cmp "$d/big.mp4" "$(s3rver_object du-test corrupt/big.mp4)"
	# the composite S3 gives as the ETag of these parts (s3rver's own ETag is a plain md5)
	want=$(/usr/bin/python3 -c "
import hashlib, sys
f = open(sys.argv[1], 'rb'); cat = b''; n = 0
while c := f.read(5 << 20): cat += hashlib.md5(c).digest(); n += 1
print(hashlib.md5(cat).hexdigest() + '-%d' % n)" "$d/big.mp4")
	[ "$(sql "SELECT checksum_value FROM file_uploads WHERE session_id = $sid")" = "$want" ]
}

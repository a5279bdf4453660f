#!/usr/bin/env bats
# One verdict per card (issue 30): du-master verify without a session, over every session that
# uploaded from a directory to a bucket and prefix: "safe to wipe" only when every file du-upload
# would take today is in S3 as uploaded; every doubt named; suspect recordings listed.

DU_E2E_SERVERS="s3rver"
load helpers

verify_card() { run du-master verify -d "$1" -b du-test -p "$2" --manifest "$BATS_TEST_TMPDIR/m"; }

@test "a card uploaded over two sessions, the first killed, is safe to wipe in one command" {
	T="$BATS_TEST_TMPDIR/card"
	/usr/bin/python3 "$DU_TOP/tests/lib/mktree.py" "$T" --files 1500 --seed 86
	du-upload -d "$T" -b du-test -p card1 -w 2 --progress=none 2>/dev/null &
	pid=$!
	for i in $(seq 1 200); do
		[ "$(sql "SELECT count(*) FROM file_uploads WHERE status = 'uploaded' AND s3_key LIKE 'card1/%'" 2>/dev/null || echo 0)" -ge 100 ] && break
		sleep 0.05
	done
	kill -9 "$pid"
	wait "$pid" || true
	first=$(last_session)
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $first AND status = 'uploaded'")" -lt 1500 ]
	run du-upload -d "$T" -b du-test -p card1 --progress=none
	[ "$status" -eq 0 ]
	[ "$(last_session)" -gt "$first" ]
	verify_card "$T" card1
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[${#lines[@]}-1]}" == "safe to wipe: all "*" files under $T are in s3://du-test/card1/ intact"* ]]
	[ -s "$BATS_TEST_TMPDIR/m.csv" ]
}

@test "a deleted object, a file changed on disk and a new file: each named, NOT safe to wipe, exit 1" {
	T="$BATS_TEST_TMPDIR/card"
	mk_tree "$T" 20 86
	run du-upload -d "$T" -b du-test -p card2 --progress=none
	[ "$status" -eq 0 ]
	curl -fsS -X DELETE "$DU_S3RVER_URL/du-test/card2/sensor-a/2024-05-01/rec_3.wav"
	printf 'more' >>"$T/sensor-a/2024-05-01/rec_5.wav"
	head -c 999 /dev/urandom >"$T/sensor-a/2024-05-01/rec_new.wav"
	verify_card "$T" card2
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"MISMATCH card2/sensor-a/2024-05-01/rec_3.wav: missing in S3"* ]]
	[[ "$output" == *"MISMATCH card2/sensor-a/2024-05-01/rec_5.wav: local file changed since upload"* ]]
	[[ "$output" == *"NOT UPLOADED card2/sensor-a/2024-05-01/rec_new.wav"* ]]
	[[ "${lines[${#lines[@]}-1]}" == "NOT safe to wipe: of 33 files under $T, 1 not uploaded, 0 failed, 2 not as uploaded"* ]]
	# a name that is not UTF-8 can never be a key: named, and counted as not uploaded
	touch "$T/sensor-a/bad$(printf '\377').wav"
	verify_card "$T" card2
	[ "$status" -eq 1 ]
	[[ "$output" == *"(the name is not valid UTF-8)"* ]]
	[[ "${lines[${#lines[@]}-1]}" == "NOT safe to wipe: of 34 files under $T, 2 not uploaded, 0 failed, 2 not as uploaded"* ]]

	# a card nothing was ever uploaded from
	run du-master verify -d "$T" -b du-test -p never
	[ "$status" -eq 1 ]
	[[ "$output" == *"NOT safe to wipe: nothing under $T was ever uploaded to s3://du-test/never/"* ]]
	# neither a session nor a card: a usage error
	run du-master verify -b du-test
	[ "$status" -eq 2 ]
}

@test "suspect recordings are listed in the verdict, which stays safe; a good recording is not listed" {
	T="$BATS_TEST_TMPDIR/card"
	mkdir -p "$T/site"
	: >"$T/site/empty.wav"
	head -c 96044 /dev/zero >"$T/site/zeros.wav"
	/usr/bin/python3 -c "
import os, struct, sys
data = os.urandom(48000)
hdr = b'RIFF' + struct.pack('<I', 36 + len(data)) + b'WAVEfmt ' + struct.pack('<IHHIIHH', 16, 1, 1, 48000, 96000, 2, 16)
open(sys.argv[1], 'wb').write(hdr + b'data' + struct.pack('<I', len(data)) + data)" "$T/site/good.wav"
	run du-upload -d "$T" -b du-test -p card3 --progress=none
	[ "$status" -eq 0 ]
	verify_card "$T" card3
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"SUSPECT card3/site/empty.wav: empty file (0 bytes)"* ]]
	[[ "$output" == *"SUSPECT card3/site/zeros.wav: WAV header is zeros"* ]]
	! grep -q "good.wav" <<<"$output"
	[[ "${lines[${#lines[@]}-1]}" == "safe to wipe: all 3 files under $T are in s3://du-test/card3/ intact; 2 suspect recordings listed above: look at them first" ]]
}

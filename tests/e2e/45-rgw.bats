#!/usr/bin/env bats
# Against Ceph's RADOS Gateway, a production S3 implementation (SigV4 and Content-MD5 verified,
# real multipart semantics, ListParts, ListMultipartUploads, Abort), one cluster for the file.
# The defects it found (docs/S3.md): a Complete answered 200 with an empty ETag; keys of the
# uploads listing encoded without <EncodingType>; continuation tokens that are raw keys; aborts
# that fail. Objects are checked by downloading them (botocore) and comparing bytes.

load helpers
load fault_helpers

setup_file() {
	du_e2e_start
	du_rgw_start "$DU_E2E_TMP/rgw"
	du_fp_start "$DU_E2E_TMP/fp" "$DU_RGW_URL"
	printf '%s\n%s\n' "$DU_RGW_URL" "$DU_FP_URL" >"$DU_E2E_TMP/rgw.url"
}

teardown_file() { du_e2e_stop; }

setup() {
	DU_RGW_URL=$(sed -n 1p "$DU_E2E_TMP/rgw.url")
	DU_FP_URL=$(sed -n 2p "$DU_E2E_TMP/rgw.url")
	export AWS_ACCESS_KEY_ID=DURGWTESTACCESSKEY AWS_SECRET_ACCESS_KEY=durgwtestsecretkey0123456789abcdefghijk
	export AWS_REGION=us-east-1 AWS_ENDPOINT_URL_S3=$DU_RGW_URL
	unset AWS_ENDPOINT_URL
}

admin() { /usr/bin/python3 "$DU_TOP/tests/lib/s3_admin.py" "$AWS_ENDPOINT_URL_S3" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$@"; }

# same_bytes FILE KEY: the object's bytes are the file's.
same_bytes() {
	admin get du-test "$2" "$DU_E2E_TMP/got" && cmp "$1" "$DU_E2E_TMP/got"
}

@test "rgw: 1,050 tricky names under a prefix with '&' upload, list past 1,000 keys and verify" {
	T=$DU_E2E_TMP/names
	mkdir -p "$T/a b&c" "$T/ünï cödé"
	for i in $(seq 1 1050); do printf 'x%.0s' $(seq 1 $((i % 7 + 1))) >"$T/a b&c/r&$i+ %.wav"; done
	head -c 3000 /dev/urandom >"$T/ünï cödé/日本 #?=.jpg"
	run du-upload -d "$T" -b du-test -p 'site&7 x' --progress=none
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(admin ls du-test 'site&7 x/' | wc -l)" -eq 1051 ]
	same_bytes "$T/ünï cödé/日本 #?=.jpg" 'site&7 x/ünï cödé/日本 #?=.jpg'
	same_bytes "$T/a b&c/r&77+ %.wav" 'site&7 x/a b&c/r&77+ %.wav'
	# The re-run lists 2 pages whose continuation token is a raw key holding '&'.
	run du-upload -d "$T" -b du-test -p 'site&7 x' --progress=none
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(reason already_uploaded)" -eq 1051 ]
	run du-master verify 1 --manifest "$BATS_TEST_TMPDIR/manifest"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "rgw: a big file's Complete answered without an ETag is confirmed by HEAD and recorded" {
	T=$DU_E2E_TMP/big
	mkdir -p "$T"
	head -c $((23 * 1024 * 1024 + 5)) /dev/urandom >"$T/clip.mp4"
	DU_MULTIPART_THRESHOLD=6MiB DU_MULTIPART_CHUNK_SIZE=5MiB run du-upload -d "$T" -b du-test -p big --progress=none
	echo "$output"
	[ "$status" -eq 0 ]
	sid=$(last_session)
	[ "$(sql "SELECT status, part_size, etag ~ '^[0-9a-f]{32}-5\$' FROM file_uploads WHERE session_id = $sid")" = "uploaded|5242880|t" ]
	same_bytes "$T/clip.mp4" big/clip.mp4
	run du-master verify "$sid" --deep --manifest "$BATS_TEST_TMPDIR/manifest"
	echo "$output"
	[ "$status" -eq 0 ]
	# A touch: the composite ETag at the recorded part size proves the bytes; nothing is sent.
	touch -d '+1 minute' "$T/clip.mp4"
	DU_MULTIPART_THRESHOLD=6MiB DU_MULTIPART_CHUNK_SIZE=5MiB run du-upload -d "$T" -b du-test -p big --progress=none
	[ "$status" -eq 0 ]
	[ "$(reason unchanged_checked)" -eq 1 ]
	[[ "$output" == *"uploaded 0 of 0 files"* ]]
}

@test "rgw: killed mid multipart, a re-run continues it with ListParts and the object is exact" {
	T=$DU_E2E_TMP/kill
	mkdir -p "$T"
	head -c $((60 * 1024 * 1024)) /dev/urandom >"$T/long.mov"
	export DU_MULTIPART_THRESHOLD=6MiB DU_MULTIPART_CHUNK_SIZE=5MiB
	du-upload -d "$T" -b du-test -p kill -w 2 --progress=none >"$DU_E2E_TMP/kill.out" 2>&1 &
	pid=$!
	wait_until 60 eval '[ "$(sql "SELECT count(*) FROM multipart_parts")" -ge 3 ] || ! kill -0 '"$pid"
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" || true
	run du-upload -d "$T" -b du-test -p kill --progress=none
	echo "$output"
	[ "$status" -eq 0 ]
	same_bytes "$T/long.mov" kill/long.mov
	run du-master verify "$(last_session)" --deep --manifest "$BATS_TEST_TMPDIR/manifest"
	[ "$status" -eq 0 ]
}

@test "rgw: stale uploads with encoded keys are listed by their names and aborted" {
	T=$DU_E2E_TMP/stale
	mkdir -p "$T"
	admin mpu du-test 'st&x/foreign upload+1 é.wav' >/dev/null
	admin mpu du-test 'st&x/other & more.wav' >/dev/null
	run du-upload -d "$T" -b du-test -p 'st&x' --stale-uploads=list
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"stale "*"st&x/foreign upload+1 é.wav"* ]]
	[[ "$output" == *"2 multipart uploads under s3://du-test/st&x/: 0 resumable, 2 stale"* ]]
	run du-upload -d "$T" -b du-test -p 'st&x' --stale-uploads=abort
	echo "$output"
	[ "$status" -eq 0 ]
	run du-upload -d "$T" -b du-test -p 'st&x' --stale-uploads=list
	[[ "$output" == *"0 multipart uploads"* ]]
}

@test "rgw: an abort that fails makes --stale-uploads=abort exit 5 and name the key" {
	T=$DU_E2E_TMP/stale2
	mkdir -p "$T"
	admin mpu du-test 'st2/keep me.wav' >/dev/null
	fp_ctl "set?ratio=1&kinds=500&methods=DELETE" >/dev/null
	AWS_ENDPOINT_URL_S3=$DU_FP_URL run du-upload -d "$T" -b du-test -p st2 --stale-uploads=abort \
		--retry-base-ms 1 --retry-cap-ms 5
	echo "$output"
	[ "$status" -eq 5 ]
	[[ "$output" == *"could not be aborted"*"st2/keep me.wav"* ]]
	fp_ctl clear >/dev/null
	run du-upload -d "$T" -b du-test -p st2 --stale-uploads=list
	[[ "$output" == *"1 stale"* ]]
}

@test "rgw: auto against RGW 16 (no checksum echo): each body sent once on the first run, Content-MD5 from the next" {
	d="$BATS_TEST_TMPDIR/once"
	mkdir -p "$d/a" "$d/b"
	for i in $(seq 1 24); do head -c $((30000 + i * 1009)) /dev/urandom >"$d/a/rec_$i.wav"; done
	head -c $((40 * 1024 * 1024 + 3)) /dev/urandom >"$d/a/big.mp4"
	fp_ctl zero >/dev/null
	export DU_MULTIPART_THRESHOLD=6MiB DU_MULTIPART_CHUNK_SIZE=5MiB
	AWS_ENDPOINT_URL_S3=$DU_FP_URL run du-upload -d "$d/a" -b du-test -p once -w 8 --progress=none
	echo "$output"
	[ "$status" -eq 0 ]
	read -r sends bytes bodies <<<"$(fp_sends once/)"
	echo "sends=$sends bytes=$bytes bodies=$bodies"
	[ "$bodies" -eq 33 ] && [ "$sends" -eq 33 ]      # 24 PUTs and 9 parts, each once
	[ "$bytes" -eq "$(tree_bytes "$d/a")" ]
	same_bytes "$d/a/big.mp4" once/big.mp4
	same_bytes "$d/a/rec_7.wav" once/rec_7.wav
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $(last_session) AND status = 'uploaded'
		AND checksum_algorithm = 'md5'")" -eq 25 ]
	sid=$(last_session)
	cp -r "$d/a" "$d/b/again"
	AWS_ENDPOINT_URL_S3=$DU_FP_URL run du-upload -d "$d/b" -b du-test -p once2 -w 8 -v --progress=none
	[ "$status" -eq 0 ]
	[[ "$output" == *"does not verify x-amz-checksum-* (learnt by session $sid)"* ]]
	read -r sends bytes bodies <<<"$(fp_sends once2/)"
	[ "$sends" -eq 33 ] && [ "$bodies" -eq 33 ]
	run du-master verify "$(last_session)" --manifest "$BATS_TEST_TMPDIR/manifest"
	[ "$status" -eq 0 ]
}

@test "rgw: SlowDown and resets through the fault proxy: every file lands, exact" {
	T=$DU_E2E_TMP/flaky
	mk_tree "$T" 60
	fp_ctl "set?ratio=0.2&kinds=503:3,reset&methods=PUT&seed=5" >/dev/null
	AWS_ENDPOINT_URL_S3=$DU_FP_URL run du-upload -d "$T" -b du-test -p flaky --progress=none --retry-base-ms 5
	echo "$output"
	[ "$status" -eq 0 ]
	fp_ctl clear >/dev/null
	[ "$(fp_py 'sum(s["faults"].values())')" -gt 0 ]
	[ "$(admin ls du-test flaky/ | wc -l)" -eq "$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $(last_session) AND status = 'uploaded'")" ]
	same_bytes "$T/sensor-c/clip.mp4" flaky/sensor-c/clip.mp4
	run du-master verify "$(last_session)" --deep --manifest "$BATS_TEST_TMPDIR/manifest"
	[ "$status" -eq 0 ]
}

@test "rgw: a wrong secret is refused by the server (exit 5), nothing recorded uploaded" {
	T=$DU_E2E_TMP/names
	AWS_SECRET_ACCESS_KEY=wrong-secret-wrong-secret-wrong-secret-00 run du-upload -d "$T" -b du-test -p wrong --progress=none
	echo "$output"
	[ "$status" -eq 5 ]
	[[ "$output" == *"SignatureDoesNotMatch"* || "$output" == *"denied"* || "$output" == *"403"* ]]
	[ "$(sql "SELECT count(*) FROM file_uploads f JOIN sync_sessions s ON s.id = f.session_id WHERE s.s3_prefix = 'wrong' AND f.status = 'uploaded'")" -eq 0 ]
}

@test "rgw: a deleted object is uploaded again; a same-size rewrite is sent with its new bytes" {
	T=$DU_E2E_TMP/sync
	mkdir -p "$T"
	for i in 1 2 3; do head -c 4096 /dev/urandom >"$T/r$i.wav"; done
	run du-upload -d "$T" -b du-test -p sync --progress=none
	[ "$status" -eq 0 ]
	admin rm du-test sync/r1.wav
	head -c 4096 /dev/urandom >"$T/r2.wav"
	touch -d '+1 minute' "$T/r2.wav" "$T/r3.wav"
	run du-upload -d "$T" -b du-test -p sync --progress=none
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(reason missing_in_s3)" -eq 1 ]
	[ "$(reason changed)" -eq 1 ]
	[ "$(reason unchanged_checked)" -eq 1 ]
	same_bytes "$T/r1.wav" sync/r1.wav
	same_bytes "$T/r2.wav" sync/r2.wav
}

# Issue 29: the recorder's facts as metadata and the configured tags, on single PUTs and multipart
# objects alike (RGW 16 drops x-amz-tagging on CreateMultipartUpload: du sets them after Complete),
# read back with HEAD and GetObjectTagging; the facts in du_recordings; a re-run sends nothing.
@test "rgw: sensor facts and tags on single and multipart objects, read back; du_recordings" {
	T=$DU_E2E_TMP/sensors
	mkdir -p "$T/moth" "$T/bat" "$T/cam"
	sf() { /usr/bin/python3 "$DU_TOP/tests/lib/sensorfiles.py" "$@"; }
	line() { grep -qxF -- "$1" <<<"$output" || { echo "no line '$1'"; false; }; }  # one whole line of admin's output
	sf audiomoth "$T/moth/20210501_103000.WAV" --when "10:30:00 01/05/2021" --zone UTC+1 --device 24F319055FDF2F5B --seconds 2
	sf audiomoth "$T/moth/old.wav" --when "21:00:00 24/02/2019" --zone UTC --device 0FE081F80FE081F0 --old --seconds 0.5
	# 7.8 MiB: two parts; its guan chunk sits after the data, in the last part.
	sf guano "$T/bat/S4U12345_20190601_221500.wav" --timestamp 2019-06-01T22:15:00-05:00 --serial S4U12345 --seconds 16
	sf exif "$T/cam/IMG_0001.JPG" --when "2024:05:01 03:00:00" --offset +02:00 --make RECONYX --model HP2X --serial H2X0042 --pad 5000
	sf exif "$T/cam/IMG_0002.JPG" --when "2024:05:01 03:05:00" --make RECONYX --model HP2X --serial H2X0042
	[ "$(stat -c %s "$T/bat/S4U12345_20190601_221500.wav")" -gt $((6 * 1024 * 1024)) ]
	DU_MULTIPART_THRESHOLD=6MiB DU_MULTIPART_CHUNK_SIZE=5MiB run du-upload -d "$T" -b du-test -p sensors --progress=none \
		--tag project=bats-2026 --tag 'site=A 1/north' --metadata station=north-ridge
	echo "$output"
	[ "$status" -eq 0 ]
	# RGW 16 kept the tags of the single PUTs, not those sent with CreateMultipartUpload.
	[[ "$output" == *"did not keep the tags sent with CreateMultipartUpload"* ]]
	[[ "$output" != *"did not keep the tags sent with PUT"* ]]
	sid=$(last_session)
	[ "$(sql "SELECT count(*) FILTER (WHERE status = 'uploaded'), count(*) FILTER (WHERE part_size > 0) FROM file_uploads WHERE session_id = $sid")" = "5|1" ]

	run admin meta du-test sensors/moth/20210501_103000.WAV
	echo "$output"
	line "du-recorded-at=2021-05-01T09:30:00Z"
	line "du-device=24F319055FDF2F5B"
	line "du-make=AudioMoth"
	line "du-sample-rate=48000"
	line "du-channels=1"
	line "du-duration=2"
	line "du-gain=medium"
	line "du-battery=4.2V"
	line "du-temperature=21.6C"
	line "station=north-ridge"
	run admin meta du-test sensors/moth/old.wav
	line "du-recorded-at=2019-02-24T21:00:00Z"
	line "du-device=0FE081F80FE081F0"
	run admin meta du-test sensors/bat/S4U12345_20190601_221500.wav
	echo "$output"
	line "du-recorded-at=2019-06-02T03:15:00Z"
	line "du-device=S4U12345"
	line "du-make=Wildlife Acoustics"
	line "du-model=SM4BAT-FS"
	line "du-sample-rate=256000"
	line "du-duration=16"
	line "station=north-ridge"
	run admin meta du-test sensors/cam/IMG_0001.JPG
	echo "$output"
	line "du-recorded-at=2024-05-01T01:00:00Z"
	line "du-device=H2X0042"
	line "du-model=HP2X"
	run admin meta du-test sensors/cam/IMG_0002.JPG
	echo "$output"
	line 'du-recorded-at=2024-05-01T03:05:00'  # no offset in the file: local, as written

	for k in moth/20210501_103000.WAV moth/old.wav bat/S4U12345_20190601_221500.wav cam/IMG_0001.JPG cam/IMG_0002.JPG; do
		run admin tags du-test "sensors/$k"
		echo "$k: $output"
		[ "$output" = $'project=bats-2026\nsite=A 1/north' ]
	done

	[ "$(sql "SELECT device || '|' || recorded_at || '|' || coalesce(to_char(recorded_utc AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), '-') || '|' || recorded_day || '|' || coalesce(duration_s::text, '-') || '|' || coalesce(sample_rate::text, '-')
		FROM du_recordings WHERE session_id = $sid AND s3_key = 'sensors/bat/S4U12345_20190601_221500.wav'")" = "S4U12345|2019-06-02T03:15:00Z|2019-06-02 03:15:00|2019-06-02|16|256000" ]
	[ "$(sql "SELECT count(*), count(recorded_utc), count(DISTINCT device) FROM du_recordings WHERE session_id = $sid")" = "5|4|4" ]

	# Metadata never makes an unchanged file go again.
	DU_MULTIPART_THRESHOLD=6MiB DU_MULTIPART_CHUNK_SIZE=5MiB run du-upload -d "$T" -b du-test -p sensors --progress=none \
		--tag project=bats-2026 --tag 'site=A 1/north' --metadata station=north-ridge
	[ "$status" -eq 0 ]
	[ "$(reason already_uploaded)" -eq 5 ]

	# Off: the same recording under another prefix carries no du- facts and makes no du_recordings row.
	run du-upload -d "$T/moth" -b du-test -p sensors-off --progress=none --sensor-metadata=false
	[ "$status" -eq 0 ]
	run admin meta du-test sensors-off/20210501_103000.WAV
	echo "$output"
	[[ "$output" == *"du-mtime="* ]]
	[[ "$output" != *"du-recorded-at"* && "$output" != *"du-device"* && "$output" != *"du-sample-rate"* ]]
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $(last_session) AND sensor IS NOT NULL")" -eq 0 ]
}

@test "rgw: tags S3 would refuse are refused before anything is written (exit 3, one line naming tags)" {
	T=$BATS_TEST_TMPDIR/t
	mkdir -p "$T"
	head -c 2000 /dev/urandom >"$T/a.wav"
	sessions() { [ "$(sql "SELECT to_regclass('sync_sessions') IS NOT NULL")" = t ] && sql "SELECT count(*) FROM sync_sessions" || echo none; }
	before=$(sessions)
	for bad in 'site#1=x' 'aws:site=x' "k=$(printf 'v%.0s' $(seq 1 257))"; do
		run du-upload -d "$T" -b du-test -p badtags --progress=none --tag "$bad"
		echo "$bad: $output"
		[ "$status" -eq 3 ]
		[ "$(printf '%s\n' "$output" | wc -l)" -eq 1 ]
		[[ "$output" == *"tags: "* ]]
	done
	[ "$(sessions)" = "$before" ]
	[ -z "$(admin ls du-test badtags/)" ]
}

# A file found unchanged by its bytes (checked, not sent) gets the run's tags it lacks: the case of a
# run killed between Complete and setting the tags, here made by a first run without tags and a touch.
@test "rgw: objects checked unchanged get the tags they lack, without a byte sent again" {
	T=$BATS_TEST_TMPDIR/t
	mkdir -p "$T"
	head -c 300000 /dev/urandom >"$T/a.wav"
	head -c $((7 * 1024 * 1024)) /dev/urandom >"$T/b.mov"
	export DU_MULTIPART_THRESHOLD=6MiB DU_MULTIPART_CHUNK_SIZE=5MiB
	run du-upload -d "$T" -b du-test -p retag --progress=none
	[ "$status" -eq 0 ]
	[ -z "$(admin tags du-test retag/a.wav)" ]
	touch -d '+1 minute' "$T/a.wav" "$T/b.mov"
	run du-upload -d "$T" -b du-test -p retag --progress=none --tag project=bats-2026
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(reason unchanged_checked)" -eq 2 ]
	[[ "$output" == *"uploaded 0 of 0 files"* ]]
	[ "$(admin tags du-test retag/a.wav)" = "project=bats-2026" ]
	[ "$(admin tags du-test retag/b.mov)" = "project=bats-2026" ]
}

#!/usr/bin/env bats
# Suspect recordings (issue 30): a 0-byte WAV, a full-size WAV of zeros (a recorder whose battery
# died), a WAV whose header says another size, a JPEG without a start of image: uploaded (nothing is
# lost) and recorded suspect with the reason, named at -q and -v and in JSON events, counted by
# du-master status; sound recordings beside them are not. --suspect=fail sends them not.

DU_E2E_SERVERS="s3rver"
load helpers

# card DIR: two sound recordings and four suspect ones, built byte by byte.
card() {
	mkdir -p "$1/site"
	/usr/bin/python3 - "$1/site" <<'PY'
import os, struct, sys
d = sys.argv[1]
def wav(path, frames, riff=None):
    data = os.urandom(frames * 2)
    riff = 36 + len(data) if riff is None else riff
    hdr = b"RIFF" + struct.pack("<I", riff) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 48000, 96000, 2, 16)
    open(path, "wb").write(hdr + b"data" + struct.pack("<I", len(data)) + data)
wav(f"{d}/good.wav", 24000)
open(f"{d}/good.jpg", "wb").write(b"\xff\xd8\xff\xe0" + os.urandom(3000))
open(f"{d}/empty.wav", "wb").close()
open(f"{d}/zeros.wav", "wb").write(bytes(96044))
wav(f"{d}/liar.wav", 24000, riff=500000)
open(f"{d}/bad.jpg", "wb").write(b"<html>not an image</html>")
PY
}

@test "suspect recordings are uploaded, recorded with their reason, named at -q, counted by status; sound ones are not" {
	d="$BATS_TEST_TMPDIR/card"
	card "$d"
	run du-upload -d "$d" -b du-test -p sus -q --progress=none
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^suspect ' <<<"$output")" -eq 4 ]
	grep -q "^suspect  sus/site/empty.wav (0 B): empty file (0 bytes); uploaded$" <<<"$output"
	grep -q "^suspect  sus/site/zeros.wav (93.8 KiB): WAV header is zeros; uploaded$" <<<"$output"
	grep -q "^suspect  sus/site/liar.wav (46.9 KiB): WAV header says 500008 bytes, the file has 48044; uploaded$" <<<"$output"
	grep -q "^suspect  sus/site/bad.jpg (.*): JPEG without a start of image (FF D8); uploaded$" <<<"$output"
	! grep -q "good" <<<"$output"
	sid=$(last_session)
	run sql "SELECT s3_key || '|' || status || '|' || coalesce(suspect, '-') FROM file_uploads WHERE session_id = $sid ORDER BY s3_key"
	echo "$output"
	[ "$output" = "sus/site/bad.jpg|uploaded|JPEG without a start of image (FF D8)
sus/site/empty.wav|uploaded|empty file (0 bytes)
sus/site/good.jpg|uploaded|-
sus/site/good.wav|uploaded|-
sus/site/liar.wav|uploaded|WAV header says 500008 bytes, the file has 48044
sus/site/zeros.wav|uploaded|WAV header is zeros" ]
	cmp "$d/site/zeros.wav" "$(s3rver_object du-test sus/site/zeros.wav)"        # nothing is lost
	run du-master status "$sid"
	echo "$output"
	[[ "$output" == *"suspect     4 recordings"* ]]
	run du-master status "$sid" --json
	[ "$(/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["suspect"])' <<<"$output")" = 4 ]
}

@test "JSON events carry the reason; -v names a suspect beside the uploads" {
	d="$BATS_TEST_TMPDIR/card"
	card "$d"
	run du-upload -d "$d" -b du-test -p susj --progress=json
	[ "$status" -eq 0 ]
	[ "$(grep '"event":"file"' <<<"$output" | grep -c '"suspect":"')" -eq 4 ]
	grep '"key":"susj/site/good.wav"' <<<"$output" | grep -q '"suspect":null'
	grep '"key":"susj/site/zeros.wav"' <<<"$output" | grep -q '"suspect":"WAV header is zeros"'
	run du-upload -d "$d" -b du-test -p susv -v --progress=none
	[ "$(grep -c '^uploaded susv/site/good' <<<"$output")" -eq 2 ]
	[ "$(grep -c '^suspect  susv/' <<<"$output")" -eq 4 ]
}

@test "--suspect=fail sends them not: failed for good with the reason, exit 1; the sound ones uploaded" {
	d="$BATS_TEST_TMPDIR/card"
	card "$d"
	run du-upload -d "$d" -b du-test -p susf --suspect=fail --progress=none
	echo "$output"
	[ "$status" -eq 1 ]
	sid=$(last_session)
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $sid AND status = 'failed' AND error_permanent
		AND error_message LIKE 'suspect recording, not sent (suspect_policy fail): %'")" -eq 4 ]
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $sid AND status = 'uploaded'")" -eq 2 ]
	[ ! -e "$(s3rver_object du-test susf/site/zeros.wav)" ]
	[ -e "$(s3rver_object du-test susf/site/good.wav)" ]
	run du-upload -d "$d" -b du-test -p susf --suspect=maybe --progress=none
	[ "$status" -eq 3 ]
	[[ "$output" == *"suspect_policy"* ]]
}

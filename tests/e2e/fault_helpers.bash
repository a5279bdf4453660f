# Helpers of the fault tests (70-faults.bats and the others that count requests at the proxy);
# load after helpers.bash.
#   (the proxy itself: du_fp_start DIR UPSTREAM [ARGS...] of tests/lib/servers.sh, exports DU_FP_URL)
#   fp_ctl WHAT                      GET /__fault/WHAT (set?..., clear, zero, stats) and print the answer
#   fp_py EXPR                       evaluate a Python expression over the proxy's stats (as `s`)
#   fp_sends PREFIX                  "SENDS BYTES BODIES" of PUT and UploadPart bodies under PREFIX
#   tree_bytes DIR                   the sizes of the files under DIR, summed
#   du_env_proxy                     point du at the proxy (s3rver's keys)
#   (du_pg_restart DIR [PAUSE] of tests/lib/servers.sh: PostgreSQL stopped and started again)
#   wait_until SECONDS CMD...        poll CMD every 50 ms until it succeeds; 1 on timeout

fp_ctl() {
	curl -sS --fail-with-body "$DU_FP_URL/__fault/$1"
}

fp_py() {
	fp_ctl stats | /usr/bin/python3 -c "import json,sys; s=json.load(sys.stdin); r=($1); print(r if not isinstance(r, (dict, list)) else json.dumps(r))"
}

# fp_sends PREFIX: "SENDS BYTES BODIES" for the keys under PREFIX: the PUT and UploadPart bodies
# that reached the proxy (every attempt), their bytes, and the distinct bodies (a key's PUT, or one
# part number of a key). Each body sent once: SENDS = BODIES, BYTES = the files' sizes.
fp_sends() {
	fp_ctl stats | /usr/bin/python3 -c '
import json, sys
s, pre = json.load(sys.stdin), sys.argv[1]
sends = nbytes = bodies = 0
for k, v in s.get("put_object", {}).items():
    if k.startswith(pre):
        sends += v["received"]; nbytes += v["bytes"]; bodies += 1
for k, v in s.get("upload_part", {}).items():
    if k.startswith(pre):
        nbytes += v["bytes"]
        for p in v["parts"].values():
            sends += p["received"]; bodies += 1
print(sends, nbytes, bodies)' "$1"
}

# tree_bytes DIR: the sizes of the files under DIR, summed.
tree_bytes() { find "$1" -type f -printf '%s\n' | awk '{ n += $1 } END { print n + 0 }'; }

du_env_proxy() {
	export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
	export AWS_ENDPOINT_URL_S3="$DU_FP_URL"
	unset AWS_ENDPOINT_URL
}

wait_until() {
	local t=$1 i
	shift
	for i in $(seq 1 $((t * 20))); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

# fp_kill_moment PID MODE TARGET NPARTS NMP HITFILE: wait for the moment to kill du-upload PID; 0 then, 1 if
# PID ended first. The proxy's stats are polled every 20 ms; counts are relative to the call.
#   MODE mp     the first moment a multipart file not listed in HITFILE has a part stored by this run and at
#               least 2 of its NPARTS parts stored in all (but not all): its key is appended to HITFILE.
#               Once all NMP multipart files were hit or completed, as small.
#   MODE small  once TARGET more object PUTs were stored, at a moment no multipart upload is open (created or
#               started and not completed), so the kill hits small files only.
fp_kill_moment() {
	/usr/bin/python3 - "$DU_FP_URL" "$@" <<'PY'
import json, os, sys, time, urllib.request
url, pid, mode, target, nparts, nmp, hitfile = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
def stats():
    with urllib.request.urlopen(url + "/__fault/stats") as r:
        return json.load(r)
def alive():
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
def oks(s):
    return sum(e["ok"] for e in s["put_object"].values())
def done(s):
    return {k: sum(1 for p in e["parts"].values() if p["ok"]) for k, e in s["upload_part"].items()}
def part_oks(s):
    return {k: sum(p["ok"] for p in e["parts"].values()) for k, e in s["upload_part"].items()}
hit = set(k for k in open(hitfile).read().split("\n") if k) if os.path.exists(hitfile) else set()
s0 = stats()
base, base_parts = oks(s0), part_oks(s0)
while alive():
    s = stats()
    if mode == "mp" and len(hit | set(s["mpu_complete"])) < nmp:
        d, po = done(s), part_oks(s)
        mid = sorted(k for k, n in d.items() if k not in hit and k not in s["mpu_complete"]
                     and 2 <= n < nparts and po[k] > base_parts.get(k, 0))
        if mid:
            with open(hitfile, "a") as f:
                f.write(mid[0] + "\n")
            print("multipart mid-flight: %r with %d of %d parts stored" % (mid[0], d[mid[0]], nparts))
            sys.exit(0)
    else:
        opened = (set(s["mpu_create"]) | set(s["upload_part"])) - set(s["mpu_complete"])
        if oks(s) - base >= target and not opened:
            print("after %d object PUTs" % (oks(s) - base))
            sys.exit(0)
    time.sleep(0.02)
sys.exit(1)
PY
}

# fp_settle: wait until the proxy has no request open (the killed client's last bodies reached the server).
fp_settle() {
	wait_until 10 fp_idle
}
fp_idle() { [ "$(fp_py 's["inflight"]')" -eq 0 ]; }

# fp_snapshot DIR K PREFIX: what is true right after kill K: the proxy's counters, the keys recorded uploaded
# (any session) and the recorded multipart uploads and parts.
fp_snapshot() {
	local d=$1 k=$2 prefix=$3
	fp_ctl stats >"$d/stats.$k.json"
	psql -qAtX -v ON_ERROR_STOP=1 -c "COPY (SELECT DISTINCT s3_key FROM file_uploads WHERE status = 'uploaded'
		AND s3_key LIKE '$prefix/%') TO STDOUT WITH (FORMAT csv)" >"$d/uploaded.$k.csv"
	psql -qAtX -v ON_ERROR_STOP=1 -c "COPY (SELECT f.s3_key, m.upload_id, p.part_number FROM multipart_uploads m
		JOIN file_uploads f ON f.id = m.file_id LEFT JOIN multipart_parts p ON p.file_id = m.file_id
		WHERE f.s3_key LIKE '$prefix/%') TO STDOUT WITH (FORMAT csv)" >"$d/mpu.$k.csv"
}

# fp_verify_kills DIR KILLS TREE PREFIX S3DATA WORKERS NPARTS: the kill -9 test's verdict over the snapshots of
# fp_snapshot (DIR/*.K for K = 1..KILLS), DIR/hit (multipart keys killed mid-flight) and the proxy's counters
# now. Prints the figures (kills, files and bytes re-sent) and one line per violation; 1 if any.
fp_verify_kills() {
	fp_ctl stats >"$1/stats.final.json"
	psql -qAtX -v ON_ERROR_STOP=1 -c "COPY (SELECT s3_key, coalesce(md5, checksum_value) FROM file_uploads WHERE status = 'uploaded'
		AND s3_key LIKE '$4/%') TO STDOUT WITH (FORMAT csv)" >"$1/rows.final.csv"
	/usr/bin/python3 - "$DU_TOP/tests/lib" "$@" <<'PY'
import csv, json, os, sys
lib, d, kills, tree, prefix, s3data, workers, nparts = sys.argv[1:9]
kills, workers, nparts = int(kills), int(workers), int(nparts)
sys.path.insert(0, lib)
from check_upload import composite, media_files, md5
bad = []
load = lambda n: json.load(open(os.path.join(d, n)))
snaps = [load("stats.%d.json" % k) for k in range(1, kills + 1)]
final = load("stats.final.json")
uploaded = [set(r[0] for r in csv.reader(open(os.path.join(d, "uploaded.%d.csv" % k)))) for k in range(1, kills + 1)]
mpu = []
for k in range(1, kills + 1):
    m = {}
    for key, uid, part in csv.reader(open(os.path.join(d, "mpu.%d.csv" % k))):
        e = m.setdefault(key, {"uid": uid, "parts": set()})
        if part:
            e["parts"].add(part)
    mpu.append(m)
rows = {r[0]: r[1] for r in csv.reader(open(os.path.join(d, "rows.final.csv")))}
hit = [k for k in open(os.path.join(d, "hit")).read().split("\n") if k] if os.path.exists(os.path.join(d, "hit")) else []

# Bytes and rows.
files, unrecorded, sizes = 0, [], {}
for rel, path in media_files(tree):
    key = "%s/%s" % (prefix, rel)
    files += 1
    sizes[key] = os.path.getsize(path)
    m = md5(path)
    obj = os.path.join(s3data, "du-test", key + "._S3rver_object")
    if not os.path.exists(obj) or md5(obj) != m:
        bad.append("object bytes differ from the file (or missing): %r" % key)
    if key not in rows:
        unrecorded.append(key)
        if final["put_object"].get(key, {}).get("ok", 0) + len(final["mpu_complete"].get(key, [])) == 0:
            bad.append("no uploaded row and never stored through the proxy: %r" % key)
    elif rows[key] != m and not (rows[key].count("-") == 1 and composite(path, rows[key]) == rows[key]):
        bad.append("row md5 %s != file md5 %s for %r" % (rows[key], m, key))

# Nothing recorded uploaded is sent again.
for k, (up, s) in enumerate(zip(uploaded, snaps), 1):
    for key in up:
        for op in ("put_object", "upload_part"):
            a = s[op].get(key, {}).get("received", 0)
            b = final[op].get(key, {}).get("received", 0)
            if a != b:
                bad.append("%r was recorded uploaded at kill %d but sent again (%s %d -> %d)" % (key, k, op, a, b))

# Multipart: continued, recorded parts never re-sent, every re-sent part was in flight at a kill. A file
# may be sent again as a whole only when a kill came after its upload was completed and before its row said
# uploaded (the dead run had finished it; the next one cannot know).
mp_keys = sorted(final["upload_part"])
for key in mp_keys:
    e = final["upload_part"][key]
    done = final["mpu_complete"].get(key, [])
    if not done:
        bad.append("%r was never completed" % key)
        continue
    unrecorded_done = set()
    for k, s in enumerate(snaps):
        if key not in uploaded[k]:
            unrecorded_done.update(s["mpu_complete"].get(key, []))
    for uid in done[:-1]:
        if uid not in unrecorded_done:
            bad.append("%r: upload %s completed, then the file was sent again" % (key, uid))
    for uid in e["uploads"]:
        if uid not in done and uid not in final["mpu_abort"].get(key, []):
            bad.append("%r: upload %s restarted instead of continued (neither completed nor aborted)" % (key, uid))
    for uid, parts in e["uploads"].items():
        prev, lost = {}, {}
        for k, (s, m) in enumerate(zip(snaps, mpu), 1):
            cur = s["upload_part"].get(key, {}).get("uploads", {}).get(uid, {})
            if uid in s["mpu_complete"].get(key, []):
                break
            rec = m[key]["parts"] if key in m and m[key]["uid"] == uid else set()
            for p in rec:
                if cur.get(p, {}).get("received", 0) != parts.get(p, {}).get("received", 0):
                    bad.append("%r part %s recorded at kill %d but sent again" % (key, p, k))
            n = 0
            for p, c in cur.items():
                if c["received"] > prev.get(p, {}).get("received", 0) and p not in rec:
                    lost[p] = lost.get(p, 0) + 1
                    n += 1
            if n > workers:
                bad.append("%r: %d parts in flight at kill %d, more than %d workers" % (key, n, k, workers))
            prev = cur
        for p, c in parts.items():
            if c["received"] != 1 + lost.get(p, 0):
                bad.append("%r upload %s part %s sent %d times, expected 1 + %d lost at kills"
                           % (key, uid, p, c["received"], lost.get(p, 0)))
        if uid in done and len(parts) != nparts:
            bad.append("%r: upload %s completed with %d distinct parts sent, expected %d" % (key, uid, len(parts), nparts))
if not hit:
    bad.append("no multipart file was killed mid-flight")
for key in hit:
    if not any(len(m.get(key, {"parts": ()})["parts"]) for m in mpu):
        bad.append("%r was hit mid-flight but no part of it was recorded at any kill" % key)

# Figures.
resent_small = {k: v for k, v in final["put_object"].items() if v["received"] > 1}
bytes_small = sum(v["bytes"] - sizes.get(k, 0) for k, v in resent_small.items())
resent_mp = {k: v for k, v in final["upload_part"].items() if v["received"] > nparts}
bytes_mp = sum(v["bytes"] - sizes.get(k, 0) for k, v in final["upload_part"].items())
reused = {k: max(len(m.get(k, {"parts": ()})["parts"]) for m in mpu) for k in mp_keys}
print("kills=%d files=%d small_files_resent=%d multipart_files_with_resent_parts=%d parts_resent=%d "
      "bytes_resent=%d (small %d, parts %d) unrecorded_but_stored=%d multipart_hit=%d parts_recorded_before_kills=%s"
      % (kills, files, len(resent_small), len(resent_mp),
         sum(v["received"] - nparts for v in final["upload_part"].values()),
         bytes_small + bytes_mp, bytes_small, bytes_mp, len(unrecorded), len(hit), reused))
for b in bad[:40]:
    print("FAIL: " + b)
sys.exit(1 if bad else 0)
PY
}

# session_scanned KEYPREFIX: some session has rows under KEYPREFIX (its files are registered).
session_scanned() {
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE s3_key LIKE '$1%'")" -gt 0 ]
}

# worker_uploaded SESSION PID N: the du process PID has N files recorded uploaded in SESSION.
worker_uploaded() {
	[ "$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $1 AND status = 'uploaded' AND worker LIKE '%:$2:%'")" -ge "$3" ]
}

# puts_ok_at_least N: the proxy has seen N object PUTs stored.
puts_ok_at_least() {
	[ "$(fp_py 'sum(v["ok"] for v in s["put_object"].values())')" -ge "$1" ]
}

# rows_true SESSION TREE PREFIX: every row of SESSION that says uploaded has the file's md5 (or, multipart,
# its parts' composite at DU_MULTIPART_CHUNK_SIZE), and s3rver holds
# the file's bytes under its key. Prints the number of such rows; 1 on the first lie.
rows_true() {
	local rows
	rows=$(mktemp "${BATS_TEST_TMPDIR:-/tmp}/rows.XXXXXX")
	psql -qAtX -v ON_ERROR_STOP=1 -c "COPY (SELECT s3_key, md5, checksum_value FROM file_uploads WHERE session_id = $1
		AND status = 'uploaded') TO STDOUT WITH (FORMAT csv)" >"$rows" || return 1
	/usr/bin/python3 - "$DU_TOP/tests/lib" "$2" "$3" "$DU_E2E_TMP/s3/s3data/du-test" "$rows" <<'PY'
import csv, os, sys
sys.path.insert(0, sys.argv[1])
from check_upload import composite, md5
tree, prefix, s3, rows = sys.argv[2:6]
n = 0
for key, m, ck in csv.reader(open(rows, newline="")):
    path = os.path.join(tree, key[len(prefix) + 1:])
    if not m and ck.count("-") == 1 and composite(path, ck) == ck:
        m = md5(path)  # multipart: each byte hashed once, the row has the parts' composite
    if md5(path) != m:
        sys.exit("row md5 %s is not the file's: %r" % (m, key))
    obj = os.path.join(s3, key + "._S3rver_object")
    if not os.path.exists(obj) or md5(obj) != m:
        sys.exit("row says uploaded but s3rver lacks the bytes: %r" % key)
    n += 1
print("%d rows true" % n)
PY
}

# held_by SESSION PID: how many rows of SESSION the du process PID holds (claimed, not finished).
held_by() {
	sql "SELECT count(*) FROM file_uploads WHERE session_id = $1 AND status = 'uploading' AND worker LIKE '%:$2:%'"
}

# worker_holds SESSION PID: the du process PID holds claimed rows of SESSION.
worker_holds() {
	[ "$(held_by "$1" "$2")" -gt 0 ]
}

# all_claimed_victim_holds SESSION PID: no row of SESSION is pending and du process PID holds some.
all_claimed_victim_holds() {
	[ "$(sql "SELECT count(*) FILTER (WHERE status = 'pending') = 0 AND count(*) FILTER (WHERE status = 'uploading'
		AND worker LIKE '%:$2:%') > 0 FROM file_uploads WHERE session_id = $1")" = t ]
}

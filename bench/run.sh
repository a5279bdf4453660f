#!/usr/bin/env bash
# bench/run.sh: du-upload side by side with rclone, the AWS CLI, s3cmd and one `curl --parallel`
# process, against s3rver (a real store), Ceph's RADOS Gateway (a production one, in memory) and an
# nginx null sink (the client's own cost), plus du's
# scanner against find(1), registration of 1M rows against `psql \copy`, and peak RSS.
#
#   bash bench/run.sh [--smoke] [--runs N] [--update-docs] [--keep]
#
#   --smoke        small datasets, one run, clients that are not installed are skipped (< 60 s);
#                  exits non-zero when any run fails or a sink did not receive every byte
#   --runs N       runs per client and scenario (default 3; slow clients run once)
#   --update-docs  also replace the table in docs/PERFORMANCE.md
#   --keep         keep the work directory (servers' logs, raw measurements)
#   --only LIST    run only these parts (comma-separated): scenario names such as small5000-sink or
#                  big512-s3rver or small5000-rgw, `scan`, `register`, `resync`, `retry`; to look at one figure
#
# Datasets are made once under bench/data/ (DU_BENCH_DATA) and reused. Servers are started here on
# 127.0.0.1 and free ports and stopped by PID on exit, even on failure. Results: bench/results/DATE.md
# (the table, printed too) and DATE.jsonl (one line per measured run). See docs/PERFORMANCE.md.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 1
SMOKE=0 RUNS=3 UPDATE_DOCS=0 KEEP=0 ONLY=
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) SMOKE=1 RUNS=1 ;;
	--runs) RUNS=$2; shift ;;
	--update-docs) UPDATE_DOCS=1 ;;
	--keep) KEEP=1 ;;
	--only) ONLY=,$2,; shift ;;
	*) echo "usage: bench/run.sh [--smoke] [--runs N] [--update-docs] [--keep] [--only LIST]" >&2; exit 2 ;;
	esac
	shift
done

OUT=${OUT:-build/std}
BIN=$TOP/$OUT/bin
SCANB=$TOP/$OUT/bench/scan_bench
PY=/usr/bin/python3
MEASURE="$PY $TOP/bench/lib/measure.py"
DATA=${DU_BENCH_DATA:-$TOP/bench/data}
RESULTS=$TOP/bench/results
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)

if [ "$SMOKE" = 1 ]; then
	N_A=300 N_B=0 BIG_MIB=80 TREE_BIG=10000 TREE_SMALL=1000 DATA=$DATA/smoke
	RAW=$(mktemp "${TMPDIR:-/tmp}/du-bench-smoke.XXXXXX.jsonl") MD=${RAW%.jsonl}.md
else
	N_A=5000 N_B=50000 BIG_MIB=512 TREE_BIG=1000000 TREE_SMALL=10000
	mkdir -p "$RESULTS"
	RAW=$RESULTS/$STAMP.jsonl MD=$RESULTS/$STAMP.md
fi

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# ---- what we need ------------------------------------------------------------------------------

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
APT_UPDATED=0
apt_install() {
	[ "$APT_UPDATED" = 1 ] || { $SUDO apt-get update -qq >/dev/null 2>&1; APT_UPDATED=1; }
	say "installing $*"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null 2>&1
}

[ -x "$BIN/du-upload" ] || die "build first: make"
[ -x "$SCANB" ] || die "build first: make $OUT/bench/scan_bench"
[ -f "$TOP/tests/node/node_modules/s3rver/bin/s3rver.js" ] || sh scripts/deps.sh --if-missing >/dev/null ||
	die "s3rver is missing: make deps"
if ! command -v nginx >/dev/null || [ ! -f /usr/lib/nginx/modules/ngx_http_set_misc_module.so ] ||
	[ ! -f /usr/lib/nginx/modules/ngx_http_echo_module.so ]; then
	apt_install nginx-light libnginx-mod-http-set-misc libnginx-mod-http-echo ||
		die "cannot install nginx-light libnginx-mod-http-set-misc libnginx-mod-http-echo"
fi
# The reference clients: installed for the full run, used when present for the smoke run.
HAVE_RCLONE=1 HAVE_AWS=1 HAVE_S3CMD=1
if [ "$SMOKE" = 0 ]; then
	missing=
	command -v rclone >/dev/null || missing="$missing rclone"
	[ -x /usr/bin/aws ] || missing="$missing awscli"
	command -v s3cmd >/dev/null || missing="$missing s3cmd"
	# shellcheck disable=SC2086 # a list of package names
	[ -z "$missing" ] || apt_install $missing || die "cannot install$missing"
fi
command -v rclone >/dev/null || HAVE_RCLONE=0
[ -x /usr/bin/aws ] || HAVE_AWS=0
command -v s3cmd >/dev/null || HAVE_S3CMD=0

# ---- servers -----------------------------------------------------------------------------------

WORK=$(mktemp -d "${TMPDIR:-/tmp}/du-bench.XXXXXX")
chmod 755 "$WORK"
. "$TOP/tests/lib/servers.sh"
NGINX_PID=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	[ -n "$NGINX_PID" ] && { kill -QUIT "$NGINX_PID" 2>/dev/null; sleep 0.2; kill -KILL "$NGINX_PID" 2>/dev/null; }
	du_kill_pidfile "$WORK/s3/s3rver.pid"
	du_rgw_stop "$WORK/rgw"
	du_pg_stop "$WORK/pg"
	if [ "$KEEP" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BUCKET=bench
DU_TEST_BUCKETS=$BUCKET du_s3rver_start "$WORK/s3" >/dev/null || die "s3rver did not start"
S3RVER_URL=$DU_S3RVER_URL
du_pg_start "$WORK/pg" >/dev/null || die "PostgreSQL did not start"
PG_PID=$(head -n 1 "$WORK/pg/data/postmaster.pid")

mkdir -p "$WORK/nginx/tmp"
SINK_PORT=$(du_free_port)
# Timing runs: nginx answers at once and drains bodies afterwards (cheapest). Smoke run: bodies are
# read before the answer, so the access log proves every byte of every client arrived.
if [ "$SMOKE" = 1 ]; then SINK_BODY='echo_read_request_body; echo -n $sink_body;'; else SINK_BODY='return 200 $sink_body;'; fi
sed -e "s|@DIR@|$WORK/nginx|g" -e "s|@PORT@|$SINK_PORT|g" -e "s|^\([[:space:]]*\)@BODY@\$|\1$SINK_BODY|" \
	bench/nginx.conf.in >"$WORK/nginx/nginx.conf"
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" -e "$WORK/nginx/error.log" >"$WORK/nginx/stderr" 2>&1 &
NGINX_PID=$!
du_wait_port "$SINK_PORT" "$NGINX_PID" || { cat "$WORK/nginx/stderr" >&2; die "nginx did not start"; }
SINK_URL=http://127.0.0.1:$SINK_PORT

# RGW only for its scenarios (not in the smoke run): start ~3 s, objects in memory.
RGW_URL=
rgw_wanted() { [ "$SMOKE" = 0 ] && { [ -z "$ONLY" ] || [[ $ONLY == *-rgw,* ]]; }; }
if rgw_wanted; then
	DU_TEST_BUCKETS=$BUCKET du_rgw_start "$WORK/rgw" >/dev/null || die "RGW did not start (log: $WORK/rgw/log)"
	RGW_URL=$DU_RGW_URL
fi

# Every client gets the same fixed keys and never a user's AWS files or a TLS bundle.
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_SHARED_CREDENTIALS_FILE=$WORK/none AWS_CONFIG_FILE=$WORK/none
export HOME=$WORK/home
unset AWS_CA_BUNDLE AWS_ENDPOINT_URL AWS_PROFILE AWS_SESSION_TOKEN
mkdir -p "$HOME"

# ---- datasets ----------------------------------------------------------------------------------

mkdir -p "$DATA"
say "datasets under $DATA (made once, then reused)"
$PY bench/lib/gen.py small "$DATA/small-$N_A" "$N_A" || die "dataset small-$N_A"
[ "$N_B" -gt 0 ] && { $PY bench/lib/gen.py small "$DATA/small-$N_B" "$N_B" || die "dataset small-$N_B"; }
mkdir -p "$DATA/big-$BIG_MIB"
$PY bench/lib/gen.py big "$DATA/big-$BIG_MIB/big.wav" $((BIG_MIB * 1024 * 1024)) || die "dataset big"
make_tree() { # scan trees: tiny .wav files, 100 per folder
	local d=$1 n=$2
	[ -f "$d.done" ] && [ "$(cat "$d.done")" = "$n" ] && return 0
	rm -rf "$d" "$d.done"
	say "making a $n-file tree (once)"
	"$SCANB" make "$d" "$n" $((n / 100)) && echo "$n" >"$d.done"
}
make_tree "$DATA/tree-$TREE_SMALL" "$TREE_SMALL" || die "tree $TREE_SMALL"
make_tree "$DATA/tree-$TREE_BIG" "$TREE_BIG" || die "tree $TREE_BIG"

# ---- the clients -------------------------------------------------------------------------------

sql() { psql -qtAX -v ON_ERROR_STOP=1 -c "$1"; }
# du's history of one bucket feeds its decision: every du run starts from empty tables, as a first run.
db_reset() { sql "TRUNCATE sync_sessions, file_uploads CASCADE" >/dev/null 2>&1 || true; }

cat >"$WORK/s3cmd-s3rver.cfg" <<EOF
[default]
access_key = S3RVER
secret_key = S3RVER
host_base = ${S3RVER_URL#http://}
host_bucket = ${S3RVER_URL#http://}
use_https = False
signature_v2 = False
bucket_location = us-east-1
EOF
sed "s|${S3RVER_URL#http://}|${SINK_URL#http://}|" "$WORK/s3cmd-s3rver.cfg" >"$WORK/s3cmd-sink.cfg"

# client_cmd TOOL URL TARGET DIR PREFIX: the command line, in the array CMD.
client_cmd() {
	local tool=$1 url=$2 target=$3 dir=$4 prefix=$5
	case $tool in
	du) CMD=(env AWS_ENDPOINT_URL_S3="$url" AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK" "$BIN/du-upload" -d "$dir" -b "$BUCKET" -p "$prefix" -q --progress=none) ;;
	du-md5) CMD=(env AWS_ENDPOINT_URL_S3="$url" AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK" "$BIN/du-upload" -d "$dir" -b "$BUCKET" -p "$prefix" -q --progress=none
		--checksum-algorithm=md5) ;;
	du-tuned) CMD=(env AWS_ENDPOINT_URL_S3="$url" AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK" "$BIN/du-upload" -d "$dir" -b "$BUCKET" -p "$prefix" -q --progress=none
		-w 32 --use-find=false) ;;
	rclone) CMD=(env RCLONE_CONFIG_BX_TYPE=s3 RCLONE_CONFIG_BX_PROVIDER=Other RCLONE_CONFIG_BX_ACCESS_KEY_ID="$AK"
		RCLONE_CONFIG_BX_SECRET_ACCESS_KEY="$SK" RCLONE_CONFIG_BX_ENDPOINT="$url" RCLONE_CONFIG_BX_REGION=us-east-1
		RCLONE_CONFIG_BX_FORCE_PATH_STYLE=true RCLONE_CONFIG=/dev/null
		rclone copy -q --transfers 16 --fast-list --s3-no-head --s3-no-check-bucket "$dir" "bx:$BUCKET/$prefix") ;;
	aws) CMD=(/usr/bin/aws s3 cp --recursive --only-show-errors --no-progress --endpoint-url "$url" "$dir"
		"s3://$BUCKET/$prefix/") ;;
	s3cmd)
		# s3cmd checks each part's ETag against the part's md5 but sends no Content-MD5 with parts,
		# so the sink cannot answer it: big files go to the sink in one PUT (its md5 travels in
		# x-amz-meta-s3cmd-attrs).
		local mp=()
		[ "$target" = sink ] && [ -n "$(find "$dir" -type f -size +15M -print -quit)" ] && mp=(--disable-multipart)
		CMD=(s3cmd -c "$WORK/s3cmd-$target.cfg" put -r --no-progress --quiet "${mp[@]}" "$dir/" "s3://$BUCKET/$prefix/") ;;
	curl)
		# One process, 16 transfers at once over reused connections: what libcurl itself can do.
		# No Content-MD5 (curl cannot compute it), SigV4 by curl with an unsigned payload.
		local cfg=$WORK/curl-$prefix.cfg
		(cd "$dir" && find . -type f) | sed 's|^\./||' |
			awk -v u="$url/$BUCKET/$prefix/" -v d="$dir/" \
				'{ printf "url = \"%s%s\"\nupload-file = \"%s%s\"\noutput = \"/dev/null\"\n", u, $0, d, $0 }' >"$cfg"
		CMD=(curl --parallel --parallel-max 16 -sS --fail --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK"
			-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" --config "$cfg") ;;
	esac
}

have() {
	case $1 in
	rclone) [ "$HAVE_RCLONE" = 1 ] ;; aws) [ "$HAVE_AWS" = 1 ] ;; s3cmd) [ "$HAVE_S3CMD" = 1 ] ;; *) true ;;
	esac
}

FAILS=0
# one_run SCEN TARGET DIR NFILES BYTES TOOL RUN
one_run() {
	local scen=$1 target=$2 dir=$3 nfiles=$4 bytes=$5 tool=$6 run=$7
	local prefix=$scen-$tool-r$run url sinkarg=() ok=1 note=
	AK=S3RVER SK=S3RVER
	case $target in
	sink) url=$SINK_URL; sinkarg=(--sink-pid "$NGINX_PID" --sink-log "$WORK/nginx/access.log") ;;
	rgw) url=$RGW_URL AK=$DU_RGW_AK SK=$DU_RGW_SK ;;
	*) url=$S3RVER_URL ;;
	esac
	case $tool in du*) db_reset ;; esac
	client_cmd "$tool" "$url" "$target" "$dir" "$prefix"
	sync_quiet
	$MEASURE --out "$RAW" --timeout 900 --tag kind=upload --tag scen="$scen" --tag target="$target" --tag tool="$tool" \
		--tag run="$run" --tag files="$nfiles" --tag bytes="$bytes" --pg-pid "$PG_PID" "${sinkarg[@]}" \
		-- "${CMD[@]}" >"$WORK/out-$prefix.log" 2>&1
	local rc=$?
	[ "$rc" -eq 0 ] || { ok=0; note="exit $rc"; }
	# Did every file arrive? s3rver: objects on disk; the sink: bytes it read (its access log).
	if [ "$ok" = 1 ] && [ "$target" = s3rver ]; then
		local n
		n=$(find "$WORK/s3/s3data/$BUCKET/$prefix" -name '*._S3rver_object' 2>/dev/null | wc -l)
		[ "$n" -eq "$nfiles" ] || { ok=0; note="$n of $nfiles objects stored"; }
		rm -rf "${WORK:?}/s3/s3data/$BUCKET/$prefix"
	fi
	if [ "$ok" = 1 ] && [ "$target" = rgw ]; then
		local n
		n=$($PY "$TOP/tests/lib/s3_admin.py" "$RGW_URL" "$AK" "$SK" ls "$BUCKET" "$prefix/" | wc -l)
		[ "$n" -eq "$nfiles" ] || { ok=0; note="$n of $nfiles objects stored"; }
		$PY "$TOP/tests/lib/s3_admin.py" "$RGW_URL" "$AK" "$SK" rmprefix "$BUCKET" "$prefix/"
	fi
	if [ "$ok" = 1 ] && [ "$target" = sink ]; then
		# Smoke: the sink's own count of body bytes read. Timing runs: the loopback interface's.
		local got key=lo_bytes
		[ "$SMOKE" = 1 ] && key=sink_bytes
		got=$(tail -n 1 "$RAW" | $PY -c "import json,sys; print(json.load(sys.stdin).get('$key', 0))")
		[ "$got" -ge "$bytes" ] || { ok=0; note="$key: $got of $bytes bytes"; }
	fi
	if [ "$ok" = 1 ] && [ "${tool%%-*}" = du ]; then
		local up
		up=$(sql "SELECT files_uploaded FROM sync_sessions ORDER BY id DESC LIMIT 1")
		[ "$up" = "$nfiles" ] || { ok=0; note="du recorded $up of $nfiles uploaded"; }
	fi
	$PY - "$RAW" "$ok" "$note" <<'EOF'
import json, sys
path, ok, note = sys.argv[1], sys.argv[2] == "1", sys.argv[3]
lines = open(path).read().splitlines()
rec = json.loads(lines[-1])
rec["ok"] = ok
if note:
    rec["note"] = note
lines[-1] = json.dumps(rec)
open(path, "w").write("\n".join(lines) + "\n")
EOF
	if [ "$ok" = 1 ]; then
		say "$scen $tool run $run: $(tail -n 1 "$RAW" | $PY -c 'import json,sys; r=json.load(sys.stdin); print("%.2f s wall, %.2f s CPU" % (r["wall"], r["user"] + r["sys"]))')"
	else
		say "$scen $tool run $run FAILED: $note (log: $WORK/out-$prefix.log)"
		tail -n 5 "$WORK/out-$prefix.log" >&2
		FAILS=$((FAILS + 1))
	fi
}

# A pause between runs lets the servers finish what the previous client left (s3rver's writes,
# PostgreSQL's backends). No sync(1): it waits for every dirty page of the machine, not ours.
sync_quiet() { sleep 0.3; }

# scenario NAME TARGET DIR "TOOL[:MAXRUNS] ..."; runs alternate between the clients.
scenario() {
	local scen=$1 target=$2 dir=$3 tools=$4 nfiles bytes
	wanted "$scen" || return 0
	nfiles=$(find "$dir" -type f | wc -l)
	bytes=$(find "$dir" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
	say "== $scen: $nfiles files, $bytes bytes, to $target"
	for run in $(seq 1 "$RUNS"); do
		for t in $tools; do
			local tool=${t%%:*} max=$RUNS
			[ "$t" != "$tool" ] && max=${t#*:}
			have "$tool" || { [ "$run" = 1 ] && say "$tool not installed: skipped"; continue; }
			[ "$run" -le "$max" ] || continue
			one_run "$scen" "$target" "$dir" "$nfiles" "$bytes" "$tool" "$run"
		done
	done
}

# wanted PART: --only names PART, or there is no --only.
wanted() { [ -z "$ONLY" ] || [[ $ONLY == *",$1,"* ]]; }

# ---- uploads -----------------------------------------------------------------------------------

uname -a >"$WORK/machine"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
T_START=$(date +%s)

SMALL_A=$DATA/small-$N_A BIG=$DATA/big-$BIG_MIB
if [ "$SMOKE" = 1 ]; then
	# Every client once, and every server and path of the harness, as fast as possible.
	scenario "small$N_A-sink" sink "$SMALL_A" "du du-tuned rclone s3cmd curl"
	scenario "small$N_A-s3rver" s3rver "$SMALL_A" "du rclone curl"
	scenario "big$BIG_MIB-sink" sink "$BIG" "du rclone curl"
else
	scenario "small$N_A-sink" sink "$SMALL_A" "du du-tuned rclone aws s3cmd:1 curl"
	scenario "small$N_A-s3rver" s3rver "$SMALL_A" "du du-tuned rclone aws:2 s3cmd:1 curl"
	scenario "small$N_B-sink" sink "$DATA/small-$N_B" "du du-tuned rclone curl"
	scenario "big$BIG_MIB-sink" sink "$BIG" "du du-md5 du-tuned rclone aws s3cmd:1 curl"
	scenario "big$BIG_MIB-s3rver" s3rver "$BIG" "du du-tuned rclone aws:1 curl"
	scenario "small$N_A-rgw" rgw "$SMALL_A" "du rclone curl"
	scenario "big$BIG_MIB-rgw" rgw "$BIG" "du rclone curl"
fi

# ---- scanning ----------------------------------------------------------------------------------

wanted scan && {
say "== scan: du_scan against find -printf on $TREE_BIG files (warm cache)"
"$SCANB" compare "$DATA/tree-$TREE_BIG" "$RUNS" | tee "$WORK/scan.txt" >&2
$PY - "$RAW" "$WORK/scan.txt" "$TREE_BIG" <<'EOF'
import json, re, sys
raw, txt, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(raw, "a") as out:
    for line in open(txt):
        m = re.match(r"\s+(.+?)\s+([0-9.]+) s\s+([0-9.]+)x find", line)
        if m:
            out.write(json.dumps({"kind": "scan", "variant": m.group(1), "wall": float(m.group(2)),
                                  "files": n, "ok": True}) + "\n")
EOF
for n in "$TREE_SMALL" "$TREE_BIG"; do
	$MEASURE --out "$RAW" --tag kind=scanrss --tag files="$n" --mark-ok -- "$SCANB" scan "$DATA/tree-$n" >/dev/null
done
}

# ---- registration: scan + listing + COPY + decision + INSERT of every row -----------------------

# du-upload against the sink; once its session says "scanned" (every row registered and decided),
# it is interrupted: the uploads themselves are measured above. The registration time is the
# database's own: sync_sessions.scanned_at - started_at.
SCANNED_SQL="SELECT 1 FROM sync_sessions WHERE scanned_at IS NOT NULL ORDER BY id DESC LIMIT 1"
register_du() {
	local tool=$1 n=$2 run=$3 extra=()
	[ "$tool" = du-tuned ] && extra=(-w 32 --use-find=false)
	db_reset
	sync_quiet
	$MEASURE --out "$RAW" --tag kind=register --tag tool="$tool" --tag files="$n" --tag run="$run" \
		--pg-pid "$PG_PID" --timeout 600 --sigint-when "psql -qtAX -c '$SCANNED_SQL' | grep -q 1" -- \
		env AWS_ENDPOINT_URL_S3="$SINK_URL" "$BIN/du-upload" -d "$DATA/tree-$n" -b "$BUCKET" -p "reg-$tool-$run" \
		-q --progress=none "${extra[@]}" >"$WORK/reg-$tool-$n-$run.log" 2>&1
	local secs rows
	secs=$(sql "SELECT extract(epoch FROM scanned_at - started_at) FROM sync_sessions ORDER BY id DESC LIMIT 1")
	rows=$(sql "SELECT total_files FROM sync_sessions ORDER BY id DESC LIMIT 1")
	$PY - "$RAW" "$secs" "$rows" "$n" <<'EOF'
import json, sys
path, secs, rows, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
lines = open(path).read().splitlines()
rec = json.loads(lines[-1])
rec["register_s"] = float(secs) if secs else None
rec["rows"] = int(rows or 0)
rec["ok"] = rec["rc"] in (0, 130) and rec["rows"] == n
if not rec["ok"]:
    rec["note"] = "exit %d, %s rows" % (rec["rc"], rows)
lines[-1] = json.dumps(rec)
open(path, "w").write("\n".join(lines) + "\n")
EOF
	say "register $n $tool run $run: ${secs:-?} s, $(tail -n 1 "$RAW")"
}

register_copy() {
	local n=$1 run=$2
	local rows=$WORK/rows-$n.tsv
	db_reset
	# The same rows into the same table, under one session like du's.
	sql "INSERT INTO sync_sessions (id, project_id, local_directory, s3_prefix)
	     SELECT 1000000, min(id), 'copy', 'copy' FROM projects" >/dev/null
	sync_quiet
	$MEASURE --out "$RAW" --tag kind=register --tag tool=psql-copy --tag files="$n" --tag run="$run" \
		--pg-pid "$PG_PID" -- psql -qX -v ON_ERROR_STOP=1 \
		-c "\\copy file_uploads (session_id, local_path, s3_key, file_size, file_type, status, mtime_ns, inode) FROM '$rows'" \
		>"$WORK/copy-$n-$run.log" 2>&1
	local got
	got=$(sql "SELECT count(*) FROM file_uploads WHERE session_id = 1000000")
	$PY - "$RAW" "$got" "$n" <<'EOF'
import json, sys
path, got, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lines = open(path).read().splitlines()
rec = json.loads(lines[-1])
rec["register_s"] = rec["wall"]
rec["rows"] = got
rec["ok"] = rec["rc"] == 0 and got == n
lines[-1] = json.dumps(rec)
open(path, "w").write("\n".join(lines) + "\n")
EOF
	say "register $n psql \\copy run $run: $(tail -n 1 "$RAW")"
}

wanted register && {
say "== registration of $TREE_BIG files, and peak RSS at $TREE_SMALL and $TREE_BIG files"
for n in "$TREE_SMALL" "$TREE_BIG"; do
	for run in $(seq 1 "$RUNS"); do
		register_du du "$n" "$run"
		if [ "$run" = 1 ]; then
			# The rows du registered, written once as the TSV that psql \copy loads.
			psql -qX -v ON_ERROR_STOP=1 -c "\\copy (SELECT 1000000, local_path, s3_key, file_size, file_type, 'pending',
				mtime_ns, inode FROM file_uploads) TO '$WORK/rows-$n.tsv'" || die "cannot export rows"
		fi
		register_du du-tuned "$n" "$run"
		register_copy "$n" "$run"
	done
done
}

# ---- re-runs: the sync decision over a bucket that already holds everything ---------------------

# Re-runs over a bucket that already holds the tree (uploaded once to s3rver, not measured; the
# nginx sink lists nothing, so it cannot be the truth here):
#   unchanged-N   nothing changed: the listing and the rows decide, no file is read; at two tree
#                 sizes (TREE_SMALL and RESYNC_N tiny files), so peak RSS shows it stays flat;
#   touched       after `touch` of every file of RESYNC_TOUCH_N: each is hashed by a worker and
#                 compared with its ETag, none is sent; then after-touch (the rows hold the new
#                 mtimes: nothing is read again), and `cat` of the same tree as the floor of reading it.
# DU_BENCH_RESYNC_N (300,000) and DU_BENCH_RESYNC_TOUCH_N (N_B, 50,000) shrink them on a busy machine.
# Peak RSS is in the raw records (kind=resync).
RESYNC_N=${DU_BENCH_RESYNC_N:-300000}
RESYNC_TOUCH_N=${DU_BENCH_RESYNC_TOUCH_N:-$N_B}
resync_run() {
	local variant=$1 dir=$2 prefix=$3 n=$4
	$MEASURE --out "$RAW" --tag kind=resync --tag variant="$variant" --tag files="$n" --pg-pid "$PG_PID" \
		--timeout 1800 -- env AWS_ENDPOINT_URL_S3="$S3RVER_URL" "$BIN/du-upload" -d "$dir" -b "$BUCKET" -p "$prefix" \
		-q --progress=none >"$WORK/resync-$variant.log" 2>&1
	say "resync $variant ($n files): $(tail -n 1 "$RAW" | $PY -c 'import json,sys; r=json.load(sys.stdin); print("%.2f s wall, %.2f s CPU, %d MiB peak RSS" % (r["wall"], r["user"] + r["sys"], r.get("rss_kb", 0) // 1024))'); $(sql "SELECT 'sent ' || files_uploaded || ', decision ' || decision FROM sync_sessions ORDER BY id DESC LIMIT 1")"
}
resync_seed() { # DIR PREFIX: the first upload, not measured
	env AWS_ENDPOINT_URL_S3="$S3RVER_URL" "$BIN/du-upload" -d "$1" -b "$BUCKET" -p "$2" -q --progress=none ||
		die "resync: first upload of $1 failed"
}
[ "$SMOKE" = 0 ] && wanted resync && {
	db_reset
	for n in "$TREE_SMALL" "$RESYNC_N"; do
		make_tree "$DATA/tree-$n" "$n" || die "tree $n"
		say "== resync: $n files already in s3rver, nothing changed"
		resync_seed "$DATA/tree-$n" "resync-$n"
		resync_run "unchanged-$n" "$DATA/tree-$n" "resync-$n" "$n"
		rm -rf "${WORK:?}/s3/s3data/$BUCKET/resync-$n"
	done
	dir=$DATA/small-$RESYNC_TOUCH_N
	$PY bench/lib/gen.py small "$dir" "$RESYNC_TOUCH_N" || die "dataset small-$RESYNC_TOUCH_N"
	say "== resync: $RESYNC_TOUCH_N files already in s3rver, every one touched"
	resync_seed "$dir" resync
	find "$dir" -type f -exec touch {} +
	resync_run touched "$dir" resync "$RESYNC_TOUCH_N"
	resync_run after-touch "$dir" resync "$RESYNC_TOUCH_N"
	$MEASURE --out "$RAW" --tag kind=resync --tag variant=cat --tag files="$RESYNC_TOUCH_N" -- \
		sh -c "find '$dir' -type f -print0 | xargs -0 cat >/dev/null"
	say "resync cat floor ($RESYNC_TOUCH_N files): $(tail -n 1 "$RAW" | $PY -c 'import json,sys; r=json.load(sys.stdin); print("%.2f s wall" % r["wall"])')"
	rm -rf "${WORK:?}/s3/s3data/$BUCKET/resync"
}

# ---- du-retry at scale ----------------------------------------------------------------------------

# du-upload sends the N_B small files to the sink (measured); then every row of its session is
# marked failed, as if the server had refused them all, the statistics are brought up to date
# (VACUUM ANALYZE, as autovacuum would), and du-retry sends the same files again (measured). Same
# files, same sink: the ratio is du-retry's own cost of finding and re-claiming failed rows.
retry_measure() { # VARIANT CMD...
	local variant=$1
	shift
	$MEASURE --out "$RAW" --tag kind=retry --tag variant="$variant" --tag files="$N_B" --pg-pid "$PG_PID" \
		--timeout 900 -- env AWS_ENDPOINT_URL_S3="$SINK_URL" AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER \
		"$@" >"$WORK/retry-$variant.log" 2>&1 || { say "retry: $variant failed (log: $WORK/retry-$variant.log)"; FAILS=$((FAILS + 1)); }
}
[ "$SMOKE" = 0 ] && [ "$N_B" -gt 0 ] && wanted retry && {
	say "== retry: $N_B files sent by du-upload, then all marked failed and sent again by du-retry"
	for run in $(seq 1 "$RUNS"); do
		db_reset
		retry_measure upload "$BIN/du-upload" -d "$DATA/small-$N_B" -b "$BUCKET" -p "retry-r$run" -q --progress=none
		sid=$(sql "SELECT max(id) FROM sync_sessions")
		sql "UPDATE file_uploads SET status = 'failed', error_message = 'HTTP 500', retry_count = 0, uploaded_at = NULL
			WHERE session_id = $sid; UPDATE sync_sessions SET status = 'completed_with_errors', files_uploaded = 0,
			files_failed = $N_B WHERE id = $sid" >/dev/null
		sql "VACUUM ANALYZE file_uploads" >/dev/null
		retry_measure retry "$BIN/du-retry" -s "$sid" -q --progress=none
		left=$(sql "SELECT count(*) FROM file_uploads WHERE session_id = $sid AND status <> 'uploaded'")
		[ "$left" = 0 ] || { say "retry run $run: $left rows not uploaded"; FAILS=$((FAILS + 1)); }
		say "retry run $run: $(tail -n 2 "$RAW" | $PY -c 'import json,sys; u,r=[json.loads(l) for l in sys.stdin]; print("du-upload %.2f s, du-retry %.2f s: %.2f x" % (u["wall"], r["wall"], r["wall"] / u["wall"]))')"
	done
}

# ---- the table ---------------------------------------------------------------------------------

LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
SMOKE_FLAG=
[ "$SMOKE" = 1 ] && SMOKE_FLAG=--smoke
$PY bench/lib/report.py --raw "$RAW" --machine "$WORK/machine" --load "$LOAD0 / $LOAD1" \
	--elapsed "$(($(date +%s) - T_START))" --runs "$RUNS" ${SMOKE_FLAG:+"$SMOKE_FLAG"} >"$MD" ||
	die "report failed"
cat "$MD"
say "table: $MD; raw measurements: $RAW"
if [ "$UPDATE_DOCS" = 1 ] && [ "$SMOKE" = 0 ]; then
	$PY bench/lib/report.py --splice docs/PERFORMANCE.md "$MD" && say "docs/PERFORMANCE.md updated"
fi
if [ "$SMOKE" = 1 ]; then
	bad=$($PY -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if not json.loads(l).get("ok")))' "$RAW")
	[ "$KEEP" = 1 ] || rm -f "$RAW" "$MD"
	if [ "$FAILS" -ne 0 ] || [ "$bad" -ne 0 ]; then
		die "$FAILS upload runs and $bad measurements failed"
	fi
	say "smoke: every run uploaded every byte"
fi
exit 0

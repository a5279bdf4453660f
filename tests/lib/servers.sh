# shellcheck shell=sh
# Throwaway servers for du's tests, demo and benchmarks. Source this file, then:
#
#   du_pg_start DIR      PostgreSQL cluster in DIR, Unix socket only; exports DATABASE_URL, PGHOST, PGPORT, PGUSER
#   du_pg_stop DIR       immediate stop, by the postmaster's PID
#   du_pg_restart DIR [PAUSE]
#                        du_pg_stop, PAUSE seconds, then start again on the same data, socket and port
#   du_s3rver_start DIR  s3rver on 127.0.0.1:free port, buckets $DU_TEST_BUCKETS (default "du-test");
#                        exports DU_S3RVER_URL, writes DIR/s3rver.pid
#   du_s3rver_stop DIR
#   du_moto_start DIR    moto with SigV4 checks on; exports DU_MOTO_URL, DU_MOTO_AK, DU_MOTO_SK
#   du_moto_stop DIR
#   du_rgw_start DIR     Ceph RADOS Gateway (below); exports DU_RGW_URL, DU_RGW_AK, DU_RGW_SK
#   du_rgw_stop DIR
#   du_fp_start DIR UPSTREAM [ARGS...]
#                        tests/lib/faultproxy.py in front of UPSTREAM; exports DU_FP_URL
#   du_fp_stop DIR
#   du_recv_start DIR [ARGS...]
#                        tests/lib/receiver.py (a webhook receiver) logging to DIR/requests.jsonl;
#                        exports DU_RECV_URL (http://127.0.0.1:PORT, no path)
#   du_recv_stop DIR
#   du_bad_s3_start DIR MODE [--tls-cert C --tls-key K]
#                        tests/lib/bad_s3.py answering as MODE says, logging to DIR/requests.log;
#                        exports DU_BAD_S3_URL (https:// with a certificate)
#   du_bad_s3_stop DIR
#   du_kill_pidfile F    stop the process whose PID is in F (TERM, then KILL)
#
# Every server listens on 127.0.0.1 (a free port) or a socket in a temporary directory, keeps its
# PID in DIR/NAME.pid and its output in DIR/NAME.log (s3rver.log, moto.log, fp.log, ...), is waited
# for until it listens (its log shown if it dies first; the start function then returns 1) and is
# stopped by PID. (tests/unit/imds_server.py is started by test_creds.c itself.)

DU_TOP=${DU_TOP:-$(cd "$(dirname "${BASH_SOURCE:-$0}")/../.." 2>/dev/null && pwd)}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
DU_PY=${DU_PY:-}
if [ -z "$DU_PY" ]; then
	for p in "$(pyenv root 2>/dev/null)/versions/3.11.7/bin/python3" /root/.pyenv/versions/3.11.7/bin/python3; do
		[ -x "$p" ] && DU_PY=$p && break
	done
	[ -n "$DU_PY" ] || DU_PY=python3
fi

du_free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Run a command as an unprivileged user when we are root (initdb refuses root).
du_as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# du_pg_ctl_start DIR PORT: start the cluster of DIR/data on its socket in DIR and PORT.
du_pg_ctl_start() {
	du_as_pg "$PG_BIN/pg_ctl" -D "$1/data" -l "$1/pg.log" -w -t 60 \
		-o "-k $1 -c listen_addresses='' -p $2 -c fsync=off -c full_page_writes=off -c max_connections=200" \
		start >/dev/null || { cat "$1/pg.log" >&2; return 1; }
}

du_pg_start() {
	_d=$1
	mkdir -p "$_d"
	[ "$(id -u)" -eq 0 ] && chown postgres "$_d" && chmod 755 "$_d"
	if [ ! -f "$_d/data/PG_VERSION" ]; then
		du_as_pg "$PG_BIN/initdb" -D "$_d/data" -A trust -U postgres --no-sync -E UTF8 >"$_d/initdb.log" 2>&1 ||
			{ cat "$_d/initdb.log" >&2; return 1; }
	fi
	_port=$(du_free_port)
	du_pg_ctl_start "$_d" "$_port" || return 1
	export PGHOST="$_d" PGPORT="$_port" PGUSER=postgres
	psql -q -d postgres -c "CREATE DATABASE du_test" >/dev/null || return 1
	export PGDATABASE=du_test
	export DATABASE_URL="postgresql:///du_test?host=$_d&port=$_port&user=postgres"
}

du_pg_stop() {
	_d=$1
	[ -f "$_d/data/postmaster.pid" ] || return 0
	_pid=$(head -n 1 "$_d/data/postmaster.pid")
	kill -QUIT "$_pid" 2>/dev/null || true
	for _i in $(seq 1 50); do kill -0 "$_pid" 2>/dev/null || return 0; sleep 0.1; done
	kill -KILL "$_pid" 2>/dev/null || true
}

du_pg_restart() {
	du_pg_stop "$1"
	sleep "${2:-0}"
	du_pg_ctl_start "$1" "$PGPORT"
}

du_wait_port() {
	_port=$1; _pid=$2
	for _i in $(seq 1 200); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$_port") 2>/dev/null; then return 0; fi
		kill -0 "$_pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# du_wait_file FILE PID LOG [SECONDS]: wait (10 s by default) until a server started as PID has written
# FILE (its port, its keys); if PID dies first, show its LOG. Liveness comes from the PID the shell
# got ($!), never from a pid file the server may be rewriting.
du_wait_file() {
	_f=$1; _pid=$2; _log=$3
	for _i in $(seq 1 $((${4:-10} * 20))); do
		[ -s "$_f" ] && return 0
		kill -0 "$_pid" 2>/dev/null || { cat "$_log" >&2; return 1; }
		sleep 0.05
	done
	[ -s "$_f" ] || { cat "$_log" >&2; return 1; }
}

du_s3rver_start() {
	_d=$1
	mkdir -p "$_d/s3data"
	_port=$(du_free_port)
	_args=""
	for _b in ${DU_TEST_BUCKETS:-du-test}; do _args="$_args --configure-bucket $_b"; done
	# shellcheck disable=SC2086
	node --openssl-legacy-provider "$DU_TOP/tests/node/node_modules/s3rver/bin/s3rver.js" \
		-d "$_d/s3data" -a 127.0.0.1 -p "$_port" --no-vhost-buckets --silent $_args \
		>"$_d/s3rver.log" 2>&1 &
	echo $! >"$_d/s3rver.pid"
	du_wait_port "$_port" "$(cat "$_d/s3rver.pid")" || { cat "$_d/s3rver.log" >&2; return 1; }
	export DU_S3RVER_URL="http://127.0.0.1:$_port"
}

du_s3rver_stop() {
	du_kill_pidfile "$1/s3rver.pid"
}

# moto exists only in this image's pyenv (no Debian package, no PyPI here): tests that use it skip,
# saying so, where it is missing. RGW verifies signatures on every machine.
du_moto_available() {
	"$DU_PY" -c 'import moto, boto3' 2>/dev/null
}

du_moto_start() {
	_d=$1
	mkdir -p "$_d"
	_port=$(du_free_port)
	"$DU_PY" "$DU_TOP/tests/lib/moto_server.py" --port "$_port" --buckets "${DU_TEST_BUCKETS:-du-test}" \
		--keys "$_d/moto.keys" >"$_d/moto.log" 2>&1 &
	echo $! >"$_d/moto.pid"
	du_wait_file "$_d/moto.keys" $! "$_d/moto.log" 30 || return 1
	DU_MOTO_AK=$(sed -n 1p "$_d/moto.keys")
	DU_MOTO_SK=$(sed -n 2p "$_d/moto.keys")
	export DU_MOTO_URL="http://127.0.0.1:$_port" DU_MOTO_AK DU_MOTO_SK
}

du_moto_stop() {
	du_kill_pidfile "$1/moto.pid"
}

# du_portfile_start DIR NAME CMD...: run CMD --port-file DIR/NAME.port in the background (output in
# DIR/NAME.log, PID in DIR/NAME.pid) and wait until it has written its port; sets DU_PORT.
du_portfile_start() {
	_d=$1; _n=$2
	shift 2
	mkdir -p "$_d"
	rm -f "$_d/$_n.port"
	"$@" --port-file "$_d/$_n.port" >"$_d/$_n.log" 2>&1 &
	echo $! >"$_d/$_n.pid"
	du_wait_file "$_d/$_n.port" $! "$_d/$_n.log" || return 1
	DU_PORT=$(cat "$_d/$_n.port")
}

du_fp_start() {
	_up=$2
	_fd=$1
	shift 2
	du_portfile_start "$_fd" fp /usr/bin/python3 "$DU_TOP/tests/lib/faultproxy.py" --upstream "$_up" "$@" || return 1
	export DU_FP_URL="http://127.0.0.1:$DU_PORT"
}

du_fp_stop() {
	du_kill_pidfile "$1/fp.pid"
}

du_recv_start() {
	_rd=$1
	shift
	du_portfile_start "$_rd" receiver /usr/bin/python3 "$DU_TOP/tests/lib/receiver.py" \
		--log "$_rd/requests.jsonl" "$@" || return 1
	export DU_RECV_URL="http://127.0.0.1:$DU_PORT"
}

du_recv_stop() {
	du_kill_pidfile "$1/receiver.pid"
}

du_bad_s3_start() {
	_bd=$1; _mode=$2
	shift 2
	mkdir -p "$_bd"
	: >"$_bd/requests.log"
	du_portfile_start "$_bd" bad_s3 /usr/bin/python3 "$DU_TOP/tests/lib/bad_s3.py" \
		--log "$_bd/requests.log" --mode "$_mode" "$@" || return 1
	case " $* " in
	*" --tls-cert "*) export DU_BAD_S3_URL="https://127.0.0.1:$DU_PORT" ;;
	*) export DU_BAD_S3_URL="http://127.0.0.1:$DU_PORT" ;;
	esac
}

du_bad_s3_stop() {
	du_kill_pidfile "$1/bad_s3.pid"
}

du_kill_pidfile() {
	[ -f "$1" ] || return 0
	_pid=$(cat "$1")
	kill -TERM "$_pid" 2>/dev/null || true
	for _i in $(seq 1 50); do kill -0 "$_pid" 2>/dev/null || { rm -f "$1"; return 0; }; sleep 0.1; done
	kill -KILL "$_pid" 2>/dev/null || true
	rm -f "$1"
}

# du_rgw_start DIR: a throwaway single-node Ceph cluster (one monitor, one OSD keeping objects in
# memory, no manager, no authentication) and its RADOS Gateway on 127.0.0.1:free port, every
# daemon in the foreground under setsid so $! is its PID (DIR/*.pid). A user with fixed keys and
# the buckets $DU_TEST_BUCKETS (default "du-test"). Exports DU_RGW_URL, DU_RGW_AK, DU_RGW_SK.
# Facts and traps: ../shared/SERVERS.md ("Ceph RGW facts"). du_rgw_stop DIR ends it by PID.
du_rgw_start() {
	_d=$1
	mkdir -p "$_d/mon" "$_d/osd" "$_d/run" "$_d/log"
	_monport=$(du_free_port)
	_port=$(du_free_port)
	_fsid=$(cat /proc/sys/kernel/random/uuid)
	cat >"$_d/ceph.conf" <<-CONF
		[global]
		fsid = $_fsid
		mon host = v2:127.0.0.1:$_monport
		public addr = 127.0.0.1
		cluster addr = 127.0.0.1
		ms bind msgr1 = false
		auth cluster required = none
		auth service required = none
		auth client required = none
		auth allow insecure global id reclaim = true
		osd pool default size = 1
		osd pool default min size = 1
		osd pool default pg num = 8
		osd pool default pgp num = 8
		mon allow pool size one = true
		mon allow pool delete = true
		mon warn on pool no redundancy = false
		paxos propose interval = 0.05
		run dir = $_d/run
		admin socket = $_d/run/\$name.asok
		pid file = $_d/run/\$name.pid
		log file = $_d/log/\$name.log
		keyring = $_d/keyring
		[mon]
		mon data = $_d/mon/\$cluster-\$id
		[osd]
		osd data = $_d/osd/\$cluster-\$id
		osd objectstore = memstore
		memstore device bytes = 2147483648
		osd journal size = 0
		[client.rgw.a]
		rgw frontends = beast endpoint=127.0.0.1:$_port
		rgw data = $_d/rgw
		ms mon client mode = crc
		auth client required = none
		rgw enable usage log = false
		rgw dns name = 127.0.0.1
	CONF
	export CEPH_CONF="$_d/ceph.conf"
	: >"$_d/keyring"
	monmaptool --create --fsid "$_fsid" --addv a "[v2:127.0.0.1:$_monport]" "$_d/monmap" >"$_d/log/setup.log" 2>&1 &&
		ceph-mon --mkfs -i a --monmap "$_d/monmap" >>"$_d/log/setup.log" 2>&1 || { cat "$_d/log/setup.log" >&2; return 1; }
	setsid ceph-mon -f -i a >"$_d/log/mon.out" 2>&1 &
	echo $! >"$_d/mon.pid"
	_uuid=$(cat /proc/sys/kernel/random/uuid)
	_i=0
	until ceph --connect-timeout 5 osd new "$_uuid" >>"$_d/log/setup.log" 2>&1; do
		_i=$((_i + 1))
		[ $_i -lt 100 ] && kill -0 "$(cat "$_d/mon.pid")" 2>/dev/null || { cat "$_d/log/setup.log" "$_d/log/mon.out" >&2; return 1; }
		sleep 0.1
	done
	mkdir -p "$_d/osd/ceph-0"
	ceph-osd -i 0 --mkfs --osd-uuid "$_uuid" >>"$_d/log/setup.log" 2>&1 || { cat "$_d/log/setup.log" >&2; return 1; }
	setsid ceph-osd -f -i 0 >"$_d/log/osd.out" 2>&1 &
	echo $! >"$_d/osd.pid"
	_i=0
	until ceph osd dump 2>/dev/null | grep -q '^osd.0 up'; do
		_i=$((_i + 1))
		[ $_i -lt 300 ] && kill -0 "$(cat "$_d/osd.pid")" 2>/dev/null || { cat "$_d/log/osd.out" >&2; return 1; }
		sleep 0.1
	done
	mkdir -p "$_d/rgw"
	setsid radosgw -f -n client.rgw.a >"$_d/log/rgw.out" 2>&1 &
	echo $! >"$_d/rgw.pid"
	du_wait_port "$_port" "$(cat "$_d/rgw.pid")" || { tail -20 "$_d/log/client.rgw.a.log" "$_d/log/rgw.out" >&2; return 1; }
	export DU_RGW_AK=DURGWTESTACCESSKEY DU_RGW_SK=durgwtestsecretkey0123456789abcdefghijk
	radosgw-admin user create --uid=du --display-name=du --access-key="$DU_RGW_AK" --secret="$DU_RGW_SK" \
		>>"$_d/log/setup.log" 2>&1 || { cat "$_d/log/setup.log" >&2; return 1; }
	export DU_RGW_URL="http://127.0.0.1:$_port"
	# shellcheck disable=SC2086
	/usr/bin/python3 "$DU_TOP/tests/lib/s3_admin.py" "$DU_RGW_URL" "$DU_RGW_AK" "$DU_RGW_SK" mkbucket \
		${DU_TEST_BUCKETS:-du-test} || return 1
}

du_rgw_stop() {
	_d=$1
	for _p in rgw osd mon; do du_kill_pidfile "$_d/$_p.pid"; done
	unset CEPH_CONF
}

#!/bin/sh
# Install what du needs to build and test: Debian packages and, in tests/node/, the pinned s3rver.
# Idempotent: installs nothing that is already there. Root runs apt-get; others go through sudo.
#   sh scripts/deps.sh              install what is missing (verbose)
#   sh scripts/deps.sh --if-missing same, silent when nothing is missing
set -eu
quiet=0
[ "${1:-}" = "--if-missing" ] && quiet=1
top=$(cd "$(dirname "$0")/.." && pwd)

PKGS="pkg-config make gcc libpq-dev libcurl4-openssl-dev libcjson-dev libssl-dev libxml2-dev strace
libcmocka-dev libisal-dev libexif-dev bats postgresql python3-botocore curl clang libclang-rt-14-dev valgrind
radosgw ceph-mon ceph-osd ceph-common tmux man-db groff-base dpkg-dev"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done

# Node may come from outside Debian (the image ships its own): only the commands matter.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"

if [ -n "$missing" ]; then
	echo "deps: installing Debian packages:$missing" >&2
	if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq >&2
	# shellcheck disable=SC2086
	$sudo apt-get install -y -qq --no-install-recommends $missing >&2
fi

node_dir="$top/tests/node"
if [ ! -f "$node_dir/node_modules/s3rver/bin/s3rver.js" ]; then
	echo "deps: installing s3rver (npm ci in tests/node)" >&2
	(cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
[ $quiet -eq 1 ] || echo "deps: all present" >&2
exit 0

#!/usr/bin/env bash
# make fresh-check: the README's two commands, each for the first time, on a brand-new Debian 12:
# a clean root made by debootstrap, this repository's HEAD cloned under /root (mode 700, as in a
# container or VM), `make demo` then `make check` as root, then `make deb`, `apt-get install` of the
# package and scripts/installed-check.sh (an upload with /usr/bin's tools). Every process left
# inside the root is ended by PID and everything mounted is unmounted, whatever happens. Needs
# root and debootstrap.
#   bash scripts/fresh-check.sh            (DU_FRESH_KEEP=1 keeps the root for a look afterwards;
#                                           DU_FRESH_SKIP_CHECK=1 leaves out make check, to try the rest)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "fresh-check: needs root (debootstrap, chroot, mount)" >&2; exit 2; }
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
work=$(mktemp -d /var/tmp/du-fresh.XXXXXX)
root=$work/root
mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
commit=$(git -C "$top" rev-parse HEAD)
# The repository itself (a worktree's .git is only a pointer to it).
gitdir=$(cd "$top" && cd "$(git rev-parse --git-common-dir)" && pwd)
mounted=()

say() { printf 'fresh-check: %s (%d s)\n' "$*" "$SECONDS"; }

cleanup() {
	local p r i
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		case $r in "$root" | "$root"/*) kill -KILL "${p#/proc/}" 2>/dev/null || true ;; esac
	done
	sleep 0.5
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" || true; done
	# Only what is no longer mounted may go.
	if [ -z "${DU_FRESH_KEEP:-}" ] && ! grep -qF " $work/" /proc/self/mounts; then rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mnt() { # mnt ARGS... TARGET
	mount "$@"
	mounted+=("${!#}")
}

in_root() { # in_root COMMAND: a login-like environment, nothing of ours leaking in
	chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/host-ca.crt \
		bash -c "$1"
}

say "debootstrap bookworm from $mirror into $root"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
	{ tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
mnt -t proc proc "$root/proc"
mnt -t sysfs sysfs "$root/sys"
mnt --bind /dev "$root/dev"
mnt --bind /dev/pts "$root/dev/pts"
mnt -t tmpfs tmpfs "$root/dev/shm"
mkdir -p "$root/mnt/src.git"
mnt --bind -o ro "$gitdir" "$root/mnt/src.git"
cp /etc/resolv.conf "$root/etc/resolv.conf"
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
	cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/"
	rm -f "$root/etc/apt/sources.list"
fi
# This network's TLS passes a proxy whose CA the host trusts (npm needs it; a fact of the network).
mkdir -p "$root/usr/local/share/ca-certificates"
cp /etc/ssl/certs/ca-certificates.crt "$root/usr/local/share/ca-certificates/host-ca.crt"
# As in any container: packages' services are not started inside the root.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"

say "apt-get install git make"
in_root "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends git make ca-certificates" \
	>"$work/apt.log" 2>&1 || { tail -n 20 "$work/apt.log" >&2; exit 1; }
in_root "chmod 700 /root && git clone -q --no-local /mnt/src.git /root/du && cd /root/du && git checkout -q $commit"

say "make demo (first command, first time)"
in_root "cd /root/du && make demo" >"$work/demo.log" 2>&1 || { tail -n 40 "$work/demo.log" >&2; say "make demo FAILED"; exit 1; }
tail -n 3 "$work/demo.log"
if [ -n "${DU_FRESH_SKIP_CHECK:-}" ]; then
	say "make check SKIPPED (DU_FRESH_SKIP_CHECK is set: this run proves nothing about it)"
else
	say "make check (second command, first time)"
	# On failure: the failing tests themselves (they may have scrolled far out of the tail).
	in_root "cd /root/du && make check" >"$work/check.log" 2>&1 || {
		tail -n 30 "$work/check.log" >&2
		echo "fresh-check: the failures:" >&2
		grep -E -A 20 '^not ok |FAILED|^unit: .*[1-9][0-9]* failed' "$work/check.log" | head -n 200 >&2
		say "make check FAILED"
		exit 1
	}
	grep -E '^unit: |^[0-9]+ passed|^1\.\.[0-9]+|skipped' "$work/check.log" | tail -n 5 || true
fi
say "make deb, apt-get install ./build/du_*.deb"
in_root "cd /root/du && make deb && DEBIAN_FRONTEND=noninteractive apt-get install -y -q ./build/du_*.deb" \
	>"$work/deb.log" 2>&1 || { tail -n 40 "$work/deb.log" >&2; say "make deb or its install FAILED"; exit 1; }
grep '^deb: ' "$work/deb.log" || true
say "the installed package: /usr/bin tools, man page, completion, an upload"
in_root "set -e; [ \"\$(command -v du-upload)\" = /usr/bin/du-upload ]; dpkg -s du | grep -E '^(Version|Depends):';
	man -w du-upload; test -f /usr/share/bash-completion/completions/du-master;
	cd /root/du && bash scripts/installed-check.sh /usr/bin" >"$work/installed.log" 2>&1 ||
	{ tail -n 40 "$work/installed.log" >&2; say "the installed package FAILED"; exit 1; }
grep -E '^(du-upload|Version|Depends|/usr|installed-check)' "$work/installed.log" || true
checked="make check, "
[ -z "${DU_FRESH_SKIP_CHECK:-}" ] || checked="(not make check) "
say "passed: make demo, ${checked}make deb and the installed package on a fresh Debian 12, as root, from /root/du"

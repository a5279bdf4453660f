#!/usr/bin/env bash
# make deb: turn the staging root that 'make install PREFIX=/usr DESTDIR=STAGE/debian/du' filled into
# OUTDIR/du_VERSION_ARCH.deb with dpkg-deb. Binaries are stripped and man pages gzipped as Debian
# does. Depends is derived from the binaries themselves: dpkg-shlibdeps (package dpkg-dev) when it
# is installed, else the packages owning the libraries the binaries need (readelf NEEDED, found
# by ldd, owner by dpkg -S), each at least at its installed version; DU_DEB_NO_SHLIBDEPS=1 forces that fallback. The script says which it used.
#   bash scripts/deb.sh VERSION STAGE OUTDIR
set -euo pipefail
version=$1 stage=$(cd "$2" && pwd) outdir=$3
root=$stage/debian/du
for c in dpkg-deb dpkg; do
	command -v $c >/dev/null || { echo "deb: error: '$c' is not installed (Debian package dpkg)" >&2; exit 2; }
done
[ -x "$root/usr/bin/du-upload" ] || { echo "deb: error: '$root/usr/bin/du-upload' is missing: run make deb" >&2; exit 2; }
arch=$(dpkg --print-architecture)
bins=("$root"/usr/bin/du-*)
install -d "$root/DEBIAN"  # also how dpkg-shlibdeps finds the package's root

command -v strip >/dev/null && strip --strip-unneeded "${bins[@]}"
gzip -9nf "$root"/usr/share/man/man1/*.1
install -d "$root/usr/share/doc/du"
top=$(cd "$(dirname "$0")/.." && pwd)
install -m 644 "$top/README.md" "$root/usr/share/doc/du/README.md"

depends_shlibdeps() {
	# dpkg-shlibdeps runs from a source package's top (debian/control naming the package), with
	# the binaries in debian/PACKAGE/, which is where the staging root is.
	printf 'Source: du\n\nPackage: du\nArchitecture: any\n' >"$stage/debian/control"
	(cd "$stage" && dpkg-shlibdeps -O -e"debian/du/usr/bin/du-upload" -e"debian/du/usr/bin/du-retry" \
		-e"debian/du/usr/bin/du-trigger" -e"debian/du/usr/bin/du-master" 2>"$stage/shlibdeps.log") |
		sed -n 's/^shlibs:Depends=//p'
}

depends_dpkg_s() {
	# The libraries the binaries name themselves (NEEDED), not ldd's whole closure: a library's
	# own dependencies are its package's business.
	local lib name pkg ver seen=" " out="" map
	map=$(ldd "${bins[@]}")
	for name in $(readelf -d "${bins[@]}" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u); do
		lib=$(printf '%s\n' "$map" | awk -v n="$name" '$1 == n && $2 == "=>" { print $3; exit }')
		[ -n "$lib" ] || { echo "deb: error: ldd does not find '$name'" >&2; return 1; }
		# usrmerge: dpkg may know the library under /lib or under /usr/lib.
		pkg=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null ||
			dpkg -S "${lib#/usr}" 2>/dev/null || dpkg -S "/usr$lib" 2>/dev/null) ||
			{ echo "deb: error: no package owns '$lib'" >&2; return 1; }
		pkg=${pkg%%:*}
		pkg=${pkg%%,*}
		case $seen in *" $pkg "*) continue ;; esac
		seen="$seen$pkg "
		ver=$(dpkg-query -W -f='${Version}' "$pkg")
		out="${out:+$out, }$pkg (>= ${ver%-*})"
	done
	printf '%s\n' "$out"
}

if [ -z "${DU_DEB_NO_SHLIBDEPS:-}" ] && command -v dpkg-shlibdeps >/dev/null; then
	how="dpkg-shlibdeps"
	depends=$(depends_shlibdeps) || { cat "$stage/shlibdeps.log" >&2; exit 1; }
else
	how="dpkg -S over ldd"
	depends=$(depends_dpkg_s)
fi
[ -n "$depends" ] || { echo "deb: error: no runtime dependency found ($how)" >&2; exit 1; }

maintainer=${DEB_MAINTAINER:-$(git -C "$top" log -1 --format='%an <%ae>' 2>/dev/null || true)}
maintainer=${maintainer:-du maintainers <du@localhost>}
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: du
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $depends
Recommends: postgresql
Suggests: bash-completion
Section: utils
Priority: optional
Description: upload field-sensor recordings to S3, with every file's fate in PostgreSQL
 du-upload scans a directory tree, decides in PostgreSQL what is not yet in S3
 (or an S3-compatible store) and uploads it in parallel with checksums S3
 verifies; du-retry re-sends a session's failed files, du-trigger tells a
 webhook that a session is done, du-master does all three in one run.
 .
 Without a configured database du runs a private PostgreSQL cluster, which
 needs the postgresql package (recommended).
CONTROL
mkdir -p "$outdir"
deb=$outdir/du_${version}_${arch}.deb
rm -f "$deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "deb: $deb (Depends by $how: $depends)"

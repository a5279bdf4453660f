#!/usr/bin/env bats
# What du ships with: man pages and bash completion generated from the option table (and not
# drifting from it), make install, and the Debian package of make deb, whose own binaries upload.

load helpers

TOOLS="du-upload du-retry du-trigger du-master"

setup_file() { du_e2e_start s3rver; }

teardown_file() { du_e2e_stop; }

setup() {
	cd "$BATS_TEST_TMPDIR"
	GEN=$DU_BIN/../scripts
	# make install and make deb rebuild (and point bin/ at) the flavour under test, not another.
	FLAVOUR=
	[ "$(readlink "$DU_TOP/bin")" != build/san/bin ] || FLAVOUR=SANITIZE=address,undefined
}

# The page as a reader sees it: man-db and groff, 80 columns, plain ASCII.
render() {
	LC_ALL=C MANWIDTH=80 man -l "$1" 2>"$BATS_TEST_TMPDIR/man.err"
}

# The long flags (with their short forms) that TOOL --help lists.
help_flags() {
	"$1" --help | sed -n 's/^  \(-[A-Za-z], \|    \)\(--[a-z0-9-]*\).*/\1\2/p' | sed 's/^ *//'
}

# Complete the words given (the last one is being typed) as bash would, printing COMPREPLY.
complete_words() {
	bash --norc --noprofile -c '
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_du "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$DU_TOP/completion/du.bash" "$@"
}

@test "each man page renders with man -l, without a warning, with every section" {
	for t in $TOOLS; do
		out=$(render "$DU_TOP/man/$t.1")
		[ ! -s "$BATS_TEST_TMPDIR/man.err" ] || { cat "$BATS_TEST_TMPDIR/man.err"; false; }
		for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" ENVIRONMENT FILES EXAMPLES "SEE ALSO"; do
			grep -qx "$s" <<<"$out" || { echo "$t(1) has no $s section"; false; }
		done
		grep -q "^       $t - " <<<"$out"
		grep -q "^du $("$t" --version | awk '{ print $NF }')" <<<"$out"
		# Lines fit the 80 columns asked for.
		[ "$(awk '{ if (length > m) m = length } END { print m }' <<<"$out")" -le 80 ]
	done
	out=$(render "$DU_TOP/man/du-master.1")
	grep -qx COMMANDS <<<"$out"
	grep -q '^       status \[SESSION\]' <<<"$out"
	grep -q '^       verify SESSION' <<<"$out"
}

@test "a man page lists exactly the flags its tool's --help lists, with variables, defaults, values" {
	for t in $TOOLS; do
		out=$(render "$DU_TOP/man/$t.1")
		help_flags "$t" >"$t.help"
		[ "$(wc -l <"$t.help")" -gt 10 ]
		while read -r f; do
			grep -qE "^       $f(\[?=| |\$)" <<<"$out" || { echo "$t(1) lacks '$f'"; false; }
		done <"$t.help"
		# and nothing more: the OPTIONS entries are the --help flags.
		sed -n '/^OPTIONS/,/^EXIT STATUS/p' <<<"$out" |
			sed -n 's/^       \(-[A-Za-z], \)\{0,1\}\(--[a-z0-9-]*\).*/\1\2/p' >"$t.man"
		diff "$t.help" "$t.man"
		# Every variable --help names is in the page (options and secrets alike).
		for v in $("$t" --help | grep -o '\b\(DU\|DB\|AWS\)_[A-Z0-9_]*\|\bDATABASE_URL\b' | sort -u); do
			grep -q "$v" <<<"$out" || { echo "$t(1) lacks $v"; false; }
		done
	done
	out=$(render "$DU_TOP/man/du-upload.1")
	entry=$(sed -n '/^       --checksum-algorithm=ALG/,/^$/p' <<<"$out" | tr -s ' \n' '  ')
	[[ $entry == *"Key checksum_algorithm; environment DU_CHECKSUM_ALGORITHM; default auto; values auto, none, md5, crc32, crc32c, crc64nvme, sha256."* ]]
	entry=$(sed -n '/^       -w, --max-workers=N/,/^$/p' <<<"$out" | tr -s ' \n' '  ')
	[[ $entry == *"default 15; range 1..1000"* ]]
	# Secrets are variables, never flags.
	grep -q '^       DB_PASSWORD$' <<<"$out"
	! grep -q -- '--db-password' <<<"$out"
	# du-retry's -d is --delay, du-upload's is --local-directory.
	grep -q '^       -d, --delay=SECONDS' <<<"$(render "$DU_TOP/man/du-retry.1")"
	grep -q '^       -d, --local-directory=DIR' <<<"$out"
}

@test "the exit codes of a man page are the documented ones (README, err.h)" {
	readme=$(sed -n '/^## Exit codes/,/^## /p' "$DU_TOP/README.md" | sed -n 's/^| \([0-9][0-9]*\) |.*/\1/p' | sort -n)
	enum=$(sed -n 's/^\tDU_EXIT_[A-Z0-9_]* = \([0-9]*\),$/\1/p' "$DU_TOP/include/du/err.h" | sort -n)
	[ "$readme" = "$enum" ]
	all=""
	for t in $TOOLS; do
		codes=$(render "$DU_TOP/man/$t.1" | sed -n '/^EXIT STATUS/,/^ENVIRONMENT/p' | sed -n 's/^       \([0-9][0-9]*\) .*/\1/p' | sort -nu)
		for c in $codes; do grep -qx "$c" <<<"$enum" || { echo "$t(1): undocumented exit code $c"; false; }; done
		all="$all $codes"
	done
	[ "$(tr ' ' '\n' <<<"$all" | sed '/^$/d' | sort -nu)" = "$enum" ]
	render "$DU_TOP/man/du-trigger.1" | grep -q '^       6      the webhook could not be delivered'
	! render "$DU_TOP/man/du-upload.1" | grep -q '^       6 '
}

@test "man pages and completion are what the option table generates (regenerate with make docs)" {
	for t in $TOOLS; do
		"$GEN/man-page" "$t" >"$t.1"
		diff -u "$DU_TOP/man/$t.1" "$t.1" || { echo "man/$t.1 is out of date: regenerate it with make docs"; false; }
	done
	"$GEN/bash-completion" >du.bash
	diff -u "$DU_TOP/completion/du.bash" du.bash || { echo "completion/du.bash is out of date: make docs"; false; }
	run "$GEN/man-page" du-nothing
	[ "$status" -eq 2 ]
	[[ "$output" == *usage* ]]
}

@test "bash completion: flags, enum values, booleans, paths and du-master's commands" {
	bash --norc --noprofile -c '. "$1" && complete -p du-upload du-retry du-trigger du-master' _ "$DU_TOP/completion/du.bash" >spec
	[ "$(grep -c '^complete -F _du du-' spec)" -eq 4 ]
	[ "$(complete_words du-retry --che)" = "--checksum-algorithm" ]
	[ "$(complete_words du-upload --che | sort | tr '\n' ' ')" = "--checksum --checksum-algorithm " ]
	[ "$(complete_words du-trigger --end | sort | tr '\n' ' ')" = "--endpoint-api-key-header --endpoint-ca-bundle --endpoint-url " ]
	# the CA bundles are rows of the option table, so flags of their own
	[ "$(complete_words du-upload --ca-b)" = "--ca-bundle" ]
	# Secrets are no flags to complete; options of other tools neither.
	[ -z "$(complete_words du-upload --db-pa)" ]
	[ -z "$(complete_words du-upload --list-f)" ]
	[ "$(complete_words du-upload --checksum-algorithm crc | tr '\n' ' ')" = "crc32 crc32c crc64nvme " ]
	# bash splits --opt=VALUE into '--opt' '=' 'VALUE'; without '=' in COMP_WORDBREAKS it is one word.
	[ "$(complete_words du-master --progress = p | tr '\n' ' ')" = "plain " ]
	[ "$(complete_words du-master --progress = '' | tr '\n' ' ')" = "auto tty plain json none " ]
	[ "$(complete_words du-upload --progress=j)" = "--progress=json" ]
	[ "$(complete_words du-retry --log-level w)" = "warn" ]
	[ "$(complete_words du-upload --addressing = v)" = "virtual" ]
	[ "$(complete_words du-upload --dry-run = '' | tr '\n' ' ')" = "true false " ]
	# A boolean's value is only ever given with '=': after '--dry-run ' come flags again.
	[ "$(complete_words du-upload --dry-run --dump-c)" = "--dump-config" ]
	mkdir -p cards/card01 cards/card02
	touch cards/config.json
	[ "$(complete_words du-upload -d cards/ | sort | tr '\n' ' ')" = "cards/card01 cards/card02 " ]
	[ "$(complete_words du-upload -c cards/c | sort | tr '\n' ' ')" = "cards/card01 cards/card02 cards/config.json " ]
	[ "$(complete_words du-master --log-file cards/co)" = "cards/config.json" ]
	# A name with a space stays one candidate.
	mkdir -p "sp ace/a b"
	[ "$(complete_words du-master --local-directory 'sp ace/')" = "sp ace/a b" ]
	# du-retry's -d is a delay: no file names offered.
	[ -z "$(complete_words du-retry -d cards/)" ]
	[ "$(complete_words du-master '' | tr '\n' ' ')" = "status verify " ]
	[ "$(complete_words du-master -c cards/config.json --progress plain --skip-retry v)" = "verify" ]
	# A word that is an option's value is not the command.
	[ "$(complete_words du-master --s3-prefix status '' | tr '\n' ' ')" = "status verify " ]
	[ -z "$(complete_words du-upload '')" ]
}

@test "bash completion: session ids from du-master status --json where a database is configured, nothing and no cluster otherwise" {
	du_env_s3rver
	mk_tree data 4
	du-upload -d data -b du-test -p complete-a --progress=none
	du-upload -d data -b du-test -p complete-b --progress=none
	ids=$(du-master status --json | grep -o '"session_id":[0-9]*' | cut -d: -f2 | sort -n | tr '\n' ' ')
	[ -n "$ids" ]
	[ "$(complete_words du-master status '' | sort -n | tr '\n' ' ')" = "$ids" ]
	[ "$(complete_words du-retry -s '' | sort -n | tr '\n' ' ')" = "$ids" ]
	[ "$(complete_words du-trigger --session-id = '' | sort -n | tr '\n' ' ')" = "$ids" ]
	[ "$(complete_words "$DU_BIN/du-master" verify '' | sort -n | tr '\n' ' ')" = "$ids" ]
	# No database configured and no private cluster running: nothing, quickly, and no cluster made.
	export HOME=$BATS_TEST_TMPDIR/home XDG_STATE_HOME=$BATS_TEST_TMPDIR/state
	mkdir -p "$HOME"
	unset DATABASE_URL PGHOST PGPORT PGUSER PGDATABASE PGSERVICE DB_HOST DB_PORT DB_NAME DB_USER DU_PG_DIR
	start=$(date +%s%N)
	[ -z "$(complete_words du-master status '')" ]
	[ $(($(date +%s%N) - start)) -lt 2000000000 ]
	[ ! -e "$XDG_STATE_HOME/du" ]
}

@test "make install puts the tools, man pages and completion under PREFIX, man pages under MANDIR" {
	make -s -C "$DU_TOP" install PREFIX=/opt/du DESTDIR="$PWD/root" $FLAVOUR >/dev/null
	for t in $TOOLS; do
		[ -x "root/opt/du/bin/$t" ]
		cmp "root/opt/du/share/man/man1/$t.1" "$DU_TOP/man/$t.1"
		cmp "root/opt/du/share/bash-completion/completions/$t" "$DU_TOP/completion/du.bash"
	done
	[ -f root/opt/du/share/du/config.example.json ]
	make -s -C "$DU_TOP" install PREFIX=/opt/du MANDIR=/opt/man DESTDIR="$PWD/root2" $FLAVOUR >/dev/null
	[ -f root2/opt/man/man1/du-master.1 ]
	[ ! -e root2/opt/du/share/man ]
	# The installed page is found by man through MANPATH.
	LC_ALL=C MANWIDTH=80 MANPATH="$PWD/root/opt/du/share/man" man du-retry | grep -q -- '--max-rounds=N'
}

@test "make deb: du_VERSION_ARCH.deb with the tools, man pages, completion and derived Depends" {
	command -v dpkg-deb >/dev/null || skip "dpkg-deb is not installed (Debian package dpkg)"
	version=$(du-upload --version | awk '{ print $NF }')
	deb=$DU_TOP/build/du_${version}_$(dpkg --print-architecture).deb
	rm -f "$deb"
	run make -s -C "$DU_TOP" deb $FLAVOUR
	[ "$status" -eq 0 ]
	[[ "$output" == *"deb: $DU_TOP/build/du_${version}_"* || "$output" == *"deb: build/du_${version}_"* ]]
	[ -f "$deb" ]
	[ "$(dpkg-deb -f "$deb" Package)" = du ]
	[ "$(dpkg-deb -f "$deb" Version)" = "$version" ]
	depends=$(dpkg-deb -f "$deb" Depends)
	[ -n "$depends" ]
	# Derived from the binaries: each library they are linked with is there.
	for p in libc6 libpq5 libcurl4 libcjson1 libxml2 libssl3 libexif12; do
		[[ ", $depends" == *", $p "* ]] || { echo "Depends lacks $p: $depends"; false; }
	done
	dpkg-deb -c "$deb" | awk '{ print $6 }' >contents
	for t in $TOOLS; do
		grep -qx "./usr/bin/$t" contents
		grep -qx "./usr/share/man/man1/$t.1.gz" contents
		grep -qx "./usr/share/bash-completion/completions/$t" contents
	done
	# Owned by root whoever built it.
	! dpkg-deb -c "$deb" | awk '{ print $2 }' | grep -vqx root/root
	dpkg-deb -x "$deb" x
	[ "$(x/usr/bin/du-master --version)" = "du-master (du) $version" ]
	LC_ALL=C MANWIDTH=80 man -l x/usr/share/man/man1/du-upload.1.gz | grep -q -- '--checksum-algorithm=ALG'
	[ "$(bash --norc -c '. x/usr/share/bash-completion/completions/du-trigger && COMP_WORDS=(du-trigger --list-f) COMP_CWORD=1 && _du du-trigger && echo "${COMPREPLY[*]}"')" = "--list-files" ]
}

@test "make deb without dpkg-shlibdeps: Depends from the libraries' owners (dpkg -S)" {
	command -v dpkg-deb >/dev/null || skip "dpkg-deb is not installed (Debian package dpkg)"
	run env DU_DEB_NO_SHLIBDEPS=1 make -s -C "$DU_TOP" deb $FLAVOUR
	[ "$status" -eq 0 ]
	[[ "$output" == *"Depends by dpkg -S"* ]]
	deb=$(ls "$DU_TOP"/build/du_*_"$(dpkg --print-architecture)".deb)
	depends=$(dpkg-deb -f "$deb" Depends)
	for p in libc6 libpq5 libcurl4 libcjson1 libxml2 libssl3 libisal2 libexif12; do
		[[ ", $depends" == *", $p (>= "* ]] || { echo "Depends lacks $p: $depends"; false; }
	done
	# Only what the binaries name themselves, not the libraries' own dependencies.
	[[ "$depends" != *libkrb5* && "$depends" != *libnghttp2* ]]
}

@test "the package's own binaries upload, record and verify (scripts/installed-check.sh)" {
	command -v dpkg-deb >/dev/null || skip "dpkg-deb is not installed (Debian package dpkg)"
	deb=$(ls "$DU_TOP"/build/du_*_"$(dpkg --print-architecture)".deb 2>/dev/null) ||
		make -s -C "$DU_TOP" deb $FLAVOUR >/dev/null
	deb=$(ls "$DU_TOP"/build/du_*_"$(dpkg --print-architecture)".deb)
	dpkg-deb -x "$deb" x
	run bash "$DU_TOP/scripts/installed-check.sh" "$PWD/x/usr/bin"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"installed-check: $PWD/x/usr/bin/du-upload uploaded 5 files in session "*"(completed, verified)"* ]]
	# and it fails when the tools do not work.
	mkdir broken
	printf '#!/bin/sh\nexit 3\n' >broken/du-upload
	cp x/usr/bin/du-master broken/
	chmod 755 broken/du-upload
	run bash "$DU_TOP/scripts/installed-check.sh" "$PWD/broken"
	[ "$status" -ne 0 ]
}

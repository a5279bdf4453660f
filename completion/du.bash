# bash completion for du-upload, du-retry, du-trigger and du-master -*- shell-script -*-
# Generated from the option table in src/config/options.c by scripts/bash-completion.c (make docs);
# do not edit by hand. Installed as .../bash-completion/completions/<tool>.

# _du_opts TOOL: the flags TOOL accepts
_du_opts()
{
	case $1 in
	du-upload) echo '--local-directory --bucket-name --s3-prefix --max-workers --aws-region --times-to-retry --aws-profile --use-find --db-host --db-port --db-name --db-user --s3-endpoint --addressing --multipart-threshold --multipart-chunk-size --storage-class --sse --sse-kms-key-id --tag --metadata --sensor-metadata --ca-bundle --payload-signing --checksum-algorithm --retry-base-ms --retry-cap-ms --connect-timeout --request-timeout --extensions --exclude --follow-symlinks --dry-run --resume --join --new-session --stale-uploads --checksum --size-only --trust-db --progress --bwlimit --max-duration --budget --suspect --cutoff-mode --config --env-file --log-file --log-level --quiet --verbose --metrics-file --dump-config --help --version -d -b -p -w -c -q -v -h -V' ;;
	du-retry) echo '--max-workers --times-to-retry --aws-profile --db-host --db-port --db-name --db-user --ca-bundle --payload-signing --checksum-algorithm --retry-base-ms --retry-cap-ms --connect-timeout --request-timeout --progress --bwlimit --max-duration --budget --suspect --cutoff-mode --session-id --max-attempts --delay --auto-retry --max-rounds --list --config --env-file --log-file --log-level --quiet --verbose --metrics-file --dump-config --help --version -s -m -d -a -r -c -q -v -h -V' ;;
	du-trigger) echo '--endpoint-url --db-host --db-port --db-name --db-user --retry-base-ms --retry-cap-ms --connect-timeout --dry-run --session-id --timeout --endpoint-api-key-header --endpoint-ca-bundle --list-files --config --env-file --log-file --log-level --quiet --verbose --dump-config --help --version -e -s -t -c -q -v -h -V' ;;
	du-master) echo '--local-directory --bucket-name --s3-prefix --max-workers --aws-region --times-to-retry --aws-profile --use-find --endpoint-url --db-host --db-port --db-name --db-user --s3-endpoint --addressing --multipart-threshold --multipart-chunk-size --storage-class --sse --sse-kms-key-id --tag --metadata --sensor-metadata --ca-bundle --payload-signing --checksum-algorithm --retry-base-ms --retry-cap-ms --connect-timeout --request-timeout --extensions --exclude --follow-symlinks --dry-run --resume --join --new-session --checksum --size-only --trust-db --progress --bwlimit --max-duration --budget --suspect --cutoff-mode --max-attempts --delay --max-rounds --timeout --endpoint-api-key-header --endpoint-ca-bundle --skip-retry --skip-endpoint --json --deep --manifest --config --env-file --log-file --log-level --quiet --verbose --metrics-file --dump-config --help --version -d -b -p -w -e -c -q -v -h -V' ;;
	esac
}

# _du_arg TOOL OPTION: how OPTION's value completes: 'words W...', file, dir, session,
# bool (true/false, only as --opt=VALUE) or text (nothing offered); nothing: it takes none
_du_arg()
{
	case $1:$2 in
	du-upload:--local-directory|du-upload:-d|du-master:--local-directory|du-master:-d) echo 'dir' ;;
	du-upload:--bucket-name|du-upload:-b|du-master:--bucket-name|du-master:-b) echo 'text' ;;
	du-upload:--s3-prefix|du-upload:-p|du-master:--s3-prefix|du-master:-p) echo 'text' ;;
	du-upload:--max-workers|du-upload:-w|du-retry:--max-workers|du-master:--max-workers|du-master:-w) echo 'text' ;;
	du-upload:--aws-region|du-master:--aws-region) echo 'text' ;;
	du-upload:--times-to-retry|du-retry:--times-to-retry|du-master:--times-to-retry) echo 'text' ;;
	du-upload:--aws-profile|du-retry:--aws-profile|du-master:--aws-profile) echo 'text' ;;
	du-upload:--use-find|du-master:--use-find) echo 'bool' ;;
	du-trigger:--endpoint-url|du-trigger:-e|du-master:--endpoint-url|du-master:-e) echo 'text' ;;
	du-upload:--db-host|du-retry:--db-host|du-trigger:--db-host|du-master:--db-host) echo 'text' ;;
	du-upload:--db-port|du-retry:--db-port|du-trigger:--db-port|du-master:--db-port) echo 'text' ;;
	du-upload:--db-name|du-retry:--db-name|du-trigger:--db-name|du-master:--db-name) echo 'text' ;;
	du-upload:--db-user|du-retry:--db-user|du-trigger:--db-user|du-master:--db-user) echo 'text' ;;
	du-upload:--s3-endpoint|du-master:--s3-endpoint) echo 'text' ;;
	du-upload:--addressing|du-master:--addressing) echo 'words auto path virtual' ;;
	du-upload:--multipart-threshold|du-master:--multipart-threshold) echo 'text' ;;
	du-upload:--multipart-chunk-size|du-master:--multipart-chunk-size) echo 'text' ;;
	du-upload:--storage-class|du-master:--storage-class) echo 'text' ;;
	du-upload:--sse|du-master:--sse) echo 'text' ;;
	du-upload:--sse-kms-key-id|du-master:--sse-kms-key-id) echo 'text' ;;
	du-upload:--tag|du-master:--tag) echo 'text' ;;
	du-upload:--metadata|du-master:--metadata) echo 'text' ;;
	du-upload:--sensor-metadata|du-master:--sensor-metadata) echo 'bool' ;;
	du-upload:--ca-bundle|du-retry:--ca-bundle|du-master:--ca-bundle) echo 'file' ;;
	du-upload:--payload-signing|du-retry:--payload-signing|du-master:--payload-signing) echo 'bool' ;;
	du-upload:--checksum-algorithm|du-retry:--checksum-algorithm|du-master:--checksum-algorithm) echo 'words auto none md5 crc32 crc32c crc64nvme sha256' ;;
	du-upload:--retry-base-ms|du-retry:--retry-base-ms|du-trigger:--retry-base-ms|du-master:--retry-base-ms) echo 'text' ;;
	du-upload:--retry-cap-ms|du-retry:--retry-cap-ms|du-trigger:--retry-cap-ms|du-master:--retry-cap-ms) echo 'text' ;;
	du-upload:--connect-timeout|du-retry:--connect-timeout|du-trigger:--connect-timeout|du-master:--connect-timeout) echo 'text' ;;
	du-upload:--request-timeout|du-retry:--request-timeout|du-master:--request-timeout) echo 'text' ;;
	du-upload:--extensions|du-master:--extensions) echo 'text' ;;
	du-upload:--exclude|du-master:--exclude) echo 'text' ;;
	du-upload:--follow-symlinks|du-master:--follow-symlinks) echo 'bool' ;;
	du-upload:--dry-run|du-trigger:--dry-run|du-master:--dry-run) echo 'bool' ;;
	du-upload:--resume|du-master:--resume) echo 'session' ;;
	du-upload:--join|du-master:--join) echo 'session' ;;
	du-upload:--new-session|du-master:--new-session) echo 'bool' ;;
	du-upload:--stale-uploads) echo 'words none list abort' ;;
	du-upload:--checksum|du-master:--checksum) echo 'bool' ;;
	du-upload:--size-only|du-master:--size-only) echo 'bool' ;;
	du-upload:--trust-db|du-master:--trust-db) echo 'bool' ;;
	du-upload:--progress|du-retry:--progress|du-master:--progress) echo 'words auto tty plain json none' ;;
	du-upload:--bwlimit|du-retry:--bwlimit|du-master:--bwlimit) echo 'text' ;;
	du-upload:--max-duration|du-retry:--max-duration|du-master:--max-duration) echo 'text' ;;
	du-upload:--budget|du-retry:--budget|du-master:--budget) echo 'text' ;;
	du-upload:--suspect|du-retry:--suspect|du-master:--suspect) echo 'words upload skip fail' ;;
	du-upload:--cutoff-mode|du-retry:--cutoff-mode|du-master:--cutoff-mode) echo 'words hard soft' ;;
	du-retry:--session-id|du-retry:-s|du-trigger:--session-id|du-trigger:-s) echo 'session' ;;
	du-retry:--max-attempts|du-retry:-m|du-master:--max-attempts) echo 'text' ;;
	du-retry:--delay|du-retry:-d|du-master:--delay) echo 'text' ;;
	du-retry:--auto-retry|du-retry:-a) echo 'bool' ;;
	du-retry:--max-rounds|du-retry:-r|du-master:--max-rounds) echo 'text' ;;
	du-trigger:--timeout|du-trigger:-t|du-master:--timeout) echo 'text' ;;
	du-trigger:--endpoint-api-key-header|du-master:--endpoint-api-key-header) echo 'text' ;;
	du-trigger:--endpoint-ca-bundle|du-master:--endpoint-ca-bundle) echo 'file' ;;
	du-master:--skip-retry) echo 'bool' ;;
	du-master:--skip-endpoint) echo 'bool' ;;
	du-master:--manifest) echo 'file' ;;
	du-upload:--config|du-upload:-c|du-retry:--config|du-retry:-c|du-trigger:--config|du-trigger:-c|du-master:--config|du-master:-c) echo 'file' ;;
	du-upload:--env-file|du-retry:--env-file|du-trigger:--env-file|du-master:--env-file) echo 'file' ;;
	du-upload:--log-file|du-retry:--log-file|du-trigger:--log-file|du-master:--log-file) echo 'file' ;;
	du-upload:--log-level|du-retry:--log-level|du-trigger:--log-level|du-master:--log-level) echo 'words error warn info debug trace' ;;
	du-upload:--metrics-file|du-retry:--metrics-file|du-master:--metrics-file) echo 'file' ;;
	esac
}

# _du_sessions CMD: session ids from 'du-master status --json', only where that is cheap: a
# database is configured in the environment, or du's private cluster is already running (a TAB
# never creates or starts one). Bounded by a timeout; errors are silenced.
_du_sessions()
{
	local dir master=du-master
	[[ $1 == */* ]] && master=${1%/*}/du-master
	if [[ -z ${DATABASE_URL-}${DB_HOST-}${DB_PORT-}${DB_NAME-}${DB_USER-}${PGHOST-}${PGDATABASE-}${PGSERVICE-} ]]; then
		if [[ -n ${DU_PG_DIR-} ]]; then dir=$DU_PG_DIR
		elif [[ ${XDG_STATE_HOME-} == /* ]]; then dir=$XDG_STATE_HOME/du/pg
		elif [[ $EUID -eq 0 ]]; then dir=/var/lib/du/pg
		else dir=$HOME/.local/state/du/pg
		fi
		[[ -S $dir/run/.s.PGSQL.5432 ]] || return 0
	fi
	timeout 3 "$master" status --json -q 2>/dev/null | grep -o '"session_id":[0-9]*' | cut -d: -f2
}

_du()
{
	local tool=${1##*/} cur=${COMP_WORDS[COMP_CWORD]} prev='' opt='' pre='' eq='' kind w i cmd=''
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()
	# A value: '--opt VALUE', or '--opt=VALUE' (split into '--opt' '=' 'VALUE' by bash's default
	# COMP_WORDBREAKS, one word without '=' in it).
	if [[ $cur == --*=* ]]; then
		opt=${cur%%=*} pre=$opt= cur=${cur#*=} eq=1
	elif [[ $cur == = && $prev == --* ]]; then
		opt=$prev cur='' eq=1
	elif [[ $prev == = ]] && ((COMP_CWORD > 1)) && [[ ${COMP_WORDS[COMP_CWORD - 2]} == --* ]]; then
		opt=${COMP_WORDS[COMP_CWORD - 2]} eq=1
	elif [[ $prev == -* ]]; then
		opt=$prev
	fi
	if [[ -n $opt ]]; then
		kind=$(_du_arg "$tool" "$opt")
		case $kind in
		bool) [[ -n $eq ]] && { mapfile -t COMPREPLY < <(compgen -P "$pre" -W 'true false' -- "$cur"); return 0; } ;;
		words\ *) mapfile -t COMPREPLY < <(compgen -P "$pre" -W "${kind#words }" -- "$cur"); return 0 ;;
		file) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return 0 ;;
		dir) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- "$cur"); return 0 ;;
		session) mapfile -t COMPREPLY < <(compgen -P "$pre" -W "$(_du_sessions "$1")" -- "$cur"); return 0 ;;
		text) return 0 ;;
		esac
	fi
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_du_opts "$tool")" -- "$cur")
		return 0
	fi
	[[ $tool == du-master ]] || return 0
	# du-master's first word that is neither an option nor an option's value is its command.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [[ $w == = ]]; then
			((i++))
		elif [[ $w == -* ]]; then
			kind=$(_du_arg "$tool" "$w")
			[[ -n $kind && $kind != bool && $w != *=* && ${COMP_WORDS[i + 1]-} != = ]] && ((i++))
		else
			cmd=$w
			break
		fi
	done
	if [[ -z $cmd ]]; then
		mapfile -t COMPREPLY < <(compgen -W 'status verify' -- "$cur")
	else
		mapfile -t COMPREPLY < <(compgen -W "$(_du_sessions "$1")" -- "$cur")
	fi
	return 0
}

complete -F _du du-upload du-retry du-trigger du-master

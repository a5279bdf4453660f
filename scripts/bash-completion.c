/*
 * make docs: print the bash completion of the four tools (completion/du.bash) from the option
 * table (du_config_option_doc): each tool's flags, the words of an enum option, files or
 * directories for path options, true/false after a boolean's '=', du-master's commands, and
 * session ids where they are cheap to get. tests/e2e/97-packaging.bats fails when the
 * committed script differs.
 *   bash-completion >completion/du.bash
 */
#include <stdio.h>
#include <string.h>

#include "du/config.h"

static const int tools[] = { DU_TOOL_UPLOAD, DU_TOOL_RETRY, DU_TOOL_TRIGGER, DU_TOOL_MASTER };
#define NTOOLS (sizeof(tools) / sizeof(tools[0]))

/* src/cmd/cmd_master.c's commands (du_config_synopsis says "[COMMAND]"). */
static const char *const master_commands = "status verify";

static void opts_function(FILE *out)
{
	struct du_option_doc d;
	fputs("# _du_opts TOOL: the flags TOOL accepts\n_du_opts()\n{\n\tcase $1 in\n", out);
	for (size_t t = 0; t < NTOOLS; t++) {
		fprintf(out, "\t%s) echo '", du_tool_name(tools[t]));
		const char *sep = "";
		for (size_t i = 0; i < du_config_option_count(); i++) {
			if (!du_config_option_doc(i, tools[t], &d) || !d.flag)
				continue;
			fprintf(out, "%s--%s", sep, d.flag);
			sep = " ";
		}
		for (size_t i = 0; i < du_config_option_count(); i++)
			if (du_config_option_doc(i, tools[t], &d) && d.flag && d.shortc)
				fprintf(out, " -%c", d.shortc);
		fputs("' ;;\n", out);
	}
	fputs("\tesac\n}\n\n", out);
}

/* How the value of option d completes; NULL when it takes no value. */
static const char *value_kind(const struct du_option_doc *d, char *buf, size_t n)
{
	if (!d->metavar)
		return NULL;
	if (d->arg_optional)
		return "bool";
	if (d->values) {
		size_t k = (size_t)snprintf(buf, n, "words");
		for (int v = 0; d->values[v] && k < n; v++)
			k += (size_t)snprintf(buf + k, n - k, " %s", d->values[v]);
		return buf;
	}
	if (d->path)
		return d->path == 'd' ? "dir" : "file";
	if (!strcmp(d->metavar, "SESSION"))
		return "session";
	return "text";
}

static void arg_function(FILE *out)
{
	struct du_option_doc d;
	char kind[256];
	fputs("# _du_arg TOOL OPTION: how OPTION's value completes: 'words W...', file, dir, session,\n"
	      "# bool (true/false, only as --opt=VALUE) or text (nothing offered); nothing: it takes none\n"
	      "_du_arg()\n{\n\tcase $1:$2 in\n",
	      out);
	for (size_t i = 0; i < du_config_option_count(); i++) {
		const char *sep = "\t";
		const char *k = NULL;
		for (size_t t = 0; t < NTOOLS; t++) {
			if (!du_config_option_doc(i, tools[t], &d) || !d.flag)
				continue;
			k = value_kind(&d, kind, sizeof(kind));
			if (!k)
				break;
			fprintf(out, "%s%s:--%s", sep, du_tool_name(tools[t]), d.flag);
			sep = "|";
			if (d.shortc)
				fprintf(out, "|%s:-%c", du_tool_name(tools[t]), d.shortc);
		}
		if (k)
			fprintf(out, ") echo '%s' ;;\n", k);
	}
	fputs("\tesac\n}\n\n", out);
}

static const char body1[] =
	"# _du_sessions CMD: session ids from 'du-master status --json', only where that is cheap: a\n"
	"# database is configured in the environment, or du's private cluster is already running (a TAB\n"
	"# never creates or starts one). Bounded by a timeout; errors are silenced.\n"
	"_du_sessions()\n"
	"{\n"
	"\tlocal dir master=du-master\n"
	"\t[[ $1 == */* ]] && master=${1%/*}/du-master\n"
	"\tif [[ -z ${DATABASE_URL-}${DB_HOST-}${DB_PORT-}${DB_NAME-}${DB_USER-}${PGHOST-}${PGDATABASE-}${PGSERVICE-} ]]; then\n"
	"\t\tif [[ -n ${DU_PG_DIR-} ]]; then dir=$DU_PG_DIR\n"
	"\t\telif [[ ${XDG_STATE_HOME-} == /* ]]; then dir=$XDG_STATE_HOME/du/pg\n"
	"\t\telif [[ $EUID -eq 0 ]]; then dir=/var/lib/du/pg\n"
	"\t\telse dir=$HOME/.local/state/du/pg\n"
	"\t\tfi\n"
	"\t\t[[ -S $dir/run/.s.PGSQL.5432 ]] || return 0\n"
	"\tfi\n"
	"\ttimeout 3 \"$master\" status --json -q 2>/dev/null | grep -o '\"session_id\":[0-9]*' | cut -d: -f2\n"
	"}\n"
	"\n"
	"_du()\n"
	"{\n"
	"\tlocal tool=${1##*/} cur=${COMP_WORDS[COMP_CWORD]} prev='' opt='' pre='' eq='' kind w i cmd=''\n"
	"\t((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}\n"
	"\tCOMPREPLY=()\n"
	"\t# A value: '--opt VALUE', or '--opt=VALUE' (split into '--opt' '=' 'VALUE' by bash's default\n"
	"\t# COMP_WORDBREAKS, one word without '=' in it).\n"
	"\tif [[ $cur == --*=* ]]; then\n"
	"\t\topt=${cur%%=*} pre=$opt= cur=${cur#*=} eq=1\n"
	"\telif [[ $cur == = && $prev == --* ]]; then\n"
	"\t\topt=$prev cur='' eq=1\n"
	"\telif [[ $prev == = ]] && ((COMP_CWORD > 1)) && [[ ${COMP_WORDS[COMP_CWORD - 2]} == --* ]]; then\n"
	"\t\topt=${COMP_WORDS[COMP_CWORD - 2]} eq=1\n"
	"\telif [[ $prev == -* ]]; then\n"
	"\t\topt=$prev\n"
	"\tfi\n"
	"\tif [[ -n $opt ]]; then\n"
	"\t\tkind=$(_du_arg \"$tool\" \"$opt\")\n"
	"\t\tcase $kind in\n"
	"\t\tbool) [[ -n $eq ]] && { mapfile -t COMPREPLY < <(compgen -P \"$pre\" -W 'true false' -- \"$cur\"); return 0; } ;;\n"
	"\t\twords\\ *) mapfile -t COMPREPLY < <(compgen -P \"$pre\" -W \"${kind#words }\" -- \"$cur\"); return 0 ;;\n"
	"\t\tfile) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- \"$cur\"); return 0 ;;\n"
	"\t\tdir) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- \"$cur\"); return 0 ;;\n"
	"\t\tsession) mapfile -t COMPREPLY < <(compgen -P \"$pre\" -W \"$(_du_sessions \"$1\")\" -- \"$cur\"); return 0 ;;\n"
	"\t\ttext) return 0 ;;\n"
	"\t\tesac\n"
	"\tfi\n"
	"\tif [[ $cur == -* ]]; then\n"
	"\t\tmapfile -t COMPREPLY < <(compgen -W \"$(_du_opts \"$tool\")\" -- \"$cur\")\n"
	"\t\treturn 0\n"
	"\tfi\n"
	"\t[[ $tool == du-master ]] || return 0\n"
	"\t# du-master's first word that is neither an option nor an option's value is its command.\n"
	"\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	"\t\tw=${COMP_WORDS[i]}\n"
	"\t\tif [[ $w == = ]]; then\n"
	"\t\t\t((i++))\n"
	"\t\telif [[ $w == -* ]]; then\n"
	"\t\t\tkind=$(_du_arg \"$tool\" \"$w\")\n"
	"\t\t\t[[ -n $kind && $kind != bool && $w != *=* && ${COMP_WORDS[i + 1]-} != = ]] && ((i++))\n"
	"\t\telse\n"
	"\t\t\tcmd=$w\n"
	"\t\t\tbreak\n"
	"\t\tfi\n"
	"\tdone\n"
	"\tif [[ -z $cmd ]]; then\n";
static const char body2[] =
	"\telse\n"
	"\t\tmapfile -t COMPREPLY < <(compgen -W \"$(_du_sessions \"$1\")\" -- \"$cur\")\n"
	"\tfi\n"
	"\treturn 0\n"
	"}\n"
	"\n"
	"complete -F _du du-upload du-retry du-trigger du-master\n";

int main(void)
{
	FILE *out = stdout;
	fputs("# bash completion for du-upload, du-retry, du-trigger and du-master -*- shell-script -*-\n"
	      "# Generated from the option table in src/config/options.c by scripts/bash-completion.c (make docs);\n"
	      "# do not edit by hand. Installed as .../bash-completion/completions/<tool>.\n\n",
	      out);
	opts_function(out);
	arg_function(out);
	fputs(body1, out);
	fprintf(out, "\t\tmapfile -t COMPREPLY < <(compgen -W '%s' -- \"$cur\")\n", master_commands);
	fputs(body2, out);
	return fflush(out) == 0 ? 0 : 1;
}

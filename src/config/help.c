/* help.c: what the option table prints: --help, --dump-config, the JSON stored per session,
 * docs/CONFIG.md and the rows the man page and completion generators read. */
#include "config/config_internal.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "du/log.h"
#include "du/strbuf.h"

static const char *const group_names[G_N] = {
	"Main options (Python tool compatible)", "Database", "S3 and network", "Scanning", "Upload run",
	"Retry", "Webhook", "Master", "General",
};

/* ---- output ---- */

static cJSON *value_json(const struct du_config *cfg, const struct opt *o, bool redact)
{
	const void *f = du_cfg_field(cfg, o);
	switch (o->type) {
	case T_STR: {
		const char *s = *(char *const *)f;
		if (!s)
			return cJSON_CreateNull();
		return cJSON_CreateString(redact && (o->flags & F_SECRET) ? "***" : s);
	}
	case T_INT: return cJSON_CreateNumber((double)*(const long *)f);
	case T_I64: return cJSON_CreateNumber((double)*(const int64_t *)f);
	case T_DBL: return cJSON_CreateNumber(*(const double *)f);
	case T_BOOL: return cJSON_CreateBool(*(const bool *)f);
	case T_SIZE: return cJSON_CreateNumber((double)*(const uint64_t *)f);
	case T_LIST: {
		char **l = *(char **const *)f;
		cJSON *a = cJSON_CreateArray();
		for (size_t i = 0; a && l && l[i]; i++)
			cJSON_AddItemToArray(a, cJSON_CreateString(l[i]));
		return a;
	}
	case T_MAP: {
		char **m = *(char **const *)f;
		cJSON *obj = cJSON_CreateObject();
		for (size_t i = 0; obj && m && m[i]; i++) {
			size_t klen = strcspn(m[i], "=");
			char *key = strndup(m[i], klen);
			if (key)
				cJSON_AddItemToObject(obj, key, cJSON_CreateString(m[i] + klen + 1));
			free(key);
		}
		return obj;
	}
	case T_ENUM: case T_LEVEL: {
		int e = *(const int *)f;
		return cJSON_CreateString(e >= 0 ? o->names[e] : "?");
	}
	default:
		return cJSON_CreateNull();
	}
}

char *du_config_dump_json(const struct du_config *cfg, int tool)
{
	cJSON *root = cJSON_CreateObject();
	for (size_t i = 0; root && i < NOPTS; i++) {
		const struct opt *o = &du_cfg_opts[i];
		if (!du_cfg_is_key(o) || !(o->tools & tool))
			continue;
		cJSON *e = cJSON_AddObjectToObject(root, o->key);
		if (!e)
			continue;
		cJSON_AddItemToObject(e, "value", value_json(cfg, o, true));
		cJSON_AddStringToObject(e, "source", cfg->sources && cfg->sources[i] ? cfg->sources[i] : "default");
	}
	char *s = root ? cJSON_Print(root) : NULL;
	cJSON_Delete(root);
	return s;
}

char *du_config_to_json(const struct du_config *cfg)
{
	cJSON *root = cJSON_CreateObject();
	for (size_t i = 0; root && i < NOPTS; i++) {
		const struct opt *o = &du_cfg_opts[i];
		if (!du_cfg_is_setting(o) || (o->flags & (F_SECRET | F_NOSTORE)))
			continue;
		cJSON_AddItemToObject(root, o->key, value_json(cfg, o, true));
	}
	char *s = root ? cJSON_PrintUnformatted(root) : NULL;
	cJSON_Delete(root);
	return s;
}

static void default_text(const struct opt *o, char *buf, size_t n)
{
	buf[0] = '\0';
	if (!o->def || o->type == T_QUIET || o->type == T_VERBOSE)
		return;
	if (o->type == T_BOOL && (o->flags & F_CLI))
		return;
	snprintf(buf, n, "%s", o->def);
}

static void flag_text(const struct opt *o, int tool, char *buf, size_t n)
{
	bool sh = o->shortc && (du_cfg_short_tools(o) & tool);
	const char *arg = "";
	char argbuf[64] = "";
	if (o->type == T_BOOL && !(o->flags & F_CLI))
		arg = "[=BOOL]";
	else if (o->type == T_MAP) {
		/* "--tag=KEY=VALUE" reads as two assignments */
		snprintf(argbuf, sizeof(argbuf), " %s", o->metavar);
		arg = argbuf;
	} else if (o->metavar && o->type != T_BOOL) {
		snprintf(argbuf, sizeof(argbuf), "=%s", o->metavar);
		arg = argbuf;
	}
	if (sh)
		snprintf(buf, n, "-%c, --%s%s", o->shortc, o->flag, arg);
	else
		snprintf(buf, n, "    --%s%s", o->flag, arg);
}

static const struct {
	int tool;
	const char *usage, *summary, *more;
} intro[] = {
	{ DU_TOOL_UPLOAD, "[OPTION]...",
	  "Upload a directory tree to S3 and record every file's fate in PostgreSQL.", NULL },
	{ DU_TOOL_RETRY, "-s SESSION [OPTION]...", "Retry the failed files of an upload session.", NULL },
	{ DU_TOOL_TRIGGER, "-s SESSION -e URL [OPTION]...",
	  "Tell an external system by HTTP POST that an upload session is done.", NULL },
	{ DU_TOOL_MASTER, "[OPTION]... [COMMAND]", "Upload, retry the failures and call the webhook, in one run.",
	  "Commands: status [SESSION] (recent sessions, or one session's state; --json),\n"
	  "verify SESSION (check every file against S3 and the local copy; --deep, --manifest),\n"
	  "verify -d DIR -b BUCKET -p PREFIX (the card: every session of it; \"safe to wipe\" or not)." },
};

const char *du_config_synopsis(int tool)
{
	for (size_t i = 0; i < sizeof(intro) / sizeof(intro[0]); i++)
		if (intro[i].tool == tool)
			return intro[i].usage;
	return "";
}

const char *du_config_summary(int tool)
{
	for (size_t i = 0; i < sizeof(intro) / sizeof(intro[0]); i++)
		if (intro[i].tool == tool)
			return intro[i].summary;
	return "";
}

void du_config_usage(int tool, FILE *out)
{
	for (size_t i = 0; i < sizeof(intro) / sizeof(intro[0]); i++)
		if (intro[i].tool == tool)
			fprintf(out, "usage: %s %s\n%s\n%s%s", du_tool_name(tool), intro[i].usage, intro[i].summary,
				intro[i].more ? intro[i].more : "", intro[i].more ? "\n" : "");
	for (int g = 0; g < G_N; g++) {
		bool head = false;
		for (size_t i = 0; i < NOPTS; i++) {
			const struct opt *o = &du_cfg_opts[i];
			if ((int)o->group != g || !du_cfg_has_flag(o, tool))
				continue;
			if (!head)
				fprintf(out, "\n%s:\n", group_names[g]);
			head = true;
			char fl[128], def[64], extra[256] = "";
			const char *names[3];
			char gen[64];
			flag_text(o, tool, fl, sizeof(fl));
			default_text(o, def, sizeof(def));
			int ne = du_cfg_env_names(o, names, gen, sizeof(gen));
			size_t k = 0;
			if (*def)
				k += (size_t)snprintf(extra + k, sizeof(extra) - k, "default %s", def);
			for (int e = 0; e < ne && k < sizeof(extra); e++)
				k += (size_t)snprintf(extra + k, sizeof(extra) - k, "%s%s", k ? (e ? ", " : "; env ") : (e ? ", " : "env "), names[e]);
			if (strlen(fl) > 36)
				fprintf(out, "  %s\n  %-36s", fl, "");
			else
				fprintf(out, "  %-36s", fl);
			int w = 39 + fprintf(out, " %s%s", o->help, (o->required & tool) ? " (required)" : "");
			if (*extra) {
				if (w + (int)strlen(extra) + 3 > 110)
					fprintf(out, "\n  %-36s (%s)", "", extra);
				else
					fprintf(out, " (%s)", extra);
			}
			fputc('\n', out);
		}
	}
	fprintf(out, "\nSecrets (environment, .env or config file only; refused as flags):\n");
	for (size_t i = 0; i < NOPTS; i++)
		if ((du_cfg_opts[i].flags & F_SECRET) && (du_cfg_opts[i].tools & tool))
			fprintf(out, "  %-36s %s (\"%s\")\n", du_cfg_opts[i].env[0], du_cfg_opts[i].help, du_cfg_opts[i].key);
	fprintf(out,
		"\nPrecedence: defaults < config file (-c) < .env < environment < command line.\n"
		"Every other setting can also be given as its config file key or DU_<KEY> variable;\n"
		"--dump-config shows the effective value of each and where it came from.\n");
}

static const char *tools_text(int mask, char *buf, size_t n)
{
	static const char *const names[] = { "upload", "retry", "trigger", "master" };
	size_t k = 0;
	buf[0] = '\0';
	if (mask == ALL)
		return snprintf(buf, n, "all"), buf;
	for (int t = 0; t < 4; t++)
		if (mask & (1 << t))
			k += (size_t)snprintf(buf + k, n > k ? n - k : 0, "%s%s", k ? ", " : "", names[t]);
	return buf;
}

void du_config_reference_markdown(FILE *out)
{
	fprintf(out,
		"# du configuration reference\n\n"
		"Generated from the option table in `src/config/options.c` (`du_config_reference_markdown`); "
		"do not edit by hand. The man pages (`man/du-*.1`) and the bash completion "
		"(`completion/du.bash`) are generated from the same table; `make docs` rewrites all of "
		"them, and `make install` and `make deb` install the pages and the completion (README, "
		"\"Installing\").\n\n"
		"Precedence, lowest first: defaults < JSON file (`-c FILE`; no file unless given) < "
		"`.env` (working directory, or `--env-file FILE`, which must exist; never overrides a "
		"variable already in the environment) < environment < command line. "
		"`--dump-config` prints each effective value and where it came from "
		"(`default`, `FILE:LINE`, `.env:LINE`, `env NAME`, `flag --name`).\n\n"
		"Values: booleans accept `true/false`, `yes/no`, `1/0`, `on/off` (and JSON booleans); "
		"sizes accept bytes or `K`/`KiB`/`M`/`MiB`/`G`/`GiB`/`T`/`TiB` (base 1024; `MB` means MiB); "
		"lists are JSON arrays or comma-separated strings (a list flag may be repeated); "
		"maps (`tags`, `metadata`) are JSON objects of strings in the file, the environment "
		"and the stored configuration (a number is taken as its text), and one `KEY=VALUE` per flag "
		"on the command line (split at the first `=`; repeated flags add up, and the command line's "
		"map replaces the file's whole); a key given twice in one layer is an error; "
		"integers may be given as numeric strings in the JSON file. An empty environment variable "
		"counts as unset.\n\n"
		"Secrets (`database_url`, `db_password`, `endpoint_api_key`, `endpoint_secret`) are "
		"refused as flags (they would be visible in the process list), shown as `***` by "
		"`--dump-config`, and never stored in `config_history`.\n");
	for (int g = 0; g < G_N; g++) {
		fprintf(out, "\n## %s\n\n| Key | Flag | Environment | Default | Tools | Meaning |\n"
			"|---|---|---|---|---|---|\n", group_names[g]);
		for (size_t i = 0; i < NOPTS; i++) {
			const struct opt *o = &du_cfg_opts[i];
			if ((int)o->group != g)
				continue;
			char def[64], flag[160] = "", env[160] = "", tools[64], shorts[64] = "";
			const char *names[3];
			char gen[64];
			default_text(o, def, sizeof(def));
			if (o->flags & F_SECRET) {
				snprintf(flag, sizeof(flag), "(secret: not a flag)");
			} else if (o->flag) {
				size_t k = 0;
				for (int t = 0; t < 4; t++) {
					if (!o->shortc || !(du_cfg_short_tools(o) & o->tools & (1 << t)))
						continue;
					k += (size_t)snprintf(shorts + k, sizeof(shorts) - k, "%s%s",
							      k ? ", " : "", du_tool_name(1 << t) + 3);
				}
				if (*shorts && du_cfg_short_tools(o) == o->tools)
					snprintf(flag, sizeof(flag), "`-%c`, `--%s`", o->shortc, o->flag);
				else if (*shorts)
					snprintf(flag, sizeof(flag), "`-%c` (%s), `--%s`", o->shortc, shorts, o->flag);
				else
					snprintf(flag, sizeof(flag), "`--%s`", o->flag);
			}
			int ne = du_cfg_env_names(o, names, gen, sizeof(gen));
			for (int e = 0, k = 0; e < ne; e++)
				k += snprintf(env + k, sizeof(env) - (size_t)k, "%s`%s`", e ? ", " : "", names[e]);
			char req[96] = "";
			if (o->required)
				snprintf(req, sizeof(req), " (required by %s)",
					 tools_text(o->required, tools, sizeof(tools)));
			fprintf(out, "| %s%s%s | %s | %s | %s%s%s | %s | %s%s%s |\n",
				du_cfg_is_key(o) ? "`" : "", du_cfg_is_key(o) ? o->key : "", du_cfg_is_key(o) ? "`" : "",
				flag, env, *def ? "`" : "", def, *def ? "`" : "",
				tools_text(o->tools, tools, sizeof(tools)), o->help, req,
				(o->flags & F_CLI) && du_cfg_is_key(o) ? " (command line only)" : "");
		}
	}
	fprintf(out,
		"\n## Derived values\n\n"
		"- `aws_profile_explicit`: `aws_profile` was set by the file, `AWS_PROFILE` or `--aws-profile` "
		"(not by the default).\n"
		"- `db_configured`: any database setting came from a non-default layer, or `PGHOST`, "
		"`PGDATABASE` or `PGSERVICE` is set; without it du starts a private PostgreSQL cluster.\n"
		"- Required: `local_directory` (an existing directory), `bucket_name`, `s3_prefix` for "
		"du-upload and du-master; `session_id` for du-retry and du-trigger; `endpoint_url` for "
		"du-trigger.\n"
		"\n## Stored configuration\n\n"
		"Every session stores its settings (without secrets and per-invocation values) in "
		"`config_history`. du-retry works with them: a setting still at its default in the "
		"retry's own configuration takes the stored value, and the settings that define the "
		"session's objects (`local_directory`, `bucket_name`, `s3_prefix`, `aws_region`, "
		"`s3_endpoint`, `s3_addressing`, `multipart_threshold`, `multipart_chunk_size`, "
		"`storage_class`, `sse`, `sse_kms_key_id`, `tags`, `metadata`) always take the stored value.\n");
}

/* ---- the table for documentation generators (man pages, bash completion) ---- */

size_t du_config_option_count(void)
{
	return NOPTS;
}

/* 5242880 -> "5MiB"; sizes in the table are whole KiB, MiB or GiB. */
static void size_text(int64_t v, char *buf, size_t n)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;
	while (u < 4 && v >= 1024 && v % 1024 == 0) {
		v /= 1024;
		u++;
	}
	snprintf(buf, n, "%lld%s", (long long)v, units[u]);
}

static void range_text(const struct opt *o, char *buf, size_t n)
{
	char lo[24], hi[24] = "";
	buf[0] = '\0';
	if (!o->min && !o->max)
		return;
	if (o->type == T_SIZE) {
		size_text(o->min, lo, sizeof(lo));
		size_text(o->max, hi, sizeof(hi));
	} else {
		snprintf(lo, sizeof(lo), "%lld", (long long)o->min);
		snprintf(hi, sizeof(hi), "%lld", (long long)o->max);
	}
	if (o->max == INT64_MAX)
		snprintf(buf, n, ">= %s", lo);
	else
		snprintf(buf, n, "%s..%s", lo, hi);
}

bool du_config_option_doc(size_t i, int tool, struct du_option_doc *doc)
{
	static const char *const type_names[] = {
		[T_STR] = "string", [T_INT] = "integer", [T_I64] = "integer", [T_DBL] = "number",
		[T_BOOL] = "boolean", [T_SIZE] = "size", [T_LIST] = "list", [T_MAP] = "map", [T_ENUM] = "enum",
		[T_LEVEL] = "enum", [T_QUIET] = "action", [T_VERBOSE] = "action",
	};
	if (i >= NOPTS || !(du_cfg_opts[i].tools & tool))
		return false;
	const struct opt *o = &du_cfg_opts[i];
	char def[64];
	memset(doc, 0, sizeof(*doc));
	doc->key = du_cfg_is_key(o) ? o->key : NULL;
	doc->flag = du_cfg_has_flag(o, tool) ? o->flag : NULL;
	doc->shortc = doc->flag && o->shortc && (du_cfg_short_tools(o) & tool) ? o->shortc : 0;
	if (o->type == T_BOOL && !(o->flags & F_CLI)) {
		doc->metavar = "BOOL";
		doc->arg_optional = true;
	} else if (o->type != T_BOOL && o->type != T_QUIET && o->type != T_VERBOSE) {
		doc->metavar = o->metavar;
	}
	du_cfg_env_names(o, doc->env, doc->env_buf, sizeof(doc->env_buf));
	default_text(o, def, sizeof(def));
	doc->def = *def ? o->def : NULL;
	doc->values = o->type == T_ENUM || o->type == T_LEVEL ? o->names : NULL;
	doc->type = type_names[o->type];
	range_text(o, doc->range, sizeof(doc->range));
	doc->help = o->help;
	doc->group = group_names[o->group];
	doc->group_no = (int)o->group;
	doc->required = (o->required & tool) != 0;
	doc->secret = (o->flags & F_SECRET) != 0;
	doc->cli_only = (o->flags & F_CLI) != 0;
	doc->path = !(o->flags & F_PATH) ? 0 : o->metavar && !strcmp(o->metavar, "DIR") ? 'd' : 'f';
	return true;
}

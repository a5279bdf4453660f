/*
 * config.c: the layers of the configuration. Every setting is one row of the option table
 * (options.c); values.c parses one value, cmdline.c reads the command line, help.c prints.
 *
 * Layers are applied in order into one struct du_config, each value remembering where it came
 * from (cfg->sources, indexed like opts[]): defaults, the JSON file (-c), .env, the environment,
 * the command line. Defaults are strings parsed by the same code as every other layer, so a
 * default can never be something a user could not have typed.
 */
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


/* ---- init / release ---- */

void du_config_release(struct du_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &du_cfg_opts[i];
		void *f = du_cfg_field(cfg, o);
		if (o->type == T_STR) {
			(o->flags & F_SECRET) ? du_cfg_free_secret(*(char **)f) : free(*(char **)f);
			*(char **)f = NULL;
		} else if (du_cfg_is_list(o)) {
			du_cfg_free_list(*(char ***)f);
			*(char ***)f = NULL;
		}
		if (cfg->sources)
			free(cfg->sources[i]);
	}
	free(cfg->sources);
	memset(cfg, 0, sizeof(*cfg));
}

int du_config_init(struct du_config *cfg, struct du_err *err)
{
	int rc = DU_OK;
	memset(cfg, 0, sizeof(*cfg));
	cfg->sources = calloc(NOPTS, sizeof(char *));
	if (!cfg->sources)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < NOPTS && !rc; i++) {
		if (du_cfg_opts[i].def)
			rc = du_cfg_set_text(cfg, i, du_cfg_opts[i].def, "default", err);
		else if (!(cfg->sources[i] = strdup("default")))
			rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
	}
	if (rc)
		du_config_release(cfg);
	return rc;
}

const char *du_tool_name(int tool)
{
	switch (tool) {
	case DU_TOOL_UPLOAD: return "du-upload";
	case DU_TOOL_RETRY: return "du-retry";
	case DU_TOOL_TRIGGER: return "du-trigger";
	case DU_TOOL_MASTER: return "du-master";
	default: return "du";
	}
}

const char *du_config_source(const struct du_config *cfg, const char *key)
{
	int i = du_cfg_opt_index(key);
	if (i < 0 || !cfg->sources)
		return NULL;
	return cfg->sources[i];
}

static bool from_default(const struct du_config *cfg, size_t i)
{
	return !cfg->sources[i] || !strcmp(cfg->sources[i], "default");
}

/* ---- JSON file ---- */

/* Larger is "too large": the limit the file reader has always had (a 32 MiB buffer, 4 KiB spare). */
#define CONFIG_FILE_MAX ((32u << 20) - 4096)

static int read_file(const char *path, char **out, size_t *len, struct du_err *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return du_err_sys(err, DU_ERR_CONFIG, errno, "cannot read config file '%s'", path);
	struct du_strbuf sb = DU_STRBUF_INIT;
	char chunk[8192];
	size_t got;
	int rc = DU_OK;
	while (!rc && (got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (sb.len + got > CONFIG_FILE_MAX) {
			rc = du_err_set(err, DU_ERR_CONFIG, "config file '%s' is too large", path);
			break;
		}
		du_strbuf_add(&sb, chunk, got);
		if (sb.oom)
			rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
	}
	if (!rc && ferror(f))
		rc = du_err_sys(err, DU_ERR_CONFIG, errno, "cannot read config file '%s'", path);
	fclose(f);
	if (rc) {
		du_strbuf_release(&sb);
		return rc;
	}
	*len = sb.len;
	*out = du_strbuf_detach(&sb);
	return DU_OK;
}

static int line_at(const char *text, const char *pos)
{
	int line = 1;
	for (const char *p = text; p < pos && *p; p++)
		line += *p == '\n';
	return line;
}

/* Line of "key": in text, searching from *cursor first (keys come in document order). */
static int key_line(const char *text, const char *key, const char **cursor)
{
	size_t klen = strlen(key);
	for (int pass = 0; pass < 2; pass++) {
		const char *p = pass ? text : *cursor;
		while ((p = strchr(p, '"'))) {
			if (!strncmp(p + 1, key, klen) && p[klen + 1] == '"' &&
			    (p == text || p[-1] != '\\')) {
				const char *q = p + klen + 2;
				while (isspace((unsigned char)*q))
					q++;
				if (*q == ':') {
					*cursor = q + 1;
					return line_at(text, p);
				}
			}
			p++;
		}
	}
	return 0;
}

/*
 * Apply a JSON object. path names the origin in sources ("FILE:LINE" when lines are known);
 * stored: a config_history record (only fills keys still at their default, ignores keys it does
 * not know, and never takes a secret).
 */
static int apply_json_text(struct du_config *cfg, const char *text, size_t len, const char *path,
			   bool stored, struct du_err *err)
{
	const char *end = NULL, *cursor = text;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1); /* len + 1: the NUL */
	int rc = DU_OK;
	char src[512];

	if (!root)
		return du_err_set(err, DU_ERR_CONFIG, "%s:%d: invalid JSON", path,
				  line_at(text, end ? end : text + len));
	if (!cJSON_IsObject(root)) {
		rc = du_err_set(err, DU_ERR_CONFIG, "%s: expected a JSON object of settings", path);
		goto out;
	}
	const cJSON *item;
	cJSON_ArrayForEach(item, root) {
		int line = stored ? 0 : key_line(text, item->string, &cursor);
		if (line)
			snprintf(src, sizeof(src), "%s:%d", path, line);
		else
			snprintf(src, sizeof(src), "%s", path);
		int i = du_cfg_opt_index(item->string);
		const struct opt *o = i >= 0 ? &du_cfg_opts[i] : NULL;
		if (stored) {
			if (!o || !du_cfg_is_setting(o) || (o->flags & (F_SECRET | F_NOSTORE)))
				continue;
			if (!(o->flags & F_SESSION) && !from_default(cfg, (size_t)i))
				continue;
			if ((o->flags & F_SESSION) && cJSON_IsNull(item) && o->type == T_STR) {
				/* The session had none (e.g. no s3_endpoint): neither may the copy. */
				union val none = { .s = NULL };
				if ((rc = du_cfg_store(cfg, (size_t)i, &none, src, err)))
					goto out;
				continue;
			}
		} else if (!o || !du_cfg_is_setting(o)) {
			const char *near = du_cfg_nearest(item->string, false, 0);
			if (o)
				rc = du_err_set(err, DU_ERR_CONFIG,
						"'%s' in %s can only be given on the command line",
						item->string, src);
			else if (near)
				rc = du_err_set(err, DU_ERR_CONFIG,
						"unknown key '%s' in %s; did you mean '%s'?",
						item->string, src, near);
			else
				rc = du_err_set(err, DU_ERR_CONFIG, "unknown key '%s' in %s",
						item->string, src);
			goto out;
		}
		if (cJSON_IsNull(item))
			continue;
		union val v;
		if ((rc = du_cfg_parse_json(o, item, &v, src, err)) || (rc = du_cfg_validate(o, &v, src, err)) ||
		    (rc = du_cfg_store(cfg, (size_t)i, &v, src, err)))
			goto out;
	}
out:
	cJSON_Delete(root);
	return rc;
}

int du_config_apply_json(struct du_config *cfg, const char *json, const char *origin,
			 struct du_err *err)
{
	int rc;
	if (!cfg->sources && (rc = du_config_init(cfg, err)))
		return rc;
	return apply_json_text(cfg, json, strlen(json), origin, true, err);
}

static char **dup_list(char **list, bool *ok)
{
	size_t n = du_cfg_list_len(list);
	char **out;
	if (!list)
		return NULL;
	if (!(out = calloc(n + 1, sizeof(char *)))) {
		*ok = false;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (!(out[i] = strdup(list[i])))
			*ok = false;
	return out;
}

int du_config_derive(struct du_config *out, const struct du_config *base, const char *config_json,
		     int64_t session_id, struct du_err *err)
{
	struct du_config c = *base;
	bool ok = true;
	char origin[96];
	int rc;

	c.sources = calloc(NOPTS, sizeof(char *));
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &du_cfg_opts[i];
		if (c.sources && base->sources && base->sources[i] &&
		    !(c.sources[i] = strdup(base->sources[i])))
			ok = false;
		if (o->type == T_STR) {
			char **f = du_cfg_field(&c, o), *s = *f;
			if (s && !(*f = strdup(s)))
				ok = false;
		} else if (du_cfg_is_list(o)) {
			char ***f = du_cfg_field(&c, o);
			*f = dup_list(*f, &ok);
		}
	}
	if (!ok || !c.sources) {
		du_config_release(&c);
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	}
	snprintf(origin, sizeof(origin), "config_history of session %" PRId64, session_id);
	if (config_json && (rc = du_config_apply_json(&c, config_json, origin, err))) {
		du_config_release(&c);
		return rc;
	}
	*out = c;
	return DU_OK;
}

/* ---- environment ---- */

struct load {
	struct du_config *cfg;
	int tool;
	const char *env_path;       /* the .env file read, for sources */
	struct du_dotenv dotenv;    /* what it set */
};

static int env_source(const struct load *ld, const char *name, char *buf, size_t n)
{
	for (size_t i = 0; i < ld->dotenv.n; i++)
		if (!strcmp(ld->dotenv.vars[i].name, name))
			return snprintf(buf, n, "%s:%d", ld->env_path, ld->dotenv.vars[i].line);
	return snprintf(buf, n, "env %s", name);
}

static int apply_env(struct load *ld, struct du_err *err)
{
	for (size_t i = 0; i < NOPTS; i++) {
		const char *names[3];
		char gen[64], src[512];
		int n = du_cfg_env_names(&du_cfg_opts[i], names, gen, sizeof(gen));
		for (int k = 0; k < n; k++) {
			const char *val = getenv(names[k]);
			if (!val || !*val)
				continue; /* an empty variable counts as unset */
			env_source(ld, names[k], src, sizeof(src));
			int rc = du_cfg_set_text(ld->cfg, i, val, src, err);
			if (rc)
				return rc;
			break;
		}
	}
	return DU_OK;
}

/* ---- checks across settings ---- */

static void required_hint(const struct opt *o, int tool, struct du_err *err)
{
	const char *names[3];
	char gen[64], flag[64] = "";
	du_cfg_env_names(o, names, gen, sizeof(gen));
	if (du_cfg_has_flag(o, tool)) {
		if (o->shortc && (du_cfg_short_tools(o) & tool))
			snprintf(flag, sizeof(flag), "-%c/--%s, ", o->shortc, o->flag);
		else
			snprintf(flag, sizeof(flag), "--%s, ", o->flag);
	}
	du_err_hint(err, "give it with %senv %s or \"%s\" in the config file (-c)", flag, names[0],
		    o->key);
}

static int check_all(struct du_config *cfg, int tool, struct du_err *err)
{
	char names[256] = "";
	const struct opt *first = NULL;
	int nmissing = 0;
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &du_cfg_opts[i];
		/* du-master's subcommands (status, verify) name their session; no upload settings. */
		if (!(o->required & tool) || (tool == DU_TOOL_MASTER && cfg->nargs > 0))
			continue;
		void *f = du_cfg_field(cfg, o);
		bool missing = o->type == T_STR ? !*(char **)f : o->type == T_I64 ? !*(int64_t *)f : false;
		if (!missing)
			continue;
		size_t k = strlen(names);
		snprintf(names + k, sizeof(names) - k, "%s'%s'", nmissing ? ", " : "", o->key);
		first = first ? first : o;
		nmissing++;
	}
	if (nmissing) {
		/* All of them at once: one round trip to fix the invocation, not one per key. */
		du_err_set(err, DU_ERR_CONFIG, "missing required setting%s %s", nmissing > 1 ? "s" : "",
			   names);
		required_hint(first, tool, err);
		return DU_ERR_CONFIG;
	}
	if ((tool & (DU_TOOL_UPLOAD | DU_TOOL_MASTER)) && cfg->local_directory) {
		struct stat st;
		const char *src = du_config_source(cfg, "local_directory");
		if (stat(cfg->local_directory, &st))
			return du_err_sys(err, DU_ERR_CONFIG, errno, "local_directory '%s' (from %s)",
					  cfg->local_directory, src);
		if (!S_ISDIR(st.st_mode))
			return du_err_set(err, DU_ERR_CONFIG,
					  "local_directory '%s' (from %s) is not a directory",
					  cfg->local_directory, src);
		/* Rows record absolute paths, so verify and retry find the files from anywhere. */
		char *abs = realpath(cfg->local_directory, NULL);
		if (!abs)
			return du_err_sys(err, DU_ERR_CONFIG, errno, "local_directory '%s' (from %s)",
					  cfg->local_directory, src);
		free(cfg->local_directory);
		cfg->local_directory = abs;
	}
	if (cfg->resume_session && cfg->join_session)
		return du_err_set(err, DU_ERR_CONFIG,
				  "resume_session (from %s) and join_session (from %s) exclude each other",
				  du_config_source(cfg, "resume_session"),
				  du_config_source(cfg, "join_session"));
	if (cfg->new_session && (cfg->resume_session || cfg->join_session)) {
		const char *other = cfg->resume_session ? "resume_session" : "join_session";
		return du_err_set(err, DU_ERR_CONFIG, "new_session (from %s) and %s (from %s) exclude each other",
				  du_config_source(cfg, "new_session"), other, du_config_source(cfg, other));
	}
	const char *modes[] = { "checksum", "size_only", "trust_db" };
	bool on[] = { cfg->checksum, cfg->size_only, cfg->trust_db };
	for (int i = 0; i < 3; i++)
		for (int k = i + 1; k < 3; k++)
			if (on[i] && on[k])
				return du_err_set(err, DU_ERR_CONFIG, "%s (from %s) and %s (from %s) exclude each other",
						  modes[i], du_config_source(cfg, modes[i]), modes[k],
						  du_config_source(cfg, modes[k]));
	if (cfg->sse_kms_key_id && !(cfg->sse && !strcmp(cfg->sse, "aws:kms")))
		return du_err_set(err, DU_ERR_CONFIG, "sse_kms_key_id (from %s) needs sse aws:kms",
				  du_config_source(cfg, "sse_kms_key_id"));
	if (cfg->retry_base_ms > cfg->retry_cap_ms)
		return du_err_set(err, DU_ERR_CONFIG,
				  "retry_base_ms %ld (from %s) is larger than retry_cap_ms %ld (from %s)",
				  cfg->retry_base_ms, du_config_source(cfg, "retry_base_ms"),
				  cfg->retry_cap_ms, du_config_source(cfg, "retry_cap_ms"));
	return DU_OK;
}

static void derive(struct du_config *cfg)
{
	static const char *const db_keys[] = { "database_url", "db_host", "db_port", "db_name",
					       "db_user", "db_password" };
	static const char *const pg_env[] = { "PGHOST", "PGDATABASE", "PGSERVICE" };
	cfg->aws_profile_explicit = strcmp(du_config_source(cfg, "aws_profile"), "default") != 0;
	cfg->db_configured = false;
	for (size_t i = 0; i < sizeof(db_keys) / sizeof(db_keys[0]); i++)
		if (strcmp(du_config_source(cfg, db_keys[i]), "default"))
			cfg->db_configured = true;
	for (size_t i = 0; i < sizeof(pg_env) / sizeof(pg_env[0]); i++) {
		const char *v = getenv(pg_env[i]);
		if (v && *v)
			cfg->db_configured = true;
	}
}

int du_config_load(struct du_config *cfg, int tool, int argc, char **argv, struct du_err *err)
{
	struct load ld = { .cfg = cfg, .tool = tool };
	struct cli_arg *cli = calloc((size_t)(argc > 0 ? argc : 1), sizeof(*cli));
	size_t ncli = 0;
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (!cli)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	if ((rc = du_config_init(cfg, err))) {
		free(cli);
		return rc;
	}
	if ((rc = du_cfg_parse_argv(cfg, tool, argc, argv, cli, &ncli, err)))
		goto out;
	if (cfg->help || cfg->version)
		goto out; /* nothing else matters, and nothing may stop the help from showing */

	const char *path = du_cfg_cli_value(cli, ncli, OFF(config_file));
	if (path) {
		if ((rc = read_file(path, &text, &len, err)) ||
		    (rc = apply_json_text(cfg, text, len, path, false, err)))
			goto out;
	}
	const char *envf = du_cfg_cli_value(cli, ncli, OFF(env_file));
	ld.env_path = envf ? envf : ".env";
	if ((rc = du_dotenv_apply(ld.env_path, !envf, &ld.dotenv, err)))
		goto out;
	if ((rc = apply_env(&ld, err)) || (rc = du_cfg_apply_cli(cfg, cli, ncli, err)))
		goto out;
	derive(cfg);
	/* --dump-config shows what is there, even when something required is still missing. */
	if (!cfg->dump_config)
		rc = check_all(cfg, tool, err);
out:
	du_dotenv_release(&ld.dotenv);
	free(text);
	free(cli);
	if (rc)
		du_config_release(cfg);
	return rc;
}

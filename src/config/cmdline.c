/* cmdline.c: the command line, read with getopt_long from tables built from the option rows;
 * unknown flags get the nearest known one as a hint, secrets are refused as flags. */
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


/* ---- command line ---- */

static int find_short(int c, int tool)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (du_cfg_opts[i].shortc == c && (du_cfg_short_tools(&du_cfg_opts[i]) & tool) && du_cfg_has_flag(&du_cfg_opts[i], tool))
			return (int)i;
	return -1;
}

static int build_getopt(int tool, struct option **longs, char **shorts, struct du_err *err)
{
	struct option *lo = calloc(NOPTS + 1, sizeof(*lo));
	char *so = calloc(NOPTS * 2 + 2, 1);
	size_t nl = 0, ns = 0;
	if (!lo || !so) {
		free(lo);
		free(so);
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	}
	so[ns++] = ':'; /* ':' for a missing argument, '?' for an unknown option */
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &du_cfg_opts[i];
		if (!o->flag || !(o->tools & tool))
			continue;
		int has = required_argument;
		if (o->flags & F_SECRET)
			has = optional_argument; /* recognised only to be refused, whatever its form */
		else if (o->type == T_QUIET || o->type == T_VERBOSE || (o->type == T_BOOL && (o->flags & F_CLI)))
			has = no_argument;
		else if (o->type == T_BOOL)
			has = optional_argument; /* --dry-run, or --use-find=no */
		lo[nl++] = (struct option){ o->flag, has, NULL, LONG_BASE + (int)i };
		if (o->shortc && (du_cfg_short_tools(o) & tool) && !(o->flags & F_SECRET)) {
			so[ns++] = o->shortc;
			if (has == required_argument)
				so[ns++] = ':';
		}
	}
	*longs = lo;
	*shorts = so;
	return DU_OK;
}

/* Name of an option as typed, without any "=value" (which could be a secret). */
static void typed_name(const char *arg, char *buf, size_t n)
{
	size_t len = strcspn(arg, "=");
	snprintf(buf, n, "%.*s", (int)(len < 100 ? len : 100), arg);
}

static int unknown_option(int tool, int optc, const char *arg, struct du_err *err)
{
	char name[128];
	const char *prog = du_tool_name(tool);
	if (optc > 0 && optc < LONG_BASE)
		snprintf(name, sizeof(name), "-%c", optc);
	else
		typed_name(arg ? arg : "?", name, sizeof(name));
	du_err_set(err, DU_ERR_USAGE, "unrecognized option '%s'", name);
	const char *bare = name + strspn(name, "-");
	const char *near = name[1] == '-' ? du_cfg_nearest(bare, true, tool) : NULL;
	bool other_tool = false;
	for (size_t i = 0; i < NOPTS && name[1] == '-'; i++)
		if (du_cfg_opts[i].flag && !strcmp(du_cfg_opts[i].flag, bare) && !(du_cfg_opts[i].tools & tool))
			other_tool = true;
	if (other_tool)
		du_err_hint(err, "'%s' is not an option of %s; try '%s --help'", name, prog, prog);
	else if (near)
		du_err_hint(err, "did you mean '--%s'? try '%s --help'", near, prog);
	else
		du_err_hint(err, "try '%s --help'", prog);
	return DU_ERR_USAGE;
}

static int refuse_secret(int tool, const struct opt *o, struct du_err *err)
{
	du_err_set(err, DU_ERR_USAGE,
		   "'--%s' is not accepted on the command line: other users could read it from the process list",
		   o->flag);
	du_err_hint(err, "set %s in the environment or .env, or '%s' in the config file (-c); see '%s --help'",
		    o->env[0], o->key, du_tool_name(tool));
	return DU_ERR_USAGE;
}

/*
 * getopt pass: collect every option (nothing applied yet, because the file and .env layers
 * named by -c and --env-file sit below the command line). Stops at the first error, except that
 * --help and --version win over a bad option.
 */
int du_cfg_parse_argv(struct du_config *cfg, int tool, int argc, char **argv,
		      struct cli_arg *out, size_t *nout, struct du_err *err)
{
	struct option *longs = NULL;
	char *shorts = NULL;
	int rc = build_getopt(tool, &longs, &shorts, err), c, li;
	struct du_err first = {0};
	size_t n = 0;
	if (rc)
		return rc;
	optind = 0; /* GNU: full re-initialisation, so du_config_load can run more than once */
	opterr = 0;
	while (argc > 1 && argv && (c = getopt_long(argc, argv, shorts, longs, &li)) != -1) {
		int idx = -1;
		if (c == '?' || c == ':') {
			if (first.code)
				continue;
			if (c == '?' && optopt >= LONG_BASE) {
				du_err_set(&first, DU_ERR_USAGE, "option '--%s' does not take a value",
					   du_cfg_opts[optopt - LONG_BASE].flag);
				du_err_hint(&first, "try '%s --help'", du_tool_name(tool));
			} else if (c == '?') {
				unknown_option(tool, optopt, optopt ? NULL : argv[optind - 1], &first);
			} else if (optopt >= LONG_BASE) {
				du_err_set(&first, DU_ERR_USAGE, "option '--%s' requires an argument",
					   du_cfg_opts[optopt - LONG_BASE].flag);
				du_err_hint(&first, "try '%s --help'", du_tool_name(tool));
			} else {
				du_err_set(&first, DU_ERR_USAGE, "option '-%c' requires an argument", optopt);
				du_err_hint(&first, "try '%s --help'", du_tool_name(tool));
			}
			continue;
		}
		idx = c >= LONG_BASE ? c - LONG_BASE : find_short(c, tool);
		if (idx < 0) {
			if (!first.code)
				unknown_option(tool, c, NULL, &first);
			continue;
		}
		if (du_cfg_opts[idx].flags & F_SECRET) {
			if (!first.code)
				refuse_secret(tool, &du_cfg_opts[idx], &first);
			continue;
		}
		if (du_cfg_opts[idx].off == OFF(help) && du_cfg_opts[idx].type == T_BOOL)
			cfg->help = true;
		if (du_cfg_opts[idx].off == OFF(version) && du_cfg_opts[idx].type == T_BOOL)
			cfg->version = true;
		out[n].idx = (size_t)idx;
		out[n].arg = optarg;
		n++;
	}
	free(longs);
	free(shorts);
	if (argc > 1 && argv && optind < argc) {
		cfg->nargs = argc - optind;
		cfg->args = argv + optind;
	}
	if (!first.code && cfg->nargs > 0 && tool != DU_TOOL_MASTER) {
		du_err_set(&first, DU_ERR_USAGE, "unexpected argument '%s'", cfg->args[0]);
		du_err_hint(&first, "try '%s --help'", du_tool_name(tool));
	}
	*nout = n;
	if (first.code && !cfg->help && !cfg->version) {
		*err = first;
		return first.code;
	}
	return DU_OK;
}

/* The last -c / --env-file given, needed before the command line layer is applied. */
const char *du_cfg_cli_value(const struct cli_arg *a, size_t n, size_t off)
{
	const char *v = NULL;
	for (size_t i = 0; i < n; i++)
		if (du_cfg_opts[a[i].idx].off == off && du_cfg_opts[a[i].idx].type == T_STR)
			v = a[i].arg;
	return v;
}

int du_cfg_apply_cli(struct du_config *cfg, const struct cli_arg *a, size_t n, struct du_err *err)
{
	bool *appending = calloc(NOPTS, sizeof(bool));
	int rc = DU_OK;
	if (!appending)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	for (size_t k = 0; k < n && !rc; k++) {
		size_t i = a[k].idx;
		const struct opt *o = &du_cfg_opts[i];
		char src[128];
		snprintf(src, sizeof(src), "flag --%s", o->flag);
		if (o->type == T_QUIET || o->type == T_VERBOSE) {
			int lvl = o->type == T_QUIET ? DU_LOG_ERROR
				  : cfg->log_level < DU_LOG_TRACE ? cfg->log_level + 1 : DU_LOG_TRACE;
			size_t li = (size_t)du_cfg_opt_index("log_level");
			rc = du_cfg_set_text(cfg, li, du_cfg_level_names[lvl], src, err);
		} else if (o->type == T_BOOL && !a[k].arg) {
			rc = du_cfg_set_text(cfg, i, "true", src, err);
		} else if (o->type == T_MAP) {
			/* --tag a=1 --tag b=2: the first replaces the lower layers' map, the rest add. */
			rc = du_cfg_map_add(cfg, i, a[k].arg, appending[i], src, err);
			appending[i] = true;
		} else if (o->type == T_LIST && appending[i]) {
			/* Repeated list flags add up: --exclude '*.tmp' --exclude 'raw_*'. */
			union val v;
			char ***f = du_cfg_field(cfg, o);
			if (!(rc = du_cfg_parse_text(o, a[k].arg, &v, src, err)) &&
			    !(rc = du_cfg_validate(o, &v, src, err))) {
				size_t have = du_cfg_list_len(*f), add = du_cfg_list_len(v.list);
				char **merged = realloc(*f, (have + add + 1) * sizeof(char *));
				if (!merged) {
					du_cfg_free_val(o, &v);
					rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
				} else {
					memcpy(merged + have, v.list, (add + 1) * sizeof(char *));
					free(v.list);
					*f = merged;
				}
			}
		} else {
			rc = du_cfg_set_text(cfg, i, a[k].arg, src, err);
			appending[i] = true;
		}
	}
	free(appending);
	return rc;
}

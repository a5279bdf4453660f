/*
 * config_internal.h (private to src/config/): the option table's row type and what the files of
 * the configuration module share. Every setting is one row of du_cfg_opts (options.c); values are
 * parsed and checked in values.c, the command line read in cmdline.c, help, dumps and the
 * documentation written in help.c, and the layers applied in config.c (see include/du/config.h).
 */
#ifndef DU_CONFIG_INTERNAL_H
#define DU_CONFIG_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "du/config.h"
#include "du/err.h"

enum type {
	T_STR,     /* char * */
	T_INT,     /* long */
	T_I64,     /* int64_t */
	T_DBL,     /* double */
	T_BOOL,    /* bool */
	T_SIZE,    /* uint64_t, "64MiB" */
	T_LIST,    /* char **, comma list or JSON array */
	T_MAP,     /* char **, "key=value" in the order given (split at the first '='), NULL when
		    * empty: a JSON object in the file, the environment (its text) and the stored
		    * JSON; on the command line one KEY=VALUE a flag, repeatable. A key given twice in
		    * one layer is an error; a higher layer replaces the whole map. */
	T_ENUM,    /* int, index into names[] */
	T_LEVEL,   /* int, enum du_log_level */
	T_QUIET,   /* -q: log_level = error */
	T_VERBOSE, /* -v: log_level one step more verbose */
};

enum {
	F_SECRET = 1 << 0,  /* never a flag, redacted in dumps, never stored */
	F_CLI = 1 << 1,     /* command line only: no JSON key, no environment variable */
	F_NOKEY = 1 << 2,   /* an action, not a setting: not dumped (help, version, -q, -v) */
	F_NOSTORE = 1 << 3, /* per invocation: left out of du_config_to_json */
	F_SESSION = 1 << 4, /* defines a session's objects: its stored value beats every layer */
	F_PATH = 1 << 5,    /* the value names a local file (a directory when metavar is DIR) */
};

enum group { G_MAIN, G_DB, G_S3, G_SCAN, G_RUN, G_RETRY, G_TRIGGER, G_MASTER, G_GENERAL, G_N };


#define U DU_TOOL_UPLOAD
#define R DU_TOOL_RETRY
#define T DU_TOOL_TRIGGER
#define M DU_TOOL_MASTER
#define ALL (U | R | T | M)
#define OFF(f) offsetof(struct du_config, f)

union val {
	char *s;
	long l;
	int64_t i;
	double d;
	bool b;
	uint64_t u;
	char **list;
	int e;
};

struct opt;
/* Row-specific normalisation and validation of a parsed value (may rewrite it). */
typedef int (*check_fn)(const struct opt *o, union val *v, const char *src, struct du_err *err);

struct opt {
	const char *key;      /* JSON key, dump key, DU_<KEY> */
	const char *flag;     /* long flag, or NULL */
	char shortc;          /* short flag, or 0 */
	int short_tools;      /* tools where shortc applies (0: all of .tools) */
	int tools;            /* tools this setting is for: flag accepted, shown in --help/dump */
	int required;         /* tools that refuse to start without it */
	const char *env[3];   /* environment names, first set wins; none given: DU_<KEY> */
	enum type type;
	const char *def;      /* default, in the syntax a user would type; NULL = unset */
	int64_t min, max;     /* range for numbers (both 0: none) */
	const char *const *names; /* T_ENUM */
	unsigned flags;
	enum group group;
	const char *metavar;
	const char *help;
	size_t off;
	check_fn check;
};

/* A value the command line gave: the row (index into du_cfg_opts) and its text. */
struct cli_arg {
	size_t idx;
	const char *arg;
};

/* getopt_long's val for a long flag: LONG_BASE + the row's index. */
#define LONG_BASE 1000

extern const struct opt du_cfg_opts[];
extern const size_t du_cfg_nopts;
#define NOPTS du_cfg_nopts
extern const char *const du_cfg_level_names[];

/* options.c: rows and small helpers */
void *du_cfg_field(const struct du_config *cfg, const struct opt *o);
int du_cfg_opt_index(const char *key);
bool du_cfg_is_key(const struct opt *o);
bool du_cfg_is_setting(const struct opt *o);
int du_cfg_short_tools(const struct opt *o);
bool du_cfg_has_flag(const struct opt *o, int tool);
int du_cfg_env_names(const struct opt *o, const char *out[3], char *buf, size_t bufsz);
bool du_cfg_is_list(const struct opt *o);
void du_cfg_free_list(char **list);
void du_cfg_free_secret(char *s);
void du_cfg_free_val(const struct opt *o, union val *v);
size_t du_cfg_list_len(char **list);
const char *du_cfg_nearest(const char *s, bool want_flag, int tool);
void du_cfg_format_size(uint64_t v, char *buf, size_t n);
const char *du_cfg_type_expect(const struct opt *o);

/* values.c: one value parsed, checked and stored */
const char *du_cfg_shown(const struct opt *o, const char *s);
int du_cfg_parse_text(const struct opt *o, const char *s, union val *v, const char *src, struct du_err *err);
int du_cfg_parse_json(const struct opt *o, const cJSON *item, union val *v, const char *src, struct du_err *err);
int du_cfg_validate(const struct opt *o, union val *v, const char *src, struct du_err *err);
int du_cfg_store(struct du_config *cfg, size_t idx, union val *v, const char *src, struct du_err *err);
int du_cfg_set_text(struct du_config *cfg, size_t idx, const char *text, const char *src, struct du_err *err);
int du_cfg_map_add(struct du_config *cfg, size_t idx, const char *pair, bool append, const char *src,
		   struct du_err *err);

/* cmdline.c: the command line */
int du_cfg_parse_argv(struct du_config *cfg, int tool, int argc, char **argv, struct cli_arg *out, size_t *nout, struct du_err *err);
const char *du_cfg_cli_value(const struct cli_arg *a, size_t n, size_t off);
int du_cfg_apply_cli(struct du_config *cfg, const struct cli_arg *a, size_t n, struct du_err *err);

/* config.c */

#endif

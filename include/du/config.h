/*
 * config.h: du's configuration, driven by one option table.
 *
 * Every setting is one row of the table in src/config/options.c: its JSON key, long flag, short flag
 * (per tool), environment variable, type, default, range, whether it is a secret, and its help
 * text. That row drives getopt_long, the environment, the JSON file, .env, defaults, validation,
 * --help and --dump-config. Precedence, lowest first:
 *
 *     defaults < JSON file (-c) < .env file < environment < command line
 *
 * .env is read from the working directory (or --env-file) and never overrides a variable that is
 * already set in the environment. Validation runs before any side effect; each error names the
 * key, where its value came from ("config.json:7", "env DB_PORT", "flag --max-workers") and what
 * was expected.
 *
 *     struct du_config cfg;
 *     struct du_err err = {0};
 *     int rc = du_config_load(&cfg, DU_TOOL_UPLOAD, argc, argv, &err);
 *     if (rc)
 *         return du_err_report(&err);           // exit 2 for usage, 3 for config
 *     if (cfg.help) { du_config_usage(DU_TOOL_UPLOAD, stdout); ... }
 *     ...
 *     du_config_release(&cfg);
 *
 * Strings in struct du_config are owned by it (NULL when unset); lists are NULL-terminated. Maps
 * (tags, metadata) are lists of "key=value" strings, split at the first '=', in the order given.
 */
#ifndef DU_CONFIG_H
#define DU_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "du/dotenv.h"   /* the .env layer du_config_load applies; tests reach it from here */
#include "du/err.h"
#include "du/progress.h" /* enum du_progress_mode */

/* Which tool parses: an option row lists the tools that accept its flag. */
enum du_tool {
	DU_TOOL_UPLOAD = 1 << 0,
	DU_TOOL_RETRY = 1 << 1,
	DU_TOOL_TRIGGER = 1 << 2,
	DU_TOOL_MASTER = 1 << 3,
};

enum du_addressing { DU_ADDR_AUTO = 0, DU_ADDR_PATH, DU_ADDR_VIRTUAL };
enum du_cutoff_mode { DU_CUTOFF_HARD = 0, DU_CUTOFF_SOFT };

struct du_config {
	/* Python tool's keys, same meaning and defaults. */
	char *local_directory;        /* required for upload/master; must be a directory */
	char *bucket_name;            /* required for upload/master */
	char *s3_prefix;              /* required for upload/master; stored without leading/trailing '/' */
	long max_workers;             /* 15, 1..1000 */
	char *aws_region;             /* "eu-west-1" unless AWS_REGION/AWS_DEFAULT_REGION/profile say otherwise */
	long times_to_retry;          /* 3: per-file attempts within one upload run */
	char *aws_profile;            /* "default" */
	bool aws_profile_explicit;    /* set by key, flag or AWS_PROFILE (not by the default) */
	bool use_find;                /* true; "yes"/"true"/"1" mean true */
	char *endpoint_url;           /* the webhook URL (du-trigger, du-master) */

	/* Database: DATABASE_URL, else DB_*, else libpq PG*; nothing at all -> private cluster. */
	char *database_url;           /* secret: may hold a password */
	char *db_host;                /* "localhost" */
	long db_port;                 /* 5432 */
	char *db_name;                /* "data_uploader" */
	char *db_user;                /* "uploader" */
	char *db_password;            /* secret */
	bool db_configured;           /* any database setting came from a non-default layer */

	/* S3 client. */
	char *s3_endpoint;            /* s3_endpoint, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL */
	int s3_addressing;            /* enum du_addressing */
	uint64_t multipart_threshold; /* 64 MiB; sizes accept "64MiB", "8M", plain bytes */
	uint64_t multipart_chunk_size;/* 16 MiB, >= 5 MiB */
	char *storage_class;          /* optional */
	char *sse;                    /* NULL, "AES256" or "aws:kms" */
	char *sse_kms_key_id;         /* with sse=aws:kms */
	char **tags;                  /* S3 object tags: "key=value" in order (split at the first '='),
	                               * NULL-terminated; NULL when none (du_config_tagging) */
	char **metadata;              /* user metadata (x-amz-meta-KEY: VALUE): "key=value" likewise,
	                               * keys lowercased; NULL when none */
	bool sensor_metadata;         /* --sensor-metadata: the recorder's facts from file headers as
	                               * x-amz-meta-du-* and file_uploads.sensor (sensor.h); true */
	char *ca_bundle;              /* PEM CA file for S3 (DU_CA_BUNDLE, AWS_CA_BUNDLE); NULL: system's */
	bool payload_signing;         /* false: UNSIGNED-PAYLOAD + Content-MD5 */
	int checksum_algorithm;       /* enum du_cksum_alg (checksum.h), auto */
	long retry_base_ms;           /* 100 */
	long retry_cap_ms;            /* 20000 */
	long connect_timeout;         /* seconds, 10 */
	long request_timeout;         /* seconds without progress before a transfer is abandoned, 60 */

	/* Scanner. */
	char **extensions;            /* default: wav jpg jpeg mp4 mov avi (case-insensitive) */
	char **exclude;               /* globs; default: "._*" and ".*" */
	bool follow_symlinks;         /* false */

	/* Upload run. */
	bool dry_run;
	bool checksum, size_only, trust_db;   /* the sync decision's mode (exclusive) */
	int64_t resume_session;       /* --resume SESSION, 0 = new session */
	int64_t join_session;         /* --join SESSION, 0 = none */
	bool new_session;             /* --new-session: never join a live run of the same job */
	int progress;                 /* enum du_progress_mode */
	char *bwlimit;                /* --bwlimit: a rate or a timetable (bwlimit.h); NULL: no cap */
	char *max_duration;           /* --max-duration: the upload window (du_parse_duration); NULL: none */
	int cutoff_mode;              /* enum du_cutoff_mode: what the end of the window does */
	char *budget;                 /* --budget: SIZE/PERIOD (budget.h); NULL: none */
	int suspect_policy;           /* --suspect: enum du_suspect_policy (suspect.h), upload */
	int stale_uploads;            /* --stale-uploads: 0 none, 1 list, 2 abort */

	/* du-retry. */
	int64_t session_id;           /* -s; required for retry and trigger */
	long max_attempts;            /* 3 */
	double delay;                 /* 5 s */
	bool auto_retry;
	long max_rounds;              /* 3 */
	bool list;                    /* --list */

	/* du-trigger. */
	long timeout;                 /* 30 s */
	char *endpoint_api_key;       /* secret, DU_ENDPOINT_API_KEY */
	char *endpoint_api_key_header;/* "api_key" */
	char *endpoint_secret;        /* secret, DU_ENDPOINT_SECRET: HMAC-SHA256 signing */
	char *endpoint_ca_bundle;     /* PEM CA file for the webhook; NULL: the system's */
	bool list_files;

	/* du-master. */
	bool skip_retry;
	bool skip_endpoint;
	bool json;                    /* status: --json */
	bool deep;                    /* verify --deep: md5 of the local files too */
	char *manifest;               /* verify --manifest PREFIX: PREFIX.csv and PREFIX.jsonl */

	/* General. */
	char *config_file;            /* -c */
	char *env_file;               /* --env-file */
	char *log_file;
	int log_level;                /* enum du_log_level after -q/-v/DU_LOG_LEVEL */
	char *metrics_file;
	bool dump_config;
	bool help;
	bool version;

	/* Positional arguments left after the options (du-master subcommands). Borrowed from argv. */
	int nargs;
	char **args;

	/* Private: where each option's value came from, indexed like the option table. */
	char **sources;
};

/*
 * Parse all layers for tool into cfg (which this initialises). On failure cfg holds nothing
 * that needs releasing and err says which key, where from, and what was expected:
 * DU_ERR_USAGE for a bad flag (unknown, missing argument, a secret given as a flag, a
 * positional argument to a tool other than du-master), DU_ERR_CONFIG for a bad value or file.
 * --help and --version only set cfg->help / cfg->version: no file, .env or environment is read
 * and nothing is checked, so help always shows. With --dump-config every value is still parsed
 * and range-checked, but missing required settings and local_directory are not checked (the
 * dump is how a user finds out what is missing).
 * Flags: the first use of a list flag (--exclude, --extensions) or a map flag (--tag,
 * --metadata: KEY=VALUE) replaces the lower layers' list or map, later uses append. -d means
 * --local-directory for du-upload/du-master, --delay for du-retry.
 * Note: .env variables are setenv()'d into the process even if loading fails later.
 */
int du_config_load(struct du_config *cfg, int tool, int argc, char **argv, struct du_err *err);

/* Like du_config_load's file layer alone: apply a stored config JSON (config_history) on top of
 * the defaults, for du-retry to reuse the settings a session was made with. Secrets are never in
 * stored JSON; they come from the current environment.
 * cfg is either zeroed (it is then initialised with the defaults, see du_config_init) or already
 * loaded: only settings still at their default are taken from json, so the current environment
 * and flags keep winning. Values are validated like a file's (err names origin); keys this
 * version does not know, secrets and per-invocation settings in json are ignored. The source of
 * each value taken is origin (e.g. "config_history of session 42"). aws_profile_explicit and
 * db_configured are not changed.
 * Exception: the settings that define where a session's objects are and what they look like
 * (local_directory, bucket_name, s3_prefix, aws_region, s3_endpoint, s3_addressing, the multipart
 * threshold and chunk size, storage_class, sse, sse_kms_key_id, tags, metadata) are always taken
 * from json when present there (null included; a session without tags stored {}), whatever layer
 * set them in cfg: a retry must not send a session's files to another bucket because today's .env
 * says so. */
int du_config_apply_json(struct du_config *cfg, const char *json, const char *origin, struct du_err *err);

/* A deep copy of base (the tool's own configuration) with the stored configuration of
 * session_id applied as du_config_apply_json does (origin "config_history of session N");
 * config_json NULL: a plain copy. *out is written only on success; release it separately. */
int du_config_derive(struct du_config *out, const struct du_config *base, const char *config_json,
		     int64_t session_id, struct du_err *err);

void du_config_release(struct du_config *cfg);

/* --help text for tool. */
void du_config_usage(int tool, FILE *out);

/* Effective configuration as JSON: {"key": {"value": ..., "source": "..."}, ...}, secrets "***". */
char *du_config_dump_json(const struct du_config *cfg, int tool);
/* Effective configuration as a flat JSON object without any secret, for config_history: every
 * setting except secrets and per-invocation ones (dry_run, resume/join/session ids, progress,
 * log and metrics files, log_level, --list...). Unset strings are null. Caller frees. */
char *du_config_to_json(const struct du_config *cfg);
/* Where key's value came from: "default", "FILE:LINE", ".env:LINE", "env NAME", "flag --x". */
const char *du_config_source(const struct du_config *cfg, const char *key);

/*
 * Parse "64MiB", "8M", "1G", "512KiB", "5242880" (base 1024; "MB" and "M" mean MiB, as the
 * Python tool counted in base 1024 too). Suffixes are case-insensitive, a space before them is
 * allowed. Returns DU_OK and writes *out, or DU_ERR_CONFIG for garbage, a sign or overflow.
 */
int du_parse_size(const char *s, uint64_t *out);

/*
 * A duration as max_duration takes it: numbers with units, "90m", "2h", "1h30m", "45s", "1d",
 * "1.5h" (ms, s, m, h, d; a bare number is seconds); "0" or "off" is none. Returns DU_OK and
 * writes *seconds, or DU_ERR_CONFIG for garbage, a sign or an unknown unit.
 */
int du_parse_duration(const char *s, double *seconds);

/* "42" -> 42; anything else is DU_ERR_USAGE naming the argument. */
int du_parse_session_id(const char *s, int64_t *out, struct du_err *err);

/*
 * The value of S3's x-amz-tagging header for tags (cfg->tags): "k1=v1&k2=v2", each key and value
 * percent-encoded as RFC 3986 says (A-Z a-z 0-9 - . _ ~ kept, every other byte %XX in upper case,
 * a space %20); "" when tags is NULL or empty. Like snprintf: writes at most n bytes including the
 * NUL (out may be NULL when n is 0) and returns the length the whole value needs:
 *
 *     size_t need = du_config_tagging(cfg->tags, NULL, 0);
 *     char *hdr = malloc(need + 1);
 *     du_config_tagging(cfg->tags, hdr, need + 1);
 *
 * (Within S3's limits the value stays under 46,100 bytes: 10 tags of 128 + 256 characters of up
 * to 4 bytes, each byte 3 when encoded.)
 */
size_t du_config_tagging(char **tags, char *out, size_t n);
/* tags: at most this many bytes as the x-amz-tagging header, percent-encoded */
#define DU_TAGGING_MAX 4096
/* metadata: at most this many keys (their bytes: at most 1,536, S3's 2 KiB less du's own keys) */
#define DU_METADATA_KEYS_MAX 64

/* Additions beyond the original contract. */

/* Defaults only (no file, environment or flags): what du_config_load starts from. cfg must be
 * zeroed or released. For du_config_apply_json on a fresh struct. */
int du_config_init(struct du_config *cfg, struct du_err *err);

/* "du-upload", "du-retry", "du-trigger", "du-master" ("du" for anything else). */
const char *du_tool_name(int tool);

/* The configuration reference (docs/CONFIG.md), generated from the option table. */
void du_config_reference_markdown(FILE *out);

/*
 * The option table as documentation generators see it (scripts/man-page.c writes the man pages,
 * scripts/bash-completion.c the bash completion), so that neither keeps a list of its own:
 *
 *     struct du_option_doc d;
 *     for (size_t i = 0; i < du_config_option_count(); i++)
 *         if (du_config_option_doc(i, DU_TOOL_RETRY, &d) && d.flag)
 *             printf("--%s\n", d.flag);
 *
 * Strings are borrowed from the table (static).
 */
struct du_option_doc {
	const char *key;            /* config file key, DU_<KEY>; NULL for actions (--help, -v) */
	const char *flag;           /* long flag without "--"; NULL for secrets (never a flag) */
	char shortc;                /* short flag in this tool, 0 when none */
	const char *metavar;        /* the flag's argument; NULL when it takes none */
	bool arg_optional;          /* booleans: "--flag" means true, "--flag=BOOL" sets it */
	const char *env[3];         /* environment variables, first set wins; NULL-padded (may
	                             * point into env_buf: the doc is not to be copied) */
	const char *def;            /* default as a user would type it; NULL when none shown */
	const char *const *values;  /* the accepted words of an enum, NULL-terminated; else NULL */
	const char *type;           /* "string", "integer", "number", "boolean", "size", "list", "map", "enum" */
	char range[48];             /* "1..1000", "5MiB..5GiB", ">= 1"; "" when unbounded */
	const char *help;
	const char *group;          /* the --help heading it is listed under */
	int group_no;               /* --help lists groups in this order, from 0 */
	bool required;              /* this tool refuses to start without it */
	bool secret;                /* environment, .env or config file only */
	bool cli_only;              /* command line only: no key in the file, no variable */
	char path;                  /* the value is a local path: 'f' a file, 'd' a directory; else 0 */
	char env_buf[48];
};
size_t du_config_option_count(void);
/* Option i as tool sees it: false (doc untouched) when tool does not take it. */
bool du_config_option_doc(size_t i, int tool, struct du_option_doc *doc);
/* The usage line after the tool's name ("[OPTION]...") and the one-line summary of --help. */
const char *du_config_synopsis(int tool);
const char *du_config_summary(int tool);

#endif

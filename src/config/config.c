/*
 * config.c: every setting of du is one row of opts[] below, and everything else (getopt_long's
 * tables, --help, environment names, JSON keys, defaults, ranges, --dump-config, the reference
 * in docs/CONFIG.md) is derived from that table.
 *
 * Layers are applied in order into one struct du_config, each value remembering where it came
 * from (cfg->sources, indexed like opts[]): defaults, the JSON file (-c), .env, the environment,
 * the command line. Defaults are strings parsed by the same code as every other layer, so a
 * default can never be something a user could not have typed.
 */
#include "du/config.h"

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

enum type {
	T_STR,     /* char * */
	T_INT,     /* long */
	T_I64,     /* int64_t */
	T_DBL,     /* double */
	T_BOOL,    /* bool */
	T_SIZE,    /* uint64_t, "64MiB" */
	T_LIST,    /* char **, comma list or JSON array */
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

static const char *const group_names[G_N] = {
	"Main options (Python tool compatible)", "Database", "S3 and network", "Scanning", "Upload run",
	"Retry", "Webhook", "Master", "General",
};

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

static int check_prefix(const struct opt *, union val *, const char *, struct du_err *);
static int check_bucket(const struct opt *, union val *, const char *, struct du_err *);
static int check_region(const struct opt *, union val *, const char *, struct du_err *);
static int check_url(const struct opt *, union val *, const char *, struct du_err *);
static int check_sse(const struct opt *, union val *, const char *, struct du_err *);
static int check_storage_class(const struct opt *, union val *, const char *, struct du_err *);
static int check_extensions(const struct opt *, union val *, const char *, struct du_err *);
static int check_patterns(const struct opt *, union val *, const char *, struct du_err *);
static int check_header(const struct opt *, union val *, const char *, struct du_err *);
static int check_dir(const struct opt *, union val *, const char *, struct du_err *);
static int check_file(const struct opt *, union val *, const char *, struct du_err *);

static const char *const addressing_names[] = { "auto", "path", "virtual", NULL };
/* in the order of enum du_cksum_alg (checksum.h) */
static const char *const checksum_names[] = { "auto", "none", "md5", "crc32", "crc32c", "crc64nvme", "sha256",
					      NULL };
static const char *const stale_names[] = { "none", "list", "abort", NULL };
static const char *const progress_names[] = { "auto", "tty", "plain", "json", "none", NULL };
static const char *const level_names[] = { "error", "warn", "info", "debug", NULL };

static const struct opt opts[] = {
	/* The Python tool's keys. */
	{ .key = "local_directory", .flag = "local-directory", .shortc = 'd', .tools = U | M,
	  .required = U | M, .type = T_STR, .flags = F_SESSION | F_PATH, .group = G_MAIN, .metavar = "DIR",
	  .help = "directory tree to upload", .off = OFF(local_directory),
	  .check = check_dir },
	{ .key = "bucket_name", .flag = "bucket-name", .shortc = 'b', .tools = U | M,
	  .required = U | M, .type = T_STR, .flags = F_SESSION, .group = G_MAIN,
	  .metavar = "NAME", .help = "S3 bucket to upload into", .off = OFF(bucket_name),
	  .check = check_bucket },
	{ .key = "s3_prefix", .flag = "s3-prefix", .shortc = 'p', .tools = U | M,
	  .required = U | M, .type = T_STR, .flags = F_SESSION, .group = G_MAIN,
	  .metavar = "PREFIX", .help = "key prefix in the bucket, without '/' at either end",
	  .off = OFF(s3_prefix), .check = check_prefix },
	{ .key = "max_workers", .flag = "max-workers", .shortc = 'w', .tools = U | R | M,
	  .short_tools = U | M, .type = T_INT, .def = "15", .min = 1, .max = 1000,
	  .group = G_MAIN, .metavar = "N", .help = "parallel upload workers",
	  .off = OFF(max_workers) },
	{ .key = "aws_region", .flag = "aws-region", .tools = U | M,
	  .env = { "AWS_REGION", "AWS_DEFAULT_REGION" }, .type = T_STR, .def = "eu-west-1",
	  .flags = F_SESSION, .group = G_MAIN, .metavar = "REGION", .help = "AWS region of the bucket",
	  .off = OFF(aws_region), .check = check_region },
	{ .key = "times_to_retry", .flag = "times-to-retry", .tools = U | R | M, .type = T_INT,
	  .def = "3", .min = 0, .max = 100, .group = G_MAIN, .metavar = "N",
	  .help = "retries of a failing file within one upload run", .off = OFF(times_to_retry) },
	{ .key = "aws_profile", .flag = "aws-profile", .tools = U | R | M, .env = { "AWS_PROFILE" },
	  .type = T_STR, .def = "default", .group = G_MAIN, .metavar = "NAME",
	  .help = "profile in ~/.aws/credentials and ~/.aws/config", .off = OFF(aws_profile) },
	{ .key = "use_find", .flag = "use-find", .tools = U | M, .type = T_BOOL, .def = "true",
	  .group = G_MAIN, .metavar = "BOOL", .help = "scan with find(1) instead of the built-in walker",
	  .off = OFF(use_find) },
	{ .key = "endpoint_url", .flag = "endpoint-url", .shortc = 'e', .tools = T | M,
	  .required = T, .env = { "DU_ENDPOINT_URL" }, .type = T_STR, .group = G_MAIN,
	  .metavar = "URL", .help = "webhook told by HTTP POST that a session is done",
	  .off = OFF(endpoint_url), .check = check_url },

	/* Database. */
	{ .key = "database_url", .flag = "database-url", .tools = ALL, .env = { "DATABASE_URL" },
	  .type = T_STR, .flags = F_SECRET, .group = G_DB, .metavar = "URL",
	  .help = "libpq connection URI or string; wins over db_host and the rest",
	  .off = OFF(database_url) },
	{ .key = "db_host", .flag = "db-host", .tools = ALL, .env = { "DB_HOST" }, .type = T_STR,
	  .def = "localhost", .group = G_DB, .metavar = "HOST", .help = "PostgreSQL host",
	  .off = OFF(db_host) },
	{ .key = "db_port", .flag = "db-port", .tools = ALL, .env = { "DB_PORT" }, .type = T_INT,
	  .def = "5432", .min = 1, .max = 65535, .group = G_DB, .metavar = "PORT",
	  .help = "PostgreSQL port", .off = OFF(db_port) },
	{ .key = "db_name", .flag = "db-name", .tools = ALL, .env = { "DB_NAME" }, .type = T_STR,
	  .def = "data_uploader", .group = G_DB, .metavar = "NAME", .help = "database name",
	  .off = OFF(db_name) },
	{ .key = "db_user", .flag = "db-user", .tools = ALL, .env = { "DB_USER" }, .type = T_STR,
	  .def = "uploader", .group = G_DB, .metavar = "USER", .help = "database user",
	  .off = OFF(db_user) },
	{ .key = "db_password", .flag = "db-password", .tools = ALL, .env = { "DB_PASSWORD" },
	  .type = T_STR, .flags = F_SECRET, .group = G_DB, .metavar = "PASSWORD",
	  .help = "database password", .off = OFF(db_password) },

	/* S3 client. */
	{ .key = "s3_endpoint", .flag = "s3-endpoint", .tools = U | M,
	  .env = { "DU_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL" }, .type = T_STR, .flags = F_SESSION,
	  .group = G_S3,
	  .metavar = "URL", .help = "S3-compatible endpoint instead of AWS",
	  .off = OFF(s3_endpoint), .check = check_url },
	{ .key = "s3_addressing", .flag = "addressing", .tools = U | M, .type = T_ENUM,
	  .names = addressing_names, .def = "auto", .flags = F_SESSION,
	  .group = G_S3, .metavar = "auto|path|virtual",
	  .help = "bucket in the host name (virtual) or in the path", .off = OFF(s3_addressing) },
	{ .key = "multipart_threshold", .flag = "multipart-threshold", .tools = U | M,
	  .type = T_SIZE, .def = "64MiB", .min = 5LL << 20, .max = 5LL << 30, .flags = F_SESSION,
	  .group = G_S3,
	  .metavar = "SIZE", .help = "files at least this large are uploaded in parts",
	  .off = OFF(multipart_threshold) },
	{ .key = "multipart_chunk_size", .flag = "multipart-chunk-size", .tools = U | M,
	  .type = T_SIZE, .def = "16MiB", .min = 5LL << 20, .max = 5LL << 30, .flags = F_SESSION,
	  .group = G_S3,
	  .metavar = "SIZE", .help = "size of one part of a multipart upload",
	  .off = OFF(multipart_chunk_size) },
	{ .key = "storage_class", .flag = "storage-class", .tools = U | M, .type = T_STR,
	  .flags = F_SESSION,
	  .group = G_S3, .metavar = "CLASS", .help = "S3 storage class (e.g. STANDARD_IA)",
	  .off = OFF(storage_class), .check = check_storage_class },
	{ .key = "sse", .flag = "sse", .tools = U | M, .type = T_STR, .flags = F_SESSION,
	  .group = G_S3,
	  .metavar = "AES256|aws:kms", .help = "server-side encryption", .off = OFF(sse),
	  .check = check_sse },
	{ .key = "sse_kms_key_id", .flag = "sse-kms-key-id", .tools = U | M, .type = T_STR,
	  .flags = F_SESSION, .group = G_S3, .metavar = "ID", .help = "KMS key for sse=aws:kms",
	  .off = OFF(sse_kms_key_id) },
	{ .key = "ca_bundle", .flag = "ca-bundle", .tools = U | R | M,
	  .env = { "DU_CA_BUNDLE", "AWS_CA_BUNDLE" }, .type = T_STR, .flags = F_PATH, .group = G_S3,
	  .metavar = "FILE", .help = "PEM file of the CA certificates that verify the S3 endpoint",
	  .off = OFF(ca_bundle), .check = check_file },
	{ .key = "payload_signing", .flag = "payload-signing", .tools = U | R | M, .type = T_BOOL,
	  .def = "false", .group = G_S3, .metavar = "BOOL",
	  .help = "sign the body's SHA-256 instead of UNSIGNED-PAYLOAD + Content-MD5",
	  .off = OFF(payload_signing) },
	{ .key = "checksum_algorithm", .flag = "checksum-algorithm", .tools = U | R | M,
	  .env = { "DU_CHECKSUM_ALGORITHM" }, .type = T_ENUM, .names = checksum_names, .def = "auto",
	  .group = G_S3, .metavar = "ALG",
	  .help = "checksum S3 verifies: auto (CRC32C where the server checks it, else Content-MD5), "
		  "crc32c, crc32, crc64nvme, sha256, md5, or none (unsafe: nothing checked)",
	  .off = OFF(checksum_algorithm) },
	{ .key = "retry_base_ms", .flag = "retry-base-ms", .tools = U | R | T | M, .type = T_INT,
	  .def = "100", .min = 1, .max = 60000, .group = G_S3, .metavar = "MS",
	  .help = "first back-off delay of a retried request", .off = OFF(retry_base_ms) },
	{ .key = "retry_cap_ms", .flag = "retry-cap-ms", .tools = U | R | T | M, .type = T_INT,
	  .def = "20000", .min = 1, .max = 3600000, .group = G_S3, .metavar = "MS",
	  .help = "longest back-off delay", .off = OFF(retry_cap_ms) },
	{ .key = "connect_timeout", .flag = "connect-timeout", .tools = U | R | T | M,
	  .type = T_INT, .def = "10", .min = 1, .max = 600, .group = G_S3, .metavar = "SECONDS",
	  .help = "TCP/TLS connect timeout", .off = OFF(connect_timeout) },
	{ .key = "request_timeout", .flag = "request-timeout", .tools = U | R | M, .type = T_INT,
	  .def = "60", .min = 1, .max = 86400, .group = G_S3, .metavar = "SECONDS",
	  .help = "abandon a transfer after this long without progress",
	  .off = OFF(request_timeout) },

	/* Scanner. */
	{ .key = "extensions", .flag = "extensions", .tools = U | M, .type = T_LIST,
	  .def = "wav,jpg,jpeg,mp4,mov,avi", .group = G_SCAN, .metavar = "LIST",
	  .help = "file extensions to upload, case-insensitive", .off = OFF(extensions),
	  .check = check_extensions },
	{ .key = "exclude", .flag = "exclude", .tools = U | M, .type = T_LIST, .def = "._*,.*",
	  .group = G_SCAN, .metavar = "GLOB",
	  .help = "skip names matching these globs (repeatable or comma list)",
	  .off = OFF(exclude), .check = check_patterns },
	{ .key = "follow_symlinks", .flag = "follow-symlinks", .tools = U | M, .type = T_BOOL,
	  .def = "false", .group = G_SCAN, .metavar = "BOOL", .help = "follow symbolic links",
	  .off = OFF(follow_symlinks) },

	/* Upload run. */
	{ .key = "dry_run", .flag = "dry-run", .tools = U | T | M, .type = T_BOOL, .def = "false",
	  .flags = F_NOSTORE, .group = G_RUN, .metavar = "BOOL",
	  .help = "change nothing: no S3 writes, no database rows, no webhook call",
	  .off = OFF(dry_run) },
	{ .key = "resume_session", .flag = "resume", .tools = U | M, .type = T_I64, .min = 1,
	  .max = INT64_MAX, .flags = F_NOSTORE, .group = G_RUN, .metavar = "SESSION",
	  .help = "continue this session instead of starting a new one",
	  .off = OFF(resume_session) },
	{ .key = "join_session", .flag = "join", .tools = U | M, .type = T_I64, .min = 1,
	  .max = INT64_MAX, .flags = F_NOSTORE, .group = G_RUN, .metavar = "SESSION",
	  .help = "work on this session alongside another running uploader",
	  .off = OFF(join_session) },
	{ .key = "new_session", .flag = "new-session", .tools = U | M, .type = T_BOOL, .def = "false",
	  .flags = F_NOSTORE, .group = G_RUN, .metavar = "BOOL",
	  .help = "start a session of its own even when a run of the same job is live (default: work on that one)",
	  .off = OFF(new_session) },
	{ .key = "stale_uploads", .flag = "stale-uploads", .tools = U, .type = T_ENUM,
	  .names = stale_names, .def = "none", .flags = F_NOSTORE, .group = G_RUN,
	  .metavar = "list|abort",
	  .help = "list the multipart uploads under the prefix (or abort those du cannot continue), then exit",
	  .off = OFF(stale_uploads) },
	{ .key = "checksum", .flag = "checksum", .tools = U | M, .type = T_BOOL, .def = "false",
	  .group = G_RUN, .metavar = "BOOL",
	  .help = "hash every file S3 lists with the same size and compare (a proof run: slower)",
	  .off = OFF(checksum) },
	{ .key = "size_only", .flag = "size-only", .tools = U | M, .type = T_BOOL, .def = "false",
	  .group = G_RUN, .metavar = "BOOL",
	  .help = "skip every file S3 lists with the same size (the Python tool's rule)",
	  .off = OFF(size_only) },
	{ .key = "trust_db", .flag = "trust-db", .tools = U | M, .type = T_BOOL, .def = "false",
	  .group = G_RUN, .metavar = "BOOL",
	  .help = "do not list the bucket: decide from du's rows alone", .off = OFF(trust_db) },
	{ .key = "progress", .flag = "progress", .tools = U | R | M, .type = T_ENUM,
	  .names = progress_names, .def = "auto", .flags = F_NOSTORE, .group = G_RUN,
	  .metavar = "auto|tty|plain|json|none", .help = "progress display", .off = OFF(progress) },

	/* du-retry. */
	{ .key = "session_id", .flag = "session-id", .shortc = 's', .tools = R | T,
	  .required = R | T, .type = T_I64, .min = 1, .max = INT64_MAX, .flags = F_NOSTORE,
	  .group = G_MAIN, .metavar = "SESSION", .help = "session to work on",
	  .off = OFF(session_id) },
	{ .key = "max_attempts", .flag = "max-attempts", .shortc = 'm', .tools = R | M,
	  .short_tools = R, .type = T_INT, .def = "3", .min = 1, .max = 100, .group = G_RETRY,
	  .metavar = "N", .help = "attempts per failed file in one round",
	  .off = OFF(max_attempts) },
	{ .key = "delay", .flag = "delay", .shortc = 'd', .tools = R | M, .short_tools = R,
	  .type = T_DBL, .def = "5", .min = 0, .max = 3600, .group = G_RETRY,
	  .metavar = "SECONDS", .help = "pause between retry rounds", .off = OFF(delay) },
	{ .key = "auto_retry", .flag = "auto-retry", .shortc = 'a', .tools = R, .type = T_BOOL,
	  .def = "false", .flags = F_NOSTORE, .group = G_RETRY, .metavar = "BOOL",
	  .help = "keep retrying in rounds until nothing fails or max_rounds is reached",
	  .off = OFF(auto_retry) },
	{ .key = "max_rounds", .flag = "max-rounds", .shortc = 'r', .tools = R | M,
	  .short_tools = R, .type = T_INT, .def = "3", .min = 1, .max = 100, .group = G_RETRY,
	  .metavar = "N", .help = "retry rounds with --auto-retry", .off = OFF(max_rounds) },
	{ .key = "list", .flag = "list", .tools = R, .type = T_BOOL, .def = "false",
	  .flags = F_CLI | F_NOSTORE, .group = G_RETRY, .help = "list the failed files and exit",
	  .off = OFF(list) },

	/* du-trigger. */
	{ .key = "timeout", .flag = "timeout", .shortc = 't', .tools = T | M, .short_tools = T,
	  .type = T_INT, .def = "30", .min = 1, .max = 3600, .group = G_TRIGGER,
	  .metavar = "SECONDS", .help = "webhook request timeout", .off = OFF(timeout) },
	{ .key = "endpoint_api_key", .flag = "endpoint-api-key", .tools = T | M,
	  .env = { "DU_ENDPOINT_API_KEY" }, .type = T_STR, .flags = F_SECRET, .group = G_TRIGGER,
	  .metavar = "KEY", .help = "API key sent to the webhook in endpoint_api_key_header",
	  .off = OFF(endpoint_api_key) },
	{ .key = "endpoint_api_key_header", .flag = "endpoint-api-key-header", .tools = T | M,
	  .type = T_STR, .def = "api_key", .group = G_TRIGGER, .metavar = "NAME",
	  .help = "header carrying the API key", .off = OFF(endpoint_api_key_header),
	  .check = check_header },
	{ .key = "endpoint_secret", .flag = "endpoint-secret", .tools = T | M,
	  .env = { "DU_ENDPOINT_SECRET" }, .type = T_STR, .flags = F_SECRET, .group = G_TRIGGER,
	  .metavar = "SECRET", .help = "HMAC-SHA256 key signing the webhook body",
	  .off = OFF(endpoint_secret) },
	{ .key = "endpoint_ca_bundle", .flag = "endpoint-ca-bundle", .tools = T | M,
	  .env = { "DU_ENDPOINT_CA_BUNDLE" }, .type = T_STR, .flags = F_PATH, .group = G_TRIGGER,
	  .metavar = "FILE", .help = "PEM file of the CA certificates that verify the webhook endpoint",
	  .off = OFF(endpoint_ca_bundle), .check = check_file },
	{ .key = "list_files", .flag = "list-files", .tools = T, .type = T_BOOL, .def = "false",
	  .flags = F_CLI | F_NOSTORE, .group = G_TRIGGER,
	  .help = "include the session's file list in the payload", .off = OFF(list_files) },

	/* du-master. */
	{ .key = "skip_retry", .flag = "skip-retry", .tools = M, .type = T_BOOL, .def = "false",
	  .flags = F_NOSTORE, .group = G_MASTER, .metavar = "BOOL",
	  .help = "do not retry failed files", .off = OFF(skip_retry) },
	{ .key = "skip_endpoint", .flag = "skip-endpoint", .tools = M, .type = T_BOOL,
	  .def = "false", .flags = F_NOSTORE, .group = G_MASTER, .metavar = "BOOL",
	  .help = "do not call the webhook", .off = OFF(skip_endpoint) },
	{ .key = "json", .flag = "json", .tools = M, .type = T_BOOL, .def = "false",
	  .flags = F_CLI | F_NOSTORE, .group = G_MASTER,
	  .help = "status: print JSON instead of text", .off = OFF(json) },
	{ .key = "deep", .flag = "deep", .tools = M, .type = T_BOOL, .def = "false",
	  .flags = F_CLI | F_NOSTORE, .group = G_MASTER,
	  .help = "verify: also compare the md5 of every local file still there", .off = OFF(deep) },
	{ .key = "manifest", .flag = "manifest", .tools = M, .type = T_STR,
	  .flags = F_CLI | F_NOSTORE | F_PATH, .group = G_MASTER, .metavar = "PREFIX",
	  .help = "verify: write PREFIX.csv and PREFIX.jsonl (default du-manifest-SESSION)",
	  .off = OFF(manifest) },

	/* General. */
	{ .key = "config_file", .flag = "config", .shortc = 'c', .tools = ALL, .type = T_STR,
	  .flags = F_CLI | F_NOSTORE | F_PATH, .group = G_GENERAL, .metavar = "FILE",
	  .help = "JSON configuration file (no file unless given)", .off = OFF(config_file) },
	{ .key = "env_file", .flag = "env-file", .tools = ALL, .type = T_STR,
	  .flags = F_CLI | F_NOSTORE | F_PATH, .group = G_GENERAL, .metavar = "FILE",
	  .help = "read this .env file instead of ./.env (must exist)", .off = OFF(env_file) },
	{ .key = "log_file", .flag = "log-file", .tools = ALL, .type = T_STR, .flags = F_NOSTORE | F_PATH,
	  .group = G_GENERAL, .metavar = "FILE", .help = "also append messages to this file",
	  .off = OFF(log_file) },
	{ .key = "log_level", .flag = "log-level", .tools = ALL, .env = { "DU_LOG_LEVEL" },
	  .type = T_LEVEL, .names = level_names, .def = "info", .flags = F_NOSTORE,
	  .group = G_GENERAL, .metavar = "error|warn|info|debug", .help = "message level",
	  .off = OFF(log_level) },
	{ .key = "quiet", .flag = "quiet", .shortc = 'q', .tools = ALL, .type = T_QUIET,
	  .flags = F_CLI | F_NOKEY, .group = G_GENERAL, .help = "errors only (log_level error)",
	  .off = OFF(log_level) },
	{ .key = "verbose", .flag = "verbose", .shortc = 'v', .tools = ALL, .type = T_VERBOSE,
	  .flags = F_CLI | F_NOKEY, .group = G_GENERAL,
	  .help = "more messages (repeatable: info, then debug)", .off = OFF(log_level) },
	{ .key = "metrics_file", .flag = "metrics-file", .tools = U | R | M, .type = T_STR,
	  .flags = F_NOSTORE | F_PATH, .group = G_GENERAL, .metavar = "FILE",
	  .help = "write the run's metrics to this file",
	  .off = OFF(metrics_file) },
	{ .key = "dump_config", .flag = "dump-config", .tools = ALL, .type = T_BOOL,
	  .flags = F_CLI | F_NOKEY, .group = G_GENERAL,
	  .help = "print each setting and where it came from, then exit",
	  .off = OFF(dump_config) },
	{ .key = "help", .flag = "help", .shortc = 'h', .tools = ALL, .type = T_BOOL,
	  .flags = F_CLI | F_NOKEY, .group = G_GENERAL, .help = "show this help and exit",
	  .off = OFF(help) },
	{ .key = "version", .flag = "version", .shortc = 'V', .tools = ALL, .type = T_BOOL,
	  .flags = F_CLI | F_NOKEY, .group = G_GENERAL, .help = "show the version and exit",
	  .off = OFF(version) },
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))
#define LONG_BASE 1000

/* ---- small helpers ---- */

static void *field(const struct du_config *cfg, const struct opt *o)
{
	return (char *)cfg + o->off;
}

static int opt_index(const char *key)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (!strcmp(opts[i].key, key))
			return (int)i;
	return -1;
}

static bool is_key(const struct opt *o)
{
	return !(o->flags & F_NOKEY);
}

/* Settable from a file or the environment (not just the command line). */
static bool is_setting(const struct opt *o)
{
	return !(o->flags & (F_NOKEY | F_CLI));
}

static int short_tools(const struct opt *o)
{
	return o->short_tools ? o->short_tools : o->tools;
}

static bool has_flag(const struct opt *o, int tool)
{
	return o->flag && (o->tools & tool) && !(o->flags & F_SECRET);
}

/* The environment names of o; DU_<KEY> when the row names none. buf holds the generated one. */
static int env_names(const struct opt *o, const char *out[3], char *buf, size_t bufsz)
{
	int n = 0;
	if (!is_setting(o))
		return 0;
	for (int i = 0; i < 3 && o->env[i]; i++)
		out[n++] = o->env[i];
	if (n == 0) {
		size_t k = (size_t)snprintf(buf, bufsz, "DU_");
		for (const char *p = o->key; *p && k + 1 < bufsz; p++)
			buf[k++] = (char)toupper((unsigned char)*p);
		buf[k] = '\0';
		out[n++] = buf;
	}
	return n;
}

static void free_list(char **list)
{
	if (!list)
		return;
	for (char **p = list; *p; p++)
		free(*p);
	free(list);
}

static void free_secret(char *s)
{
	if (s) {
		memset(s, 0, strlen(s));
		free(s);
	}
}

static void free_val(const struct opt *o, union val *v)
{
	if (o->type == T_STR)
		(o->flags & F_SECRET) ? free_secret(v->s) : free(v->s);
	else if (o->type == T_LIST)
		free_list(v->list);
}

static size_t list_len(char **list)
{
	size_t n = 0;
	while (list && list[n])
		n++;
	return n;
}

/* Levenshtein distance, for "did you mean" (keys and flags are short). */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 63 || lb > 63)
		return SIZE_MAX;
	size_t prev[64], cur[64];
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (tolower((unsigned char)a[i - 1]) !=
						    tolower((unsigned char)b[j - 1]));
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, (lb + 1) * sizeof(size_t));
	}
	return prev[lb];
}

/* Nearest key (want_flag: nearest flag of tool) to s, or NULL when nothing is close. */
static const char *nearest(const char *s, bool want_flag, int tool)
{
	const char *best = NULL;
	size_t bestd = SIZE_MAX, limit = strlen(s) / 3 > 2 ? strlen(s) / 3 : 2;
	for (size_t i = 0; i < NOPTS; i++) {
		const char *cand = want_flag ? (has_flag(&opts[i], tool) ? opts[i].flag : NULL)
					     : (is_setting(&opts[i]) ? opts[i].key : NULL);
		if (!cand)
			continue;
		size_t d = distance(s, cand);
		if (d < bestd) {
			bestd = d;
			best = cand;
		}
	}
	return bestd <= limit ? best : NULL;
}

static void format_size(uint64_t v, char *buf, size_t n)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	int u = -1;
	uint64_t x = v;
	while (u < 3 && x >= 1024 && x % 1024 == 0) {
		x /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, n, "%" PRIu64, v);
	else
		snprintf(buf, n, "%" PRIu64 "%s", x, units[u]);
}

static const char *type_expect(const struct opt *o)
{
	switch (o->type) {
	case T_STR: return "a string";
	case T_INT: case T_I64: return "an integer";
	case T_DBL: return "a number";
	case T_BOOL: return "a boolean (true/false, yes/no, 1/0, on/off)";
	case T_SIZE: return "a size (bytes, or e.g. 64MiB, 8M, 1G)";
	case T_LIST: return "a list of strings (JSON array or comma-separated)";
	case T_ENUM: case T_LEVEL: return "one of the names listed in --help";
	default: return "no value";
	}
}

/* ---- sizes ---- */

int du_parse_session_id(const char *s, int64_t *out, struct du_err *err)
{
	char *end = NULL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || !end || *end || end == s || v < 1)
		return du_err_set(err, DU_ERR_USAGE, "'%s' is not a session id (a positive number)", s);
	*out = v;
	return DU_OK;
}

int du_parse_size(const char *s, uint64_t *out)
{
	static const struct { const char *suffix; unsigned shift; } units[] = {
		{ "", 0 }, { "b", 0 },
		{ "k", 10 }, { "kb", 10 }, { "kib", 10 },
		{ "m", 20 }, { "mb", 20 }, { "mib", 20 },
		{ "g", 30 }, { "gb", 30 }, { "gib", 30 },
		{ "t", 40 }, { "tb", 40 }, { "tib", 40 },
	};
	if (!s)
		return DU_ERR_CONFIG;
	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return DU_ERR_CONFIG;
	uint64_t n = 0;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (n > (UINT64_MAX - d) / 10)
			return DU_ERR_CONFIG;
		n = n * 10 + d;
	}
	while (*s == ' ')
		s++;
	size_t len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strlen(units[i].suffix) != len || strncasecmp(s, units[i].suffix, len))
			continue;
		if (units[i].shift && n > (UINT64_MAX >> units[i].shift))
			return DU_ERR_CONFIG;
		*out = n << units[i].shift;
		return DU_OK;
	}
	return DU_ERR_CONFIG;
}

/* ---- parsing one value ---- */

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "1", "on" };
	static const char *const no[] = { "no", "false", "0", "off" };
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static char **split_list(const char *s)
{
	size_t cap = 1;
	for (const char *p = s; *p; p++)
		cap += *p == ',';
	char **list = calloc(cap + 1, sizeof(char *));
	if (!list)
		return NULL;
	size_t n = 0;
	const char *p = s;
	for (;;) {
		size_t len = strcspn(p, ",");
		const char *a = p, *b = p + len;
		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if (b > a && !(list[n++] = strndup(a, (size_t)(b - a)))) {
			free_list(list);
			return NULL;
		}
		if (!p[len])
			break;
		p += len + 1;
	}
	return list;
}

/* How to print a value inside an error message: never a secret. */
static const char *shown(const struct opt *o, const char *s)
{
	return (o->flags & F_SECRET) ? "***" : s;
}

static int bad_value(const struct opt *o, const char *text, const char *src, struct du_err *err)
{
	if (o->type == T_ENUM || o->type == T_LEVEL) {
		char names[128] = "";
		for (size_t i = 0; o->names[i]; i++) {
			strncat(names, i ? ", " : "", sizeof(names) - strlen(names) - 1);
			strncat(names, o->names[i], sizeof(names) - strlen(names) - 1);
		}
		return du_err_set(err, DU_ERR_CONFIG, "%s must be one of %s, got '%s' (from %s)",
				  o->key, names, text, src);
	}
	return du_err_set(err, DU_ERR_CONFIG, "%s: expected %s, got '%s' (from %s)", o->key,
			  type_expect(o), shown(o, text), src);
}

static int parse_text(const struct opt *o, const char *s, union val *v, const char *src,
		      struct du_err *err)
{
	char *end;
	memset(v, 0, sizeof(*v));
	switch (o->type) {
	case T_STR:
		if (*s && !(v->s = strdup(s)))
			return du_err_set(err, DU_ERR_NOMEM, "out of memory");
		return DU_OK;
	case T_INT:
		errno = 0;
		v->l = strtol(s, &end, 10);
		while (isspace((unsigned char)*end))
			end++;
		if (errno || end == s || *end || !*s)
			return bad_value(o, s, src, err);
		return DU_OK;
	case T_I64: {
		errno = 0;
		long long x = strtoll(s, &end, 10);
		while (isspace((unsigned char)*end))
			end++;
		if (errno || end == s || *end || !*s)
			return bad_value(o, s, src, err);
		v->i = x;
		return DU_OK;
	}
	case T_DBL:
		errno = 0;
		v->d = strtod(s, &end);
		while (isspace((unsigned char)*end))
			end++;
		if (errno || end == s || *end || !isfinite(v->d))
			return bad_value(o, s, src, err);
		return DU_OK;
	case T_BOOL:
		return parse_bool(s, &v->b) ? bad_value(o, s, src, err) : DU_OK;
	case T_SIZE:
		return du_parse_size(s, &v->u) ? bad_value(o, s, src, err) : DU_OK;
	case T_LIST:
		if (!(v->list = split_list(s)))
			return du_err_set(err, DU_ERR_NOMEM, "out of memory");
		return DU_OK;
	case T_ENUM:
		for (int i = 0; o->names[i]; i++)
			if (!strcasecmp(s, o->names[i])) {
				v->e = i;
				return DU_OK;
			}
		return bad_value(o, s, src, err);
	case T_LEVEL:
		v->e = du_log_parse_level(s);
		return v->e < 0 ? bad_value(o, s, src, err) : DU_OK;
	default:
		return du_err_set(err, DU_ERR_INTERNAL, "%s takes no value", o->key);
	}
}

static const char *json_kind(const cJSON *item)
{
	if (cJSON_IsString(item)) return "a string";
	if (cJSON_IsNumber(item)) return "a number";
	if (cJSON_IsBool(item)) return "a boolean";
	if (cJSON_IsArray(item)) return "an array";
	if (cJSON_IsObject(item)) return "an object";
	return "null";
}

static int wrong_type(const struct opt *o, const cJSON *item, const char *src, struct du_err *err)
{
	return du_err_set(err, DU_ERR_CONFIG, "%s: expected %s, got %s (from %s)", o->key,
			  type_expect(o), json_kind(item), src);
}

/* A JSON value: strings go through parse_text (numeric strings are fine, as in the Python
 * tool's files); numbers, booleans and arrays where the type allows them. */
static int parse_json(const struct opt *o, const cJSON *item, union val *v, const char *src,
		      struct du_err *err)
{
	memset(v, 0, sizeof(*v));
	if (cJSON_IsString(item))
		return parse_text(o, item->valuestring, v, src, err);
	if (cJSON_IsNumber(item)) {
		double d = item->valuedouble;
		bool integral = d == floor(d) && fabs(d) < 9.2e18;
		char num[64];
		snprintf(num, sizeof(num), "%.17g", d);
		switch (o->type) {
		case T_INT:
			if (!integral || d > (double)LONG_MAX || d < (double)LONG_MIN)
				return bad_value(o, num, src, err);
			v->l = (long)d;
			return DU_OK;
		case T_I64:
			if (!integral)
				return bad_value(o, num, src, err);
			v->i = (int64_t)d;
			return DU_OK;
		case T_SIZE:
			if (!integral || d < 0)
				return bad_value(o, num, src, err);
			v->u = (uint64_t)d;
			return DU_OK;
		case T_DBL:
			v->d = d;
			return DU_OK;
		case T_BOOL:
			if (d != 0 && d != 1)
				return bad_value(o, num, src, err);
			v->b = d == 1;
			return DU_OK;
		default:
			return wrong_type(o, item, src, err);
		}
	}
	if (cJSON_IsBool(item)) {
		if (o->type != T_BOOL)
			return wrong_type(o, item, src, err);
		v->b = cJSON_IsTrue(item);
		return DU_OK;
	}
	if (cJSON_IsArray(item) && o->type == T_LIST) {
		int n = cJSON_GetArraySize(item), k = 0;
		v->list = calloc((size_t)n + 1, sizeof(char *));
		if (!v->list)
			return du_err_set(err, DU_ERR_NOMEM, "out of memory");
		const cJSON *el;
		cJSON_ArrayForEach(el, item) {
			if (!cJSON_IsString(el)) {
				free_list(v->list);
				v->list = NULL;
				return du_err_set(err, DU_ERR_CONFIG,
						  "%s: expected a list of strings, got %s in the list (from %s)",
						  o->key, json_kind(el), src);
			}
			if (!(v->list[k++] = strdup(el->valuestring))) {
				free_list(v->list);
				v->list = NULL;
				return du_err_set(err, DU_ERR_NOMEM, "out of memory");
			}
		}
		return DU_OK;
	}
	return wrong_type(o, item, src, err);
}

/* Range, then the row's own check. Frees v on failure. */
static int validate(const struct opt *o, union val *v, const char *src, struct du_err *err)
{
	int rc = DU_OK;
	if (o->min || o->max) {
		bool ok = true;
		char got[64], lo[32], hi[32];
		switch (o->type) {
		case T_INT:
			ok = v->l >= o->min && v->l <= o->max;
			snprintf(got, sizeof(got), "%ld", v->l);
			break;
		case T_I64:
			ok = v->i >= o->min && v->i <= o->max;
			snprintf(got, sizeof(got), "%" PRId64, v->i);
			break;
		case T_DBL:
			ok = v->d >= (double)o->min && v->d <= (double)o->max;
			snprintf(got, sizeof(got), "%g", v->d);
			break;
		case T_SIZE:
			ok = v->u >= (uint64_t)o->min && v->u <= (uint64_t)o->max;
			format_size(v->u, got, sizeof(got));
			break;
		default:
			break;
		}
		if (!ok) {
			if (o->type == T_SIZE) {
				format_size((uint64_t)o->min, lo, sizeof(lo));
				format_size((uint64_t)o->max, hi, sizeof(hi));
			} else {
				snprintf(lo, sizeof(lo), "%" PRId64, o->min);
				snprintf(hi, sizeof(hi), "%" PRId64, o->max);
			}
			if (o->max == INT64_MAX)
				rc = du_err_set(err, DU_ERR_CONFIG, "%s must be at least %s, got %s (from %s)",
						o->key, lo, got, src);
			else
				rc = du_err_set(err, DU_ERR_CONFIG,
						"%s must be between %s and %s, got %s (from %s)", o->key,
						lo, hi, got, src);
		}
	}
	if (!rc && o->check)
		rc = o->check(o, v, src, err);
	if (rc)
		free_val(o, v);
	return rc;
}

/* Replace the field's value and its source. Takes v. */
static int store(struct du_config *cfg, size_t idx, union val *v, const char *src,
		 struct du_err *err)
{
	const struct opt *o = &opts[idx];
	void *f = field(cfg, o);
	char *s = strdup(src);
	if (!s) {
		free_val(o, v);
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	}
	free(cfg->sources[idx]);
	cfg->sources[idx] = s;
	switch (o->type) {
	case T_STR:
		(o->flags & F_SECRET) ? free_secret(*(char **)f) : free(*(char **)f);
		*(char **)f = v->s;
		break;
	case T_INT: *(long *)f = v->l; break;
	case T_I64: *(int64_t *)f = v->i; break;
	case T_DBL: *(double *)f = v->d; break;
	case T_BOOL: *(bool *)f = v->b; break;
	case T_SIZE: *(uint64_t *)f = v->u; break;
	case T_LIST:
		free_list(*(char ***)f);
		*(char ***)f = v->list;
		break;
	case T_ENUM: case T_LEVEL: *(int *)f = v->e; break;
	default: break;
	}
	return DU_OK;
}

static int set_text(struct du_config *cfg, size_t idx, const char *text, const char *src,
		    struct du_err *err)
{
	union val v;
	int rc = parse_text(&opts[idx], text, &v, src, err);
	if (!rc)
		rc = validate(&opts[idx], &v, src, err);
	return rc ? rc : store(cfg, idx, &v, src, err);
}

/* ---- row checks ---- */

static int check_prefix(const struct opt *o, union val *v, const char *src, struct du_err *err)
{
	if (!v->s)
		return DU_OK;
	char *a = v->s, *b = v->s + strlen(v->s);
	while (*a == '/')
		a++;
	while (b > a && b[-1] == '/')
		b--;
	if (a == b)
		return du_err_set(err, DU_ERR_CONFIG,
				  "%s is empty after removing '/' at either end (from %s)", o->key, src);
	memmove(v->s, a, (size_t)(b - a));
	v->s[b - a] = '\0';
	if (strstr(v->s, "//"))
		return du_err_set(err, DU_ERR_CONFIG, "%s '%s' contains '//' (from %s)", o->key,
				  v->s, src);
	/* "." and ".." segments are resolved away by many S3-compatible servers and proxies, so the
	 * objects would land elsewhere than the keys du records. */
	for (const char *seg = v->s; seg; seg = strchr(seg, '/') ? strchr(seg, '/') + 1 : NULL) {
		size_t n = strcspn(seg, "/");
		if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return du_err_set(err, DU_ERR_CONFIG,
					  "%s '%s' contains a '.' or '..' segment (from %s)", o->key, v->s,
					  src);
	}
	return DU_OK;
}

/*
 * The bucket is part of the URL's host or path: only what S3 has ever allowed in a bucket name
 * (letters, digits, '.', '-', '_'; legacy names had upper case and '_'), starting and ending
 * with a letter or digit, and no "..", which would otherwise be resolved as a path segment.
 */
static int check_bucket(const struct opt *o, union val *v, const char *src, struct du_err *err)
{
	if (!v->s)
		return DU_OK;
	size_t n = strlen(v->s);
	bool ok = n >= 1 && n <= 255 && isalnum((unsigned char)v->s[0]) &&
		  isalnum((unsigned char)v->s[n - 1]) && !strstr(v->s, "..");
	for (const char *p = v->s; ok && *p; p++)
		ok = isalnum((unsigned char)*p) || strchr(".-_", *p);
	if (!ok)
		return du_err_set(err, DU_ERR_CONFIG,
				  "%s: '%.255s' is not a valid bucket name (letters, digits, '.', '-', '_') (from %s)",
				  o->key, v->s, src);
	return DU_OK;
}

/* The region is in the host name and in the signature's credential scope ("/"-separated). */
static int check_region(const struct opt *o, union val *v, const char *src, struct du_err *err)
{
	if (!v->s)
		return DU_OK;
	size_t n = strlen(v->s);
	bool ok = n >= 1 && n <= 63;
	for (const char *p = v->s; ok && *p; p++)
		ok = isalnum((unsigned char)*p) || strchr("-_.", *p);
	if (!ok)
		return du_err_set(err, DU_ERR_CONFIG,
				  "%s: '%.63s' is not a region name like eu-west-1 (from %s)", o->key, v->s,
				  src);
	return DU_OK;
}

static bool http_url_ok(const char *u)
{
	const char *p;
	if (!strncasecmp(u, "http://", 7))
		p = u + 7;
	else if (!strncasecmp(u, "https://", 8))
		p = u + 8;
	else
		return false;
	for (const char *q = u; *q; q++)
		if (isspace((unsigned char)*q) || iscntrl((unsigned char)*q))
			return false;
	size_t auth = strcspn(p, "/?#");
	if (auth == 0 || memchr(p, '@', auth))
		return false;
	const char *host_end = p + auth;
	if (*p == '[') {
		const char *rb = memchr(p, ']', auth);
		if (!rb || rb == p + 1)
			return false;
		host_end = rb + 1;
	} else {
		const char *colon = memchr(p, ':', auth);
		if (colon)
			host_end = colon;
		if (host_end == p)
			return false;
		for (const char *q = p; q < host_end; q++)
			if (!isalnum((unsigned char)*q) && *q != '-' && *q != '.' && *q != '_')
				return false;
	}
	if (host_end < p + auth) {
		if (*host_end != ':' || host_end + 1 == p + auth)
			return false;
		long port = 0;
		for (const char *q = host_end + 1; q < p + auth; q++) {
			if (!isdigit((unsigned char)*q) || (port = port * 10 + (*q - '0')) > 65535)
				return false;
		}
		if (port == 0)
			return false;
	}
	return true;
}

static int check_url(const struct opt *o, union val *v, const char *src, struct du_err *err)
{
	if (!v->s || http_url_ok(v->s))
		return DU_OK;
	/* user:password@ in a URL is a credential: do not echo it. */
	if (strchr(v->s, '@'))
		return du_err_set(err, DU_ERR_CONFIG,
				  "%s must be an http:// or https:// URL with a host and no credentials (from %s)",
				  o->key, src);
	return du_err_set(err, DU_ERR_CONFIG,
			  "%s must be an http:// or https:// URL with a host, got '%s' (from %s)",
			  o->key, v->s, src);
}

static int check_sse(const struct opt *o, union val *v, const char *src, struct du_err *err)
{
	if (!v->s)
		return DU_OK;
	if (!strcasecmp(v->s, "AES256"))
		strcpy(v->s, "AES256");
	else if (!strcasecmp(v->s, "aws:kms"))
		strcpy(v->s, "aws:kms");
	else
		return du_err_set(err, DU_ERR_CONFIG, "%s must be AES256 or aws:kms, got '%s' (from %s)",
				  o->key, v->s, src);
	return DU_OK;
}

static int check_storage_class(const struct opt *o, union val *v, const char *src,
			       struct du_err *err)
{
	if (!v->s)
		return DU_OK;
	for (char *p = v->s; *p; p++) {
		if (!isalnum((unsigned char)*p) && *p != '_')
			return du_err_set(err, DU_ERR_CONFIG,
					  "%s: expected a name like STANDARD_IA, got '%s' (from %s)",
					  o->key, v->s, src);
		*p = (char)toupper((unsigned char)*p);
	}
	return DU_OK;
}

static int check_extensions(const struct opt *o, union val *v, const char *src,
			    struct du_err *err)
{
	/* An empty list would make every run a silent no-op ("0 found"); it is a mistake. */
	if (!v->list || !v->list[0])
		return du_err_set(err, DU_ERR_CONFIG,
				  "%s is empty: no file would ever be uploaded (from %s)", o->key, src);
	for (char **e = v->list; e && *e; e++) {
		char *s = *e;
		memmove(s, s + (*s == '.'), strlen(s + (*s == '.')) + 1);
		if (!*s || strchr(s, '/') || strchr(s, '.'))
			return du_err_set(err, DU_ERR_CONFIG,
					  "%s: '%s' is not a file extension (from %s)", o->key, *e, src);
		for (; *s; s++)
			*s = (char)tolower((unsigned char)*s);
	}
	return DU_OK;
}

static int check_patterns(const struct opt *o, union val *v, const char *src, struct du_err *err)
{
	for (char **e = v->list; e && *e; e++)
		if (strchr(*e, '/'))
			return du_err_set(err, DU_ERR_CONFIG,
					  "%s: '%s' must match a name, not a path (from %s)", o->key,
					  *e, src);
	return DU_OK;
}

static int check_header(const struct opt *o, union val *v, const char *src, struct du_err *err)
{
	if (!v->s)
		return DU_OK;
	for (const char *p = v->s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("!#$%&'*+-.^_`|~", *p))
			return du_err_set(err, DU_ERR_CONFIG, "%s: '%s' is not an HTTP header name (from %s)",
					  o->key, v->s, src);
	return DU_OK;
}

/* Trailing slashes go, so relative paths and S3 keys come out the same either way. */
static int check_dir(const struct opt *o, union val *v, const char *src, struct du_err *err)
{
	(void)o, (void)src, (void)err;
	if (v->s) {
		size_t n = strlen(v->s);
		while (n > 1 && v->s[n - 1] == '/')
			v->s[--n] = '\0';
	}
	return DU_OK;
}

/* A file du will read later (a CA bundle): refused now if it cannot be read, not at the first
 * request. */
static int check_file(const struct opt *o, union val *v, const char *src, struct du_err *err)
{
	if (!v->s || !*v->s)
		return DU_OK;
	struct stat st;
	if (stat(v->s, &st) < 0 || access(v->s, R_OK) < 0)
		return du_err_set(err, DU_ERR_CONFIG, "%s: cannot read '%s': %s (from %s)", o->key, v->s,
				  strerror(errno), src);
	if (!S_ISREG(st.st_mode))
		return du_err_set(err, DU_ERR_CONFIG, "%s: '%s' is not a file (from %s)", o->key, v->s, src);
	return DU_OK;
}

/* ---- init / release ---- */

void du_config_release(struct du_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];
		void *f = field(cfg, o);
		if (o->type == T_STR) {
			(o->flags & F_SECRET) ? free_secret(*(char **)f) : free(*(char **)f);
			*(char **)f = NULL;
		} else if (o->type == T_LIST) {
			free_list(*(char ***)f);
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
		if (opts[i].def)
			rc = set_text(cfg, i, opts[i].def, "default", err);
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
	int i = opt_index(key);
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
		int i = opt_index(item->string);
		const struct opt *o = i >= 0 ? &opts[i] : NULL;
		if (stored) {
			if (!o || !is_setting(o) || (o->flags & (F_SECRET | F_NOSTORE)))
				continue;
			if (!(o->flags & F_SESSION) && !from_default(cfg, (size_t)i))
				continue;
			if ((o->flags & F_SESSION) && cJSON_IsNull(item) && o->type == T_STR) {
				/* The session had none (e.g. no s3_endpoint): neither may the copy. */
				union val none = { .s = NULL };
				if ((rc = store(cfg, (size_t)i, &none, src, err)))
					goto out;
				continue;
			}
		} else if (!o || !is_setting(o)) {
			const char *near = nearest(item->string, false, 0);
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
		if ((rc = parse_json(o, item, &v, src, err)) || (rc = validate(o, &v, src, err)) ||
		    (rc = store(cfg, (size_t)i, &v, src, err)))
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
	size_t n = list_len(list);
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
		const struct opt *o = &opts[i];
		if (c.sources && base->sources && base->sources[i] &&
		    !(c.sources[i] = strdup(base->sources[i])))
			ok = false;
		if (o->type == T_STR) {
			char **f = field(&c, o), *s = *f;
			if (s && !(*f = strdup(s)))
				ok = false;
		} else if (o->type == T_LIST) {
			char ***f = field(&c, o);
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
		int n = env_names(&opts[i], names, gen, sizeof(gen));
		for (int k = 0; k < n; k++) {
			const char *val = getenv(names[k]);
			if (!val || !*val)
				continue; /* an empty variable counts as unset */
			env_source(ld, names[k], src, sizeof(src));
			int rc = set_text(ld->cfg, i, val, src, err);
			if (rc)
				return rc;
			break;
		}
	}
	return DU_OK;
}

/* ---- command line ---- */

struct cli_arg {
	size_t idx;
	const char *arg;
};

static int find_short(int c, int tool)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (opts[i].shortc == c && (short_tools(&opts[i]) & tool) && has_flag(&opts[i], tool))
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
		const struct opt *o = &opts[i];
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
		if (o->shortc && (short_tools(o) & tool) && !(o->flags & F_SECRET)) {
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
	const char *near = name[1] == '-' ? nearest(bare, true, tool) : NULL;
	bool other_tool = false;
	for (size_t i = 0; i < NOPTS && name[1] == '-'; i++)
		if (opts[i].flag && !strcmp(opts[i].flag, bare) && !(opts[i].tools & tool))
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
static int parse_argv(struct du_config *cfg, int tool, int argc, char **argv,
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
					   opts[optopt - LONG_BASE].flag);
				du_err_hint(&first, "try '%s --help'", du_tool_name(tool));
			} else if (c == '?') {
				unknown_option(tool, optopt, optopt ? NULL : argv[optind - 1], &first);
			} else if (optopt >= LONG_BASE) {
				du_err_set(&first, DU_ERR_USAGE, "option '--%s' requires an argument",
					   opts[optopt - LONG_BASE].flag);
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
		if (opts[idx].flags & F_SECRET) {
			if (!first.code)
				refuse_secret(tool, &opts[idx], &first);
			continue;
		}
		if (opts[idx].off == OFF(help) && opts[idx].type == T_BOOL)
			cfg->help = true;
		if (opts[idx].off == OFF(version) && opts[idx].type == T_BOOL)
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
static const char *cli_value(const struct cli_arg *a, size_t n, size_t off)
{
	const char *v = NULL;
	for (size_t i = 0; i < n; i++)
		if (opts[a[i].idx].off == off && opts[a[i].idx].type == T_STR)
			v = a[i].arg;
	return v;
}

static int apply_cli(struct du_config *cfg, const struct cli_arg *a, size_t n, struct du_err *err)
{
	bool *appending = calloc(NOPTS, sizeof(bool));
	int rc = DU_OK;
	if (!appending)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	for (size_t k = 0; k < n && !rc; k++) {
		size_t i = a[k].idx;
		const struct opt *o = &opts[i];
		char src[128];
		snprintf(src, sizeof(src), "flag --%s", o->flag);
		if (o->type == T_QUIET || o->type == T_VERBOSE) {
			int lvl = o->type == T_QUIET ? DU_LOG_ERROR
				  : cfg->log_level < DU_LOG_DEBUG ? cfg->log_level + 1 : DU_LOG_DEBUG;
			size_t li = (size_t)opt_index("log_level");
			rc = set_text(cfg, li, level_names[lvl], src, err);
		} else if (o->type == T_BOOL && !a[k].arg) {
			rc = set_text(cfg, i, "true", src, err);
		} else if (o->type == T_LIST && appending[i]) {
			/* Repeated list flags add up: --exclude '*.tmp' --exclude 'raw_*'. */
			union val v;
			char ***f = field(cfg, o);
			if (!(rc = parse_text(o, a[k].arg, &v, src, err)) &&
			    !(rc = validate(o, &v, src, err))) {
				size_t have = list_len(*f), add = list_len(v.list);
				char **merged = realloc(*f, (have + add + 1) * sizeof(char *));
				if (!merged) {
					free_val(o, &v);
					rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
				} else {
					memcpy(merged + have, v.list, (add + 1) * sizeof(char *));
					free(v.list);
					*f = merged;
				}
			}
		} else {
			rc = set_text(cfg, i, a[k].arg, src, err);
			appending[i] = true;
		}
	}
	free(appending);
	return rc;
}

/* ---- checks across settings ---- */

static void required_hint(const struct opt *o, int tool, struct du_err *err)
{
	const char *names[3];
	char gen[64], flag[64] = "";
	env_names(o, names, gen, sizeof(gen));
	if (has_flag(o, tool)) {
		if (o->shortc && (short_tools(o) & tool))
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
		const struct opt *o = &opts[i];
		/* du-master's subcommands (status, verify) name their session; no upload settings. */
		if (!(o->required & tool) || (tool == DU_TOOL_MASTER && cfg->nargs > 0))
			continue;
		void *f = field(cfg, o);
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
	if ((rc = parse_argv(cfg, tool, argc, argv, cli, &ncli, err)))
		goto out;
	if (cfg->help || cfg->version)
		goto out; /* nothing else matters, and nothing may stop the help from showing */

	const char *path = cli_value(cli, ncli, OFF(config_file));
	if (path) {
		if ((rc = read_file(path, &text, &len, err)) ||
		    (rc = apply_json_text(cfg, text, len, path, false, err)))
			goto out;
	}
	const char *envf = cli_value(cli, ncli, OFF(env_file));
	ld.env_path = envf ? envf : ".env";
	if ((rc = du_dotenv_apply(ld.env_path, !envf, &ld.dotenv, err)))
		goto out;
	if ((rc = apply_env(&ld, err)) || (rc = apply_cli(cfg, cli, ncli, err)))
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

/* ---- output ---- */

static cJSON *value_json(const struct du_config *cfg, const struct opt *o, bool redact)
{
	const void *f = field(cfg, o);
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
		const struct opt *o = &opts[i];
		if (!is_key(o) || !(o->tools & tool))
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
		const struct opt *o = &opts[i];
		if (!is_setting(o) || (o->flags & (F_SECRET | F_NOSTORE)))
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
	bool sh = o->shortc && (short_tools(o) & tool);
	const char *arg = "";
	char argbuf[64] = "";
	if (o->type == T_BOOL && !(o->flags & F_CLI))
		arg = "[=BOOL]";
	else if (o->metavar && o->type != T_BOOL) {
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
	  "verify SESSION (check every file against S3 and the local copy; --deep, --manifest)." },
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
			const struct opt *o = &opts[i];
			if ((int)o->group != g || !has_flag(o, tool))
				continue;
			if (!head)
				fprintf(out, "\n%s:\n", group_names[g]);
			head = true;
			char fl[128], def[64], extra[256] = "";
			const char *names[3];
			char gen[64];
			flag_text(o, tool, fl, sizeof(fl));
			default_text(o, def, sizeof(def));
			int ne = env_names(o, names, gen, sizeof(gen));
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
		if ((opts[i].flags & F_SECRET) && (opts[i].tools & tool))
			fprintf(out, "  %-36s %s (\"%s\")\n", opts[i].env[0], opts[i].help, opts[i].key);
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
		"Generated from the option table in `src/config/config.c` (`du_config_reference_markdown`); "
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
		"integers may be given as numeric strings in the JSON file. An empty environment variable "
		"counts as unset.\n\n"
		"Secrets (`database_url`, `db_password`, `endpoint_api_key`, `endpoint_secret`) are "
		"refused as flags (they would be visible in the process list), shown as `***` by "
		"`--dump-config`, and never stored in `config_history`.\n");
	for (int g = 0; g < G_N; g++) {
		fprintf(out, "\n## %s\n\n| Key | Flag | Environment | Default | Tools | Meaning |\n"
			"|---|---|---|---|---|---|\n", group_names[g]);
		for (size_t i = 0; i < NOPTS; i++) {
			const struct opt *o = &opts[i];
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
					if (!o->shortc || !(short_tools(o) & o->tools & (1 << t)))
						continue;
					k += (size_t)snprintf(shorts + k, sizeof(shorts) - k, "%s%s",
							      k ? ", " : "", du_tool_name(1 << t) + 3);
				}
				if (*shorts && short_tools(o) == o->tools)
					snprintf(flag, sizeof(flag), "`-%c`, `--%s`", o->shortc, o->flag);
				else if (*shorts)
					snprintf(flag, sizeof(flag), "`-%c` (%s), `--%s`", o->shortc, shorts, o->flag);
				else
					snprintf(flag, sizeof(flag), "`--%s`", o->flag);
			}
			int ne = env_names(o, names, gen, sizeof(gen));
			for (int e = 0, k = 0; e < ne; e++)
				k += snprintf(env + k, sizeof(env) - (size_t)k, "%s`%s`", e ? ", " : "", names[e]);
			char req[96] = "";
			if (o->required)
				snprintf(req, sizeof(req), " (required by %s)",
					 tools_text(o->required, tools, sizeof(tools)));
			fprintf(out, "| %s%s%s | %s | %s | %s%s%s | %s | %s%s%s |\n",
				is_key(o) ? "`" : "", is_key(o) ? o->key : "", is_key(o) ? "`" : "",
				flag, env, *def ? "`" : "", def, *def ? "`" : "",
				tools_text(o->tools, tools, sizeof(tools)), o->help, req,
				(o->flags & F_CLI) && is_key(o) ? " (command line only)" : "");
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
		"`storage_class`, `sse`, `sse_kms_key_id`) always take the stored value.\n");
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
		[T_BOOL] = "boolean", [T_SIZE] = "size", [T_LIST] = "list", [T_ENUM] = "enum",
		[T_LEVEL] = "enum", [T_QUIET] = "action", [T_VERBOSE] = "action",
	};
	if (i >= NOPTS || !(opts[i].tools & tool))
		return false;
	const struct opt *o = &opts[i];
	char def[64];
	memset(doc, 0, sizeof(*doc));
	doc->key = is_key(o) ? o->key : NULL;
	doc->flag = has_flag(o, tool) ? o->flag : NULL;
	doc->shortc = doc->flag && o->shortc && (short_tools(o) & tool) ? o->shortc : 0;
	if (o->type == T_BOOL && !(o->flags & F_CLI)) {
		doc->metavar = "BOOL";
		doc->arg_optional = true;
	} else if (o->type != T_BOOL && o->type != T_QUIET && o->type != T_VERBOSE) {
		doc->metavar = o->metavar;
	}
	env_names(o, doc->env, doc->env_buf, sizeof(doc->env_buf));
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

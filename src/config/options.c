/*
 * options.c: the option table. Every setting of du is one row of du_cfg_opts below, and everything
 * else (getopt_long's tables, --help, environment names, JSON keys, defaults, ranges,
 * --dump-config, the reference in docs/CONFIG.md, man pages and completion) is derived from it.
 * The row checks (check_*) normalise and validate one parsed value.
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

#include "du/budget.h"
#include "du/bwlimit.h"
#include "du/log.h"
#include "du/strbuf.h"


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
static int check_bwlimit(const struct opt *, union val *, const char *, struct du_err *);
static int check_duration(const struct opt *, union val *, const char *, struct du_err *);
static int check_budget(const struct opt *, union val *, const char *, struct du_err *);
static int check_tags(const struct opt *, union val *, const char *, struct du_err *);
static int check_metadata(const struct opt *, union val *, const char *, struct du_err *);

static const char *const addressing_names[] = { "auto", "path", "virtual", NULL };
/* in the order of enum du_cksum_alg (checksum.h) */
static const char *const checksum_names[] = { "auto", "none", "md5", "crc32", "crc32c", "crc64nvme", "sha256",
					      NULL };
static const char *const stale_names[] = { "none", "list", "abort", NULL };
static const char *const cutoff_names[] = { "hard", "soft", NULL };
/* in the order of enum du_suspect_policy (suspect.h) */
static const char *const suspect_names[] = { "upload", "skip", "fail", NULL };
static const char *const progress_names[] = { "auto", "tty", "plain", "json", "none", NULL };
const char *const du_cfg_level_names[] = { "error", "warn", "info", "debug", "trace", NULL };

const struct opt du_cfg_opts[] = {
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
	{ .key = "tags", .flag = "tag", .tools = U | M, .type = T_MAP, .flags = F_SESSION,
	  .group = G_S3, .metavar = "KEY=VALUE",
	  .help = "S3 tag on every object uploaded (repeatable, at most 10)",
	  .off = OFF(tags), .check = check_tags },
	{ .key = "metadata", .flag = "metadata", .tools = U | M, .type = T_MAP, .flags = F_SESSION,
	  .group = G_S3, .metavar = "KEY=VALUE",
	  .help = "user metadata (x-amz-meta-KEY: VALUE) on every object uploaded (repeatable)",
	  .off = OFF(metadata), .check = check_metadata },
	{ .key = "sensor_metadata", .flag = "sensor-metadata", .tools = U | M, .type = T_BOOL, .def = "true",
	  .flags = F_SESSION, .group = G_S3, .metavar = "BOOL",
	  .help = "the recorder's facts from each file's header (AudioMoth comment, GUANO, EXIF: time, "
		  "device, sample rate, duration) as x-amz-meta-du-* and in du_recordings",
	  .off = OFF(sensor_metadata) },
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
	{ .key = "bwlimit", .flag = "bwlimit", .tools = U | R | M, .type = T_STR, .flags = F_NOSTORE,
	  .group = G_RUN, .metavar = "RATE|TIMETABLE",
	  .help = "cap on the bytes sent per second, all workers together: 512k, 10M, off, or a "
		  "timetable such as \"08:00,512k 19:00,10M 23:00,off\" (SIGUSR2 toggles it)",
	  .off = OFF(bwlimit), .check = check_bwlimit },
	{ .key = "max_duration", .flag = "max-duration", .tools = U | R | M, .type = T_STR,
	  .flags = F_NOSTORE, .group = G_RUN, .metavar = "DURATION",
	  .help = "upload window: stop after this long (90m, 2h, 1h30m), resumable; exit 7",
	  .off = OFF(max_duration), .check = check_duration },
	{ .key = "budget", .flag = "budget", .tools = U | R | M, .type = T_STR, .flags = F_NOSTORE,
	  .group = G_RUN, .metavar = "SIZE/PERIOD",
	  .help = "data budget of this machine over all its runs: 5GiB/day, 500MiB/hour, 20GiB/week, "
		  "100GiB/month (local time); reached, the run stops resumable, exit 7",
	  .off = OFF(budget), .check = check_budget },
	{ .key = "suspect_policy", .flag = "suspect", .tools = U | R | M, .type = T_ENUM,
	  .names = suspect_names, .def = "upload", .group = G_RUN, .metavar = "upload|skip|fail",
	  .help = "a suspect recording (0 bytes, a WAV header of zeros or of another size, a JPEG "
		  "without a start): upload it and say so, or send it not (skip, fail)",
	  .off = OFF(suspect_policy) },
	{ .key = "cutoff_mode", .flag = "cutoff-mode", .tools = U | R | M, .type = T_ENUM,
	  .names = cutoff_names, .def = "hard", .flags = F_NOSTORE, .group = G_RUN, .metavar = "hard|soft",
	  .help = "at the end of the window: stop transfers at once (hard), or start nothing new and let "
		  "those in flight end (soft)",
	  .off = OFF(cutoff_mode) },

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
	  .type = T_LEVEL, .names = du_cfg_level_names, .def = "info", .flags = F_NOSTORE,
	  .group = G_GENERAL, .metavar = "error|warn|info|debug", .help = "message level",
	  .off = OFF(log_level) },
	{ .key = "quiet", .flag = "quiet", .shortc = 'q', .tools = ALL, .type = T_QUIET,
	  .flags = F_CLI | F_NOKEY, .group = G_GENERAL, .help = "errors only (log_level error)",
	  .off = OFF(log_level) },
	{ .key = "verbose", .flag = "verbose", .shortc = 'v', .tools = ALL, .type = T_VERBOSE,
	  .flags = F_CLI | F_NOKEY, .group = G_GENERAL,
	  .help = "more messages: -v a line per file uploaded or failed, -vv also each file skipped", .off = OFF(log_level) },
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

const size_t du_cfg_nopts = sizeof(du_cfg_opts) / sizeof(du_cfg_opts[0]);

/* ---- small helpers ---- */

void *du_cfg_field(const struct du_config *cfg, const struct opt *o)
{
	return (char *)cfg + o->off;
}

int du_cfg_opt_index(const char *key)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (!strcmp(du_cfg_opts[i].key, key))
			return (int)i;
	return -1;
}

bool du_cfg_is_key(const struct opt *o)
{
	return !(o->flags & F_NOKEY);
}

/* Settable from a file or the environment (not just the command line). */
bool du_cfg_is_setting(const struct opt *o)
{
	return !(o->flags & (F_NOKEY | F_CLI));
}

int du_cfg_short_tools(const struct opt *o)
{
	return o->short_tools ? o->short_tools : o->tools;
}

bool du_cfg_has_flag(const struct opt *o, int tool)
{
	return o->flag && (o->tools & tool) && !(o->flags & F_SECRET);
}

/* The environment names of o; DU_<KEY> when the row names none. buf holds the generated one. */
int du_cfg_env_names(const struct opt *o, const char *out[3], char *buf, size_t bufsz)
{
	int n = 0;
	if (!du_cfg_is_setting(o))
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

/* The types whose value is a char ** owned by the configuration. */
bool du_cfg_is_list(const struct opt *o)
{
	return o->type == T_LIST || o->type == T_MAP;
}

void du_cfg_free_list(char **list)
{
	if (!list)
		return;
	for (char **p = list; *p; p++)
		free(*p);
	free(list);
}

void du_cfg_free_secret(char *s)
{
	if (s) {
		memset(s, 0, strlen(s));
		free(s);
	}
}

void du_cfg_free_val(const struct opt *o, union val *v)
{
	if (o->type == T_STR)
		(o->flags & F_SECRET) ? du_cfg_free_secret(v->s) : free(v->s);
	else if (du_cfg_is_list(o))
		du_cfg_free_list(v->list);
}

size_t du_cfg_list_len(char **list)
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
const char *du_cfg_nearest(const char *s, bool want_flag, int tool)
{
	const char *best = NULL;
	size_t bestd = SIZE_MAX, limit = strlen(s) / 3 > 2 ? strlen(s) / 3 : 2;
	for (size_t i = 0; i < NOPTS; i++) {
		const char *cand = want_flag ? (du_cfg_has_flag(&du_cfg_opts[i], tool) ? du_cfg_opts[i].flag : NULL)
					     : (du_cfg_is_setting(&du_cfg_opts[i]) ? du_cfg_opts[i].key : NULL);
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

void du_cfg_format_size(uint64_t v, char *buf, size_t n)
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

const char *du_cfg_type_expect(const struct opt *o)
{
	switch (o->type) {
	case T_STR: return "a string";
	case T_INT: case T_I64: return "an integer";
	case T_DBL: return "a number";
	case T_BOOL: return "a boolean (true/false, yes/no, 1/0, on/off)";
	case T_SIZE: return "a size (bytes, or e.g. 64MiB, 8M, 1G)";
	case T_LIST: return "a list of strings (JSON array or comma-separated)";
	case T_MAP: return "a JSON object of strings";
	case T_ENUM: case T_LEVEL: return "one of the names listed in --help";
	default: return "no value";
	}
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

/* rclone's --bwlimit syntax (bwlimit.h): refused with what is wrong and where it came from. */
static int check_bwlimit(const struct opt *o, union val *v, const char *src, struct du_err *err)
{
	struct du_bwlimit_spec spec;
	char why[200];
	if (!v->s || !*v->s)
		return DU_OK;
	if (du_bwlimit_parse(v->s, &spec, why, sizeof(why)))
		return du_err_set(err, DU_ERR_CONFIG, "%s: %s (from %s)", o->key, why, src);
	return DU_OK;
}

/* A duration (du_parse_duration): "90m", "2h", "1h30m"; a sign, "12q" or "1h30" refused. */
static int check_duration(const struct opt *o, union val *v, const char *src, struct du_err *err)
{
	double sec;
	if (!v->s || !*v->s)
		return DU_OK;
	if (du_parse_duration(v->s, &sec))
		return du_err_set(err, DU_ERR_CONFIG,
				  "%s: '%s' is not a duration (like 90m, 2h, 1h30m or 45s) (from %s)", o->key, v->s, src);
	return DU_OK;
}

/* "5GiB/day" (budget.h): the size and the period, each refused in words of its own. */
static int check_budget(const struct opt *o, union val *v, const char *src, struct du_err *err)
{
	struct du_budget b;
	char why[200];
	if (!v->s || !*v->s)
		return DU_OK;
	if (du_budget_parse(v->s, &b, why, sizeof(why)))
		return du_err_set(err, DU_ERR_CONFIG, "%s: %s (from %s)", o->key, why, src);
	return DU_OK;
}

/* ---- maps: S3's rules for tags and user metadata ---- */

/* Bytes of the UTF-8 sequence at p (at most n bytes there), 0 when it is not valid UTF-8
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	uint32_t cp, min;
	size_t len;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f, min = 0x80;
	else if ((p[0] & 0xf0) == 0xe0)
		len = 3, cp = p[0] & 0x0f, min = 0x800;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* s[0..n) for an error message: at most 64 bytes of it, control bytes (and, when raw is false,
 * every byte from 0x80: text that is not UTF-8) as \xNN. */
static const char *shown_text(const char *s, size_t n, bool raw, char *buf, size_t bufsz)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k + 8 < bufsz; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i == 64) {
			k += (size_t)snprintf(buf + k, bufsz - k, "...");
			break;
		}
		if (c < 0x20 || c == 0x7f || (c >= 0x80 && !raw))
			k += (size_t)snprintf(buf + k, bufsz - k, "\\x%02X", c);
		else
			buf[k++] = (char)c;
	}
	buf[k] = '\0';
	return buf;
}

/* One character for an error message: 'c', or '\xNN' for a control byte. */
static const char *shown_char(unsigned char c, char buf[8])
{
	snprintf(buf, 8, c < 0x20 || c == 0x7f ? "\\x%02X" : "%c", c);
	return buf;
}

/*
 * A tag's key or value: its length in code points (*chars), or -1 when it is not UTF-8; *bad is
 * the first character S3 refuses in tags, 0 when none. S3 allows Unicode letters, digits, space
 * and + - = . _ : / @; every code point from U+0080 up is taken as a letter here, because telling
 * letters from other symbols needs Unicode's tables, which du does not carry (S3 has the last word).
 */
static int tag_text(const char *s, size_t n, size_t *chars, unsigned char *bad)
{
	*chars = 0;
	*bad = 0;
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t len = utf8_seq((const unsigned char *)s + i, n - i);
		if (!len)
			return -1;
		if (len == 1 && !*bad && !isalnum(c) && !strchr(" +-=._:/@", c))
			*bad = c ? c : '?';
		i += len;
		(*chars)++;
	}
	return 0;
}

#define TAGS_MAX 10
#define TAG_KEY_MAX 128
#define TAG_VALUE_MAX 256
#define TAG_CHARS "letters, digits, space, + - = . _ : / @"

/* One side of a tag, named by what ("key \"k\"", "value of \"k\""): UTF-8, lo to hi characters of
 * S3's set. */
static int check_tag_side(const struct opt *o, const char *what, const char *s, size_t len, size_t lo, size_t hi,
			  const char *src, struct du_err *err)
{
	size_t chars;
	unsigned char bad;
	char cb[8];
	if (tag_text(s, len, &chars, &bad))
		return du_err_set(err, DU_ERR_CONFIG, "%s: %s is not valid UTF-8 (from %s)", o->key, what, src);
	if ((chars < lo || chars > hi) && lo)
		return du_err_set(err, DU_ERR_CONFIG, "%s: %s is %zu characters; S3 allows %zu to %zu (from %s)", o->key,
				  what, chars, lo, hi, src);
	if (chars > hi)
		return du_err_set(err, DU_ERR_CONFIG, "%s: %s is %zu characters; S3 allows %zu (from %s)", o->key, what,
				  chars, hi, src);
	if (bad)
		return du_err_set(err, DU_ERR_CONFIG, "%s: %s has '%s', not allowed in S3 tags (" TAG_CHARS ") (from %s)",
				  o->key, what, shown_char(bad, cb), src);
	return DU_OK;
}

static int check_tags(const struct opt *o, union val *v, const char *src, struct du_err *err)
{
	size_t n = du_cfg_list_len(v->list), chars;
	unsigned char bad;
	char kb[300], what[320];
	int rc;
	if (n > TAGS_MAX)
		return du_err_set(err, DU_ERR_CONFIG, "%s: %zu tags; S3 allows at most %d (from %s)", o->key, n,
				  TAGS_MAX, src);
	for (size_t i = 0; i < n; i++) {
		const char *e = v->list[i], *val = e + strcspn(e, "=") + 1;
		size_t klen = (size_t)(val - 1 - e);
		shown_text(e, klen, tag_text(e, klen, &chars, &bad) == 0, kb, sizeof(kb));
		snprintf(what, sizeof(what), "key \"%s\"", kb);
		if ((rc = check_tag_side(o, what, e, klen, 1, TAG_KEY_MAX, src, err)))
			return rc;
		if (!strncasecmp(e, "aws:", 4))
			return du_err_set(err, DU_ERR_CONFIG,
					  "%s: key \"%s\" starts with 'aws:', which S3 reserves for AWS (from %s)",
					  o->key, kb, src);
		snprintf(what, sizeof(what), "value of \"%s\"", kb);
		if ((rc = check_tag_side(o, what, val, strlen(val), 0, TAG_VALUE_MAX, src, err)))
			return rc;
	}
	/* The x-amz-tagging header shares S3's request header limit (AWS: 8 KB for a PUT's headers) with
	 * the metadata, the session token and the rest: du keeps it to 4 KiB. */
	size_t enc = du_config_tagging(v->list, NULL, 0);
	if (enc > DU_TAGGING_MAX)
		return du_err_set(err, DU_ERR_CONFIG,
				  "%s: %zu bytes as the x-amz-tagging header (percent-encoded); du sends at most %d, "
				  "within S3's 8 KB of request headers (from %s)", o->key, enc, DU_TAGGING_MAX, src);
	return DU_OK;
}

/* S3 allows 2 KiB of user metadata in all (names and values); du keeps 512 bytes for its own
 * keys (du-md5, du-mtime and those to come). */
#define META_MAX 1536

/*
 * User metadata travels as x-amz-meta-KEY: VALUE headers: a key of [A-Za-z0-9_-] (lowercased
 * here, as S3 stores it), not du-* (du's own keys), a value of printable ASCII.
 */
static int check_metadata(const struct opt *o, union val *v, const char *src, struct du_err *err)
{
	size_t total = 0, n = 0;
	char kb[300], cb[8];
	for (char **p = v->list; p && *p; p++) {
		char *e = *p, *val = e + strcspn(e, "=") + 1;
		if (++n > DU_METADATA_KEYS_MAX)
			return du_err_set(err, DU_ERR_CONFIG, "%s: more than %d keys; du sends at most %d (from %s)",
					  o->key, DU_METADATA_KEYS_MAX, DU_METADATA_KEYS_MAX, src);
		size_t klen = (size_t)(val - 1 - e);
		if (!klen)
			return du_err_set(err, DU_ERR_CONFIG, "%s: empty key (from %s)", o->key, src);
		for (const char *c = e; c < val - 1; c++)
			if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_')
				return du_err_set(err, DU_ERR_CONFIG,
						  "%s: key \"%s\" has '%s', not allowed in metadata names (letters, digits, - _) (from %s)",
						  o->key, shown_text(e, klen, false, kb, sizeof(kb)),
						  shown_char((unsigned char)*c, cb), src);
		for (char *c = e; c < val - 1; c++)
			*c = (char)tolower((unsigned char)*c);
		shown_text(e, klen, false, kb, sizeof(kb));
		if (!strncmp(e, "du-", 3))
			return du_err_set(err, DU_ERR_CONFIG,
					  "%s: key \"%s\" starts with 'du-', which du keeps for its own keys (du-md5, du-mtime, ...) (from %s)",
					  o->key, kb, src);
		for (const char *c = val; *c; c++)
			if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
				return du_err_set(err, DU_ERR_CONFIG,
						  "%s: value of \"%s\" has byte 0x%02X; S3 takes printable ASCII only in metadata (from %s)",
						  o->key, kb, (unsigned char)*c, src);
		total += klen + strlen(val);
	}
	if (total > META_MAX)
		return du_err_set(err, DU_ERR_CONFIG,
				  "%s: %zu bytes in all; S3 allows 2 KiB, of which du keeps 512 for its own keys (from %s)",
				  o->key, total, src);
	return DU_OK;
}

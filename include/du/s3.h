/*
 * s3.h: the S3 operations du needs, on libcurl and libxml2, signed with du's own SigV4.
 *
 * Two objects:
 *   struct du_s3       one per process: options, the credentials provider (borrowed), a CURLSH
 *                      sharing DNS and TLS sessions between connections, the rate governor
 *                      (retry.h) and the request counters. Thread-safe.
 *   struct du_s3_conn  one CURL easy handle, owned by one worker thread; reusing it keeps the
 *                      connection alive between requests. Never share a conn between threads.
 *
 *     struct du_s3_opts o;
 *     du_s3_opts_from_config(&o, &cfg);           // or fill by hand; strings are borrowed
 *     struct du_s3 *s3;
 *     if (du_s3_new(&s3, &o, creds_provider, &err)) return err.code;
 *     du_s3_set_abort(s3, &second_sigint);         // non-zero aborts transfers in flight
 *     struct du_s3_conn *c;
 *     if (du_s3_conn_new(s3, &c, &err)) ...
 *     if (du_s3_head_bucket(c, &err)) ...          // access check before any work
 *
 *     unsigned char md5[16];  du_md5(buf, len, md5);
 *     struct du_s3_put p = { .md5 = md5, .mtime = st.st_mtime };
 *     char etag[128];
 *     if (du_s3_put_object(c, "prefix/a.wav", buf, len, &p, etag, &err)) ...
 *
 *     du_s3_conn_free(c);
 *     du_s3_free(s3);
 *
 * Every operation retries retryable failures (network errors, 408/429/5xx, SlowDown,
 * InternalError, ...) up to opts.max_attempts with exponential backoff and full jitter, honouring
 * Retry-After, and goes through the shared governor, which slows all workers down after
 * throttling. The caller's own retries multiply these: retry.h, "The retry budget". When it gives up, err has code (DU_ERR_S3_AUTH for refused credentials or access,
 * DU_ERR_NOTFOUND for NoSuchKey/NoSuchUpload, DU_ERR_NET for transport failures, DU_ERR_PARSE
 * for malformed answers, DU_ERR_S3 otherwise), retryable (would a later run have a chance),
 * http_status, s3_code and request_id, and a message like
 * "PUT 'a.wav': 403 AccessDenied: Access Denied (request id X)". Credentials never appear in it.
 *
 * Addressing: path-style (endpoint/bucket/key) for a custom endpoint and for bucket names with a
 * '.', virtual-hosted (bucket.s3.REGION.amazonaws.com) otherwise; DU_ADDR_PATH/DU_ADDR_VIRTUAL
 * force one. Keys are sent exactly as signed (RFC 3986 encoding, no path normalisation).
 */
#ifndef DU_S3_H
#define DU_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "du/config.h"
#include "du/creds.h"
#include "du/err.h"

#define DU_S3_MAX_PUT ((uint64_t)5 << 30)         /* 5 GiB: largest single PUT and part */
#define DU_S3_MAX_OBJECT ((uint64_t)5 << 40)      /* 5 TiB: largest object */
#define DU_S3_MIN_PART ((uint64_t)5 << 20)        /* 5 MiB: smallest part but the last */
#define DU_S3_MAX_PARTS 10000
#define DU_S3_ETAG_MAX 128

struct du_s3_opts {
	const char *bucket;
	const char *region;          /* NULL: us-east-1 */
	const char *endpoint;        /* "http://127.0.0.1:9000" or NULL for AWS */
	int addressing;              /* enum du_addressing */
	bool payload_signing;        /* sign the body's SHA-256 instead of UNSIGNED-PAYLOAD */
	long connect_timeout;        /* seconds; 0: 10 */
	long request_timeout;        /* seconds without any progress; 0: 60 */
	long retry_base_ms;          /* 0: 100 */
	long retry_cap_ms;           /* 0: 20000 */
	int max_attempts;            /* per request; 0: DU_RETRY_REQUEST_ATTEMPTS (4) */
	const char *storage_class;   /* x-amz-storage-class, or NULL */
	const char *sse;             /* "AES256", "aws:kms" or NULL */
	const char *sse_kms_key_id;  /* with sse "aws:kms" */
	const char *ca_bundle;       /* PEM file (cfg ca_bundle) or NULL for the system store */
	int list_page_size;          /* max-keys/-parts/-uploads a page; 0: 1000 (tests use small pages) */
};

/* Map the configuration to options. Strings stay owned by cfg. */
int du_s3_opts_from_config(struct du_s3_opts *o, const struct du_config *cfg);

struct du_s3;
struct du_s3_conn;

/* Copies the options; borrows cp, which must outlive s3. */
int du_s3_new(struct du_s3 **out, const struct du_s3_opts *o, struct du_creds_provider *cp,
	      struct du_err *err);
void du_s3_free(struct du_s3 *s3);
/* The bandwidth cap every body of s3 goes through (bwlimit.h); s3 owns it (NULL: none). */
struct du_bwlimit;
void du_s3_set_bwlimit(struct du_s3 *s3, struct du_bwlimit *bw);
struct du_bwlimit *du_s3_bwlimit(const struct du_s3 *s3);
/*
 * What a command does first: resolve credentials and region, create the client and check that
 * the bucket is reachable with them (HeadBucket), before any file is touched. On success the
 * caller owns *cp and *s3 and gives both back with du_s3_close.
 */
int du_s3_open(const struct du_config *cfg, struct du_creds_provider **cp, struct du_s3 **s3,
	       struct du_err *err);
void du_s3_close(struct du_creds_provider *cp, struct du_s3 *s3);
/* The endpoint a session's rows and du's knowledge of a server are valid for: the configured one
 * (without a trailing '/'), or AWS's endpoint of the region (*aws set). */
void du_s3_endpoint_of(const struct du_config *cfg, char *buf, size_t n, bool *aws);
/* While *flag is non-zero (the tools set it on the second Ctrl-C), transfers in flight abort,
 * backoff and governor sleeps end, and new requests fail with DU_ERR_INTERRUPTED.
 * flag must outlive s3. */
void du_s3_set_abort(struct du_s3 *s3, const volatile int *flag);
/* Abort every transfer in flight now and fail all later requests with DU_ERR_INTERRUPTED. */
void du_s3_abort_all(struct du_s3 *s3);

int du_s3_conn_new(struct du_s3 *s3, struct du_s3_conn **out, struct du_err *err);
void du_s3_conn_free(struct du_s3_conn *c);

/* Counters since du_s3_new, for metrics and tests (atomics: a consistent-enough snapshot). */
struct du_s3_stats {
	uint64_t requests;      /* operations' HTTP requests, counted once however often retried */
	uint64_t attempts;      /* HTTP attempts actually sent */
	uint64_t retries;       /* attempts - first attempts */
	uint64_t throttles;     /* SlowDown/503/429 answers */
	uint64_t failures;      /* requests whose HTTP exchange failed after all attempts */
	uint64_t bytes_sent;    /* request bodies */
	uint64_t bytes_received;/* response bodies */
	double rate;            /* governor's current allowed requests/s, 0 = unlimited */
};
void du_s3_stats(struct du_s3 *s3, struct du_s3_stats *out);

/* Access check: 403 -> DU_ERR_S3_AUTH, 404 -> DU_ERR_S3 NoSuchBucket. */
int du_s3_head_bucket(struct du_s3_conn *c, struct du_err *err);

struct du_s3_object {
	const char *key;     /* decoded; valid during the callback only */
	uint64_t size;
	const char *etag;    /* without quotes */
	int64_t mtime;       /* LastModified, UTC seconds */
	bool has_size;       /* false: the entry had no <Size> (size is then 0 and means nothing) */
};

/*
 * ListObjectsV2 of every key starting with prefix (NULL or "" = all), page by page, each page
 * parsed completely before its objects are handed to cb in key order (so a page that fails to
 * parse delivers nothing). Memory is one page, whatever the listing's size. cb returning
 * non-zero stops the listing; du_s3_list then returns that value and leaves err alone.
 */
int du_s3_list(struct du_s3_conn *c, const char *prefix,
	       int (*cb)(void *arg, const struct du_s3_object *o), void *arg, struct du_err *err);

struct du_s3_object_info {
	uint64_t size;
	char etag[DU_S3_ETAG_MAX];   /* without quotes */
	char md5_hex[33];            /* x-amz-meta-du-md5, "" when absent */
	int64_t du_mtime;            /* x-amz-meta-du-mtime, 0 when absent */
	bool has_du_mtime;
	/* x-amz-checksum-<alg> and -type (HEAD asks with x-amz-checksum-mode: ENABLED); "" when absent */
	char checksum_alg[16];       /* "crc32c", ... */
	char checksum[64];           /* base64, "-N" appended by S3 for a composite */
	char checksum_type[16];      /* "FULL_OBJECT" or "COMPOSITE" */
};
/* 404 -> DU_ERR_NOTFOUND. */
int du_s3_head_object(struct du_s3_conn *c, const char *key, struct du_s3_object_info *out,
		      struct du_err *err);

struct du_s3_put {
	const unsigned char *md5;    /* 16 bytes: Content-MD5 and x-amz-meta-du-md5; required unless
	                              * checksum_alg is a CRC, SHA-256 or none */
	int checksum_alg;            /* enum du_cksum_alg: CRC32/CRC32C/CRC64NVME/SHA256 send
	                              * x-amz-checksum-<alg> instead of Content-MD5; DU_CK_NONE sends
	                              * no checksum at all; 0 (auto) or DU_CK_MD5: md5 as above.
	                              * CreateMultipartUpload: the algorithm, FULL_OBJECT for CRCs */
	const char *checksum_b64;    /* its value (checksum.h's base64 form); PUT only */
	const char *content_type;    /* NULL: from the key's extension (du_s3_content_type) */
	int64_t mtime;               /* x-amz-meta-du-mtime when != 0 */
	/* More metadata: header names in full and lowercase ("x-amz-meta-site"), values printable
	 * ASCII; PUT and CreateMultipartUpload. */
	const char *const (*meta)[2];
	int nmeta;
	const char *tagging;         /* x-amz-tagging: "k=v&k2=v2", percent-encoded; NULL or "": none */
};

/* Content type for a key by its extension; application/octet-stream when unknown. */
const char *du_s3_content_type(const char *key);

/*
 * Single PUT from memory (no copy). Checks that the returned ETag is the body's MD5 (except with
 * SSE-KMS, where it is not): a mismatch is DU_ERR_S3 "etag mismatch". len > 5 GiB is refused.
 * etag_out (may be NULL) receives the ETag without quotes.
 */
int du_s3_put_object(struct du_s3_conn *c, const char *key, const void *buf, size_t len,
		     const struct du_s3_put *p, char etag_out[DU_S3_ETAG_MAX], struct du_err *err);

/* Whether the last PUT or part on c was confirmed by the server: it echoed the x-amz-checksum-*
 * value sent (AWS does; a server that ignores the header does not). A different value echoed is
 * an error of the PUT itself ("checksum mismatch"). */
bool du_s3_checksum_echoed(const struct du_s3_conn *c);

/* GET a whole object into a malloc'd buffer (for verification and tests; refuses > max bytes). */
int du_s3_get_object(struct du_s3_conn *c, const char *key, size_t max, void **buf, size_t *len,
		     struct du_err *err);

/* ---- object tags ---- */

/* GetObjectTagging: cb for each tag (cb non-zero stops and is returned). */
int du_s3_get_tagging(struct du_s3_conn *c, const char *key,
		      int (*cb)(void *arg, const char *key, const char *value), void *arg, struct du_err *err);
/* PutObjectTagging: the object's tags become tags, NULL-terminated "key=value" strings (split at
 * the first '='), replacing any it had. */
int du_s3_put_tagging(struct du_s3_conn *c, const char *key, char *const *tags, struct du_err *err);
/* *same: the object's tags are exactly tags (in any order). Servers differ on x-amz-tagging:
 * Ceph RGW 16 ignores it on CreateMultipartUpload, s3rver on PUT; the engine reads back. */
int du_s3_tags_match(struct du_s3_conn *c, const char *key, char *const *tags, bool *same, struct du_err *err);

/* DELETE an object (tests and clean-up); deleting a missing key succeeds, as in S3. */
int du_s3_delete_object(struct du_s3_conn *c, const char *key, struct du_err *err);

/* ---- multipart ---- */

struct du_s3_part {
	int number;          /* 1..10000 */
	const char *etag;    /* as returned by du_s3_mpu_part, without quotes */
	const char *checksum;/* the part's x-amz-checksum value (base64) with du_s3_mpu_part_ck, or NULL */
};

/* *upload_id is malloc'd; the caller frees it. p->md5 is ignored (parts carry their own). */
int du_s3_mpu_create(struct du_s3_conn *c, const char *key, const struct du_s3_put *p,
		     char **upload_id, struct du_err *err);
int du_s3_mpu_part(struct du_s3_conn *c, const char *key, const char *upload_id, int part_number,
		   const void *buf, size_t len, const unsigned char md5[16],
		   char etag_out[DU_S3_ETAG_MAX], struct du_err *err);
/* A part with an x-amz-checksum-<alg> (alg and b64 as in struct du_s3_put) instead of Content-MD5
 * (md5 may then be NULL: the ETag is not checked). */
int du_s3_mpu_part_ck(struct du_s3_conn *c, const char *key, const char *upload_id, int part_number,
		      const void *buf, size_t len, const unsigned char *md5, int alg, const char *b64,
		      char etag_out[DU_S3_ETAG_MAX], struct du_err *err);
/* Complete with each part's checksum and, for a CRC, the whole object's (x-amz-checksum-<alg>,
 * x-amz-checksum-type: FULL_OBJECT), which S3 checks against the parts it holds. alg 0: as
 * du_s3_mpu_complete. */
int du_s3_mpu_complete_ck(struct du_s3_conn *c, const char *key, const char *upload_id,
			  const struct du_s3_part *parts, int nparts, int alg, const char *whole_b64,
			  char etag_out[DU_S3_ETAG_MAX], struct du_err *err);
/* parts in ascending number order. A 200 whose body is an <Error> is an error (retried when
 * its code is transient). etag_out (may be NULL) gets the object's multipart ETag. */
int du_s3_mpu_complete(struct du_s3_conn *c, const char *key, const char *upload_id,
		       const struct du_s3_part *parts, int nparts, char etag_out[DU_S3_ETAG_MAX],
		       struct du_err *err);
int du_s3_mpu_abort(struct du_s3_conn *c, const char *key, const char *upload_id,
		    struct du_err *err);
/* Parts already uploaded, ascending, all pages. cb non-zero stops (and is returned). */
int du_s3_mpu_list_parts(struct du_s3_conn *c, const char *key, const char *upload_id,
			 int (*cb)(void *arg, int number, uint64_t size, const char *etag), void *arg,
			 struct du_err *err);
/* Multipart uploads in progress under prefix, all pages. cb non-zero stops (and is returned). */
int du_s3_mpu_list_uploads(struct du_s3_conn *c, const char *prefix,
			   int (*cb)(void *arg, const char *key, const char *upload_id,
				     int64_t initiated),
			   void *arg, struct du_err *err);

/* Part size for a file: chunk grown to a multiple of 1 MiB so that at most 10,000 parts are
 * needed (never below 5 MiB). */
uint64_t du_s3_part_size(uint64_t file_size, uint64_t chunk);
/* DU_ERR_S3 (not retryable) for objects larger than S3 accepts (5 TiB). */
int du_s3_check_size(uint64_t size, struct du_err *err);

#endif

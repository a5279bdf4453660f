/*
 * s3_request.h (private to src/s3/): the S3 client's objects and the one request path that
 * s3.c (the client, its connections, signing, sending, retrying), s3_object.c (bucket and object
 * operations, listings) and s3_multipart.c (multipart uploads) share. See include/du/s3.h.
 */
#ifndef DU_S3_REQUEST_H
#define DU_S3_REQUEST_H

#include "du/s3.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <libxml/parser.h>

#include "du/bwlimit.h"
#include "du/checksum.h"
#include "du/crypto.h"
#include "du/retry.h"
#include "du/sigv4.h"
#include "du/strbuf.h"
#include "du/wait.h"
#include "http/http.h"
#include "s3/s3_internal.h"

#define BODY_CAP ((size_t)1 << 20)    /* answers other than listings and GETs */
#define LIST_CAP ((size_t)16 << 20)   /* one listing page; 1000 keys is well under 1 MiB */
#define MAX_HDRS 96                   /* du's own headers and the user's metadata (at most 64 keys) */
#define HDRBUF 20480                  /* header lines of one request: the session token (<= 4 KiB),
                                       * metadata (2 KiB, names twice: sent and signed), tags (<= 4 KiB) */
#define INLINE_BODY_MAX ((size_t)60 << 10) /* PUT bodies sent with their headers (libcurl: < 64 KiB) */

struct du_s3 {
	struct du_s3_opts o;              /* strings point at the copies below */
	char *bucket, *region, *storage_class, *sse, *sse_kms_key_id, *ca_bundle;
	struct du_creds_provider *cp;
	CURLSH *sh;
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
	struct du_governor *gov;
	const volatile int *abort_flag;
	atomic_int abort_all;
	atomic_long skew;                 /* seconds to add to our clock, learnt from RequestTimeTooSkewed */
	char *base;                       /* "https://host[:port]": the URL before the path */
	char *host;                       /* Host header, signed and sent */
	char *path_prefix;                /* raw: "/bucket" (path-style) or "" (virtual), after any endpoint path */
	char *bucket_path;                /* raw path of bucket-level requests: "/bucket" or "/" */
	char *ua;
	bool kms;                         /* SSE-KMS: the ETag is not the MD5 */
	struct du_bwlimit *bw;            /* owned: the process's bandwidth cap; NULL: none */
	atomic_uint_fast64_t requests, attempts, retries, throttles, failures, sent, received;
};

/* Response of the current attempt. */
struct resp {
	long status;
	struct du_http_body body;         /* at most body.max bytes (du_http_body_write) */
	char etag[DU_S3_ETAG_MAX];
	char request_id[64];
	char bucket_region[64];
	int64_t date;                     /* Date header, UTC seconds; 0 when absent */
	char meta_md5[33];
	char ck_alg[16];                  /* x-amz-checksum-<alg>: the alg, its value, and -type */
	char ck_val[64];
	char ck_type[16];
	int64_t meta_mtime;
	bool has_meta_mtime;
	uint64_t content_length;
	bool has_content_length;
	long retry_after_ms;
};

struct du_s3_conn {
	struct du_s3 *s3;
	CURL *h;
	char errbuf[CURL_ERROR_SIZE];
	struct resp r;
	/* request body being sent */
	const char *up;
	size_t up_len, up_off;
	/* header lines: curl only reads the list, so nodes and text live here, no allocation */
	struct curl_slist nodes[MAX_HDRS];
	int nhdr;
	char hbuf[HDRBUF];
	size_t hused;
	struct du_sigv4_hdr sign[MAX_HDRS];
	int nsign;
	uint64_t rnd;
	int last_attempts;               /* attempts the last request took */
	bool ck_echoed;                  /* the last PUT's checksum came back (du_s3_checksum_echoed) */
	bool skew_tried;                 /* the current request already corrected the clock once */
	struct du_s3x_page pg;
};

/* One request, as an operation describes it. */
struct rq {
	const char *method;
	const char *op;                  /* for messages: "PUT", "LIST", ... */
	const char *key;                 /* NULL: bucket-level */
	const char *query;               /* raw "name=value&..."; '&' never inside a value */
	bool query_encoded;              /* query built by qadd: names and values encoded already */
	const void *body;
	size_t len;
	const char *md5_b64;             /* Content-MD5 */
	const char *content_type;
	const char *amz[12][2];          /* extra x-amz-* headers, signed */
	int namz;
	const char *const (*meta)[2];    /* and more (the object's x-amz-meta-*), signed */
	int nmeta;
	size_t resp_max;
	/* Called after a 2xx: may turn it into an error (e.g. a 200 carrying <Error>). */
	int (*check)(struct du_s3_conn *c, const struct rq *q, struct du_err *err);
	/* Called for a non-2xx answer without a useful body (HEAD): fills err, returns its code. */
	int (*no_body)(struct du_s3_conn *c, const struct rq *q, struct du_err *err);
};

/* A paged listing (objects, parts, uploads): what to ask, how to read and hand on a page. */
struct pager {
	const char *op;
	const char *key;                 /* NULL: bucket-level */
	bool query_encoded;              /* the query is built by qadd */
	bool decode_asked;               /* see du_s3x_page.decode_asked */
	void (*ask)(struct pager *p, struct du_strbuf *qs);
	int (*parse)(const char *buf, size_t len, struct du_s3x_page *pg, struct du_err *err);
	int (*deliver)(struct pager *p, const struct du_s3x_page *pg);   /* the caller's callback value */
	int (*advance)(struct pager *p, struct du_s3x_page *pg, struct du_err *err);
};

/* s3.c */
bool du_s3r_empty(const char *s);
int du_s3r_s3_error(struct du_s3_conn *c, const struct rq *q, const struct du_s3x_error *e, struct du_err *err);
int du_s3r_perform(struct du_s3_conn *c, const struct rq *q, struct du_err *err);

/* s3_object.c */
void du_s3r_qadd(struct du_strbuf *qs, const char *name, const char *raw);
int du_s3r_page_error(struct du_s3_conn *c, const struct rq *q, int rc, struct du_err *err);
int du_s3r_list_pages(struct du_s3_conn *c, struct pager *p, struct du_err *err);
void du_s3r_object_headers(struct du_s3 *s3, struct rq *q, const char *md5hex, const char *mtime,
			   const struct du_s3_put *p);
/* s[0..n) as XML text (& < > " escaped), added to b: the bodies du sends (Complete, Tagging). */
void du_s3r_xml_text(struct du_strbuf *b, const char *s, size_t n);
bool du_s3r_sends_checksum(int alg);
void du_s3r_checksum_headers(struct rq *q, int alg, const char *b64, char hname[40]);
int du_s3r_check_echo(struct du_s3_conn *c, const char *op, const char *key, int alg, const char *b64, struct du_err *err);
int du_s3r_check_etag(struct du_s3_conn *c, const char *op, const char *key, const char *md5hex, struct du_err *err);

#endif

/*
 * s3_internal.h: private to src/s3.c and src/s3_xml.c (and their unit tests).
 *
 * The XML side of S3: each answer is parsed completely with libxml2's streaming reader into a
 * struct du_s3x_page (records plus one string arena), and only then are its records handed to
 * the caller's callback. A page that is garbage or truncated thus delivers nothing, so fetching
 * it again cannot deliver an object twice. An <Error> document where a result was expected gives
 * DU_ERR_S3 with page->error filled (CompleteMultipartUpload may answer 200 with one).
 */
#ifndef DU_S3_INTERNAL_H
#define DU_S3_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "du/err.h"
#include "du/s3.h"
#include "du/strbuf.h"

struct du_s3x_error {
	char code[64];
	char message[256];
	char request_id[64];
	char bucket[128];    /* <BucketName>, NoSuchBucket */
};

/* One parsed record: an object (a=key, b=etag, n=size, t=mtime), a part (a=etag, n=size,
 * number) or an upload (a=key, b=upload id, t=initiated). a and b are arena offsets. */
struct du_s3x_rec {
	size_t a, b;
	uint64_t n;
	int64_t t;
	int number;
	bool has_n;          /* a <Size> came */
};

struct du_s3x_page {
	bool truncated;
	char *next;           /* NextContinuationToken / NextPartNumberMarker / NextKeyMarker */
	char *next2;          /* NextUploadIdMarker */
	char *etag;           /* CompleteMultipartUploadResult ETag, quotes stripped */
	char *upload_id;      /* InitiateMultipartUploadResult UploadId */
	struct du_s3x_error error;
	/* private */
	bool url_encoded;             /* the answer said <EncodingType>url</EncodingType> */
	/* Set by the caller, kept across pages: the request asked for encoding-type=url, and this
	 * listing's keys are decoded even when the answer does not say so (Ceph RGW's uploads list). */
	bool decode_asked;
	/* An array of records, not bytes: it stays a plain array (strbuf is for strings). */
	struct du_s3x_rec *recs;
	size_t nrecs, caprecs;
	struct du_strbuf arena;       /* the records' strings, each NUL-terminated, at offsets a and b */
	struct du_s3x_rec cur;
	bool in_rec;
};

/* Empty the page for reuse (keeps its memory). */
void du_s3x_page_reset(struct du_s3x_page *pg);
void du_s3x_page_release(struct du_s3x_page *pg);

/* Each returns DU_OK, DU_ERR_S3 (an <Error> document: pg->error), DU_ERR_PARSE or DU_ERR_NOMEM. */
int du_s3x_parse_list(const char *buf, size_t len, struct du_s3x_page *pg, struct du_err *err);
int du_s3x_parse_parts(const char *buf, size_t len, struct du_s3x_page *pg, struct du_err *err);
int du_s3x_parse_uploads(const char *buf, size_t len, struct du_s3x_page *pg, struct du_err *err);
int du_s3x_parse_initiate(const char *buf, size_t len, struct du_s3x_page *pg, struct du_err *err);
int du_s3x_parse_complete(const char *buf, size_t len, struct du_s3x_page *pg, struct du_err *err);
/* GetObjectTagging: one record a tag (a=key, b=value) */
int du_s3x_parse_tagging(const char *buf, size_t len, struct du_s3x_page *pg, struct du_err *err);
/* Only an <Error> document: DU_OK with e filled, else DU_ERR_PARSE. */
int du_s3x_parse_error(const char *buf, size_t len, struct du_s3x_error *e);

/* Hand the parsed records to cb; keys not starting with only_prefix (when not NULL) are
 * skipped. Returns the first non-zero cb value, else 0. */
int du_s3x_each_object(const struct du_s3x_page *pg, const char *only_prefix,
		       int (*cb)(void *arg, const struct du_s3_object *o), void *arg);
int du_s3x_each_part(const struct du_s3x_page *pg,
		     int (*cb)(void *arg, int number, uint64_t size, const char *etag), void *arg);
int du_s3x_each_upload(const struct du_s3x_page *pg, const char *only_prefix,
		       int (*cb)(void *arg, const char *key, const char *upload_id, int64_t initiated),
		       void *arg);

/* Percent-decoding in place ('+' is a space, as S3's encoding-type=url writes it); returns the
 * new length. Malformed escapes are kept literally. */
int du_s3x_each_tag(const struct du_s3x_page *pg, int (*cb)(void *arg, const char *key, const char *value),
		    void *arg);
size_t du_s3x_url_decode(char *s, size_t len);
/* "2009-10-12T17:50:30.000Z" -> UTC seconds; -1 when malformed. */
int64_t du_s3x_parse_time(const char *s);
/* Strip one pair of surrounding double quotes in place. */
void du_s3x_unquote(char *s);

/* For tests: the URL a request for key (NULL: the bucket) with the raw query would go to, and
 * the Host header it would sign. The URL is malloc'd. */
char *du_s3i_url(struct du_s3 *s3, const char *key, const char *query);
const char *du_s3i_host(const struct du_s3 *s3);

#endif

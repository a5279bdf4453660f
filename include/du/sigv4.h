/*
 * sigv4.h: AWS Signature Version 4 for S3, as pure functions (no I/O, no clock, no globals
 * except the signing-key cache, which is thread-safe).
 *
 * A request is described by struct du_sigv4_req; du_sigv4_sign() fills struct du_sigv4_out with
 * the canonical request, the string to sign, the signature and the Authorization header value.
 * The caller sends exactly the headers it passed in (plus Authorization), with the same
 * values: host, x-amz-date, x-amz-content-sha256 and x-amz-security-token must be among them
 * (du_sigv4_sign does not add headers; du_s3 does).
 *
 *     struct du_sigv4_hdr h[] = {
 *         { "host", "bucket.s3.eu-west-1.amazonaws.com" },
 *         { "x-amz-content-sha256", DU_SIGV4_UNSIGNED },
 *         { "x-amz-date", "20130524T000000Z" },
 *     };
 *     struct du_sigv4_req rq = {
 *         .method = "PUT", .path = "/my key.wav",        // raw, not yet encoded
 *         .query = "partNumber=1&uploadId=abc",            // raw name=value pairs joined by '&'
 *         .headers = h, .nheaders = 3,
 *         .payload_hash = DU_SIGV4_UNSIGNED,
 *         .access_key = ak, .secret_key = sk, .region = "eu-west-1", .service = "s3",
 *         .amz_date = "20130524T000000Z",
 *     };
 *     struct du_sigv4_out out;
 *     if (du_sigv4_sign(&rq, &out, &err)) ...
 *     // send header "Authorization: <out.authorization>"
 *     du_sigv4_out_release(&out);
 *
 * Path: each segment is RFC 3986-encoded ('/' kept; S3 does not normalise '.', '..' or '//').
 * Query: names and values are encoded (unreserved characters kept), sorted by name then value,
 * a parameter without '=' becomes "name=". The query passed in is NOT yet encoded: '&' separates
 * pairs, the first '=' separates name and value (so a raw name cannot hold '&' or '=', a raw value
 * cannot hold '&'; empty pieces as in "a&&b" are ignored). Use du_sigv4_uri_encode() to build the
 * URL that is actually sent, so what is signed and what is sent agree byte for byte.
 * Headers: names lower-cased, values trimmed of spaces and tabs with inner runs folded to one
 * space, sorted by name; a name given twice (any case) becomes one line, values joined with ','
 * in the order given. A header name that is not an RFC 9110 token, or a value with CR or LF, is
 * refused (DU_ERR_INTERNAL) rather than signed. The method is used as given (upper case).
 * Authorization: "AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/SERVICE/aws4_request,
 * SignedHeaders=a;b, Signature=hex" (with ", " separators, as botocore writes it).
 *
 * Errors: DU_ERR_S3_AUTH when the access or secret key is empty; DU_ERR_INTERNAL for a malformed
 * request description (missing field, bad amz_date); DU_ERR_NOMEM. Messages never hold the secret.
 * Verified against AWS's published S3 examples and against botocore on random requests
 * (tests/unit/test_sigv4.c, tests/unit/gen_sigv4_vectors.py).
 */
#ifndef DU_SIGV4_H
#define DU_SIGV4_H

#include <stdbool.h>
#include <stddef.h>

#include "du/err.h"

#define DU_SIGV4_UNSIGNED "UNSIGNED-PAYLOAD"
#define DU_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct du_sigv4_hdr {
	const char *name;   /* any case; canonicalised to lower case */
	const char *value;  /* trimmed, inner runs of spaces folded, for signing */
};

struct du_sigv4_req {
	const char *method;
	const char *path;          /* raw path starting with '/', e.g. "/bucket/a b/c.wav" */
	const char *query;         /* raw "a=1&b" or NULL/"" */
	bool query_encoded;        /* query's names and values are RFC 3986-encoded already (any byte) */
	const struct du_sigv4_hdr *headers;
	size_t nheaders;
	const char *payload_hash;  /* hex SHA-256 of the body or DU_SIGV4_UNSIGNED */
	const char *access_key;
	const char *secret_key;
	const char *region;
	const char *service;       /* "s3" */
	const char *amz_date;      /* "YYYYMMDDTHHMMSSZ" */
};

struct du_sigv4_out {
	char *canonical_request;
	char *string_to_sign;
	char *signed_headers;      /* "host;x-amz-content-sha256;x-amz-date" */
	char signature[65];
	char *authorization;       /* full Authorization header value */
};

int du_sigv4_sign(const struct du_sigv4_req *rq, struct du_sigv4_out *out, struct du_err *err);
void du_sigv4_out_release(struct du_sigv4_out *out);

/* Pieces, exposed for tests and for building the URL that is sent. All return malloc'd strings
 * (NULL on allocation failure). */
/* RFC 3986 encoding: unreserved A-Z a-z 0-9 - . _ ~ kept; '/' kept when keep_slash. */
char *du_sigv4_uri_encode(const char *s, size_t len, int keep_slash);
char *du_sigv4_canonical_uri(const char *path);
char *du_sigv4_canonical_query(const char *query);
/* The same for a query whose names and values are encoded already (du_sigv4_uri_encode): only
 * sorted, so a value may carry any byte ('&' and '=' arrive as %26 and %3D). */
char *du_sigv4_canonical_query_encoded(const char *query);
/* Format t (UTC seconds) as "YYYYMMDDTHHMMSSZ" into buf[17]. */
void du_sigv4_amz_date(long long t, char buf[17]);

/* The signing-key cache (one derived key per secret, day, region and service; the secret itself
 * is not stored, entries are found by a salted hash). Counters are since start or the last clear;
 * clearing wipes the keys (for tests, and for a tool that drops its credentials). */
void du_sigv4_cache_stats(unsigned long *hits, unsigned long *misses);
void du_sigv4_cache_clear(void);

#endif

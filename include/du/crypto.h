/*
 * crypto.h: the hashes du needs, on OpenSSL's libcrypto.
 *
 *     unsigned char md[DU_MD5_LEN];
 *     du_md5(buf, len, md);
 *     char b64[DU_MD5_B64_LEN];  du_base64(md, sizeof(md), b64, sizeof(b64));   // Content-MD5
 *     char hex[DU_MD5_HEX_LEN];  du_hex(md, sizeof(md), hex);                   // ETag form
 *
 * Incremental MD5 for files read in pieces: du_md5_new/update/final.
 *
 * The void functions cannot fail on a working libcrypto: the algorithms are fetched once per
 * process, and a tool calls du_crypto_check() at start-up so that a libcrypto without them (FIPS
 * mode refuses MD5) is reported as an error; after that, a failure inside OpenSSL (out of memory)
 * aborts rather than send a wrong digest. All functions are thread-safe.
 */
#ifndef DU_CRYPTO_H
#define DU_CRYPTO_H

#include <stddef.h>

#include "du/err.h"

#define DU_MD5_LEN 16
#define DU_MD5_HEX_LEN 33
#define DU_MD5_B64_LEN 25
#define DU_SHA256_LEN 32
#define DU_SHA256_HEX_LEN 65

/* DU_OK, or DU_ERR_CONFIG when libcrypto lacks MD5, SHA-256 or HMAC. */
int du_crypto_check(struct du_err *err);

void du_md5(const void *buf, size_t len, unsigned char out[DU_MD5_LEN]);
void du_sha256(const void *buf, size_t len, unsigned char out[DU_SHA256_LEN]);
void du_sha256_hex(const void *buf, size_t len, char out[DU_SHA256_HEX_LEN]);
void du_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
		    unsigned char out[DU_SHA256_LEN]);
/* Lower-case hex; out must hold 2*len+1. */
void du_hex(const unsigned char *in, size_t len, char *out);
/* Standard base64 with padding; returns bytes written (without NUL) or 0 if out is too small. */
size_t du_base64(const unsigned char *in, size_t len, char *out, size_t outsz);

/* Incremental MD5 (opaque state, heap allocated). NULL on allocation failure. */
struct du_md5_ctx;
struct du_md5_ctx *du_md5_new(void);
void du_md5_update(struct du_md5_ctx *c, const void *buf, size_t len);
void du_md5_final(struct du_md5_ctx *c, unsigned char out[DU_MD5_LEN]); /* also frees c */

#endif

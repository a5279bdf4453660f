#include "du/crypto.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

/*
 * Algorithms are fetched once per process: an implicit fetch (EVP_sha256() and friends) looks the
 * provider up on every init, which shows when every 8 MiB part and every request is hashed.
 * The fetched objects live until exit on purpose (they stay reachable, so leak checkers are quiet).
 */
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static EVP_MD *md_md5;
static EVP_MD *md_sha256;
static EVP_MAC *mac_hmac;

static void fetch_all(void)
{
	md_md5 = EVP_MD_fetch(NULL, "MD5", NULL);
	md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	mac_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/*
 * The void functions of crypto.h have nowhere to report a failure, and a wrong digest would be
 * sent to S3 as if it were right. The only ways to fail are an OpenSSL without the algorithm
 * (du_crypto_check reports that at start-up) or an allocation failure inside OpenSSL, so stop.
 */
static void broken(void)
{
	abort();
}

static const EVP_MD *get_md(int sha)
{
	pthread_once(&fetch_once, fetch_all);
	const EVP_MD *md = sha ? md_sha256 : md_md5;
	if (!md)
		broken();
	return md;
}

int du_crypto_check(struct du_err *err)
{
	pthread_once(&fetch_once, fetch_all);
	if (!md_md5)
		return du_err_set(err, DU_ERR_CONFIG, "libcrypto offers no MD5 (FIPS mode?)");
	if (!md_sha256)
		return du_err_set(err, DU_ERR_CONFIG, "libcrypto offers no SHA-256");
	if (!mac_hmac)
		return du_err_set(err, DU_ERR_CONFIG, "libcrypto offers no HMAC");
	return DU_OK;
}

static void digest(int sha, const void *buf, size_t len, unsigned char *out)
{
	unsigned int n = 0;
	if (!EVP_Digest(buf, len, out, &n, get_md(sha), NULL))
		broken();
}

void du_md5(const void *buf, size_t len, unsigned char out[DU_MD5_LEN])
{
	digest(0, buf, len, out);
}

void du_sha256(const void *buf, size_t len, unsigned char out[DU_SHA256_LEN])
{
	digest(1, buf, len, out);
}

void du_sha256_hex(const void *buf, size_t len, char out[DU_SHA256_HEX_LEN])
{
	unsigned char md[DU_SHA256_LEN];
	du_sha256(buf, len, md);
	du_hex(md, sizeof(md), out);
}

void du_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
		    unsigned char out[DU_SHA256_LEN])
{
	pthread_once(&fetch_once, fetch_all);
	if (!mac_hmac)
		broken();
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac_hmac);
	if (!ctx)
		broken();
	char digest_name[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
		OSSL_PARAM_construct_end(),
	};
	/* An empty key is legal HMAC; OpenSSL wants a non-NULL pointer for it. */
	static const unsigned char nokey[1];
	size_t n = 0;
	int ok = EVP_MAC_init(ctx, keylen ? key : nokey, keylen, params) &&
		 EVP_MAC_update(ctx, msg, msglen) &&
		 EVP_MAC_final(ctx, out, &n, DU_SHA256_LEN);
	EVP_MAC_CTX_free(ctx);
	if (!ok || n != DU_SHA256_LEN)
		broken();
}

void du_hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

size_t du_base64(const unsigned char *in, size_t len, char *out, size_t outsz)
{
	if (len > (size_t)-1 / 4 - 3)
		return 0;
	size_t need = (len + 2) / 3 * 4;
	if (outsz < need + 1)
		return 0;
	/* EVP_EncodeBlock takes an int length; feed it in slices that are a multiple of 3. */
	size_t done = 0, w = 0;
	while (done < len) {
		size_t chunk = len - done;
		if (chunk > 3 * (1u << 28))
			chunk = 3 * (1u << 28);
		w += (size_t)EVP_EncodeBlock((unsigned char *)out + w, in + done, (int)chunk);
		done += chunk;
	}
	out[w] = '\0';
	return w;
}

struct du_md5_ctx {
	EVP_MD_CTX *md;
};

struct du_md5_ctx *du_md5_new(void)
{
	const EVP_MD *md = get_md(0);
	struct du_md5_ctx *c = malloc(sizeof(*c));
	if (!c)
		return NULL;
	c->md = EVP_MD_CTX_new();
	if (!c->md || !EVP_DigestInit_ex(c->md, md, NULL)) {
		EVP_MD_CTX_free(c->md);
		free(c);
		return NULL;
	}
	return c;
}

void du_md5_update(struct du_md5_ctx *c, const void *buf, size_t len)
{
	if (len && !EVP_DigestUpdate(c->md, buf, len))
		broken();
}

void du_md5_final(struct du_md5_ctx *c, unsigned char out[DU_MD5_LEN])
{
	unsigned int n = 0;
	int ok = EVP_DigestFinal_ex(c->md, out, &n);
	EVP_MD_CTX_free(c->md);
	free(c);
	if (!ok || n != DU_MD5_LEN)
		broken();
}

#include "du/sigv4.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "du/crypto.h"
#include "du/strbuf.h"

#define ALGORITHM "AWS4-HMAC-SHA256"

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

char *du_sigv4_uri_encode(const char *s, size_t len, int keep_slash)
{
	static const char hexdig[] = "0123456789ABCDEF";
	if (len > (SIZE_MAX - 1) / 3)
		return NULL;
	char *out = malloc(3 * len + 1), *w = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c) || (keep_slash && c == '/')) {
			*w++ = (char)c;
		} else {
			*w++ = '%';
			*w++ = hexdig[c >> 4];
			*w++ = hexdig[c & 15];
		}
	}
	*w = '\0';
	return out;
}

char *du_sigv4_canonical_uri(const char *path)
{
	if (!path || !*path)
		return strdup("/");
	if (*path == '/')
		return du_sigv4_uri_encode(path, strlen(path), 1);
	/* A path is absolute in HTTP; sign what will be sent, which gets the leading slash. */
	char *enc = du_sigv4_uri_encode(path, strlen(path), 1);
	char *out = NULL;
	if (enc && asprintf(&out, "/%s", enc) < 0)
		out = NULL;
	free(enc);
	return out;
}

struct qparam {
	char *name;
	char *value;
};

static int qparam_cmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->value, y->value);
}

static char *canonical_query(const char *query, bool encoded);

char *du_sigv4_canonical_query(const char *query)
{
	return canonical_query(query, false);
}

char *du_sigv4_canonical_query_encoded(const char *query)
{
	return canonical_query(query, true);
}

static char *canonical_query(const char *query, bool encoded)
{
	if (!query || !*query)
		return calloc(1, 1);
	size_t n = 1;
	for (const char *p = query; *p; p++)
		n += *p == '&';
	struct qparam *qp = calloc(n, sizeof(*qp));
	if (!qp)
		return NULL;
	size_t k = 0;
	char *out = NULL;
	struct du_strbuf sb = DU_STRBUF_INIT;
	for (const char *p = query; *p;) {
		const char *end = strchrnul(p, '&');
		/* "a&&b" carries no parameter between the ampersands; nothing is sent for it either. */
		if (end > p) {
			const char *eq = memchr(p, '=', (size_t)(end - p));
			const char *vend = end;
			if (!eq)
				eq = vend = end;
			const char *v = eq + (eq < end);
			size_t vn = (size_t)(vend - eq - (eq < end));
			qp[k].name = encoded ? strndup(p, (size_t)(eq - p)) : du_sigv4_uri_encode(p, (size_t)(eq - p), 0);
			qp[k].value = encoded ? strndup(v, vn) : du_sigv4_uri_encode(v, vn, 0);
			if (!qp[k].name || !qp[k].value) {
				k++;
				goto out;
			}
			k++;
		}
		p = *end ? end + 1 : end;
	}
	qsort(qp, k, sizeof(*qp), qparam_cmp);
	for (size_t i = 0; i < k; i++) {
		if (i)
			du_strbuf_addc(&sb, '&');
		du_strbuf_adds(&sb, qp[i].name);
		du_strbuf_addc(&sb, '=');
		du_strbuf_adds(&sb, qp[i].value);
	}
	out = du_strbuf_detach(&sb);
out:
	for (size_t i = 0; i < k; i++) {
		free(qp[i].name);
		free(qp[i].value);
	}
	free(qp);
	du_strbuf_release(&sb);
	return out;
}

void du_sigv4_amz_date(long long t, char buf[17])
{
	struct tm tm;
	time_t tt = (time_t)t;
	if ((long long)tt != t || !gmtime_r(&tt, &tm) ||
	    strftime(buf, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
		memcpy(buf, "19700101T000000Z", 17); /* out of range: a date S3 refuses loudly */
}

/* --- canonical headers --------------------------------------------------------------------- */

struct chdr {
	char *name;   /* lower case */
	char *value;  /* trimmed, folded */
	size_t order; /* position in the request: duplicates are joined in the order given */
};

static int chdr_cmp(const void *a, const void *b)
{
	const struct chdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Header field names are RFC 9110 tokens: visible ASCII except separators. */
static int tchar(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", c);
}

static char *canon_name(const char *name)
{
	size_t n = strlen(name);
	if (!n)
		return NULL;
	char *out = malloc(n + 1);
	if (!out)
		return NULL;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = (unsigned char)name[i];
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	return out;
}

/* Trimall: strip leading and trailing blanks, fold inner runs of blanks to one space. */
static char *canon_value(const char *v)
{
	char *out = malloc(strlen(v) + 1), *w = out;
	if (!out)
		return NULL;
	while (is_ows(*v))
		v++;
	while (*v) {
		if (is_ows(*v)) {
			while (is_ows(*v))
				v++;
			if (*v)
				*w++ = ' ';
			continue;
		}
		*w++ = *v++;
	}
	*w = '\0';
	return out;
}

static int check_header(const struct du_sigv4_hdr *h, struct du_err *err)
{
	if (!h->name || !*h->name)
		return du_err_set(err, DU_ERR_INTERNAL, "sigv4: header without a name");
	for (const char *p = h->name; *p; p++)
		if (!tchar((unsigned char)*p))
			return du_err_set(err, DU_ERR_INTERNAL, "sigv4: bad header name '%s'", h->name);
	if (!h->value)
		return du_err_set(err, DU_ERR_INTERNAL, "sigv4: header '%s' has no value", h->name);
	/* A line break would let a value smuggle in another header; never sign that. */
	if (strpbrk(h->value, "\r\n"))
		return du_err_set(err, DU_ERR_INTERNAL, "sigv4: line break in header '%s'", h->name);
	return DU_OK;
}

/* Fill the canonical header block (each line ending in '\n') and the signed-headers list. */
static int canonical_headers(const struct du_sigv4_req *rq, char **block, char **signed_list,
			     struct du_err *err)
{
	int rc = DU_OK;
	size_t n = rq->nheaders;
	struct chdr *hs = calloc(n ? n : 1, sizeof(*hs));
	struct du_strbuf b = DU_STRBUF_INIT, s = DU_STRBUF_INIT;
	if (!hs)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		if ((rc = check_header(&rq->headers[i], err)))
			goto out;
		hs[i].name = canon_name(rq->headers[i].name);
		hs[i].value = canon_value(rq->headers[i].value);
		hs[i].order = i;
		if (!hs[i].name || !hs[i].value) {
			rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	qsort(hs, n, sizeof(*hs), chdr_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i && !strcmp(hs[i].name, hs[i - 1].name)) {
			du_strbuf_addc(&b, ',');
		} else {
			if (i) {
				du_strbuf_addc(&b, '\n');
				du_strbuf_addc(&s, ';');
			}
			du_strbuf_adds(&b, hs[i].name);
			du_strbuf_addc(&b, ':');
			du_strbuf_adds(&s, hs[i].name);
		}
		du_strbuf_adds(&b, hs[i].value);
	}
	if (n)
		du_strbuf_addc(&b, '\n');
	if (b.oom || s.oom) {
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
		goto out;
	}
	*block = du_strbuf_detach(&b);
	*signed_list = du_strbuf_detach(&s);
	if (!*block || !*signed_list) {
		free(*block);
		free(*signed_list);
		*block = *signed_list = NULL;
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
	}
out:
	for (size_t i = 0; i < n; i++) {
		free(hs[i].name);
		free(hs[i].value);
	}
	free(hs);
	du_strbuf_release(&b);
	du_strbuf_release(&s);
	return rc;
}

/* --- signing-key cache --------------------------------------------------------------------- */

/*
 * The signing key depends only on (secret, day, region, service), so a process that signs
 * thousands of requests a day derives it once per credential. Entries are found by a salted
 * HMAC of the whole tuple: the secret itself is never stored, and two secrets (a rotated
 * credential, two profiles) cannot meet in one slot. The derived key is as sensitive as the
 * secret for that day; it is wiped on eviction and by du_sigv4_cache_clear().
 */
#define CACHE_SLOTS 16

struct key_slot {
	unsigned char id[DU_SHA256_LEN];
	unsigned char key[DU_SHA256_LEN];
	unsigned long long used; /* 0: empty; otherwise the tick of the last use, for LRU */
};

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct key_slot cache[CACHE_SLOTS];
static unsigned long long cache_tick;
static unsigned long cache_hits, cache_misses;
static unsigned char cache_salt[32];
static int cache_salted;

/* Under cache_mu. A failing RAND_bytes leaves a zero salt: the id is still a one-way hash. */
static void salt_once(void)
{
	if (!cache_salted) {
		if (RAND_bytes(cache_salt, sizeof(cache_salt)) != 1)
			memset(cache_salt, 0, sizeof(cache_salt));
		cache_salted = 1;
	}
}

static int cache_id(const char *date8, const char *region, const char *service, const char *secret,
		    unsigned char id[DU_SHA256_LEN])
{
	size_t lr = strlen(region), ls = strlen(service), lk = strlen(secret);
	size_t n = 8 + 1 + lr + 1 + ls + 1 + lk;
	unsigned char salt[sizeof(cache_salt)];
	char *msg = malloc(n);
	if (!msg)
		return -1;
	/* NUL separators: no field can contain one, so distinct tuples give distinct messages. */
	char *w = msg;
	memcpy(w, date8, 8), w += 8, *w++ = '\0';
	memcpy(w, region, lr), w += lr, *w++ = '\0';
	memcpy(w, service, ls), w += ls, *w++ = '\0';
	memcpy(w, secret, lk);
	pthread_mutex_lock(&cache_mu);
	salt_once();
	memcpy(salt, cache_salt, sizeof(salt));
	pthread_mutex_unlock(&cache_mu);
	du_hmac_sha256(salt, sizeof(salt), msg, n, id);
	OPENSSL_cleanse(msg, n);
	OPENSSL_cleanse(salt, sizeof(salt));
	free(msg);
	return 0;
}

static int derive_key(const char *secret, const char *date8, const char *region,
		      const char *service, unsigned char key[DU_SHA256_LEN])
{
	size_t lk = strlen(secret);
	char *k0 = malloc(4 + lk);
	if (!k0)
		return -1;
	memcpy(k0, "AWS4", 4);
	memcpy(k0 + 4, secret, lk);
	unsigned char k[DU_SHA256_LEN];
	du_hmac_sha256(k0, 4 + lk, date8, 8, k);
	du_hmac_sha256(k, sizeof(k), region, strlen(region), k);
	du_hmac_sha256(k, sizeof(k), service, strlen(service), k);
	du_hmac_sha256(k, sizeof(k), "aws4_request", 12, key);
	OPENSSL_cleanse(k0, 4 + lk);
	OPENSSL_cleanse(k, sizeof(k));
	free(k0);
	return 0;
}

static int signing_key(const char *secret, const char *date8, const char *region,
		       const char *service, unsigned char key[DU_SHA256_LEN])
{
	unsigned char id[DU_SHA256_LEN];
	if (cache_id(date8, region, service, secret, id))
		return -1;
	pthread_mutex_lock(&cache_mu);
	for (int i = 0; i < CACHE_SLOTS; i++) {
		if (cache[i].used && !memcmp(cache[i].id, id, sizeof(id))) {
			memcpy(key, cache[i].key, DU_SHA256_LEN);
			cache[i].used = ++cache_tick;
			cache_hits++;
			pthread_mutex_unlock(&cache_mu);
			return 0;
		}
	}
	cache_misses++;
	pthread_mutex_unlock(&cache_mu);

	/* Derive outside the lock; two threads racing on a miss both derive the same key. */
	if (derive_key(secret, date8, region, service, key))
		return -1;

	pthread_mutex_lock(&cache_mu);
	int victim = 0;
	for (int i = 0; i < CACHE_SLOTS; i++) {
		if (cache[i].used && !memcmp(cache[i].id, id, sizeof(id))) {
			victim = i; /* the racing thread got here first: refresh its slot */
			break;
		}
		if (cache[i].used < cache[victim].used)
			victim = i;
	}
	OPENSSL_cleanse(cache[victim].key, sizeof(cache[victim].key));
	memcpy(cache[victim].id, id, sizeof(id));
	memcpy(cache[victim].key, key, DU_SHA256_LEN);
	cache[victim].used = ++cache_tick;
	pthread_mutex_unlock(&cache_mu);
	return 0;
}

void du_sigv4_cache_clear(void)
{
	pthread_mutex_lock(&cache_mu);
	OPENSSL_cleanse(cache, sizeof(cache));
	cache_hits = cache_misses = 0;
	pthread_mutex_unlock(&cache_mu);
}

void du_sigv4_cache_stats(unsigned long *hits, unsigned long *misses)
{
	pthread_mutex_lock(&cache_mu);
	if (hits)
		*hits = cache_hits;
	if (misses)
		*misses = cache_misses;
	pthread_mutex_unlock(&cache_mu);
}

/* --- signing ------------------------------------------------------------------------------- */

static int valid_amz_date(const char *d)
{
	if (!d || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z')
		return 0;
	for (int i = 0; i < 15; i++)
		if (i != 8 && (d[i] < '0' || d[i] > '9'))
			return 0;
	return 1;
}

static int check_req(const struct du_sigv4_req *rq, struct du_err *err)
{
	if (!rq->method || !*rq->method || !rq->payload_hash || !*rq->payload_hash ||
	    !rq->region || !*rq->region || !rq->service || !*rq->service ||
	    (rq->nheaders && !rq->headers))
		return du_err_set(err, DU_ERR_INTERNAL, "sigv4: incomplete request description");
	if (!rq->access_key || !*rq->access_key || !rq->secret_key || !*rq->secret_key)
		return du_err_set(err, DU_ERR_S3_AUTH, "no S3 credentials to sign the request with");
	if (!valid_amz_date(rq->amz_date))
		return du_err_set(err, DU_ERR_INTERNAL, "sigv4: malformed date '%s'",
				  rq->amz_date ? rq->amz_date : "(null)");
	if (strpbrk(rq->method, " \t\r\n") || strpbrk(rq->payload_hash, " \t\r\n"))
		return du_err_set(err, DU_ERR_INTERNAL, "sigv4: blank in method or payload hash");
	return DU_OK;
}

int du_sigv4_sign(const struct du_sigv4_req *rq, struct du_sigv4_out *out, struct du_err *err)
{
	int rc;
	char *uri = NULL, *query = NULL, *hblock = NULL, *shdrs = NULL;
	char *creq = NULL, *sts = NULL, *auth = NULL;
	struct du_strbuf sb = DU_STRBUF_INIT;
	char date8[9], scope_tail[] = "/aws4_request";
	unsigned char key[DU_SHA256_LEN], mac[DU_SHA256_LEN];
	char creq_hash[DU_SHA256_HEX_LEN], sig[DU_SHA256_HEX_LEN];

	if ((rc = check_req(rq, err)))
		return rc;
	memcpy(date8, rq->amz_date, 8);
	date8[8] = '\0';

	uri = du_sigv4_canonical_uri(rq->path);
	query = canonical_query(rq->query, rq->query_encoded);
	if (!uri || !query) {
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = canonical_headers(rq, &hblock, &shdrs, err)))
		goto out;

	du_strbuf_adds(&sb, rq->method);
	du_strbuf_addc(&sb, '\n');
	du_strbuf_adds(&sb, uri);
	du_strbuf_addc(&sb, '\n');
	du_strbuf_adds(&sb, query);
	du_strbuf_addc(&sb, '\n');
	du_strbuf_adds(&sb, hblock);
	du_strbuf_addc(&sb, '\n');
	du_strbuf_adds(&sb, shdrs);
	du_strbuf_addc(&sb, '\n');
	du_strbuf_adds(&sb, rq->payload_hash);
	creq = du_strbuf_detach(&sb);
	if (!creq) {
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
		goto out;
	}
	du_sha256_hex(creq, strlen(creq), creq_hash);

	if (asprintf(&sts, ALGORITHM "\n%s\n%s/%s/%s%s\n%s", rq->amz_date, date8, rq->region,
		     rq->service, scope_tail, creq_hash) < 0) {
		sts = NULL;
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (signing_key(rq->secret_key, date8, rq->region, rq->service, key)) {
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
		goto out;
	}
	du_hmac_sha256(key, sizeof(key), sts, strlen(sts), mac);
	OPENSSL_cleanse(key, sizeof(key));
	du_hex(mac, sizeof(mac), sig);

	if (asprintf(&auth, ALGORITHM " Credential=%s/%s/%s/%s%s, SignedHeaders=%s, Signature=%s",
		     rq->access_key, date8, rq->region, rq->service, scope_tail, shdrs, sig) < 0) {
		auth = NULL;
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
		goto out;
	}

	out->canonical_request = creq;
	out->string_to_sign = sts;
	out->signed_headers = shdrs;
	out->authorization = auth;
	memcpy(out->signature, sig, sizeof(out->signature));
	creq = sts = shdrs = auth = NULL;
	rc = DU_OK;
out:
	free(uri);
	free(query);
	free(hblock);
	free(shdrs);
	free(creq);
	free(sts);
	free(auth);
	du_strbuf_release(&sb);
	return rc;
}

void du_sigv4_out_release(struct du_sigv4_out *out)
{
	if (!out)
		return;
	free(out->canonical_request);
	free(out->string_to_sign);
	free(out->signed_headers);
	free(out->authorization);
	memset(out, 0, sizeof(*out));
}

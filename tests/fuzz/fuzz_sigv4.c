/*
 * fuzz_sigv4.c: the SigV4 canonicalizer (src/sigv4.c) against invariants.
 *
 *   - du_sigv4_uri_encode gives only unreserved characters (and '/' when kept) and upper-case
 *     %XX escapes, and percent-decoding it gives back the input bytes exactly (NULs included);
 *   - du_sigv4_canonical_uri decodes back to the path (with a leading '/' added when missing) and
 *     is the identity on an already-safe path (unreserved characters and '/');
 *   - du_sigv4_canonical_query: its pairs are sorted, each "name=value" with only unreserved
 *     characters and escapes, and decoding them gives exactly the non-empty pieces of the raw
 *     query (split at '&', then at the first '='); a canonical query that needed no escape is
 *     its own canonical form (stable);
 *   - du_sigv4_sign accepts or refuses any request without crashing, and a signed request's
 *     canonical request carries the canonical URI and query as its second and third lines.
 * Input layout: the bytes split at the first two NULs into path, query and one header value.
 */
#include <ctype.h>
#include <stdbool.h>

#include "du/sigv4.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Strict decoding of du's own encoding; aborts on anything it could not have produced. */
static size_t decode(const char *s, size_t len, char *out, bool slash_ok)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			FUZZ_CHECK(i + 2 < len);
			int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
			FUZZ_CHECK(hi >= 0 && lo >= 0);
			unsigned char v = (unsigned char)(hi << 4 | lo);
			/* what could have been left as is was not escaped */
			FUZZ_CHECK(!unreserved(v) && !(slash_ok && v == '/'));
			out[o++] = (char)v;
			i += 2;
		} else {
			FUZZ_CHECK(unreserved(c) || (slash_ok && c == '/'));
			out[o++] = (char)c;
		}
	}
	return o;
}

static void check_encode(const char *s, size_t len, int keep_slash)
{
	char *enc = du_sigv4_uri_encode(s, len, keep_slash);
	FUZZ_CHECK(enc != NULL);
	size_t elen = strlen(enc);
	char *dec = malloc(elen + 1);
	size_t dlen = decode(enc, elen, dec, keep_slash);
	FUZZ_CHECK(dlen == len && memcmp(dec, s, len) == 0);
	free(dec);
	free(enc);
}

static void check_uri(const char *path)
{
	char *cu = du_sigv4_canonical_uri(path);
	FUZZ_CHECK(cu != NULL && cu[0] == '/');
	size_t clen = strlen(cu);
	char *dec = malloc(clen + 1);
	size_t dlen = decode(cu, clen, dec, true);
	dec[dlen] = '\0';
	if (!*path)
		FUZZ_CHECK(strcmp(dec, "/") == 0);
	else if (path[0] == '/')
		FUZZ_CHECK(strcmp(dec, path) == 0);
	else
		FUZZ_CHECK(dec[0] == '/' && strcmp(dec + 1, path) == 0);
	free(dec);
	/* idempotent on safe input: a canonical URI without escapes canonicalises to itself */
	if (!strchr(cu, '%')) {
		char *again = du_sigv4_canonical_uri(cu);
		FUZZ_CHECK(again && strcmp(again, cu) == 0);
		free(again);
	}
	free(cu);
}

struct pair {
	char *name, *value;
};

/* The raw query's pieces, decoded form, sorted the way the canonical query must be. */
static size_t raw_pairs(const char *q, struct pair *out)
{
	size_t k = 0;
	const char *p = q;
	while (*p) {
		const char *end = strchrnul(p, '&');
		if (end > p) {
			const char *eq = memchr(p, '=', (size_t)(end - p));
			const char *nend = eq ? eq : end;
			out[k].name = strndup(p, (size_t)(nend - p));
			out[k].value = eq ? strndup(eq + 1, (size_t)(end - eq - 1)) : strdup("");
			k++;
		}
		p = *end ? end + 1 : end;
	}
	return k;
}

static void check_query(const char *q)
{
	char *cq = du_sigv4_canonical_query(q);
	FUZZ_CHECK(cq != NULL);
	size_t slots = 1;
	for (const char *p = q; *p; p++)
		slots += *p == '&';
	struct pair *want = calloc(slots, sizeof(*want));
	size_t nwant = raw_pairs(q, want);

	/* Every canonical pair, decoded, in order. */
	size_t ngot = 0;
	const char *p = cq;
	while (*cq && p) {
		const char *end = strchrnul(p, '&');
		const char *eq = memchr(p, '=', (size_t)(end - p));
		FUZZ_CHECK(eq != NULL);
		FUZZ_CHECK(ngot < nwant);
		char *name = malloc((size_t)(eq - p) + 1), *value = malloc((size_t)(end - eq));
		FUZZ_CHECK(name && value);
		size_t nl = decode(p, (size_t)(eq - p), name, false);
		size_t vl = decode(eq + 1, (size_t)(end - eq - 1), value, false);
		name[nl] = value[vl] = '\0';
		/* Sorted by encoded name then value: compare with the next pair. */
		if (*end) {
			const char *n2 = end + 1, *e2 = strchrnul(n2, '&');
			char *a = strndup(p, (size_t)(end - p)), *b = strndup(n2, (size_t)(e2 - n2));
			char *ae = strchr(a, '='), *be = strchr(b, '=');
			FUZZ_CHECK(ae && be);
			*ae = *be = '\0';
			int c = strcmp(a, b);
			FUZZ_CHECK(c < 0 || (c == 0 && strcmp(ae + 1, be + 1) <= 0));
			free(a);
			free(b);
		}
		/* It must be one of the raw pairs (the count check below makes it a bijection). */
		bool found = false;
		for (size_t i = 0; i < nwant && !found; i++)
			if (want[i].name && strlen(want[i].name) == nl && !memcmp(want[i].name, name, nl) &&
			    strlen(want[i].value) == vl && !memcmp(want[i].value, value, vl)) {
				free(want[i].name);
				free(want[i].value);
				want[i].name = want[i].value = NULL;
				found = true;
			}
		FUZZ_CHECK(found);
		free(name);
		free(value);
		ngot++;
		p = *end ? end + 1 : NULL;
	}
	FUZZ_CHECK(ngot == nwant);
	for (size_t i = 0; i < nwant; i++) {
		free(want[i].name);
		free(want[i].value);
	}
	free(want);
	/* stable: a canonical query that needed no escape is its own canonical form */
	if (!strchr(cq, '%')) {
		char *again = du_sigv4_canonical_query(cq);
		FUZZ_CHECK(again && strcmp(again, cq) == 0);
		free(again);
	}
	free(cq);
}

static void check_sign(const char *path, const char *query, const char *hval)
{
	struct du_sigv4_hdr h[] = {
		{ "host", "bucket.s3.eu-west-1.amazonaws.com" },
		{ "x-amz-content-sha256", DU_SIGV4_UNSIGNED },
		{ "x-amz-date", "20130524T000000Z" },
		{ "x-amz-meta-fuzz", hval },
	};
	struct du_sigv4_req rq = {
		.method = "PUT", .path = path, .query = query, .headers = h, .nheaders = 4,
		.payload_hash = DU_SIGV4_UNSIGNED, .access_key = "AKIDEXAMPLE",
		.secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", .region = "eu-west-1",
		.service = "s3", .amz_date = "20130524T000000Z",
	};
	struct du_sigv4_out out = {0};
	struct du_err err = {0};
	if (du_sigv4_sign(&rq, &out, &err) == DU_OK) {
		char *cu = du_sigv4_canonical_uri(path), *cq = du_sigv4_canonical_query(query);
		char *want = NULL;
		FUZZ_CHECK(asprintf(&want, "PUT\n%s\n%s\n", cu, cq) > 0);
		FUZZ_CHECK(strncmp(out.canonical_request, want, strlen(want)) == 0);
		FUZZ_CHECK(strlen(out.signature) == 64);
		FUZZ_CHECK(!strstr(out.authorization, rq.secret_key));
		free(want);
		free(cu);
		free(cq);
		du_sigv4_out_release(&out);
	} else {
		/* only the header value can be refused: CR or LF in it */
		FUZZ_CHECK(strpbrk(hval, "\r\n") != NULL);
		FUZZ_CHECK(!strstr(err.msg, rq.secret_key));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_encode((const char *)data, size, 0);
	check_encode((const char *)data, size, 1);

	char *buf = malloc(size + 3);
	FUZZ_CHECK(buf != NULL);
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = buf[size + 2] = '\0';
	const char *path = buf;
	const char *query = path + strlen(path) + 1;
	if (query > buf + size)
		query = buf + size + 1;
	const char *hval = query + strlen(query) + 1;
	if (hval > buf + size + 1)
		hval = buf + size + 2;

	check_uri(path);
	check_query(query);
	check_sign(path, query, hval);
	free(buf);
	return 0;
}

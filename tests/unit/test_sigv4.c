/*
 * Unit tests for sigv4.c: AWS's published S3 examples, the canonicalisation pieces, errors, the
 * signing-key cache (also under 8 threads), and >= 200 random requests signed by botocore at
 * test time (tests/unit/gen_sigv4_vectors.py) that must agree byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "du/crypto.h"
#include "du/sigv4.h"

#define AK "AKIAIOSFODNN7EXAMPLE"
#define SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define DATE "20130524T000000Z"
#define HOST "examplebucket.s3.amazonaws.com"
#define SCOPE "20130524/us-east-1/s3/aws4_request"

static void sign_ok(const struct du_sigv4_req *rq, struct du_sigv4_out *out)
{
	struct du_err err = { 0 };
	int rc = du_sigv4_sign(rq, out, &err);
	if (rc)
		fail_msg("du_sigv4_sign: %s", err.msg);
}

/* --- AWS's examples (S3 API reference, "Examples: Signature Calculations", 20130524) --------- */

static void test_aws_get_object_range(void **state)
{
	(void)state;
	struct du_sigv4_hdr h[] = {
		{ "Host", HOST },
		{ "Range", "bytes=0-9" },
		{ "x-amz-content-sha256", DU_SIGV4_EMPTY_SHA256 },
		{ "x-amz-date", DATE },
	};
	struct du_sigv4_req rq = {
		.method = "GET", .path = "/test.txt", .headers = h, .nheaders = 4,
		.payload_hash = DU_SIGV4_EMPTY_SHA256, .access_key = AK, .secret_key = SK,
		.region = "us-east-1", .service = "s3", .amz_date = DATE,
	};
	struct du_sigv4_out out;
	sign_ok(&rq, &out);
	assert_string_equal(out.canonical_request,
			    "GET\n/test.txt\n\nhost:" HOST "\nrange:bytes=0-9\n"
			    "x-amz-content-sha256:" DU_SIGV4_EMPTY_SHA256 "\n"
			    "x-amz-date:" DATE "\n\n"
			    "host;range;x-amz-content-sha256;x-amz-date\n" DU_SIGV4_EMPTY_SHA256);
	assert_string_equal(out.string_to_sign,
			    "AWS4-HMAC-SHA256\n" DATE "\n" SCOPE "\n"
			    "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
	assert_string_equal(out.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	assert_string_equal(out.signed_headers, "host;range;x-amz-content-sha256;x-amz-date");
	assert_string_equal(out.authorization,
			    "AWS4-HMAC-SHA256 Credential=" AK "/" SCOPE ", "
			    "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
			    "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	du_sigv4_out_release(&out);
}

static void test_aws_put_object(void **state)
{
	(void)state;
	char body_hash[DU_SHA256_HEX_LEN];
	du_sha256_hex("Welcome to Amazon S3.", 21, body_hash);
	assert_string_equal(body_hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
	struct du_sigv4_hdr h[] = {
		{ "x-amz-storage-class", "REDUCED_REDUNDANCY" },
		{ "Date", "Fri, 24 May 2013 00:00:00 GMT" },
		{ "Host", HOST },
		{ "x-amz-date", DATE },
		{ "x-amz-content-sha256", body_hash },
	};
	struct du_sigv4_req rq = {
		.method = "PUT", .path = "/test$file.text", .headers = h, .nheaders = 5,
		.payload_hash = body_hash, .access_key = AK, .secret_key = SK,
		.region = "us-east-1", .service = "s3", .amz_date = DATE,
	};
	struct du_sigv4_out out;
	sign_ok(&rq, &out);
	assert_string_equal(out.canonical_request,
			    "PUT\n/test%24file.text\n\n"
			    "date:Fri, 24 May 2013 00:00:00 GMT\nhost:" HOST "\n"
			    "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
			    "x-amz-date:" DATE "\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n"
			    "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
			    "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
	assert_string_equal(out.string_to_sign,
			    "AWS4-HMAC-SHA256\n" DATE "\n" SCOPE "\n"
			    "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
	assert_string_equal(out.signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
	du_sigv4_out_release(&out);
}

static void bucket_get(const char *query, const char *canon_query, const char *sts_hash,
		       const char *signature)
{
	struct du_sigv4_hdr h[] = {
		{ "host", HOST },
		{ "x-amz-date", DATE },
		{ "x-amz-content-sha256", DU_SIGV4_EMPTY_SHA256 },
	};
	struct du_sigv4_req rq = {
		.method = "GET", .path = "/", .query = query, .headers = h, .nheaders = 3,
		.payload_hash = DU_SIGV4_EMPTY_SHA256, .access_key = AK, .secret_key = SK,
		.region = "us-east-1", .service = "s3", .amz_date = DATE,
	};
	struct du_sigv4_out out;
	char want[1024];
	snprintf(want, sizeof(want),
		 "GET\n/\n%s\nhost:" HOST "\nx-amz-content-sha256:" DU_SIGV4_EMPTY_SHA256 "\n"
		 "x-amz-date:" DATE "\n\nhost;x-amz-content-sha256;x-amz-date\n" DU_SIGV4_EMPTY_SHA256,
		 canon_query);
	sign_ok(&rq, &out);
	assert_string_equal(out.canonical_request, want);
	snprintf(want, sizeof(want), "AWS4-HMAC-SHA256\n" DATE "\n" SCOPE "\n%s", sts_hash);
	assert_string_equal(out.string_to_sign, want);
	assert_string_equal(out.signature, signature);
	du_sigv4_out_release(&out);
}

static void test_aws_get_lifecycle(void **state)
{
	(void)state;
	bucket_get("lifecycle", "lifecycle=",
		   "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
		   "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

static void test_aws_list_objects(void **state)
{
	(void)state;
	/* Given out of order: the canonical form sorts. */
	bucket_get("prefix=J&max-keys=2", "max-keys=2&prefix=J",
		   "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
		   "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

/* --- pieces -------------------------------------------------------------------------------- */

static void check_str(char *got, const char *want)
{
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_uri_encode(void **state)
{
	(void)state;
	const char *all = "AZaz09-._~ /+=&%?#'!*()$@:,;\xc3\xa9";
	check_str(du_sigv4_uri_encode(all, strlen(all), 0),
		  "AZaz09-._~%20%2F%2B%3D%26%25%3F%23%27%21%2A%28%29%24%40%3A%2C%3B%C3%A9");
	check_str(du_sigv4_uri_encode(all, strlen(all), 1),
		  "AZaz09-._~%20/%2B%3D%26%25%3F%23%27%21%2A%28%29%24%40%3A%2C%3B%C3%A9");
	check_str(du_sigv4_uri_encode("a\0b", 3, 0), "a%00b"); /* length, not NUL, ends it */
	check_str(du_sigv4_uri_encode("", 0, 1), "");
}

static void test_canonical_uri(void **state)
{
	(void)state;
	check_str(du_sigv4_canonical_uri(NULL), "/");
	check_str(du_sigv4_canonical_uri(""), "/");
	check_str(du_sigv4_canonical_uri("/"), "/");
	check_str(du_sigv4_canonical_uri("/bucket/a b/c+d.wav"), "/bucket/a%20b/c%2Bd.wav");
	/* S3 keys are names, not paths: no dot-segment removal, no slash merging. */
	check_str(du_sigv4_canonical_uri("/b//x/./../y/"), "/b//x/./../y/");
	check_str(du_sigv4_canonical_uri("/\xe6\x97\xa5 %41"), "/%E6%97%A5%20%2541");
	check_str(du_sigv4_canonical_uri("rel/k"), "/rel/k");
}

static void test_canonical_query(void **state)
{
	(void)state;
	check_str(du_sigv4_canonical_query(NULL), "");
	check_str(du_sigv4_canonical_query(""), "");
	check_str(du_sigv4_canonical_query("uploads"), "uploads=");
	check_str(du_sigv4_canonical_query("uploads="), "uploads=");
	check_str(du_sigv4_canonical_query("partNumber=2&uploadId=a b+c/d"),
		  "partNumber=2&uploadId=a%20b%2Bc%2Fd");
	/* Repeated names sort by value; valueless sorts first; '=' inside a value is data. */
	check_str(du_sigv4_canonical_query("b=2&a=z&a=1&a&x=k=v"), "a=&a=1&a=z&b=2&x=k%3Dv");
	/* Sorting is by encoded name, then value: "a" before "a-b" although '-' < '='. */
	check_str(du_sigv4_canonical_query("a-b=1&a=2"), "a=2&a-b=1");
	/* Encoded bytes sort as encoded: "%C3%A9" ('\xc3\xa9') before "Z" since '%' < 'Z'. */
	check_str(du_sigv4_canonical_query("Z=1&\xc3\xa9=2"), "%C3%A9=2&Z=1");
	/* Empty pieces carry nothing. */
	check_str(du_sigv4_canonical_query("&a=1&&b&"), "a=1&b=");
}

static void test_headers_fold_and_join(void **state)
{
	(void)state;
	struct du_sigv4_hdr h[] = {
		{ "X-Amz-Meta-Tag", "  two\t\t words  " },
		{ "host", "h" },
		{ "x-amz-meta-tag", "second" },
		{ "X-AMZ-META-TAG", "" },
		{ "x-amz-meta-a", "\t" },
		{ "x-amz-date", DATE },
	};
	struct du_sigv4_req rq = {
		.method = "PUT", .path = "/k", .headers = h, .nheaders = 6,
		.payload_hash = DU_SIGV4_UNSIGNED, .access_key = "AK", .secret_key = "SK",
		.region = "eu-west-1", .service = "s3", .amz_date = DATE,
	};
	struct du_sigv4_out out;
	sign_ok(&rq, &out);
	assert_string_equal(out.canonical_request,
			    "PUT\n/k\n\nhost:h\nx-amz-date:" DATE "\nx-amz-meta-a:\n"
			    "x-amz-meta-tag:two words,second,\n\n"
			    "host;x-amz-date;x-amz-meta-a;x-amz-meta-tag\nUNSIGNED-PAYLOAD");
	assert_string_equal(out.signed_headers, "host;x-amz-date;x-amz-meta-a;x-amz-meta-tag");
	du_sigv4_out_release(&out);
}

static void test_amz_date(void **state)
{
	(void)state;
	char buf[17];
	du_sigv4_amz_date(0, buf);
	assert_string_equal(buf, "19700101T000000Z");
	du_sigv4_amz_date(1369353600LL, buf);
	assert_string_equal(buf, DATE);
	du_sigv4_amz_date(4102444799LL, buf); /* after 2038 */
	assert_string_equal(buf, "20991231T235959Z");
}

static void test_errors(void **state)
{
	(void)state;
	struct du_sigv4_hdr h[] = { { "host", "h" } };
	struct du_sigv4_req good = {
		.method = "GET", .path = "/", .headers = h, .nheaders = 1,
		.payload_hash = DU_SIGV4_EMPTY_SHA256, .access_key = "AK", .secret_key = "SECRETVALUE",
		.region = "us-east-1", .service = "s3", .amz_date = DATE,
	};
	struct du_sigv4_out out;
	struct du_err err = { 0 };

	struct du_sigv4_req rq = good;
	rq.secret_key = "";
	memset(&out, 0x5a, sizeof(out));
	assert_int_equal(du_sigv4_sign(&rq, &out, &err), DU_ERR_S3_AUTH);
	assert_int_equal(out.signature[0], 0x5a); /* untouched on failure */

	rq = good;
	rq.amz_date = "2013-05-24T00:00:00Z";
	assert_int_equal(du_sigv4_sign(&rq, &out, &err), DU_ERR_INTERNAL);
	rq.amz_date = "20130524T00000Z";
	assert_int_equal(du_sigv4_sign(&rq, &out, &err), DU_ERR_INTERNAL);

	struct du_sigv4_hdr bad[] = { { "x-amz-meta-a", "v\r\nx-evil: 1" } };
	rq = good;
	rq.headers = bad;
	assert_int_equal(du_sigv4_sign(&rq, &out, &err), DU_ERR_INTERNAL);
	assert_null(strstr(err.msg, "evil")); /* the value is not echoed */

	struct du_sigv4_hdr badname[] = { { "x amz", "v" } };
	rq.headers = badname;
	assert_int_equal(du_sigv4_sign(&rq, &out, &err), DU_ERR_INTERNAL);

	rq = good;
	rq.method = NULL;
	assert_int_equal(du_sigv4_sign(&rq, &out, &err), DU_ERR_INTERNAL);

	/* No error message ever carries the secret. */
	rq = good;
	rq.amz_date = "bad";
	du_sigv4_sign(&rq, &out, &err);
	assert_null(strstr(err.msg, "SECRETVALUE"));

	du_sigv4_out_release(NULL);
	assert_int_equal(du_sigv4_sign(&good, &out, &err), DU_OK);
	du_sigv4_out_release(&out);
	assert_null(out.canonical_request);
}

/* --- signing-key cache --------------------------------------------------------------------- */

static void sign_simple(const char *secret, const char *region, const char *date, char sig[65])
{
	struct du_sigv4_hdr h[] = { { "host", "h" }, { "x-amz-date", date } };
	struct du_sigv4_req rq = {
		.method = "GET", .path = "/k", .headers = h, .nheaders = 2,
		.payload_hash = DU_SIGV4_UNSIGNED, .access_key = "AK", .secret_key = secret,
		.region = region, .service = "s3", .amz_date = date,
	};
	struct du_sigv4_out out;
	sign_ok(&rq, &out);
	memcpy(sig, out.signature, 65);
	du_sigv4_out_release(&out);
}

static void test_cache_hits_and_secrets(void **state)
{
	(void)state;
	unsigned long hits, misses;
	char a1[65], a2[65], b1[65], b_fresh[65], a_other_region[65], a_other_day[65];

	du_sigv4_cache_clear();
	sign_simple("secret-A", "us-east-1", DATE, a1);
	du_sigv4_cache_stats(&hits, &misses);
	assert_int_equal(hits, 0);
	assert_int_equal(misses, 1);
	sign_simple("secret-A", "us-east-1", DATE, a2);
	du_sigv4_cache_stats(&hits, &misses);
	assert_int_equal(hits, 1);
	assert_int_equal(misses, 1);
	assert_string_equal(a1, a2);

	/* Another secret the same day must not be served A's key. */
	sign_simple("secret-B", "us-east-1", DATE, b1);
	du_sigv4_cache_stats(&hits, &misses);
	assert_int_equal(misses, 2);
	assert_string_not_equal(a1, b1);
	du_sigv4_cache_clear();
	sign_simple("secret-B", "us-east-1", DATE, b_fresh);
	assert_string_equal(b1, b_fresh);

	/* Region and day are part of the key too. */
	sign_simple("secret-A", "eu-west-1", DATE, a_other_region);
	sign_simple("secret-A", "us-east-1", "20130525T000000Z", a_other_day);
	assert_string_not_equal(a1, a_other_region);
	assert_string_not_equal(a1, a_other_day);

	/* Far more credentials than slots: evicted keys are derived again, correctly. */
	for (int i = 0; i < 50; i++) {
		char secret[32], sig[65];
		snprintf(secret, sizeof(secret), "rotating-%d", i);
		sign_simple(secret, "us-east-1", DATE, sig);
	}
	sign_simple("secret-A", "us-east-1", DATE, a2);
	assert_string_equal(a1, a2);
	sign_simple("secret-B", "us-east-1", DATE, b1);
	assert_string_equal(b1, b_fresh);

	/* The AWS example still comes out right through a warm cache. */
	sign_simple(SK, "us-east-1", DATE, a2);
	char again[65];
	sign_simple(SK, "us-east-1", DATE, again);
	assert_string_equal(a2, again);
}

#define NTHREADS 8
#define NSECRETS 5
#define NDATES 3
#define ROUNDS 400

static const char *const th_secrets[NSECRETS] = { "s-one", "s-two", "s-three", "s-four", SK };
static const char *const th_dates[NDATES] = { DATE, "20240229T120000Z", "20991231T235959Z" };
static char th_expected[NSECRETS][NDATES][65];

struct th_arg {
	int id;
	int mismatches;
};

static void *th_main(void *p)
{
	struct th_arg *a = p;
	for (int r = 0; r < ROUNDS; r++) {
		int s = (r + a->id) % NSECRETS, d = (r / NSECRETS + a->id) % NDATES;
		char sig[65];
		sign_simple(th_secrets[s], "us-east-1", th_dates[d], sig);
		if (strcmp(sig, th_expected[s][d]))
			a->mismatches++;
	}
	return NULL;
}

static void test_cache_threads(void **state)
{
	(void)state;
	du_sigv4_cache_clear();
	for (int s = 0; s < NSECRETS; s++)
		for (int d = 0; d < NDATES; d++)
			sign_simple(th_secrets[s], "us-east-1", th_dates[d], th_expected[s][d]);
	/* Start cold, so threads race on the misses as well as on the hits. */
	du_sigv4_cache_clear();
	pthread_t t[NTHREADS];
	struct th_arg args[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		args[i] = (struct th_arg){ .id = i };
		assert_int_equal(pthread_create(&t[i], NULL, th_main, &args[i]), 0);
	}
	int bad = 0;
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(t[i], NULL);
		bad += args[i].mismatches;
	}
	assert_int_equal(bad, 0);
	unsigned long hits, misses;
	du_sigv4_cache_stats(&hits, &misses);
	assert_int_equal(hits + misses, NTHREADS * ROUNDS);
	assert_true(misses < 200); /* 15 distinct keys fit the cache: nearly all hits */
}

/* --- botocore vectors ---------------------------------------------------------------------- */

static const char *jstr(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int python_with_botocore(char *out, size_t outsz)
{
	const char *env = getenv("DU_PYTHON");
	const char *cands[] = { env, "/usr/bin/python3", "/root/.pyenv/versions/3.11.7/bin/python3",
				"python3" };
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		if (!cands[i] || strchr(cands[i], '\''))
			continue;
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "'%s' -c 'import botocore.auth' >/dev/null 2>&1", cands[i]);
		if (system(cmd) == 0) {
			snprintf(out, outsz, "%s", cands[i]);
			return 0;
		}
	}
	return -1;
}

struct coverage {
	int query, valueless, token, unsigned_payload, dup_header, non_ascii_path, via_url, dot_seg;
};

static void note_coverage(struct coverage *c, const cJSON *v, const char *path, const char *query)
{
	c->query += *query != '\0';
	int valueless = 0;
	for (const char *p = query; *p;) {
		size_t len = strcspn(p, "&");
		valueless |= len && !memchr(p, '=', len);
		p += len + (p[len] == '&');
	}
	c->valueless += valueless;
	c->token += cJSON_IsString(cJSON_GetObjectItemCaseSensitive(v, "token"));
	c->unsigned_payload += !strcmp(jstr(v, "payload_hash"), DU_SIGV4_UNSIGNED);
	c->via_url += !strcmp(jstr(v, "query_via"), "url") && *query;
	c->dot_seg += strstr(path, "/./") || strstr(path, "/../") || strstr(path, "//");
	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		if (*p >= 0x80) {
			c->non_ascii_path++;
			break;
		}
	const cJSON *hs = cJSON_GetObjectItemCaseSensitive(v, "headers");
	int n = cJSON_GetArraySize(hs), dup = 0;
	for (int i = 0; i < n && !dup; i++)
		for (int j = i + 1; j < n && !dup; j++)
			dup = !strcasecmp(cJSON_GetArrayItem(cJSON_GetArrayItem(hs, i), 0)->valuestring,
					  cJSON_GetArrayItem(cJSON_GetArrayItem(hs, j), 0)->valuestring);
	c->dup_header += dup;
}

static void report_mismatch(int lineno, const char *field, const char *want, const char *got)
{
	print_message("first mismatch: vector %d, field %s\n--- botocore ---\n%s\n--- du ---\n%s\n"
		      "--- end ---\n",
		      lineno, field, want, got ? got : "(null)");
}

/* One vector: 0 if du agrees with botocore on every field. */
static int check_vector(const cJSON *v, int lineno, int *reported, struct coverage *cov)
{
	const char *path = jstr(v, "path"), *query = jstr(v, "query");
	const cJSON *hs = cJSON_GetObjectItemCaseSensitive(v, "headers");
	if (!path || !query || !cJSON_IsArray(hs) || !jstr(v, "canonical_request") ||
	    !jstr(v, "string_to_sign") || !jstr(v, "signature") || !jstr(v, "authorization") ||
	    !jstr(v, "payload_hash") || !jstr(v, "query_via"))
		fail_msg("vector %d: missing fields", lineno);
	int n = cJSON_GetArraySize(hs);
	struct du_sigv4_hdr *h = calloc((size_t)n + 1, sizeof(*h));
	assert_non_null(h);
	for (int i = 0; i < n; i++) {
		const cJSON *pair = cJSON_GetArrayItem(hs, i);
		h[i].name = cJSON_GetArrayItem(pair, 0)->valuestring;
		h[i].value = cJSON_GetArrayItem(pair, 1)->valuestring;
		assert_non_null(h[i].name);
		assert_non_null(h[i].value);
	}
	note_coverage(cov, v, path, query);
	struct du_sigv4_req rq = {
		.method = jstr(v, "method"), .path = path, .query = query, .headers = h,
		.nheaders = (size_t)n, .payload_hash = jstr(v, "payload_hash"),
		.access_key = jstr(v, "access_key"), .secret_key = jstr(v, "secret_key"),
		.region = jstr(v, "region"), .service = jstr(v, "service"),
		.amz_date = jstr(v, "amz_date"),
	};
	struct du_sigv4_out out;
	struct du_err err = { 0 };
	int bad = 0;
	if (du_sigv4_sign(&rq, &out, &err)) {
		if (!(*reported)++)
			report_mismatch(lineno, "du_sigv4_sign error", "success", err.msg);
		free(h);
		return 1;
	}
	const char *fields[][3] = {
		{ "canonical_request", jstr(v, "canonical_request"), out.canonical_request },
		{ "string_to_sign", jstr(v, "string_to_sign"), out.string_to_sign },
		{ "signature", jstr(v, "signature"), out.signature },
		{ "authorization", jstr(v, "authorization"), out.authorization },
	};
	for (size_t i = 0; i < 4 && !bad; i++) {
		if (strcmp(fields[i][1], fields[i][2])) {
			bad = 1;
			if (!(*reported)++) {
				print_message("inputs: %s %s ? %s\n", rq.method, path, query);
				report_mismatch(lineno, fields[i][0], fields[i][1], fields[i][2]);
			}
		}
	}
	du_sigv4_out_release(&out);
	free(h);
	return bad;
}

static void test_botocore_vectors(void **state)
{
	(void)state;
	char py[256], script[4096], cmd[8192];
	const char *top = getenv("DU_TOP");
	snprintf(script, sizeof(script), "%s%stests/unit/gen_sigv4_vectors.py", top ? top : "",
		 top ? "/" : "");
	if (access(script, R_OK))
		fail_msg("cannot find the vector generator '%s' (set DU_TOP or run from the top)", script);
	if (strchr(script, '\''))
		fail_msg("quote in path '%s'", script);
	if (python_with_botocore(py, sizeof(py)))
		fail_msg("no python3 with botocore found (tried DU_PYTHON, /usr/bin/python3, pyenv, PATH)");
	snprintf(cmd, sizeof(cmd), "'%s' '%s' --count 300 --seed 20130524", py, script);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);

	char *line = NULL;
	size_t cap = 0;
	int count = 0, mismatches = 0, reported = 0;
	struct coverage cov = { 0 };
	while (getline(&line, &cap, f) > 0) {
		cJSON *v = cJSON_Parse(line);
		if (!v)
			fail_msg("vector %d: not JSON: %.200s", count + 1, line);
		count++;
		mismatches += check_vector(v, count, &reported, &cov);
		cJSON_Delete(v);
	}
	free(line);
	int status = pclose(f);
	print_message("sigv4: %d botocore vectors (%s), %d mismatches; with query %d (valueless %d, "
		      "pre-encoded %d), token %d, unsigned %d, repeated header %d, non-ASCII path %d, "
		      "dot/empty segments %d\n",
		      count, py, mismatches, cov.query, cov.valueless, cov.via_url, cov.token,
		      cov.unsigned_payload, cov.dup_header, cov.non_ascii_path, cov.dot_seg);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail_msg("generator '%s' failed (status %d)", cmd, status);
	assert_int_equal(mismatches, 0);
	assert_true(count >= 200);
	/* The generator must really exercise what it claims to. */
	assert_true(cov.query > 20 && cov.valueless > 5 && cov.via_url > 10 && cov.token > 20 &&
		    cov.unsigned_payload > 20 && cov.dup_header > 5 && cov.non_ascii_path > 20 &&
		    cov.dot_seg > 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aws_get_object_range),
		cmocka_unit_test(test_aws_put_object),
		cmocka_unit_test(test_aws_get_lifecycle),
		cmocka_unit_test(test_aws_list_objects),
		cmocka_unit_test(test_uri_encode),
		cmocka_unit_test(test_canonical_uri),
		cmocka_unit_test(test_canonical_query),
		cmocka_unit_test(test_headers_fold_and_join),
		cmocka_unit_test(test_amz_date),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_cache_hits_and_secrets),
		cmocka_unit_test(test_cache_threads),
		cmocka_unit_test(test_botocore_vectors),
	};
	return cmocka_run_group_tests_name("sigv4", tests, NULL, NULL);
}

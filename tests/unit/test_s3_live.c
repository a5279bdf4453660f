/*
 * Live tests of the S3 module against moto (SigV4 verified) and s3rver, both started by
 * tests/run-unit.sh (DU_MOTO_URL/_AK/_SK, DU_S3RVER_URL; bucket du-test). Missing servers are a
 * failure, not a skip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "harness.h"
#include "du/config.h"
#include "du/creds.h"
#include "du/crypto.h"
#include "du/s3.h"

#define MiB (1024 * 1024)

struct srv {
	const char *name;
	bool moto;
	const char *url, *ak, *sk;
	struct du_creds_provider *cp;
	struct du_s3 *s3;
	struct du_s3_conn *c;
	char run[64];          /* unique key prefix of this run */
};

static struct srv moto = { .name = "moto", .moto = true };
static struct srv s3rver = { .name = "s3rver" };

static const char *need_env(const char *name)
{
	const char *v = getenv(name);
	if (!v || !*v) {
		fprintf(stderr, "test_s3_live: %s is not set (run through tests/run-unit.sh)\n", name);
		return NULL;
	}
	return v;
}

/* A credentials provider seeing exactly these keys, through the environment as a user would. */
static struct du_creds_provider *provider(const char *ak, const char *sk)
{
	struct du_creds_provider *cp = NULL;
	struct du_err err = {0};
	setenv("AWS_ACCESS_KEY_ID", ak, 1);
	setenv("AWS_SECRET_ACCESS_KEY", sk, 1);
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/du-test-credentials", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/du-test-config", 1);
	if (du_creds_provider_new(&cp, "default", false, &err))
		fail_msg("creds: %s", err.msg);
	return cp;
}

static struct du_s3_opts opts_for(const struct srv *s, const char *bucket)
{
	struct du_s3_opts o = {
		.bucket = bucket, .region = "us-east-1", .endpoint = s->url,
		.addressing = DU_ADDR_PATH, .retry_base_ms = 10, .retry_cap_ms = 200,
		.max_attempts = 3, .list_page_size = 2, .connect_timeout = 5, .request_timeout = 30,
	};
	return o;
}

static int srv_open(struct srv *s)
{
	struct du_err err = {0};
	if (s->moto) {
		if (!(s->url = need_env("DU_MOTO_URL")) || !(s->ak = need_env("DU_MOTO_AK")) ||
		    !(s->sk = need_env("DU_MOTO_SK")))
			return -1;
	} else {
		if (!(s->url = need_env("DU_S3RVER_URL")))
			return -1;
		s->ak = s->sk = "S3RVER";
	}
	s->cp = provider(s->ak, s->sk);
	struct du_s3_opts o = opts_for(s, "du-test");
	if (du_s3_new(&s->s3, &o, s->cp, &err) || du_s3_conn_new(s->s3, &s->c, &err)) {
		fprintf(stderr, "test_s3_live: %s: %s\n", s->name, err.msg);
		return -1;
	}
	snprintf(s->run, sizeof(s->run), "live-%ld-%d", (long)time(NULL), (int)getpid());
	return 0;
}

static void srv_close(struct srv *s)
{
	du_s3_conn_free(s->c);
	du_s3_free(s->s3);
	du_creds_provider_free(s->cp);
	s->c = NULL;
	s->s3 = NULL;
	s->cp = NULL;
}

/* moto is only in this image's pyenv: run-unit.sh sets DU_NO_MOTO where it is missing. */
static bool no_moto(void)
{
	return getenv("DU_NO_MOTO") != NULL;
}

static void need_moto(void)
{
	if (no_moto())
		skip();
}

static int setup(void **state)
{
	(void)state;
	if ((!no_moto() && srv_open(&moto)) || srv_open(&s3rver))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (!no_moto())
		srv_close(&moto);
	srv_close(&s3rver);
	return 0;
}

static uint64_t attempts(struct srv *s)
{
	struct du_s3_stats st;
	du_s3_stats(s->s3, &st);
	return st.attempts;
}

/* ---- bucket ---- */

static void check_head_bucket(struct srv *s)
{
	struct du_err err = {0};
	assert_int_equal(du_s3_head_bucket(s->c, &err), DU_OK);

	struct du_s3 *s3;
	struct du_s3_conn *c;
	struct du_s3_opts o = opts_for(s, "du-missing-bucket");
	assert_int_equal(du_s3_new(&s3, &o, s->cp, &err), DU_OK);
	assert_int_equal(du_s3_conn_new(s3, &c, &err), DU_OK);
	assert_int_equal(du_s3_head_bucket(c, &err), DU_ERR_S3);
	assert_string_equal(err.s3_code, "NoSuchBucket");
	assert_int_equal(err.http_status, 404);
	assert_false(err.retryable);
	assert_non_null(strstr(err.msg, "'du-missing-bucket'"));
	/* a listing says the same, from the XML body */
	assert_int_equal(du_s3_list(c, "x/", NULL, NULL, &err), DU_ERR_S3);
	assert_string_equal(err.s3_code, "NoSuchBucket");
	assert_non_null(strstr(err.msg, "'du-missing-bucket'"));
	struct du_s3_stats st;
	du_s3_stats(s3, &st);
	assert_int_equal(st.attempts, 2); /* not retried */
	du_s3_conn_free(c);
	du_s3_free(s3);
}

static void test_head_bucket_moto(void **state) { (void)state; need_moto(); check_head_bucket(&moto); }
static void test_head_bucket_s3rver(void **state) { (void)state; check_head_bucket(&s3rver); }

/* ---- objects with awkward keys, listed back across pages ---- */

static const char *const weird[] = {
	"w/\xc3\xbcn\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9 \xe2\x9c\x93.wav",
	"w/sp ace  two.jpg",
	"w/plus+eq=amp&pct%q?h#t~'.mov",
	"w/new\nline.avi",
	"w/a/b/c.mp4",
	"w/(paren) [br] {c} @ $ ! , ; : * ^ `.bin",
	"w/z-last",
};
#define NWEIRD (sizeof(weird) / sizeof(weird[0]))

struct listed {
	int n;
	char keys[32][256];
	uint64_t sizes[32];
	char etags[32][DU_S3_ETAG_MAX];
};

static int on_obj(void *arg, const struct du_s3_object *o)
{
	struct listed *l = arg;
	assert_true(l->n < 32);
	snprintf(l->keys[l->n], sizeof(l->keys[0]), "%s", o->key);
	snprintf(l->etags[l->n], sizeof(l->etags[0]), "%s", o->etag);
	l->sizes[l->n] = o->size;
	l->n++;
	return 0;
}

static int stop_at_3(void *arg, const struct du_s3_object *o)
{
	int *n = arg;
	(void)o;
	return ++*n == 3 ? 77 : 0;
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void check_weird_keys(struct srv *s)
{
	struct du_err err = {0};
	char key[256], etag[DU_S3_ETAG_MAX], hex[DU_MD5_HEX_LEN];
	char bodies[NWEIRD][64];
	const char *keys[NWEIRD], *sorted[NWEIRD];
	size_t n = 0;

	/* moto's router answers 404 to any path holding a newline (botocore gets the same) */
	for (size_t i = 0; i < NWEIRD; i++)
		if (!(s->moto && strchr(weird[i], '\n')))
			keys[n++] = weird[i];
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "%s/%s", s->run, keys[i]);
		int len = snprintf(bodies[i], sizeof(bodies[i]), "body %zu of %s", i, s->name);
		unsigned char md5[DU_MD5_LEN];
		du_md5(bodies[i], (size_t)len, md5);
		du_hex(md5, sizeof(md5), hex);
		struct du_s3_put p = { .md5 = md5, .mtime = 1700000000 + (int64_t)i };
		if (du_s3_put_object(s->c, key, bodies[i], (size_t)len, &p, etag, &err))
			fail_msg("%s: put '%s': %s", s->name, key, err.msg);
		assert_string_equal(etag, hex);

		struct du_s3_object_info info;
		if (du_s3_head_object(s->c, key, &info, &err))
			fail_msg("%s: head '%s': %s", s->name, key, err.msg);
		assert_int_equal(info.size, (uint64_t)len);
		assert_string_equal(info.etag, hex);
		assert_string_equal(info.md5_hex, hex);
		assert_true(info.has_du_mtime);
		assert_int_equal(info.du_mtime, 1700000000 + (int64_t)i);

		/* and the bytes come back */
		void *got = NULL;
		size_t glen = 0;
		if (du_s3_get_object(s->c, key, 1024, &got, &glen, &err))
			fail_msg("%s: get '%s': %s", s->name, key, err.msg);
		assert_int_equal(glen, (size_t)len);
		assert_memory_equal(got, bodies[i], glen);
		free(got);
		sorted[i] = keys[i];
	}
	qsort(sorted, n, sizeof(sorted[0]), cmpstr);

	/* listed back page by page (2 keys a page), in key order, exact */
	struct listed l = {0};
	snprintf(key, sizeof(key), "%s/w/", s->run);
	uint64_t a0 = attempts(s);
	if (du_s3_list(s->c, key, on_obj, &l, &err))
		fail_msg("%s: list: %s", s->name, err.msg);
	/* it paged: a server may or may not announce an empty last page */
	assert_true(attempts(s) - a0 >= (n + 1) / 2 && attempts(s) - a0 <= (n + 1) / 2 + 1);
	assert_int_equal(l.n, n);
	for (size_t i = 0; i < n; i++) {
		char want[256];
		snprintf(want, sizeof(want), "%s/%s", s->run, sorted[i]);
		assert_string_equal(l.keys[i], want);
		size_t j = 0;
		while (keys[j] != sorted[i])
			j++;
		unsigned char md5[DU_MD5_LEN];
		du_md5(bodies[j], strlen(bodies[j]), md5);
		du_hex(md5, sizeof(md5), hex);
		assert_int_equal(l.sizes[i], strlen(bodies[j]));
		assert_string_equal(l.etags[i], hex);
	}

	/* a prefix with '&' (listed up to the '&', then filtered) */
	memset(&l, 0, sizeof(l));
	snprintf(key, sizeof(key), "%s/w/plus+eq=amp&p", s->run);
	assert_int_equal(du_s3_list(s->c, key, on_obj, &l, &err), DU_OK);
	assert_int_equal(l.n, 1);
	assert_non_null(strstr(l.keys[0], "amp&pct%q?h#t~'"));

	/* a prefix that matches nothing */
	memset(&l, 0, sizeof(l));
	snprintf(key, sizeof(key), "%s/nothing/", s->run);
	assert_int_equal(du_s3_list(s->c, key, on_obj, &l, &err), DU_OK);
	assert_int_equal(l.n, 0);

	/* the callback stops the listing with its own value */
	snprintf(key, sizeof(key), "%s/w/", s->run);
	int cnt = 0;
	assert_int_equal(du_s3_list(s->c, key, stop_at_3, &cnt, &err), 77);
	assert_int_equal(cnt, 3);
}

static void test_weird_keys_moto(void **state) { (void)state; need_moto(); check_weird_keys(&moto); }
static void test_weird_keys_s3rver(void **state) { (void)state; check_weird_keys(&s3rver); }

static void check_missing_object(struct srv *s)
{
	struct du_err err = {0};
	struct du_s3_object_info info;
	char key[128];
	snprintf(key, sizeof(key), "%s/missing.wav", s->run);
	assert_int_equal(du_s3_head_object(s->c, key, &info, &err), DU_ERR_NOTFOUND);
	assert_int_equal(err.http_status, 404);
	assert_false(err.retryable);
	void *buf = NULL;
	size_t len = 0;
	assert_int_equal(du_s3_get_object(s->c, key, 1024, &buf, &len, &err), DU_ERR_NOTFOUND);
	assert_string_equal(err.s3_code, "NoSuchKey");
	assert_null(buf);
}

static void test_missing_object_moto(void **state) { (void)state; need_moto(); check_missing_object(&moto); }
static void test_missing_object_s3rver(void **state) { (void)state; check_missing_object(&s3rver); }

/* Tags: sent with the PUT (moto keeps them; a server that drops x-amz-tagging is caught by the
 * read-back), set afterwards, replaced whole, read back in any order; metadata signed with them. */
static void check_tags(struct srv *s)
{
	struct du_err err = {0};
	char key[128];
	unsigned char md5[DU_MD5_LEN];
	du_md5("tagged", 6, md5);
	snprintf(key, sizeof(key), "%s/tagged.wav", s->run);
	const char *meta[][2] = { { "x-amz-meta-site", "A1 north" }, { "x-amz-meta-du-device", "24F3190" } };
	char *tags[] = { "project=bats + moths", "site=A/1=x", NULL };
	struct du_s3_put p = { .md5 = md5, .meta = meta, .nmeta = 2,
			       .tagging = "project=bats%20%2B%20moths&site=A%2F1%3Dx" };
	if (du_s3_put_object(s->c, key, "tagged", 6, &p, NULL, &err)) fail_msg("%s", err.msg);
	bool same = false;
	assert_int_equal(du_s3_tags_match(s->c, key, tags, &same, &err), DU_OK);
	if (s->moto)
		assert_true(same); /* s3rver 3 ignores x-amz-tagging on PUT: the engine sets them after */
	if (du_s3_put_tagging(s->c, key, tags, &err)) fail_msg("%s", err.msg);
	char *reversed[] = { "site=A/1=x", "project=bats + moths", NULL };
	assert_int_equal(du_s3_tags_match(s->c, key, reversed, &same, &err), DU_OK);
	assert_true(same);
	char *fewer[] = { "site=A/1=x", NULL }, *other[] = { "site=A/1=x", "project=bats", NULL };
	assert_int_equal(du_s3_tags_match(s->c, key, fewer, &same, &err), DU_OK);
	assert_false(same);
	assert_int_equal(du_s3_tags_match(s->c, key, other, &same, &err), DU_OK);
	assert_false(same);
	assert_int_equal(du_s3_put_tagging(s->c, key, fewer, &err), DU_OK);
	assert_int_equal(du_s3_tags_match(s->c, key, fewer, &same, &err), DU_OK);
	assert_true(same);
	/* The most the configuration lets through: 10 tags of 128 + 256 characters (3.8 KiB encoded)
	 * and 64 metadata keys, 1,536 bytes in all, beside du's own: the headers fit, and are kept. */
	static char tk[10][400], mk[64][24], mv[64][16];
	char *big[11];
	const char *bmeta[64][2];
	char tagging[DU_TAGGING_MAX + 1] = "";
	for (int i = 0; i < 10; i++) {
		snprintf(tk[i], sizeof(tk[i]), "%0128d=%0256d", i, i);
		big[i] = tk[i];
	}
	big[10] = NULL;
	assert_true(du_config_tagging(big, tagging, sizeof(tagging)) <= DU_TAGGING_MAX);
	for (int i = 0; i < 64; i++) {
		snprintf(mk[i], sizeof(mk[i]), "x-amz-meta-k%02d", i);
		snprintf(mv[i], sizeof(mv[i]), "%020d", i); /* 3 + 20 bytes a key: 1,472 in all */
		bmeta[i][0] = mk[i];
		bmeta[i][1] = mv[i];
	}
	struct du_s3_put pb = { .md5 = md5, .mtime = 1, .meta = bmeta, .nmeta = 64, .tagging = tagging };
	if (du_s3_put_object(s->c, key, "tagged", 6, &pb, NULL, &err))
		fail_msg("%s: the largest headers: %s", s->name, err.msg);
	if (s->moto) {
		assert_int_equal(du_s3_tags_match(s->c, key, big, &same, &err), DU_OK);
		assert_true(same);
	}
	char missing[160];
	snprintf(missing, sizeof(missing), "%s/no-such-object.wav", s->run);
	assert_int_not_equal(du_s3_tags_match(s->c, missing, fewer, &same, &err), DU_OK);
	assert_false(same);
}

static void test_tags_moto(void **state) { (void)state; need_moto(); check_tags(&moto); }
static void test_tags_s3rver(void **state) { (void)state; check_tags(&s3rver); }

/* A Content-MD5 neither server checks: our own ETag check catches the mismatch. */
static void check_etag_mismatch(struct srv *s)
{
	struct du_err err = {0};
	char key[128];
	unsigned char md5[DU_MD5_LEN];
	du_md5("something else", 14, md5);
	snprintf(key, sizeof(key), "%s/mismatch.wav", s->run);
	struct du_s3_put p = { .md5 = md5 };
	int rc = du_s3_put_object(s->c, key, "the body", 8, &p, NULL, &err);
	assert_int_not_equal(rc, DU_OK);
	if (rc == DU_ERR_S3 && !err.s3_code[0])
		assert_non_null(strstr(err.msg, "etag mismatch"));
	else
		assert_string_equal(err.s3_code, "BadDigest"); /* a server that checks Content-MD5 */
}

static void test_etag_mismatch_moto(void **state) { (void)state; need_moto(); check_etag_mismatch(&moto); }
static void test_etag_mismatch_s3rver(void **state) { (void)state; check_etag_mismatch(&s3rver); }

/* ---- multipart ---- */

struct plist {
	int n;
	int numbers[8];
	uint64_t sizes[8];
	char etags[8][DU_S3_ETAG_MAX];
};

static int on_part(void *arg, int number, uint64_t size, const char *etag)
{
	struct plist *p = arg;
	p->numbers[p->n] = number;
	p->sizes[p->n] = size;
	snprintf(p->etags[p->n], sizeof(p->etags[0]), "%s", etag);
	p->n++;
	return 0;
}

struct ulist {
	int n;
	bool found;
	const char *key, *id;
};

static int on_upload(void *arg, const char *key, const char *id, int64_t initiated)
{
	struct ulist *u = arg;
	u->n++;
	if (!strcmp(key, u->key) && !strcmp(id, u->id) && initiated > 0 /* moto answers a fixed 2010 date */)
		u->found = true;
	return 0;
}

static void check_multipart(struct srv *s)
{
	struct du_err err = {0};
	char key[256], *id = NULL;
	const size_t sizes[] = { 5 * MiB, 5 * MiB, MiB + 17 };
	const int n = 3;
	size_t total = sizes[0] + sizes[1] + sizes[2];
	unsigned char *data = malloc(total);
	assert_non_null(data);
	for (size_t i = 0; i < total; i++)
		data[i] = (unsigned char)((i * 2654435761u) >> 13);
	snprintf(key, sizeof(key), "%s/mpu/big file+%s.mov", s->run, s->name);

	const char *meta[][2] = { { "x-amz-meta-du-device", "S4U12345" } };
	struct du_s3_put p = { .mtime = 1234567890, .meta = meta, .nmeta = 1, .tagging = "kind=multi%20part" };
	if (du_s3_mpu_create(s->c, key, &p, &id, &err))
		fail_msg("%s: create: %s", s->name, err.msg);
	assert_non_null(id);
	if (s->moto) {
		/* three uploads in progress, listed two a page */
		char k2[2][256], *ids[2];
		for (int i = 0; i < 2; i++) {
			snprintf(k2[i], sizeof(k2[i]), "%s/mpu/other %d.wav", s->run, i);
			assert_int_equal(du_s3_mpu_create(s->c, k2[i], NULL, &ids[i], &err), DU_OK);
		}
		struct ulist u = { .key = key, .id = id };
		char pre[128];
		snprintf(pre, sizeof(pre), "%s/mpu/", s->run);
		uint64_t a0 = attempts(s);
		if (du_s3_mpu_list_uploads(s->c, pre, on_upload, &u, &err))
			fail_msg("%s: list uploads: %s", s->name, err.msg);
		assert_true(u.found);
		assert_int_equal(u.n, 3);
		assert_int_equal(attempts(s) - a0, 1); /* moto ignores max-uploads: one page (paging: fake server) */
		for (int i = 0; i < 2; i++) {
			assert_int_equal(du_s3_mpu_abort(s->c, k2[i], ids[i], &err), DU_OK);
			free(ids[i]);
		}
	}
	char etags[3][DU_S3_ETAG_MAX];
	struct du_s3_part parts[3];
	size_t off = 0;
	for (int i = 0; i < n; i++) {
		unsigned char md5[DU_MD5_LEN];
		char hex[DU_MD5_HEX_LEN];
		du_md5(data + off, sizes[i], md5);
		du_hex(md5, sizeof(md5), hex);
		if (du_s3_mpu_part(s->c, key, id, i + 1, data + off, sizes[i], md5, etags[i], &err))
			fail_msg("%s: part %d: %s", s->name, i + 1, err.msg);
		assert_string_equal(etags[i], hex);
		parts[i] = (struct du_s3_part){ i + 1, etags[i] };
		off += sizes[i];
	}
	if (s->moto) {
		struct plist pl = {0};
		uint64_t a0 = attempts(s);
		if (du_s3_mpu_list_parts(s->c, key, id, on_part, &pl, &err))
			fail_msg("%s: list parts: %s", s->name, err.msg);
		assert_int_equal(attempts(s) - a0, 2); /* two a page */
		assert_int_equal(pl.n, n);
		for (int i = 0; i < n; i++) {
			assert_int_equal(pl.numbers[i], i + 1);
			assert_int_equal(pl.sizes[i], sizes[i]);
			assert_string_equal(pl.etags[i], etags[i]);
		}
	}
	char etag[DU_S3_ETAG_MAX];
	if (du_s3_mpu_complete(s->c, key, id, parts, n, etag, &err))
		fail_msg("%s: complete: %s", s->name, err.msg);
	if (s->moto) /* s3rver's multipart ETag is a plain md5 */
		assert_non_null(strstr(etag, "-3"));
	assert_true(strlen(etag) >= 32);
	char *tags[] = { "kind=multi part", NULL };
	bool same = false;
	if (du_s3_tags_match(s->c, key, tags, &same, &err))
		fail_msg("%s: tags: %s", s->name, err.msg);
	assert_int_equal(same, s->moto); /* moto keeps x-amz-tagging sent with Create, s3rver 3 does not */

	void *got = NULL;
	size_t glen = 0;
	if (du_s3_get_object(s->c, key, 64 * MiB, &got, &glen, &err))
		fail_msg("%s: get: %s", s->name, err.msg);
	assert_int_equal(glen, total);
	assert_memory_equal(got, data, total);
	free(got);
	/* the cap on GET holds */
	assert_int_not_equal(du_s3_get_object(s->c, key, MiB, &got, &glen, &err), DU_OK);

	struct du_s3_object_info info;
	assert_int_equal(du_s3_head_object(s->c, key, &info, &err), DU_OK);
	assert_int_equal(info.size, total);
	assert_string_equal(info.etag, etag);
	assert_int_equal(info.du_mtime, 1234567890);
	free(id);
	free(data);
}

static void test_multipart_moto(void **state) { (void)state; need_moto(); check_multipart(&moto); }
static void test_multipart_s3rver(void **state) { (void)state; check_multipart(&s3rver); }

static void test_abort_moto(void **state)
{
	need_moto();
	(void)state;
	struct srv *s = &moto;
	struct du_err err = {0};
	char key[128], *id = NULL;
	snprintf(key, sizeof(key), "%s/abort.wav", s->run);
	assert_int_equal(du_s3_mpu_create(s->c, key, NULL, &id, &err), DU_OK);
	unsigned char md5[DU_MD5_LEN];
	char *buf = calloc(1, 5 * MiB);
	du_md5(buf, 5 * MiB, md5);
	assert_int_equal(du_s3_mpu_part(s->c, key, id, 1, buf, 5 * MiB, md5, NULL, &err), DU_OK);
	assert_int_equal(du_s3_mpu_abort(s->c, key, id, &err), DU_OK);
	struct plist pl = {0};
	assert_int_equal(du_s3_mpu_list_parts(s->c, key, id, on_part, &pl, &err), DU_ERR_NOTFOUND);
	assert_string_equal(err.s3_code, "NoSuchUpload");
	assert_false(err.retryable);
	/* completing a too-small multipart fails permanently (EntityTooSmall) */
	free(id);
	id = NULL;
	assert_int_equal(du_s3_mpu_create(s->c, key, NULL, &id, &err), DU_OK);
	char e1[DU_S3_ETAG_MAX], e2[DU_S3_ETAG_MAX];
	du_md5(buf, 10, md5);
	assert_int_equal(du_s3_mpu_part(s->c, key, id, 1, buf, 10, md5, e1, &err), DU_OK);
	assert_int_equal(du_s3_mpu_part(s->c, key, id, 2, buf, 10, md5, e2, &err), DU_OK);
	struct du_s3_part parts[] = { { 1, e1 }, { 2, e2 } };
	uint64_t a0 = attempts(s);
	assert_int_not_equal(du_s3_mpu_complete(s->c, key, id, parts, 2, NULL, &err), DU_OK);
	assert_string_equal(err.s3_code, "EntityTooSmall");
	assert_false(err.retryable);
	assert_int_equal(attempts(s) - a0, 1);
	du_s3_mpu_abort(s->c, key, id, NULL);
	free(id);
	free(buf);
}

/* ---- failures ---- */

static void test_wrong_secret_moto(void **state)
{
	need_moto();
	(void)state;
	struct du_err err = {0};
	struct du_creds_provider *cp = provider(moto.ak, "wrongSECRETwrongSECRETwrongSECRET0123456");
	struct du_s3 *s3;
	struct du_s3_conn *c;
	struct du_s3_opts o = opts_for(&moto, "du-test");
	assert_int_equal(du_s3_new(&s3, &o, cp, &err), DU_OK);
	assert_int_equal(du_s3_conn_new(s3, &c, &err), DU_OK);
	unsigned char md5[DU_MD5_LEN];
	du_md5("x", 1, md5);
	struct du_s3_put p = { .md5 = md5 };
	assert_int_equal(du_s3_put_object(c, "auth/x.wav", "x", 1, &p, NULL, &err), DU_ERR_S3_AUTH);
	assert_string_equal(err.s3_code, "SignatureDoesNotMatch");
	assert_int_equal(err.http_status, 403);
	assert_false(err.retryable);
	assert_null(strstr(err.msg, "wrongSECRET"));
	assert_null(strstr(err.hint, "wrongSECRET"));
	struct du_s3_stats st;
	du_s3_stats(s3, &st);
	assert_int_equal(st.attempts, 1);
	assert_int_equal(st.retries, 0);
	assert_int_equal(st.failures, 1);
	/* the access check says the same */
	struct listed l = {0};
	assert_int_equal(du_s3_list(c, "auth/", on_obj, &l, &err), DU_ERR_S3_AUTH);
	du_s3_conn_free(c);
	du_s3_free(s3);
	du_creds_provider_free(cp);
}

static void test_payload_signing_moto(void **state)
{
	need_moto();
	(void)state;
	struct du_err err = {0};
	struct du_s3 *s3;
	struct du_s3_conn *c;
	struct du_s3_opts o = opts_for(&moto, "du-test");
	o.payload_signing = true;
	assert_int_equal(du_s3_new(&s3, &o, moto.cp, &err), DU_OK);
	assert_int_equal(du_s3_conn_new(s3, &c, &err), DU_OK);
	unsigned char md5[DU_MD5_LEN];
	du_md5("signed body", 11, md5);
	struct du_s3_put p = { .md5 = md5 };
	char key[128];
	snprintf(key, sizeof(key), "%s/signed payload.wav", moto.run);
	if (du_s3_put_object(c, key, "signed body", 11, &p, NULL, &err))
		fail_msg("signed put: %s", err.msg);
	assert_int_equal(du_s3_head_bucket(c, &err), DU_OK);
	du_s3_conn_free(c);
	du_s3_free(s3);
}

static void test_unreachable_retried(void **state)
{
	(void)state;
	struct du_err err = {0};
	struct du_s3 *s3;
	struct du_s3_conn *c;
	struct srv dead = { .name = "dead", .url = "http://127.0.0.1:9" };
	struct du_s3_opts o = opts_for(&dead, "du-test");
	assert_int_equal(du_s3_new(&s3, &o, s3rver.cp, &err), DU_OK);
	assert_int_equal(du_s3_conn_new(s3, &c, &err), DU_OK);
	assert_int_equal(du_s3_head_bucket(c, &err), DU_ERR_NET);
	assert_true(err.retryable);
	struct du_s3_stats st;
	du_s3_stats(s3, &st);
	assert_int_equal(st.attempts, 3);
	assert_int_equal(st.retries, 2);
	assert_int_equal(st.requests, 1);
	/* aborting: nothing more is sent */
	du_s3_abort_all(s3);
	assert_int_equal(du_s3_head_bucket(c, &err), DU_ERR_INTERRUPTED);
	du_s3_stats(s3, &st);
	assert_int_equal(st.attempts, 3);
	du_s3_conn_free(c);
	du_s3_free(s3);
}

static void test_abort_flag(void **state)
{
	(void)state;
	struct du_err err = {0};
	struct du_s3 *s3;
	struct du_s3_conn *c;
	volatile int flag = 0;
	struct du_s3_opts o = opts_for(&s3rver, "du-test");
	assert_int_equal(du_s3_new(&s3, &o, s3rver.cp, &err), DU_OK);
	du_s3_set_abort(s3, &flag);
	assert_int_equal(du_s3_conn_new(s3, &c, &err), DU_OK);
	assert_int_equal(du_s3_head_bucket(c, &err), DU_OK);
	flag = 1; /* the second Ctrl-C */
	assert_int_equal(du_s3_head_bucket(c, &err), DU_ERR_INTERRUPTED);
	flag = 0;
	assert_int_equal(du_s3_head_bucket(c, &err), DU_OK);
	du_s3_conn_free(c);
	du_s3_free(s3);
}

static void test_limits(void **state)
{
	(void)state;
	struct du_err err = {0};
	unsigned char md5[DU_MD5_LEN] = {0};
	struct du_s3_put p = { .md5 = md5 };
	uint64_t a0 = attempts(&s3rver);
	static const char one = 0;
	assert_int_equal(du_s3_put_object(s3rver.c, "x", &one, (size_t)DU_S3_MAX_PUT + 1, &p, NULL, &err), DU_ERR_S3);
	assert_non_null(strstr(err.msg, "5 GiB"));
	assert_int_equal(attempts(&s3rver), a0);
	/* bad endpoints are configuration errors */
	struct du_s3 *s3 = NULL;
	struct du_s3_opts o = opts_for(&s3rver, "du-test");
	o.endpoint = "ftp://x";
	assert_int_equal(du_s3_new(&s3, &o, s3rver.cp, &err), DU_ERR_CONFIG);
	o.endpoint = "http://";
	assert_int_equal(du_s3_new(&s3, &o, s3rver.cp, &err), DU_ERR_CONFIG);
	assert_null(s3);
}


/* ---- a scripted HTTP server, for answers the real servers never give (503, 200+Error, garbage) ---- */

static void fake_client(struct du_test_http *f, struct du_s3 **s3, struct du_s3_conn **c)
{
	struct du_err err = {0};
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f->port);
	struct srv s = { .url = url };
	struct du_s3_opts o = opts_for(&s, "du-test");
	o.retry_base_ms = 1;
	o.retry_cap_ms = 50;
	o.max_attempts = 4;
	assert_int_equal(du_s3_new(s3, &o, s3rver.cp, &err), DU_OK);
	assert_int_equal(du_s3_conn_new(*s3, c, &err), DU_OK);
}

static char *answer(const char *status_line, const char *headers, const char *body)
{
	char *a;
	if (asprintf(&a, "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\n\r\n%s", status_line, headers, strlen(body), body) < 0)
		abort();
	return a;
}

static void test_fake_retries_put(void **state)
{
	(void)state;
	/* md5("hello") = 5d41402abc4b2a76b9719d911017c592 */
	/* a connection dropped on a fresh connection (curl itself retries only reused ones) */
	char *script[] = {
		"CLOSE",
		answer("503 Slow Down", "Retry-After: 1\r\n",
		       "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"),
		answer("500 Internal Server Error", "", "<Error><Code>InternalError</Code><Message>x</Message></Error>"),
		answer("200 OK", "ETag: \"5d41402abc4b2a76b9719d911017c592\"\r\nx-amz-request-id: R4\r\n", ""),
	};
	struct du_test_http f;
	du_test_http_start(&f, (const char *const *)script, 4);
	struct du_s3 *s3;
	struct du_s3_conn *c;
	fake_client(&f, &s3, &c);
	struct du_err err = {0};
	unsigned char md5[DU_MD5_LEN];
	du_md5("hello", 5, md5);
	struct du_s3_put p = { .md5 = md5, .mtime = 42 };
	char etag[DU_S3_ETAG_MAX];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (du_s3_put_object(c, "a b/c+d.wav", "hello", 5, &p, etag, &err))
		fail_msg("put: %s", err.msg);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_string_equal(etag, "5d41402abc4b2a76b9719d911017c592");
	struct du_s3_stats st;
	du_s3_stats(s3, &st);
	assert_int_equal(st.attempts, 4);
	assert_int_equal(st.retries, 3);
	assert_int_equal(st.throttles, 1);
	assert_true(st.rate > 0); /* the governor is now limiting */
	/* Retry-After: 1 s, capped at retry_cap_ms (50 ms): the first wait was at least 50 ms */
	double el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(el >= 0.05);
	/* what went on the wire */
	const char *r = f.reqs[1];
	assert_non_null(strstr(r, "PUT /du-test/a%20b/c%2Bd.wav HTTP/1.1\r\n"));
	assert_non_null(strstr(r, "\r\nContent-MD5: XUFAKrxLKna5cZ2REBfFkg==\r\n"));
	assert_non_null(strstr(r, "\r\nx-amz-content-sha256: UNSIGNED-PAYLOAD\r\n"));
	assert_non_null(strstr(r, "\r\nx-amz-meta-du-md5: 5d41402abc4b2a76b9719d911017c592\r\n"));
	assert_non_null(strstr(r, "\r\nx-amz-meta-du-mtime: 42\r\n"));
	assert_non_null(strstr(r, "\r\nContent-Type: audio/wav\r\n"));
	assert_non_null(strstr(r, "\r\nUser-Agent: du/"));
	assert_non_null(strstr(r, "SignedHeaders=content-md5;host;x-amz-content-sha256;x-amz-date;"
				  "x-amz-meta-du-md5;x-amz-meta-du-mtime, Signature="));
	assert_null(strcasestr(r, "\r\nExpect:"));
	assert_null(strcasestr(r, "\r\nAccept:"));
	assert_null(strstr(r, "S3RVER\r")); /* the secret is never sent */
	du_s3_conn_free(c);
	du_s3_free(s3);
	du_test_http_stop(&f);
	for (int i = 0; i < 4; i++)
		if (strcmp(script[i], "CLOSE"))
			free(script[i]);
}

static void test_fake_complete_200_error(void **state)
{
	(void)state;
	char *script[] = {
		answer("200 OK", "", "<?xml version=\"1.0\"?>\n  \n<Error><Code>InternalError</Code>"
				       "<Message>We encountered an internal error.</Message><RequestId>Q</RequestId></Error>"),
		answer("200 OK", "", "<CompleteMultipartUploadResult><ETag>&quot;abc-2&quot;</ETag>"
				       "</CompleteMultipartUploadResult>"),
		answer("200 OK", "", "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>no</Message></Error>"),
	};
	struct du_test_http f;
	du_test_http_start(&f, (const char *const *)script, 3);
	struct du_s3 *s3;
	struct du_s3_conn *c;
	fake_client(&f, &s3, &c);
	struct du_err err = {0};
	struct du_s3_part parts[] = { { 1, "e1" }, { 2, "e2" } };
	char etag[DU_S3_ETAG_MAX];
	if (du_s3_mpu_complete(c, "k", "up&id", parts, 2, etag, &err) == DU_OK)
		fail_msg("an upload id with '&' must be refused");
	assert_int_equal(du_s3_mpu_complete(c, "k", "UPID", parts, 2, etag, &err), DU_OK);
	assert_string_equal(etag, "abc-2");
	assert_non_null(strstr(f.reqs[0], "POST /du-test/k?uploadId=UPID HTTP/1.1"));
	assert_non_null(strstr(f.reqs[0], "Content-Type: application/xml"));
	/* a permanent error inside a 200 is not retried */
	assert_int_equal(du_s3_mpu_complete(c, "k", "UPID", parts, 2, etag, &err), DU_ERR_S3_AUTH);
	assert_string_equal(err.s3_code, "AccessDenied");
	assert_false(err.retryable);
	struct du_s3_stats st;
	du_s3_stats(s3, &st);
	assert_int_equal(st.attempts, 3);
	du_s3_conn_free(c);
	du_s3_free(s3);
	du_test_http_stop(&f);
	for (int i = 0; i < 3; i++)
		free(script[i]);
}

static void test_fake_garbage(void **state)
{
	(void)state;
	char *script[] = {
		answer("400 Bad Request", "", "<html><body>nope</body></html>"),
		answer("200 OK", "", "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a</Key>"
				       "<Size>1</Size></Contents><Contents><Key>b</Key><Si"),
		answer("502 Bad Gateway", "", "<html>gateway</html>"),
		answer("502 Bad Gateway", "", "<html>gateway</html>"),
		answer("502 Bad Gateway", "", "<html>gateway</html>"),
		answer("502 Bad Gateway", "", "<html>gateway</html>"),
	};
	struct du_test_http f;
	du_test_http_start(&f, (const char *const *)script, 6);
	struct du_s3 *s3;
	struct du_s3_conn *c;
	fake_client(&f, &s3, &c);
	struct du_err err = {0};
	struct du_s3_object_info info;
	/* 400 with HTML: permanent, status kept */
	assert_int_equal(du_s3_head_object(c, "x", &info, &err), DU_ERR_S3);
	assert_int_equal(err.http_status, 400);
	assert_false(err.retryable);
	/* a truncated listing page: the store's trouble (exit 5), named, and no object passed on */
	struct listed l = {0};
	assert_int_equal(du_s3_list(c, "p/", on_obj, &l, &err), DU_ERR_S3);
	assert_int_equal(err.code, DU_ERR_S3);
	assert_non_null(strstr(err.msg, "ListBucketResult"));
	assert_int_equal(l.n, 0);
	assert_non_null(strstr(f.reqs[1], "GET /du-test?encoding-type=url&list-type=2&max-keys=2&prefix=p%2F HTTP/1.1"));
	/* 502 four times: retried up to max_attempts, then retryable */
	assert_int_equal(du_s3_delete_object(c, "x", &err), DU_ERR_S3);
	assert_int_equal(err.http_status, 502);
	assert_true(err.retryable);
	struct du_s3_stats st;
	du_s3_stats(s3, &st);
	assert_int_equal(st.attempts, 6);
	assert_int_equal(st.failures, 2); /* HTTP failures; the listing's 200 was a parse failure */
	du_s3_conn_free(c);
	du_s3_free(s3);
	du_test_http_stop(&f);
	for (int i = 0; i < 6; i++)
		free(script[i]);
}

static void test_fake_sse_kms(void **state)
{
	(void)state;
	char *script[] = {
		answer("200 OK", "ETag: \"not-the-md5\"\r\n", ""),
		answer("200 OK", "ETag: \"not-the-md5\"\r\n", ""),
	};
	struct du_test_http f;
	du_test_http_start(&f, (const char *const *)script, 2);
	struct du_err err = {0};
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f.port);
	struct srv sv = { .url = url };
	struct du_s3_opts o = opts_for(&sv, "du-test");
	o.sse = "aws:kms";
	o.sse_kms_key_id = "arn:aws:kms:us-east-1:1:key/k";
	o.storage_class = "STANDARD_IA";
	struct du_s3 *s3;
	struct du_s3_conn *c;
	assert_int_equal(du_s3_new(&s3, &o, s3rver.cp, &err), DU_OK);
	assert_int_equal(du_s3_conn_new(s3, &c, &err), DU_OK);
	unsigned char md5[DU_MD5_LEN];
	du_md5("x", 1, md5);
	struct du_s3_put p = { .md5 = md5, .content_type = "text/plain" };
	char etag[DU_S3_ETAG_MAX];
	/* with SSE-KMS the ETag is not the MD5: accepted */
	if (du_s3_put_object(c, "k.wav", "x", 1, &p, etag, &err))
		fail_msg("kms put: %s", err.msg);
	assert_string_equal(etag, "not-the-md5");
	const char *r = f.reqs[0];
	assert_non_null(strstr(r, "\r\nx-amz-server-side-encryption: aws:kms\r\n"));
	assert_non_null(strstr(r, "\r\nx-amz-server-side-encryption-aws-kms-key-id: arn:aws:kms:us-east-1:1:key/k\r\n"));
	assert_non_null(strstr(r, "\r\nx-amz-storage-class: STANDARD_IA\r\n"));
	assert_non_null(strstr(r, "\r\nContent-Type: text/plain\r\n"));
	assert_non_null(strstr(r, ";x-amz-server-side-encryption;x-amz-server-side-encryption-aws-kms-key-id;"
				  "x-amz-storage-class, Signature="));
	du_s3_conn_free(c);
	du_s3_free(s3);
	/* without KMS the same answer is an etag mismatch, retryable */
	o.sse = "AES256";
	o.sse_kms_key_id = NULL;
	assert_int_equal(du_s3_new(&s3, &o, s3rver.cp, &err), DU_OK);
	assert_int_equal(du_s3_conn_new(s3, &c, &err), DU_OK);
	assert_int_equal(du_s3_put_object(c, "k.wav", "x", 1, &p, etag, &err), DU_ERR_S3);
	assert_non_null(strstr(err.msg, "etag mismatch"));
	assert_true(err.retryable);
	assert_non_null(strstr(f.reqs[1], "\r\nx-amz-server-side-encryption: AES256\r\n"));
	assert_null(strstr(f.reqs[1], "kms-key-id"));
	du_s3_conn_free(c);
	du_s3_free(s3);
	du_test_http_stop(&f);
	for (int i = 0; i < 2; i++)
		free(script[i]);
}

static void test_fake_clock_skew(void **state)
{
	(void)state;
	/* the server's clock is 2 hours ahead of ours */
	char date[64], amz[20];
	time_t ahead = time(NULL) + 7200;
	struct tm tm;
	gmtime_r(&ahead, &tm);
	strftime(date, sizeof(date), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
	strftime(amz, sizeof(amz), "%Y%m%dT%H", &tm);
	char *script[] = {
		answer("403 Forbidden", date, "<Error><Code>RequestTimeTooSkewed</Code><Message>The difference between "
					     "the request time and the current time is too large.</Message></Error>"),
		answer("200 OK", "", ""),
		answer("403 Forbidden", "", "<Error><Code>RequestTimeTooSkewed</Code><Message>m</Message></Error>"),
	};
	struct du_test_http f;
	du_test_http_start(&f, (const char *const *)script, 3);
	struct du_s3 *s3;
	struct du_s3_conn *c;
	fake_client(&f, &s3, &c);
	struct du_err err = {0};
	if (du_s3_delete_object(c, "k", &err))
		fail_msg("skewed delete: %s", err.msg);
	/* the second request was signed with the server's time */
	char want[40];
	snprintf(want, sizeof(want), "\r\nx-amz-date: %s", amz);
	assert_non_null(strstr(f.reqs[1], want));
	/* without a usable Date it is permanent, with a hint */
	assert_int_equal(du_s3_delete_object(c, "k", &err), DU_ERR_S3);
	assert_string_equal(err.s3_code, "RequestTimeTooSkewed");
	assert_false(err.retryable);
	assert_non_null(strstr(err.hint, "clock"));
	struct du_s3_stats st;
	du_s3_stats(s3, &st);
	assert_int_equal(st.attempts, 3);
	du_s3_conn_free(c);
	du_s3_free(s3);
	du_test_http_stop(&f);
	for (int i = 0; i < 3; i++)
		free(script[i]);
}

static void *raise_later(void *arg)
{
	struct timespec ts = { 0, 300 * 1000000L };
	nanosleep(&ts, NULL);
	*(volatile int *)arg = 1;
	return NULL;
}

static void test_fake_abort_in_flight(void **state)
{
	(void)state;
	const char *script[] = { "HANG" };
	struct du_test_http f;
	du_test_http_start(&f, script, 1);
	struct du_s3 *s3;
	struct du_s3_conn *c;
	fake_client(&f, &s3, &c);
	static volatile int flag;
	flag = 0;
	du_s3_set_abort(s3, &flag);
	pthread_t th;
	pthread_create(&th, NULL, raise_later, (void *)&flag);
	struct du_err err = {0};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(du_s3_head_bucket(c, &err), DU_ERR_INTERRUPTED);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_join(th, NULL);
	double el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(el >= 0.25 && el < 3.0); /* request_timeout is 30 s: the flag ended it */
	assert_false(err.retryable);
	du_s3_conn_free(c);
	du_s3_free(s3);
	du_test_http_stop(&f);
}

static void test_fake_uploads_paging(void **state)
{
	(void)state;
	char *script[] = {
		answer("200 OK", "", "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated>"
				       "<EncodingType>url</EncodingType><NextKeyMarker>p/b%20c</NextKeyMarker>"
				       "<NextUploadIdMarker>U/2+=</NextUploadIdMarker>"
				       "<Upload><Key>p/a</Key><UploadId>U1</UploadId><Initiated>2024-01-01T00:00:00Z</Initiated></Upload>"
				       "<Upload><Key>p/b%20c</Key><UploadId>U/2+=</UploadId></Upload></ListMultipartUploadsResult>"),
		answer("200 OK", "", "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
				       "<Upload><Key>p/d</Key><UploadId>U3</UploadId></Upload></ListMultipartUploadsResult>"),
	};
	struct du_test_http f;
	du_test_http_start(&f, (const char *const *)script, 2);
	struct du_s3 *s3;
	struct du_s3_conn *c;
	fake_client(&f, &s3, &c);
	struct du_err err = {0};
	struct ulist u = { .key = "p/d", .id = "U3" };
	assert_int_equal(du_s3_mpu_list_uploads(c, "p/", on_upload, &u, &err), DU_OK);
	assert_int_equal(u.n, 3);
	assert_non_null(strstr(f.reqs[0], "GET /du-test?encoding-type=url&max-uploads=2&prefix=p%2F&uploads HTTP/1.1"));
	assert_non_null(strstr(f.reqs[1], "GET /du-test?encoding-type=url&key-marker=p%2Fb%20c&max-uploads=2&prefix=p%2F"
					  "&upload-id-marker=U%2F2%2B%3D&uploads HTTP/1.1"));
	du_s3_conn_free(c);
	du_s3_free(s3);
	du_test_http_stop(&f);
	for (int i = 0; i < 2; i++)
		free(script[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head_bucket_moto),
		cmocka_unit_test(test_head_bucket_s3rver),
		cmocka_unit_test(test_weird_keys_moto),
		cmocka_unit_test(test_weird_keys_s3rver),
		cmocka_unit_test(test_missing_object_moto),
		cmocka_unit_test(test_missing_object_s3rver),
		cmocka_unit_test(test_etag_mismatch_moto),
		cmocka_unit_test(test_etag_mismatch_s3rver),
		cmocka_unit_test(test_tags_moto),
		cmocka_unit_test(test_tags_s3rver),
		cmocka_unit_test(test_multipart_moto),
		cmocka_unit_test(test_multipart_s3rver),
		cmocka_unit_test(test_abort_moto),
		cmocka_unit_test(test_wrong_secret_moto),
		cmocka_unit_test(test_payload_signing_moto),
		cmocka_unit_test(test_unreachable_retried),
		cmocka_unit_test(test_abort_flag),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_fake_retries_put),
		cmocka_unit_test(test_fake_complete_200_error),
		cmocka_unit_test(test_fake_garbage),
		cmocka_unit_test(test_fake_uploads_paging),
		cmocka_unit_test(test_fake_clock_skew),
		cmocka_unit_test(test_fake_abort_in_flight),
		cmocka_unit_test(test_fake_sse_kms),
	};
	return cmocka_run_group_tests_name("s3_live", tests, setup, teardown);
}

/*
 * fuzz_s3_xml.c: the S3 XML answer parsers (src/s3_xml.c).
 *
 * The first byte picks the parser (listing, part list, upload list, initiate, complete, error),
 * the rest is the answer body. Invariants, the ones du's correctness rests on:
 *   - a failed parse (other than an <Error> document) hands on no record at all;
 *   - an <Error> document always has a code;
 *   - every record handed on has its identifying field (key / etag / upload id) as a string,
 *     part numbers are 1..10000;
 *   - parsing the same bytes again into the reused page gives the same result;
 *   - the helpers (url decoding, time, unquote) never read or write outside their string.
 */
#include "s3/s3_internal.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef int (*parse_fn)(const char *, size_t, struct du_s3x_page *, struct du_err *);

struct tally {
	size_t n;
	uint64_t hash;
};

static void mix(struct tally *t, const char *s, uint64_t v)
{
	for (; s && *s; s++)
		t->hash = (t->hash ^ (unsigned char)*s) * 1099511628211ull;
	t->hash = (t->hash ^ v) * 1099511628211ull;
	t->n++;
}

static int on_object(void *arg, const struct du_s3_object *o)
{
	FUZZ_CHECK(o->key && o->etag);
	mix(arg, o->key, o->size);
	mix(arg, o->etag, (uint64_t)o->mtime);
	return 0;
}

static int on_part(void *arg, int number, uint64_t size, const char *etag)
{
	FUZZ_CHECK(number >= 1 && number <= DU_S3_MAX_PARTS);
	FUZZ_CHECK(etag != NULL);
	mix(arg, etag, size + (uint64_t)number);
	return 0;
}

static int on_upload(void *arg, const char *key, const char *upload_id, int64_t initiated)
{
	FUZZ_CHECK(key && upload_id);
	mix(arg, key, (uint64_t)initiated);
	mix(arg, upload_id, 0);
	return 0;
}

static struct tally deliver(const struct du_s3x_page *pg, unsigned which)
{
	struct tally t = { 0, 14695981039346656037ull };
	if (which == 0)
		du_s3x_each_object(pg, NULL, on_object, &t);
	else if (which == 1)
		du_s3x_each_part(pg, on_part, &t);
	else if (which == 2)
		du_s3x_each_upload(pg, NULL, on_upload, &t);
	FUZZ_CHECK(t.n == pg->nrecs * (which == 2 ? 2 : which == 0 ? 2 : 1));
	mix(&t, pg->next, pg->truncated);
	mix(&t, pg->next2, 0);
	mix(&t, pg->etag, 0);
	mix(&t, pg->upload_id, 0);
	mix(&t, pg->error.code, 0);
	return t;
}

static void helpers(const uint8_t *data, size_t size)
{
	char *s = fuzz_strdup(data, size);
	size_t n = du_s3x_url_decode(s, size);
	FUZZ_CHECK(n <= size && s[n] == '\0');
	free(s);
	s = fuzz_strdup(data, size);
	(void)du_s3x_parse_time(s);
	size_t before = strlen(s);
	du_s3x_unquote(s);
	FUZZ_CHECK(strlen(s) == before || strlen(s) == before - 2);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const parse_fn parsers[] = { du_s3x_parse_list, du_s3x_parse_parts,
					    du_s3x_parse_uploads, du_s3x_parse_initiate,
					    du_s3x_parse_complete };
	if (size < 1)
		return 0;
	unsigned which = data[0] % 7;
	/* an exact-size heap copy, so ASan sees any read past the body */
	char *body = malloc(size - 1 ? size - 1 : 1);
	FUZZ_CHECK(body != NULL);
	memcpy(body, data + 1, size - 1);

	if (which == 6) {
		helpers(data + 1, size - 1);
	} else if (which == 5) {
		struct du_s3x_error e;
		if (du_s3x_parse_error(body, size - 1, &e) == DU_OK)
			FUZZ_CHECK(e.code[0]);
		FUZZ_CHECK(memchr(e.code, 0, sizeof(e.code)) && memchr(e.message, 0, sizeof(e.message)));
	} else {
		struct du_s3x_page pg = {0};
		struct du_err err = {0};
		int rc = parsers[which](body, size - 1, &pg, &err);
		if (rc == DU_ERR_S3) {
			FUZZ_CHECK(pg.error.code[0]);
		} else if (rc) {
			FUZZ_CHECK(pg.nrecs == 0);
			FUZZ_CHECK(err.msg[0]);
		}
		struct tally t1 = deliver(&pg, which);
		struct du_err err2 = {0};
		int rc2 = parsers[which](body, size - 1, &pg, &err2);
		FUZZ_CHECK(rc2 == rc);
		struct tally t2 = deliver(&pg, which);
		FUZZ_CHECK(t1.n == t2.n && t1.hash == t2.hash);
		du_s3x_page_release(&pg);
	}
	free(body);
	return 0;
}

/* Unit tests for the S3 XML answers (src/s3_xml.c): listings, errors, multipart results. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "s3/s3_internal.h"
#include "du/strbuf.h"

struct seen {
	int n;
	char keys[16][128];
	uint64_t sizes[16];
	char etags[16][64];
	int64_t mtimes[16];
	bool has_size[16];
	int stop_at;
};

static int on_obj(void *arg, const struct du_s3_object *o)
{
	struct seen *s = arg;
	assert_true(s->n < 16);
	snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", o->key);
	snprintf(s->etags[s->n], sizeof(s->etags[0]), "%s", o->etag);
	s->sizes[s->n] = o->size;
	s->mtimes[s->n] = o->mtime;
	s->has_size[s->n] = o->has_size;
	s->n++;
	return s->stop_at && s->n == s->stop_at ? 42 : 0;
}

#define LIST_HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" \
	"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"

static const char page_url[] =
	LIST_HEAD
	"<Name>du-test</Name><Prefix>p%2F</Prefix><KeyCount>5</KeyCount><MaxKeys>5</MaxKeys>"
	"<IsTruncated>true</IsTruncated>"
	"<Contents><Key>p/a%26b+c.wav</Key><LastModified>2024-02-29T12:34:56.000Z</LastModified>"
	"<ETag>&quot;0123456789abcdef0123456789abcdef&quot;</ETag><Size>12345</Size>"
	"<StorageClass>STANDARD</StorageClass></Contents>\n"
	"<Contents><Key>p/x%2By%3Dz.jpg</Key><LastModified>1970-01-01T00:00:01Z</LastModified>"
	"<ETag>\"abc-3\"</ETag><Size>0</Size></Contents>"
	"<Contents><Key>p/%C3%A9t%C3%A9%20%E2%9C%93.mov</Key><Size>18446744073709551615</Size>"
	"<ETag>&quot;e&quot;</ETag></Contents>"
	"<Contents><Key>p/line%0Abreak</Key><Size>7</Size><ETag>&quot;f&quot;</ETag></Contents>"
	"<Contents><Key>p/100%25 &amp;%3F%23~%27</Key><Size>8</Size><ETag>&quot;g&quot;</ETag></Contents>"
	"<EncodingType>url</EncodingType>"
	"<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=+x</NextContinuationToken>"
	"</ListBucketResult>";

static void test_list_url_encoded(void **state)
{
	(void)state;
	struct du_s3x_page pg = {0};
	struct du_err err = {0};
	struct seen s = {0};
	assert_int_equal(du_s3x_parse_list(page_url, strlen(page_url), &pg, &err), DU_OK);
	assert_true(pg.truncated);
	assert_string_equal(pg.next, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=+x");
	assert_int_equal(du_s3x_each_object(&pg, NULL, on_obj, &s), 0);
	assert_int_equal(s.n, 5);
	assert_string_equal(s.keys[0], "p/a&b c.wav");
	assert_int_equal(s.sizes[0], 12345);
	assert_string_equal(s.etags[0], "0123456789abcdef0123456789abcdef");
	assert_int_equal(s.mtimes[0], 1709210096);
	assert_string_equal(s.keys[1], "p/x+y=z.jpg");
	assert_string_equal(s.etags[1], "abc-3");
	assert_int_equal(s.sizes[1], 0);
	assert_int_equal(s.mtimes[1], 1);
	assert_string_equal(s.keys[2], "p/\xc3\xa9t\xc3\xa9 \xe2\x9c\x93.mov");
	assert_true(s.sizes[2] == UINT64_MAX);
	assert_int_equal(s.mtimes[2], -1); /* absent */
	assert_string_equal(s.keys[3], "p/line\nbreak");
	assert_string_equal(s.keys[4], "p/100% &?#~'");
	/* filter on a prefix (the '&' fallback) */
	memset(&s, 0, sizeof(s));
	assert_int_equal(du_s3x_each_object(&pg, "p/x", on_obj, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.keys[0], "p/x+y=z.jpg");
	/* a callback's non-zero value stops and is returned */
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	assert_int_equal(du_s3x_each_object(&pg, NULL, on_obj, &s), 42);
	assert_int_equal(s.n, 2);
	du_s3x_page_release(&pg);
}

/* s3rver ignores encoding-type: raw keys, entity-escaped, no EncodingType element */
static const char page_raw[] =
	LIST_HEAD
	"<IsTruncated>false</IsTruncated>"
	"<Contents><Key>a &amp; b%2B+c&lt;d&gt;</Key><Size>3</Size><ETag>&quot;h&quot;</ETag></Contents>"
	"<Contents><Key>new\nline </Key><Size>4</Size><ETag>&quot;i&quot;</ETag></Contents>"
	"<Contents><Key> </Key><Size>5</Size><ETag>&quot;j&quot;</ETag></Contents>"
	"</ListBucketResult>";

static void test_list_raw(void **state)
{
	(void)state;
	struct du_s3x_page pg = {0};
	struct du_err err = {0};
	struct seen s = {0};
	assert_int_equal(du_s3x_parse_list(page_raw, strlen(page_raw), &pg, &err), DU_OK);
	assert_false(pg.truncated);
	assert_null(pg.next);
	du_s3x_each_object(&pg, NULL, on_obj, &s);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.keys[0], "a & b%2B+c<d>");
	assert_string_equal(s.keys[1], "new\nline ");
	assert_string_equal(s.keys[2], " ");
	/* the page is reusable */
	assert_int_equal(du_s3x_parse_list(page_url, strlen(page_url), &pg, &err), DU_OK);
	memset(&s, 0, sizeof(s));
	du_s3x_each_object(&pg, NULL, on_obj, &s);
	assert_int_equal(s.n, 5);
	assert_string_equal(s.keys[0], "p/a&b c.wav");
	du_s3x_page_release(&pg);
}

/* An entry without <Size> is passed on marked so: its size 0 must not pass for a real one. */
static void test_list_no_size(void **state)
{
	(void)state;
	static const char page[] = LIST_HEAD "<IsTruncated>false</IsTruncated>"
		"<Contents><Key>a.wav</Key><ETag>\"zz-not-hex\"</ETag></Contents>"
		"<Contents><Key>b.wav</Key><Size>0</Size></Contents></ListBucketResult>";
	struct du_s3x_page pg = {0};
	struct du_err err = {0};
	struct seen s = {0};
	assert_int_equal(du_s3x_parse_list(page, strlen(page), &pg, &err), DU_OK);
	du_s3x_each_object(&pg, NULL, on_obj, &s);
	assert_int_equal(s.n, 2);
	assert_false(s.has_size[0]);
	assert_string_equal(s.etags[0], "zz-not-hex");
	assert_true(s.has_size[1]);
	assert_int_equal(s.sizes[1], 0);
	du_s3x_page_release(&pg);
}

static void test_list_empty_page(void **state)
{
	(void)state;
	const char *x = LIST_HEAD "<IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>";
	struct du_s3x_page pg = {0};
	struct du_err err = {0};
	struct seen s = {0};
	assert_int_equal(du_s3x_parse_list(x, strlen(x), &pg, &err), DU_OK);
	du_s3x_each_object(&pg, NULL, on_obj, &s);
	assert_int_equal(s.n, 0);
	const char *y = "<ListBucketResult/>";
	assert_int_equal(du_s3x_parse_list(y, strlen(y), &pg, &err), DU_OK);
	du_s3x_page_release(&pg);
}

static void expect_parse_error(const char *x, size_t len)
{
	struct du_s3x_page pg = {0};
	struct du_err err = {0};
	struct seen s = {0};
	int rc = du_s3x_parse_list(x, len, &pg, &err);
	if (rc != DU_ERR_PARSE)
		fail_msg("expected DU_ERR_PARSE for %.60s, got %d", x ? x : "(null)", rc);
	assert_int_equal(err.code, DU_ERR_PARSE);
	assert_true(err.msg[0]);
	/* nothing of a broken page is handed on */
	assert_int_equal(du_s3x_each_object(&pg, NULL, on_obj, &s), 0);
	assert_int_equal(s.n, 0);
	du_s3x_page_release(&pg);
}

static void test_list_garbage(void **state)
{
	(void)state;
	expect_parse_error("", 0);
	expect_parse_error(NULL, 0);
	expect_parse_error("not xml at all", 14);
	expect_parse_error("<html><body>502 Bad Gateway</body></html>", 41);
	expect_parse_error("\0\0\0\0", 4);
	/* truncated in the middle of the second object: the first, complete one must not be counted */
	size_t cut = (size_t)(strstr(page_url, "p/x%2B") - page_url);
	expect_parse_error(page_url, cut);
	/* truncated after all objects, before the end */
	cut = (size_t)(strstr(page_url, "<EncodingType>") - page_url);
	expect_parse_error(page_url, cut);
	/* every prefix of a valid page is an error, never a crash */
	for (size_t n = 1; n < strlen(page_raw) - 1; n += 7)
		expect_parse_error(page_raw, n);
	/* malformed fields */
	const char *badsize = LIST_HEAD "<Contents><Key>a</Key><Size>12x</Size></Contents></ListBucketResult>";
	expect_parse_error(badsize, strlen(badsize));
	const char *nokey = LIST_HEAD "<Contents><Size>1</Size></Contents></ListBucketResult>";
	expect_parse_error(nokey, strlen(nokey));
	/* truncated without token cannot be continued */
	const char *notoken = LIST_HEAD "<IsTruncated>true</IsTruncated></ListBucketResult>";
	expect_parse_error(notoken, strlen(notoken));
	/* the wrong document */
	const char *other = "<ListPartsResult></ListPartsResult>";
	expect_parse_error(other, strlen(other));
	/* two roots */
	const char *two = "<ListBucketResult/><ListBucketResult/>";
	expect_parse_error(two, strlen(two));
}

static const char error_body[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message>"
	"<BucketName>nope</BucketName><RequestId>4442587FB7D0A2F9</RequestId>"
	"<HostId>abc=</HostId></Error>";

static void test_error_body(void **state)
{
	(void)state;
	struct du_s3x_error e;
	assert_int_equal(du_s3x_parse_error(error_body, strlen(error_body), &e), DU_OK);
	assert_string_equal(e.code, "NoSuchBucket");
	assert_string_equal(e.message, "The specified bucket does not exist");
	assert_string_equal(e.bucket, "nope");
	assert_string_equal(e.request_id, "4442587FB7D0A2F9");
	/* an error where a listing was expected */
	struct du_s3x_page pg = {0};
	struct du_err err = {0};
	assert_int_equal(du_s3x_parse_list(error_body, strlen(error_body), &pg, &err), DU_ERR_S3);
	assert_string_equal(pg.error.code, "NoSuchBucket");
	du_s3x_page_release(&pg);
	/* not errors */
	assert_int_equal(du_s3x_parse_error("<Error></Error>", 15, &e), DU_ERR_PARSE);
	assert_int_equal(du_s3x_parse_error("<Error><Code>X</Code>", 21, &e), DU_ERR_PARSE);
	assert_int_equal(du_s3x_parse_error(page_raw, strlen(page_raw), &e), DU_ERR_PARSE);
	assert_int_equal(du_s3x_parse_error("", 0, &e), DU_ERR_PARSE);
	/* long fields are cut, not overflowed */
	char big[4096];
	int n = snprintf(big, sizeof(big), "<Error><Code>");
	for (int i = 0; i < 300; i++)
		big[n++] = 'C';
	n += snprintf(big + n, sizeof(big) - (size_t)n, "</Code><Message>m</Message></Error>");
	assert_int_equal(du_s3x_parse_error(big, (size_t)n, &e), DU_OK);
	assert_int_equal(strlen(e.code), sizeof(e.code) - 1);
}

static void test_complete(void **state)
{
	(void)state;
	struct du_s3x_page pg = {0};
	struct du_err err = {0};
	const char *ok =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<CompleteMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<Location>http://x/du-test/k</Location><Bucket>du-test</Bucket><Key>k</Key>"
		"<ETag>\"3858f62230ac3c915f300c664312c11f-9\"</ETag></CompleteMultipartUploadResult>";
	assert_int_equal(du_s3x_parse_complete(ok, strlen(ok), &pg, &err), DU_OK);
	assert_string_equal(pg.etag, "3858f62230ac3c915f300c664312c11f-9");
	/* moto's name for the same document */
	const char *moto = "<CompleteMultipartUploadResponse><ETag>&quot;x-2&quot;</ETag></CompleteMultipartUploadResponse>";
	assert_int_equal(du_s3x_parse_complete(moto, strlen(moto), &pg, &err), DU_OK);
	assert_string_equal(pg.etag, "x-2");
	const char *other = "<CompleteMultipartUploadResp><ETag>x</ETag></CompleteMultipartUploadResp>";
	assert_int_equal(du_s3x_parse_complete(other, strlen(other), &pg, &err), DU_ERR_PARSE);
	/* 200 OK with an <Error> body, whitespace first as S3 sends while it keeps the connection alive */
	const char *bad =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\n          \n"
		"<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try "
		"again.</Message><RequestId>656c76696e6727732072657175657374</RequestId></Error>";
	assert_int_equal(du_s3x_parse_complete(bad, strlen(bad), &pg, &err), DU_ERR_S3);
	assert_string_equal(pg.error.code, "InternalError");
	assert_string_equal(pg.error.request_id, "656c76696e6727732072657175657374");
	assert_null(pg.etag);
	/* truncated */
	assert_int_equal(du_s3x_parse_complete(ok, strlen(ok) - 10, &pg, &err), DU_ERR_PARSE);
	/* no etag */
	const char *noetag = "<CompleteMultipartUploadResult><Key>k</Key></CompleteMultipartUploadResult>";
	assert_int_equal(du_s3x_parse_complete(noetag, strlen(noetag), &pg, &err), DU_ERR_PARSE);
	du_s3x_page_release(&pg);
}

static void test_initiate(void **state)
{
	(void)state;
	struct du_s3x_page pg = {0};
	struct du_err err = {0};
	const char *ok = "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
			 "<UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>"
			 "</InitiateMultipartUploadResult>";
	assert_int_equal(du_s3x_parse_initiate(ok, strlen(ok), &pg, &err), DU_OK);
	assert_string_equal(pg.upload_id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
	const char *none = "<InitiateMultipartUploadResult><UploadId></UploadId></InitiateMultipartUploadResult>";
	assert_int_equal(du_s3x_parse_initiate(none, strlen(none), &pg, &err), DU_ERR_PARSE);
	du_s3x_page_release(&pg);
}

static int tag_collect(void *arg, const char *key, const char *value)
{
	struct du_strbuf *b = arg;
	du_strbuf_addf(b, "[%s=%s]", key, value);
	return 0;
}

/* GetObjectTagging: tags one level deeper than listing records, entities decoded, an empty value,
 * an empty set, a tag without its key refused, an error document. */
static void test_tagging(void **state)
{
	(void)state;
	struct du_s3x_page pg = {0};
	struct du_err err = {0};
	struct du_strbuf b = DU_STRBUF_INIT;
	const char *ok = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
			 "<Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><TagSet>"
			 "<Tag><Key>project</Key><Value>bats &amp; moths</Value></Tag>"
			 "<Tag><Key>site</Key><Value></Value></Tag>"
			 "<Tag><Key>caf\xc3\xa9</Key><Value>a=b/c</Value></Tag>"
			 "</TagSet></Tagging>";
	assert_int_equal(du_s3x_parse_tagging(ok, strlen(ok), &pg, &err), DU_OK);
	assert_int_equal(du_s3x_each_tag(&pg, tag_collect, &b), 0);
	assert_string_equal(du_strbuf_str(&b), "[project=bats & moths][site=][caf\xc3\xa9=a=b/c]");
	du_strbuf_reset(&b);
	const char *empty = "<Tagging><TagSet/></Tagging>";
	assert_int_equal(du_s3x_parse_tagging(empty, strlen(empty), &pg, &err), DU_OK);
	assert_int_equal(pg.nrecs, 0);
	const char *nokey = "<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>";
	assert_int_equal(du_s3x_parse_tagging(nokey, strlen(nokey), &pg, &err), DU_ERR_PARSE);
	assert_int_equal(pg.nrecs, 0);
	const char *e = "<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>";
	assert_int_equal(du_s3x_parse_tagging(e, strlen(e), &pg, &err), DU_ERR_S3);
	assert_string_equal(pg.error.code, "NoSuchKey");
	const char *other = "<ListBucketResult></ListBucketResult>";
	assert_int_equal(du_s3x_parse_tagging(other, strlen(other), &pg, &err), DU_ERR_PARSE);
	du_strbuf_release(&b);
	du_s3x_page_release(&pg);
}

struct parts {
	int n;
	int numbers[8];
	uint64_t sizes[8];
	char etags[8][40];
};

static int on_part(void *arg, int number, uint64_t size, const char *etag)
{
	struct parts *p = arg;
	p->numbers[p->n] = number;
	p->sizes[p->n] = size;
	snprintf(p->etags[p->n], sizeof(p->etags[0]), "%s", etag);
	p->n++;
	return 0;
}

static void test_list_parts(void **state)
{
	(void)state;
	struct du_s3x_page pg = {0};
	struct du_err err = {0};
	struct parts p = {0};
	const char *x =
		"<ListPartsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>b</Bucket>"
		"<Key>k</Key><UploadId>u</UploadId><PartNumberMarker>0</PartNumberMarker>"
		"<NextPartNumberMarker>2</NextPartNumberMarker><MaxParts>2</MaxParts>"
		"<IsTruncated>true</IsTruncated>"
		"<Part><PartNumber>1</PartNumber><LastModified>2024-01-01T00:00:00.000Z</LastModified>"
		"<ETag>&quot;7778aef83f66abc1fa1e8477f296d394&quot;</ETag><Size>5242880</Size></Part>"
		"<Part><PartNumber>2</PartNumber><ETag>\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"</ETag><Size>1</Size></Part>"
		"</ListPartsResult>";
	assert_int_equal(du_s3x_parse_parts(x, strlen(x), &pg, &err), DU_OK);
	assert_true(pg.truncated);
	assert_string_equal(pg.next, "2");
	du_s3x_each_part(&pg, on_part, &p);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.numbers[0], 1);
	assert_int_equal(p.sizes[0], 5242880);
	assert_string_equal(p.etags[0], "7778aef83f66abc1fa1e8477f296d394");
	assert_int_equal(p.numbers[1], 2);
	assert_string_equal(p.etags[1], "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	/* bad part numbers are refused */
	const char *bad = "<ListPartsResult><Part><PartNumber>0</PartNumber><ETag>x</ETag><Size>1</Size></Part>"
			  "</ListPartsResult>";
	assert_int_equal(du_s3x_parse_parts(bad, strlen(bad), &pg, &err), DU_ERR_PARSE);
	const char *big = "<ListPartsResult><Part><PartNumber>10001</PartNumber><ETag>x</ETag></Part>"
			  "</ListPartsResult>";
	assert_int_equal(du_s3x_parse_parts(big, strlen(big), &pg, &err), DU_ERR_PARSE);
	memset(&p, 0, sizeof(p));
	du_s3x_each_part(&pg, on_part, &p);
	assert_int_equal(p.n, 0);
	du_s3x_page_release(&pg);
}

struct ups {
	int n;
	char keys[4][64];
	char ids[4][64];
	int64_t t[4];
};

static int on_upload(void *arg, const char *key, const char *id, int64_t initiated)
{
	struct ups *u = arg;
	snprintf(u->keys[u->n], sizeof(u->keys[0]), "%s", key);
	snprintf(u->ids[u->n], sizeof(u->ids[0]), "%s", id);
	u->t[u->n] = initiated;
	u->n++;
	return 0;
}

static void test_list_uploads(void **state)
{
	(void)state;
	struct du_s3x_page pg = {0};
	struct du_err err = {0};
	struct ups u = {0};
	const char *x =
		"<ListMultipartUploadsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<Bucket>b</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>"
		"<NextKeyMarker>p/b%20c</NextKeyMarker><NextUploadIdMarker>id2</NextUploadIdMarker>"
		"<EncodingType>url</EncodingType><MaxUploads>2</MaxUploads><IsTruncated>true</IsTruncated>"
		"<Upload><Key>p/a%2Bb</Key><UploadId>id1</UploadId><Initiated>2010-11-10T20:48:33.000Z</Initiated>"
		"<StorageClass>STANDARD</StorageClass></Upload>"
		"<Upload><Key>p/b%20c</Key><UploadId>id2</UploadId><Initiated>2010-11-10T20:49:33.000Z</Initiated>"
		"</Upload></ListMultipartUploadsResult>";
	assert_int_equal(du_s3x_parse_uploads(x, strlen(x), &pg, &err), DU_OK);
	assert_true(pg.truncated);
	assert_string_equal(pg.next, "p/b c");
	assert_string_equal(pg.next2, "id2");
	du_s3x_each_upload(&pg, NULL, on_upload, &u);
	assert_int_equal(u.n, 2);
	assert_string_equal(u.keys[0], "p/a+b");
	assert_string_equal(u.ids[0], "id1");
	assert_int_equal(u.t[0], 1289422113);
	assert_string_equal(u.keys[1], "p/b c");
	memset(&u, 0, sizeof(u));
	du_s3x_each_upload(&pg, "p/b", on_upload, &u);
	assert_int_equal(u.n, 1);
	const char *noid = "<ListMultipartUploadsResult><Upload><Key>k</Key></Upload></ListMultipartUploadsResult>";
	assert_int_equal(du_s3x_parse_uploads(noid, strlen(noid), &pg, &err), DU_ERR_PARSE);
	du_s3x_page_release(&pg);
}

static void test_helpers(void **state)
{
	(void)state;
	char s[64];
	snprintf(s, sizeof(s), "a%%2Fb+c%%zz%%4");
	assert_int_equal(du_s3x_url_decode(s, strlen(s)), strlen("a/b c%zz%4"));
	assert_string_equal(s, "a/b c%zz%4");
	snprintf(s, sizeof(s), "%%00x");
	assert_int_equal(du_s3x_url_decode(s, strlen(s)), 2);
	assert_int_equal(s[0], 0);
	assert_int_equal(du_s3x_parse_time("2000-01-01T00:00:00.000Z"), 946684800);
	assert_int_equal(du_s3x_parse_time("garbage"), -1);
	assert_int_equal(du_s3x_parse_time("2000-13-01T00:00:00Z"), -1);
	snprintf(s, sizeof(s), "\"abc\"");
	du_s3x_unquote(s);
	assert_string_equal(s, "abc");
	snprintf(s, sizeof(s), "\"");
	du_s3x_unquote(s);
	assert_string_equal(s, "\"");
	assert_string_equal(du_s3_content_type("a/b.WAV"), "audio/wav");
	assert_string_equal(du_s3_content_type("x.jpeg"), "image/jpeg");
	assert_string_equal(du_s3_content_type("x.JPG"), "image/jpeg");
	assert_string_equal(du_s3_content_type("x.mp4"), "video/mp4");
	assert_string_equal(du_s3_content_type("x.mov"), "video/quicktime");
	assert_string_equal(du_s3_content_type("x.avi"), "video/x-msvideo");
	assert_string_equal(du_s3_content_type("x.wav/y"), "application/octet-stream");
	assert_string_equal(du_s3_content_type("noext"), "application/octet-stream");
}

static void test_sizes(void **state)
{
	(void)state;
	const uint64_t MiB = 1 << 20;
	assert_int_equal(du_s3_part_size(100 * MiB, 16 * MiB), 16 * MiB);
	assert_int_equal(du_s3_part_size(100 * MiB, 1 * MiB), 5 * MiB);         /* at least 5 MiB */
	assert_int_equal(du_s3_part_size(100 * MiB, 16 * MiB + 1), 17 * MiB);   /* whole MiB */
	/* 10,000 x 16 MiB = 156.25 GiB exactly fits; one byte more grows the part */
	assert_int_equal(du_s3_part_size(10000 * 16 * MiB, 16 * MiB), 16 * MiB);
	assert_int_equal(du_s3_part_size(10000 * 16 * MiB + 1, 16 * MiB), 17 * MiB);
	uint64_t five_tib = (uint64_t)5 << 40;
	uint64_t ps = du_s3_part_size(five_tib, 16 * MiB);
	assert_true(ps % MiB == 0);
	assert_true((five_tib + ps - 1) / ps <= 10000);
	assert_true(ps <= DU_S3_MAX_PUT);
	struct du_err err = {0};
	assert_int_equal(du_s3_check_size(five_tib, &err), DU_OK);
	assert_int_equal(du_s3_check_size(five_tib + 1, &err), DU_ERR_S3);
	assert_int_equal(err.retryable, 0);
	assert_non_null(strstr(err.msg, "5 TiB"));
}

static void check_url(const char *bucket, const char *region, const char *endpoint, int addressing,
		      const char *key, const char *query, const char *want_host, const char *want_url)
{
	struct du_s3_opts o = { .bucket = bucket, .region = region, .endpoint = endpoint, .addressing = addressing };
	struct du_s3 *s3;
	struct du_err err = {0};
	if (du_s3_new(&s3, &o, NULL, &err))
		fail_msg("du_s3_new: %s", err.msg);
	char *url = du_s3i_url(s3, key, query);
	assert_non_null(url);
	assert_string_equal(du_s3i_host(s3), want_host);
	assert_string_equal(url, want_url);
	free(url);
	du_s3_free(s3);
}

static void test_addressing(void **state)
{
	(void)state;
	/* AWS: virtual-hosted unless the bucket has a dot */
	check_url("my-bucket", "eu-west-1", NULL, DU_ADDR_AUTO, "a b/c+d.wav", NULL,
		  "my-bucket.s3.eu-west-1.amazonaws.com",
		  "https://my-bucket.s3.eu-west-1.amazonaws.com/a%20b/c%2Bd.wav");
	check_url("my.bucket", "eu-west-1", NULL, DU_ADDR_AUTO, "k", NULL,
		  "s3.eu-west-1.amazonaws.com", "https://s3.eu-west-1.amazonaws.com/my.bucket/k");
	check_url("my-bucket", "us-east-1", NULL, DU_ADDR_PATH, NULL, "list-type=2&prefix=a/b c&continuation-token=x+/y=",
		  "s3.us-east-1.amazonaws.com",
		  "https://s3.us-east-1.amazonaws.com/my-bucket?list-type=2&prefix=a%2Fb%20c&continuation-token=x%2B%2Fy%3D");
	check_url("my-bucket", NULL, NULL, DU_ADDR_AUTO, NULL, "uploads",
		  "my-bucket.s3.us-east-1.amazonaws.com", "https://my-bucket.s3.us-east-1.amazonaws.com/?uploads");
	/* custom endpoint: path-style, host with port, optional base path; forced virtual */
	check_url("du-test", "us-east-1", "http://127.0.0.1:9000", DU_ADDR_AUTO, "x/\xc3\xa9/../y", NULL,
		  "127.0.0.1:9000", "http://127.0.0.1:9000/du-test/x/%C3%A9/../y");
	check_url("du-test", "us-east-1", "https://minio.example:9000/s3/", DU_ADDR_AUTO, "k", "partNumber=1&uploadId=a~b",
		  "minio.example:9000", "https://minio.example:9000/s3/du-test/k?partNumber=1&uploadId=a~b");
	check_url("du-test", "us-east-1", "HTTPS://minio.example", DU_ADDR_VIRTUAL, "k//x", NULL,
		  "du-test.minio.example", "https://du-test.minio.example/k//x");
	check_url("du-test", "us-east-1", "http://[::1]:9000", DU_ADDR_AUTO, NULL, NULL,
		  "[::1]:9000", "http://[::1]:9000/du-test");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_url_encoded),
		cmocka_unit_test(test_list_raw),
		cmocka_unit_test(test_list_no_size),
		cmocka_unit_test(test_list_empty_page),
		cmocka_unit_test(test_list_garbage),
		cmocka_unit_test(test_error_body),
		cmocka_unit_test(test_complete),
		cmocka_unit_test(test_initiate),
		cmocka_unit_test(test_tagging),
		cmocka_unit_test(test_list_parts),
		cmocka_unit_test(test_list_uploads),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_addressing),
	};
	return cmocka_run_group_tests_name("s3_xml", tests, NULL, NULL);
}

/* s3_xml.c: S3's XML answers, read with libxml2's streaming reader (see s3_internal.h). */
#include "s3/s3_internal.h"
#include "du/strbuf.h"

#include <errno.h>
#include <inttypes.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/xmlreader.h>

#define MAX_DEPTH 8
#define NAME_MAX_LEN 48
#define TEXT_CAP (64 * 1024) /* no element of an S3 answer comes near this; keys are <= 3 KiB encoded */

enum kind { K_LIST, K_PARTS, K_UPLOADS, K_INITIATE, K_COMPLETE, K_ERROR, K_TAGGING };

static const char *const roots[] = {
	[K_LIST] = "ListBucketResult",
	[K_PARTS] = "ListPartsResult",
	[K_UPLOADS] = "ListMultipartUploadsResult",
	[K_INITIATE] = "InitiateMultipartUploadResult",
	[K_COMPLETE] = "CompleteMultipartUploadResult",
	[K_ERROR] = "Error",
	[K_TAGGING] = "Tagging",
};

/* the record element of each kind that has records, and its depth (a tag is in <TagSet>) */
static const char *const rec_names[] = {
	[K_LIST] = "Contents", [K_PARTS] = "Part", [K_UPLOADS] = "Upload", [K_TAGGING] = "Tag",
};


struct walk {
	enum kind kind;          /* what the root turned out to be */
	struct du_s3x_page *pg;
	struct du_s3x_error *e;
	char names[MAX_DEPTH][NAME_MAX_LEN];
	int depth;               /* depth of the element being read; root = 0 */
	struct du_strbuf text;   /* of the element being read */
	int rc;                  /* set by handlers on failure */
};

static bool is_rec(const struct walk *w, int depth, const char *name)
{
	int want = w->kind == K_TAGGING ? 2 : 1;
	return depth == want && w->kind < sizeof(rec_names) / sizeof(rec_names[0]) && rec_names[w->kind] &&
	       !strcmp(name, rec_names[w->kind]);
}

void du_s3x_page_reset(struct du_s3x_page *pg)
{
	free(pg->next);
	free(pg->next2);
	free(pg->etag);
	free(pg->upload_id);
	pg->next = pg->next2 = pg->etag = pg->upload_id = NULL;
	pg->truncated = false;
	pg->url_encoded = false;
	memset(&pg->error, 0, sizeof(pg->error));
	pg->nrecs = 0;
	du_strbuf_reset(&pg->arena);
	pg->in_rec = false;
}

void du_s3x_page_release(struct du_s3x_page *pg)
{
	du_s3x_page_reset(pg);
	free(pg->recs);
	du_strbuf_release(&pg->arena);
	memset(pg, 0, sizeof(*pg));
}

size_t du_s3x_url_decode(char *s, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (ch == '+') {
			ch = ' ';
		} else if (ch == '%' && i + 2 < len) {
			int hi = s[i + 1], lo = s[i + 2], v = 0;
			int ok = 1;
			for (int k = 0; k < 2; k++) {
				int c = k ? lo : hi;
				v <<= 4;
				if (c >= '0' && c <= '9') v |= c - '0';
				else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
				else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
				else ok = 0;
			}
			if (ok) {
				ch = (char)v;
				i += 2;
			}
		}
		s[o++] = ch;
	}
	s[o] = '\0';
	return o;
}

int64_t du_s3x_parse_time(const char *s)
{
	struct tm tm = {0};
	int n = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		   &tm.tm_min, &tm.tm_sec, &n) != 6)
		return -1;
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

void du_s3x_unquote(char *s)
{
	size_t n = strlen(s);
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		memmove(s, s + 1, n - 2);
		s[n - 2] = '\0';
	}
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

/* Append s (with NUL) to the arena; returns its offset or (size_t)-1. */
static size_t arena_put(struct du_s3x_page *pg, const char *s, size_t n)
{
	size_t off = pg->arena.len;
	du_strbuf_add(&pg->arena, s, n);
	du_strbuf_addc(&pg->arena, '\0');
	return pg->arena.oom ? (size_t)-1 : off;
}

static int push_rec(struct du_s3x_page *pg)
{
	if (!du_array_grow(&pg->recs, &pg->caprecs, pg->nrecs + 1, sizeof(*pg->recs)))
		return DU_ERR_NOMEM;
	pg->recs[pg->nrecs++] = pg->cur;
	return DU_OK;
}

static char *dup_text(const char *t, size_t n)
{
	char *s = malloc(n + 1);
	if (s) {
		memcpy(s, t, n);
		s[n] = '\0';
	}
	return s;
}

static void copy_field(char *dst, size_t dstsz, const char *t, size_t n)
{
	if (n >= dstsz)
		n = dstsz - 1;
	memcpy(dst, t, n);
	dst[n] = '\0';
}

static int set_str(struct walk *w, char **dst, const char *t, size_t n)
{
	free(*dst);
	*dst = dup_text(t, n);
	if (!*dst)
		return w->rc = DU_ERR_NOMEM;
	return DU_OK;
}

static bool is_true(const char *t)
{
	return !strcmp(t, "true");
}

/* An element at depth 1 of the root ended with text t. */
static int top_field(struct walk *w, const char *name, const char *t, size_t n)
{
	struct du_s3x_page *pg = w->pg;
	switch (w->kind) {
	case K_ERROR:
		if (!strcmp(name, "Code"))
			copy_field(w->e->code, sizeof(w->e->code), t, n);
		else if (!strcmp(name, "Message"))
			copy_field(w->e->message, sizeof(w->e->message), t, n);
		else if (!strcmp(name, "RequestId"))
			copy_field(w->e->request_id, sizeof(w->e->request_id), t, n);
		else if (!strcmp(name, "BucketName"))
			copy_field(w->e->bucket, sizeof(w->e->bucket), t, n);
		return DU_OK;
	case K_LIST:
		if (!strcmp(name, "NextContinuationToken"))
			return set_str(w, &pg->next, t, n);
		break;
	case K_PARTS:
		if (!strcmp(name, "NextPartNumberMarker"))
			return set_str(w, &pg->next, t, n);
		break;
	case K_UPLOADS:
		if (!strcmp(name, "NextKeyMarker"))
			return set_str(w, &pg->next, t, n);
		if (!strcmp(name, "NextUploadIdMarker"))
			return set_str(w, &pg->next2, t, n);
		break;
	case K_INITIATE:
		if (!strcmp(name, "UploadId"))
			return set_str(w, &pg->upload_id, t, n);
		return DU_OK;
	case K_TAGGING:
		return DU_OK;
	case K_COMPLETE:
		if (!strcmp(name, "ETag")) {
			if (set_str(w, &pg->etag, t, n))
				return w->rc;
			du_s3x_unquote(pg->etag);
		}
		return DU_OK;
	}
	if (!strcmp(name, "IsTruncated"))
		pg->truncated = is_true(t);
	else if (!strcmp(name, "EncodingType"))
		pg->url_encoded = !strcmp(t, "url");
	return DU_OK;
}

static int bad(struct walk *w)
{
	return w->rc = DU_ERR_PARSE;
}

/* A record's two strings: a tag's Key (a) and Value (b), an upload's Key (a) and UploadId (b). */
static int pair_field(struct walk *w, const char *name, const char *first, const char *second, const char *t,
		      size_t n)
{
	struct du_s3x_page *pg = w->pg;
	size_t off;
	if (strcmp(name, first) && strcmp(name, second))
		return DU_OK;
	if ((off = arena_put(pg, t, n)) == (size_t)-1)
		return w->rc = DU_ERR_NOMEM;
	if (!strcmp(name, first))
		pg->cur.a = off;
	else
		pg->cur.b = off;
	return DU_OK;
}

/* A field of a record (<Contents>, <Part>, <Upload>, <Tag>) ended. */
static int rec_field(struct walk *w, const char *name, const char *t, size_t n)
{
	struct du_s3x_page *pg = w->pg;
	struct du_s3x_rec *r = &pg->cur;
	size_t off;
	switch (w->kind) {
	case K_LIST:
		if (!strcmp(name, "Key") || !strcmp(name, "ETag")) {
			if ((off = arena_put(pg, t, n)) == (size_t)-1)
				return w->rc = DU_ERR_NOMEM;
			if (name[0] == 'K') {
				r->a = off;
			} else {
				r->b = off;
				du_s3x_unquote(pg->arena.buf + off);
			}
		} else if (!strcmp(name, "Size")) {
			if (parse_u64(t, &r->n))
				return bad(w);
			r->has_n = true;
		} else if (!strcmp(name, "LastModified")) {
			r->t = du_s3x_parse_time(t);
		}
		break;
	case K_PARTS:
		if (!strcmp(name, "ETag")) {
			if ((off = arena_put(pg, t, n)) == (size_t)-1)
				return w->rc = DU_ERR_NOMEM;
			r->a = off;
			du_s3x_unquote(pg->arena.buf + off);
		} else if (!strcmp(name, "Size")) {
			if (parse_u64(t, &r->n))
				return bad(w);
		} else if (!strcmp(name, "PartNumber")) {
			uint64_t v;
			if (parse_u64(t, &v) || v < 1 || v > DU_S3_MAX_PARTS)
				return bad(w);
			r->number = (int)v;
		}
		break;
	case K_TAGGING:
		return pair_field(w, name, "Key", "Value", t, n);
	case K_UPLOADS:
		if (!strcmp(name, "Initiated"))
			r->t = du_s3x_parse_time(t);
		return pair_field(w, name, "Key", "UploadId", t, n);
	default:
		break;
	}
	return DU_OK;
}

static void rec_begin(struct du_s3x_page *pg)
{
	/* offset (size_t)-1 marks a field that never came */
	pg->cur = (struct du_s3x_rec){ .a = (size_t)-1, .b = (size_t)-1, .t = -1 };
	pg->in_rec = true;
}

static int rec_end(struct walk *w)
{
	struct du_s3x_page *pg = w->pg;
	pg->in_rec = false;
	/* a record without its identifying field is malformed, not something to pass on */
	if (pg->cur.a == (size_t)-1)
		return bad(w);
	if (w->kind == K_PARTS && pg->cur.number == 0)
		return bad(w);
	if (w->kind == K_UPLOADS && pg->cur.b == (size_t)-1)
		return bad(w);
	if (push_rec(pg))
		return w->rc = DU_ERR_NOMEM;
	return DU_OK;
}

static int on_start(struct walk *w, const char *name)
{
	if (w->depth < MAX_DEPTH)
		snprintf(w->names[w->depth], NAME_MAX_LEN, "%s", name);
	if (is_rec(w, w->depth, name))
		rec_begin(w->pg);
	du_strbuf_reset(&w->text);
	return DU_OK;
}

static int on_end(struct walk *w)
{
	int d = w->depth;
	if (d >= MAX_DEPTH)
		return DU_OK;
	const char *name = w->names[d];
	int rc = DU_OK;
	if (is_rec(w, d, name))
		rc = rec_end(w);
	else if (d == 1)
		rc = top_field(w, name, w->text.buf, w->text.len);
	else if (d == (w->kind == K_TAGGING ? 3 : 2) && w->pg->in_rec)
		rc = rec_field(w, name, w->text.buf, w->text.len);
	du_strbuf_reset(&w->text);
	return rc;
}

static int add_text(struct walk *w, const char *t)
{
	size_t n = strlen(t);
	if (w->text.len + n + 1 > TEXT_CAP)
		return w->rc = DU_ERR_PARSE;
	du_strbuf_add(&w->text, t, n);
	return w->text.oom ? (w->rc = DU_ERR_NOMEM) : DU_OK;
}

static void quiet(void *arg, const char *msg, xmlParserSeverities sev, xmlTextReaderLocatorPtr loc)
{
	/* the library never prints: malformed documents are reported through du_err */
	(void)arg, (void)msg, (void)sev, (void)loc;
}

/* S3 answers "XResult"; moto 5 answers ListParts and CompleteMultipartUpload as "XResponse". */
static bool root_ok(const char *name, enum kind want)
{
	const char *r = roots[want];
	size_t rl = strlen(r), base = rl > 6 ? rl - 6 : 0;
	if (!strcmp(name, r))
		return true;
	return base && !strcmp(r + base, "Result") && !strncmp(name, r, base) && !strcmp(name + base, "Response");
}

static const char *kind_what(enum kind k)
{
	return roots[k];
}

/*
 * Read the whole document. want is the expected root; an <Error> root is accepted too and
 * fills e. Returns DU_OK, DU_ERR_S3 (error document), DU_ERR_PARSE or DU_ERR_NOMEM.
 */
static int walk(const char *buf, size_t len, enum kind want, struct du_s3x_page *pg,
		struct du_s3x_error *e, struct du_err *err)
{
	struct walk w = { .kind = want, .pg = pg, .e = e, .depth = -1 };
	int rc = DU_OK, r;
	bool root_seen = false, root_done = false;
	xmlTextReaderPtr rd = NULL;

	if (!buf || len == 0) {
		rc = du_err_set(err, DU_ERR_PARSE, "empty answer where %s was expected", kind_what(want));
		goto out;
	}
	if (len > INT32_MAX) {
		rc = du_err_set(err, DU_ERR_PARSE, "answer too large");
		goto out;
	}
	if (add_text(&w, "")) {
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
		goto out;
	}
	rd = xmlReaderForMemory(buf, (int)len, NULL, NULL,
				XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
				XML_PARSE_NOCDATA);
	if (!rd) {
		rc = du_err_set(err, DU_ERR_PARSE, "cannot parse the answer as XML");
		goto out;
	}
	xmlTextReaderSetErrorHandler(rd, quiet, NULL);
	while ((r = xmlTextReaderRead(rd)) == 1) {
		int type = xmlTextReaderNodeType(rd);
		if (type == XML_READER_TYPE_ELEMENT) {
			const char *name = (const char *)xmlTextReaderConstLocalName(rd);
			if (!name)
				name = "";
			w.depth = xmlTextReaderDepth(rd);
			if (w.depth == 0) {
				if (root_seen) {
					rc = du_err_set(err, DU_ERR_PARSE, "more than one root element");
					goto out;
				}
				root_seen = true;
				if (!strcmp(name, "Error")) {
					w.kind = K_ERROR;
				} else if (!root_ok(name, want)) {
					rc = du_err_set(err, DU_ERR_PARSE, "unexpected answer <%.40s> where %s was expected",
							name, kind_what(want));
					goto out;
				}
			}
			on_start(&w, name);
			if (xmlTextReaderIsEmptyElement(rd)) {
				if (on_end(&w))
					break;
				if (w.depth == 0)
					root_done = true;
			}
		} else if (type == XML_READER_TYPE_END_ELEMENT) {
			w.depth = xmlTextReaderDepth(rd);
			if (on_end(&w))
				break;
			if (w.depth == 0)
				root_done = true;
		} else if (type == XML_READER_TYPE_TEXT || type == XML_READER_TYPE_CDATA ||
			   type == XML_READER_TYPE_WHITESPACE ||
			   type == XML_READER_TYPE_SIGNIFICANT_WHITESPACE) {
			const char *v = (const char *)xmlTextReaderConstValue(rd);
			if (v && add_text(&w, v))
				break;
		}
	}
	if (w.rc == DU_ERR_NOMEM) {
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory parsing %s", kind_what(want));
		goto out;
	}
	if (w.rc) {
		rc = du_err_set(err, DU_ERR_PARSE, "malformed %s answer", kind_what(want));
		goto out;
	}
	if (r != 0 || !root_done) {
		rc = du_err_set(err, DU_ERR_PARSE, "malformed or truncated XML where %s was expected",
				kind_what(want));
		goto out;
	}
	if (w.kind == K_ERROR) {
		if (!e->code[0]) {
			rc = du_err_set(err, DU_ERR_PARSE, "error answer without a code");
			goto out;
		}
		rc = DU_ERR_S3;
	}
out:
	xmlFreeTextReader(rd);
	du_strbuf_release(&w.text);
	return rc;
}

static int parse_page(const char *buf, size_t len, enum kind k, struct du_s3x_page *pg,
		      struct du_err *err)
{
	du_s3x_page_reset(pg);
	int rc = walk(buf, len, k, pg, &pg->error, err);
	if (rc == DU_ERR_S3) {
		/* caller maps the code; keep err consistent anyway */
		du_err_set(err, DU_ERR_S3, "%s: %s", pg->error.code, pg->error.message);
	} else if (rc) {
		pg->nrecs = 0; /* nothing of a broken page is passed on */
	}
	return rc;
}

int du_s3x_parse_list(const char *buf, size_t len, struct du_s3x_page *pg, struct du_err *err)
{
	int rc = parse_page(buf, len, K_LIST, pg, err);
	if (rc)
		return rc;
	if (pg->truncated && (!pg->next || !pg->next[0])) {
		pg->nrecs = 0;
		return du_err_set(err, DU_ERR_PARSE, "truncated listing without a continuation token");
	}
	/* decode keys in place: decoding only shortens, so offsets stay valid */
	if (pg->url_encoded)
		for (size_t i = 0; i < pg->nrecs; i++) {
			char *k = pg->arena.buf + pg->recs[i].a;
			du_s3x_url_decode(k, strlen(k));
		}
	return DU_OK;
}

int du_s3x_parse_parts(const char *buf, size_t len, struct du_s3x_page *pg, struct du_err *err)
{
	int rc = parse_page(buf, len, K_PARTS, pg, err);
	if (rc)
		return rc;
	if (pg->truncated && (!pg->next || !pg->next[0])) {
		pg->nrecs = 0;
		return du_err_set(err, DU_ERR_PARSE, "truncated part listing without a marker");
	}
	return DU_OK;
}

/*
 * Asked for encoding-type=url, an answer without <EncodingType> may still be encoded (Ceph RGW's
 * ListMultipartUploads) or not (moto ignores the parameter). Encoded keys hold only characters URL
 * encoding leaves alone and at least one %XX; a raw key that needed encoding holds a character
 * outside that set (a space, '&', a UTF-8 byte). Keys with neither read the same either way.
 */
static bool looks_url_encoded(const struct du_s3x_page *pg)
{
	static const char safe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~/%+*!'()";
	bool escape = false;
	for (size_t i = 0; i < pg->nrecs; i++) {
		const char *k = pg->arena.buf + pg->recs[i].a;
		if (k[strspn(k, safe)])
			return false;
		for (const char *p = strchr(k, '%'); p && !escape; p = strchr(p + 1, '%'))
			escape = isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2]);
	}
	return escape;
}

int du_s3x_parse_uploads(const char *buf, size_t len, struct du_s3x_page *pg, struct du_err *err)
{
	int rc = parse_page(buf, len, K_UPLOADS, pg, err);
	if (rc)
		return rc;
	if (pg->truncated && (!pg->next || !pg->next[0])) {
		pg->nrecs = 0;
		return du_err_set(err, DU_ERR_PARSE, "truncated upload listing without a marker");
	}
	/* Decoded once, here: whether or not the answer repeats the encoding we asked for. */
	if (pg->url_encoded || (pg->decode_asked && looks_url_encoded(pg))) {
		for (size_t i = 0; i < pg->nrecs; i++) {
			char *k = pg->arena.buf + pg->recs[i].a;
			du_s3x_url_decode(k, strlen(k));
		}
		if (pg->next)
			du_s3x_url_decode(pg->next, strlen(pg->next));
	}
	return DU_OK;
}

int du_s3x_parse_initiate(const char *buf, size_t len, struct du_s3x_page *pg, struct du_err *err)
{
	int rc = parse_page(buf, len, K_INITIATE, pg, err);
	if (rc)
		return rc;
	if (!pg->upload_id || !pg->upload_id[0])
		return du_err_set(err, DU_ERR_PARSE, "multipart upload created without an upload id");
	return DU_OK;
}

int du_s3x_parse_tagging(const char *buf, size_t len, struct du_s3x_page *pg, struct du_err *err)
{
	return parse_page(buf, len, K_TAGGING, pg, err);
}

int du_s3x_parse_complete(const char *buf, size_t len, struct du_s3x_page *pg, struct du_err *err)
{
	int rc = parse_page(buf, len, K_COMPLETE, pg, err);
	if (rc)
		return rc;
	if (!pg->etag || !pg->etag[0])
		return du_err_set(err, DU_ERR_PARSE, "multipart upload completed without an etag");
	return DU_OK;
}

int du_s3x_parse_error(const char *buf, size_t len, struct du_s3x_error *e)
{
	struct du_s3x_page pg = {0};
	memset(e, 0, sizeof(*e));
	int rc = walk(buf, len, K_ERROR, &pg, e, NULL);
	du_s3x_page_release(&pg);
	return rc == DU_ERR_S3 ? DU_OK : DU_ERR_PARSE;
}

static bool has_prefix(const char *s, const char *p)
{
	return !p || !strncmp(s, p, strlen(p));
}

int du_s3x_each_object(const struct du_s3x_page *pg, const char *only_prefix,
		       int (*cb)(void *arg, const struct du_s3_object *o), void *arg)
{
	for (size_t i = 0; i < pg->nrecs; i++) {
		const struct du_s3x_rec *r = &pg->recs[i];
		struct du_s3_object o = {
			.key = pg->arena.buf + r->a,
			.size = r->n,
			.etag = r->b == (size_t)-1 ? "" : pg->arena.buf + r->b,
			.mtime = r->t,
			.has_size = r->has_n,
		};
		if (!has_prefix(o.key, only_prefix))
			continue;
		int rc = cb(arg, &o);
		if (rc)
			return rc;
	}
	return 0;
}

int du_s3x_each_part(const struct du_s3x_page *pg,
		     int (*cb)(void *arg, int number, uint64_t size, const char *etag), void *arg)
{
	for (size_t i = 0; i < pg->nrecs; i++) {
		const struct du_s3x_rec *r = &pg->recs[i];
		int rc = cb(arg, r->number, r->n, pg->arena.buf + r->a);
		if (rc)
			return rc;
	}
	return 0;
}

int du_s3x_each_upload(const struct du_s3x_page *pg, const char *only_prefix,
		       int (*cb)(void *arg, const char *key, const char *upload_id, int64_t initiated),
		       void *arg)
{
	for (size_t i = 0; i < pg->nrecs; i++) {
		const struct du_s3x_rec *r = &pg->recs[i];
		const char *key = pg->arena.buf + r->a;
		if (!has_prefix(key, only_prefix))
			continue;
		int rc = cb(arg, key, pg->arena.buf + r->b, r->t);
		if (rc)
			return rc;
	}
	return 0;
}

int du_s3x_each_tag(const struct du_s3x_page *pg, int (*cb)(void *arg, const char *key, const char *value),
		    void *arg)
{
	for (size_t i = 0; i < pg->nrecs; i++) {
		const struct du_s3x_rec *r = &pg->recs[i];
		int rc = cb(arg, pg->arena.buf + r->a, r->b == (size_t)-1 ? "" : pg->arena.buf + r->b);
		if (rc)
			return rc;
	}
	return 0;
}

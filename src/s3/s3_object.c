/* s3_object.c: bucket and object operations: HeadBucket, listings, HEAD, PUT with its checksum
 * and ETag checks, GET, DELETE (see s3.h). */
#include "s3/s3_request.h"

/* ---- operations ---- */

static int head_bucket_no_body(struct du_s3_conn *c, const struct rq *q, struct du_err *err)
{
	struct du_s3 *s3 = c->s3;
	int rc;
	if (c->r.status == 404) {
		rc = du_err_set(err, DU_ERR_S3, "bucket '%s' does not exist (NoSuchBucket)", s3->bucket);
		snprintf(err->s3_code, sizeof(err->s3_code), "NoSuchBucket");
	} else if (c->r.status == 403) {
		rc = du_err_set(err, DU_ERR_S3_AUTH, "access denied to bucket '%s'", s3->bucket);
		snprintf(err->s3_code, sizeof(err->s3_code), "AccessDenied");
		du_err_hint(err, "check the credentials and the bucket policy");
	} else {
		return du_s3r_s3_error(c, q, NULL, err);
	}
	err->http_status = c->r.status;
	snprintf(err->request_id, sizeof(err->request_id), "%s", c->r.request_id);
	if (c->r.status == 404)
		du_err_hint(err, "check bucket_name and the endpoint");
	return rc;
}

int du_s3_head_bucket(struct du_s3_conn *c, struct du_err *err)
{
	struct rq q = { .method = "HEAD", .op = "HEAD", .no_body = head_bucket_no_body };
	return du_s3r_perform(c, &q, err);
}

/*
 * Append name=value to a query that is sent and signed as encoded (rq.query_encoded): the value is
 * RFC 3986-encoded here, so it may hold any byte (a continuation token, a marker, a prefix with
 * '&'). Names are du's own and plain. A failure is latched in qs->oom.
 */
void du_s3r_qadd(struct du_strbuf *qs, const char *name, const char *raw)
{
	char *value = raw ? du_sigv4_uri_encode(raw, strlen(raw), 0) : NULL;
	if (raw && !value) {
		qs->oom = true;
		return;
	}
	du_strbuf_addf(qs, "%s%s%s%s", qs->len ? "&" : "", name, value ? "=" : "", value ? value : "");
	free(value);
}

int du_s3r_page_error(struct du_s3_conn *c, const struct rq *q, int rc, struct du_err *err)
{
	if (rc == DU_ERR_S3)
		return du_s3r_s3_error(c, q, &c->pg.error, err);
	/* An answer that is not a listing is the store's trouble, like an error answer (exit 5). */
	if (rc == DU_ERR_PARSE)
		rc = err->code = DU_ERR_S3;
	return rc;
}

/*
 * One paginated listing (objects, multipart uploads, parts): du_s3r_list_pages() is the loop, and each
 * kind says how to ask for the next page, how to read one, and what a page hands on.
 */

int du_s3r_list_pages(struct du_s3_conn *c, struct pager *p, struct du_err *err)
{
	struct du_strbuf qs = DU_STRBUF_INIT;
	int rc;
	for (;;) {
		du_strbuf_reset(&qs);
		p->ask(p, &qs);
		if (qs.oom) {
			rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
			break;
		}
		struct rq q = { .method = "GET", .op = p->op, .key = p->key, .query = du_strbuf_str(&qs),
				.query_encoded = p->query_encoded, .resp_max = LIST_CAP };
		if ((rc = du_s3r_perform(c, &q, err)))
			break;
		c->pg.decode_asked = p->decode_asked;
		rc = p->parse(c->r.body.sb.buf, c->r.body.sb.len, &c->pg, err);
		c->pg.decode_asked = false;
		if (rc) {
			rc = du_s3r_page_error(c, &q, rc, err);
			break;
		}
		if ((rc = p->deliver(p, &c->pg)))
			break; /* the callback's own value; err untouched */
		if (!c->pg.truncated || (rc = p->advance(p, &c->pg, err)))
			break;
	}
	du_strbuf_release(&qs);
	return rc;
}

struct object_pager {
	struct pager p;                  /* first: the loop's view */
	const char *prefix;
	char *token;                     /* NextContinuationToken */
	char maxkeys[16];
	int (*cb)(void *arg, const struct du_s3_object *o);
	void *arg;
};

static void objects_ask(struct pager *p, struct du_strbuf *qs)
{
	struct object_pager *op = (struct object_pager *)p;
	/* The token is opaque (RGW's is the raw last key): any byte, encoded by qadd. */
	if (op->token)
		du_s3r_qadd(qs, "continuation-token", op->token);
	du_s3r_qadd(qs, "encoding-type", "url");
	du_s3r_qadd(qs, "list-type", "2");
	du_s3r_qadd(qs, "max-keys", op->maxkeys);
	if (!du_s3r_empty(op->prefix))
		du_s3r_qadd(qs, "prefix", op->prefix);
}

static int objects_deliver(struct pager *p, const struct du_s3x_page *pg)
{
	struct object_pager *op = (struct object_pager *)p;
	return du_s3x_each_object(pg, NULL, op->cb, op->arg);
}

static int objects_advance(struct pager *p, struct du_s3x_page *pg, struct du_err *err)
{
	struct object_pager *op = (struct object_pager *)p;
	(void)err;
	free(op->token);
	op->token = pg->next;
	pg->next = NULL;
	return DU_OK;
}

int du_s3_list(struct du_s3_conn *c, const char *prefix,
	       int (*cb)(void *arg, const struct du_s3_object *o), void *arg, struct du_err *err)
{
	struct object_pager op = {
		.p = { .op = "LIST", .query_encoded = true, .ask = objects_ask, .parse = du_s3x_parse_list,
		       .deliver = objects_deliver, .advance = objects_advance },
		.prefix = prefix, .cb = cb, .arg = arg,
	};
	snprintf(op.maxkeys, sizeof(op.maxkeys), "%d", c->s3->o.list_page_size);
	int rc = du_s3r_list_pages(c, &op.p, err);
	free(op.token);
	return rc;
}

static int head_object_no_body(struct du_s3_conn *c, const struct rq *q, struct du_err *err)
{
	if (c->r.status == 404) {
		int rc = du_err_set(err, DU_ERR_NOTFOUND, "object '%s' does not exist", q->key);
		err->http_status = 404;
		snprintf(err->s3_code, sizeof(err->s3_code), "NoSuchKey");
		snprintf(err->request_id, sizeof(err->request_id), "%s", c->r.request_id);
		return rc;
	}
	return du_s3r_s3_error(c, q, NULL, err);
}

int du_s3_head_object(struct du_s3_conn *c, const char *key, struct du_s3_object_info *out,
		      struct du_err *err)
{
	struct rq q = { .method = "HEAD", .op = "HEAD", .key = key, .no_body = head_object_no_body,
			.amz = { { "x-amz-checksum-mode", "ENABLED" } }, .namz = 1 };
	int rc = du_s3r_perform(c, &q, err);
	if (rc)
		return rc;
	memset(out, 0, sizeof(*out));
	snprintf(out->checksum_alg, sizeof(out->checksum_alg), "%s", c->r.ck_alg);
	snprintf(out->checksum, sizeof(out->checksum), "%s", c->r.ck_val);
	snprintf(out->checksum_type, sizeof(out->checksum_type), "%s", c->r.ck_type);
	out->size = c->r.content_length;
	snprintf(out->etag, sizeof(out->etag), "%s", c->r.etag);
	snprintf(out->md5_hex, sizeof(out->md5_hex), "%s", c->r.meta_md5);
	out->du_mtime = c->r.meta_mtime;
	out->has_du_mtime = c->r.has_meta_mtime;
	return DU_OK;
}

const char *du_s3_content_type(const char *key)
{
	static const char *const map[][2] = {
		{ "wav", "audio/wav" }, { "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" },
		{ "mp4", "video/mp4" }, { "mov", "video/quicktime" }, { "avi", "video/x-msvideo" },
	};
	const char *dot = key ? strrchr(key, '.') : NULL;
	if (dot && !strchr(dot, '/'))
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (!strcasecmp(dot + 1, map[i][0]))
				return map[i][1];
	return "application/octet-stream";
}

/* x-amz-* headers describing a new object, shared by PUT and CreateMultipartUpload: du's md5 and
 * mtime, encryption, storage class, the caller's metadata and tags (p may be NULL). */
void du_s3r_object_headers(struct du_s3 *s3, struct rq *q, const char *md5hex, const char *mtime,
			   const struct du_s3_put *p)
{
	if (md5hex) {
		q->amz[q->namz][0] = "x-amz-meta-du-md5";
		q->amz[q->namz++][1] = md5hex;
	}
	if (mtime) {
		q->amz[q->namz][0] = "x-amz-meta-du-mtime";
		q->amz[q->namz++][1] = mtime;
	}
	if (s3->sse) {
		q->amz[q->namz][0] = "x-amz-server-side-encryption";
		q->amz[q->namz++][1] = s3->sse;
		if (s3->kms && s3->sse_kms_key_id) {
			q->amz[q->namz][0] = "x-amz-server-side-encryption-aws-kms-key-id";
			q->amz[q->namz++][1] = s3->sse_kms_key_id;
		}
	}
	if (s3->storage_class) {
		q->amz[q->namz][0] = "x-amz-storage-class";
		q->amz[q->namz++][1] = s3->storage_class;
	}
	if (p && p->tagging && p->tagging[0]) {
		q->amz[q->namz][0] = "x-amz-tagging";
		q->amz[q->namz++][1] = p->tagging;
	}
	if (p) {
		q->meta = p->meta;
		q->nmeta = p->nmeta;
	}
}

bool du_s3r_sends_checksum(int alg)
{
	return du_cksum_is_crc(alg) || alg == DU_CK_SHA256;
}

/* x-amz-checksum-<alg> of a PUT or part; x-amz-sdk-checksum-algorithm too, as the AWS SDKs send
 * it (moto stores and echoes the value only with it). hname must outlive the request. */
void du_s3r_checksum_headers(struct rq *q, int alg, const char *b64, char hname[40])
{
	snprintf(hname, 40, "x-amz-checksum-%s", du_cksum_name(alg));
	q->amz[q->namz][0] = hname;
	q->amz[q->namz++][1] = b64;
	q->amz[q->namz][0] = "x-amz-sdk-checksum-algorithm";
	q->amz[q->namz++][1] = du_cksum_upper(alg);
}

/* A server that verified the checksum echoes it; one that echoes another value refused it in all
 * but name. Absent: the server ignored it (du_s3_checksum_echoed says so). */
int du_s3r_check_echo(struct du_s3_conn *c, const char *op, const char *key, int alg, const char *b64,
		      struct du_err *err)
{
	c->ck_echoed = false;
	if (!c->r.ck_alg[0] || strcmp(c->r.ck_alg, du_cksum_name(alg)))
		return DU_OK;
	if (strcmp(c->r.ck_val, b64)) {
		du_err_set(err, DU_ERR_S3, "%s '%s': checksum mismatch (sent %s %s, got %.60s)", op, key,
			   du_cksum_name(alg), b64, c->r.ck_val);
		snprintf(err->request_id, sizeof(err->request_id), "%s", c->r.request_id);
		err->http_status = c->r.status;
		err->retryable = 1;
		return DU_ERR_S3;
	}
	c->ck_echoed = true;
	return DU_OK;
}

bool du_s3_checksum_echoed(const struct du_s3_conn *c)
{
	return c->ck_echoed;
}

/* The ETag of a PUT must be the body's MD5 unless SSE-KMS makes it opaque. */
int du_s3r_check_etag(struct du_s3_conn *c, const char *op, const char *key, const char *md5hex,
		      struct du_err *err)
{
	if (c->s3->kms)
		return DU_OK;
	if (!c->r.etag[0]) {
		du_err_set(err, DU_ERR_S3, "%s '%s': no etag in the answer", op, key);
		err->retryable = 1;
		return DU_ERR_S3;
	}
	if (strcasecmp(c->r.etag, md5hex)) {
		du_err_set(err, DU_ERR_S3, "%s '%s': etag mismatch (sent md5 %s, got etag %.64s)", op, key, md5hex,
			   c->r.etag);
		snprintf(err->request_id, sizeof(err->request_id), "%s", c->r.request_id);
		err->http_status = c->r.status;
		err->retryable = 1;
		return DU_ERR_S3;
	}
	return DU_OK;
}

int du_s3_put_object(struct du_s3_conn *c, const char *key, const void *buf, size_t len,
		     const struct du_s3_put *p, char etag_out[DU_S3_ETAG_MAX], struct du_err *err)
{
	char md5hex[DU_MD5_HEX_LEN], md5b64[DU_MD5_B64_LEN], mt[24], hname[40];
	if ((uint64_t)len > DU_S3_MAX_PUT)
		return du_err_set(err, DU_ERR_S3, "PUT '%s': %zu bytes is over the 5 GiB single-PUT limit", key, len);
	bool ck = p && du_s3r_sends_checksum(p->checksum_alg);
	if (!p || (!p->md5 && !ck && p->checksum_alg != DU_CK_NONE) || (ck && !p->checksum_b64))
		return du_err_set(err, DU_ERR_INTERNAL, "PUT '%s': no checksum given", key);
	if (p->md5) {
		du_hex(p->md5, DU_MD5_LEN, md5hex);
		du_base64(p->md5, DU_MD5_LEN, md5b64, sizeof(md5b64));
	}
	if (p->mtime)
		snprintf(mt, sizeof(mt), "%" PRId64, p->mtime);
	struct rq q = {
		.method = "PUT", .op = "PUT", .key = key, .body = buf, .len = len,
		.md5_b64 = p->md5 && !ck ? md5b64 : NULL,
		.content_type = p->content_type ? p->content_type : du_s3_content_type(key),
	};
	du_s3r_object_headers(c->s3, &q, p->md5 ? md5hex : NULL, p->mtime ? mt : NULL, p);
	if (ck)
		du_s3r_checksum_headers(&q, p->checksum_alg, p->checksum_b64, hname);
	c->ck_echoed = false;
	int rc = du_s3r_perform(c, &q, err);
	if (!rc && p->md5)
		rc = du_s3r_check_etag(c, "PUT", key, md5hex, err);
	if (!rc && ck)
		rc = du_s3r_check_echo(c, "PUT", key, p->checksum_alg, p->checksum_b64, err);
	if (!rc && etag_out)
		snprintf(etag_out, DU_S3_ETAG_MAX, "%s", c->r.etag);
	return rc;
}

int du_s3_get_object(struct du_s3_conn *c, const char *key, size_t max, void **buf, size_t *len,
		     struct du_err *err)
{
	struct rq q = { .method = "GET", .op = "GET", .key = key, .resp_max = max ? max : 1 };
	int rc = du_s3r_perform(c, &q, err);
	if (rc)
		return rc;
	size_t n = c->r.body.sb.len;
	char *b = du_strbuf_detach(&c->r.body.sb); /* handed over */
	if (!b)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	*buf = b;
	*len = n;
	return DU_OK;
}

int du_s3_delete_object(struct du_s3_conn *c, const char *key, struct du_err *err)
{
	struct rq q = { .method = "DELETE", .op = "DELETE", .key = key };
	return du_s3r_perform(c, &q, err);
}

/* ---- object tags ---- */

static int check_tagging(struct du_s3_conn *c, const struct rq *q, struct du_err *err)
{
	if (c->r.body.sb.len == 0) {
		/* Ceph RGW 16 answers 200 with no body for an object without tags: none. */
		du_s3x_page_reset(&c->pg);
		return DU_OK;
	}
	int rc = du_s3x_parse_tagging(c->r.body.sb.buf, c->r.body.sb.len, &c->pg, err);
	return rc ? du_s3r_page_error(c, q, rc, err) : DU_OK;
}

int du_s3_get_tagging(struct du_s3_conn *c, const char *key,
		      int (*cb)(void *arg, const char *key, const char *value), void *arg, struct du_err *err)
{
	struct rq q = { .method = "GET", .op = "GET-TAGGING", .key = key, .query = "tagging",
			.check = check_tagging };
	int rc = du_s3r_perform(c, &q, err);
	return rc ? rc : du_s3x_each_tag(&c->pg, cb, arg);
}

void du_s3r_xml_text(struct du_strbuf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '&': du_strbuf_adds(b, "&amp;"); break;
		case '<': du_strbuf_adds(b, "&lt;"); break;
		case '>': du_strbuf_adds(b, "&gt;"); break;
		case '"': du_strbuf_adds(b, "&quot;"); break;
		default: du_strbuf_addc(b, s[i]);
		}
	}
}

int du_s3_put_tagging(struct du_s3_conn *c, const char *key, char *const *tags, struct du_err *err)
{
	struct du_strbuf b = DU_STRBUF_INIT;
	unsigned char md5[DU_MD5_LEN];
	char md5b64[DU_MD5_B64_LEN];
	du_strbuf_adds(&b, "<Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><TagSet>");
	for (; tags && *tags; tags++) {
		const char *eq = strchr(*tags, '=');
		size_t kl = eq ? (size_t)(eq - *tags) : strlen(*tags);
		du_strbuf_adds(&b, "<Tag><Key>");
		du_s3r_xml_text(&b, *tags, kl);
		du_strbuf_adds(&b, "</Key><Value>");
		if (eq)
			du_s3r_xml_text(&b, eq + 1, strlen(eq + 1));
		du_strbuf_adds(&b, "</Value></Tag>");
	}
	du_strbuf_adds(&b, "</TagSet></Tagging>");
	if (b.oom) {
		du_strbuf_release(&b);
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	}
	du_md5(b.buf, b.len, md5);
	du_base64(md5, DU_MD5_LEN, md5b64, sizeof(md5b64));
	struct rq q = { .method = "PUT", .op = "PUT-TAGGING", .key = key, .query = "tagging",
			.body = b.buf, .len = b.len, .md5_b64 = md5b64, .content_type = "application/xml" };
	int rc = du_s3r_perform(c, &q, err);
	du_strbuf_release(&b);
	return rc;
}

/* The tags read back against the wanted "k=v" list: every one read is wanted, as many as wanted. */
struct tag_match {
	char *const *want;
	size_t seen;
	bool differ;
};

static int tag_seen(void *arg, const char *key, const char *value)
{
	struct tag_match *m = arg;
	size_t kl = strlen(key);
	bool found = false;
	for (char *const *t = m->want; t && *t && !found; t++)
		found = !strncmp(*t, key, kl) && (*t)[kl] == '=' && !strcmp(*t + kl + 1, value);
	m->seen++;
	m->differ |= !found;
	return 0;
}

int du_s3_tags_match(struct du_s3_conn *c, const char *key, char *const *tags, bool *same, struct du_err *err)
{
	struct tag_match m = { .want = tags };
	int rc = du_s3_get_tagging(c, key, tag_seen, &m, err);
	size_t n = 0;
	while (tags && tags[n])
		n++;
	*same = !rc && !m.differ && m.seen == n;
	return rc;
}

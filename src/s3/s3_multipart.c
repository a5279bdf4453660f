/* s3_multipart.c: multipart uploads: create, parts with their checksums, complete (and the
 * Complete already done), abort, ListParts, ListMultipartUploads; part sizes (see s3.h). */
#include "s3/s3_request.h"

/* ---- multipart ---- */

static int check_initiate(struct du_s3_conn *c, const struct rq *q, struct du_err *err)
{
	int rc = du_s3x_parse_initiate(c->r.body.sb.buf, c->r.body.sb.len, &c->pg, err);
	return rc ? du_s3r_page_error(c, q, rc, err) : DU_OK;
}

int du_s3_mpu_create(struct du_s3_conn *c, const char *key, const struct du_s3_put *p,
		     char **upload_id, struct du_err *err)
{
	char mt[24];
	bool has_mt = p && p->mtime;
	if (has_mt)
		snprintf(mt, sizeof(mt), "%" PRId64, p->mtime);
	struct rq q = {
		.method = "POST", .op = "CREATE-MULTIPART", .key = key, .query = "uploads",
		.content_type = p && p->content_type ? p->content_type : du_s3_content_type(key),
		.check = check_initiate,
	};
	du_s3r_object_headers(c->s3, &q, NULL, has_mt ? mt : NULL, p);
	if (p && du_s3r_sends_checksum(p->checksum_alg)) {
		q.amz[q.namz][0] = "x-amz-checksum-algorithm";
		q.amz[q.namz++][1] = du_cksum_upper(p->checksum_alg);
		q.amz[q.namz][0] = "x-amz-checksum-type";
		q.amz[q.namz++][1] = du_cksum_is_crc(p->checksum_alg) ? "FULL_OBJECT" : "COMPOSITE";
	}
	int rc = du_s3r_perform(c, &q, err);
	if (rc)
		return rc;
	*upload_id = c->pg.upload_id;
	c->pg.upload_id = NULL;
	return DU_OK;
}

static int check_upload_id(const char *op, const char *key, const char *upload_id, struct du_err *err)
{
	if (du_s3r_empty(upload_id) || strchr(upload_id, '&'))
		return du_err_set(err, DU_ERR_INTERNAL, "%s '%s': invalid upload id", op, key);
	return DU_OK;
}

int du_s3_mpu_part(struct du_s3_conn *c, const char *key, const char *upload_id, int part_number,
		   const void *buf, size_t len, const unsigned char md5[16],
		   char etag_out[DU_S3_ETAG_MAX], struct du_err *err)
{
	return du_s3_mpu_part_ck(c, key, upload_id, part_number, buf, len, md5, 0, NULL, etag_out, err);
}

int du_s3_mpu_part_ck(struct du_s3_conn *c, const char *key, const char *upload_id, int part_number,
		      const void *buf, size_t len, const unsigned char *md5, int alg, const char *b64,
		      char etag_out[DU_S3_ETAG_MAX], struct du_err *err)
{
	char md5hex[DU_MD5_HEX_LEN], md5b64[DU_MD5_B64_LEN], *qs = NULL, hname[40];
	bool ck = du_s3r_sends_checksum(alg) && b64;
	int rc;
	if (!md5 && !ck && alg != DU_CK_NONE)
		return du_err_set(err, DU_ERR_INTERNAL, "PUT-PART '%s': no checksum given", key);
	if ((rc = check_upload_id("PUT-PART", key, upload_id, err)))
		return rc;
	if (part_number < 1 || part_number > DU_S3_MAX_PARTS)
		return du_err_set(err, DU_ERR_INTERNAL, "PUT-PART '%s': part number %d out of range", key, part_number);
	if ((uint64_t)len > DU_S3_MAX_PUT)
		return du_err_set(err, DU_ERR_S3, "PUT-PART '%s': part of %zu bytes is over 5 GiB", key, len);
	if (md5) {
		du_hex(md5, DU_MD5_LEN, md5hex);
		du_base64(md5, DU_MD5_LEN, md5b64, sizeof(md5b64));
	}
	if (asprintf(&qs, "partNumber=%d&uploadId=%s", part_number, upload_id) < 0)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	struct rq q = {
		.method = "PUT", .op = "PUT-PART", .key = key, .query = qs, .body = buf, .len = len,
		.md5_b64 = md5 ? md5b64 : NULL,
	};
	if (ck)
		du_s3r_checksum_headers(&q, alg, b64, hname);
	c->ck_echoed = false;
	rc = du_s3r_perform(c, &q, err);
	free(qs);
	if (!rc && md5)
		rc = du_s3r_check_etag(c, "PUT-PART", key, md5hex, err);
	if (!rc && ck)
		rc = du_s3r_check_echo(c, "PUT-PART", key, alg, b64, err);
	if (!rc && etag_out)
		snprintf(etag_out, DU_S3_ETAG_MAX, "%s", c->r.etag);
	return rc;
}

static int check_complete(struct du_s3_conn *c, const struct rq *q, struct du_err *err)
{
	int rc = du_s3x_parse_complete(c->r.body.sb.buf, c->r.body.sb.len, &c->pg, err);
	if (rc == DU_ERR_S3) {
		/* 200 OK whose body is an <Error>: S3 failed after it had started answering */
		rc = du_s3r_s3_error(c, q, &c->pg.error, err);
		return rc;
	}
	return rc;
}

/* A retried Complete whose first try went through but whose answer was lost meets NoSuchUpload:
 * the object then exists with a multipart ETag ending in "-nparts". */
static bool completed_already(struct du_s3_conn *c, const char *key, int nparts, char etag_out[DU_S3_ETAG_MAX])
{
	struct du_s3_object_info info;
	struct du_err e = {0};
	char suffix[16];
	if (du_s3_head_object(c, key, &info, &e))
		return false;
	snprintf(suffix, sizeof(suffix), "-%d", nparts);
	size_t el = strlen(info.etag), sl = strlen(suffix);
	if (el <= sl || strcmp(info.etag + el - sl, suffix))
		return false;
	if (etag_out)
		snprintf(etag_out, DU_S3_ETAG_MAX, "%s", info.etag);
	return true;
}

int du_s3_mpu_complete(struct du_s3_conn *c, const char *key, const char *upload_id,
		       const struct du_s3_part *parts, int nparts, char etag_out[DU_S3_ETAG_MAX],
		       struct du_err *err)
{
	return du_s3_mpu_complete_ck(c, key, upload_id, parts, nparts, 0, NULL, etag_out, err);
}

int du_s3_mpu_complete_ck(struct du_s3_conn *c, const char *key, const char *upload_id,
			  const struct du_s3_part *parts, int nparts, int alg, const char *whole_b64,
			  char etag_out[DU_S3_ETAG_MAX], struct du_err *err)
{
	char *qs = NULL, hname[40];
	struct du_strbuf body = DU_STRBUF_INIT;
	bool ck = du_s3r_sends_checksum(alg);
	const char *up = du_cksum_upper(alg);
	int rc;
	if ((rc = check_upload_id("COMPLETE-MULTIPART", key, upload_id, err)))
		return rc;
	if (nparts < 1 || nparts > DU_S3_MAX_PARTS)
		return du_err_set(err, DU_ERR_INTERNAL, "COMPLETE-MULTIPART '%s': %d parts", key, nparts);
	du_strbuf_adds(&body, "<CompleteMultipartUpload>");
	for (int i = 0; i < nparts; i++) {
		const char *etag = parts[i].etag ? parts[i].etag : "";
		du_strbuf_addf(&body, "<Part><PartNumber>%d</PartNumber><ETag>&quot;", parts[i].number);
		du_s3r_xml_text(&body, etag, strlen(etag));
		du_strbuf_adds(&body, "&quot;</ETag>");
		if (ck && parts[i].checksum)
			du_strbuf_addf(&body, "<Checksum%s>%.60s</Checksum%s>", up, parts[i].checksum, up);
		du_strbuf_adds(&body, "</Part>");
	}
	du_strbuf_adds(&body, "</CompleteMultipartUpload>");
	if (body.oom || asprintf(&qs, "uploadId=%s", upload_id) < 0) {
		qs = NULL;
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
		goto out;
	}
	struct rq q = {
		.method = "POST", .op = "COMPLETE-MULTIPART", .key = key, .query = qs, .body = body.buf,
		.len = body.len, .content_type = "application/xml", .check = check_complete,
	};
	if (ck && whole_b64 && du_cksum_is_crc(alg)) {
		snprintf(hname, sizeof(hname), "x-amz-checksum-%s", du_cksum_name(alg));
		q.amz[q.namz][0] = hname;
		q.amz[q.namz++][1] = whole_b64;
		q.amz[q.namz][0] = "x-amz-checksum-type";
		q.amz[q.namz++][1] = "FULL_OBJECT";
	}
	rc = du_s3r_perform(c, &q, err);
	if (rc == DU_ERR_NOTFOUND && c->last_attempts > 1 && completed_already(c, key, nparts, etag_out)) {
		du_err_clear(err);
		rc = DU_OK;
		goto out;
	}
	if (!rc && etag_out)
		snprintf(etag_out, DU_S3_ETAG_MAX, "%s", c->pg.etag);
out:
	free(qs);
	du_strbuf_release(&body);
	return rc;
}

int du_s3_mpu_abort(struct du_s3_conn *c, const char *key, const char *upload_id, struct du_err *err)
{
	char *qs = NULL;
	int rc;
	if ((rc = check_upload_id("ABORT-MULTIPART", key, upload_id, err)))
		return rc;
	if (asprintf(&qs, "uploadId=%s", upload_id) < 0)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	struct rq q = { .method = "DELETE", .op = "ABORT-MULTIPART", .key = key, .query = qs };
	rc = du_s3r_perform(c, &q, err);
	free(qs);
	return rc;
}

struct part_pager {
	struct pager p;                  /* first: the loop's view */
	const char *upload_id;
	int page_size;
	char marker[16];                 /* NextPartNumberMarker, "" at first */
	int (*cb)(void *arg, int number, uint64_t size, const char *etag);
	void *arg;
};

static void parts_ask(struct pager *p, struct du_strbuf *qs)
{
	struct part_pager *pp = (struct part_pager *)p;
	du_strbuf_addf(qs, "max-parts=%d%s%s&uploadId=%s", pp->page_size,
		       pp->marker[0] ? "&part-number-marker=" : "", pp->marker, pp->upload_id);
}

static int parts_deliver(struct pager *p, const struct du_s3x_page *pg)
{
	struct part_pager *pp = (struct part_pager *)p;
	return du_s3x_each_part(pg, pp->cb, pp->arg);
}

static int parts_advance(struct pager *p, struct du_s3x_page *pg, struct du_err *err)
{
	struct part_pager *pp = (struct part_pager *)p;
	char *end;
	uint64_t next = strtoull(pg->next, &end, 10);
	if (*end || next < 1 || next >= DU_S3_MAX_PARTS ||
	    (pp->marker[0] && next <= strtoull(pp->marker, NULL, 10)))
		return du_err_set(err, DU_ERR_PARSE, "LIST-PARTS '%s': bad next part number marker", p->key);
	snprintf(pp->marker, sizeof(pp->marker), "%" PRIu64, next);
	return DU_OK;
}

int du_s3_mpu_list_parts(struct du_s3_conn *c, const char *key, const char *upload_id,
			 int (*cb)(void *arg, int number, uint64_t size, const char *etag), void *arg,
			 struct du_err *err)
{
	struct part_pager pp = {
		.p = { .op = "LIST-PARTS", .key = key, .ask = parts_ask, .parse = du_s3x_parse_parts,
		       .deliver = parts_deliver, .advance = parts_advance },
		.upload_id = upload_id, .page_size = c->s3->o.list_page_size, .cb = cb, .arg = arg,
	};
	int rc = check_upload_id("LIST-PARTS", key, upload_id, err);
	return rc ? rc : du_s3r_list_pages(c, &pp.p, err);
}

struct upload_pager {
	struct pager p;                  /* first: the loop's view */
	const char *prefix;
	char *key_marker, *id_marker;    /* NextKeyMarker, NextUploadIdMarker */
	char maxup[16];
	int (*cb)(void *arg, const char *key, const char *upload_id, int64_t initiated);
	void *arg;
};

static void uploads_ask(struct pager *p, struct du_strbuf *qs)
{
	struct upload_pager *up = (struct upload_pager *)p;
	du_s3r_qadd(qs, "encoding-type", "url");
	if (up->key_marker)
		du_s3r_qadd(qs, "key-marker", up->key_marker);
	du_s3r_qadd(qs, "max-uploads", up->maxup);
	if (!du_s3r_empty(up->prefix))
		du_s3r_qadd(qs, "prefix", up->prefix);
	if (up->id_marker)
		du_s3r_qadd(qs, "upload-id-marker", up->id_marker);
	du_s3r_qadd(qs, "uploads", NULL);
}

static int uploads_deliver(struct pager *p, const struct du_s3x_page *pg)
{
	struct upload_pager *up = (struct upload_pager *)p;
	return du_s3x_each_upload(pg, NULL, up->cb, up->arg);
}

static int uploads_advance(struct pager *p, struct du_s3x_page *pg, struct du_err *err)
{
	struct upload_pager *up = (struct upload_pager *)p;
	(void)err;
	free(up->key_marker);
	free(up->id_marker);
	up->key_marker = pg->next;
	up->id_marker = pg->next2;
	pg->next = pg->next2 = NULL;
	return DU_OK;
}

int du_s3_mpu_list_uploads(struct du_s3_conn *c, const char *prefix,
			   int (*cb)(void *arg, const char *key, const char *upload_id, int64_t initiated),
			   void *arg, struct du_err *err)
{
	/* RGW encodes as asked without saying so; moto does not encode: see looks_url_encoded. */
	struct upload_pager up = {
		.p = { .op = "LIST-UPLOADS", .query_encoded = true, .decode_asked = true, .ask = uploads_ask,
		       .parse = du_s3x_parse_uploads, .deliver = uploads_deliver, .advance = uploads_advance },
		.prefix = prefix, .cb = cb, .arg = arg,
	};
	snprintf(up.maxup, sizeof(up.maxup), "%d", c->s3->o.list_page_size);
	int rc = du_s3r_list_pages(c, &up.p, err);
	free(up.key_marker);
	free(up.id_marker);
	return rc;
}

uint64_t du_s3_part_size(uint64_t file_size, uint64_t chunk)
{
	const uint64_t mib = (uint64_t)1 << 20;
	if (chunk < DU_S3_MIN_PART)
		chunk = DU_S3_MIN_PART;
	chunk = (chunk + mib - 1) / mib * mib;
	if (file_size / chunk + (file_size % chunk != 0) > DU_S3_MAX_PARTS) {
		chunk = file_size / DU_S3_MAX_PARTS + (file_size % DU_S3_MAX_PARTS != 0);
		chunk = (chunk + mib - 1) / mib * mib;
	}
	if (chunk > DU_S3_MAX_PUT)
		chunk = DU_S3_MAX_PUT;
	return chunk;
}

int du_s3_check_size(uint64_t size, struct du_err *err)
{
	if (size > DU_S3_MAX_OBJECT) {
		du_err_set(err, DU_ERR_S3, "%" PRIu64 " bytes is over S3's 5 TiB object limit", size);
		err->retryable = 0;
		return DU_ERR_S3;
	}
	return DU_OK;
}

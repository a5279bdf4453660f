/* put.c: a file sent in one PUT (see engine.h). */
#include "engine/engine.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "du/checksum.h"
#include "du/crypto.h"
#include "du/filemap.h"
#include "du/metrics.h"
#include "du/suspect.h"

/* Single PUTs this big are sent from the file's mapped pages (du_fmap), as parts are. */
#define MAP_MIN ((size_t)1 << 20)

int du_put_small(struct worker *w, struct ufile *f, struct du_outcome *o, struct du_err *err)
{
	int fd, rc;
	struct stat st0, st1;
	unsigned char md5[DU_MD5_LEN];
	char b64[DU_CKSUM_B64_LEN];
	int alg = du_run_alg(w->r);
	struct du_fmap map = { 0 };
	const unsigned char *p;

	if ((rc = du_ufile_open(f->path, &fd, &st0, err)))
		return rc;
	size_t len = (size_t)st0.st_size;
	bool preread = f->preread && du_ufile_same(&st0, &f->pre_st);
	f->preread = false;          /* a retry reads again */
	/* A big one is sent from its mapped pages, as parts are: no file-sized buffer per worker. */
	if (!preread && len >= MAP_MIN && du_fmap_open(&map, fd, 0, len, &(struct du_err){ 0 }) == DU_OK)
		p = map.p;
	else if (!preread && ((rc = du_sbuf_ensure(&w->own, len ? len : 1, err)) || (rc = du_ufile_read(fd, w->own.p, len, 0, err))))
		goto out;
	else
		p = w->own.p;
	if (du_run_suspect(w->r, f, p, len < DU_SUSPECT_HEAD ? len : DU_SUSPECT_HEAD, len)) {
		rc = du_err_set(err, DU_ERR_PARSE, "suspect recording: %s", f->suspect);
		goto out;
	}
	du_objmeta_sensor_buf(w->r, f, p, len);
	struct objmeta meta;
	du_objmeta_headers(w->r, f, &meta);
again:
	if (alg == DU_CK_MD5 && preread)
		memcpy(md5, f->pre_md5, sizeof(md5));
	else if (alg == DU_CK_MD5)
		du_md5(p, len, md5);
	else if (alg != DU_CK_NONE)
		du_cksum_buf_b64(alg, p, len, b64);
	if (fstat(fd, &st1) < 0 || !du_ufile_same(&st0, &st1)) {
		rc = du_err_set(err, DU_ERR_CHANGED, "changed during upload");
		goto out;
	}
	struct du_s3_put put = { .md5 = alg == DU_CK_MD5 ? md5 : NULL, .checksum_alg = alg,
				 .checksum_b64 = b64, .mtime = st0.st_mtim.tv_sec };
	du_objmeta_put(w->r, &meta, &put);
	double t0 = du_metrics_now();
	rc = du_s3_put_object(w->conn, f->key, p, len, &put, o->etag, err);
	du_metrics_request(DU_METRIC_PUT, du_metrics_now() - t0);
	if (du_fmap_damaged(&map)) {
		rc = du_err_set(err, DU_ERR_CHANGED, "changed during upload (it shrank)");
		goto out;
	}
	if (rc)
		goto out;
	bool echoed = alg == DU_CK_MD5 || alg == DU_CK_NONE || du_s3_checksum_echoed(w->conn);
	if (echoed && alg != DU_CK_MD5 && alg != DU_CK_NONE)
		du_run_ck_echoed(w->r);
	if (!echoed && du_run_ck_not_echoed(w->r, alg, f->key)) {
		/* The server did not check the CRC, but its ETag is the MD5 of what it stored: equal to
		 * the body's, the body arrived whole and is not sent again. Otherwise (SSE-KMS, or a body
		 * damaged on the way) it goes again with Content-MD5, which the server checks. */
		alg = DU_CK_MD5;
		du_md5(p, len, md5);
		if (!du_etag_is_md5(o->etag, md5))
			goto again;
		__atomic_add_fetch(&w->r->st.etag_verified, 1, __ATOMIC_RELAXED);
		echoed = true;
	}
	/* The object is in S3; it is the file only if the file is still what we read. */
	if (fstat(fd, &st1) < 0 || !du_ufile_same(&st0, &st1)) {
		rc = du_err_set(err, DU_ERR_CHANGED, "changed during upload");
		goto out;
	}
	if ((rc = du_objmeta_tags_after(w, f->key, false, err)))
		goto out;
	o->id = f->id;
	o->status = DU_OUT_UPLOADED;
	o->size = len;
	o->mtime_ns = du_mtime_ns(&st0);
	if (alg == DU_CK_MD5) {
		du_hex(md5, DU_MD5_LEN, o->md5);
		du_outcome_ck(o, alg, o->md5, "FULL_OBJECT");
	} else if (alg != DU_CK_NONE && echoed) {
		du_outcome_ck(o, alg, b64, "FULL_OBJECT");
	}
out:
	du_fmap_close(&map);
	close(fd);
	return rc;
}

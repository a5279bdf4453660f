/*
 * A file sent in parts: its multipart upload started or continued (start), its parts queued for
 * every worker (queue), each part checksummed and sent or reused (part), and the last part to end
 * completes it. A part's bytes are the file's mapped pages, or a shared part buffer: see
 * struct run's bufs, under run.mu with cv_md5.
 */
#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "du/checksum.h"
#include "du/crypto.h"
#include "du/filemap.h"
#include "du/log.h"
#include "du/metrics.h"

static void part_fail(struct run *r, struct ufile *f, const struct du_err *e)
{
	pthread_mutex_lock(&r->mu);
	if (!f->failed) {
		f->failed = 1;
		f->ferr = *e;
		if (e->code == DU_ERR_CHANGED)
			f->changed = true;
	}
	pthread_cond_broadcast(&r->cv_md5);
	pthread_mutex_unlock(&r->mu);
}

static int mdb_call_start(struct run *r, struct ufile *f, struct du_err *err)
{
	double deadline = 0;
	int heal = 0;
	int rc;
	pthread_mutex_lock(&r->mmu);
	while ((rc = du_db_mpu_start(r->mdb, f->id, f->upload_id, f->part_size, err)) &&
	       du_run_db_heal(r->mdb, &deadline, &heal, "recording a multipart upload"))
		;
	pthread_mutex_unlock(&r->mmu);
	return rc;
}

static int mdb_call_part(struct run *r, struct ufile *f, const struct du_mpu_part *p, struct du_err *err)
{
	double deadline = 0;
	int heal = 0;
	int rc;
	pthread_mutex_lock(&r->mmu);
	while ((rc = du_db_mpu_part(r->mdb, f->id, p, err)) &&
	       du_run_db_heal(r->mdb, &deadline, &heal, "recording a part"))
		;
	pthread_mutex_unlock(&r->mmu);
	return rc;
}

struct server_parts {
	struct ufile *f;
	bool *seen;
};

static int server_part(void *arg, int number, uint64_t size, const char *etag)
{
	struct server_parts *sp = arg;
	for (int i = 0; i < sp->f->ndone; i++) {
		struct du_mpu_part *p = &sp->f->done[i];
		if (p->number == number && p->size == size && !strcmp(p->etag, etag))
			sp->seen[i] = true;
	}
	return 0;
}

/*
 * Before trusting the parts an earlier run recorded, ask the server which it holds (ListParts).
 * A recorded part the server does not confirm is sent again. Servers without ListParts (s3rver)
 * answer something other than NoSuchUpload: then the database's record stands.
 * Returns false when the upload itself is gone.
 */
static bool confirm_parts(struct worker *w, struct ufile *f)
{
	struct du_err e = { 0 };
	bool *seen = calloc(f->ndone ? f->ndone : 1, sizeof(*seen));
	struct server_parts sp = { f, seen };
	if (!seen)
		return true;
	int rc = du_s3_mpu_list_parts(w->conn, f->key, f->upload_id, server_part, &sp, &e);
	if (rc && !strcmp(e.s3_code, "NoSuchUpload")) {
		free(seen);
		return false;
	}
	if (rc == DU_OK) {
		int kept = 0;
		for (int i = 0; i < f->ndone; i++)
			if (seen[i])
				f->done[kept++] = f->done[i];
		if (kept < f->ndone)
			du_debug("'%s': %d recorded part(s) not on the server; sending them again", f->key,
				 f->ndone - kept);
		f->ndone = kept;
	} else {
		du_debug("'%s': cannot list parts (%s); trusting the recorded parts", f->key, e.msg);
	}
	free(seen);
	return true;
}

/* Parts an earlier run recorded can be reused only if they carry what this run's algorithm needs
 * (their checksum, or their md5) to check them and to compute the whole object's. */
static bool parts_fit(const struct ufile *f)
{
	for (int i = 0; i < f->ndone; i++) {
		const struct du_mpu_part *p = &f->done[i];
		if (f->ck_alg == DU_CK_MD5 ? !p->md5[0] : f->ck_alg != DU_CK_NONE && !p->checksum[0])
			return false;
	}
	return true;
}

/* What an earlier run recorded of f's multipart upload: its id and part size, its parts in f. */
static int load_recorded(struct run *r, struct ufile *f, char **prev, uint64_t *prev_size, struct du_err *err)
{
	double deadline = 0;
	int heal = 0;
	int rc;
	pthread_mutex_lock(&r->mmu);
	while ((rc = du_db_mpu_load(r->mdb, f->id, prev, prev_size, &f->done, &f->ndone, err)) &&
	       du_run_db_heal(r->mdb, &deadline, &heal, "reading multipart state"))
		;
	pthread_mutex_unlock(&r->mmu);
	return rc;
}

/*
 * Room for what each part leaves for Complete. No whole-file md5: the object's checksum comes
 * from the parts' (a combined CRC, or the md5 composite S3 itself computes), so each byte is
 * hashed once and parts go in any order.
 */
static int part_arrays(struct ufile *f, uint64_t ps, struct du_err *err)
{
	f->part_size = ps;
	f->nparts = (int)((f->size + ps - 1) / ps);
	if (f->nparts == 0)
		f->nparts = 1;
	f->etags = calloc(f->nparts, sizeof(*f->etags));
	f->crcs = calloc(f->nparts, sizeof(*f->crcs));
	f->cks = calloc(f->nparts, sizeof(*f->cks));
	f->pmd5 = calloc(f->nparts, sizeof(*f->pmd5));
	if (!f->etags || !f->crcs || !f->cks || !f->pmd5)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	f->parts_left = f->nparts;
	return DU_OK;
}

int du_multipart_start(struct worker *w, struct ufile *f, struct du_err *err)
{
	struct run *r = w->r;
	int fd, rc;
	char *prev = NULL;
	uint64_t prev_size = 0;

	if ((rc = du_ufile_open(f->path, &fd, &f->st0, err)))
		return rc;
	close(fd);
	f->size = (uint64_t)f->st0.st_size;
	f->mtime_ns = du_mtime_ns(&f->st0);
	if ((rc = du_s3_check_size(f->size, err)))
		return rc;
	uint64_t ps = du_s3_part_size(f->size, r->o->part_size);
	if ((rc = load_recorded(r, f, &prev, &prev_size, err)))
		return rc;
	f->ck_alg = du_run_alg(r);
	if (prev && prev_size == ps && parts_fit(f)) {
		f->upload_id = prev;   /* continue where an earlier run stopped */
		prev = NULL;
		if (!confirm_parts(w, f)) {
			prev = f->upload_id;
			f->upload_id = NULL;
		}
	}
	if (!f->upload_id) {
		if (prev) {
			/* The earlier upload has another part size or is gone: drop it. */
			du_s3_mpu_abort(w->conn, f->key, prev, NULL);
			free(prev);
			free(f->done);
			f->done = NULL;
			f->ndone = 0;
		}
		struct du_s3_put put = { .mtime = f->st0.st_mtim.tv_sec, .checksum_alg = f->ck_alg };
		struct objmeta meta;
		du_objmeta_headers(r, f, &meta);
		du_objmeta_put(r, &meta, &put);
		f->part_size = ps;
		if ((rc = du_s3_mpu_create(w->conn, f->key, &put, &f->upload_id, err)))
			return rc;
		if ((rc = mdb_call_start(r, f, err)))
			return rc;
	}
	return part_arrays(f, ps, err);
}

static const struct du_mpu_part *recorded_part(const struct ufile *f, int n)
{
	for (int i = 0; i < f->ndone; i++)
		if (f->done[i].number == n)
			return &f->done[i];
	return NULL;
}

/* An ETag S3 computes from the bytes: a hex md5, or a multipart one "hex-N". Others (SSE-KMS,
 * some stores) say nothing about the content. */
static bool md5_like(const char *etag)
{
	size_t n = strspn(etag, "0123456789abcdef");
	return n == 32 && (etag[32] == '\0' || (etag[32] == '-' && etag[33] && strspn(etag + 33, "0123456789") == strlen(etag + 33)));
}

/*
 * The object behind a Complete whose answer cannot be trusted, confirmed by HEAD: a continued
 * upload that the run that died may have completed (after S3 acknowledged it, before its row was
 * written), or a Complete answered 200 without an ETag or with an error body (Ceph RGW answers
 * its first Complete with an empty <ETag>). The object is ours if it has the file's size and the
 * multipart ETag of these parts or the whole file's md5 (servers differ), or an ETag that does
 * not describe content at all.
 */
static bool completed_earlier(struct worker *w, struct ufile *f, const unsigned char md5[DU_MD5_LEN],
			      char etag_out[128])
{
	struct du_s3_object_info info;
	unsigned char *cat = malloc((size_t)f->nparts * DU_MD5_LEN);
	char whole[DU_MD5_HEX_LEN], multi[DU_MD5_HEX_LEN + 16];
	unsigned char m[DU_MD5_LEN];
	bool ours = false;

	if (!cat)
		return false;
	for (int i = 0; i < f->nparts; i++)
		for (int b = 0; b < DU_MD5_LEN; b++)
			sscanf(f->etags[i] + 2 * b, "%2hhx", &cat[i * DU_MD5_LEN + b]);
	du_md5(cat, (size_t)f->nparts * DU_MD5_LEN, m);
	free(cat);
	du_hex(m, DU_MD5_LEN, multi);
	snprintf(multi + 32, sizeof(multi) - 32, "-%d", f->nparts);
	whole[0] = '\0';
	if (md5)
		du_hex(md5, DU_MD5_LEN, whole);
	if (du_s3_head_object(w->conn, f->key, &info, NULL) == DU_OK && info.size == f->size &&
	    (!strcmp(info.etag, multi) || (md5 && !strcmp(info.etag, whole)) || !md5_like(info.etag))) {
		snprintf(etag_out, 128, "%s", info.etag);
		ours = true;
	}
	return ours;
}

/* The whole object's checksum from its parts': the CRCs combined (FULL_OBJECT), and in md5 mode
 * S3's composite ETag, md5 of the parts' md5s + "-N". */
static void object_checksum(const struct ufile *f, char whole[DU_CKSUM_B64_LEN], char composite[DU_MD5_HEX_LEN + 8])
{
	if (du_cksum_is_crc(f->ck_alg)) {
		uint64_t acc = du_cksum_init(f->ck_alg);
		for (int i = 0; i < f->nparts; i++) {
			uint64_t off = (uint64_t)i * f->part_size;
			uint64_t len = off + f->part_size > f->size ? f->size - off : f->part_size;
			acc = du_cksum_combine(f->ck_alg, acc, f->crcs[i], len);
		}
		du_cksum_b64(f->ck_alg, acc, whole);
	}
	/* also after a fall back to Content-MD5, when every part was sent with its md5 */
	if (__atomic_load_n(&f->md5_parts, __ATOMIC_ACQUIRE) == f->nparts) {
		unsigned char m[DU_MD5_LEN];
		du_md5(f->pmd5, (size_t)f->nparts * DU_MD5_LEN, m);
		du_hex(m, DU_MD5_LEN, composite);
		snprintf(composite + 32, DU_MD5_HEX_LEN + 8 - 32, "-%d", f->nparts);
	}
}

/*
 * Complete the upload from its parts (whole, composite: the object's checksums, from them). A
 * Complete whose answer cannot be trusted counts when HEAD shows the object is ours.
 */
static int send_complete(struct worker *w, struct ufile *f, char whole[DU_CKSUM_B64_LEN],
			 char composite[DU_MD5_HEX_LEN + 8], char etag[128], struct du_err *e)
{
	struct du_s3_part *parts = calloc(f->nparts, sizeof(*parts));
	if (!parts)
		return du_err_set(e, DU_ERR_NOMEM, "out of memory");
	for (int i = 0; i < f->nparts; i++)
		parts[i] = (struct du_s3_part){ .number = i + 1, .etag = f->etags[i],
						.checksum = f->cks[i][0] ? f->cks[i] : NULL };
	object_checksum(f, whole, composite);
	double t0 = du_metrics_now();
	int rc = du_s3_mpu_complete_ck(w->conn, f->key, f->upload_id, parts, f->nparts, f->ck_alg, whole, etag, e);
	/* A 200 whose body is not a proper answer (no ETag, an <Error>) leaves the object's fate open. */
	bool unsure = rc == DU_ERR_PARSE || (rc && e->http_status == 200);
	if (rc && (f->ndone > 0 || unsure) && completed_earlier(w, f, NULL, etag)) {
		du_info("'%s': %s; the object is there with the file's size%s, recording it", f->key,
			unsure ? e->msg : "completed by an earlier run", md5_like(etag) ? " and ETag" : "");
		rc = DU_OK;
	}
	du_metrics_request(DU_METRIC_COMPLETE, du_metrics_now() - t0);
	free(parts);
	return rc;
}

/* The file failed (e): released when interrupted, else failed (o), its upload dropped when useless. */
static void complete_failed(struct worker *w, struct ufile *f, struct du_outcome *o, const struct du_err *e)
{
	struct run *r = w->r;

	if (du_run_stopping(r) && !f->changed && e->code != DU_ERR_S3_AUTH) {
		du_run_release(w, f);   /* interrupted: parts stay recorded for the next run */
		return;
	}
	if (f->changed || e->code == DU_ERR_NOTFOUND || f->ndone > 0) {
		/* The parts no longer describe the file, the upload is gone, or a continued upload would not
		 * complete: start over next time rather than fail the same way again. */
		du_s3_mpu_abort(w->conn, f->key, f->upload_id, NULL);
		pthread_mutex_lock(&r->mmu);
		du_db_mpu_forget(r->mdb, f->id, NULL);
		pthread_mutex_unlock(&r->mmu);
	}
	du_run_fill_failed(o, f, e);
	du_run_finish(w, f, o);
}

static void complete_multipart(struct worker *w, struct ufile *f)
{
	struct run *r = w->r;
	struct du_outcome o = { 0 };
	struct du_err e = { 0 };
	struct stat st;
	char whole[DU_CKSUM_B64_LEN] = "", composite[DU_MD5_HEX_LEN + 8] = "";

	if (f->failed) {
		complete_failed(w, f, &o, &f->ferr);
		return;
	}
	if (stat(f->path, &st) < 0 || !du_ufile_same(&st, &f->st0)) {
		du_err_set(&e, DU_ERR_CHANGED, "changed during upload");
		f->changed = true;
		complete_failed(w, f, &o, &e);
		return;
	}
	if (send_complete(w, f, whole, composite, o.etag, &e) || du_objmeta_tags_after(w, f->key, true, &e)) {
		complete_failed(w, f, &o, &e);
		return;
	}
	/* The multipart record goes with the uploaded row, in the writer's transaction. */
	o.id = f->id;
	o.status = DU_OUT_UPLOADED;
	o.size = f->size;
	o.mtime_ns = f->mtime_ns;
	o.part_size = f->part_size;
	if (whole[0] && (du_run_alg(r) == f->ck_alg || !r->ck_auto))
		du_outcome_ck(&o, f->ck_alg, whole, "FULL_OBJECT");
	else if (composite[0])
		du_outcome_ck(&o, DU_CK_MD5, composite, "COMPOSITE");
	du_run_finish(w, f, &o);
}

/* Part n's checksums, and its md5 when the run needs it (md5_only: that alone, to resend it with
 * Content-MD5). */
static void part_checksums(struct run *r, struct ufile *f, int n, const unsigned char *p, size_t len, bool md5_only,
			   bool *md5_too)
{
	int alg = f->ck_alg;
	*md5_too = md5_only || alg == DU_CK_MD5 || du_run_alg(r) == DU_CK_MD5;
	if (md5_only) {
	} else if (du_cksum_is_crc(alg)) {
		f->crcs[n - 1] = du_cksum_crc(alg, du_cksum_init(alg), p, len);
		du_cksum_b64(alg, f->crcs[n - 1], f->cks[n - 1]);
	} else if (alg == DU_CK_SHA256) {
		du_cksum_buf_b64(alg, p, len, f->cks[n - 1]);
	}
	if (*md5_too) {
		du_md5(p, len, f->pmd5[n - 1]);
		__atomic_add_fetch(&f->md5_parts, 1, __ATOMIC_RELAXED);
	}
}

/* A part an earlier run sent: the same bytes if it has the same size and checksum. */
static bool reuse_part(struct ufile *f, int n, const struct du_mpu_part *prev, size_t len, bool md5_too)
{
	char md5hex[DU_MD5_HEX_LEN];
	if (prev->size != len)
		return false;
	if (f->ck_alg == DU_CK_MD5 || (f->ck_alg == DU_CK_NONE && md5_too)) {
		du_hex(f->pmd5[n - 1], DU_MD5_LEN, md5hex);
		return !strcmp(prev->md5, md5hex);
	}
	return f->ck_alg == DU_CK_NONE || !strcmp(prev->checksum, f->cks[n - 1]);
}


/* Open the file for a part, unless the file failed or the run stops. false: the file's failure is
 * recorded. */
static bool part_open(struct run *r, struct ufile *f, int *fd)
{
	struct du_err e = { 0 };
	struct stat st;

	if (__atomic_load_n(&f->failed, __ATOMIC_RELAXED) || du_run_stopping(r)) {
		if (!f->failed)
			part_fail(r, f, &(struct du_err){ .code = DU_ERR_INTERRUPTED, .msg = "interrupted" });
		return false;
	}
	if (du_ufile_open(f->path, fd, &st, &e)) {
		part_fail(r, f, &e);
		return false;
	}
	if (!du_ufile_same(&st, &f->st0)) {
		du_err_set(&e, DU_ERR_CHANGED, "changed during upload");
		part_fail(r, f, &e);
		return false;
	}
	return true;
}

/*
 * A part buffer: parts in flight hold one each, and none waits for another. false when the file
 * or the run failed meanwhile (its failure is recorded); a buffer taken all the same is in *slot.
 */
static bool part_buf_take(struct run *r, struct ufile *f, int *slot)
{
	pthread_mutex_lock(&r->mu);
	while (r->nfree == 0 && !f->failed && !r->fatal)
		pthread_cond_wait(&r->cv_md5, &r->mu);
	if (r->nfree > 0)
		*slot = r->buf_free[--r->nfree];
	bool give_up = f->failed || r->fatal;
	pthread_mutex_unlock(&r->mu);
	return !give_up;
}

static void part_buf_give(struct run *r, int slot)
{
	if (slot < 0)
		return;
	pthread_mutex_lock(&r->mu);
	r->buf_free[r->nfree++] = slot;
	pthread_cond_broadcast(&r->cv_md5);
	pthread_mutex_unlock(&r->mu);
}

/*
 * The part's bytes: the page cache's own, mapped (du_fmap), hashed and handed to libcurl without a
 * copy; where the file cannot be mapped, read into a part buffer (*slot), or the worker's own when
 * none was free. NULL: the file failed (recorded).
 */
static const unsigned char *part_bytes(struct worker *w, struct ufile *f, int fd, uint64_t off, size_t len,
				       struct du_fmap *map, int *slot)
{
	struct run *r = w->r;
	struct du_err e = { 0 }, me = { 0 };

	if (len && du_fmap_open(map, fd, off, len, &me) == DU_OK)
		return map->p;
	if (!part_buf_take(r, f, slot))
		return NULL;
	struct sbuf *bf = *slot >= 0 ? &r->bufs[*slot] : &w->own;
	if (du_sbuf_ensure(bf, len ? len : 1, &e) || du_ufile_read(fd, bf->p, len, off, &e)) {
		part_fail(r, f, &e);
		return NULL;
	}
	return bf->p;
}

/* Part n as an earlier run sent it, if its bytes are still those; else the file changed. */
static void part_reuse(struct run *r, struct ufile *f, int n, const struct du_mpu_part *prev, size_t len,
		       bool md5_too, const struct du_fmap *map)
{
	struct du_err e = { 0 };

	if (du_fmap_damaged(map) || !reuse_part(f, n, prev, len, md5_too)) {
		du_err_set(&e, DU_ERR_CHANGED, "changed since its upload began (part %d differs)", n);
		part_fail(r, f, &e);
		return;
	}
	snprintf(f->etags[n - 1], sizeof(f->etags[0]), "%s", prev->etag);
	__atomic_add_fetch(&r->st.parts_reused, 1, __ATOMIC_RELAXED);
}

/* Send part n, retried as the policy says. false: the file failed (recorded). */
static bool part_send(struct worker *w, struct ufile *f, int n, const unsigned char *p, size_t len, bool *md5_too,
		      const struct du_fmap *map)
{
	struct run *r = w->r;
	struct du_err e = { 0 };
	bool ck = f->cks[n - 1][0] != '\0';

	for (int attempt = 1;; attempt++) {
		double t0 = du_metrics_now();
		int prc = du_s3_mpu_part_ck(w->conn, f->key, f->upload_id, n, p, len,
					    *md5_too ? f->pmd5[n - 1] : NULL, f->ck_alg, ck ? f->cks[n - 1] : NULL,
					    f->etags[n - 1], &e);
		du_metrics_request(DU_METRIC_PART, du_metrics_now() - t0);
		if (du_fmap_damaged(map)) {
			/* The file ended early under the view: what went was not the file. */
			du_err_set(&e, DU_ERR_CHANGED, "changed during upload (it shrank)");
			part_fail(r, f, &e);
			return false;
		}
		if (prc == DU_OK && ck && du_s3_checksum_echoed(w->conn))
			du_run_ck_echoed(r);
		if (prc == DU_OK && ck && !*md5_too && !du_s3_checksum_echoed(w->conn) &&
		    du_run_ck_not_echoed(r, f->ck_alg, f->key)) {
			/* The CRC was not checked; the part's ETag is the MD5 of what the server stored.
			 * Equal to ours: the part is whole and not sent again. Else it goes again with
			 * Content-MD5 (a send of its own in the retry budget, not a fresh count). */
			part_checksums(r, f, n, p, len, true, md5_too);
			if (du_etag_is_md5(f->etags[n - 1], f->pmd5[n - 1])) {
				__atomic_add_fetch(&r->st.etag_verified, 1, __ATOMIC_RELAXED);
				return true;
			}
			continue;
		}
		if (prc == DU_OK)
			return true;
		if (!du_run_resend(&e) || attempt > r->o->times_to_retry || du_run_stopping(r)) {
			part_fail(r, f, &e);
			return false;
		}
		__atomic_add_fetch(&f->retries, 1, __ATOMIC_RELAXED);
		du_run_backoff(w, attempt, &e);
	}
}

/* The part sent, recorded (synchronously: it counts as done only once recorded). */
static void part_record(struct run *r, struct ufile *f, int n, size_t len, bool md5_too)
{
	struct du_err e = { 0 };
	struct du_mpu_part rec = { .number = n, .size = len };

	if (md5_too)
		du_hex(f->pmd5[n - 1], DU_MD5_LEN, rec.md5);
	snprintf(rec.etag, sizeof(rec.etag), "%s", f->etags[n - 1]);
	snprintf(rec.checksum, sizeof(rec.checksum), "%s", f->cks[n - 1]);
	if (mdb_call_part(r, f, &rec, &e)) {
		du_run_fatal(r, &e);
		part_fail(r, f, &e);
		return;
	}
	__atomic_add_fetch(&r->st.parts_sent, 1, __ATOMIC_RELAXED);
}

/* Checksum part n, then send it unless an earlier run did. */
void du_multipart_part(struct worker *w, struct ufile *f, int n)
{
	struct run *r = w->r;
	uint64_t off = (uint64_t)(n - 1) * f->part_size;
	size_t len = (size_t)(off + f->part_size > f->size ? f->size - off : f->part_size);
	int fd = -1, slot = -1;
	bool md5_too;
	struct du_fmap map = { 0 };
	const unsigned char *p;
	const struct du_mpu_part *prev;

	if (!part_open(r, f, &fd) || !(p = part_bytes(w, f, fd, off, len, &map, &slot)))
		goto done;
	part_checksums(r, f, n, p, len, false, &md5_too);
	if ((prev = recorded_part(f, n)))
		part_reuse(r, f, n, prev, len, md5_too, &map);
	else if (part_send(w, f, n, p, len, &md5_too, &map))
		part_record(r, f, n, len, md5_too);
done:
	du_fmap_close(&map);
	if (fd >= 0)
		close(fd);
	part_buf_give(r, slot);
	if (__atomic_sub_fetch(&f->parts_left, 1, __ATOMIC_ACQ_REL) == 0) {
		complete_multipart(w, f);
		du_ufile_free(f);
	}
}

void du_multipart_queue(struct worker *w, struct ufile *f)
{
	struct du_pool_job *chain = NULL;
	int n;

	/* Parts go to the front of the queue, in order, so all workers help with this file. */
	for (n = f->nparts; n >= 2; n--) {
		struct job *j = calloc(1, sizeof(*j));
		if (!j)
			break;
		j->f = f;
		j->part = n;
		j->node.next = chain;
		chain = &j->node;
	}
	if (n < 2) {
		du_pool_push_front(&w->r->jobs, chain, true);
	} else {
		/* Out of memory: do the rest ourselves, one by one: slower, still correct. */
		du_pool_push_front(&w->r->jobs, chain, false);
		for (int k = 2; k <= n; k++)
			du_multipart_part(w, f, k);
		du_pool_push_front(&w->r->jobs, NULL, true);
	}
	du_multipart_part(w, f, 1);
}

/*
 * The job of one whole file, from its claimed row to its outcome: open and read it (and notice a
 * change while it is read), check it against the listed object when the decision asked for that,
 * then send it in one PUT (put.c) or start its multipart upload (multipart.c); the outcome goes to
 * the writer (writer.c) and to the progress display. Runs on a pool worker (pool.h).
 */
#include "engine/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "du/checksum.h"
#include "du/signals.h"
#include "du/crypto.h"
#include "du/log.h"
#include "du/metrics.h"
#include "du/suspect.h"
#include "du/retry.h"

#define HUGE_PAGE ((size_t)2 << 20)
/* Files hashed without being sent are read in pieces this size. */
#define CHECK_CHUNK ((size_t)1 << 20)

void du_ufile_free(struct ufile *f)
{
	if (!f)
		return;
	free(f->path);
	free(f->key);
	free(f->check_etag);
	free(f->check_md5);
	free(f->upload_id);
	free(f->etags);
	free(f->done);
	free(f->crcs);
	free(f->cks);
	free(f->pmd5);
	free(f->sensor);
	if (f->md5) {
		unsigned char junk[DU_MD5_LEN];
		du_md5_final(f->md5, junk);
	}
	free(f);
}

/*
 * Make b hold at least n bytes. A part-sized buffer is asked for in huge pages: first touching
 * 16 MiB in 4 KiB pages costs 4,096 page faults, which on a virtual machine cost more than the
 * reading itself.
 */
int du_sbuf_ensure(struct sbuf *bf, size_t n, struct du_err *err)
{
	if (n <= bf->cap)
		return DU_OK;
	size_t cap = bf->cap ? bf->cap : 1 << 16;
	while (cap < n)
		cap *= 2;
	void *b = NULL;
	if (cap >= HUGE_PAGE) {
		if (posix_memalign(&b, HUGE_PAGE, cap))
			b = NULL;
#ifdef MADV_HUGEPAGE
		else
			(void)madvise(b, cap, MADV_HUGEPAGE); /* a hint: without it, small pages */
#endif
	} else {
		b = malloc(cap);
	}
	if (!b)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory for a %zu-byte buffer", cap);
	free(bf->p);
	bf->p = b;
	bf->cap = cap;
	return DU_OK;
}

int du_ufile_open(const char *path, int *fd, struct stat *st, struct du_err *err)
{
	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (*fd < 0) {
		int e = errno;
		if (e == ENOENT || e == EACCES || e == EPERM) {
			du_err_set(err, DU_ERR_IO, e == ENOENT ? "file vanished" : "permission denied");
			if (err)
				err->sys_errno = e;  /* du_run_permanent reads it */
			return DU_ERR_IO;
		}
		return du_err_sys(err, DU_ERR_IO, e, "cannot open");
	}
	if (fstat(*fd, st) < 0) {
		int e = errno;
		close(*fd);
		return du_err_sys(err, DU_ERR_IO, e, "cannot stat");
	}
	return DU_OK;
}

bool du_ufile_same(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size && a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

int du_ufile_read(int fd, unsigned char *buf, size_t len, uint64_t off, struct du_err *err)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return du_err_sys(err, DU_ERR_IO, errno, "read failed");
		}
		if (n == 0)
			return du_err_set(err, DU_ERR_CHANGED, "changed during upload (file shrank)");
		got += (size_t)n;
	}
	return DU_OK;
}

bool du_etag_is_md5(const char *etag, const unsigned char md5[DU_MD5_LEN])
{
	char hex[DU_MD5_HEX_LEN];
	size_t n = strlen(etag);
	if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"')
		etag++, n -= 2;
	du_hex(md5, DU_MD5_LEN, hex);
	return n == 2 * DU_MD5_LEN && !strncasecmp(etag, hex, n);
}

int64_t du_mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

/* A failure that retrying cannot heal: refused credentials, a file gone or unreadable. */
bool du_run_permanent(const struct du_err *e)
{
	if (e->code == DU_ERR_S3_AUTH)
		return true;
	return e->code == DU_ERR_IO && (e->sys_errno == ENOENT || e->sys_errno == EACCES || e->sys_errno == EPERM);
}

void du_run_fill_failed(struct du_outcome *o, const struct ufile *f, const struct du_err *e)
{
	o->id = f->id;
	o->status = DU_OUT_FAILED;
	o->size = f->size;
	o->mtime_ns = f->mtime_ns;
	snprintf(o->error, sizeof(o->error), "%s", e->msg);
	o->permanent = du_run_permanent(e);
}

bool du_run_suspect(struct run *r, struct ufile *f, const unsigned char *head, size_t n, uint64_t size)
{
	f->suspect[0] = '\0';
	f->suspect_refused = false;
	if (!du_suspect(f->key, head, n, size, f->suspect, sizeof(f->suspect)))
		return false;
	f->suspect_refused = r->o->suspect_policy != DU_SUSPECT_UPLOAD;
	return f->suspect_refused;
}

/* A suspect the policy does not send: failed for good, saying why (skip: by choice). */
static void suspect_refused(struct worker *w, struct ufile *f)
{
	struct du_outcome o = { 0 };
	struct du_err e = { .code = DU_ERR_PARSE };
	snprintf(e.msg, sizeof(e.msg), "suspect recording, not sent (suspect_policy %s): %s",
		 w->r->o->suspect_policy == DU_SUSPECT_SKIP ? "skip" : "fail", f->suspect);
	du_run_fill_failed(&o, f, &e);
	o.permanent = true;
	du_run_finish(w, f, &o);
}

/* ---- one file ---- */

/* The file's line or event for the person watching (du_progress_file). */
static void tell(struct run *r, const struct ufile *f, const struct du_outcome *o, bool skipped)
{
	bool failed = o->status == DU_OUT_FAILED, suspect = f->suspect[0] && !failed;
	if (o->status == DU_OUT_PENDING || (!failed && !suspect && !du_progress_wants_files(r->prog)))
		return;
	struct du_file_event ev = {
		.key = f->key, .size = o->size ? o->size : f->size,
		.outcome = failed ? "failed" : skipped ? "skipped" : "uploaded",
		.reason = failed ? NULL : f->reason ? f->reason : f->row_reason[0] ? f->row_reason : NULL,
		.error = failed ? o->error : NULL,
		/* du-retry takes it again unless the failure is for good or it has had its attempts */
		.will_retry = failed && !o->permanent,
		.checksum = o->md5[0] ? o->md5 : NULL,
		.attempt = 1 + f->retries,
		.duration = f->t0 > 0 ? du_monotonic() - f->t0 : 0,
		.suspect = f->suspect[0] ? f->suspect : NULL,
	};
	du_progress_file(r->prog, &ev);
}

void du_run_finish(struct worker *w, struct ufile *f, struct du_outcome *o)
{
	struct run *r = w->r;
	o->retries = f->retries;
	o->count_retry = r->po->retry_mode;
	o->reason = f->reason;
	snprintf(o->suspect, sizeof(o->suspect), "%s", f->suspect);
	du_objmeta_outcome(f, o);
	if (o->status == DU_OUT_UPLOADED && f->reason && !strcmp(f->reason, "unchanged_checked")) {
		__atomic_add_fetch(&r->st.files_checked_same, 1, __ATOMIC_RELAXED);
		tell(r, f, o, true);
		du_writer_emit(r, o);
		return;
	}
	tell(r, f, o, false);
	du_metrics_file(o->status == DU_OUT_UPLOADED ? DU_METRIC_UPLOADED
			: o->status == DU_OUT_FAILED ? DU_METRIC_FAILED : DU_METRIC_RELEASED, o->size);
	if (o->status == DU_OUT_UPLOADED) {
		__atomic_add_fetch(&r->st.files_ok, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&r->st.bytes_ok, o->size, __ATOMIC_RELAXED);
		du_progress_done(r->prog, 1, 0, o->size);
	} else if (o->status == DU_OUT_FAILED) {
		__atomic_add_fetch(&r->st.files_failed, 1, __ATOMIC_RELAXED);
		du_progress_done(r->prog, 0, 1, o->size);
	} else {
		__atomic_add_fetch(&r->st.files_released, 1, __ATOMIC_RELAXED);
	}
	du_writer_emit(r, o);
}

void du_run_release(struct worker *w, struct ufile *f)
{
	struct du_outcome o = { .id = f->id, .status = DU_OUT_PENDING, .size = f->size, .mtime_ns = f->mtime_ns };
	du_run_finish(w, f, &o);
}

/* ---- checksums ---- */

/* Retried within the run: what du_retry_is_retryable says, and a body the server (BadDigest) or
 * du (ETag or echoed checksum not the one sent) found damaged on the way: sent again, it may pass. */
bool du_run_resend(const struct du_err *e)
{
	return du_retry_is_retryable(e) || !strcmp(e->s3_code, "BadDigest") ||
	       (e->code == DU_ERR_S3 && e->retryable && e->http_status >= 200 && e->http_status < 300);
}

void du_outcome_ck(struct du_outcome *o, int alg, const char *value, const char *type)
{
	snprintf(o->checksum_alg, sizeof(o->checksum_alg), "%s", du_cksum_name(alg));
	snprintf(o->checksum, sizeof(o->checksum), "%s", value);
	snprintf(o->checksum_type, sizeof(o->checksum_type), "%s", type);
}

/*
 * Hash the file as S3 would have for the object it is compared with: its md5 (a plain ETag, or
 * the md5 du recorded for that object), or the md5 of its parts' md5s at the recorded part size
 * (a multipart ETag "hex-N"). Read through the worker's own buffer in pieces, with the same
 * change-during-read check as an upload. *same is set only on success.
 */

static int check_file(struct worker *w, struct ufile *f, struct du_outcome *o, bool *same, struct du_err *err)
{
	int fd, rc;
	struct stat st0, st1;
	const char *etag = f->check_etag ? f->check_etag : "";
	bool plain = strlen(etag) == 32 && strspn(etag, "0123456789abcdef") == 32;
	const char *dash = strchr(etag, '-');
	uint64_t ps = f->check_md5 || plain || !dash ? 0 : f->check_part_size;
	struct du_digest dg;
	struct du_digest_out d;

	if ((rc = du_ufile_open(f->path, &fd, &st0, err)))
		return rc;
	uint64_t len = (uint64_t)st0.st_size;
	/* A file a single PUT would send is read whole, so that a difference sends this very buffer. */
	bool keep = !ps && len < w->r->o->multipart_threshold;
	f->preread = false;
	if ((rc = du_sbuf_ensure(&w->own, keep ? (len ? len : 1) : CHECK_CHUNK, err)))
		goto out;
	if (du_digest_init(&dg, true, ps, DU_CK_NONE)) {
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (uint64_t off = 0; off < len && !rc;) {
		size_t n = len - off < CHECK_CHUNK ? (size_t)(len - off) : CHECK_CHUNK;
		unsigned char *dst = keep ? w->own.p + off : w->own.p;
		if ((rc = du_ufile_read(fd, dst, n, off, err)))
			break;
		du_digest_update(&dg, dst, n);
		off += n;
		if (du_run_stopping(w->r) && du_stop_level() > 1)
			rc = du_err_set(err, DU_ERR_INTERRUPTED, "interrupted");
	}
	if (!rc && (fstat(fd, &st1) < 0 || !du_ufile_same(&st0, &st1)))
		rc = du_err_set(err, DU_ERR_CHANGED, "changed during check");
	if (rc) {
		du_digest_abort(&dg);
		goto out;
	}
	if (du_digest_final(&dg, &d)) {
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
		goto out;
	}
	snprintf(o->md5, sizeof(o->md5), "%s", d.md5);
	if (keep) {
		f->preread = true;
		f->pre_st = st0;
		memcpy(f->pre_md5, d.md5_raw, DU_MD5_LEN);
	}
	if (f->check_md5)
		*same = !strcmp(o->md5, f->check_md5);
	else if (plain)
		*same = !strcmp(o->md5, etag);
	else
		*same = ps && !strcmp(d.composite, etag);
	o->id = f->id;
	o->status = DU_OUT_UPLOADED;
	o->size = len;
	o->mtime_ns = du_mtime_ns(&st0);
	o->part_size = ps;
	snprintf(o->etag, sizeof(o->etag), "%s", etag);
	*same = *same && len == f->size;
out:
	close(fd);
	return rc;
}

/* A whole-file job that ends before any part was queued: released for later (stopping) or failed. */
static void end_early(struct worker *w, struct ufile *f, const struct du_err *e, bool release)
{
	struct du_outcome o = { 0 };
	du_pool_started(&w->r->jobs);
	if (release) {
		du_run_release(w, f);
	} else {
		du_run_fill_failed(&o, f, e);
		du_run_finish(w, f, &o);
	}
	du_ufile_free(f);
}

/* The header of a file sent in parts, for du_run_suspect and its sensor facts (a single PUT looks
 * at its buffer): true when the file is a suspect the policy does not send. */
static bool read_head(struct run *r, struct ufile *f, uint64_t size)
{
	unsigned char head[DU_SUSPECT_HEAD];
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? pread(fd, head, sizeof(head), 0) : -1;
	bool refused = n >= 0 && du_run_suspect(r, f, head, (size_t)n, size);
	if (fd >= 0 && !refused)
		du_objmeta_sensor_fd(r, f, fd, size);
	if (fd >= 0)
		close(fd);
	return refused;
}

void du_file_job(struct worker *w, struct ufile *f)
{
	struct run *r = w->r;
	struct du_outcome o = { 0 };
	struct du_err e = { 0 };
	struct stat st;

	f->t0 = du_monotonic();
	if (du_run_stopping(r)) {
		du_pool_started(&r->jobs);
		du_run_release(w, f);
		du_ufile_free(f);
		return;
	}
	if (f->check_etag || f->check_md5) {
		/* Listed with the file's size: send it only if its bytes differ from the object's. */
		bool same = false;
		if (check_file(w, f, &o, &same, &e)) {
			end_early(w, f, &e, du_run_stopping(r) && e.code != DU_ERR_CHANGED && !du_run_permanent(&e));
			return;
		}
		if (same && du_objmeta_tags_checked(w, f->key, &e)) {
			end_early(w, f, &e, du_run_stopping(r) && !du_run_permanent(&e));
			return;
		}
		f->reason = same ? "unchanged_checked" : "changed";
		du_progress_checked(r->prog, same, same ? f->size : 0);
		if (same) {
			du_pool_started(&r->jobs);
			du_run_finish(w, f, &o);
			du_ufile_free(f);
			return;
		}
	}
	/* Multipart when the file is big now (it may have grown since the scan). */
	if (stat(f->path, &st) == 0 && (uint64_t)st.st_size >= r->o->multipart_threshold) {
		if (read_head(r, f, (uint64_t)st.st_size)) {
			du_pool_started(&r->jobs);
			suspect_refused(w, f);
			du_ufile_free(f);
			return;
		}
		if (du_multipart_start(w, f, &e)) {
			end_early(w, f, &e, du_run_stopping(r));
			return;
		}
		du_multipart_queue(w, f);
		return;
	}
	du_pool_started(&r->jobs);
	for (int attempt = 1;; attempt++) {
		memset(&o, 0, sizeof(o));
		if (du_put_small(w, f, &o, &e) == DU_OK)
			break;
		if (f->suspect_refused) {
			suspect_refused(w, f);
			du_ufile_free(f);
			return;
		}
		if (du_run_stopping(r) && e.code != DU_ERR_CHANGED && !du_run_permanent(&e)) {
			du_run_release(w, f);
			du_ufile_free(f);
			return;
		}
		/* A changed file is retried later (du-retry), when it has settled. */
		if (e.code == DU_ERR_CHANGED || !du_run_resend(&e) || attempt > r->o->times_to_retry) {
			if (e.code == DU_ERR_S3_AUTH)
				du_run_fatal(r, &e);
			du_run_fill_failed(&o, f, &e);
			break;
		}
		f->retries++;
		du_run_backoff(w, attempt, &e);
	}
	du_run_finish(w, f, &o);
	du_ufile_free(f);
}


/*
 * objmeta.c: what an uploaded object carries beside its bytes: the user's metadata and du's
 * (x-amz-meta-*), the recorder's facts read from the file's header (sensor.h, as
 * x-amz-meta-du-recorded-at, -device, ...), and the user's tags. Tags are sent with the PUT or
 * CreateMultipartUpload (x-amz-tagging); servers that drop them there (Ceph RGW 16 on
 * CreateMultipartUpload, s3rver on PUT) are found out by reading the first object's tags back, and
 * from then on each object gets its tags set after it is complete, and read back again.
 */
#include "engine/engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "du/log.h"

enum { TAGS_UNKNOWN, TAGS_KEPT, TAGS_DROPPED };

/* The configuration checked the metadata (names lowercased, at most DU_METADATA_KEYS_MAX) and the
 * tags (within DU_TAGGING_MAX): here they only become headers, once a run. */
int du_objmeta_init(struct run *r, struct du_err *err)
{
	const struct du_engine_opts *o = r->o;
	for (int n = 0; o->metadata && o->metadata[n]; n++)
		r->nmeta = n + 1;
	if (r->nmeta && !(r->meta = calloc((size_t)r->nmeta, sizeof(*r->meta))))
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	for (int i = 0; i < r->nmeta; i++) {
		const char *kv = o->metadata[i], *eq = strchr(kv, '=');
		if (asprintf(&r->meta[i].name, "x-amz-meta-%.*s", (int)(eq - kv), kv) < 0) {
			r->meta[i].name = NULL;
			return du_err_set(err, DU_ERR_NOMEM, "out of memory");
		}
		r->meta[i].value = eq + 1;
	}
	if (o->tags && o->tags[0]) {
		size_t need = du_config_tagging(o->tags, NULL, 0) + 1;
		if (!(r->tagging = malloc(need)))
			return du_err_set(err, DU_ERR_NOMEM, "out of memory");
		du_config_tagging(o->tags, r->tagging, need);
	}
	return DU_OK;
}

void du_objmeta_release(struct run *r)
{
	for (int i = 0; r->meta && i < r->nmeta; i++)
		free(r->meta[i].name);
	free(r->meta);
	free(r->tagging);
}

void du_objmeta_headers(const struct run *r, const struct ufile *f, struct objmeta *m)
{
	m->n = 0;
	for (int i = 0; i < r->nmeta; i++) {
		m->h[m->n][0] = r->meta[i].name;
		m->h[m->n++][1] = r->meta[i].value;
	}
	if (f->sensor) {
		const char *pairs[DU_SENSOR_MAX_PAIRS][2];
		int np = du_sensor_pairs(f->sensor, pairs, m->text);
		for (int i = 0; i < np; i++) {
			snprintf(m->names[i], sizeof(m->names[i]), "x-amz-meta-du-%s", pairs[i][0]);
			m->h[m->n][0] = m->names[i];
			m->h[m->n++][1] = pairs[i][1];
		}
	}
}

void du_objmeta_put(const struct run *r, const struct objmeta *m, struct du_s3_put *p)
{
	p->meta = (const char *const(*)[2])m->h;
	p->nmeta = m->n;
	p->tagging = r->tagging;
}

/* f's facts become s, or none (found: false); a file read again, by a retry, gets them anew.
 * Without memory, none. */
static void keep(struct ufile *f, bool found, const struct du_sensor *s)
{
	free(f->sensor);
	f->sensor = found ? malloc(sizeof(*f->sensor)) : NULL;
	if (f->sensor)
		*f->sensor = *s;
}

void du_objmeta_sensor_buf(struct run *r, struct ufile *f, const void *buf, size_t len)
{
	struct du_sensor s;
	keep(f, r->o->sensor_metadata && du_sensor_from_buf(buf, len, len, &s), &s);
}

static ssize_t fd_pread(void *ctx, void *buf, size_t n, uint64_t off)
{
	ssize_t got;
	do
		got = pread(*(int *)ctx, buf, n, (off_t)off);
	while (got < 0 && errno == EINTR);
	return got;
}

void du_objmeta_sensor_fd(struct run *r, struct ufile *f, int fd, uint64_t size)
{
	struct du_sensor s;
	keep(f, r->o->sensor_metadata && du_sensor_read(size, fd_pread, &fd, &s), &s);
}

void du_objmeta_outcome(const struct ufile *f, struct du_outcome *o)
{
	char json[1024];
	/* Allocated only for a file with facts: the writer's queue of outcomes stays small. */
	o->sensor = f->sensor && o->status == DU_OUT_UPLOADED && du_sensor_json(f->sensor, json, sizeof(json)) > 0
			    ? strdup(json) : NULL;
}

/* key's tags become the run's: set, then read back. */
static int set_tags(struct worker *w, const char *key, struct du_err *err)
{
	char *const *tags = w->r->o->tags;
	bool same = false;
	int rc;
	if ((rc = du_s3_put_tagging(w->conn, key, tags, err)) || (rc = du_s3_tags_match(w->conn, key, tags, &same, err)))
		return rc;
	if (!same) {
		du_err_set(err, DU_ERR_S3, "'%s': the server did not keep its tags (set, then read back otherwise)", key);
		err->retryable = 1;
		return DU_ERR_S3;
	}
	return DU_OK;
}

/* key's tags are read back, and set where they differ; *kept: they were there already. */
static int ensure_tags(struct worker *w, const char *key, bool *kept, struct du_err *err)
{
	int rc = du_s3_tags_match(w->conn, key, w->r->o->tags, kept, err);
	return rc || *kept ? rc : set_tags(w, key, err);
}

int du_objmeta_tags_after(struct worker *w, const char *key, bool multipart, struct du_err *err)
{
	struct run *r = w->r;
	int *known = multipart ? &r->tags_mpu : &r->tags_put, state = __atomic_load_n(known, __ATOMIC_RELAXED);
	bool kept = false;
	int rc;

	if (!r->tagging || state == TAGS_KEPT)
		return DU_OK;
	if (state == TAGS_DROPPED)
		return set_tags(w, key, err);
	/* The first objects of the run tell whether the server keeps what was sent. */
	if ((rc = ensure_tags(w, key, &kept, err)))
		return rc;
	if (kept)
		__atomic_store_n(known, TAGS_KEPT, __ATOMIC_RELAXED);
	else if (__atomic_exchange_n(known, TAGS_DROPPED, __ATOMIC_RELAXED) == TAGS_UNKNOWN)
		du_info("the server did not keep the tags sent with %s: du sets them on each object after it "
			"is complete, and reads them back", multipart ? "CreateMultipartUpload" : "PUT");
	return DU_OK;
}

int du_objmeta_tags_checked(struct worker *w, const char *key, struct du_err *err)
{
	bool kept;
	return w->r->tagging ? ensure_tags(w, key, &kept, err) : DU_OK;
}

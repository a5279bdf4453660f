/*
 * cmd_trigger.c: the body of du-trigger: deliver one session's webhook (or show it with
 * --dry-run). The webhook client (src/http/trigger.c) sends a body from any source; here the body
 * is the session's payload, with its uploaded keys streamed from a database cursor.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/db_trigger.h"
#include "du/commands.h"
#include "du/db.h"
#include "du/log.h"
#include "du/strbuf.h"
#include "du/trigger.h"


/* The payload object with "files" appended: head is the fixed object without its closing brace,
 * then the keys batch by batch from the cursor, then "]}". One batch is in memory at a time. */
struct stream {
	struct du_db *db;
	int64_t session_id;
	const char *bucket;
	struct du_strbuf head;
	struct du_strbuf b;
	size_t off;
	int state;          /* 0: head next, 1: keys, 2: done */
	bool cursor, first;
	struct du_err *err;
};

static int stream_open(void *arg, int64_t *length, struct du_err *err)
{
	struct stream *s = arg;
	if (s->cursor)
		du_db_trigger_files_end(s->db);
	s->cursor = false;
	s->state = 0;
	s->first = true;
	du_strbuf_reset(&s->b);
	s->off = 0;
	*length = -1;
	int rc = du_db_trigger_files_begin(s->db, s->session_id, err);
	if (rc == DU_OK)
		s->cursor = true;
	return rc;
}

static int stream_key(void *arg, const char *key)
{
	struct stream *s = arg;
	char prefix[160];
	snprintf(prefix, sizeof(prefix), "s3://%s/", s->bucket);
	if (!s->first)
		du_strbuf_addc(&s->b, ',');
	du_trigger_add_json_string(&s->b, prefix, key);
	if (s->b.oom)
		return du_err_set(s->err, DU_ERR_NOMEM, "out of memory");
	s->first = false;
	return DU_OK;
}

static int stream_read(void *arg, char *out, size_t n, size_t *got, struct du_err *err)
{
	struct stream *s = arg;
	*got = 0;
	while (*got < n) {
		if (s->off < s->b.len) {
			size_t k = s->b.len - s->off < n - *got ? s->b.len - s->off : n - *got;
			memcpy(out + *got, s->b.buf + s->off, k);
			s->off += k;
			*got += k;
			continue;
		}
		du_strbuf_reset(&s->b);
		s->off = 0;
		if (s->state == 0) {
			du_strbuf_add(&s->b, s->head.buf, s->head.len);
			if (s->b.oom)
				return du_err_set(err, DU_ERR_NOMEM, "out of memory");
			s->state = 1;
		} else if (s->state == 1) {
			int k = 0, rc;
			s->err = err;
			if ((rc = du_db_trigger_files_next(s->db, DU_TRIGGER_BATCH, stream_key, s, &k, err)))
				return rc;
			if (k == 0) {
				du_db_trigger_files_end(s->db);
				s->cursor = false;
				du_strbuf_adds(&s->b, "]}");
				if (s->b.oom)
					return du_err_set(err, DU_ERR_NOMEM, "out of memory");
				s->state = 2;
			}
		} else {
			break;
		}
	}
	return DU_OK;
}

static void stream_close(void *arg)
{
	struct stream *s = arg;
	if (s->cursor)
		du_db_trigger_files_end(s->db);
	s->cursor = false;
}

/* The body of session s as a source: in memory without files, streamed with them. */
struct body {
	char *payload;
	struct du_trigger_mem mem;
	struct stream st;
	struct du_trigger_source src;
};

static int body_init(struct body *b, struct du_db *db, const struct du_session *s, bool list_files,
		     struct du_err *err)
{
	memset(b, 0, sizeof(*b));
	b->payload = du_trigger_payload(s);
	if (!b->payload)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	if (!list_files) {
		du_trigger_source_mem(&b->src, &b->mem, b->payload, strlen(b->payload));
		return DU_OK;
	}
	b->st = (struct stream){ .db = db, .session_id = s->id, .bucket = s->bucket_name ? s->bucket_name : "" };
	du_strbuf_add(&b->st.head, b->payload, strlen(b->payload) - 1);
	du_strbuf_adds(&b->st.head, ",\"files\":[");
	if (b->st.head.oom)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	b->src = (struct du_trigger_source){ .open = stream_open, .read = stream_read, .close = stream_close,
					     .arg = &b->st };
	return DU_OK;
}

static void body_release(struct body *b)
{
	if (b->st.cursor)
		du_db_trigger_files_end(b->st.db);
	du_strbuf_release(&b->st.head);
	du_strbuf_release(&b->st.b);
	free(b->payload);
}

struct recorder {
	struct du_db *db;
	int64_t session_id;
	char *url;
	bool warned;
};

static void record_attempt(void *arg, const struct du_trigger_attempt *a)
{
	struct recorder *r = arg;
	struct du_err e = { 0 };
	/* Losing the audit row must not cost the delivery itself: warn once and go on. */
	if (du_db_trigger_attempt(r->db, r->session_id, r->url, a, &e) && !r->warned) {
		du_warn("cannot record the webhook attempt: %s", e.msg);
		r->warned = true;
	}
}

int du_trigger_send(struct du_db *db, const struct du_config *cfg, int64_t session_id,
		    struct du_trigger_result *res, struct du_err *err)
{
	struct du_session s;
	struct body b;
	struct recorder rec = { .db = db, .session_id = session_id };
	int rc = du_trigger_check_config(cfg, err);
	if (rc)
		return rc;
	if ((rc = du_db_session_get(db, session_id, &s, err)))
		return rc;
	if (s.status && !strcmp(s.status, "in_progress"))
		du_warn("session %" PRId64 " is still in progress", session_id);
	rc = body_init(&b, db, &s, cfg->list_files, err);
	rec.url = du_trigger_redact_url(cfg->endpoint_url);
	if (rc == DU_OK && !rec.url)
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
	if (rc == DU_OK)
		rc = du_trigger_post(cfg, session_id, &b.src, record_attempt, &rec, res, err);
	free(rec.url);
	body_release(&b);
	du_session_release(&s);
	return rc;
}

int du_trigger_dry_run(struct du_db *db, const struct du_config *cfg, int64_t session_id, FILE *out,
		       struct du_err *err)
{
	struct du_session s;
	struct body b;
	char ts[24], chunk[65536];
	char *shown = NULL, **h = NULL;
	bool secret = cfg->endpoint_secret && *cfg->endpoint_secret, has_schema = false;
	size_t got;
	int64_t len;
	int rc = du_trigger_check_config(cfg, err);
	if (rc || (rc = du_db_trigger_has_schema(db, &has_schema, err)))
		return rc;
	/* A dry run does not migrate: without du's tables there is no session to speak of. */
	if (!has_schema)
		return du_err_set(err, DU_ERR_NOTFOUND, "session %" PRId64 " does not exist", session_id);
	if ((rc = du_db_session_get(db, session_id, &s, err)))
		return rc;
	if ((rc = body_init(&b, db, &s, cfg->list_files, err)))
		goto out;
	snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
	shown = du_trigger_redact_url(cfg->endpoint_url);
	h = du_trigger_headers(cfg, session_id, secret ? ts : NULL, secret ? "" : NULL,
			       cfg->list_files && !secret, true);
	if (!shown || !h) {
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
		goto out;
	}
	fprintf(out, "POST %s\n", shown);
	for (char **p = h; *p; p++)
		if (strcmp(*p, "Expect:"))
			fprintf(out, "%s\n", *p);
	fputc('\n', out);
	rc = b.src.open(b.src.arg, &len, err);
	while (rc == DU_OK && (rc = b.src.read(b.src.arg, chunk, sizeof(chunk), &got, err)) == DU_OK && got)
		fwrite(chunk, 1, got, out);
	b.src.close(b.src.arg);
	fputc('\n', out);
	if (rc == DU_OK && fflush(out))
		rc = du_err_sys(err, DU_ERR_IO, errno, "cannot write the request");
out:
	du_trigger_headers_free(h);
	free(shown);
	body_release(&b);
	du_session_release(&s);
	return rc;
}

int du_cmd_trigger(const struct du_config *cfg, struct du_trigger_result *res, struct du_err *err)
{
	struct du_db *db = NULL;
	int rc = du_trigger_check_config(cfg, err);
	if (rc)
		return rc;
	if (cfg->session_id <= 0) {
		rc = du_err_set(err, DU_ERR_CONFIG, "no session id");
		du_err_hint(err, "pass -s/--session-id");
		return rc;
	}
	res->session_id = cfg->session_id;
	if ((rc = du_db_open(&db, cfg, err)))
		return rc;
	if (cfg->dry_run) {
		rc = du_trigger_dry_run(db, cfg, cfg->session_id, stdout, err);
	} else if ((rc = du_db_migrate(db, err)) == DU_OK) {
		rc = du_trigger_send(db, cfg, cfg->session_id, res, err);
		if (rc == DU_OK)
			du_info("session %" PRId64 " delivered: HTTP %ld after %d attempt%s", cfg->session_id,
				res->http_status, res->attempts, res->attempts == 1 ? "" : "s");
	}
	du_db_close(db);
	return rc;
}

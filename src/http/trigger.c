/* The webhook trigger: payload, signature, headers, and delivery with retries (see trigger.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "du/signals.h"
#include "du/log.h"
#include "du/retry.h"
#include "du/strbuf.h"
#include "du/trigger.h"
#include "du/wait.h"
#include "http/http.h"

#define BACKOFF_BASE_MS 1000
#define BACKOFF_CAP_MS 30000
#define BUDGET_MAX_MS 300000L
#define MIN_ATTEMPT_MS 1000L

/* Bytes >= 0x80 pass through: keys are UTF-8 (the scanner refuses others), and JSON needs
 * escaping only for the quote, the backslash and control characters. */
void du_trigger_add_json_string(struct du_strbuf *b, const char *prefix, const char *s)
{
	du_strbuf_addc(b, '"');
	du_strbuf_adds(b, prefix);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		switch (*c) {
		case '"': du_strbuf_adds(b, "\\\""); break;
		case '\\': du_strbuf_adds(b, "\\\\"); break;
		case '\b': du_strbuf_adds(b, "\\b"); break;
		case '\f': du_strbuf_adds(b, "\\f"); break;
		case '\n': du_strbuf_adds(b, "\\n"); break;
		case '\r': du_strbuf_adds(b, "\\r"); break;
		case '\t': du_strbuf_adds(b, "\\t"); break;
		default:
			if (*c < 0x20 || *c == 0x7f)
				du_strbuf_addf(b, "\\u%04x", *c);
			else
				du_strbuf_addc(b, (char)*c);
		}
	}
	du_strbuf_addc(b, '"');
}

/* ---- pure pieces ------------------------------------------------------------------------ */

static void iso_utc(double t, char out[32])
{
	time_t s = (time_t)t;
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static bool add_str(cJSON *o, const char *k, const char *v)
{
	return v ? cJSON_AddStringToObject(o, k, v) != NULL : cJSON_AddNullToObject(o, k) != NULL;
}

/* cJSON keeps numbers as doubles and prints large ones as 1e+15: byte counts go in as raw text. */
static bool add_i64(cJSON *o, const char *k, int64_t v)
{
	char s[24];
	snprintf(s, sizeof(s), "%" PRId64, v);
	return cJSON_AddRawToObject(o, k, s) != NULL;
}

static bool add_time(cJSON *o, const char *k, double t)
{
	char s[32];
	if (t <= 0)
		return cJSON_AddNullToObject(o, k) != NULL;
	iso_utc(t, s);
	return cJSON_AddStringToObject(o, k, s) != NULL;
}

char *du_trigger_payload(const struct du_session *s)
{
	cJSON *o = cJSON_CreateObject();
	char *json = NULL;
	if (!o)
		return NULL;
	if (add_i64(o, "session_id", s->id) && add_str(o, "project", s->project_name) &&
	    add_str(o, "bucket_name", s->bucket_name) && add_str(o, "s3_prefix", s->s3_prefix) &&
	    add_str(o, "local_directory", s->local_directory) && add_str(o, "status", s->status) &&
	    add_i64(o, "total_files", s->total_files) && add_i64(o, "files_uploaded", s->files_uploaded) &&
	    add_i64(o, "files_failed", s->files_failed) && add_i64(o, "files_skipped", s->files_skipped) &&
	    add_i64(o, "total_size_bytes", s->total_size_bytes) &&
	    add_i64(o, "bytes_uploaded", s->bytes_uploaded) && add_time(o, "started_at", s->started_at) &&
	    add_time(o, "completed_at", s->completed_at))
		json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return json;
}

char *du_trigger_file_json(const char *bucket, const char *key)
{
	struct du_strbuf b = DU_STRBUF_INIT;
	char prefix[128 + 8];
	snprintf(prefix, sizeof(prefix), "s3://%s/", bucket);
	du_trigger_add_json_string(&b, prefix, key);
	return du_strbuf_detach(&b);
}

/* HMAC-SHA256 fed in pieces, so a spooled body can be signed without reading it into memory. */
struct mac {
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx;
};

static int mac_begin(struct mac *m, const char *secret, const char *timestamp)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	m->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	m->ctx = m->mac ? EVP_MAC_CTX_new(m->mac) : NULL;
	if (!m->ctx || !EVP_MAC_init(m->ctx, (const unsigned char *)secret, strlen(secret), params) ||
	    !EVP_MAC_update(m->ctx, (const unsigned char *)timestamp, strlen(timestamp)) ||
	    !EVP_MAC_update(m->ctx, (const unsigned char *)".", 1))
		return -1;
	return 0;
}

static int mac_update(struct mac *m, const void *p, size_t n)
{
	return EVP_MAC_update(m->ctx, p, n) ? 0 : -1;
}

/* Finish into "sha256=<hex>" and free; out is "" when anything failed. */
static void mac_end(struct mac *m, bool ok, char out[DU_TRIGGER_SIG_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	size_t n = 0;
	out[0] = '\0';
	if (ok && m->ctx && EVP_MAC_final(m->ctx, md, &n, sizeof(md)) && n == 32) {
		strcpy(out, "sha256=");
		for (size_t i = 0; i < n; i++)
			snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
	}
	EVP_MAC_CTX_free(m->ctx);
	EVP_MAC_free(m->mac);
	m->ctx = NULL;
	m->mac = NULL;
}

void du_trigger_signature(const char *secret, const char *timestamp, const void *body, size_t len,
			  char out[DU_TRIGGER_SIG_LEN])
{
	struct mac m = { 0 };
	bool ok = mac_begin(&m, secret, timestamp) == 0 && mac_update(&m, body, len) == 0;
	mac_end(&m, ok, out);
}

static CURLU *parse_url(const char *url)
{
	CURLU *u = curl_url();
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
		curl_url_cleanup(u);
		return NULL;
	}
	return u;
}

char *du_trigger_redact_url(const char *url)
{
	CURLU *u = parse_url(url);
	char *query = NULL, *tmp = NULL, *out = NULL;
	struct du_strbuf q = DU_STRBUF_INIT;
	if (!u)
		return NULL;
	curl_url_set(u, CURLUPART_USER, NULL, 0);
	curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
	curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
	if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK && query) {
		/* Keep the parameter names (they help when reading the table), hide every value. */
		char *save = NULL;
		for (char *kv = strtok_r(query, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
			char *eq = strchr(kv, '=');
			if (q.len)
				du_strbuf_addc(&q, '&');
			if (eq) {
				du_strbuf_add(&q, kv, (size_t)(eq - kv));
				du_strbuf_adds(&q, "=***");
			} else {
				du_strbuf_adds(&q, "***");
			}
		}
		if (q.oom || curl_url_set(u, CURLUPART_QUERY, du_strbuf_str(&q), 0) != CURLUE_OK)
			goto out;
	}
	if (curl_url_get(u, CURLUPART_URL, &tmp, 0) == CURLUE_OK)
		out = strdup(tmp);
out:
	curl_free(query);
	curl_free(tmp);
	du_strbuf_release(&q);
	curl_url_cleanup(u);
	return out;
}

static bool is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!(*s > 0x20 && *s < 0x7f) || strchr("()<>@,;:\\\"/[]?={}", *s))
			return false;
	return true;
}

int du_trigger_check_config(const struct du_config *cfg, struct du_err *err)
{
	const char *url = cfg->endpoint_url;
	char *scheme = NULL, *host = NULL;
	int rc = DU_OK;
	if (!url || !*url) {
		rc = du_err_set(err, DU_ERR_CONFIG, "no webhook endpoint URL");
		du_err_hint(err, "set -e/--endpoint-url, 'endpoint_url' in the config file, or DU_ENDPOINT_URL");
		return rc;
	}
	CURLU *u = parse_url(url);
	char *shown = u ? du_trigger_redact_url(url) : NULL;
	if (!u || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") && strcmp(scheme, "https")) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host ||
	    strstr(url, ":///")) {  /* curl would read "http:///x" as host "x" */
		/* The URL may carry a token: name it only in its redacted form. */
		rc = du_err_set(err, DU_ERR_CONFIG, "invalid endpoint URL '%s': expected http(s)://host[:port]/path",
				shown ? shown : "(unparseable)");
		goto out;
	}
	if (cfg->timeout <= 0) {
		rc = du_err_set(err, DU_ERR_CONFIG, "invalid timeout %ld: expected seconds > 0", cfg->timeout);
		goto out;
	}
	if (cfg->endpoint_api_key_header && !is_token(cfg->endpoint_api_key_header)) {
		rc = du_err_set(err, DU_ERR_CONFIG, "invalid API key header name '%s'", cfg->endpoint_api_key_header);
		goto out;
	}
	if (cfg->endpoint_api_key && strpbrk(cfg->endpoint_api_key, "\r\n"))
		rc = du_err_set(err, DU_ERR_CONFIG, "the endpoint API key contains a line break");
out:
	curl_free(scheme);
	curl_free(host);
	free(shown);
	curl_url_cleanup(u);
	return rc;
}

char **du_trigger_headers(const struct du_config *cfg, int64_t session_id, const char *timestamp,
			  const char *signature, bool chunked, bool redact)
{
	char **h = calloc(10, sizeof(*h));
	int n = 0;
	bool ok = h != NULL;
	const char *keyhdr = cfg->endpoint_api_key_header ? cfg->endpoint_api_key_header : "api_key";
	if (!h)
		return NULL;
	ok = ok && asprintf(&h[n++], "Content-Type: application/json") >= 0;
	ok = ok && asprintf(&h[n++], "User-Agent: du/%s", DU_VERSION) >= 0;
	ok = ok && asprintf(&h[n++], "Idempotency-Key: du-session-%" PRId64, session_id) >= 0;
	if (ok && cfg->endpoint_api_key && *cfg->endpoint_api_key)
		ok = asprintf(&h[n++], "%s: %s", keyhdr, redact ? "***" : cfg->endpoint_api_key) >= 0;
	if (ok && timestamp)
		ok = asprintf(&h[n++], "X-Du-Timestamp: %s", timestamp) >= 0;
	if (ok && signature)
		ok = asprintf(&h[n++], "X-Du-Signature: %s", redact ? "sha256=***" : signature) >= 0;
	if (ok && chunked)
		ok = asprintf(&h[n++], "Transfer-Encoding: chunked") >= 0;
	/* No "Expect: 100-continue" round trip: receivers rarely answer it and curl then waits 1 s. */
	ok = ok && asprintf(&h[n++], "Expect:") >= 0;
	if (!ok) {
		h[n - 1] = NULL;  /* asprintf leaves it undefined on failure */
		du_trigger_headers_free(h);
		return NULL;
	}
	return h;
}

void du_trigger_headers_free(char **h)
{
	if (!h)
		return;
	for (char **p = h; *p; p++)
		free(*p);
	free(h);
}

/* ---- body sources ----------------------------------------------------------------------- */

static int mem_open(void *arg, int64_t *length, struct du_err *err)
{
	struct du_trigger_mem *m = arg;
	(void)err;
	m->off = 0;
	*length = (int64_t)m->len;
	return DU_OK;
}

static int mem_read(void *arg, char *b, size_t n, size_t *got, struct du_err *err)
{
	struct du_trigger_mem *m = arg;
	(void)err;
	size_t k = m->len - m->off < n ? m->len - m->off : n;
	memcpy(b, m->body + m->off, k);
	m->off += k;
	*got = k;
	return DU_OK;
}

static void nop_close(void *arg)
{
	(void)arg;
}

void du_trigger_source_mem(struct du_trigger_source *src, struct du_trigger_mem *m, const char *body, size_t len)
{
	*m = (struct du_trigger_mem){ .body = body, .len = len };
	*src = (struct du_trigger_source){ .open = mem_open, .read = mem_read, .close = nop_close, .arg = m };
}

/* A spooled body: an unlinked temporary file, so nothing is left behind whatever happens. */
struct filesrc {
	FILE *f;
	int64_t len;
};

static int file_open(void *arg, int64_t *length, struct du_err *err)
{
	struct filesrc *fs = arg;
	if (fseeko(fs->f, 0, SEEK_SET))
		return du_err_sys(err, DU_ERR_IO, errno, "cannot rewind the spooled webhook body");
	*length = fs->len;
	return DU_OK;
}

static int file_read(void *arg, char *b, size_t n, size_t *got, struct du_err *err)
{
	struct filesrc *fs = arg;
	*got = fread(b, 1, n, fs->f);
	if (*got < n && ferror(fs->f))
		return du_err_sys(err, DU_ERR_IO, errno, "cannot read the spooled webhook body");
	return DU_OK;
}

static int spool(struct du_trigger_source *src, struct filesrc *fs, struct du_err *err)
{
	const char *dir = getenv("TMPDIR");
	char path[4096], chunk[65536];
	int64_t len;
	size_t got;
	int rc, fd;
	snprintf(path, sizeof(path), "%s/du-trigger-XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		return du_err_sys(err, DU_ERR_IO, errno, "cannot create a temporary file in '%s'",
				  dir && *dir ? dir : "/tmp");
	unlink(path);
	fs->f = fdopen(fd, "w+");
	if (!fs->f) {
		close(fd);
		return du_err_sys(err, DU_ERR_IO, errno, "cannot open a temporary file");
	}
	fs->len = 0;
	rc = src->open(src->arg, &len, err);
	while (rc == DU_OK && (rc = src->read(src->arg, chunk, sizeof(chunk), &got, err)) == DU_OK && got) {
		if (fwrite(chunk, 1, got, fs->f) != got)
			rc = du_err_sys(err, DU_ERR_IO, errno, "cannot write the spooled webhook body");
		fs->len += (int64_t)got;
	}
	src->close(src->arg);
	if (rc == DU_OK && fflush(fs->f))
		rc = du_err_sys(err, DU_ERR_IO, errno, "cannot write the spooled webhook body");
	return rc;
}

/* ---- delivery --------------------------------------------------------------------------- */

static double now_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One attempt's transfer state, shared with libcurl's callbacks. */
struct xfer {
	struct du_trigger_source *src;
	struct du_err src_err;
	int src_rc;
	struct du_http_body raw;        /* the answer's first DU_TRIGGER_EXCERPT bytes */
	long retry_after_ms;
};

static size_t on_read(char *b, size_t size, size_t nitems, void *arg)
{
	struct xfer *x = arg;
	size_t got = 0;
	x->src_rc = x->src->read(x->src->arg, b, size * nitems, &got, &x->src_err);
	return x->src_rc ? CURL_READFUNC_ABORT : got;
}

static size_t on_header(char *b, size_t size, size_t nitems, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nitems;
	char v[32];
	long ms;
	if (du_http_header(b, n, "retry-after", v, sizeof(v)) && (ms = du_http_retry_after_ms(v)))
		x->retry_after_ms = ms > BACKOFF_CAP_MS ? BACKOFF_CAP_MS : ms;
	return n;
}

/* The first SIGINT lets the attempt in flight finish (it is short, and its answer matters);
 * only the second abandons it. */
static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)arg, (void)dt, (void)dn, (void)ut, (void)un;
	return *du_abort_flag() != 0;
}

/* Copy at most the first n bytes of in as valid UTF-8 without control characters (Postgres
 * text refuses NUL and broken sequences; a row should read well in psql). */
static void utf8_clean(const char *in, size_t n, char *out, size_t outsz)
{
	const unsigned char *p = (const unsigned char *)in, *end = p + n;
	size_t o = 0;
	while (p < end && o + 1 < outsz) {
		int len = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
		bool ok = len > 0 && p + len <= end && !(len == 2 && *p < 0xc2) && !(len == 4 && *p > 0xf4);
		for (int i = 1; ok && i < len; i++)
			ok = (p[i] & 0xc0) == 0x80;
		if (!ok) {
			if (p + len > end && len > 1)
				break;  /* cut in the middle of a character by the excerpt limit */
			out[o++] = '?';
			p++;
			continue;
		}
		if (o + (size_t)len >= outsz)
			break;
		if (len == 1 && (*p < 0x20 || *p == 0x7f))
			out[o++] = ' ';
		else
			memcpy(out + o, p, (size_t)len), o += (size_t)len;
		p += len;
	}
	out[o] = '\0';
}

/* Per-attempt signature: a pass over the (rewindable) source, so retries carry a fresh time. */
static int sign(struct du_trigger_source *src, const char *secret, const char *ts, char sig[DU_TRIGGER_SIG_LEN],
		struct du_err *err)
{
	struct mac m = { 0 };
	char chunk[65536];
	size_t got;
	int64_t len;
	bool ok = mac_begin(&m, secret, ts) == 0;
	int rc = src->open(src->arg, &len, err);
	while (rc == DU_OK && (rc = src->read(src->arg, chunk, sizeof(chunk), &got, err)) == DU_OK && got)
		ok = ok && mac_update(&m, chunk, got) == 0;
	src->close(src->arg);
	mac_end(&m, ok && rc == DU_OK, sig);
	if (rc == DU_OK && !sig[0])
		rc = du_err_set(err, DU_ERR_INTERNAL, "cannot compute the HMAC-SHA256 signature");
	return rc;
}

/* One POST. Fills a (except attempted_at) and x; returns the curl code. */
static CURLcode attempt_once(CURL *c, const struct du_config *cfg, int64_t session_id, struct xfer *x,
			     long timeout_ms, struct du_trigger_attempt *a, struct du_err *err)
{
	char ts[24], sig[DU_TRIGGER_SIG_LEN], errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hl = NULL;
	char **h = NULL;
	int64_t len = -1;
	CURLcode cc = CURLE_OUT_OF_MEMORY;
	long t0 = now_ms();
	bool signed_ = cfg->endpoint_secret && *cfg->endpoint_secret;

	snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
	if ((signed_ && (x->src_rc = sign(x->src, cfg->endpoint_secret, ts, sig, &x->src_err))) ||
	    (x->src_rc = x->src->open(x->src->arg, &len, &x->src_err))) {
		cc = CURLE_ABORTED_BY_CALLBACK;
		goto out;
	}
	h = du_trigger_headers(cfg, session_id, signed_ ? ts : NULL, signed_ ? sig : NULL, len < 0, false);
	for (char **p = h; p && *p; p++) {
		struct curl_slist *t = curl_slist_append(hl, *p);
		if (!t)
			goto out;
		hl = t;
	}
	if (!h)
		goto out;
	/* A redirect would turn the POST into a GET or resend the body somewhere else: never
	 * (du_http_setup refuses them). */
	struct du_http_opts ho = {
		.ca_bundle = cfg->endpoint_ca_bundle, .errbuf = errbuf, .timeout_ms = timeout_ms,
		.connect_timeout_ms = timeout_ms < 10000 ? timeout_ms : 10000L,
	};
	curl_easy_reset(c);
	du_http_setup(c, &ho);
	curl_easy_setopt(c, CURLOPT_URL, cfg->endpoint_url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(c, CURLOPT_READDATA, x);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, du_http_body_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &x->raw);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->http_status);
	if (cc == CURLE_OK && (a->http_status < 200 || a->http_status > 299))
		snprintf(a->error, sizeof(a->error), "HTTP %ld", a->http_status);
	else if (cc != CURLE_OK && !x->src_rc)
		snprintf(a->error, sizeof(a->error), "%s",
			 cc == CURLE_ABORTED_BY_CALLBACK ? "interrupted" : errbuf[0] ? errbuf : curl_easy_strerror(cc));
out:
	if (x->src_rc)
		snprintf(a->error, sizeof(a->error), "body: %s", x->src_err.msg);
	x->src->close(x->src->arg);
	a->duration_ms = now_ms() - t0;
	utf8_clean(du_strbuf_str(&x->raw.sb), x->raw.sb.len, a->excerpt, sizeof(a->excerpt));
	du_http_body_release(&x->raw);
	curl_slist_free_all(hl);
	du_trigger_headers_free(h);
	if (cc == CURLE_OUT_OF_MEMORY)
		du_err_set(err, DU_ERR_NOMEM, "out of memory");
	return cc;
}

int du_trigger_post(const struct du_config *cfg, int64_t session_id, struct du_trigger_source *src,
		    void (*record)(void *arg, const struct du_trigger_attempt *a), void *record_arg,
		    struct du_trigger_result *res, struct du_err *err)
{
	struct filesrc fs = { 0 };
	struct du_trigger_source spooled = { .open = file_open, .read = file_read, .close = nop_close, .arg = &fs };
	long timeout_ms = cfg->timeout * 1000L;
	long budget_ms = 4 * timeout_ms < BUDGET_MAX_MS ? 4 * timeout_ms : BUDGET_MAX_MS;
	long start = now_ms();
	char *shown = du_trigger_redact_url(cfg->endpoint_url);
	CURL *c = curl_easy_init();
	int rc = DU_OK, attempt;
	int64_t len = 0;

	res->session_id = session_id;
	res->http_status = 0;
	res->attempts = 0;
	if (!shown || !c) {
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* A stream of unknown length cannot be signed before it is sent: spool it to disk first. */
	if (cfg->endpoint_secret && *cfg->endpoint_secret) {
		rc = src->open(src->arg, &len, err);
		src->close(src->arg);
		if (rc)
			goto out;
		if (len < 0) {
			if ((rc = spool(src, &fs, err)))
				goto out;
			src = &spooled;
		}
	}
	for (attempt = 1;; attempt++) {
		struct xfer x = { .src = src, .raw = { .max = DU_TRIGGER_EXCERPT, .truncate = true } };
		struct du_trigger_attempt a = { .attempted_at = now_wall() };
		long left = budget_ms - (now_ms() - start);
		CURLcode cc = attempt_once(c, cfg, session_id, &x, left < timeout_ms ? left : timeout_ms, &a, err);
		if (cc == CURLE_OUT_OF_MEMORY) {
			rc = DU_ERR_NOMEM;
			goto out;
		}
		res->attempts = attempt;
		res->http_status = a.http_status;
		if (record)
			record(record_arg, &a);
		if (x.src_rc) {
			rc = x.src_rc;
			*err = x.src_err;
			goto out;
		}
		if (cc == CURLE_OK && a.http_status >= 200 && a.http_status <= 299) {
			du_debug("webhook '%s': HTTP %ld in %ld ms (attempt %d)", shown, a.http_status, a.duration_ms,
				 attempt);
			rc = DU_OK;
			goto out;
		}
		if (du_stop_level() > 0) {
			rc = du_err_set(err, DU_ERR_INTERRUPTED, "webhook delivery interrupted after %d attempt%s",
					attempt, attempt == 1 ? "" : "s");
			goto out;
		}
		bool again = cc == CURLE_OK ? du_http_status_retryable(a.http_status) : du_http_curl_retryable(cc);
		if (!again) {
			if (cc == CURLE_OK) {
				rc = du_err_set(err, DU_ERR_TRIGGER, "webhook '%s' refused the request: HTTP %ld", shown,
						a.http_status);
				err->http_status = a.http_status;
				if (a.http_status >= 300 && a.http_status < 400)
					du_err_hint(err, "redirects are not followed: give the final URL of the endpoint");
				else if (a.excerpt[0])
					du_err_hint(err, "the endpoint answered: %.200s", a.excerpt);
			} else {
				rc = du_err_set(err, DU_ERR_TRIGGER, "webhook '%s' not delivered: %s", shown, a.error);
				if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE)
					du_err_hint(err, "set DU_ENDPOINT_CA_BUNDLE to the CA certificate of the endpoint");
			}
			goto out;
		}
		long delay = du_retry_delay_ms(attempt, BACKOFF_BASE_MS, BACKOFF_CAP_MS, x.retry_after_ms, NULL, NULL);
		long elapsed = now_ms() - start;
		/* Another attempt must fit in the budget with a timeout of its own of at least
		 * MIN_ATTEMPT_MS; a drawn delay that would not leave that much is shortened (unless the
		 * server asked for it with Retry-After). */
		long min_attempt = timeout_ms < MIN_ATTEMPT_MS ? timeout_ms : MIN_ATTEMPT_MS;
		if (elapsed + delay + min_attempt > budget_ms && !x.retry_after_ms)
			delay = budget_ms - elapsed - min_attempt;
		if (delay < 0 || elapsed + delay + min_attempt > budget_ms) {
			rc = du_err_set(err, DU_ERR_TRIGGER, "webhook '%s' not delivered after %d attempts in %.1f s: %s",
					shown, attempt, elapsed / 1000.0, a.error);
			err->http_status = a.http_status;
			err->retryable = 1;
			goto out;
		}
		du_warn("webhook '%s': %s; retrying in %.1f s", shown, a.error, delay / 1000.0);
		/* In slices, so that Ctrl-C is not kept waiting for a 30 s backoff. */
		if (!du_wait_ms(delay, du_wait_stop_level, &(int){ 1 }) || du_stop_level() > 0) {
			rc = du_err_set(err, DU_ERR_INTERRUPTED, "webhook delivery interrupted after %d attempt%s",
					attempt, attempt == 1 ? "" : "s");
			goto out;
		}
	}
out:
	if (fs.f)
		fclose(fs.f);
	curl_easy_cleanup(c);
	free(shown);
	return rc;
}

/* ---- the session's body, from the database ---------------------------------------------- */

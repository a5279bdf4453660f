/* s3.c: S3 requests on libcurl, signed with du_sigv4, retried per retry.h (see s3.h). */
#include "du/s3.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <libxml/parser.h>

#include "du/checksum.h"
#include "du/crypto.h"
#include "du/retry.h"
#include "du/sigv4.h"
#include "du/strbuf.h"
#include "du/wait.h"
#include "http/http.h"
#include "s3/s3_internal.h"

#define BODY_CAP ((size_t)1 << 20)    /* answers other than listings and GETs */
#define LIST_CAP ((size_t)16 << 20)   /* one listing page; 1000 keys is well under 1 MiB */
#define MAX_HDRS 24
#define HDRBUF 12288                  /* header lines of one request; the session token is <= 4 KiB */
#define INLINE_BODY_MAX ((size_t)60 << 10) /* PUT bodies sent with their headers (libcurl: < 64 KiB) */

struct du_s3 {
	struct du_s3_opts o;              /* strings point at the copies below */
	char *bucket, *region, *storage_class, *sse, *sse_kms_key_id, *ca_bundle;
	struct du_creds_provider *cp;
	CURLSH *sh;
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
	struct du_governor *gov;
	const volatile int *abort_flag;
	atomic_int abort_all;
	atomic_long skew;                 /* seconds to add to our clock, learnt from RequestTimeTooSkewed */
	char *base;                       /* "https://host[:port]": the URL before the path */
	char *host;                       /* Host header, signed and sent */
	char *path_prefix;                /* raw: "/bucket" (path-style) or "" (virtual), after any endpoint path */
	char *bucket_path;                /* raw path of bucket-level requests: "/bucket" or "/" */
	char *ua;
	bool kms;                         /* SSE-KMS: the ETag is not the MD5 */
	atomic_uint_fast64_t requests, attempts, retries, throttles, failures, sent, received;
};

/* Response of the current attempt. */
struct resp {
	long status;
	struct du_http_body body;         /* at most body.max bytes (du_http_body_write) */
	char etag[DU_S3_ETAG_MAX];
	char request_id[64];
	char bucket_region[64];
	int64_t date;                     /* Date header, UTC seconds; 0 when absent */
	char meta_md5[33];
	char ck_alg[16];                  /* x-amz-checksum-<alg>: the alg, its value, and -type */
	char ck_val[64];
	char ck_type[16];
	int64_t meta_mtime;
	bool has_meta_mtime;
	uint64_t content_length;
	bool has_content_length;
	long retry_after_ms;
};

struct du_s3_conn {
	struct du_s3 *s3;
	CURL *h;
	char errbuf[CURL_ERROR_SIZE];
	struct resp r;
	/* request body being sent */
	const char *up;
	size_t up_len, up_off;
	/* header lines: curl only reads the list, so nodes and text live here, no allocation */
	struct curl_slist nodes[MAX_HDRS];
	int nhdr;
	char hbuf[HDRBUF];
	size_t hused;
	struct du_sigv4_hdr sign[MAX_HDRS];
	int nsign;
	uint64_t rnd;
	int last_attempts;               /* attempts the last request took */
	bool ck_echoed;                  /* the last PUT's checksum came back (du_s3_checksum_echoed) */
	bool skew_tried;                 /* the current request already corrected the clock once */
	struct du_s3x_page pg;
};

/* One request, as an operation describes it. */
struct rq {
	const char *method;
	const char *op;                  /* for messages: "PUT", "LIST", ... */
	const char *key;                 /* NULL: bucket-level */
	const char *query;               /* raw "name=value&..."; '&' never inside a value */
	bool query_encoded;              /* query built by qadd: names and values encoded already */
	const void *body;
	size_t len;
	const char *md5_b64;             /* Content-MD5 */
	const char *content_type;
	const char *amz[8][2];           /* extra x-amz-* headers, signed */
	int namz;
	size_t resp_max;
	/* Called after a 2xx: may turn it into an error (e.g. a 200 carrying <Error>). */
	int (*check)(struct du_s3_conn *c, const struct rq *q, struct du_err *err);
	/* Called for a non-2xx answer without a useful body (HEAD): fills err, returns its code. */
	int (*no_body)(struct du_s3_conn *c, const struct rq *q, struct du_err *err);
};

/* ---- process-wide ---- */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	/* before any worker thread parses: libxml2 initialises its globals here */
	xmlInitParser();
}

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static bool empty(const char *s)
{
	return !s || !*s;
}

int du_s3_opts_from_config(struct du_s3_opts *o, const struct du_config *cfg)
{
	memset(o, 0, sizeof(*o));
	o->bucket = cfg->bucket_name;
	o->region = cfg->aws_region;
	o->endpoint = empty(cfg->s3_endpoint) ? NULL : cfg->s3_endpoint;
	o->addressing = cfg->s3_addressing;
	o->payload_signing = cfg->payload_signing;
	o->connect_timeout = cfg->connect_timeout;
	o->request_timeout = cfg->request_timeout;
	o->retry_base_ms = cfg->retry_base_ms;
	o->retry_cap_ms = cfg->retry_cap_ms;
	o->max_attempts = DU_RETRY_REQUEST_ATTEMPTS;
	o->storage_class = empty(cfg->storage_class) ? NULL : cfg->storage_class;
	o->sse = empty(cfg->sse) ? NULL : cfg->sse;
	o->sse_kms_key_id = empty(cfg->sse_kms_key_id) ? NULL : cfg->sse_kms_key_id;
	o->ca_bundle = empty(cfg->ca_bundle) ? NULL : cfg->ca_bundle;
	return DU_OK;
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *arg)
{
	struct du_s3 *s3 = arg;
	(void)h, (void)access;
	pthread_mutex_lock(&s3->locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *arg)
{
	struct du_s3 *s3 = arg;
	(void)h;
	pthread_mutex_unlock(&s3->locks[data]);
}

/* Split "scheme://authority/path" of a custom endpoint. */
static int parse_endpoint(const char *ep, char **scheme, char **authority, char **path, struct du_err *err)
{
	const char *p = strstr(ep, "://");
	if (!p || (strncasecmp(ep, "http://", 7) && strncasecmp(ep, "https://", 8)))
		return du_err_set(err, DU_ERR_CONFIG, "s3 endpoint '%s' is not an http:// or https:// URL", ep);
	const char *a = p + 3;
	size_t alen = strcspn(a, "/?#");
	if (alen == 0)
		return du_err_set(err, DU_ERR_CONFIG, "s3 endpoint '%s' has no host", ep);
	const char *rest = a + alen;
	if (*rest == '?' || *rest == '#')
		return du_err_set(err, DU_ERR_CONFIG, "s3 endpoint '%s' must not have a query", ep);
	size_t plen = strlen(rest);
	while (plen && rest[plen - 1] == '/')
		plen--;
	*scheme = strndup(ep, (size_t)(p - ep));
	*authority = strndup(a, alen);
	*path = strndup(rest, plen);
	if (!*scheme || !*authority || !*path)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	for (char *s = *scheme; *s; s++)
		*s = (char)tolower((unsigned char)*s);
	return DU_OK;
}

static int build_addressing(struct du_s3 *s3, const char *endpoint, struct du_err *err)
{
	const struct du_s3_opts *o = &s3->o;
	char *scheme = NULL, *auth = NULL, *epath = NULL;
	int rc = DU_OK;
	bool path_style;

	if (o->addressing == DU_ADDR_PATH)
		path_style = true;
	else if (o->addressing == DU_ADDR_VIRTUAL)
		path_style = false;
	else /* a '.' in the bucket breaks the *.s3 wildcard certificate; custom endpoints rarely do vhosts */
		path_style = endpoint || strchr(o->bucket, '.');

	if (endpoint) {
		if ((rc = parse_endpoint(endpoint, &scheme, &auth, &epath, err)))
			goto out;
	} else {
		scheme = strdup("https");
		epath = strdup("");
		if (asprintf(&auth, "s3.%s.amazonaws.com", s3->region) < 0)
			auth = NULL;
		if (!scheme || !epath || !auth) {
			rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	int n;
	if (path_style) {
		s3->host = strdup(auth);
		n = asprintf(&s3->path_prefix, "%s/%s", epath, o->bucket);
	} else {
		n = asprintf(&s3->host, "%s.%s", o->bucket, auth);
		if (n >= 0)
			n = (s3->path_prefix = strdup(epath)) ? 0 : -1;
	}
	if (n < 0 || !s3->host || asprintf(&s3->base, "%s://%s", scheme, s3->host) < 0 ||
	    !(s3->bucket_path = strdup(s3->path_prefix[0] ? s3->path_prefix : "/"))) {
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
		goto out;
	}
out:
	free(scheme);
	free(auth);
	free(epath);
	return rc;
}

int du_s3_new(struct du_s3 **out, const struct du_s3_opts *o, struct du_creds_provider *cp,
	      struct du_err *err)
{
	struct du_s3 *s3 = NULL;
	int rc = DU_OK;

	pthread_once(&once, global_init);
	if (global_rc != CURLE_OK)
		return du_err_set(err, DU_ERR_INTERNAL, "cannot initialise libcurl: %s", curl_easy_strerror(global_rc));
	if (empty(o->bucket))
		return du_err_set(err, DU_ERR_CONFIG, "no bucket name");
	if (!(s3 = calloc(1, sizeof(*s3))))
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&s3->locks[i], NULL);
	s3->o = *o;
	s3->cp = cp;
	s3->bucket = xstrdup(o->bucket);
	s3->region = xstrdup(empty(o->region) ? "us-east-1" : o->region);
	s3->storage_class = xstrdup(empty(o->storage_class) ? NULL : o->storage_class);
	s3->sse = xstrdup(empty(o->sse) ? NULL : o->sse);
	s3->sse_kms_key_id = xstrdup(empty(o->sse_kms_key_id) ? NULL : o->sse_kms_key_id);
	s3->ca_bundle = xstrdup(empty(o->ca_bundle) ? NULL : o->ca_bundle);
	s3->o.bucket = s3->bucket;
	s3->o.region = s3->region;
	s3->o.storage_class = s3->storage_class;
	s3->o.sse = s3->sse;
	s3->o.sse_kms_key_id = s3->sse_kms_key_id;
	s3->o.ca_bundle = s3->ca_bundle;
	s3->o.endpoint = NULL; /* only used to build the addressing below */
	if (!s3->bucket || !s3->region) {
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (s3->o.connect_timeout <= 0)
		s3->o.connect_timeout = 10;
	if (s3->o.request_timeout <= 0)
		s3->o.request_timeout = 60;
	if (s3->o.retry_base_ms <= 0)
		s3->o.retry_base_ms = 100;
	if (s3->o.retry_cap_ms <= 0)
		s3->o.retry_cap_ms = 20000;
	if (s3->o.max_attempts <= 0)
		s3->o.max_attempts = DU_RETRY_REQUEST_ATTEMPTS;
	if (s3->o.list_page_size <= 0 || s3->o.list_page_size > 1000)
		s3->o.list_page_size = 1000;
	s3->kms = s3->sse && !strcmp(s3->sse, "aws:kms");
	if ((rc = build_addressing(s3, empty(o->endpoint) ? NULL : o->endpoint, err)))
		goto out;
	if (asprintf(&s3->ua, "du/%s (+libcurl/%s)", DU_VERSION, curl_version_info(CURLVERSION_NOW)->version) < 0) {
		s3->ua = NULL;
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (!(s3->gov = du_governor_new(NULL)) || !(s3->sh = curl_share_init())) {
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
		goto out;
	}
	curl_share_setopt(s3->sh, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(s3->sh, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(s3->sh, CURLSHOPT_USERDATA, s3);
	curl_share_setopt(s3->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(s3->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
out:
	if (rc) {
		du_s3_free(s3);
		return rc;
	}
	*out = s3;
	return DU_OK;
}

void du_s3_free(struct du_s3 *s3)
{
	if (!s3)
		return;
	if (s3->sh)
		curl_share_cleanup(s3->sh);
	du_governor_free(s3->gov);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&s3->locks[i]);
	free(s3->bucket);
	free(s3->region);
	free(s3->storage_class);
	free(s3->sse);
	free(s3->sse_kms_key_id);
	free(s3->ca_bundle);
	free(s3->base);
	free(s3->host);
	free(s3->path_prefix);
	free(s3->bucket_path);
	free(s3->ua);
	free(s3);
}

void du_s3_set_abort(struct du_s3 *s3, const volatile int *flag)
{
	s3->abort_flag = flag;
}

void du_s3_abort_all(struct du_s3 *s3)
{
	atomic_store(&s3->abort_all, 1);
}

static bool aborted(struct du_s3 *s3)
{
	if (atomic_load_explicit(&s3->abort_all, memory_order_relaxed))
		return true;
	return s3->abort_flag && *s3->abort_flag;
}

static bool stop_cb(void *arg)
{
	return aborted(arg);
}

void du_s3_stats(struct du_s3 *s3, struct du_s3_stats *out)
{
	out->requests = atomic_load(&s3->requests);
	out->attempts = atomic_load(&s3->attempts);
	out->retries = atomic_load(&s3->retries);
	out->throttles = atomic_load(&s3->throttles);
	out->failures = atomic_load(&s3->failures);
	out->bytes_sent = atomic_load(&s3->sent);
	out->bytes_received = atomic_load(&s3->received);
	struct du_governor_stats g;
	du_governor_stats(s3->gov, &g);
	out->rate = g.rate;
}

/* ---- connection: one easy handle ---- */

/* Header value into dst (trimmed) if line is "name: value" (name case-insensitive). */
static void resp_reset_headers(struct resp *r)
{
	r->etag[0] = r->request_id[0] = r->bucket_region[0] = r->meta_md5[0] = '\0';
	r->ck_alg[0] = r->ck_val[0] = r->ck_type[0] = '\0';
	r->meta_mtime = 0;
	r->has_meta_mtime = false;
	r->has_content_length = false;
	r->content_length = 0;
	r->retry_after_ms = 0;
	r->date = 0;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" -> UTC seconds, 0 when malformed (no strptime: locale-free). */
static int64_t http_date(const char *v)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct tm tm = {0};
	char mon[4];
	if (sscanf(v, "%*3s, %2d %3s %4d %2d:%2d:%2d GMT", &tm.tm_mday, mon, &tm.tm_year, &tm.tm_hour, &tm.tm_min,
		   &tm.tm_sec) != 6)
		return 0;
	const char *m = strstr(months, mon);
	if (!m || (m - months) % 3)
		return 0;
	tm.tm_mon = (int)(m - months) / 3;
	tm.tm_year -= 1900;
	return (int64_t)timegm(&tm);
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = size * n;
	char v[160];

	if (len >= 5 && !strncmp(p, "HTTP/", 5)) {
		resp_reset_headers(r); /* a new response (after 100 Continue, say) */
		return len;
	}
	switch (tolower((unsigned char)p[0])) {
	case 'd':
		if (du_http_header(p, len, "date", v, sizeof(v)))
			r->date = http_date(v);
		break;
	case 'e':
		if (du_http_header(p, len, "etag", r->etag, sizeof(r->etag)))
			du_s3x_unquote(r->etag);
		break;
	case 'c':
		if (du_http_header(p, len, "content-length", v, sizeof(v))) {
			char *end;
			r->content_length = strtoull(v, &end, 10);
			r->has_content_length = end != v && !*end;
		}
		break;
	case 'r':
		if (du_http_header(p, len, "retry-after", v, sizeof(v)))
			r->retry_after_ms = du_http_retry_after_ms(v);
		break;
	case 'x':
		if (du_http_header(p, len, "x-amz-request-id", r->request_id, sizeof(r->request_id)))
			break;
		if (du_http_header(p, len, "x-amz-bucket-region", r->bucket_region, sizeof(r->bucket_region)))
			break;
		if (du_http_header(p, len, "x-amz-meta-du-md5", r->meta_md5, sizeof(r->meta_md5)))
			break;
		if (len > 15 && !strncasecmp(p, "x-amz-checksum-", 15)) {
			if (du_http_header(p, len, "x-amz-checksum-type", r->ck_type, sizeof(r->ck_type)))
				break;
			const char *colon = memchr(p, ':', len);
			size_t nl = colon ? (size_t)(colon - p) - 15 : 0;
			if (nl && nl < sizeof(r->ck_alg)) {
				char name[40];
				for (size_t i = 0; i < nl; i++)
					r->ck_alg[i] = (char)tolower((unsigned char)p[15 + i]);
				r->ck_alg[nl] = '\0';
				snprintf(name, sizeof(name), "x-amz-checksum-%s", r->ck_alg);
				if (!du_http_header(p, len, name, r->ck_val, sizeof(r->ck_val)))
					r->ck_alg[0] = '\0';
			}
			break;
		}
		if (du_http_header(p, len, "x-amz-meta-du-mtime", v, sizeof(v))) {
			char *end;
			errno = 0;
			long long t = strtoll(v, &end, 10);
			if (end != v && !*end && !errno) {
				r->meta_mtime = t;
				r->has_meta_mtime = true;
			}
		}
		break;
	}
	return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
	struct du_s3_conn *c = arg;
	size_t want = size * n, left = c->up_len - c->up_off;
	if (aborted(c->s3))
		return CURL_READFUNC_ABORT;
	if (want > left)
		want = left;
	memcpy(buf, c->up + c->up_off, want);
	c->up_off += want;
	return want;
}

static int on_seek(void *arg, curl_off_t off, int origin)
{
	struct du_s3_conn *c = arg;
	if (origin != SEEK_SET || off < 0 || (uint64_t)off > c->up_len)
		return CURL_SEEKFUNC_CANTSEEK;
	c->up_off = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct du_s3_conn *c = arg;
	(void)dt, (void)dn, (void)ut, (void)un;
	return aborted(c->s3) ? 1 : 0;
}

int du_s3_conn_new(struct du_s3 *s3, struct du_s3_conn **out, struct du_err *err)
{
	struct du_s3_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	c->s3 = s3;
	if (!(c->h = curl_easy_init())) {
		free(c);
		return du_err_set(err, DU_ERR_NOMEM, "cannot create a curl handle");
	}
	c->rnd = (uint64_t)time(NULL) ^ ((uint64_t)(uintptr_t)c << 16) ^ 0x9e3779b97f4a7c15ULL;
	CURL *h = c->h;
	/* Everything that does not change between requests is set once here. */
	/* big parts take long: give up only when nothing moves for request_timeout seconds */
	struct du_http_opts ho = {
		.ca_bundle = s3->ca_bundle, .user_agent = s3->ua, .errbuf = c->errbuf,
		.connect_timeout_ms = (long)s3->o.connect_timeout * 1000L,
		.low_speed_time_s = (long)s3->o.request_timeout,
	};
	du_http_setup(h, &ho);
	curl_easy_setopt(h, CURLOPT_SHARE, s3->sh);
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, du_http_body_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &c->r.body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &c->r);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(h, CURLOPT_READDATA, c);
	curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
	curl_easy_setopt(h, CURLOPT_SEEKDATA, c);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	*out = c;
	return DU_OK;
}

void du_s3_conn_free(struct du_s3_conn *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->h);
	du_http_body_release(&c->r.body);
	du_s3x_page_release(&c->pg);
	free(c);
}

/* ---- one request ---- */

static void hdr_reset(struct du_s3_conn *c)
{
	c->nhdr = 0;
	c->hused = 0;
	c->nsign = 0;
}

/* Add "name: value" to the lines sent; signed ones also go to the SigV4 list (same bytes). */
static int hdr_add(struct du_s3_conn *c, const char *name, const char *value, bool sign)
{
	size_t nl = strlen(name), vl = value ? strlen(value) : 0;
	size_t need = nl + 2 + vl + 1;
	if (c->nhdr == MAX_HDRS || c->hused + need > HDRBUF)
		return -1;
	char *line = c->hbuf + c->hused;
	memcpy(line, name, nl);
	line[nl] = ':';
	if (value) {
		line[nl + 1] = ' ';
		memcpy(line + nl + 2, value, vl);
		line[nl + 2 + vl] = '\0';
	} else {
		line[nl + 1] = '\0'; /* "Name:" with nothing: curl then sends no such header */
	}
	c->hused += need;
	c->nodes[c->nhdr].data = line;
	c->nodes[c->nhdr].next = NULL;
	if (c->nhdr)
		c->nodes[c->nhdr - 1].next = &c->nodes[c->nhdr];
	c->nhdr++;
	if (sign) {
		/* name and value stay in the line: sign a NUL-split copy of the name */
		char *nm = c->hbuf + c->hused;
		if (c->hused + nl + 1 > HDRBUF)
			return -1;
		memcpy(nm, name, nl + 1);
		c->hused += nl + 1;
		c->sign[c->nsign].name = nm;
		c->sign[c->nsign].value = line + nl + 2;
		c->nsign++;
	}
	return 0;
}

/* "/bucket/key" (raw) or the bucket path. */
static char *raw_path(struct du_s3 *s3, const char *key)
{
	char *p;
	if (!key)
		return strdup(s3->bucket_path);
	if (asprintf(&p, "%s/%s", s3->path_prefix, key) < 0)
		return NULL;
	return p;
}

/* The URL sent: base + encoded path + '?' + each name and value encoded like SigV4 does. */
static char *build_url(struct du_s3 *s3, const char *path, const char *query, bool encoded)
{
	char *ep = du_sigv4_uri_encode(path, strlen(path), 1), *url = NULL;
	if (!ep)
		return NULL;
	size_t cap = strlen(s3->base) + strlen(ep) + 2 + (query ? 3 * strlen(query) : 0) + 1;
	if (!(url = malloc(cap)))
		goto out;
	size_t n = (size_t)snprintf(url, cap, "%s%s", s3->base, ep);
	if (!empty(query) && encoded) {
		snprintf(url + n, cap - n, "?%s", query);
	} else if (!empty(query)) {
		url[n++] = '?';
		const char *q = query;
		while (*q) {
			size_t plen = strcspn(q, "&");
			const char *eq = memchr(q, '=', plen);
			size_t nlen = eq ? (size_t)(eq - q) : plen;
			char *en = du_sigv4_uri_encode(q, nlen, 0);
			char *ev = eq ? du_sigv4_uri_encode(eq + 1, plen - nlen - 1, 0) : NULL;
			if (!en || (eq && !ev)) {
				free(en);
				free(ev);
				free(url);
				url = NULL;
				goto out;
			}
			n += (size_t)snprintf(url + n, cap - n, "%s%s%s", en, eq ? "=" : "", ev ? ev : "");
			free(en);
			free(ev);
			q += plen;
			if (*q == '&') {
				url[n++] = '&';
				url[n] = '\0';
				q++;
			}
		}
	}
out:
	free(ep);
	return url;
}

char *du_s3i_url(struct du_s3 *s3, const char *key, const char *query)
{
	char *path = raw_path(s3, key), *url = path ? build_url(s3, path, query, false) : NULL;
	free(path);
	return url;
}

const char *du_s3i_host(const struct du_s3 *s3)
{
	return s3->host;
}

static bool is_auth_code(const char *code)
{
	static const char *const codes[] = {
		"AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId", "ExpiredToken",
		"InvalidToken", "TokenRefreshRequired", "AllAccessDisabled", "AccountProblem",
		"InvalidSecurity", "MissingSecurityHeader", NULL,
	};
	for (const char *const *p = codes; *p; p++)
		if (!strcmp(code, *p))
			return true;
	return false;
}

static const char *what(const struct du_s3_conn *c, const struct rq *q)
{
	return q->key ? q->key : c->s3->bucket;
}

/* err from an S3 error document (or its absence). */
static int s3_error(struct du_s3_conn *c, const struct rq *q, const struct du_s3x_error *e, struct du_err *err)
{
	struct du_s3 *s3 = c->s3;
	struct resp *r = &c->r;
	const char *rid = e && e->request_id[0] ? e->request_id : r->request_id;
	int code = DU_ERR_S3;
	if (e && e->code[0]) {
		if (is_auth_code(e->code))
			code = DU_ERR_S3_AUTH;
		else if (!strcmp(e->code, "NoSuchKey") || !strcmp(e->code, "NoSuchUpload"))
			code = DU_ERR_NOTFOUND;
		if (!strcmp(e->code, "NoSuchBucket"))
			du_err_set(err, code, "bucket '%s' does not exist (NoSuchBucket)", s3->bucket);
		else if (e->message[0])
			du_err_set(err, code, "%s '%s': %ld %s: %s", q->op, what(c, q), r->status, e->code, e->message);
		else
			du_err_set(err, code, "%s '%s': %ld %s", q->op, what(c, q), r->status, e->code);
		snprintf(err->s3_code, sizeof(err->s3_code), "%s", e->code);
	} else {
		if (r->status == 403)
			code = DU_ERR_S3_AUTH;
		else if (r->status == 404 && q->key)
			code = DU_ERR_NOTFOUND;
		du_err_set(err, code, "%s '%s': HTTP %ld", q->op, what(c, q), r->status);
	}
	if (rid[0]) {
		size_t l = strlen(err->msg);
		snprintf(err->msg + l, sizeof(err->msg) - l, " (request id %s)", rid);
		snprintf(err->request_id, sizeof(err->request_id), "%s", rid);
	}
	err->http_status = r->status;
	bool other_region = r->bucket_region[0] && strcmp(r->bucket_region, s3->region);
	if (other_region || r->status == 301 || r->status == 307 || (e && !strcmp(e->code, "PermanentRedirect"))) {
		if (r->bucket_region[0])
			du_err_hint(err, "bucket '%s' is in region %s: set aws_region", s3->bucket, r->bucket_region);
		else
			du_err_hint(err, "bucket '%s' is in another region: set aws_region", s3->bucket);
	} else if (e && !strcmp(e->code, "RequestTimeTooSkewed")) {
		du_err_hint(err, "the system clock is off: fix it (NTP) and run again");
	} else if (code == DU_ERR_S3_AUTH && e && !strcmp(e->code, "SignatureDoesNotMatch")) {
		du_err_hint(err, "check the secret access key");
	}
	return code;
}

/* One attempt. *hopeless is set for transport failures no retry can fix (TLS trust, bad URL). */
static int sign_and_send(struct du_s3_conn *c, const struct rq *q, const char *path, const char *url,
			 const char *payload_hash, bool *hopeless, struct du_err *err)
{
	struct du_s3 *s3 = c->s3;
	struct resp *r = &c->r;
	struct du_creds cr;
	struct du_sigv4_out so = {0};
	char date[17];
	int rc;

	if ((rc = du_creds_get(s3->cp, &cr, err)))
		return rc;
	du_sigv4_amz_date((long long)time(NULL) + atomic_load_explicit(&s3->skew, memory_order_relaxed), date);
	hdr_reset(c);
	int bad = hdr_add(c, "Host", s3->host, true);
	bad |= hdr_add(c, "x-amz-date", date, true);
	bad |= hdr_add(c, "x-amz-content-sha256", payload_hash, true);
	if (cr.session_token[0])
		bad |= hdr_add(c, "x-amz-security-token", cr.session_token, true);
	if (q->md5_b64)
		bad |= hdr_add(c, "Content-MD5", q->md5_b64, true);
	for (int i = 0; i < q->namz; i++)
		bad |= hdr_add(c, q->amz[i][0], q->amz[i][1], true);
	if (q->content_type)
		bad |= hdr_add(c, "Content-Type", q->content_type, false);
	else if (!strcmp(q->method, "PUT"))
		bad |= hdr_add(c, "Content-Type", NULL, false); /* not curl's form type for an inline body */
	/* curl's defaults that we neither sign nor want */
	bad |= hdr_add(c, "Expect", NULL, false);
	bad |= hdr_add(c, "Accept", NULL, false);
	if (bad) {
		du_creds_wipe(&cr);
		return du_err_set(err, DU_ERR_INTERNAL, "%s '%s': request headers too large", q->op, what(c, q));
	}
	struct du_sigv4_req sr = {
		.method = q->method, .path = path, .query = q->query, .query_encoded = q->query_encoded,
		.headers = c->sign, .nheaders = (size_t)c->nsign,
		.payload_hash = payload_hash,
		.access_key = cr.access_key, .secret_key = cr.secret_key,
		.region = s3->region, .service = "s3", .amz_date = date,
	};
	rc = du_sigv4_sign(&sr, &so, err);
	du_creds_wipe(&cr);
	if (rc)
		return rc;
	bad = hdr_add(c, "Authorization", so.authorization, false);
	du_sigv4_out_release(&so);
	if (bad)
		return du_err_set(err, DU_ERR_INTERNAL, "%s '%s': request headers too large", q->op, what(c, q));

	CURL *h = c->h;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, &c->nodes[0]);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
	curl_easy_setopt(h, CURLOPT_HTTPGET, 1L); /* resets upload/nobody/post from the last request */
	c->up = q->body;
	c->up_len = q->body ? q->len : 0;
	c->up_off = 0;
	bool inline_body = false;
	if (!strcmp(q->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(q->method, "PUT") && c->up_len <= INLINE_BODY_MAX) {
		/* A small body leaves with the headers, in one send, straight from the caller's buffer. */
		inline_body = true;
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body ? (const char *)q->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->up_len);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
	} else if (!strcmp(q->method, "PUT")) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->up_len);
	} else if (!strcmp(q->method, "POST")) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->up_len);
	} else if (strcmp(q->method, "GET")) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
	}

	du_http_body_reset(&r->body);
	r->body.max = q->resp_max ? q->resp_max : BODY_CAP;
	r->status = 0;
	resp_reset_headers(r);
	c->errbuf[0] = '\0';
	atomic_fetch_add_explicit(&s3->attempts, 1, memory_order_relaxed);
	CURLcode cc = curl_easy_perform(h);
	if (inline_body) {
		curl_off_t up = 0;
		curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &up);
		c->up_off = (size_t)up;
	}
	atomic_fetch_add_explicit(&s3->sent, c->up_off, memory_order_relaxed);
	atomic_fetch_add_explicit(&s3->received, r->body.sb.len, memory_order_relaxed);
	if (cc != CURLE_OK) {
		if (aborted(s3))
			return du_err_set(err, DU_ERR_INTERRUPTED, "%s '%s': interrupted", q->op, what(c, q));
		if (r->body.over)
			return du_err_set(err, DU_ERR_PARSE, "%s '%s': answer larger than %zu bytes", q->op,
					  what(c, q), r->body.max);
		du_err_set(err, DU_ERR_NET, "%s '%s': %s%s%s", q->op, what(c, q), curl_easy_strerror(cc),
			   c->errbuf[0] ? ": " : "", c->errbuf);
		*hopeless = !du_http_curl_retryable(cc);
		return DU_ERR_NET;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->status >= 200 && r->status < 300)
		return q->check ? q->check(c, q, err) : DU_OK;
	if (r->body.sb.len == 0 && q->no_body)
		return q->no_body(c, q, err);
	struct du_s3x_error e;
	if (r->body.sb.len && du_s3x_parse_error(r->body.sb.buf, r->body.sb.len, &e) == DU_OK)
		return s3_error(c, q, &e, err);
	return s3_error(c, q, NULL, err);
}

/* A RequestTimeTooSkewed answer carries the server's Date: remember the offset, once per
 * request, when it is large enough to explain the refusal. */
static bool learn_skew(struct du_s3_conn *c, const struct du_err *err)
{
	struct du_s3 *s3 = c->s3;
	if (strcmp(err->s3_code, "RequestTimeTooSkewed") || !c->r.date || c->skew_tried)
		return false;
	long off = (long)(c->r.date - (int64_t)time(NULL));
	if (off > -60 && off < 60)
		return false;
	c->skew_tried = true;
	atomic_store_explicit(&s3->skew, off, memory_order_relaxed);
	return true;
}

static uint64_t conn_rnd(void *arg)
{
	uint64_t *s = arg;
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Send q, retrying per the policy. On failure err is complete, retryable included. */
static int perform(struct du_s3_conn *c, const struct rq *q, struct du_err *err)
{
	struct du_s3 *s3 = c->s3;
	struct du_err scratch;
	if (!err) /* callers that only clean up may not care why */
		err = &scratch;
	char hash[DU_SHA256_HEX_LEN];
	const char *payload_hash = DU_SIGV4_UNSIGNED;
	char *path = NULL, *url = NULL;
	int rc = DU_OK, attempt = 0;

	atomic_fetch_add_explicit(&s3->requests, 1, memory_order_relaxed);
	c->last_attempts = 0;
	c->skew_tried = false;
	if (s3->o.payload_signing) {
		du_sha256_hex(q->body ? q->body : "", q->body ? q->len : 0, hash);
		payload_hash = hash;
	}
	if (!(path = raw_path(s3, q->key)) || !(url = build_url(s3, path, q->query, q->query_encoded))) {
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (attempt = 1;; attempt++) {
		uint64_t ticket = 0;
		if (aborted(s3) || du_governor_acquire(s3->gov, stop_cb, s3, &ticket)) {
			rc = du_err_set(err, DU_ERR_INTERRUPTED, "%s '%s': interrupted", q->op, what(c, q));
			break;
		}
		du_err_clear(err);
		c->last_attempts = attempt;
		bool hopeless = false;
		rc = sign_and_send(c, q, path, url, payload_hash, &hopeless, err);
		if (rc == DU_OK) {
			du_governor_success(s3->gov);
			break;
		}
		if (rc == DU_ERR_INTERRUPTED)
			break;
		if (du_retry_is_throttle(err)) {
			atomic_fetch_add_explicit(&s3->throttles, 1, memory_order_relaxed);
			du_governor_throttled(s3->gov, ticket);
		} else if (err->http_status) {
			du_governor_success(s3->gov); /* answered without complaint about the rate */
		}
		bool again = !hopeless && du_retry_is_retryable(err);
		if (!again && learn_skew(c, err)) {
			/* like the AWS SDKs: sign with the server's clock and try once more, at once */
			atomic_fetch_add_explicit(&s3->retries, 1, memory_order_relaxed);
			continue;
		}
		err->retryable = again;
		if (!again || attempt >= s3->o.max_attempts)
			break;
		atomic_fetch_add_explicit(&s3->retries, 1, memory_order_relaxed);
		du_wait_ms(du_retry_delay_ms(attempt, s3->o.retry_base_ms, s3->o.retry_cap_ms,
					     c->r.retry_after_ms, conn_rnd, &c->rnd), stop_cb, s3);
	}
out:
	if (rc)
		atomic_fetch_add_explicit(&s3->failures, 1, memory_order_relaxed);
	free(path);
	free(url);
	return rc;
}

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
		return s3_error(c, q, NULL, err);
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
	return perform(c, &q, err);
}

/*
 * Append name=value to a query that is sent and signed as encoded (rq.query_encoded): the value is
 * RFC 3986-encoded here, so it may hold any byte (a continuation token, a marker, a prefix with
 * '&'). Names are du's own and plain. A failure is latched in qs->oom.
 */
static void qadd(struct du_strbuf *qs, const char *name, const char *raw)
{
	char *value = raw ? du_sigv4_uri_encode(raw, strlen(raw), 0) : NULL;
	if (raw && !value) {
		qs->oom = true;
		return;
	}
	du_strbuf_addf(qs, "%s%s%s%s", qs->len ? "&" : "", name, value ? "=" : "", value ? value : "");
	free(value);
}

static int page_error(struct du_s3_conn *c, const struct rq *q, int rc, struct du_err *err)
{
	if (rc == DU_ERR_S3)
		return s3_error(c, q, &c->pg.error, err);
	/* An answer that is not a listing is the store's trouble, like an error answer (exit 5). */
	if (rc == DU_ERR_PARSE)
		rc = err->code = DU_ERR_S3;
	return rc;
}

/*
 * One paginated listing (objects, multipart uploads, parts): list_pages() is the loop, and each
 * kind says how to ask for the next page, how to read one, and what a page hands on.
 */
struct pager {
	const char *op;
	const char *key;                 /* NULL: bucket-level */
	bool query_encoded;              /* the query is built by qadd */
	bool decode_asked;               /* see du_s3x_page.decode_asked */
	void (*ask)(struct pager *p, struct du_strbuf *qs);
	int (*parse)(const char *buf, size_t len, struct du_s3x_page *pg, struct du_err *err);
	int (*deliver)(struct pager *p, const struct du_s3x_page *pg);   /* the caller's callback value */
	int (*advance)(struct pager *p, struct du_s3x_page *pg, struct du_err *err);
};

static int list_pages(struct du_s3_conn *c, struct pager *p, struct du_err *err)
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
		if ((rc = perform(c, &q, err)))
			break;
		c->pg.decode_asked = p->decode_asked;
		rc = p->parse(c->r.body.sb.buf, c->r.body.sb.len, &c->pg, err);
		c->pg.decode_asked = false;
		if (rc) {
			rc = page_error(c, &q, rc, err);
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
		qadd(qs, "continuation-token", op->token);
	qadd(qs, "encoding-type", "url");
	qadd(qs, "list-type", "2");
	qadd(qs, "max-keys", op->maxkeys);
	if (!empty(op->prefix))
		qadd(qs, "prefix", op->prefix);
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
	int rc = list_pages(c, &op.p, err);
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
	return s3_error(c, q, NULL, err);
}

int du_s3_head_object(struct du_s3_conn *c, const char *key, struct du_s3_object_info *out,
		      struct du_err *err)
{
	struct rq q = { .method = "HEAD", .op = "HEAD", .key = key, .no_body = head_object_no_body,
			.amz = { { "x-amz-checksum-mode", "ENABLED" } }, .namz = 1 };
	int rc = perform(c, &q, err);
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

/* x-amz-* headers describing a new object, shared by PUT and CreateMultipartUpload. */
static void object_headers(struct du_s3 *s3, struct rq *q, const char *md5hex, const char *mtime)
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
}

static bool sends_checksum(int alg)
{
	return du_cksum_is_crc(alg) || alg == DU_CK_SHA256;
}

/* x-amz-checksum-<alg> of a PUT or part; x-amz-sdk-checksum-algorithm too, as the AWS SDKs send
 * it (moto stores and echoes the value only with it). hname must outlive the request. */
static void checksum_headers(struct rq *q, int alg, const char *b64, char hname[40])
{
	snprintf(hname, 40, "x-amz-checksum-%s", du_cksum_name(alg));
	q->amz[q->namz][0] = hname;
	q->amz[q->namz++][1] = b64;
	q->amz[q->namz][0] = "x-amz-sdk-checksum-algorithm";
	q->amz[q->namz++][1] = du_cksum_upper(alg);
}

/* A server that verified the checksum echoes it; one that echoes another value refused it in all
 * but name. Absent: the server ignored it (du_s3_checksum_echoed says so). */
static int check_echo(struct du_s3_conn *c, const char *op, const char *key, int alg, const char *b64,
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
static int check_etag(struct du_s3_conn *c, const char *op, const char *key, const char *md5hex,
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
	bool ck = p && sends_checksum(p->checksum_alg);
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
	object_headers(c->s3, &q, p->md5 ? md5hex : NULL, p->mtime ? mt : NULL);
	if (ck)
		checksum_headers(&q, p->checksum_alg, p->checksum_b64, hname);
	c->ck_echoed = false;
	int rc = perform(c, &q, err);
	if (!rc && p->md5)
		rc = check_etag(c, "PUT", key, md5hex, err);
	if (!rc && ck)
		rc = check_echo(c, "PUT", key, p->checksum_alg, p->checksum_b64, err);
	if (!rc && etag_out)
		snprintf(etag_out, DU_S3_ETAG_MAX, "%s", c->r.etag);
	return rc;
}

int du_s3_get_object(struct du_s3_conn *c, const char *key, size_t max, void **buf, size_t *len,
		     struct du_err *err)
{
	struct rq q = { .method = "GET", .op = "GET", .key = key, .resp_max = max ? max : 1 };
	int rc = perform(c, &q, err);
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
	return perform(c, &q, err);
}

/* ---- multipart ---- */

static int check_initiate(struct du_s3_conn *c, const struct rq *q, struct du_err *err)
{
	int rc = du_s3x_parse_initiate(c->r.body.sb.buf, c->r.body.sb.len, &c->pg, err);
	return rc ? page_error(c, q, rc, err) : DU_OK;
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
	object_headers(c->s3, &q, NULL, has_mt ? mt : NULL);
	if (p && sends_checksum(p->checksum_alg)) {
		q.amz[q.namz][0] = "x-amz-checksum-algorithm";
		q.amz[q.namz++][1] = du_cksum_upper(p->checksum_alg);
		q.amz[q.namz][0] = "x-amz-checksum-type";
		q.amz[q.namz++][1] = du_cksum_is_crc(p->checksum_alg) ? "FULL_OBJECT" : "COMPOSITE";
	}
	int rc = perform(c, &q, err);
	if (rc)
		return rc;
	*upload_id = c->pg.upload_id;
	c->pg.upload_id = NULL;
	return DU_OK;
}

static int check_upload_id(const char *op, const char *key, const char *upload_id, struct du_err *err)
{
	if (empty(upload_id) || strchr(upload_id, '&'))
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
	bool ck = sends_checksum(alg) && b64;
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
		checksum_headers(&q, alg, b64, hname);
	c->ck_echoed = false;
	rc = perform(c, &q, err);
	free(qs);
	if (!rc && md5)
		rc = check_etag(c, "PUT-PART", key, md5hex, err);
	if (!rc && ck)
		rc = check_echo(c, "PUT-PART", key, alg, b64, err);
	if (!rc && etag_out)
		snprintf(etag_out, DU_S3_ETAG_MAX, "%s", c->r.etag);
	return rc;
}

static int check_complete(struct du_s3_conn *c, const struct rq *q, struct du_err *err)
{
	int rc = du_s3x_parse_complete(c->r.body.sb.buf, c->r.body.sb.len, &c->pg, err);
	if (rc == DU_ERR_S3) {
		/* 200 OK whose body is an <Error>: S3 failed after it had started answering */
		rc = s3_error(c, q, &c->pg.error, err);
		return rc;
	}
	return rc;
}

static int xml_escaped_append(char *dst, size_t cap, size_t *n, const char *s)
{
	for (; *s; s++) {
		const char *rep = NULL;
		switch (*s) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		}
		size_t l = rep ? strlen(rep) : 1;
		if (*n + l + 1 > cap)
			return -1;
		memcpy(dst + *n, rep ? rep : s, l);
		*n += l;
	}
	dst[*n] = '\0';
	return 0;
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
	char *qs = NULL, *body = NULL, hname[40];
	bool ck = sends_checksum(alg);
	const char *up = du_cksum_upper(alg);
	int rc;
	if ((rc = check_upload_id("COMPLETE-MULTIPART", key, upload_id, err)))
		return rc;
	if (nparts < 1 || nparts > DU_S3_MAX_PARTS)
		return du_err_set(err, DU_ERR_INTERNAL, "COMPLETE-MULTIPART '%s': %d parts", key, nparts);
	size_t cap = 64 + (size_t)nparts * (160 + 4 * DU_S3_ETAG_MAX), n = 0;
	if (!(body = malloc(cap)) || asprintf(&qs, "uploadId=%s", upload_id) < 0) {
		qs = NULL;
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
		goto out;
	}
	n = (size_t)snprintf(body, cap, "<CompleteMultipartUpload>");
	for (int i = 0; i < nparts; i++) {
		n += (size_t)snprintf(body + n, cap - n, "<Part><PartNumber>%d</PartNumber><ETag>&quot;",
				      parts[i].number);
		if (xml_escaped_append(body, cap, &n, parts[i].etag ? parts[i].etag : "")) {
			rc = du_err_set(err, DU_ERR_INTERNAL, "COMPLETE-MULTIPART '%s': etag too long", key);
			goto out;
		}
		n += (size_t)snprintf(body + n, cap - n, "&quot;</ETag>");
		if (ck && parts[i].checksum)
			n += (size_t)snprintf(body + n, cap - n, "<Checksum%s>%.60s</Checksum%s>", up, parts[i].checksum, up);
		n += (size_t)snprintf(body + n, cap - n, "</Part>");
	}
	n += (size_t)snprintf(body + n, cap - n, "</CompleteMultipartUpload>");
	struct rq q = {
		.method = "POST", .op = "COMPLETE-MULTIPART", .key = key, .query = qs, .body = body, .len = n,
		.content_type = "application/xml", .check = check_complete,
	};
	if (ck && whole_b64 && du_cksum_is_crc(alg)) {
		snprintf(hname, sizeof(hname), "x-amz-checksum-%s", du_cksum_name(alg));
		q.amz[q.namz][0] = hname;
		q.amz[q.namz++][1] = whole_b64;
		q.amz[q.namz][0] = "x-amz-checksum-type";
		q.amz[q.namz++][1] = "FULL_OBJECT";
	}
	rc = perform(c, &q, err);
	if (rc == DU_ERR_NOTFOUND && c->last_attempts > 1 && completed_already(c, key, nparts, etag_out)) {
		du_err_clear(err);
		rc = DU_OK;
		goto out;
	}
	if (!rc && etag_out)
		snprintf(etag_out, DU_S3_ETAG_MAX, "%s", c->pg.etag);
out:
	free(qs);
	free(body);
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
	rc = perform(c, &q, err);
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
	return rc ? rc : list_pages(c, &pp.p, err);
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
	qadd(qs, "encoding-type", "url");
	if (up->key_marker)
		qadd(qs, "key-marker", up->key_marker);
	qadd(qs, "max-uploads", up->maxup);
	if (!empty(up->prefix))
		qadd(qs, "prefix", up->prefix);
	if (up->id_marker)
		qadd(qs, "upload-id-marker", up->id_marker);
	qadd(qs, "uploads", NULL);
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
	int rc = list_pages(c, &up.p, err);
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

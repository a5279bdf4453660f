/* s3.c: the S3 client: options, connections, one request signed with du_sigv4, sent, retried per
 * retry.h and classified (see s3.h; the operations are in s3_object.c and s3_multipart.c). */
#include "s3/s3_request.h"

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

bool du_s3r_empty(const char *s)
{
	return !s || !*s;
}

int du_s3_opts_from_config(struct du_s3_opts *o, const struct du_config *cfg)
{
	memset(o, 0, sizeof(*o));
	o->bucket = cfg->bucket_name;
	o->region = cfg->aws_region;
	o->endpoint = du_s3r_empty(cfg->s3_endpoint) ? NULL : cfg->s3_endpoint;
	o->addressing = cfg->s3_addressing;
	o->payload_signing = cfg->payload_signing;
	o->connect_timeout = cfg->connect_timeout;
	o->request_timeout = cfg->request_timeout;
	o->retry_base_ms = cfg->retry_base_ms;
	o->retry_cap_ms = cfg->retry_cap_ms;
	o->max_attempts = DU_RETRY_REQUEST_ATTEMPTS;
	o->storage_class = du_s3r_empty(cfg->storage_class) ? NULL : cfg->storage_class;
	o->sse = du_s3r_empty(cfg->sse) ? NULL : cfg->sse;
	o->sse_kms_key_id = du_s3r_empty(cfg->sse_kms_key_id) ? NULL : cfg->sse_kms_key_id;
	o->ca_bundle = du_s3r_empty(cfg->ca_bundle) ? NULL : cfg->ca_bundle;
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
	if (du_s3r_empty(o->bucket))
		return du_err_set(err, DU_ERR_CONFIG, "no bucket name");
	if (!(s3 = calloc(1, sizeof(*s3))))
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&s3->locks[i], NULL);
	s3->o = *o;
	s3->cp = cp;
	s3->bucket = xstrdup(o->bucket);
	s3->region = xstrdup(du_s3r_empty(o->region) ? "us-east-1" : o->region);
	s3->storage_class = xstrdup(du_s3r_empty(o->storage_class) ? NULL : o->storage_class);
	s3->sse = xstrdup(du_s3r_empty(o->sse) ? NULL : o->sse);
	s3->sse_kms_key_id = xstrdup(du_s3r_empty(o->sse_kms_key_id) ? NULL : o->sse_kms_key_id);
	s3->ca_bundle = xstrdup(du_s3r_empty(o->ca_bundle) ? NULL : o->ca_bundle);
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
	if ((rc = build_addressing(s3, du_s3r_empty(o->endpoint) ? NULL : o->endpoint, err)))
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

void du_s3_set_bwlimit(struct du_s3 *s3, struct du_bwlimit *bw)
{
	du_bwlimit_free(s3->bw);
	s3->bw = bw;
}

struct du_bwlimit *du_s3_bwlimit(const struct du_s3 *s3)
{
	return s3 ? s3->bw : NULL;
}

void du_s3_free(struct du_s3 *s3)
{
	if (!s3)
		return;
	du_bwlimit_free(s3->bw);
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
	if (c->s3->bw && want) {
		/* Under a cap, small pieces (an eighth of a second's worth), each paid for first. */
		size_t k = du_bwlimit_chunk(c->s3->bw);
		if (want > k)
			want = k;
		if (!du_bwlimit_take(c->s3->bw, want, stop_cb, c->s3))
			return CURL_READFUNC_ABORT;
	}
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
	if (!du_s3r_empty(query) && encoded) {
		snprintf(url + n, cap - n, "?%s", query);
	} else if (!du_s3r_empty(query)) {
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
int du_s3r_s3_error(struct du_s3_conn *c, const struct rq *q, const struct du_s3x_error *e, struct du_err *err)
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
	for (int i = 0; i < q->nmeta; i++)
		bad |= hdr_add(c, q->meta[i][0], q->meta[i][1], true);
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
	/* A small body leaves in one send: it is paid for under the cap before. */
	if (inline_body && s3->bw && c->up_len && !du_bwlimit_take(s3->bw, c->up_len, stop_cb, s3))
		return du_err_set(err, DU_ERR_INTERRUPTED, "%s '%s': interrupted", q->op, what(c, q));
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
		return du_s3r_s3_error(c, q, &e, err);
	return du_s3r_s3_error(c, q, NULL, err);
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
int du_s3r_perform(struct du_s3_conn *c, const struct rq *q, struct du_err *err)
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

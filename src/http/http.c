/* http.c: the common libcurl setup and failure classification of http.h. */
#include "http/http.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void du_http_setup(CURL *h, const struct du_http_opts *o)
{
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (o->ca_bundle && *o->ca_bundle)
		curl_easy_setopt(h, CURLOPT_CAINFO, o->ca_bundle);
	if (o->user_agent)
		curl_easy_setopt(h, CURLOPT_USERAGENT, o->user_agent);
	if (o->errbuf)
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, o->errbuf);
	if (o->connect_timeout_ms > 0)
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	if (o->timeout_ms > 0)
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	if (o->low_speed_time_s > 0) {
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, o->low_speed_time_s);
	}
	if (o->no_proxy)
		curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
}

bool du_http_curl_retryable(CURLcode cc)
{
	switch (cc) {
	case CURLE_OK:
	/* no retry fixes these */
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_NOT_BUILT_IN:
	/* du ended it */
	case CURLE_WRITE_ERROR:
	case CURLE_ABORTED_BY_CALLBACK:
	case CURLE_OUT_OF_MEMORY:
		return false;
	default:
		return true;
	}
}

size_t du_http_body_write(char *p, size_t size, size_t n, void *arg)
{
	struct du_http_body *b = arg;
	size_t len = size * n, take = len;
	if (b->max && b->sb.len + len > b->max) {
		b->over = true;
		if (!b->truncate)
			return 0;
		take = b->max - b->sb.len;
	}
	du_strbuf_add(&b->sb, p, take);
	if (b->sb.oom) {
		b->over = true;
		return 0;
	}
	return len;
}

void du_http_body_reset(struct du_http_body *b)
{
	du_strbuf_reset(&b->sb);
	b->over = false;
}

void du_http_body_release(struct du_http_body *b)
{
	du_strbuf_release(&b->sb);
	b->over = false;
}

bool du_http_status_retryable(long status)
{
	return status == 408 || status == 429 || status >= 500;
}

bool du_http_header(const char *line, size_t len, const char *name, char *dst, size_t dstsz)
{
	size_t nl = strlen(name);
	if (len <= nl || line[nl] != ':' || strncasecmp(line, name, nl))
		return false;
	const char *v = line + nl + 1, *e = line + len;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
		e--;
	size_t n = (size_t)(e - v);
	if (n >= dstsz)
		n = dstsz - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return true;
}

long du_http_retry_after_ms(const char *value)
{
	char *end;
	long s = strtol(value, &end, 10);
	if (end == value || *end || s <= 0)
		return 0;
	return s > 86400 ? 86400000L : s * 1000L;
}

/*
 * http.h: du's one libcurl easy-handle setup, shared by the S3 client (s3.c), the webhook
 * (trigger.c) and the instance metadata endpoint (creds.c), and its classification of a failed
 * transfer. Private to src/.
 *
 *     struct du_http_opts o = { .connect_timeout_ms = 1000, .timeout_ms = 2000, .no_proxy = true };
 *     du_http_setup(h, &o);                  // then the caller's URL, headers and callbacks
 *     cc = curl_easy_perform(h);
 *     if (cc != CURLE_OK && du_http_curl_retryable(cc)) ...
 *
 * Every handle gets: no signals (workers are threads), http and https only, no redirects (a
 * redirected PUT or POST would go elsewhere or lose its body), TLS peer and host verification,
 * and the CA bundle when one is given. What differs between the callers is in the options; a
 * zero field leaves curl's default.
 *
 * Threading: pure over the handle it is given; a CURL * belongs to one thread at a time.
 */
#ifndef DU_HTTP_H
#define DU_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "du/strbuf.h"

struct du_http_opts {
	const char *ca_bundle;       /* CURLOPT_CAINFO when not NULL or "" */
	const char *user_agent;      /* NULL: no User-Agent header */
	char *errbuf;                /* CURL_ERROR_SIZE bytes for curl's message, or NULL */
	long connect_timeout_ms;     /* 0: curl's default (300 s) */
	long timeout_ms;             /* whole transfer; 0: none */
	long low_speed_time_s;       /* fail when under 1 byte/s for this long; 0: never */
	bool no_proxy;               /* a link-local endpoint that a proxy would answer for */
};

/* Set the common options on h (after curl_easy_init or curl_easy_reset). */
void du_http_setup(CURL *h, const struct du_http_opts *o);

/*
 * The one classification of a failed transfer: worth another attempt, unless no retry can fix it
 * (TLS trust, a bad URL, a feature curl lacks) or du itself ended it (its body sink refused more,
 * an abort, no memory). Callers check their own reasons (an abort, an overflow) first.
 */
bool du_http_curl_retryable(CURLcode cc);
/* A header line (as CURLOPT_HEADERFUNCTION gets it) named name (any case): its value, trimmed
 * and cut to dstsz - 1 bytes, into dst. */
bool du_http_header(const char *line, size_t len, const char *name, char *dst, size_t dstsz);
/* Retry-After in its delay-seconds form, in ms (at most a day); 0 when absent or not a number
 * (an HTTP date from a server's clock is not trusted). */
long du_http_retry_after_ms(const char *value);

/* An HTTP status worth another attempt: 408, 429 and 5xx. */
bool du_http_status_retryable(long status);

/*
 * The one response-body sink (CURLOPT_WRITEFUNCTION du_http_body_write, CURLOPT_WRITEDATA a
 * struct du_http_body): the body in sb, at most max bytes (0: no limit). Past max, truncate keeps
 * the first max bytes and reads on (an excerpt); otherwise the transfer fails with
 * CURLE_WRITE_ERROR. Either way over is set, as it is when memory runs out.
 */
struct du_http_body {
	struct du_strbuf sb;
	size_t max;
	bool truncate;
	bool over;
};

size_t du_http_body_write(char *p, size_t size, size_t n, void *arg);
/* Empty it for the next attempt, keeping max, truncate and the allocation. */
void du_http_body_reset(struct du_http_body *b);
void du_http_body_release(struct du_http_body *b);

#endif

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

#include <curl/curl.h>

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

/* A transport failure worth another attempt (the webhook's rule: only network trouble). */
bool du_http_curl_retryable(CURLcode cc);
/* A transport failure no retry can fix: TLS trust, a bad URL, a missing feature (the S3
 * client's rule: every other failure is retried). */
bool du_http_curl_hopeless(CURLcode cc);
/* An HTTP status worth another attempt: 408, 429 and 5xx. */
bool du_http_status_retryable(long status);

#endif

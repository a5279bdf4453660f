/*
 * trigger.h: tell an external system that a session is done, by an HTTP POST (the webhook).
 *
 * du_cmd_trigger() (commands.h, src/cmd/cmd_trigger.c) is the body of du-trigger; du-master calls
 * it with the session id the upload step handed over. It loads the session from the database,
 * builds the JSON payload, and POSTs it to cfg->endpoint_url with retries, through the sender
 * below (du_trigger_post), which knows no database:
 *
 *     struct du_trigger_result res = {0};
 *     if (du_trigger_send(db, &cfg, up.session_id, &res, &err))
 *         return err.code;                  // DU_ERR_TRIGGER (exit 6), DU_ERR_NOTFOUND, ...
 *     du_info("delivered: HTTP %ld after %d attempt(s)", res.http_status, res.attempts);
 *
 * The request (docs/WEBHOOK.md is the receiver's manual):
 *
 *     POST <endpoint_url>
 *     Content-Type: application/json
 *     Idempotency-Key: du-session-<id>        same for every attempt and every run for the session
 *     <api key header>: <DU_ENDPOINT_API_KEY> header name endpoint_api_key_header, "api_key"
 *     X-Du-Timestamp: <unix seconds>          only with DU_ENDPOINT_SECRET, and then
 *     X-Du-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
 *
 *     {"session_id":42,"project":"p","bucket_name":"b","s3_prefix":"x","local_directory":"/d",
 *      "status":"completed","total_files":3,"files_uploaded":3,"files_failed":0,"files_skipped":0,
 *      "total_size_bytes":123,"bytes_uploaded":123,"started_at":"2024-05-01T10:00:00Z",
 *      "completed_at":"2024-05-01T10:05:00Z"}
 *
 * With cfg->list_files the object also has "files":["s3://b/x/a.wav",...], the session's uploaded
 * keys. They are read from a server-side cursor 1,000 at a time while libcurl sends the body
 * (chunked transfer encoding), so the list is never held in memory. With a secret as well, the
 * body must be known before the signature header is sent: it is then spooled to an unlinked
 * temporary file (disk, not memory), and each attempt signs and sends that file.
 *
 * Delivery: any 2xx is success. Connection failures, timeouts, 408, 429 and 5xx are retried with
 * full-jitter backoff (base 1 s, cap 30 s, Retry-After honoured) while a total budget of
 * min(4 x timeout, 300 s) lasts; other answers are final (DU_ERR_TRIGGER naming the status).
 * After a first SIGINT/SIGTERM no new attempt starts (DU_ERR_INTERRUPTED); the second abandons
 * the one in flight. Each attempt is recorded in trigger_attempts (time, URL without userinfo and query values,
 * status, duration, error, the first 200 bytes of the answer). Secrets (API key, HMAC secret)
 * never reach logs, rows, errors or the dry-run output.
 */
#ifndef DU_TRIGGER_H
#define DU_TRIGGER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "du/config.h"
#include "du/db.h"
#include "du/err.h"
#include "du/strbuf.h"

#define DU_TRIGGER_SIG_LEN 72           /* "sha256=" + 64 hex + NUL */
#define DU_TRIGGER_BATCH 1000           /* keys fetched from the cursor at a time */

/* What a delivery came to (du_cmd_trigger, du_trigger_send). */
struct du_trigger_result {
	int64_t session_id;
	long http_status;
	int attempts;
};

/* Check the settings du-trigger needs before anything runs: an http(s) URL with a host, a header
 * name that is an HTTP token, an API key without line breaks. DU_ERR_CONFIG otherwise. */
int du_trigger_check_config(const struct du_config *cfg, struct du_err *err);

/* --- Pure pieces (tests, du-master) ------------------------------------------------------- */

/* The payload object without "files", compact JSON, malloc'd (NULL when out of memory). */
char *du_trigger_payload(const struct du_session *s);

/* sha256=<hex HMAC-SHA256(secret, timestamp "." body)> into out. */
void du_trigger_signature(const char *secret, const char *timestamp, const void *body, size_t len,
			  char out[DU_TRIGGER_SIG_LEN]);

/* Append prefix and s to b as one JSON string ("s3://bucket/" and a key: one element of "files"). */
void du_trigger_add_json_string(struct du_strbuf *b, const char *prefix, const char *s);
/* The one element of "files" for key: a quoted JSON string "s3://bucket/key", malloc'd. */
char *du_trigger_file_json(const char *bucket, const char *key);

/* url without userinfo, with every query value replaced by "***" (for logs, rows and the dry
 * run). malloc'd; NULL when out of memory or url does not parse. */
char *du_trigger_redact_url(const char *url);

/*
 * The request headers, "Name: value" each, in a NULL-terminated malloc'd array (free it with
 * du_trigger_headers_free). timestamp and signature may be NULL (no secret). With redact, secret
 * values and the signature read "***". chunked adds Transfer-Encoding: chunked.
 */
char **du_trigger_headers(const struct du_config *cfg, int64_t session_id, const char *timestamp,
			  const char *signature, bool chunked, bool redact);
void du_trigger_headers_free(char **h);

/* --- The sender, without a database (du_trigger_send, commands.h, wraps it) ---------------- */

/* Each attempt is reported as a struct du_trigger_attempt (db.h: a row of trigger_attempts). */

/*
 * Where the body comes from. open() starts (or, for a retry, restarts) it and says its length
 * (-1: unknown, sent chunked); read() fills up to n bytes (*got 0 at the end); close() ends an
 * attempt. A source whose length is unknown is spooled to a temporary file first when the
 * request must be signed.
 */
struct du_trigger_source {
	int (*open)(void *arg, int64_t *length, struct du_err *err);
	int (*read)(void *arg, char *buf, size_t n, size_t *got, struct du_err *err);
	void (*close)(void *arg);
	void *arg;
};

/* A source over a buffer; m holds its state, body is borrowed (both must outlive src). */
struct du_trigger_mem {
	const char *body;
	size_t len, off;
};
void du_trigger_source_mem(struct du_trigger_source *src, struct du_trigger_mem *m, const char *body,
			   size_t len);

/*
 * POST src to cfg->endpoint_url with cfg's headers, timeout and retry budget. record (may be
 * NULL) is called after every attempt; its failure does not stop the delivery (it is up to the
 * callback to say so). res gets the last status and the number of attempts.
 */
int du_trigger_post(const struct du_config *cfg, int64_t session_id, struct du_trigger_source *src,
		    void (*record)(void *arg, const struct du_trigger_attempt *a), void *record_arg,
		    struct du_trigger_result *res, struct du_err *err);

#endif

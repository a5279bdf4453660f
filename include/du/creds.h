/*
 * creds.h: AWS credentials and region, following the AWS SDKs' documented order.
 *
 * Order (first that yields credentials wins):
 *   1. an explicit profile (aws_profile key, --aws-profile, AWS_PROFILE): that profile only, from
 *      the shared credentials file, then the config file ([profile x]), including its
 *      credential_process; an unknown profile is an error that lists the profiles that exist;
 *   2. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
 *   3. shared credentials file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials), [default];
 *   4. config file (AWS_CONFIG_FILE or ~/.aws/config), [default], incl. credential_process;
 *   5. EC2 instance metadata, IMDSv2 (token PUT then GET), endpoint AWS_EC2_METADATA_SERVICE_ENDPOINT,
 *      disabled by AWS_EC2_METADATA_DISABLED=true.
 * Temporary credentials (credential_process, IMDS) are refreshed before they expire; du_creds_get
 * is safe to call from many threads (one refreshes, the others wait or use the still-valid copy).
 *
 * Details:
 *   - the shared files follow the AWS CLI's INI rules (see ini.h); a malformed file is
 *     DU_ERR_CONFIG naming FILE:LINE, a missing one is simply skipped;
 *   - profiles using role_arn, sso_*, web_identity_token_file or credential_source are refused
 *     with a message saying so (du does not implement them yet) rather than skipped;
 *   - credential_process runs with /bin/sh -c (the command as the user wrote it), stdin and stderr
 *     shared with us, stdout (at most 64 KiB, never echoed) parsed as {"Version": 1,
 *     "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}; killed after 60 s;
 *     without Expiration its credentials are static;
 *   - IMDS requests have a 1 s connect / 2 s total timeout and at most 2 attempts, no proxy;
 *   - refresh starts 5 minutes before expiry; a failed refresh while the current credentials are
 *     valid logs a warning and keeps them (retried after 10 s); once expired, the error is returned;
 *   - for tests: DU_CREDS_REFRESH_MARGIN (seconds) and DU_CREDS_PROCESS_TIMEOUT (seconds) override
 *     the 5 minutes and the 60 s, read by du_creds_provider_new.
 *
 *     struct du_creds_provider *cp;
 *     if (du_creds_provider_new(&cp, cfg->aws_profile, cfg->aws_profile_explicit, &err)) ...
 *     struct du_creds c;
 *     if (du_creds_get(cp, &c, &err)) ...     // c is a copy, valid until c.expires
 *     du_creds_wipe(&c);
 *     du_creds_provider_free(cp);
 *
 * Secrets are never put into an error message or a log line.
 */
#ifndef DU_CREDS_H
#define DU_CREDS_H

#include <stdbool.h>
#include <time.h>

#include "du/err.h"

struct du_creds {
	char access_key[128];
	char secret_key[256];
	char session_token[4096];  /* "" when none */
	time_t expires;            /* 0 = does not expire */
	char source[160];          /* e.g. "environment", "profile 'x' in /root/.aws/credentials", "imds" */
};

struct du_creds_provider;

/* Resolves the chain once now (so "no credentials" is reported before any work). */
int du_creds_provider_new(struct du_creds_provider **out, const char *profile, bool profile_explicit,
			  struct du_err *err);
void du_creds_provider_free(struct du_creds_provider *cp);
int du_creds_get(struct du_creds_provider *cp, struct du_creds *out, struct du_err *err);
void du_creds_wipe(struct du_creds *c);

/*
 * Region: explicit value (config key/flag, when not the default) first, then AWS_REGION,
 * AWS_DEFAULT_REGION, the profile's `region` in the config file, then fallback.
 * explicit_region may be NULL or "" (none); profile NULL means AWS_PROFILE, else "default";
 * fallback NULL gives "". Writes into out (size outsz). Returns DU_OK, or DU_ERR_CONFIG for a
 * broken config file or a region that does not fit.
 */
int du_region_resolve(const char *explicit_region, const char *fallback, const char *profile,
		      char *out, size_t outsz, struct du_err *err);

#endif

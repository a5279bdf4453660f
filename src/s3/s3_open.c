/* s3_open.c: the S3 client of a command: credentials resolved, the bucket reached (see s3.h). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "du/bwlimit.h"
#include "du/creds.h"
#include "du/s3.h"

int du_s3_open(const struct du_config *cfg, struct du_creds_provider **cp, struct du_s3 **s3,
			struct du_err *err)
{
	struct du_s3_opts o;
	struct du_s3_conn *conn = NULL;
	int rc;

	*cp = NULL;
	*s3 = NULL;
	if ((rc = du_creds_provider_new(cp, cfg->aws_profile, cfg->aws_profile_explicit, err)))
		return rc;
	du_s3_opts_from_config(&o, cfg);
	if ((rc = du_s3_new(s3, &o, *cp, err)))
		goto fail;
	if (cfg->bwlimit && *cfg->bwlimit) {
		struct du_bwlimit_spec spec;
		char why[160];
		/* validated with the configuration: it parses */
		if (du_bwlimit_parse(cfg->bwlimit, &spec, why, sizeof(why)) == 0 && spec.n)
			du_s3_set_bwlimit(*s3, du_bwlimit_new(&spec));
	}
	if ((rc = du_s3_conn_new(*s3, &conn, err)))
		goto fail;
	rc = du_s3_head_bucket(conn, err);
	du_s3_conn_free(conn);
	if (rc)
		goto fail;
	return DU_OK;
fail:
	du_s3_close(*cp, *s3);
	*cp = NULL;
	*s3 = NULL;
	return rc;
}

void du_s3_close(struct du_creds_provider *cp, struct du_s3 *s3)
{
	du_s3_free(s3);
	du_creds_provider_free(cp);
}

/*
 * The endpoint a session's rows are valid for: the configured one (without a trailing '/'), or
 * AWS's endpoint of the region.
 */
void du_s3_endpoint_of(const struct du_config *cfg, char *buf, size_t n, bool *aws)
{
	*aws = !cfg->s3_endpoint || !cfg->s3_endpoint[0];
	if (*aws)
		snprintf(buf, n, "https://s3.%s.amazonaws.com", cfg->aws_region ? cfg->aws_region : "us-east-1");
	else
		snprintf(buf, n, "%s", cfg->s3_endpoint);
	size_t l = strlen(buf);
	while (l > 0 && buf[l - 1] == '/')
		buf[--l] = '\0';
}

/*
 * db_endpoints.h (private): what du learnt of an S3 endpoint (s3_endpoints): whether it verifies
 * x-amz-checksum-* (echoes them). The engine reads it before its first body and writes it at the
 * end of a run that learnt something. PGresult never leaves src/db/.
 */
#ifndef DU_DB_ENDPOINTS_H
#define DU_DB_ENDPOINTS_H

#include <stdbool.h>
#include <stdint.h>

#include "du/db.h"
#include "du/err.h"

/* What is known of endpoint's checksum echo, learnt within max_age_days: *echo is 1 or 0, -1 when
 * nothing (or only an older fact) is known; *session the session that learnt it. */
int du_db_endpoint_echo_get(struct du_db *db, const char *endpoint, int max_age_days, int *echo,
			    int64_t *session, struct du_err *err);
/* Record (or refresh) what session_id learnt of endpoint. */
int du_db_endpoint_echo_set(struct du_db *db, const char *endpoint, bool echo, int64_t session_id,
			    struct du_err *err);

#endif

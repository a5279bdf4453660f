/* db_endpoints.c: what du learnt of S3 endpoints (see db_endpoints.h). Parameters are always bound. */
#include <stdio.h>
#include <stdlib.h>

#include <libpq-fe.h>

#include "db/db_endpoints.h"
#include "db/db_internal.h"

int du_db_endpoint_echo_get(struct du_db *db, const char *endpoint, int max_age_days, int *echo,
			    int64_t *session, struct du_err *err)
{
	char age[24];
	const char *p[] = { endpoint, du_db_i64(age, max_age_days) };
	PGresult *r = NULL;
	int rc = du_db_run(db, err, "endpoint facts",
			   "SELECT checksum_echo, session_id FROM s3_endpoints WHERE endpoint = $1"
			   " AND learnt_at > now() - make_interval(days => $2::int)",
			   2, p, &r);
	if (rc)
		return rc;
	*echo = PQntuples(r) ? du_db_get_bool(r, 0, 0) : -1;
	*session = PQntuples(r) ? du_db_get_int64(r, 0, 1) : 0;
	PQclear(r);
	return DU_OK;
}

int du_db_endpoint_echo_set(struct du_db *db, const char *endpoint, bool echo, int64_t session_id,
			    struct du_err *err)
{
	char sid[24];
	const char *p[] = { endpoint, echo ? "true" : "false", du_db_i64(sid, session_id) };
	return du_db_run(db, err, "endpoint facts",
			 "INSERT INTO s3_endpoints (endpoint, checksum_echo, session_id) VALUES ($1, $2, $3)"
			 " ON CONFLICT (endpoint) DO UPDATE SET checksum_echo = EXCLUDED.checksum_echo,"
			 " learnt_at = now(), session_id = EXCLUDED.session_id",
			 3, p, NULL);
}

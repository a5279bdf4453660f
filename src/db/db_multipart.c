/* db_multipart.c: multipart uploads and their parts (see db_multipart.h). Parameters are always bound. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db/db_internal.h"
#include "db/db_multipart.h"

/*
 * The multipart upload of this file row, or of the same key in an earlier session of the same
 * project (a plain re-run after a crash makes new rows): that one is adopted, so the parts it
 * finished are not sent again and no upload is left behind unfinished.
 */
static const char mpu_find_sql[] =
	"SELECT m.file_id, m.upload_id, m.part_size FROM multipart_uploads m"
	" JOIN file_uploads f ON f.id = m.file_id JOIN sync_sessions s ON s.id = f.session_id"
	" JOIN file_uploads me ON me.id = $1 JOIN sync_sessions ms ON ms.id = me.session_id"
	" WHERE f.s3_key = me.s3_key AND s.project_id = ms.project_id"
	" ORDER BY (m.file_id = $1) DESC, m.created_at DESC LIMIT 1";

static const char mpu_adopt_sql[] =
	"WITH n AS (INSERT INTO multipart_uploads (file_id, upload_id, part_size, created_at)"
	"  SELECT $1, upload_id, part_size, created_at FROM multipart_uploads WHERE file_id = $2"
	"  ON CONFLICT (file_id) DO UPDATE SET upload_id = EXCLUDED.upload_id,"
	"  part_size = EXCLUDED.part_size RETURNING file_id),"
	" p AS (INSERT INTO multipart_parts (file_id, part_number, size, md5, etag, checksum)"
	"  SELECT $1, part_number, size, md5, etag, checksum FROM multipart_parts WHERE file_id = $2"
	"  AND EXISTS (SELECT 1 FROM n) ON CONFLICT DO NOTHING)"
	" DELETE FROM multipart_uploads WHERE file_id = $2";

int du_db_mpu_load(struct du_db *db, int64_t file_id, char **upload_id, uint64_t *part_size,
		    struct du_mpu_part **parts, int *nparts, struct du_err *err)
{
	char fid[24], oid[24];
	const char *p[] = { du_db_i64(fid, file_id) };
	PGresult *r = NULL;
	int rc;

	*upload_id = NULL;
	*parts = NULL;
	*nparts = 0;
	if ((rc = du_db_run(db, err, "multipart state", mpu_find_sql, 1, p, &r)))
		return rc;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return DU_OK;
	}
	int64_t owner = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	*upload_id = strdup(PQgetvalue(r, 0, 1));
	*part_size = strtoull(PQgetvalue(r, 0, 2), NULL, 10);
	PQclear(r);
	if (!*upload_id)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	if (owner != file_id) {
		/* One statement, so the adoption is atomic. */
		const char *pa[] = { fid, du_db_i64(oid, owner) };
		if ((rc = du_db_run(db, err, "adopt multipart upload", mpu_adopt_sql, 2, pa, NULL)))
			goto fail;
	}
	if ((rc = du_db_run(db, err, "multipart parts",
			    "SELECT part_number, size, md5, etag, coalesce(checksum, '') FROM multipart_parts WHERE file_id = $1"
			    " ORDER BY part_number",
			    1, p, &r)))
		goto fail;
	int n = PQntuples(r);
	*parts = calloc(n ? n : 1, sizeof(**parts));
	if (!*parts) {
		PQclear(r);
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		struct du_mpu_part *pp = &(*parts)[i];
		pp->number = atoi(PQgetvalue(r, i, 0));
		pp->size = strtoull(PQgetvalue(r, i, 1), NULL, 10);
		snprintf(pp->md5, sizeof(pp->md5), "%s", PQgetvalue(r, i, 2));
		snprintf(pp->etag, sizeof(pp->etag), "%s", PQgetvalue(r, i, 3));
		snprintf(pp->checksum, sizeof(pp->checksum), "%s", PQgetvalue(r, i, 4));
	}
	*nparts = n;
	PQclear(r);
	return DU_OK;
fail:
	free(*upload_id);
	*upload_id = NULL;
	return rc;
}

int du_db_mpu_start(struct du_db *db, int64_t file_id, const char *upload_id, uint64_t part_size,
		     struct du_err *err)
{
	char fid[24], ps[24];
	const char *p[] = { du_db_i64(fid, file_id), upload_id, du_db_i64(ps, part_size) };
	return du_db_run(db, err, "record multipart upload",
			 "INSERT INTO multipart_uploads (file_id, upload_id, part_size) VALUES ($1, $2, $3)"
			 " ON CONFLICT (file_id) DO UPDATE SET upload_id = EXCLUDED.upload_id,"
			 " part_size = EXCLUDED.part_size, created_at = now()",
			 3, p, NULL);
}

int du_db_mpu_part(struct du_db *db, int64_t file_id, const struct du_mpu_part *pt, struct du_err *err)
{
	char fid[24], num[24], sz[24];
	const char *p[] = { du_db_i64(fid, file_id), du_db_i64(num, pt->number), du_db_i64(sz, pt->size), pt->md5, pt->etag,
			    pt->checksum[0] ? pt->checksum : NULL };
	return du_db_run(db, err, "record part",
			 "INSERT INTO multipart_parts (file_id, part_number, size, md5, etag, checksum)"
			 " VALUES ($1, $2, $3, $4, $5, $6)"
			 " ON CONFLICT (file_id, part_number) DO UPDATE SET size = EXCLUDED.size,"
			 " md5 = EXCLUDED.md5, etag = EXCLUDED.etag, checksum = EXCLUDED.checksum",
			 6, p, NULL);
}

int du_db_mpu_forget(struct du_db *db, int64_t file_id, struct du_err *err)
{
	char fid[24];
	const char *p[] = { du_db_i64(fid, file_id) };
	return du_db_run(db, err, "forget multipart upload", "DELETE FROM multipart_uploads WHERE file_id = $1", 1, p,
			 NULL);
}

int du_db_mpu_owner(struct du_db *db, const char *upload_id, int64_t *file_id, char *status, size_t n,
		     struct du_err *err)
{
	const char *p[] = { upload_id };
	PGresult *r = NULL;
	int rc = du_db_run(db, err, "multipart owner",
			   "SELECT f.id, f.status FROM multipart_uploads m JOIN file_uploads f ON f.id = m.file_id"
			   " WHERE m.upload_id = $1",
			   1, p, &r);
	if (rc)
		return rc;
	*file_id = PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
	snprintf(status, n, "%s", PQntuples(r) ? PQgetvalue(r, 0, 1) : "");
	PQclear(r);
	return DU_OK;
}

/*
 * du-master verify SESSION: proof, before a recorder's card is wiped, that every file of a
 * session is in S3 and intact.
 *
 * The S3 listing under the session's prefix is streamed into PostgreSQL (COPY) and joined with
 * the session's rows there, so memory stays flat. A file is in S3 intact when the listing holds its
 * key with the recorded size and an ETag equal to the recorded md5 (single PUT) or ETag (multipart);
 * only when the listing cannot settle it (key not listed, multipart ETag unknown) is the object
 * HEADed (x-amz-meta-du-md5). When the local file is still there it must be the one uploaded: same
 * size and mtime, and with --deep the same md5. A local file that is gone is fine (it may already
 * have been deleted after an earlier verify).
 *
 * The files a session skipped because an earlier session of the same bucket, prefix and directory
 * uploaded them are verified through that session's rows, so a clean verify covers the whole tree.
 *
 * Every outcome is recorded (file_uploads.verify_status/verify_error/verified_at, one verify_runs
 * row) and written to a manifest, PREFIX.csv and PREFIX.jsonl (renamed into place when complete).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd_session.h"
#include "db/db_sessions.h"
#include "db/db_verify.h"
#include "du/checksum.h"
#include "du/commands.h"
#include "du/crypto.h"
#include "du/db.h"
#include "du/log.h"
#include "du/s3.h"
#include "du/scan.h"
#include "du/signals.h"

struct verify {
	const struct du_config *cfg;
	struct du_s3_conn *conn;
	struct du_db_copy *cp;
	struct du_err *err;
	FILE *csv, *jsonl;
	int64_t session_id;
	int64_t local_missing, local_checked, heads, not_uploaded;
	int64_t checksums;          /* objects whose x-amz-checksum HEAD matched the recorded one */
	bool relative_warned;
	unsigned char *buf;
};


static void now_iso(char *buf, size_t n)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + k, n - k, ".%03ldZ", ts.tv_nsec / 1000000);
}

static int list_row(void *arg, const struct du_s3_object *o)
{
	struct verify *v = arg;
	char size[24];
	snprintf(size, sizeof(size), "%" PRIu64, o->size);
	const char *row[] = { o->key, size, o->etag && o->etag[0] ? o->etag : NULL };
	return du_db_copy_row(v->cp, 3, row, v->err);
}

static bool is_md5_hex(const char *s)
{
	if (!s || strlen(s) != 32)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

/*
 * The recorded checksum recomputed from the local file (du_digest_file): a CRC's base64 (alg a CRC),
 * the md5 hex (alg md5, part_size 0) or S3's composite of parts of part_size, "hex-N". One read.
 */
static int file_checksum(struct verify *v, const char *path, int alg, uint64_t part_size, char *out, size_t outsz,
			 struct du_err *err)
{
	enum { CHUNK = 1 << 20 };
	struct du_digest_out d;
	bool crc = du_cksum_is_crc(alg);
	if (!v->buf && !(v->buf = malloc(CHUNK)))
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	int rc = du_digest_file(path, !crc && !part_size, crc ? 0 : part_size, crc ? alg : DU_CK_NONE, v->buf, CHUNK,
				&d, err);
	if (rc == DU_OK)
		snprintf(out, outsz, "%s", crc ? d.crc : part_size ? d.composite : d.md5);
	return rc;
}

static int file_md5(struct verify *v, const char *path, char hex[DU_MD5_HEX_LEN], struct du_err *err)
{
	return file_checksum(v, path, DU_CK_MD5, 0, hex, DU_MD5_HEX_LEN, err);
}

/* Is the object in S3 the uploaded file? Writes the reason into why when not. */
static int check_s3(struct verify *v, const struct du_verify_row *r, char *why, size_t n, bool *ok)
{
	*ok = false;
	int ck = r->checksum_alg ? du_cksum_parse(r->checksum_alg) : -1;
	/* a checksum S3 verified (x-amz-checksum-*) is compared from HEAD, the listing lacks it */
	bool s3_checksum = r->checksum && (du_cksum_is_crc(ck) || ck == DU_CK_SHA256);
	bool need_head = s3_checksum || !r->listed || !r->s3_etag ||
			 (!is_md5_hex(r->s3_etag) && !(r->etag && !strcmp(r->etag, r->s3_etag)));
	if (r->listed && r->s3_size != r->size) {
		snprintf(why, n, "S3 object has %" PRIu64 " bytes, %" PRIu64 " were uploaded", r->s3_size, r->size);
		return DU_OK;
	}
	if (!need_head) {
		/* A single PUT's ETag is the md5 of the body; a multipart one equals the recorded ETag. */
		if (is_md5_hex(r->s3_etag) && r->md5 && strcmp(r->s3_etag, r->md5) &&
		    !(r->etag && !strcmp(r->etag, r->s3_etag))) {
			snprintf(why, n, "S3 object was overwritten: ETag %s, uploaded md5 %s", r->s3_etag, r->md5);
			return DU_OK;
		}
		if (is_md5_hex(r->s3_etag) && !r->md5 && r->etag && strcmp(r->s3_etag, r->etag)) {
			snprintf(why, n, "S3 object was overwritten: ETag %s, uploaded ETag %s", r->s3_etag, r->etag);
			return DU_OK;
		}
		*ok = true;
		return DU_OK;
	}
	struct du_s3_object_info info;
	struct du_err e = { 0 };
	v->heads++;
	int rc = du_s3_head_object(v->conn, r->s3_key, &info, &e);
	if (rc == DU_ERR_NOTFOUND) {
		snprintf(why, n, "missing in S3");
		return DU_OK;
	}
	if (rc) {
		*v->err = e;
		return rc;
	}
	if (info.size != r->size) {
		snprintf(why, n, "S3 object has %" PRIu64 " bytes, %" PRIu64 " were uploaded", info.size, r->size);
		return DU_OK;
	}
	if (s3_checksum && !strcmp(info.checksum_alg, r->checksum_alg)) {
		if (strcmp(info.checksum, r->checksum)) {
			snprintf(why, n, "S3 object was overwritten: %s %s, uploaded %s", r->checksum_alg, info.checksum,
				 r->checksum);
			return DU_OK;
		}
		v->checksums++;
		*ok = true;
		return DU_OK;
	}
	const char *s3md5 = info.md5_hex[0] ? info.md5_hex : is_md5_hex(info.etag) ? info.etag : NULL;
	if (r->md5 && s3md5 && strcmp(s3md5, r->md5)) {
		snprintf(why, n, "S3 object was overwritten: md5 %s, uploaded md5 %s", s3md5, r->md5);
		return DU_OK;
	}
	if (!(r->md5 && s3md5) && r->etag && strcmp(info.etag, r->etag)) {
		snprintf(why, n, "S3 object was overwritten: ETag %s, uploaded ETag %s", info.etag, r->etag);
		return DU_OK;
	}
	*ok = true;
	return DU_OK;
}

/* Is the local file, when still there, the one uploaded? */
static int check_local(struct verify *v, const struct du_verify_row *r, char *why, size_t n, bool *ok)
{
	struct stat st;
	*ok = true;
	if (r->local_path[0] != '/' && !v->relative_warned) {
		du_warn("the session recorded relative paths; local files are looked up from the current directory");
		v->relative_warned = true;
	}
	if (stat(r->local_path, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			v->local_missing++;
			return DU_OK;
		}
		*ok = false;
		snprintf(why, n, "local file cannot be checked: %s", strerror(errno));
		return DU_OK;
	}
	v->local_checked++;
	int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	if ((uint64_t)st.st_size != r->size) {
		*ok = false;
		snprintf(why, n, "local file changed since upload: %jd bytes now, %" PRIu64 " uploaded",
			 (intmax_t)st.st_size, r->size);
		return DU_OK;
	}
	if (r->mtime_ns && mt != r->mtime_ns) {
		*ok = false;
		snprintf(why, n, "local file changed since upload: modification time differs");
		return DU_OK;
	}
	int ck = r->checksum_alg ? du_cksum_parse(r->checksum_alg) : -1;
	if (v->cfg->deep && !r->md5 && r->checksum && (du_cksum_is_crc(ck) || ck == DU_CK_MD5)) {
		char have[DU_CKSUM_B64_LEN + 16];
		struct du_err e = { 0 };
		uint64_t ps = 0;
		if (ck == DU_CK_MD5 && r->checksum_type && !strcmp(r->checksum_type, "COMPOSITE"))
			ps = r->part_size ? r->part_size : du_s3_part_size(r->size, v->cfg->multipart_chunk_size);
		if (file_checksum(v, r->local_path, ck, ps, have, sizeof(have), &e)) {
			if (e.code == DU_ERR_NOMEM) {
				*v->err = e;
				return e.code;
			}
			*ok = false;
			snprintf(why, n, "%s", e.msg);
			return DU_OK;
		}
		if (strcmp(have, r->checksum)) {
			*ok = false;
			snprintf(why, n, "local file changed since upload: %s %s, uploaded %s%s", r->checksum_alg, have,
				 r->checksum, ps && !r->part_size ? " (parts of multipart_chunk_size)" : "");
		}
		return DU_OK;
	}
	if (v->cfg->deep && r->md5) {
		char hex[DU_MD5_HEX_LEN];
		struct du_err e = { 0 };
		if (file_md5(v, r->local_path, hex, &e)) {
			if (e.code == DU_ERR_NOMEM) {
				*v->err = e;
				return e.code;
			}
			*ok = false;
			snprintf(why, n, "%s", e.msg);
			return DU_OK;
		}
		if (strcmp(hex, r->md5)) {
			*ok = false;
			snprintf(why, n, "local file changed since upload: md5 %s, uploaded %s", hex, r->md5);
		}
	}
	return DU_OK;
}

static void csv_field(FILE *f, const char *s, bool last)
{
	/* RFC 4180: every text field quoted, quotes doubled; paths may hold commas and newlines. */
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
	fputc(last ? '\n' : ',', f);
}

static int manifest_row(struct verify *v, const struct du_verify_row *r, const struct du_verify_outcome *o)
{
	char size[24];
	snprintf(size, sizeof(size), "%" PRIu64, r->size);
	const char *status = o->ok ? "ok" : "mismatch";
	csv_field(v->csv, r->local_path, false);
	csv_field(v->csv, r->s3_key, false);
	fprintf(v->csv, "%s,", size);
	csv_field(v->csv, r->md5, false);
	csv_field(v->csv, r->etag, false);
	csv_field(v->csv, r->uploaded_at, false);
	csv_field(v->csv, o->verified_at, false);
	csv_field(v->csv, status, false);
	csv_field(v->csv, o->ok ? "" : o->error, false);
	csv_field(v->csv, r->checksum_alg, false);
	csv_field(v->csv, r->checksum, false);
	csv_field(v->csv, r->checksum_type, true);

	cJSON *j = cJSON_CreateObject();
	if (!j)
		return du_err_set(v->err, DU_ERR_NOMEM, "out of memory");
	cJSON_AddStringToObject(j, "local_path", r->local_path);
	cJSON_AddStringToObject(j, "s3_key", r->s3_key);
	cJSON_AddNumberToObject(j, "size", (double)r->size);
	r->md5 ? (void)cJSON_AddStringToObject(j, "md5", r->md5) : (void)cJSON_AddNullToObject(j, "md5");
	r->etag ? (void)cJSON_AddStringToObject(j, "etag", r->etag) : (void)cJSON_AddNullToObject(j, "etag");
	r->uploaded_at ? (void)cJSON_AddStringToObject(j, "uploaded_at", r->uploaded_at)
		       : (void)cJSON_AddNullToObject(j, "uploaded_at");
	cJSON_AddStringToObject(j, "verified_at", o->verified_at);
	cJSON_AddStringToObject(j, "verify_status", status);
	o->ok ? (void)cJSON_AddNullToObject(j, "verify_error") : (void)cJSON_AddStringToObject(j, "verify_error", o->error);
	cJSON_AddNumberToObject(j, "session_id", (double)r->session_id);
	r->checksum_alg ? (void)cJSON_AddStringToObject(j, "checksum_algorithm", r->checksum_alg)
			: (void)cJSON_AddNullToObject(j, "checksum_algorithm");
	r->checksum ? (void)cJSON_AddStringToObject(j, "checksum", r->checksum) : (void)cJSON_AddNullToObject(j, "checksum");
	r->checksum_type ? (void)cJSON_AddStringToObject(j, "checksum_type", r->checksum_type)
			 : (void)cJSON_AddNullToObject(j, "checksum_type");
	char *line = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (!line)
		return du_err_set(v->err, DU_ERR_NOMEM, "out of memory");
	fputs(line, v->jsonl);
	fputc('\n', v->jsonl);
	free(line);
	return DU_OK;
}

static int check_row(void *arg, const struct du_verify_row *r, struct du_verify_outcome *o)
{
	struct verify *v = arg;
	char why[400] = "";
	bool ok = false;
	int rc;

	if (du_stop_level() > 0)
		return du_err_set(v->err, DU_ERR_INTERRUPTED, "interrupted; nothing recorded");
	now_iso(o->verified_at, sizeof(o->verified_at));
	if (!r->status || strcmp(r->status, "uploaded")) {
		v->not_uploaded++;
		snprintf(why, sizeof(why), "not uploaded (%s)", r->status ? r->status : "?");
	} else if ((rc = check_s3(v, r, why, sizeof(why), &ok))) {
		return rc;
	} else if (ok && (rc = check_local(v, r, why, sizeof(why), &ok))) {
		return rc;
	}
	o->ok = ok;
	if (!ok) {
		snprintf(o->error, sizeof(o->error), "%s", why);
		printf("MISMATCH %s: %s\n", r->s3_key, why);
	}
	return manifest_row(v, r, o);
}

static int open_tmp(const char *path, FILE **f, struct du_err *err)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (!(*f = fopen(tmp, "w")))
		return du_err_sys(err, DU_ERR_IO, errno, "cannot create manifest '%s'", tmp);
	return DU_OK;
}

static int close_rename(FILE **f, const char *path, bool keep, struct du_err *err)
{
	char tmp[4200];
	int rc = DU_OK;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (!*f)
		return DU_OK;
	if (fflush(*f) || fsync(fileno(*f)) < 0)
		rc = du_err_sys(err, DU_ERR_IO, errno, "cannot write manifest '%s'", tmp);
	if (fclose(*f) && !rc)
		rc = du_err_sys(err, DU_ERR_IO, errno, "cannot write manifest '%s'", tmp);
	*f = NULL;
	if (!rc && keep && rename(tmp, path) < 0)
		rc = du_err_sys(err, DU_ERR_IO, errno, "cannot rename manifest to '%s'", path);
	if (rc || !keep)
		unlink(tmp);
	return rc;
}

/* One session's files (card: as part of a card's verdict, which says the last word). */
static int verify_session(const struct du_config *cfg, int64_t sid, bool card, struct du_verify_result *res,
			  struct du_err *err)
{
	struct verify v = { .cfg = cfg, .err = err };
	struct du_cmd_session cs = DU_CMD_SESSION_INIT;
	struct du_db *db = NULL;
	const struct du_session *sess = &cs.sess;
	bool in_tx = false;
	struct du_verify_counts vc = { 0 };
	char csv_path[4096], jsonl_path[4096], prefix[1100], host[256] = "";
	int rc;

	v.session_id = sid;
	if (cfg->manifest) {
		snprintf(csv_path, sizeof(csv_path), "%s.csv", cfg->manifest);
		snprintf(jsonl_path, sizeof(jsonl_path), "%s.jsonl", cfg->manifest);
	} else {
		snprintf(csv_path, sizeof(csv_path), "du-manifest-%" PRId64 ".csv", sid);
		snprintf(jsonl_path, sizeof(jsonl_path), "du-manifest-%" PRId64 ".jsonl", sid);
	}
	gethostname(host, sizeof(host) - 1);

	rc = du_cmd_session_open(&cs, cfg, sid, 0, err);
	db = cs.db;
	if (rc)
		goto out;
	if (sess->dry_run) {
		rc = du_err_set(err, DU_ERR_CONFIG, "session %" PRId64 " was a dry run: nothing to verify", sid);
		goto out;
	}
	/* The session's own bucket, prefix and endpoint, whatever today's configuration says. */
	if ((rc = du_cmd_session_s3(&cs, cfg, DU_CMD_SESSION_ROW_BUCKET, err)))
		goto out;
	if ((rc = du_s3_conn_new(cs.s3, &v.conn, err)))
		goto out;
	if ((rc = open_tmp(csv_path, &v.csv, err)) || (rc = open_tmp(jsonl_path, &v.jsonl, err)))
		goto out;
	fputs("local_path,s3_key,size,md5,etag,uploaded_at,verified_at,verify_status,verify_error,"
	      "checksum_algorithm,checksum,checksum_type\n", v.csv);

	if ((rc = du_db_verify_begin(db, &v.cp, err)))
		goto out;
	in_tx = true;
	/* "prefix/", never "prefix": C1 must not list C10's objects. */
	snprintf(prefix, sizeof(prefix), "%s/", sess->s3_prefix ? sess->s3_prefix : "");
	rc = du_s3_list(v.conn, prefix, list_row, &v, err);
	if (rc) {
		du_db_copy_abort(v.cp);
		goto out;
	}
	if ((rc = du_db_copy_end(v.cp, err)))
		goto out;
	if ((rc = du_db_verify_rows(db, sid, check_row, &v, &vc, err)))
		goto out;
	if ((rc = close_rename(&v.csv, csv_path, true, err)) || (rc = close_rename(&v.jsonl, jsonl_path, true, err)))
		goto out;
	struct du_verify_run run = { .deep = cfg->deep, .files = vc.files, .ok = vc.ok, .mismatches = vc.mismatches,
				     .local_missing = v.local_missing, .heads = v.heads, .manifest = csv_path,
				     .hostname = host };
	rc = du_db_verify_finish(db, sid, &run, err);
	in_tx = false;
	if (rc)
		goto out;

	/* Files found by the session that no du row covers: S3 had them before du recorded anything. */
	int64_t unrecorded = sess->total_files > vc.files ? sess->total_files - vc.files : 0;
	du_info("verify: %" PRId64 " files, %" PRId64 " listed objects checked, %" PRId64 " HEAD requests (%" PRId64
		" matched the recorded x-amz-checksum), %" PRId64 " local files checked%s, %" PRId64 " local files gone",
		vc.files, vc.files - v.heads, v.heads, v.checksums, v.local_checked,
		cfg->deep ? " with their checksum" : "", v.local_missing);
	if (card) {
		/* the card's verdict follows */
	} else if (vc.mismatches) {
		printf("session %" PRId64 ": %" PRId64 " of %" PRId64 " files do not match (listed above); do NOT delete the source. Manifest: %s, %s\n",
		       sid, vc.mismatches, vc.files, csv_path, jsonl_path);
	} else if (unrecorded) {
		printf("session %" PRId64 ": %" PRId64 " files verified, but %" PRId64 " files were already in S3 without a du record and were not verified; do not delete the source yet. Manifest: %s, %s\n",
		       sid, vc.files, unrecorded, csv_path, jsonl_path);
	} else {
		printf("session %" PRId64 ": all %" PRId64 " files are in s3://%s/%s/ intact%s; the source may be deleted. Manifest: %s, %s\n",
		       sid, vc.files, cs.cfg.bucket_name ? cs.cfg.bucket_name : "?", sess->s3_prefix ? sess->s3_prefix : "",
		       cfg->deep ? " (local md5 checked)" : "", csv_path, jsonl_path);
	}
	*res = (struct du_verify_result){ .session_id = sid, .files = vc.files, .mismatches = vc.mismatches,
					  .unrecorded = unrecorded, .intact = !vc.mismatches && !unrecorded };
	goto done;
out:
	if (in_tx)
		du_db_verify_abort(db);
	close_rename(&v.csv, csv_path, false, NULL);
	close_rename(&v.jsonl, jsonl_path, false, NULL);
done:
	free(v.buf);
	du_s3_conn_free(v.conn);
	du_cmd_session_close(&cs);
	return rc;
}

/* ---- a card: du-master verify without a session ---- */

struct card_run {
	const struct du_config *cfg;
	struct du_db_copy *cp;
	struct du_err *err;
	char key[1100];
	int64_t found, not_uploaded, failed, suspects;
};

static int card_key(void *arg, const struct du_scan_entry *e)
{
	struct card_run *c = arg;
	struct du_err kerr = { 0 };
	/* A file whose name makes no valid key never reached S3: the upload failed its row. */
	if (du_scan_key(c->cfg->s3_prefix, e->rel, c->key, sizeof(c->key), &kerr))
		snprintf(c->key, sizeof(c->key), "%s/%s", c->cfg->s3_prefix, e->rel);
	c->found++;
	if (!du_scan_utf8_valid(c->key, strlen(c->key))) {
		/* S3 keys are UTF-8: such a file was never uploaded (its row failed), and PostgreSQL takes
		 * no such text to compare. Named here. */
		c->not_uploaded++;
		printf("NOT UPLOADED %s (the name is not valid UTF-8)\n", e->rel);
		return DU_OK;
	}
	const char *row[] = { c->key };
	return du_db_copy_row(c->cp, 1, row, c->err);
}

static int card_uncovered(void *arg, const char *key, const char *failed_error)
{
	struct card_run *c = arg;
	if (failed_error) {
		c->failed++;
		printf("FAILED %s: %s\n", key, failed_error);
	} else {
		c->not_uploaded++;
		printf("NOT UPLOADED %s\n", key);
	}
	return DU_OK;
}

static int card_suspect(void *arg, const char *key, const char *reason)
{
	struct card_run *c = arg;
	c->suspects++;
	printf("SUSPECT %s: %s\n", key, reason);
	return DU_OK;
}

/*
 * The card's verdict: every file under the directory that du-upload would take, across every
 * session that uploaded from it to the bucket and prefix, is in S3 with its size and checksum
 * (the newest session's verify covers the files it and the sessions before it uploaded), and none
 * is missing from them (a scan today against the rows). One line says "safe to wipe" or not.
 */
static int verify_card(const struct du_config *cfg, struct du_verify_result *res, struct du_err *err)
{
	struct du_card card = { .bucket = cfg->bucket_name, .prefix = cfg->s3_prefix, .directory = cfg->local_directory };
	struct card_run c = { .cfg = cfg, .err = err };
	struct du_db *db = NULL;
	int64_t sid = 0;
	int rc;
	bool in_tx = false;

	if (!cfg->local_directory || !cfg->bucket_name || !cfg->s3_prefix) {
		du_err_set(err, DU_ERR_USAGE, "verify needs a session id, or the card: -d DIR, -b BUCKET and -p PREFIX");
		du_err_hint(err, "usage: du-master verify [SESSION | -d DIR -b BUCKET -p PREFIX] [--deep] [--manifest PREFIX]");
		return DU_ERR_USAGE;
	}
	if ((rc = du_db_open(&db, cfg, err)) || (rc = du_db_migrate(db, err)) ||
	    (rc = du_db_card_find(db, &card, &sid, err)))
		goto out;
	*res = (struct du_verify_result){ 0 };
	if (sid && (rc = verify_session(cfg, sid, true, res, err)))
		goto out;
	if ((rc = du_db_card_begin(db, &c.cp, err)))
		goto out;
	in_tx = true;
	struct du_scan_opts so = { .root = cfg->local_directory, .use_find = cfg->use_find,
				   .extensions = cfg->extensions, .exclude = cfg->exclude,
				   .follow_symlinks = cfg->follow_symlinks, .stop = du_stop_flag() };
	struct du_scan_stats st = { 0 };
	rc = du_scan(&so, card_key, &c, &st, err);
	if (rc) {
		du_db_copy_abort(c.cp);
		goto out;
	}
	if ((rc = du_db_copy_end(c.cp, err)) || (rc = du_db_card_uncovered(db, &card, card_uncovered, &c, err)) ||
	    (rc = du_db_card_suspects(db, &card, card_suspect, &c, err)))
		goto out;
	du_db_card_end(db);
	in_tx = false;

	bool safe = sid && res->mismatches == 0 && res->unrecorded == 0 && c.not_uploaded == 0 && c.failed == 0;
	char sus[96] = "";
	if (c.suspects)
		snprintf(sus, sizeof(sus), "; %" PRId64 " suspect recording%s listed above: look at them first",
			 c.suspects, c.suspects == 1 ? "" : "s");
	if (safe)
		printf("safe to wipe: all %" PRId64 " files under %s are in s3://%s/%s/ intact%s\n", c.found,
		       cfg->local_directory, cfg->bucket_name, cfg->s3_prefix, sus);
	else if (!sid)
		printf("NOT safe to wipe: nothing under %s was ever uploaded to s3://%s/%s/ (%" PRId64 " files)\n",
		       cfg->local_directory, cfg->bucket_name, cfg->s3_prefix, c.found);
	else
		printf("NOT safe to wipe: of %" PRId64 " files under %s, %" PRId64 " not uploaded, %" PRId64
		       " failed, %" PRId64 " not as uploaded (missing or different in S3, or changed on disk)%s%s\n",
		       c.found, cfg->local_directory, c.not_uploaded, c.failed, res->mismatches,
		       res->unrecorded ? ", some in S3 without a du record" : "", sus);
	res->session_id = sid;
	res->intact = safe;
out:
	if (in_tx)
		du_db_verify_abort(db);
	du_db_close(db);
	return rc;
}

int du_cmd_verify(const struct du_config *cfg, int nargs, char **args, struct du_verify_result *res,
		  struct du_err *err)
{
	int64_t sid = 0;
	int rc;
	if (nargs == 0)
		return verify_card(cfg, res, err);
	if (nargs != 1) {
		du_err_set(err, DU_ERR_USAGE, "verify takes one session id, not '%s'", args[1]);
		du_err_hint(err, "usage: du-master verify [SESSION | -d DIR -b BUCKET -p PREFIX] [--deep] [--manifest PREFIX]");
		return DU_ERR_USAGE;
	}
	if ((rc = du_parse_session_id(args[0], &sid, err)))
		return rc;
	return verify_session(cfg, sid, false, res, err);
}

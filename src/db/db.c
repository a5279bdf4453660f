/* db.c: connection, migrations, projects, sessions and COPY on libpq. See include/du/db.h. */
#include "db/db_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "du/log.h"
#include "du/pgcluster.h"
#include "du/strbuf.h"

/* Arbitrary but fixed: every du process serialises schema changes on this advisory lock key. */
#define MIGRATE_LOCK_KEY "7310039413392766817"
#define COPY_CHUNK (64 * 1024)


struct du_db_copy {
	struct du_db *db;
	struct du_strbuf buf;   /* escaped rows not sent yet */
	int64_t rows;
};

/*
 * The server's notices: a WARNING is the user's business (a real problem); NOTICE and below (the
 * migrations' "already exists, skipping", and the like) are not, at any verbosity.
 */
static void on_notice(void *arg, const PGresult *res)
{
	(void)arg;
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (sev && msg && !strcmp(sev, "WARNING"))
		du_warn("postgres: %s", msg);
}

/* ---- messages without secrets ---- */

static void first_line(char *dst, size_t n, const char *src)
{
	if (!src)
		src = "";
	size_t len = strcspn(src, "\r\n");
	if (len >= n)
		len = n - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static void redact(char *msg, size_t n, const char *secret)
{
	if (!secret || !*secret)
		return;
	size_t sl = strlen(secret);
	/* Search on after each "***": a secret may occur in its own replacement. */
	for (char *p = strstr(msg, secret); p; p = strstr(p + 3, secret)) {
		size_t cur = (size_t)(p - msg), tail = strlen(p + sl);
		if (cur + 3 >= n) {
			*p = '\0';
			return;
		}
		if (cur + 3 + tail >= n)
			tail = n - cur - 4;
		memmove(p + 3, p + sl, tail);
		memcpy(p, "***", 3);
		p[3 + tail] = '\0';
	}
}

static void add_secret(char **secrets, const char *s, size_t len)
{
	if (!s || !len)
		return;
	for (int i = 0; i < MAX_SECRETS; i++)
		if (!secrets[i]) {
			secrets[i] = strndup(s, len);
			return;
		}
}

static void free_secrets(char **secrets)
{
	for (int i = 0; i < MAX_SECRETS; i++) {
		if (secrets[i])
			explicit_bzero(secrets[i], strlen(secrets[i]));
		free(secrets[i]);
		secrets[i] = NULL;
	}
}

/* Passwords a database URL or conninfo string may hold, as written and as libpq decodes them. */
static void url_secrets(char **secrets, const char *url)
{
	const char *p = strstr(url, "://");
	if (p) {
		p += 3;
		size_t auth = strcspn(p, "/?");
		const char *at = memchr(p, '@', auth);
		const char *colon = at ? memchr(p, ':', (size_t)(at - p)) : NULL;
		if (colon)
			add_secret(secrets, colon + 1, (size_t)(at - colon - 1));
	}
	for (const char *q = url; (q = strstr(q, "password")); q += 8) {
		const char *v = q + 8;
		while (*v == ' ')
			v++;
		if (*v != '=')
			continue;
		v++;
		while (*v == ' ')
			v++;
		if (*v == '\'')
			v++;
		add_secret(secrets, v, strcspn(v, "' &"));
	}
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &perr);
	PQfreemem(perr);
	if (opts) {
		for (PQconninfoOption *o = opts; o->keyword; o++)
			if (!strcmp(o->keyword, "password") && o->val)
				add_secret(secrets, o->val, strlen(o->val));
		PQconninfoFree(opts);
	}
}

static int connect_error(PGconn *c, char **secrets, const char *verb, struct du_err *err)
{
	char reason[300];
	const char *db = PQdb(c), *host = PQhost(c), *port = PQport(c), *user = PQuser(c);
	first_line(reason, sizeof(reason), PQerrorMessage(c));
	for (int i = 0; i < MAX_SECRETS; i++)
		redact(reason, sizeof(reason), secrets[i]);
	/* When libpq could not even parse the settings it knows none of them. */
	if (!db && !user)
		return du_err_set(err, DU_ERR_DB, "cannot %s the database: %s", verb, reason);
	du_err_set(err, DU_ERR_DB, "cannot %s database '%s' at '%s:%s' as '%s': %s", verb, db ? db : "",
		   host && *host ? host : "localhost", port && *port ? port : "5432", user ? user : "", reason);
	for (int i = 0; err && i < MAX_SECRETS; i++)
		redact(err->msg, sizeof(err->msg), secrets[i]);
	return DU_ERR_DB;
}

/* ---- connecting ---- */

struct params {
	const char *k[16];
	const char *v[16];
	int n;
};

static void param(struct params *p, const char *k, const char *v)
{
	if (v && p->n < 15) {
		p->k[p->n] = k;
		p->v[p->n] = v;
		p->n++;
	}
	p->k[p->n] = NULL;
	p->v[p->n] = NULL;
}

/* Our defaults go first: a URL or conninfo expanded later (as dbname) overrides them, and
 * libpq's own environment variables keep precedence over them. */
static void defaults(struct params *p, char *appname, size_t n)
{
	const char *prog = du_log_prog();
	snprintf(appname, n, "%s%s", strncmp(prog, "du", 2) ? "du-" : "", prog);
	if (!getenv("PGCONNECT_TIMEOUT"))
		param(p, "connect_timeout", "10");
	if (!getenv("PGAPPNAME"))
		param(p, "application_name", appname);
	if (!getenv("PGCLIENTENCODING"))
		param(p, "client_encoding", "UTF8");
}

void du_db_opts_from_config(struct du_db_opts *o, const struct du_config *cfg)
{
	*o = (struct du_db_opts){ .url = cfg->database_url, .configured = cfg->db_configured,
				  .host = cfg->db_host, .port = cfg->db_port, .name = cfg->db_name,
				  .user = cfg->db_user, .password = cfg->db_password };
}

int du_db_open(struct du_db **out, const struct du_config *cfg, struct du_err *err)
{
	struct du_db_opts o;
	du_db_opts_from_config(&o, cfg);
	return du_db_connect(out, &o, err);
}

int du_db_connect(struct du_db **out, const struct du_db_opts *cfg, struct du_err *err)
{
	struct params p = { .n = 0 };
	char appname[80], port[24], conninfo[1024];
	struct du_db *db = calloc(1, sizeof(*db));
	if (!db)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	defaults(&p, appname, sizeof(appname));
	bool expand = false;
	if (cfg->url && *cfg->url) {
		url_secrets(db->secrets, cfg->url);
		param(&p, "dbname", cfg->url);
		expand = true;
	} else if (cfg->configured) {
		snprintf(port, sizeof(port), "%ld", cfg->port);
		param(&p, "host", cfg->host);
		if (cfg->port > 0)
			param(&p, "port", port);
		param(&p, "dbname", cfg->name);
		param(&p, "user", cfg->user);
		if (cfg->password && *cfg->password) {
			param(&p, "password", cfg->password);
			add_secret(db->secrets, cfg->password, strlen(cfg->password));
		}
	} else if (!getenv("PGHOST") && !getenv("PGDATABASE") && !getenv("PGSERVICE")) {
		int rc = du_pgcluster_ensure(conninfo, sizeof(conninfo), err);
		if (rc) {
			free(db);
			return rc;
		}
		param(&p, "dbname", conninfo);
		expand = true;
	}
	/* else: nothing but our defaults, libpq reads PG*, the service file and ~/.pgpass. */

	db->conn = PQconnectdbParams(p.k, p.v, expand);
	if (!db->conn) {
		free_secrets(db->secrets);
		free(db);
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	}
	if (PQstatus(db->conn) != CONNECTION_OK) {
		connect_error(db->conn, db->secrets, "connect to", err);
		du_db_close(db);
		return DU_ERR_DB;
	}
	PQsetNoticeReceiver(db->conn, on_notice, NULL);
	*out = db;
	return DU_OK;
}

void du_db_close(struct du_db *db)
{
	if (!db)
		return;
	PQfinish(db->conn);
	free_secrets(db->secrets);
	free(db);
}

bool du_db_ok(const struct du_db *db)
{
	return db && db->conn && PQstatus(db->conn) == CONNECTION_OK;
}

int du_db_reconnect(struct du_db *db, struct du_err *err)
{
	PQreset(db->conn);
	if (PQstatus(db->conn) != CONNECTION_OK)
		return connect_error(db->conn, db->secrets, "reconnect to", err);
	return DU_OK;
}

PGconn *du_db_conn(struct du_db *db)
{
	return db->conn;
}

const char *du_db_sqlstate(const struct du_db *db)
{
	return db->sqlstate;
}

/* ---- statements ---- */

int du_db_fail(struct du_db *db, struct du_err *err, const PGresult *r, const char *what)
{
	char msg[400];
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	/* The server's hint (or else its detail) becomes ours: it is what the user can act on. */
	const char *detail = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_HINT) : NULL;
	if (!detail && r)
		detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
	snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", state ? state : "");
	if (primary)
		first_line(msg, sizeof(msg), primary);
	else if (r && *PQresultErrorMessage(r))
		first_line(msg, sizeof(msg), PQresultErrorMessage(r));
	else
		first_line(msg, sizeof(msg), PQerrorMessage(db->conn));
	for (int i = 0; i < MAX_SECRETS; i++)
		redact(msg, sizeof(msg), db->secrets[i]);
	if (PQstatus(db->conn) == CONNECTION_BAD)
		du_err_set(err, DU_ERR_DB, "lost the connection to the database (%s): %s", what, msg);
	else
		du_err_set(err, DU_ERR_DB, "%s: %s", what, msg);
	if (detail && err) {
		first_line(msg, sizeof(msg), detail);
		du_err_hint(err, "%s", msg);
	}
	return DU_ERR_DB;
}

PGresult *du_db_query(struct du_db *db, struct du_err *err, const char *sql, int nparams,
		      const char *const *params)
{
	PGresult *r = PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		du_db_fail(db, err, r, "query failed");
		PQclear(r);
		return NULL;
	}
	db->sqlstate[0] = '\0';
	return r;
}

int du_db_exec(struct du_db *db, struct du_err *err, const char *sql, int nparams, const char *const *params)
{
	PGresult *r = du_db_query(db, err, sql, nparams, params);
	if (!r)
		return DU_ERR_DB;
	PQclear(r);
	return DU_OK;
}

int du_db_begin(struct du_db *db, struct du_err *err)
{
	return du_db_exec(db, err, "BEGIN", 0, NULL);
}

int du_db_commit(struct du_db *db, struct du_err *err)
{
	return du_db_exec(db, err, "COMMIT", 0, NULL);
}

void du_db_rollback(struct du_db *db)
{
	/* After a lost connection there is nothing to roll back; the server already did. */
	if (PQstatus(db->conn) == CONNECTION_OK)
		PQclear(PQexec(db->conn, "ROLLBACK"));
}

static int pq_fail(struct du_err *err, PGconn *c, PGresult *r, const char *what)
{
	const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
	char line[400];
	size_t n = strcspn(m, "\n");
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	memcpy(line, m, n);
	line[n] = '\0';
	if (r)
		PQclear(r);
	return du_err_set(err, DU_ERR_DB, "database: %s: %s", what, line);
}

int du_db_run(struct du_db *db, struct du_err *err, const char *what, const char *sql, int n,
	      const char *const *p, PGresult **want)
{
	PGconn *c = db->conn;
	/* Without parameters, PQexec: it takes several statements at once. */
	PGresult *r = n ? PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0) : PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		return pq_fail(err, c, r, what);
	if (want)
		*want = r;
	else
		PQclear(r);
	return DU_OK;
}

int64_t du_db_get_int64(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

double du_db_get_double(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtod(PQgetvalue(r, row, col), NULL);
}

bool du_db_get_bool(const PGresult *r, int row, int col)
{
	return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

const char *du_db_get_str(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

char *du_db_get_strdup(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

const char *du_db_i64(char buf[21], int64_t v)
{
	snprintf(buf, 21, "%" PRId64, v);
	return buf;
}

/* ---- migrations ---- */

static bool applied(const PGresult *r, int version)
{
	for (int i = 0; i < PQntuples(r); i++)
		if (du_db_get_int64(r, i, 0) == version)
			return true;
	return false;
}

int du_db_migrate(struct du_db *db, struct du_err *err)
{
	PGresult *have = NULL;
	int rc = du_db_begin(db, err);
	if (rc)
		return rc;
	/* The lock comes first so that two processes never race on creating schema_migrations. */
	rc = du_db_exec(db, err, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")", 0, NULL);
	if (!rc)
		rc = du_db_exec(db, err,
				"CREATE TABLE IF NOT EXISTS schema_migrations ("
				" version int PRIMARY KEY,"
				" name text,"
				" applied_at timestamptz DEFAULT now())",
				0, NULL);
	if (rc)
		goto out;
	have = du_db_query(db, err, "SELECT version FROM schema_migrations", 0, NULL);
	if (!have) {
		rc = DU_ERR_DB;
		goto out;
	}
	for (int i = 0; i < du_migrations_count; i++) {
		const struct du_migration *m = &du_migrations[i];
		if (applied(have, m->version))
			continue;
		/* Simple-query protocol: a migration file may hold many statements. */
		PGresult *r = PQexec(db->conn, m->sql);
		if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
			char what[160];
			snprintf(what, sizeof(what), "migration '%s' failed", m->name);
			rc = du_db_fail(db, err, r, what);
			PQclear(r);
			goto out;
		}
		PQclear(r);
		char v[21];
		const char *pv[2] = { du_db_i64(v, m->version), m->name };
		rc = du_db_exec(db, err, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2, pv);
		if (rc)
			goto out;
		du_debug("applied database migration %s", m->name);
	}
	rc = du_db_commit(db, err);
out:
	PQclear(have);
	if (rc)
		du_db_rollback(db);
	return rc;
}

/* ---- projects and sessions ----
 * Parameters carry explicit casts: in tables adopted from the Python tool the columns are varchar,
 * and a parameter used in two places must deduce to one type. */

int du_db_project_ensure(struct du_db *db, const char *bucket, const char *region, int64_t *project_id,
			 struct du_err *err)
{
	if (!bucket || !*bucket)
		return du_err_set(err, DU_ERR_CONFIG, "a project needs a bucket name");
	const char *p[2] = { bucket, region };
	/* The no-op update makes RETURNING yield the existing row's id too. */
	PGresult *r = du_db_query(db, err,
				  "INSERT INTO projects (project_name, bucket_name, aws_region) VALUES ($1::text, $1::text, $2::text)"
				  " ON CONFLICT (bucket_name) DO UPDATE SET"
				  "  aws_region = COALESCE(EXCLUDED.aws_region, projects.aws_region),"
				  "  updated_at = CASE WHEN EXCLUDED.aws_region IS DISTINCT FROM projects.aws_region"
				  "   AND EXCLUDED.aws_region IS NOT NULL THEN now() ELSE projects.updated_at END"
				  " RETURNING id",
				  2, p);
	if (!r)
		return DU_ERR_DB;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return du_err_set(err, DU_ERR_INTERNAL, "project upsert for '%s' returned no row", bucket);
	}
	*project_id = du_db_get_int64(r, 0, 0);
	PQclear(r);
	return DU_OK;
}

int du_db_session_create(struct du_db *db, int64_t project_id, const struct du_config *cfg,
			 const char *config_json, int64_t *session_id, struct du_err *err)
{
	char proj[21], workers[24], retries[24], pid[24], host[256], sid[21];
	if (gethostname(host, sizeof(host)) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	snprintf(workers, sizeof(workers), "%ld", cfg->max_workers);
	snprintf(retries, sizeof(retries), "%ld", cfg->times_to_retry);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	const char *p[11] = {
		du_db_i64(proj, project_id), cfg->local_directory, cfg->s3_prefix, cfg->aws_profile, workers, retries,
		cfg->use_find ? "true" : "false", *host ? host : NULL, pid, DU_VERSION, cfg->dry_run ? "true" : "false",
	};
	if (!cfg->local_directory || !cfg->s3_prefix)
		return du_err_set(err, DU_ERR_CONFIG, "a session needs local_directory and s3_prefix");
	int rc = du_db_begin(db, err);
	if (rc)
		return rc;
	PGresult *r = du_db_query(db, err,
				  "INSERT INTO sync_sessions (project_id, local_directory, s3_prefix, aws_profile,"
				  " max_workers, times_to_retry, use_find, hostname, pid, du_version, dry_run)"
				  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
				  11, p);
	if (!r) {
		rc = DU_ERR_DB;
		goto out;
	}
	int64_t id = du_db_get_int64(r, 0, 0);
	PQclear(r);
	const char *h[2] = { du_db_i64(sid, id), config_json ? config_json : "{}" };
	rc = du_db_exec(db, err, "INSERT INTO config_history (session_id, config_json) VALUES ($1, $2::jsonb)", 2, h);
	if (!rc)
		rc = du_db_commit(db, err);
	if (!rc)
		*session_id = id;
out:
	if (rc)
		du_db_rollback(db);
	return rc;
}

int du_db_session_get(struct du_db *db, int64_t id, struct du_session *out, struct du_err *err)
{
	char sid[21];
	const char *p[1] = { du_db_i64(sid, id) };
	PGresult *r = du_db_query(db, err,
				  "SELECT s.id, s.project_id, p.project_name, p.bucket_name, p.aws_region,"
				  " s.local_directory, s.s3_prefix, s.aws_profile, s.max_workers, s.times_to_retry,"
				  " s.use_find, s.dry_run, s.status, s.total_files, s.total_size_bytes,"
				  " s.files_uploaded, s.files_failed, s.files_skipped, s.bytes_uploaded,"
				  " extract(epoch FROM s.started_at)::float8, extract(epoch FROM s.completed_at)::float8,"
				  " s.error_message, s.hostname, s.pid, s.du_version,"
				  " (SELECT c.config_json::text FROM config_history c WHERE c.session_id = s.id"
				  "  ORDER BY c.id DESC LIMIT 1)"
				  " FROM sync_sessions s JOIN projects p ON p.id = s.project_id WHERE s.id = $1",
				  1, p);
	if (!r)
		return DU_ERR_DB;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return du_err_set(err, DU_ERR_NOTFOUND, "session %" PRId64 " does not exist", id);
	}
	struct du_session s = {
		.id = du_db_get_int64(r, 0, 0),
		.project_id = du_db_get_int64(r, 0, 1),
		.project_name = du_db_get_strdup(r, 0, 2),
		.bucket_name = du_db_get_strdup(r, 0, 3),
		.aws_region = du_db_get_strdup(r, 0, 4),
		.local_directory = du_db_get_strdup(r, 0, 5),
		.s3_prefix = du_db_get_strdup(r, 0, 6),
		.aws_profile = du_db_get_strdup(r, 0, 7),
		.max_workers = (long)du_db_get_int64(r, 0, 8),
		.times_to_retry = (long)du_db_get_int64(r, 0, 9),
		.use_find = du_db_get_bool(r, 0, 10),
		.dry_run = du_db_get_bool(r, 0, 11),
		.status = du_db_get_strdup(r, 0, 12),
		.total_files = du_db_get_int64(r, 0, 13),
		.total_size_bytes = du_db_get_int64(r, 0, 14),
		.files_uploaded = du_db_get_int64(r, 0, 15),
		.files_failed = du_db_get_int64(r, 0, 16),
		.files_skipped = du_db_get_int64(r, 0, 17),
		.bytes_uploaded = du_db_get_int64(r, 0, 18),
		.started_at = du_db_get_double(r, 0, 19),
		.completed_at = du_db_get_double(r, 0, 20),
		.error_message = du_db_get_strdup(r, 0, 21),
		.hostname = du_db_get_strdup(r, 0, 22),
		.pid = (long)du_db_get_int64(r, 0, 23),
		.du_version = du_db_get_strdup(r, 0, 24),
		.config_json = du_db_get_strdup(r, 0, 25),
	};
	/* strdup failing shows as NULL where the column was not NULL. */
	static const int strcols[] = { 2, 3, 4, 5, 6, 7, 12, 21, 22, 24, 25 };
	char **strs[] = { &s.project_name, &s.bucket_name, &s.aws_region, &s.local_directory, &s.s3_prefix,
			  &s.aws_profile, &s.status, &s.error_message, &s.hostname, &s.du_version, &s.config_json };
	for (size_t i = 0; i < sizeof(strcols) / sizeof(strcols[0]); i++)
		if (!*strs[i] && !PQgetisnull(r, 0, strcols[i])) {
			PQclear(r);
			du_session_release(&s);
			return du_err_set(err, DU_ERR_NOMEM, "out of memory");
		}
	PQclear(r);
	*out = s;
	return DU_OK;
}

void du_session_release(struct du_session *s)
{
	if (!s)
		return;
	free(s->project_name);
	free(s->bucket_name);
	free(s->aws_region);
	free(s->local_directory);
	free(s->s3_prefix);
	free(s->aws_profile);
	free(s->status);
	free(s->error_message);
	free(s->hostname);
	free(s->du_version);
	free(s->config_json);
	memset(s, 0, sizeof(*s));
}

int du_db_session_finish(struct du_db *db, int64_t id, const char *status, const char *error_message,
			 struct du_err *err)
{
	char sid[21];
	const char *p[3] = { du_db_i64(sid, id), status, error_message };
	PGresult *r = du_db_query(db, err,
				  "UPDATE sync_sessions SET status = $2::text,"
				  " completed_at = CASE WHEN $2::text = 'in_progress' THEN NULL ELSE now() END,"
				  " error_message = $3::text WHERE id = $1::bigint",
				  3, p);
	if (!r)
		return DU_ERR_DB;
	bool none = !strcmp(PQcmdTuples(r), "0");
	PQclear(r);
	if (none)
		return du_err_set(err, DU_ERR_NOTFOUND, "session %" PRId64 " does not exist", id);
	return DU_OK;
}

/* ---- COPY ---- */

int du_db_copy_begin(struct du_db *db, const char *copy_sql, struct du_db_copy **out, struct du_err *err)
{
	struct du_db_copy *cp = calloc(1, sizeof(*cp));
	/* Room for a chunk and the row that crosses it, so that rows seldom move the buffer. */
	if (!cp || !du_strbuf_grow(&cp->buf, COPY_CHUNK)) {
		free(cp);
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	}
	cp->db = db;
	PGresult *r = PQexec(db->conn, copy_sql);
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		du_db_fail(db, err, r, "cannot start COPY");
		PQclear(r);
		/* Should the statement have been anything but a COPY, do not leave it running. */
		while ((r = PQgetResult(db->conn)))
			PQclear(r);
		du_strbuf_release(&cp->buf);
		free(cp);
		return DU_ERR_DB;
	}
	PQclear(r);
	*out = cp;
	return DU_OK;
}

static int copy_flush(struct du_db_copy *cp, struct du_err *err)
{
	if (!cp->buf.len)
		return DU_OK;
	if (PQputCopyData(cp->db->conn, cp->buf.buf, (int)cp->buf.len) != 1)
		return du_db_fail(cp->db, err, NULL, "COPY failed");
	du_strbuf_reset(&cp->buf);
	return DU_OK;
}

/* One value in COPY's text format: backslash, tab, newline and carriage return escaped, NULL as \N. */
static void copy_escape(struct du_strbuf *sb, const char *v)
{
	if (!v) {
		du_strbuf_adds(sb, "\\N");
		return;
	}
	for (;;) {
		size_t n = strcspn(v, "\\\t\n\r");
		du_strbuf_add(sb, v, n);
		if (!v[n])
			return;
		du_strbuf_adds(sb, v[n] == '\\' ? "\\\\" : v[n] == '\t' ? "\\t" : v[n] == '\n' ? "\\n" : "\\r");
		v += n + 1;
	}
}

int du_db_copy_row(struct du_db_copy *cp, int ncols, const char *const *vals, struct du_err *err)
{
	if (ncols <= 0)
		return du_err_set(err, DU_ERR_INTERNAL, "COPY row without columns");
	for (int i = 0; i < ncols; i++) {
		if (i)
			du_strbuf_addc(&cp->buf, '\t');
		copy_escape(&cp->buf, vals[i]);
	}
	du_strbuf_addc(&cp->buf, '\n');
	if (cp->buf.oom)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	cp->rows++;
	if (cp->buf.len >= COPY_CHUNK)
		return copy_flush(cp, err);
	return DU_OK;
}

int64_t du_db_copy_rows(const struct du_db_copy *cp)
{
	return cp->rows;
}

static void copy_free(struct du_db_copy *cp)
{
	PGresult *r;
	while ((r = PQgetResult(cp->db->conn)))
		PQclear(r);
	du_strbuf_release(&cp->buf);
	free(cp);
}

int du_db_copy_end(struct du_db_copy *cp, struct du_err *err)
{
	int rc = copy_flush(cp, err);
	if (rc) {
		du_db_copy_abort(cp);
		return rc;
	}
	if (PQputCopyEnd(cp->db->conn, NULL) != 1) {
		rc = du_db_fail(cp->db, err, NULL, "COPY failed");
		copy_free(cp);
		return rc;
	}
	PGresult *r = PQgetResult(cp->db->conn);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = du_db_fail(cp->db, err, r, "COPY failed");
	else
		cp->db->sqlstate[0] = '\0';
	PQclear(r);
	copy_free(cp);
	return rc;
}

void du_db_copy_abort(struct du_db_copy *cp)
{
	if (!cp)
		return;
	PQputCopyEnd(cp->db->conn, "aborted by du");
	copy_free(cp);
}

/*
 * pgcluster.c: du's private PostgreSQL cluster, for users who configured no database.
 *
 * Layout of DIR ($DU_PG_DIR, $XDG_STATE_HOME/du/pg, ~/.local/state/du/pg; /var/lib/du/pg for root):
 *
 *   DIR/           0700, owned by the cluster's owner
 *   DIR/lock       flock: one process at a time creates, starts or checks the cluster
 *   DIR/data/      initdb'd with trust authentication: safe because nothing listens on TCP
 *                  (listen_addresses = '') and the socket directory below is 0700
 *   DIR/run/       the Unix socket, 0700
 *   DIR/initdb.log, DIR/postgres.log   child output; named in errors
 *
 * The server settings live in DIR/data/du.conf, rewritten at each start and included from
 * postgresql.conf, so no path ever goes through a shell or a command line.
 * initdb refuses to run as root: root runs the cluster as 'postgres' (or 'nobody'), which owns
 * DIR; root itself reaches the 0700 socket directory anyway.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "du/log.h"
#include "du/pgcluster.h"
#include "du/wait.h"

#define CLUSTER_USER "du"
#define CLUSTER_DB "du"
#define CLUSTER_PORT "5432"

/* dir is short (its socket path must fit in 108 bytes): the paths derived from it cannot overflow. */
struct cluster {
	char dir[1024];
	char data[1100];
	char sock[1100];
	char bin[PATH_MAX];
	bool as_other;  /* run the server as run_uid/run_gid (we are root) */
	uid_t run_uid;
	gid_t run_gid;
	char run_name[64];
};

static bool is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_exec(const char *dir, const char *name)
{
	char p[PATH_MAX + 32];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return access(p, X_OK) == 0 && is_file(p);
}

int du_pgcluster_dir(char *out, size_t n, struct du_err *err)
{
	const char *d = getenv("DU_PG_DIR"), *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	int len;
	if (d && *d)
		len = snprintf(out, n, "%s", d);
	else if (xdg && xdg[0] == '/')  /* XDG: a relative value is to be ignored */
		len = snprintf(out, n, "%s/du/pg", xdg);
	else if (geteuid() == 0)
		len = snprintf(out, n, "/var/lib/du/pg");  /* /root is closed to the cluster's owner */
	else {
		if (!home || !*home) {
			struct passwd *pw = getpwuid(geteuid());
			home = pw ? pw->pw_dir : NULL;
		}
		if (!home)
			return du_err_set(err, DU_ERR_DB, "cannot locate the private database: no home directory");
		len = snprintf(out, n, "%s/.local/state/du/pg", home);
	}
	if (len < 0 || (size_t)len >= n)
		return du_err_set(err, DU_ERR_DB, "the private database's directory name is too long");
	if (out[0] != '/')
		return du_err_set(err, DU_ERR_DB, "the private database's directory '%s' is not absolute", out);
	while (len > 1 && out[len - 1] == '/')
		out[--len] = '\0';
	return DU_OK;
}

/* mkdir -p; parents 0755 (the cluster's owner may need to traverse them), the last one 0700. */
static int make_dirs(const char *path, struct du_err *err)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST)
			return du_err_sys(err, DU_ERR_DB, errno, "cannot create directory '%s'", p);
		*s = '/';
	}
	if (mkdir(p, 0700) != 0 && errno != EEXIST)
		return du_err_sys(err, DU_ERR_DB, errno, "cannot create directory '%s'", p);
	return DU_OK;
}

/* The characters that would need quoting in pg_ctl's shell command or in a GUC list. */
static int check_path(const char *dir, struct du_err *err)
{
	if (strpbrk(dir, "\"'\\$`,\n\r")) {
		du_err_set(err, DU_ERR_DB, "the private database's directory '%s' contains a character PostgreSQL "
			   "tools cannot take", dir);
		du_err_hint(err, "set DU_PG_DIR to a plain path, or configure a database (DATABASE_URL or DB_HOST)");
		return DU_ERR_DB;
	}
	/* sockaddr_un.sun_path is 108 bytes, including "/.s.PGSQL.5432" and the NUL. */
	if (strlen(dir) + strlen("/run/.s.PGSQL." CLUSTER_PORT) >= 108) {
		du_err_set(err, DU_ERR_DB, "the private database's directory '%s' is too long for a Unix socket", dir);
		du_err_hint(err, "set DU_PG_DIR to a shorter path");
		return DU_ERR_DB;
	}
	return DU_OK;
}

static long read_major(const char *data)
{
	char p[PATH_MAX + 16], buf[32] = "";
	snprintf(p, sizeof(p), "%s/PG_VERSION", data);
	FILE *f = fopen(p, "re");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return strtol(buf, NULL, 10);
}

/* Debian keeps initdb off PATH and pg_config --bindir may name another version: prefer the
 * version that made the data directory, else the newest installed, else PATH. */
static int find_bin(struct cluster *c, struct du_err *err)
{
	const char *env = getenv("DU_PG_BIN");
	if (env && *env) {
		snprintf(c->bin, sizeof(c->bin), "%s", env);
		if (is_exec(c->bin, "initdb") && is_exec(c->bin, "pg_ctl"))
			return DU_OK;
		return du_err_set(err, DU_ERR_DB, "DU_PG_BIN '%s' holds no initdb and pg_ctl", env);
	}
	long want = read_major(c->data), best = 0;
	bool exact = false;
	DIR *d = opendir("/usr/lib/postgresql");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char *end;
		long v = strtol(e->d_name, &end, 10);
		char bin[PATH_MAX];
		if (*end || v <= 0)
			continue;
		snprintf(bin, sizeof(bin), "/usr/lib/postgresql/%s/bin", e->d_name);
		if (!is_exec(bin, "initdb") || !is_exec(bin, "pg_ctl"))
			continue;
		if (v == want || (!exact && v > best)) {
			exact = v == want;
			best = v;
			snprintf(c->bin, sizeof(c->bin), "%s", bin);
		}
	}
	if (d)
		closedir(d);
	if (best)
		return DU_OK;
	const char *path = getenv("PATH");
	char *copy = strdup(path ? path : "/usr/local/bin:/usr/bin:/bin");
	if (!copy)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	char *save = NULL;
	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		if (*dir && is_exec(dir, "initdb") && is_exec(dir, "pg_ctl")) {
			snprintf(c->bin, sizeof(c->bin), "%s", dir);
			free(copy);
			return DU_OK;
		}
	}
	free(copy);
	du_err_set(err, DU_ERR_DB, "no database is configured and PostgreSQL's initdb and pg_ctl are not installed "
		   "(looked in /usr/lib/postgresql/*/bin and PATH)");
	du_err_hint(err, "install the postgresql package, or set DATABASE_URL or DB_HOST/DB_NAME/DB_USER");
	return DU_ERR_DB;
}

/* As root, the server runs as the data directory's owner if it already has one, else postgres,
 * else nobody. */
static int pick_owner(struct cluster *c, struct du_err *err)
{
	if (geteuid() != 0)
		return DU_OK;
	struct stat st;
	struct passwd *pw = NULL;
	if (stat(c->data, &st) == 0 && st.st_uid != 0)
		pw = getpwuid(st.st_uid);
	if (!pw)
		pw = getpwnam("postgres");
	if (!pw)
		pw = getpwnam("nobody");
	if (!pw || pw->pw_uid == 0)
		return du_err_set(err, DU_ERR_DB, "running as root and there is no unprivileged user ('postgres' or "
				  "'nobody') to own the private database");
	c->as_other = true;
	c->run_uid = pw->pw_uid;
	c->run_gid = pw->pw_gid;
	snprintf(c->run_name, sizeof(c->run_name), "%s", pw->pw_name);
	return DU_OK;
}

/* Can the cluster's owner reach dir? Checked up front because initdb's own complaint is obscure. */
static int check_reachable(const struct cluster *c, struct du_err *err)
{
	if (!c->as_other)
		return DU_OK;
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s", c->dir);
	/* DIR itself is handed to the owner; its ancestors must let the owner through. */
	for (char *s = strrchr(p, '/'); s && s > p; s = strrchr(p, '/')) {
		*s = '\0';
		const char *anc = p;
		struct stat st;
		if (stat(anc, &st) != 0)
			continue;
		mode_t bit = st.st_uid == c->run_uid ? S_IXUSR : st.st_gid == c->run_gid ? S_IXGRP : S_IXOTH;
		if (!(st.st_mode & bit)) {
			du_err_set(err, DU_ERR_DB, "the private database's directory '%s' is not reachable by user '%s' "
				   "(no search permission on '%s')", c->dir, c->run_name, anc);
			du_err_hint(err, "set DU_PG_DIR to a directory under /var/lib or /tmp, or configure a database");
			return DU_ERR_DB;
		}
	}
	return DU_OK;
}

static int give(const struct cluster *c, const char *path, struct du_err *err)
{
	if (c->as_other && chown(path, c->run_uid, c->run_gid) != 0)
		return du_err_sys(err, DU_ERR_DB, errno, "cannot hand '%s' to user '%s'", path, c->run_name);
	return DU_OK;
}

/* Run argv (absolute path first) with its output appended to log, as the cluster's owner.
 * Only async-signal-safe calls between fork and exec: the caller may have threads. */
static int run(const struct cluster *c, char *const argv[], const char *log, struct du_err *err)
{
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return du_err_sys(err, DU_ERR_DB, errno, "cannot open '%s'", log);
	if (c->as_other && fchown(fd, c->run_uid, c->run_gid) != 0) {
		close(fd);
		return du_err_sys(err, DU_ERR_DB, errno, "cannot hand '%s' to user '%s'", log, c->run_name);
	}
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(fd);
		if (devnull >= 0)
			close(devnull);
		return du_err_sys(err, DU_ERR_DB, e, "cannot start '%s'", argv[0]);
	}
	if (pid == 0) {
		if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		/* The postmaster outlives us: it must not inherit our lock file or connections. */
		close_range(3, ~0U, 0);
		if (c->as_other && (setgroups(1, &c->run_gid) != 0 || setgid(c->run_gid) != 0 ||
				    setuid(c->run_uid) != 0))
			_exit(126);
		if (chdir(c->dir) != 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fd);
	if (devnull >= 0)
		close(devnull);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return du_err_sys(err, DU_ERR_DB, errno, "cannot wait for '%s'", argv[0]);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return DU_OK;
	const char *name = strrchr(argv[0], '/');
	name = name ? name + 1 : argv[0];
	du_err_set(err, DU_ERR_DB, "%s failed for the private database in '%s' (exit %d); see '%s'", name, c->dir,
		   WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), log);
	return DU_ERR_DB;
}

static int write_file(const struct cluster *c, const char *path, const char *text, int flags, struct du_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0600);
	if (fd < 0)
		return du_err_sys(err, DU_ERR_DB, errno, "cannot write '%s'", path);
	size_t len = strlen(text);
	ssize_t w = write(fd, text, len);
	int e = errno;
	if (close(fd) != 0 && w == (ssize_t)len)
		w = -1, e = errno;
	if (w != (ssize_t)len)
		return du_err_sys(err, DU_ERR_DB, w < 0 ? e : EIO, "cannot write '%s'", path);
	return give(c, path, err);
}

static int init_cluster(struct cluster *c, struct du_err *err)
{
	char initdb[PATH_MAX + 8], log[PATH_MAX + 16], conf[PATH_MAX + 24];
	snprintf(initdb, sizeof(initdb), "%s/initdb", c->bin);
	snprintf(log, sizeof(log), "%s/initdb.log", c->dir);
	char *argv[] = { initdb, "-D", c->data, "-U", CLUSTER_USER, "-A", "trust", "-E", "UTF8", "--locale=C", NULL };
	du_info("creating the private PostgreSQL cluster in '%s'", c->dir);
	int rc = run(c, argv, log, err);
	if (rc)
		return rc;
	snprintf(conf, sizeof(conf), "%s/postgresql.conf", c->data);
	return write_file(c, conf, "\n# added by du: socket-only settings\ninclude_if_exists = 'du.conf'\n", O_APPEND,
			  err);
}

static int start_cluster(struct cluster *c, struct du_err *err)
{
	char conf[PATH_MAX + 16], text[PATH_MAX + 256], pg_ctl[PATH_MAX + 8], log[PATH_MAX + 16];
	snprintf(conf, sizeof(conf), "%s/du.conf", c->data);
	/* Double quotes inside the list value keep a path with spaces one entry. */
	snprintf(text, sizeof(text),
		 "# written by du at each start of its private cluster\n"
		 "listen_addresses = ''\n"
		 "port = " CLUSTER_PORT "\n"
		 "unix_socket_directories = '\"%s\"'\n"
		 "unix_socket_permissions = 0700\n",
		 c->sock);
	int rc = write_file(c, conf, text, O_TRUNC, err);
	if (rc)
		return rc;
	snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", c->bin);
	snprintf(log, sizeof(log), "%s/postgres.log", c->dir);
	char *argv[] = { pg_ctl, "-D", c->data, "-l", log, "-w", "-t", "60", "start", NULL };
	/* pg_ctl opens the server log itself, as the cluster's owner. */
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (c->as_other && fchown(fd, c->run_uid, c->run_gid) != 0)
			du_debug("cannot hand '%s' to '%s'", log, c->run_name);
		close(fd);
	}
	char ctl_log[PATH_MAX + 16];
	snprintf(ctl_log, sizeof(ctl_log), "%s/pg_ctl.log", c->dir);
	rc = run(c, argv, ctl_log, err);
	if (rc)
		du_err_hint(err, "the server's own log is '%s'", log);
	return rc;
}

/* conninfo value quoting: inside '...', backslash and quote are escaped. */
static void quote(char *out, size_t n, const char *v)
{
	size_t o = 0;
	if (n < 3)
		return;
	out[o++] = '\'';
	for (; *v && o + 3 < n; v++) {
		if (*v == '\\' || *v == '\'')
			out[o++] = '\\';
		out[o++] = *v;
	}
	out[o++] = '\'';
	out[o] = '\0';
}

static void conninfo(const struct cluster *c, const char *dbname, char *out, size_t n)
{
	char host[PATH_MAX * 2 + 3];
	quote(host, sizeof(host), c->sock);
	snprintf(out, n, "host=%s port=" CLUSTER_PORT " user=" CLUSTER_USER " dbname=%s connect_timeout=10", host, dbname);
}

static int ensure_database(const struct cluster *c, struct du_err *err)
{
	char ci[PATH_MAX * 2 + 128];
	conninfo(c, "postgres", ci, sizeof(ci));
	PGconn *conn = PQconnectdb(ci);
	int rc = DU_OK;
	if (PQstatus(conn) != CONNECTION_OK) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
		msg[strcspn(msg, "\r\n")] = '\0';
		rc = du_err_set(err, DU_ERR_DB, "cannot connect to the private database in '%s': %s", c->dir, msg);
		goto out;
	}
	PGresult *r = PQexec(conn, "SELECT 1 FROM pg_database WHERE datname = '" CLUSTER_DB "'");
	bool exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
	PQclear(r);
	if (!exists) {
		r = PQexec(conn, "CREATE DATABASE " CLUSTER_DB);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			char msg[256];
			snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
			msg[strcspn(msg, "\r\n")] = '\0';
			rc = du_err_set(err, DU_ERR_DB, "cannot create database '" CLUSTER_DB "' in '%s': %s", c->dir, msg);
		}
		PQclear(r);
	}
out:
	PQfinish(conn);
	return rc;
}

static int ensure_locked(struct cluster *c, struct du_err *err)
{
	char ci[PATH_MAX * 2 + 128], ver[PATH_MAX + 16];
	int rc;
	if ((rc = pick_owner(c, err)) || (rc = check_reachable(c, err)) || (rc = give(c, c->dir, err)))
		return rc;
	if (chmod(c->dir, 0700) != 0)
		return du_err_sys(err, DU_ERR_DB, errno, "cannot protect '%s'", c->dir);
	if ((rc = make_dirs(c->sock, err)) || (rc = give(c, c->sock, err)))
		return rc;
	if (chmod(c->sock, 0700) != 0)
		return du_err_sys(err, DU_ERR_DB, errno, "cannot protect '%s'", c->sock);
	if ((rc = find_bin(c, err)))
		return rc;
	snprintf(ver, sizeof(ver), "%s/PG_VERSION", c->data);
	if (!is_file(ver) && (rc = init_cluster(c, err)))
		return rc;
	conninfo(c, "postgres", ci, sizeof(ci));
	PGPing ping = PQping(ci);
	/* A server still recovering (after a crash or reboot) answers but refuses: let it finish. */
	for (int i = 0; ping == PQPING_REJECT && i < 600; i++) {
		du_wait_ms(100, NULL, NULL);
		ping = PQping(ci);
	}
	if (ping != PQPING_OK && (rc = start_cluster(c, err)))
		return rc;
	return ensure_database(c, err);
}

int du_pgcluster_ensure(char *conninfo_out, size_t n, struct du_err *err)
{
	struct cluster c = { .as_other = false };
	char lock[PATH_MAX + 8];
	int rc = du_pgcluster_dir(c.dir, sizeof(c.dir), err);
	if (rc || (rc = check_path(c.dir, err)) || (rc = make_dirs(c.dir, err)))
		return rc;
	snprintf(c.data, sizeof(c.data), "%s/data", c.dir);
	snprintf(c.sock, sizeof(c.sock), "%s/run", c.dir);
	snprintf(lock, sizeof(lock), "%s/lock", c.dir);
	/* CLOEXEC matters: a postmaster inheriting this descriptor would hold the lock forever. */
	int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return du_err_sys(err, DU_ERR_DB, errno, "cannot open '%s'", lock);
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			rc = du_err_sys(err, DU_ERR_DB, errno, "cannot lock '%s'", lock);
			goto out;
		}
	}
	rc = ensure_locked(&c, err);
out:
	close(fd);  /* releases the flock */
	if (rc)
		return rc;
	conninfo(&c, CLUSTER_DB, conninfo_out, n);
	/* Debian keeps pg_ctl off PATH, and pg_ctl refuses root: say exactly what works. */
	char as[96] = "";
	if (c.as_other)
		snprintf(as, sizeof(as), "runuser -u %s -- ", c.run_name);
	/* Once per process, though each of its connections (writer, multipart) comes through here. */
	static int announced;
	if (!__atomic_exchange_n(&announced, 1, __ATOMIC_RELAXED))
		du_info("using the private PostgreSQL cluster in '%s' (stop it with: %s%s/pg_ctl -D '%s' stop)", c.dir,
			as, c.bin, c.data);
	return DU_OK;
}

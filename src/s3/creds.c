#include "du/creds.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "du/ini.h"
#include "du/log.h"
#include "http/http.h"

extern char **environ;

#define REFRESH_MARGIN_S 300     /* refresh temporary credentials 5 minutes before they expire */
#define PROCESS_TIMEOUT_S 60     /* a credential_process may prompt for MFA; give it time */
#define PROCESS_MAX_OUT (64 << 10)
#define RETRY_AFTER_FAIL_S 10    /* after a failed refresh, keep using valid creds this long */
#define IMDS_DEFAULT "http://169.254.169.254"
#define IMDS_MAX_BODY (64 << 10)
#define IMDS_TOKEN_TTL "21600"

enum kind { KIND_STATIC, KIND_PROCESS, KIND_IMDS };

struct du_creds_provider {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	enum kind kind;
	char profile[128];       /* profile whose credential_process runs (for messages) */
	char *process_cmd;
	char imds_endpoint[512];
	int margin_s;
	int process_timeout_s;
	bool curl_inited;

	/* Under mu. */
	struct du_creds cur;
	bool refreshing;
	int last_rc;
	struct du_err last_err;
	time_t next_try;
};

/* ---- small helpers ---- */

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static int env_int(const char *name, int def)
{
	const char *v = env_nonempty(name);
	if (!v)
		return def;
	char *end;
	long n = strtol(v, &end, 10);
	return (*end || n < 0 || n > INT_MAX) ? def : (int)n;
}

static void home_path(char *out, size_t outsz, const char *env, const char *rel)
{
	const char *v = env_nonempty(env);
	if (v) {
		snprintf(out, outsz, "%s", v);
		return;
	}
	const char *home = env_nonempty("HOME");
	if (!home) {
		struct passwd *pw = getpwuid(getuid());
		home = pw && pw->pw_dir ? pw->pw_dir : "";
	}
	snprintf(out, outsz, "%s/%s", home, rel);
}

static void credentials_file(char *out, size_t outsz)
{
	home_path(out, outsz, "AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
}

static void config_file(char *out, size_t outsz)
{
	home_path(out, outsz, "AWS_CONFIG_FILE", ".aws/config");
}

static int copy_field(char *dst, size_t dstsz, const char *src, const char *what, const char *from,
		      struct du_err *err)
{
	size_t n = strlen(src);
	if (n >= dstsz)
		return du_err_set(err, DU_ERR_S3_AUTH, "%s from %s is longer than %zu bytes", what, from,
				  dstsz - 1);
	memcpy(dst, src, n + 1);
	return DU_OK;
}

static int fill_creds(struct du_creds *c, const char *ak, const char *sk, const char *token,
		      time_t expires, const char *source, struct du_err *err)
{
	int rc;
	memset(c, 0, sizeof(*c));
	if ((rc = copy_field(c->access_key, sizeof(c->access_key), ak, "access key id", source, err)) ||
	    (rc = copy_field(c->secret_key, sizeof(c->secret_key), sk, "secret access key", source, err)) ||
	    (rc = copy_field(c->session_token, sizeof(c->session_token), token ? token : "",
			     "session token", source, err))) {
		du_creds_wipe(c);
		return rc;
	}
	c->expires = expires;
	snprintf(c->source, sizeof(c->source), "%s", source);
	return DU_OK;
}

void du_creds_wipe(struct du_creds *c)
{
	if (c)
		explicit_bzero(c, sizeof(*c));
}

/*
 * ISO 8601 as AWS writes it: 2024-05-01T12:00:00Z, with optional fractional seconds and a
 * numeric offset instead of Z. Returns 0 on success.
 */
static int parse_iso8601(const char *s, time_t *out)
{
	struct tm tm = { 0 };
	int n = 0;
	if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 || !n)
		return -1;
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	s += n;
	if (*s == '.' || *s == ',')
		for (s++; isdigit((unsigned char)*s); s++)
			;
	long offset = 0;
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		int sign = *s == '-' ? -1 : 1, hh, mm = 0, k = 0;
		if (sscanf(s + 1, "%2d%n", &hh, &k) != 1 || k != 2)
			return -1;
		s += 3;
		if (*s == ':')
			s++;
		if (isdigit((unsigned char)*s)) {
			if (sscanf(s, "%2d%n", &mm, &k) != 1 || k != 2)
				return -1;
			s += 2;
		}
		offset = sign * (hh * 3600L + mm * 60L);
	}
	if (*s)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = t - offset;
	return 0;
}

static void wipe_json(cJSON *j)
{
	for (; j; j = j->next) {
		if (j->valuestring)
			explicit_bzero(j->valuestring, strlen(j->valuestring));
		wipe_json(j->child);
	}
}

static const char *json_str(const cJSON *root, const char *name)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, name);
	return cJSON_IsString(it) && it->valuestring && *it->valuestring ? it->valuestring : NULL;
}

/*
 * Parse the credentials JSON of credential_process (token key "SessionToken", "Version": 1) or
 * of IMDS (token key "Token"). what names the source in errors; the text itself never appears.
 */
static int parse_creds_json(const char *buf, size_t len, bool process, const char *what,
			    const char *source, struct du_creds *c, struct du_err *err)
{
	int rc = DU_OK;
	cJSON *root = cJSON_ParseWithLength(buf, len);
	if (!root || !cJSON_IsObject(root)) {
		rc = du_err_set(err, DU_ERR_S3_AUTH, "%s printed something that is not a JSON object", what);
		goto out;
	}
	if (process) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "Version");
		if (!cJSON_IsNumber(v) || v->valuedouble != 1) {
			rc = du_err_set(err, DU_ERR_S3_AUTH, "%s printed JSON without \"Version\": 1", what);
			goto out;
		}
	} else {
		const char *code = json_str(root, "Code");
		if (code && strcmp(code, "Success")) {
			rc = du_err_set(err, DU_ERR_S3_AUTH, "%s answered with Code '%.64s'", what, code);
			goto out;
		}
	}
	const char *ak = json_str(root, "AccessKeyId"), *sk = json_str(root, "SecretAccessKey");
	const char *tok = json_str(root, process ? "SessionToken" : "Token");
	const char *exp = json_str(root, "Expiration");
	if (!ak || !sk) {
		rc = du_err_set(err, DU_ERR_S3_AUTH, "%s gave JSON without %s", what,
				ak ? "SecretAccessKey" : "AccessKeyId");
		goto out;
	}
	time_t expires = 0;
	if (exp && parse_iso8601(exp, &expires)) {
		rc = du_err_set(err, DU_ERR_S3_AUTH, "%s gave an Expiration that is not ISO 8601", what);
		goto out;
	}
	if (!process && !exp) {
		rc = du_err_set(err, DU_ERR_S3_AUTH, "%s gave credentials without Expiration", what);
		goto out;
	}
	rc = fill_creds(c, ak, sk, tok, expires, source, err);
out:
	if (root) {
		wipe_json(root);
		cJSON_Delete(root);
	}
	return rc;
}

/* ---- credential_process ---- */

static int read_child(int fd, pid_t pid, int timeout_s, char *buf, size_t bufsz, size_t *len,
		      const char *what, struct du_err *err)
{
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	*len = 0;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left_ms = timeout_s * 1000L - ((now.tv_sec - start.tv_sec) * 1000L +
						    (now.tv_nsec - start.tv_nsec) / 1000000L);
		if (left_ms <= 0) {
			kill(pid, SIGKILL);
			return du_err_set(err, DU_ERR_S3_AUTH, "%s did not finish within %d s", what,
					  timeout_s);
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, (int)(left_ms > INT_MAX ? INT_MAX : left_ms));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			kill(pid, SIGKILL);
			return du_err_sys(err, DU_ERR_S3_AUTH, errno, "cannot read from %s", what);
		}
		if (r == 0)
			continue;
		if (*len == bufsz) {
			kill(pid, SIGKILL);
			return du_err_set(err, DU_ERR_S3_AUTH, "%s printed more than %zu KiB", what,
					  bufsz >> 10);
		}
		ssize_t n = read(fd, buf + *len, bufsz - *len);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			kill(pid, SIGKILL);
			return du_err_sys(err, DU_ERR_S3_AUTH, errno, "cannot read from %s", what);
		}
		if (n == 0)
			return DU_OK;
		*len += (size_t)n;
	}
}

/*
 * Run the user's command with /bin/sh -c, as configured (nothing of ours is put into the command
 * line). stdout is read (it holds secrets, so it is never echoed); stdin and stderr are ours, so
 * an MFA prompt still reaches the user.
 */
static int run_process(const char *cmd, const char *profile, int timeout_s, struct du_creds *c,
		       struct du_err *err)
{
	char what[200], source[160];
	snprintf(what, sizeof(what), "credential_process of profile '%s'", profile);
	snprintf(source, sizeof(source), "credential_process of profile '%s'", profile);
	int pfd[2] = { -1, -1 }, rc = DU_OK;
	char *buf = NULL;
	size_t len = 0;
	pid_t pid = -1;

	/* Everything the child needs is prepared before fork: after it, only async-signal-safe calls. */
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };
	buf = malloc(PROCESS_MAX_OUT);
	if (!buf)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	if (pipe2(pfd, O_CLOEXEC)) {
		rc = du_err_sys(err, DU_ERR_S3_AUTH, errno, "cannot run %s", what);
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		rc = du_err_sys(err, DU_ERR_S3_AUTH, errno, "cannot run %s", what);
		goto out;
	}
	if (pid == 0) {
		if (dup2(pfd[1], STDOUT_FILENO) < 0)
			_exit(127);
		execve("/bin/sh", argv, environ);
		_exit(127);
	}
	close(pfd[1]);
	pfd[1] = -1;
	rc = read_child(pfd[0], pid, timeout_s, buf, PROCESS_MAX_OUT, &len, what, err);
	close(pfd[0]);
	pfd[0] = -1;
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (rc)
		goto out;
	if (WIFSIGNALED(status)) {
		rc = du_err_set(err, DU_ERR_S3_AUTH, "%s was killed by signal %d", what, WTERMSIG(status));
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		rc = du_err_set(err, DU_ERR_S3_AUTH, "%s failed with exit status %d%s", what,
				WEXITSTATUS(status),
				WEXITSTATUS(status) == 127 ? " (command not found?)" : "");
		goto out;
	}
	rc = parse_creds_json(buf, len, true, what, source, c, err);
out:
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	explicit_bzero(buf, PROCESS_MAX_OUT);
	free(buf);
	return rc;
}

/* ---- IMDSv2 ---- */

/*
 * One IMDS request, at most two attempts (a network error or 5xx is retried once). Short
 * timeouts so a machine that is not on EC2 gives up within seconds.
 */
/* link-local: a proxy would answer for it */
static const struct du_http_opts imds_http = { .connect_timeout_ms = 1000, .timeout_ms = 2000, .no_proxy = true };

static int imds_request(const char *url, bool put, const char *token, struct du_http_body *b, struct du_err *err)
{
	int rc = DU_OK;
	for (int attempt = 0; attempt < 2; attempt++) {
		CURL *h = curl_easy_init();
		struct curl_slist *hdr = NULL;
		char line[256];
		long status = 0;
		if (!h)
			return du_err_set(err, DU_ERR_NOMEM, "cannot create an HTTP handle");
		du_http_body_reset(b);
		if (put) {
			hdr = curl_slist_append(hdr, "X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL);
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
		}
		if (token) {
			snprintf(line, sizeof(line), "X-aws-ec2-metadata-token: %s", token);
			hdr = curl_slist_append(hdr, line);
			explicit_bzero(line, sizeof(line));
		}
		du_http_setup(h, &imds_http);
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, du_http_body_write);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
		CURLcode cc = curl_easy_perform(h);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_cleanup(h);
		curl_slist_free_all(hdr); /* the token is not a long-lived secret; it dies with the list */
		if (cc == CURLE_OK && status == 200)
			return DU_OK;
		if (b->over) {
			return du_err_set(err, DU_ERR_S3_AUTH,
					  "instance metadata answer is larger than %d KiB", IMDS_MAX_BODY >> 10);
		}
		if (cc != CURLE_OK) {
			rc = du_err_set(err, DU_ERR_NET, "instance metadata unreachable: %s",
					curl_easy_strerror(cc));
			continue;
		}
		rc = du_err_set(err, DU_ERR_S3_AUTH, "instance metadata answered HTTP %ld", status);
		if (err)
			err->http_status = status;
		if (status < 500)
			return rc;
	}
	return rc;
}

static int imds_fetch(const char *endpoint, struct du_creds *c, struct du_err *err)
{
	char url[1024], token[128], role[256];
	/* Credentials pass through it: allocated whole once, so no realloc leaves a copy behind,
	 * and wiped before it is freed. */
	struct du_http_body hb = { .max = IMDS_MAX_BODY - 1 };
	struct du_strbuf *bs = &hb.sb;
	int rc;
	if (!du_strbuf_grow(bs, IMDS_MAX_BODY))
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	du_strbuf_reset(bs);
	snprintf(url, sizeof(url), "%s/latest/api/token", endpoint);
	if ((rc = imds_request(url, true, NULL, &hb, err)))
		goto out;
	if (bs->len == 0 || bs->len >= sizeof(token)) {
		rc = du_err_set(err, DU_ERR_S3_AUTH, "instance metadata gave a token of %zu bytes", bs->len);
		goto out;
	}
	memcpy(token, bs->buf, bs->len + 1);
	/* It goes into a header line: nothing but visible ASCII. */
	for (size_t i = 0; i < bs->len; i++) {
		if (token[i] <= ' ' || token[i] > '~') {
			rc = du_err_set(err, DU_ERR_S3_AUTH, "instance metadata gave a malformed token");
			goto out;
		}
	}
	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/", endpoint);
	if ((rc = imds_request(url, false, token, &hb, err))) {
		if (err && err->http_status == 404)
			rc = du_err_set(err, DU_ERR_S3_AUTH, "instance has no IAM role");
		goto out;
	}
	/* One role per instance profile; take the first line. */
	size_t rl = strcspn(bs->buf, "\r\n");
	while (rl && isspace((unsigned char)bs->buf[rl - 1]))
		rl--;
	if (rl == 0 || rl >= sizeof(role) || strcspn(bs->buf, "/?#") < rl) {
		rc = du_err_set(err, DU_ERR_S3_AUTH, "instance metadata gave no usable IAM role name");
		goto out;
	}
	memcpy(role, bs->buf, rl);
	role[rl] = '\0';
	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/%s", endpoint, role);
	if ((rc = imds_request(url, false, token, &hb, err)))
		goto out;
	char source[160];
	snprintf(source, sizeof(source), "instance metadata (role '%.100s')", role);
	rc = parse_creds_json(bs->buf, bs->len, false, "instance metadata", source, c, err);
out:
	explicit_bzero(token, sizeof(token));
	explicit_bzero(bs->buf, bs->alloc);
	du_http_body_release(&hb);
	return rc;
}

/* ---- shared files and profiles ---- */

struct files {
	struct du_ini *cred, *conf;
	bool cred_missing, conf_missing;
};

static void files_free(struct files *f)
{
	du_ini_free(f->cred);
	du_ini_free(f->conf);
}

static int files_load(struct files *f, struct du_err *err)
{
	char path[PATH_MAX];
	int rc;
	memset(f, 0, sizeof(*f));
	credentials_file(path, sizeof(path));
	if ((rc = du_ini_load(&f->cred, path, &f->cred_missing, err)))
		return rc;
	config_file(path, sizeof(path));
	if ((rc = du_ini_load(&f->conf, path, &f->conf_missing, err))) {
		files_free(f);
		return rc;
	}
	return DU_OK;
}

/* "[profile name]" (any blanks between) names profile name; returns name or NULL. */
static const char *config_profile_name(const char *section, char *buf, size_t bufsz)
{
	if (!strcmp(section, "default"))
		return "default";
	if (strncmp(section, "profile", 7) || !isspace((unsigned char)section[7]))
		return NULL;
	const char *p = section + 7;
	while (isspace((unsigned char)*p))
		p++;
	snprintf(buf, bufsz, "%s", p);
	return buf;
}

/* The config file section of profile, or NULL. Borrowed from ini. */
static const char *config_section(const struct du_ini *conf, const char *profile)
{
	char buf[256];
	for (size_t i = 0; i < du_ini_section_count(conf); i++) {
		const char *s = du_ini_section_name(conf, i);
		const char *name = config_profile_name(s, buf, sizeof(buf));
		if (name && !strcmp(name, profile))
			return s;
	}
	return NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "a, b, c" of the profiles in both files, sorted, without duplicates. */
static void list_profiles(const struct files *f, char *out, size_t outsz)
{
	size_t nc = du_ini_section_count(f->cred), nf = du_ini_section_count(f->conf), n = 0;
	char **names = calloc(nc + nf + 1, sizeof(*names));
	out[0] = '\0';
	if (!names)
		return;
	for (size_t i = 0; i < nc; i++)
		names[n++] = strdup(du_ini_section_name(f->cred, i));
	for (size_t i = 0; i < nf; i++) {
		char buf[256];
		const char *p = config_profile_name(du_ini_section_name(f->conf, i), buf, sizeof(buf));
		if (p)
			names[n++] = strdup(p);
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (names[i])
			names[k++] = names[i];
	qsort(names, k, sizeof(*names), cmp_str);
	size_t used = 0;
	for (size_t i = 0; i < k; i++) {
		if ((i == 0 || strcmp(names[i], names[i - 1])) && used < outsz)
			used += (size_t)snprintf(out + used, outsz - used, "%s%s", used ? ", " : "", names[i]);
	}
	for (size_t i = 0; i < k; i++)
		free(names[i]);
	if (!k)
		snprintf(out, outsz, "none");
	free(names);
}

/*
 * Static keys of profile in one file. *found tells whether the file had them; a key without its
 * partner is an error naming the section's FILE:LINE.
 */
static int try_static(const struct du_ini *ini, const char *section, const char *profile,
		      struct du_creds *c, bool *found, struct du_err *err)
{
	*found = false;
	if (!section)
		return DU_OK;
	const char *ak = du_ini_get(ini, section, "aws_access_key_id", NULL);
	const char *sk = du_ini_get(ini, section, "aws_secret_access_key", NULL);
	const char *tok = du_ini_get(ini, section, "aws_session_token", NULL);
	if (!tok)
		tok = du_ini_get(ini, section, "aws_security_token", NULL);
	ak = ak && *ak ? ak : NULL;
	sk = sk && *sk ? sk : NULL;
	if (!ak && !sk)
		return DU_OK;
	int line = 0;
	/* configparser reads an indented line as the continuation of the value above it. */
	if ((ak && strchr(ak, '\n')) || (sk && strchr(sk, '\n'))) {
		const char *k = ak && strchr(ak, '\n') ? "aws_access_key_id" : "aws_secret_access_key";
		du_ini_get(ini, section, k, &line);
		return du_err_set(err, DU_ERR_S3_AUTH,
				  "%s at %s:%d is followed by an indented line, which continues its value; "
				  "remove the indentation", k, du_ini_path(ini), line);
	}
	du_ini_has_section(ini, section, &line);
	if (!ak || !sk)
		return du_err_set(err, DU_ERR_S3_AUTH, "profile '%s' at %s:%d has %s but no %s", profile,
				  du_ini_path(ini), line, ak ? "aws_access_key_id" : "aws_secret_access_key",
				  ak ? "aws_secret_access_key" : "aws_access_key_id");
	char source[160];
	snprintf(source, sizeof(source), "profile '%.40s' in %.100s", profile, du_ini_path(ini));
	int rc = fill_creds(c, ak, sk, tok && *tok ? tok : NULL, 0, source, err);
	*found = rc == DU_OK;
	return rc;
}

static const char *const unsupported_keys[] = {
	"role_arn", "sso_session", "sso_start_url", "web_identity_token_file", "credential_source",
	"login_session",
};

/*
 * Credentials of profile from the shared files. Not found is an error when explicit, otherwise
 * *found = false so that the chain goes on. On success cp->kind (and process_cmd) are set.
 */
static int resolve_profile(struct du_creds_provider *cp, const struct files *f, const char *profile,
			   bool explicit, struct du_creds *c, bool *found, struct du_err *err)
{
	int rc, cl = 0, fl = 0;
	bool in_cred = du_ini_has_section(f->cred, profile, &cl);
	const char *csec = config_section(f->conf, profile);
	const char *cred_sec = in_cred ? profile : NULL;
	*found = false;
	if (csec)
		du_ini_has_section(f->conf, csec, &fl);
	if (!in_cred && !csec) {
		if (!explicit)
			return DU_OK;
		char names[300];
		list_profiles(f, names, sizeof(names));
		du_err_set(err, DU_ERR_S3_AUTH, "profile '%s' not found; profiles that exist: %s (in %s, %s)",
			   profile, names, du_ini_path(f->cred), du_ini_path(f->conf));
		du_err_hint(err, "check --aws-profile, the aws_profile key or AWS_PROFILE");
		return DU_ERR_S3_AUTH;
	}
	/* Those come first in the SDKs' chain: using the profile's plain keys instead would be wrong. */
	for (size_t i = 0; i < sizeof(unsupported_keys) / sizeof(unsupported_keys[0]); i++) {
		const char *k = unsupported_keys[i];
		int line = 0;
		const struct du_ini *ini = f->cred;
		if (!(cred_sec && du_ini_get(ini, cred_sec, k, &line)) &&
		    !(csec && du_ini_get(ini = f->conf, csec, k, &line)))
			continue;
		du_err_set(err, DU_ERR_S3_AUTH, "profile '%s' uses %s (%s:%d), which du does not support yet",
			   profile, k, du_ini_path(ini), line);
		du_err_hint(err, "export temporary keys (e.g. 'aws configure export-credentials "
				 "--format env') or use a profile with keys or credential_process");
		return DU_ERR_S3_AUTH;
	}
	if ((rc = try_static(f->cred, cred_sec, profile, c, found, err)) || *found) {
		cp->kind = KIND_STATIC;
		return rc;
	}
	const char *cmd = cred_sec ? du_ini_get(f->cred, cred_sec, "credential_process", NULL) : NULL;
	if (!cmd || !*cmd)
		cmd = csec ? du_ini_get(f->conf, csec, "credential_process", NULL) : NULL;
	if (cmd && *cmd) {
		snprintf(cp->profile, sizeof(cp->profile), "%s", profile);
		if (!(cp->process_cmd = strdup(cmd)))
			return du_err_set(err, DU_ERR_NOMEM, "out of memory");
		if ((rc = run_process(cmd, cp->profile, cp->process_timeout_s, c, err)))
			return rc;
		cp->kind = c->expires ? KIND_PROCESS : KIND_STATIC;
		*found = true;
		return DU_OK;
	}
	if ((rc = try_static(f->conf, csec, profile, c, found, err)) || *found) {
		cp->kind = KIND_STATIC;
		return rc;
	}
	if (explicit) {
		const struct du_ini *ini = in_cred ? f->cred : f->conf;
		return du_err_set(err, DU_ERR_S3_AUTH,
				  "profile '%s' (%s:%d) has no credentials: neither aws_access_key_id and "
				  "aws_secret_access_key nor credential_process",
				  profile, du_ini_path(ini), in_cred ? cl : fl);
	}
	return DU_OK;
}

static int from_env(struct du_creds *c, bool *found, struct du_err *err)
{
	const char *ak = env_nonempty("AWS_ACCESS_KEY_ID"), *sk = env_nonempty("AWS_SECRET_ACCESS_KEY");
	const char *tok = env_nonempty("AWS_SESSION_TOKEN");
	*found = false;
	if (!ak && !sk)
		return DU_OK;
	if (!ak || !sk)
		return du_err_set(err, DU_ERR_S3_AUTH, "%s is set but %s is not", ak ? "AWS_ACCESS_KEY_ID" :
				  "AWS_SECRET_ACCESS_KEY", ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
	if (!tok)
		tok = env_nonempty("AWS_SECURITY_TOKEN");
	int rc = fill_creds(c, ak, sk, tok, 0, "environment", err);
	*found = rc == DU_OK;
	return rc;
}

/* Why a shared file gave nothing, for the "looked in" list. */
static void file_note(bool missing, bool has_profile, const char *profile,
		      char *out, size_t outsz)
{
	if (missing)
		snprintf(out, outsz, "missing");
	else if (!has_profile)
		snprintf(out, outsz, "no profile '%.40s'", profile);
	else
		snprintf(out, outsz, "profile '%.40s' has no keys", profile);
}

static bool imds_disabled(void)
{
	const char *v = getenv("AWS_EC2_METADATA_DISABLED");
	return v && !strcasecmp(v, "true");
}

static int provider_resolve(struct du_creds_provider *cp, const char *profile, bool explicit,
			    struct du_err *err)
{
	struct files f = { 0 };
	struct du_creds c = { 0 };
	struct du_err ie = { 0 };
	bool found = false, have_files = false;
	int rc;
	if (!explicit && ((rc = from_env(&c, &found, err)) || found)) {
		cp->kind = KIND_STATIC;
		goto out;
	}
	if ((rc = files_load(&f, err)))
		goto out;
	have_files = true;
	if ((rc = resolve_profile(cp, &f, profile, explicit, &c, &found, err)) || found)
		goto out;
	const char *imds_note = "disabled";
	if (!imds_disabled()) {
		if (!cp->curl_inited && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
			cp->curl_inited = true;
		if (!imds_fetch(cp->imds_endpoint, &c, &ie)) {
			cp->kind = KIND_IMDS;
			found = true;
			goto out;
		}
		imds_note = ie.code == DU_ERR_NET ? "unreachable" : ie.msg;
		du_debug("instance metadata at %s: %s", cp->imds_endpoint, ie.msg);
	}
	char cn[80], fn[80];
	file_note(f.cred_missing, du_ini_has_section(f.cred, profile, NULL), profile, cn, sizeof(cn));
	file_note(f.conf_missing, config_section(f.conf, profile) != NULL, profile, fn, sizeof(fn));
	rc = du_err_set(err, DU_ERR_S3_AUTH,
			"no AWS credentials found; looked in: environment (AWS_ACCESS_KEY_ID), %s (%s), "
			"%s (%s), instance metadata (%s)",
			du_ini_path(f.cred), cn, du_ini_path(f.conf), fn, imds_note);
	du_err_hint(err, "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or configure a profile with "
			 "'aws configure'");
out:
	if (have_files)
		files_free(&f);
	if (!rc && found)
		cp->cur = c;
	du_creds_wipe(&c);
	return rc;
}

int du_creds_provider_new(struct du_creds_provider **out, const char *profile, bool profile_explicit,
			  struct du_err *err)
{
	struct du_creds_provider *cp = calloc(1, sizeof(*cp));
	if (!cp)
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	pthread_mutex_init(&cp->mu, NULL);
	pthread_cond_init(&cp->cond, NULL);
	/* Internal knobs, so tests need not wait for real expiry or a minute-long timeout. */
	cp->margin_s = env_int("DU_CREDS_REFRESH_MARGIN", REFRESH_MARGIN_S);
	cp->process_timeout_s = env_int("DU_CREDS_PROCESS_TIMEOUT", PROCESS_TIMEOUT_S);
	if (cp->process_timeout_s == 0)
		cp->process_timeout_s = PROCESS_TIMEOUT_S;
	const char *ep = env_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	snprintf(cp->imds_endpoint, sizeof(cp->imds_endpoint), "%s", ep ? ep : IMDS_DEFAULT);
	for (size_t n = strlen(cp->imds_endpoint); n && cp->imds_endpoint[n - 1] == '/'; n--)
		cp->imds_endpoint[n - 1] = '\0';
	if (!profile || !*profile)
		profile = "default";
	int rc = provider_resolve(cp, profile, profile_explicit, err);
	if (rc) {
		du_creds_provider_free(cp);
		return rc;
	}
	du_debug("AWS credentials from %s", cp->cur.source);
	*out = cp;
	return DU_OK;
}

void du_creds_provider_free(struct du_creds_provider *cp)
{
	if (!cp)
		return;
	du_creds_wipe(&cp->cur);
	if (cp->process_cmd) {
		explicit_bzero(cp->process_cmd, strlen(cp->process_cmd));
		free(cp->process_cmd);
	}
	if (cp->curl_inited)
		curl_global_cleanup();
	pthread_cond_destroy(&cp->cond);
	pthread_mutex_destroy(&cp->mu);
	free(cp);
}

/* Fetch fresh temporary credentials from the source that gave the current ones. */
static int refetch(struct du_creds_provider *cp, struct du_creds *c, struct du_err *err)
{
	if (cp->kind == KIND_PROCESS)
		return run_process(cp->process_cmd, cp->profile, cp->process_timeout_s, c, err);
	return imds_fetch(cp->imds_endpoint, c, err);
}

static bool fresh_enough(const struct du_creds_provider *cp, time_t now)
{
	return cp->kind == KIND_STATIC || cp->cur.expires == 0 ||
	       now + cp->margin_s < cp->cur.expires;
}

/*
 * One thread refreshes (outside the lock, a process or IMDS can take seconds); meanwhile the
 * others use the current credentials while they are still valid, or wait for the refresh.
 */
int du_creds_get(struct du_creds_provider *cp, struct du_creds *out, struct du_err *err)
{
	int rc = DU_OK;
	pthread_mutex_lock(&cp->mu);
	for (;;) {
		time_t now = time(NULL);
		if (fresh_enough(cp, now) || (now < cp->cur.expires && (cp->refreshing || now < cp->next_try)))
			goto copy;
		if (!cp->refreshing)
			break;
		while (cp->refreshing)
			pthread_cond_wait(&cp->cond, &cp->mu);
		if (time(NULL) < cp->cur.expires)
			goto copy;
		if (cp->last_rc) {
			rc = cp->last_rc;
			if (err)
				*err = cp->last_err;
			goto out;
		}
	}

	cp->refreshing = true;
	pthread_mutex_unlock(&cp->mu);
	struct du_creds fresh;
	struct du_err e = { 0 };
	int frc = refetch(cp, &fresh, &e);
	pthread_mutex_lock(&cp->mu);
	cp->refreshing = false;
	cp->last_rc = frc;
	cp->last_err = e;
	pthread_cond_broadcast(&cp->cond);
	time_t now = time(NULL);
	if (!frc) {
		cp->cur = fresh;
		/* A source that keeps handing out short-lived creds is asked again in a while, not per call. */
		cp->next_try = fresh_enough(cp, now) ? 0 : now + RETRY_AFTER_FAIL_S;
		du_creds_wipe(&fresh);
		du_debug("refreshed AWS credentials from %s", cp->cur.source);
	} else if (now < cp->cur.expires) {
		cp->next_try = now + RETRY_AFTER_FAIL_S;
		du_warn("cannot refresh AWS credentials (%s); using the current ones for %lld more s",
			e.msg, (long long)(cp->cur.expires - now));
	} else {
		rc = frc;
		if (err)
			*err = e;
		goto out;
	}
copy:
	*out = cp->cur;
out:
	pthread_mutex_unlock(&cp->mu);
	return rc;
}

int du_region_resolve(const char *explicit_region, const char *fallback, const char *profile,
		      char *out, size_t outsz, struct du_err *err)
{
	const char *v = explicit_region && *explicit_region ? explicit_region : NULL;
	struct du_ini *conf = NULL;
	int rc = DU_OK;
	if (!v)
		v = env_nonempty("AWS_REGION");
	if (!v)
		v = env_nonempty("AWS_DEFAULT_REGION");
	if (!v) {
		char path[PATH_MAX];
		config_file(path, sizeof(path));
		if ((rc = du_ini_load(&conf, path, NULL, err)))
			return rc;
		if (!profile || !*profile)
			profile = env_nonempty("AWS_PROFILE");
		const char *sec = config_section(conf, profile ? profile : "default");
		v = sec ? du_ini_get(conf, sec, "region", NULL) : NULL;
		if (v && !*v)
			v = NULL;
	}
	if (!v)
		v = fallback ? fallback : "";
	if (strlen(v) >= outsz)
		rc = du_err_set(err, DU_ERR_CONFIG, "region '%.64s' is too long", v);
	else
		memcpy(out, v, strlen(v) + 1);
	du_ini_free(conf);
	return rc;
}

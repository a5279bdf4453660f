/*
 * harness.h: what the unit tests share. Each test binary includes it (static inline: a test that
 * does not use a helper pays nothing).
 *
 *     char *text = du_test_slurp(path);     // the whole file, malloc'd; NULL when it cannot be read
 *     char *dir = du_test_tmpdir("scan");   // a fresh directory under $DU_TEST_TMP or /tmp, malloc'd
 *     du_test_rmtree(dir);                  // remove it and all it holds (not following links)
 *
 * And a scripted HTTP server on 127.0.0.1, for answers real servers never give (a 503 storm, a
 * 200 carrying an error, a dropped connection, no answer at all):
 *
 *     static const char *const script[] = { "HTTP/1.1 503 Slow Down\r\n...", "CLOSE", "HANG" };
 *     struct du_test_http f;
 *     du_test_http_start(&f, script, 3);    // f.port; one answer per request, in order
 *     ... requests to http://127.0.0.1:f.port ...; f.reqs[i]: the head of request i (the first 8)
 *     du_test_http_stop(&f);
 *
 * Include it after cmocka.h.
 */
#ifndef DU_TEST_HARNESS_H
#define DU_TEST_HARNESS_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static inline char *du_test_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	if (!f)
		return NULL;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 8192);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

static inline char *du_test_tmpdir(const char *tag)
{
	const char *t = getenv("DU_TEST_TMP");
	char tmpl[4096];
	snprintf(tmpl, sizeof(tmpl), "%s/du-%s.XXXXXX", t && *t ? t : "/tmp", tag);
	char *d = mkdtemp(tmpl);
	return d ? strdup(d) : NULL;
}

static inline int du_test_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static inline void du_test_rmtree(const char *dir)
{
	if (dir)
		nftw(dir, du_test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- the scripted HTTP server ---- */

struct du_test_http {
	int lfd;
	int port;
	pthread_t th;
	const char *const *script;   /* raw answers in order; "CLOSE" drops the connection, "HANG" never answers */
	int nscript;
	int served;
	char reqs[8][2048];          /* heads of the requests seen */
};

static inline size_t du_test_http_head_len(const char *b, size_t n)
{
	for (size_t i = 3; i < n; i++)
		if (b[i - 3] == '\r' && b[i - 2] == '\n' && b[i - 1] == '\r' && b[i] == '\n')
			return i + 1;
	return 0;
}

static inline void *du_test_http_run(void *arg)
{
	struct du_test_http *f = arg;
	static char buf[1 << 16];
	while (f->served < f->nscript) {
		int fd = accept(f->lfd, NULL, NULL);
		if (fd < 0)
			break;
		size_t have = 0;
		while (f->served < f->nscript) {
			size_t hl;
			while (!(hl = du_test_http_head_len(buf, have))) {
				ssize_t r = read(fd, buf + have, sizeof(buf) - have - 1);
				if (r <= 0)
					goto next;
				have += (size_t)r;
			}
			buf[hl - 1] = '\0';
			const char *cl = strcasestr(buf, "\r\ncontent-length:");
			size_t body = cl ? (size_t)strtoul(cl + 17, NULL, 10) : 0;
			if (f->served < 8)
				snprintf(f->reqs[f->served], sizeof(f->reqs[0]), "%s", buf);
			while (have < hl + body) {
				ssize_t r = read(fd, buf + have, sizeof(buf) - have - 1);
				if (r <= 0)
					goto next;
				have += (size_t)r;
			}
			memmove(buf, buf + hl + body, have - hl - body);
			have -= hl + body;
			const char *a = f->script[f->served++];
			if (!strcmp(a, "CLOSE"))
				goto next;
			if (!strcmp(a, "HANG")) {
				while (read(fd, buf, sizeof(buf)) > 0)
					;
				goto next;
			}
			if (write(fd, a, strlen(a)) < 0)
				goto next;
		}
	next:
		close(fd);
	}
	return NULL;
}

static inline void du_test_http_start(struct du_test_http *f, const char *const *script, int n)
{
	memset(f, 0, sizeof(*f));
	f->script = script;
	f->nscript = n;
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lfd, 4), 0);
	getsockname(f->lfd, (struct sockaddr *)&sa, &sl);
	f->port = ntohs(sa.sin_port);
	pthread_create(&f->th, NULL, du_test_http_run, f);
}

static inline void du_test_http_stop(struct du_test_http *f)
{
	shutdown(f->lfd, SHUT_RDWR);
	close(f->lfd);
	pthread_join(f->th, NULL);
}

#endif

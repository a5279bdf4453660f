/* strbuf.c: the growable buffer of strbuf.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "du/strbuf.h"

bool du_array_grow(void *arrp, size_t *cap, size_t need, size_t elem)
{
	void **arr = arrp;
	if (need <= *cap)
		return true;
	size_t ncap = *cap < 8 ? 16 : *cap * 2;
	if (ncap < need)
		ncap = need;
	if (elem && ncap > (size_t)-1 / elem)
		return false;
	void *p = realloc(*arr, ncap * elem);
	if (!p)
		return false;
	*arr = p;
	*cap = ncap;
	return true;
}

bool du_strbuf_grow(struct du_strbuf *sb, size_t n)
{
	if (sb->oom)
		return false;
	if (n >= (size_t)-1 / 2 - sb->len) {
		sb->oom = true;
		return false;
	}
	size_t need = sb->len + n + 1;
	if (need <= sb->alloc)
		return true;
	size_t cap = sb->alloc ? sb->alloc : 256;
	while (cap < need)
		cap *= 2;
	char *p = realloc(sb->buf, cap);
	if (!p) {
		sb->oom = true;
		return false;
	}
	sb->buf = p;
	sb->alloc = cap;
	return true;
}

void du_strbuf_add(struct du_strbuf *sb, const void *data, size_t n)
{
	if (!du_strbuf_grow(sb, n))
		return;
	if (n)
		memcpy(sb->buf + sb->len, data, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void du_strbuf_adds(struct du_strbuf *sb, const char *s)
{
	du_strbuf_add(sb, s, strlen(s));
}

void du_strbuf_addc(struct du_strbuf *sb, char c)
{
	du_strbuf_add(sb, &c, 1);
}

void du_strbuf_addf(struct du_strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		sb->oom = true;
		return;
	}
	if (!du_strbuf_grow(sb, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

const char *du_strbuf_str(const struct du_strbuf *sb)
{
	return sb->buf ? sb->buf : "";
}

void du_strbuf_reset(struct du_strbuf *sb)
{
	sb->len = 0;
	sb->oom = false;
	if (sb->buf)
		sb->buf[0] = '\0';
}

char *du_strbuf_detach(struct du_strbuf *sb)
{
	char *p = sb->buf;
	if (sb->oom) {
		free(p);
		p = NULL;
	} else if (!p) {
		p = calloc(1, 1);
	}
	*sb = (struct du_strbuf)DU_STRBUF_INIT;
	return p;
}

void du_strbuf_release(struct du_strbuf *sb)
{
	free(sb->buf);
	*sb = (struct du_strbuf)DU_STRBUF_INIT;
}

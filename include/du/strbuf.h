/*
 * strbuf.h: du's one growable byte buffer, NUL-terminated at all times (as git's strbuf).
 *
 *     struct du_strbuf sb = DU_STRBUF_INIT;
 *     du_strbuf_adds(&sb, "key=");
 *     du_strbuf_addf(&sb, "%d", 42);
 *     if (sb.oom) ...                        // an allocation failed: the contents are incomplete
 *     char *s = du_strbuf_detach(&sb);       // caller frees; NULL when an allocation failed
 *
 * An allocation failure is latched in oom: every later add is ignored, so a builder may check
 * once at the end. sb.buf is NULL until the first add; du_strbuf_str() is never NULL.
 * Not thread-safe: a buffer belongs to one thread at a time. du_array_grow, below, is the
 * same for arrays of any element.
 */
#ifndef DU_STRBUF_H
#define DU_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct du_strbuf {
	char *buf;
	size_t len, alloc;
	bool oom;
};

#define DU_STRBUF_INIT { 0 }

/* Room for n more bytes (and the NUL); false when the allocation failed (oom is set). */
bool du_strbuf_grow(struct du_strbuf *sb, size_t n);
void du_strbuf_add(struct du_strbuf *sb, const void *data, size_t n);
void du_strbuf_adds(struct du_strbuf *sb, const char *s);
void du_strbuf_addc(struct du_strbuf *sb, char c);
void du_strbuf_addf(struct du_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The contents, "" when empty; valid until the next add. */
const char *du_strbuf_str(const struct du_strbuf *sb);
/* Empty it, keeping the allocation (and clearing oom). */
void du_strbuf_reset(struct du_strbuf *sb);
/* Hand over the string (never NULL unless oom, then freed and NULL); the buffer is empty after. */
char *du_strbuf_detach(struct du_strbuf *sb);
void du_strbuf_release(struct du_strbuf *sb);

/*
 * The one array growth (as git's ALLOC_GROW): room for need elements of elem bytes in the array
 * *arrp points to, whose capacity is *cap; the capacity at least doubles. false when the
 * allocation failed or would overflow: the array and *cap are then unchanged.
 *
 *     if (n == cap && !du_array_grow(&v, &cap, n + 1, sizeof(*v))) return DU_ERR_NOMEM;
 *     v[n++] = x;
 */
bool du_array_grow(void *arrp, size_t *cap, size_t need, size_t elem);

#endif

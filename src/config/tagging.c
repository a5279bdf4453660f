/* tagging.c: the value of S3's x-amz-tagging header, made from the tags setting (config.h). */
#include "config/config_internal.h"

#include <string.h>

/* RFC 3986's unreserved characters; every other byte is percent-encoded. */
static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.' || c == '_' || c == '~';
}

/* Append one byte at *k when it fits (the last byte of out stays for the NUL); count it always. */
static void put(char *out, size_t n, size_t *k, char c)
{
	if (*k + 1 < n)
		out[*k] = c;
	(*k)++;
}

static void put_encoded(char *out, size_t n, size_t *k, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c)) {
			put(out, n, k, (char)c);
		} else {
			put(out, n, k, '%');
			put(out, n, k, hex[c >> 4]);
			put(out, n, k, hex[c & 15]);
		}
	}
}

size_t du_config_tagging(char **tags, char *out, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; tags && tags[i]; i++) {
		size_t klen = strcspn(tags[i], "=");
		const char *val = tags[i][klen] ? tags[i] + klen + 1 : "";
		if (i)
			put(out, n, &k, '&');
		put_encoded(out, n, &k, tags[i], klen);
		put(out, n, &k, '=');
		put_encoded(out, n, &k, val, strlen(val));
	}
	if (n)
		out[k < n ? k : n - 1] = '\0';
	return k;
}

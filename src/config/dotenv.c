/*
 * dotenv.c: the .env layer of the configuration (see dotenv.h for the syntax).
 *
 * Values can be secrets (DB_PASSWORD), so no error message ever quotes one: only the file, the
 * line and what was wrong.
 */
#include "du/dotenv.h"
#include "du/strbuf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pending {
	char *name;
	char *value;
	int line;
};

static bool name_ok(const char *s, size_t n)
{
	if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

/* Whatever follows a closing quote may only be blanks or a comment. */
static bool rest_ok(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '\0' || *p == '#';
}

/* Parse the value part of one line into a new string; NULL and *why set on a syntax error. */
static char *parse_value(const char *p, const char **why)
{
	size_t len = strlen(p);
	char *out = malloc(len + 1), *o = out;
	if (!out) {
		*why = "out of memory";
		return NULL;
	}
	if (*p == '\'') {
		const char *end = strchr(p + 1, '\'');
		if (!end)
			goto unterminated;
		memcpy(out, p + 1, (size_t)(end - p - 1));
		out[end - p - 1] = '\0';
		if (!rest_ok(end + 1))
			goto trailing;
		return out;
	}
	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			if (*p != '\\' || !p[1]) {
				*o++ = *p;
				continue;
			}
			p++;
			switch (*p) {
			case 'n': *o++ = '\n'; break;
			case 't': *o++ = '\t'; break;
			case 'r': *o++ = '\r'; break;
			case '"': case '\\': case '$': *o++ = *p; break;
			default: *o++ = '\\'; *o++ = *p; break;
			}
		}
		if (*p != '"')
			goto unterminated;
		*o = '\0';
		if (!rest_ok(p + 1))
			goto trailing;
		return out;
	}
	/* Unquoted: a '#' after whitespace starts a comment; surrounding blanks are dropped. */
	for (; *p; p++) {
		if (*p == '#' && (o == out || o[-1] == ' ' || o[-1] == '\t'))
			break;
		*o++ = *p;
	}
	while (o > out && (o[-1] == ' ' || o[-1] == '\t'))
		o--;
	*o = '\0';
	return out;
unterminated:
	*why = "unterminated quote";
	free(out);
	return NULL;
trailing:
	*why = "unexpected text after the closing quote";
	free(out);
	return NULL;
}

static void free_pending(struct pending *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		if (v[i].value) {
			/* It may be a password: do not leave it in freed heap memory. */
			memset(v[i].value, 0, strlen(v[i].value));
			free(v[i].value);
		}
	}
	free(v);
}

static int parse_file(FILE *f, const char *path, struct pending **outv, size_t *outn,
		      struct du_err *err)
{
	struct pending *v = NULL;
	size_t n = 0, cap = 0;
	char *buf = NULL;
	size_t bufcap = 0;
	ssize_t got;
	int lineno = 0, rc = DU_OK;

	while ((got = getline(&buf, &bufcap, f)) >= 0) {
		lineno++;
		while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == '\r'))
			buf[--got] = '\0';
		/* A NUL would silently cut the line short (or hide it); this is not a text file. */
		if (memchr(buf, '\0', (size_t)got)) {
			rc = du_err_set(err, DU_ERR_CONFIG, "%s:%d: NUL byte in line", path, lineno);
			goto out;
		}
		char *p = buf;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		if (!strncmp(p, "export", 6) && (p[6] == ' ' || p[6] == '\t')) {
			p += 6;
			while (*p == ' ' || *p == '\t')
				p++;
		}
		char *eq = strchr(p, '=');
		size_t nlen = eq ? (size_t)(eq - p) : 0;
		while (nlen > 0 && (p[nlen - 1] == ' ' || p[nlen - 1] == '\t'))
			nlen--;
		if (!eq || !name_ok(p, nlen)) {
			rc = du_err_set(err, DU_ERR_CONFIG, "%s:%d: expected NAME=VALUE", path, lineno);
			goto out;
		}
		const char *val = eq + 1, *why = NULL;
		while (*val == ' ' || *val == '\t')
			val++;
		char *value = parse_value(val, &why);
		if (!value) {
			rc = du_err_set(err, DU_ERR_CONFIG, "%s:%d: %s", path, lineno, why);
			goto out;
		}
		if (!du_array_grow(&v, &cap, n + 1, sizeof(*v))) {
			free(value);
			rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
			goto out;
		}
		v[n].name = strndup(p, nlen);
		v[n].value = value;
		v[n].line = lineno;
		n++;
		if (!v[n - 1].name) {
			rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	if (ferror(f))
		rc = du_err_sys(err, DU_ERR_CONFIG, errno, "cannot read '%s'", path);
out:
	free(buf);
	if (rc) {
		free_pending(v, n);
		return rc;
	}
	*outv = v;
	*outn = n;
	return DU_OK;
}

int du_dotenv_apply(const char *path, bool optional, struct du_dotenv *set, struct du_err *err)
{
	struct pending *v = NULL;
	size_t n = 0;
	int rc;

	set->vars = NULL;
	set->n = 0;
	FILE *f = fopen(path, "r");
	if (!f) {
		if (optional && errno == ENOENT)
			return DU_OK;
		return du_err_sys(err, DU_ERR_CONFIG, errno, "cannot read env file '%s'", path);
	}
	rc = parse_file(f, path, &v, &n, err);
	fclose(f);
	if (rc)
		return rc;

	set->vars = calloc(n ? n : 1, sizeof(*set->vars));
	if (!set->vars) {
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		/* A later line for the same name overrides an earlier one of this file. */
		bool ours = false;
		for (size_t j = 0; j < set->n; j++)
			if (!strcmp(set->vars[j].name, v[i].name)) {
				set->vars[j].line = v[i].line;
				ours = true;
			}
		if (!ours && getenv(v[i].name))
			continue; /* the process environment always wins */
		if (setenv(v[i].name, v[i].value, 1)) {
			rc = du_err_sys(err, DU_ERR_CONFIG, errno, "%s:%d: cannot set '%s'", path,
					v[i].line, v[i].name);
			goto out;
		}
		if (!ours) {
			set->vars[set->n].name = v[i].name;
			set->vars[set->n].line = v[i].line;
			v[i].name = NULL;
			set->n++;
		}
	}
out:
	free_pending(v, n);
	if (rc)
		du_dotenv_release(set);
	return rc;
}

void du_dotenv_release(struct du_dotenv *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++)
		free(set->vars[i].name);
	free(set->vars);
	set->vars = NULL;
	set->n = 0;
}

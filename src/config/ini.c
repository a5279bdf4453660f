#include "du/ini.h"
#include "du/strbuf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* The AWS files are a few KiB; a bigger one is not a credentials file and is refused. */
#define MAX_FILE_BYTES (4L << 20)

struct section {
	char *name;
	int line;
};

struct entry {
	size_t section;
	char *key;
	char *value;
	int line;
};

struct du_ini {
	char *path;
	struct section *sections;
	size_t nsections, capsections;
	struct entry *entries;
	size_t nentries, capentries;
};

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void du_ini_free(struct du_ini *ini)
{
	if (!ini)
		return;
	for (size_t i = 0; i < ini->nsections; i++)
		free(ini->sections[i].name);
	for (size_t i = 0; i < ini->nentries; i++) {
		free(ini->entries[i].key);
		wipe_free(ini->entries[i].value);
	}
	free(ini->sections);
	free(ini->entries);
	free(ini->path);
	free(ini);
}

static char *trim(char *s)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

static size_t find_section(const struct du_ini *ini, const char *name)
{
	for (size_t i = 0; i < ini->nsections; i++)
		if (!strcmp(ini->sections[i].name, name))
			return i;
	return (size_t)-1;
}

static int add_section(struct du_ini *ini, const char *name, int line, size_t *idx)
{
	size_t i = find_section(ini, name);
	if (i != (size_t)-1) {
		*idx = i;
		return DU_OK;
	}
	if (!du_array_grow(&ini->sections, &ini->capsections, ini->nsections + 1, sizeof(*ini->sections)))
		return DU_ERR_NOMEM;
	char *copy = strdup(name);
	if (!copy)
		return DU_ERR_NOMEM;
	ini->sections[ini->nsections] = (struct section){ .name = copy, .line = line };
	*idx = ini->nsections++;
	return DU_OK;
}

static int add_entry(struct du_ini *ini, size_t section, const char *key, const char *value, int line)
{
	if (!du_array_grow(&ini->entries, &ini->capentries, ini->nentries + 1, sizeof(*ini->entries)))
		return DU_ERR_NOMEM;
	struct entry *e = &ini->entries[ini->nentries];
	e->section = section;
	e->line = line;
	e->key = strdup(key);
	e->value = strdup(value);
	if (!e->key || !e->value) {
		free(e->key);
		wipe_free(e->value);
		return DU_ERR_NOMEM;
	}
	for (char *p = e->key; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	ini->nentries++;
	return DU_OK;
}

/* Continuation line: append "\n" + text to the last entry's value. */
static int append_value(struct du_ini *ini, const char *text)
{
	struct entry *e = &ini->entries[ini->nentries - 1];
	size_t a = strlen(e->value), b = strlen(text);
	char *v = malloc(a + b + 2);
	if (!v)
		return DU_ERR_NOMEM;
	memcpy(v, e->value, a);
	v[a] = '\n';
	memcpy(v + a + 1, text, b + 1);
	wipe_free(e->value);
	e->value = v;
	return DU_OK;
}

static size_t indent_of(const char *s)
{
	size_t n = 0;
	while (s[n] == ' ' || s[n] == '\t')
		n++;
	return n;
}

static int parse_line(struct du_ini *ini, char *raw, int lineno, size_t *cur, size_t *key_indent,
		      struct du_err *err)
{
	size_t ind = indent_of(raw);
	char *s = trim(raw);
	if (!*s || *s == '#' || *s == ';')
		return DU_OK;
	/* Deeper than the key before it: part of that value (nested settings). */
	if (*key_indent != (size_t)-1 && ind > *key_indent) {
		if (append_value(ini, s))
			return du_err_set(err, DU_ERR_NOMEM, "out of memory reading '%s'", ini->path);
		return DU_OK;
	}
	if (*s == '[') {
		char *close = strrchr(s, ']');
		if (!close)
			return du_err_set(err, DU_ERR_CONFIG, "%s:%d: section header without closing ']'",
					  ini->path, lineno);
		*close = '\0';
		char *name = trim(s + 1);
		if (!*name)
			return du_err_set(err, DU_ERR_CONFIG, "%s:%d: empty section name", ini->path, lineno);
		if (add_section(ini, name, lineno, cur))
			return du_err_set(err, DU_ERR_NOMEM, "out of memory reading '%s'", ini->path);
		*key_indent = (size_t)-1;
		return DU_OK;
	}
	size_t klen = strcspn(s, "=:");
	if (!s[klen])
		return du_err_set(err, DU_ERR_CONFIG,
				  "%s:%d: line is neither '[section]', 'key = value' nor a comment",
				  ini->path, lineno);
	if (*cur == (size_t)-1)
		return du_err_set(err, DU_ERR_CONFIG, "%s:%d: setting before any '[section]' header",
				  ini->path, lineno);
	s[klen] = '\0';
	char *key = trim(s), *value = trim(s + klen + 1);
	if (!*key)
		return du_err_set(err, DU_ERR_CONFIG, "%s:%d: setting without a name", ini->path, lineno);
	if (add_entry(ini, *cur, key, value, lineno))
		return du_err_set(err, DU_ERR_NOMEM, "out of memory reading '%s'", ini->path);
	*key_indent = ind;
	return DU_OK;
}

int du_ini_load(struct du_ini **out, const char *path, bool *missing, struct du_err *err)
{
	struct du_ini *ini = NULL;
	FILE *f = NULL;
	char *line = NULL;
	size_t cap = 0;
	int rc = DU_OK;

	if (missing)
		*missing = false;
	ini = calloc(1, sizeof(*ini));
	if (!ini || !(ini->path = strdup(path))) {
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
		goto out;
	}
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT || errno == ENOTDIR) {
			if (missing)
				*missing = true;
			goto out;
		}
		rc = du_err_sys(err, DU_ERR_CONFIG, errno, "cannot open '%s'", path);
		goto out;
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && (S_ISDIR(st.st_mode) || st.st_size > MAX_FILE_BYTES)) {
		rc = du_err_set(err, DU_ERR_CONFIG, "'%s' is %s", path,
				S_ISDIR(st.st_mode) ? "a directory" : "too large for an AWS settings file");
		goto out;
	}
	size_t cur = (size_t)-1, key_indent = (size_t)-1;
	int lineno = 0;
	ssize_t n;
	errno = 0;
	while ((n = getline(&line, &cap, f)) >= 0) {
		char *p = line;
		if (++lineno == 1 && !strncmp(p, "\xef\xbb\xbf", 3))
			p += 3; /* a BOM, as Windows editors write */
		/* A NUL would silently cut the line short (or hide it); this is not a text file. */
		if (memchr(line, '\0', (size_t)n)) {
			rc = du_err_set(err, DU_ERR_CONFIG, "%s:%d: NUL byte in line", path, lineno);
			goto out;
		}
		if ((rc = parse_line(ini, p, lineno, &cur, &key_indent, err)))
			goto out;
		errno = 0;
	}
	if (ferror(f))
		rc = du_err_sys(err, DU_ERR_CONFIG, errno ? errno : EIO, "cannot read '%s'", path);
out:
	if (line) {
		explicit_bzero(line, cap);
		free(line);
	}
	if (f)
		fclose(f);
	if (rc) {
		du_ini_free(ini);
		return rc;
	}
	*out = ini;
	return DU_OK;
}

const char *du_ini_path(const struct du_ini *ini)
{
	return ini->path;
}

const char *du_ini_get(const struct du_ini *ini, const char *section, const char *key, int *line)
{
	size_t s = find_section(ini, section);
	if (s == (size_t)-1)
		return NULL;
	/* Last one wins, as in configparser. */
	for (size_t i = ini->nentries; i-- > 0;) {
		const struct entry *e = &ini->entries[i];
		if (e->section == s && !strcasecmp(e->key, key)) {
			if (line)
				*line = e->line;
			return e->value;
		}
	}
	return NULL;
}

bool du_ini_has_section(const struct du_ini *ini, const char *section, int *line)
{
	size_t s = find_section(ini, section);
	if (s == (size_t)-1)
		return false;
	if (line)
		*line = ini->sections[s].line;
	return true;
}

size_t du_ini_section_count(const struct du_ini *ini)
{
	return ini->nsections;
}

const char *du_ini_section_name(const struct du_ini *ini, size_t i)
{
	return i < ini->nsections ? ini->sections[i].name : NULL;
}

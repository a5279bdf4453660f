/*
 * ini.h: the INI dialect of the AWS shared files (~/.aws/credentials, ~/.aws/config).
 *
 * Rules (those of the AWS CLI, whose parser is Python's configparser):
 *   - "[name]" opens a section; the name is trimmed and case-sensitive; text after the last ']' is
 *     ignored; a section seen twice is merged (later keys win);
 *   - "key = value" or "key: value" (split at the first '=' or ':'), key and value trimmed, keys
 *     compared case-insensitively;
 *   - lines whose first non-blank character is '#' or ';' are comments, blank lines are skipped;
 *   - a line indented deeper than the key line before it continues that value (this is how nested
 *     settings such as "s3 =\n    max_concurrent_requests = 20" are written); it is appended to
 *     the value after a newline, so such values never look like a credential;
 *   - anything else (a key before any section, a line without '=' or ':', "[name" without ']') is
 *     an error naming FILE:LINE.
 *
 *     struct du_ini *ini;
 *     bool missing;
 *     if (du_ini_load(&ini, path, &missing, &err)) ...      // missing file: ini empty, missing true
 *     int line;
 *     const char *v = du_ini_get(ini, "default", "region", &line);
 *     du_ini_free(ini);                                      // values are wiped (they hold secrets)
 */
#ifndef DU_INI_H
#define DU_INI_H

#include <stdbool.h>
#include <stddef.h>

#include "du/err.h"

struct du_ini;

/*
 * Parse path. A file that does not exist yields an empty ini and *missing = true (missing may be
 * NULL). Unreadable or malformed files are DU_ERR_CONFIG.
 */
int du_ini_load(struct du_ini **out, const char *path, bool *missing, struct du_err *err);
void du_ini_free(struct du_ini *ini);

/* The path given to du_ini_load. Borrowed. */
const char *du_ini_path(const struct du_ini *ini);
/* Value of key in section, or NULL; *line (may be NULL) gets the line that set it. Borrowed. */
const char *du_ini_get(const struct du_ini *ini, const char *section, const char *key, int *line);
/* Whether section exists; *line (may be NULL) gets the line of its first header. */
bool du_ini_has_section(const struct du_ini *ini, const char *section, int *line);
/* Number of distinct sections, and the i-th name in file order. Borrowed. */
size_t du_ini_section_count(const struct du_ini *ini);
const char *du_ini_section_name(const struct du_ini *ini, size_t i);

#endif

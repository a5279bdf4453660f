/*
 * dotenv.h: the .env layer of the configuration (src/config/dotenv.c), applied by du_config_load.
 *
 *     struct du_dotenv set = {0};
 *     if (du_dotenv_apply(".env", true, &set, &err))
 *         return err.code;                  // "FILE:LINE: ...", never a value
 *     ...
 *     du_dotenv_release(&set);
 *
 * Syntax: KEY=VALUE lines, optional "export " prefix, '#' comments (whole
 * line, or after whitespace in an unquoted value), '...' literal and "..." (\n \t \" \\ \$)
 * quoting. Every variable not already set in the environment is setenv()'d, so that libraries
 * reading the environment later (credentials) see it too; variables already set win. The file
 * is parsed completely before anything is set. Errors say "FILE:LINE: ..." and never contain a
 * value. optional: a missing file is not an error (and sets nothing).
 */
#ifndef DU_DOTENV_H
#define DU_DOTENV_H

#include <stdbool.h>
#include <stddef.h>

#include "du/err.h"

struct du_dotenv_var {
	char *name;
	int line;
};
struct du_dotenv {
	struct du_dotenv_var *vars; /* the variables this call set, in file order */
	size_t n;
};
int du_dotenv_apply(const char *path, bool optional, struct du_dotenv *set, struct du_err *err);
void du_dotenv_release(struct du_dotenv *set);

#endif

/* values.c: one value of a setting, from text or JSON: parsed, checked against its row, stored
 * with where it came from (see config_internal.h). */
#include "config/config_internal.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "du/log.h"
#include "du/strbuf.h"


/* ---- sizes ---- */

int du_parse_session_id(const char *s, int64_t *out, struct du_err *err)
{
	char *end = NULL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || !end || *end || end == s || v < 1)
		return du_err_set(err, DU_ERR_USAGE, "'%s' is not a session id (a positive number)", s);
	*out = v;
	return DU_OK;
}

int du_parse_size(const char *s, uint64_t *out)
{
	static const struct { const char *suffix; unsigned shift; } units[] = {
		{ "", 0 }, { "b", 0 },
		{ "k", 10 }, { "kb", 10 }, { "kib", 10 },
		{ "m", 20 }, { "mb", 20 }, { "mib", 20 },
		{ "g", 30 }, { "gb", 30 }, { "gib", 30 },
		{ "t", 40 }, { "tb", 40 }, { "tib", 40 },
	};
	if (!s)
		return DU_ERR_CONFIG;
	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return DU_ERR_CONFIG;
	uint64_t n = 0;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (n > (UINT64_MAX - d) / 10)
			return DU_ERR_CONFIG;
		n = n * 10 + d;
	}
	while (*s == ' ')
		s++;
	size_t len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strlen(units[i].suffix) != len || strncasecmp(s, units[i].suffix, len))
			continue;
		if (units[i].shift && n > (UINT64_MAX >> units[i].shift))
			return DU_ERR_CONFIG;
		*out = n << units[i].shift;
		return DU_OK;
	}
	return DU_ERR_CONFIG;
}

int du_parse_duration(const char *s, double *seconds)
{
	if (!s)
		return DU_ERR_CONFIG;
	while (isspace((unsigned char)*s))
		s++;
	if (!strcasecmp(s, "off")) {
		*seconds = 0;
		return DU_OK;
	}
	double total = 0;
	bool any = false;
	while (*s) {
		char *end;
		if (!isdigit((unsigned char)*s) && *s != '.')
			return DU_ERR_CONFIG;
		double v = strtod(s, &end);
		if (end == s || !isfinite(v) || v < 0)
			return DU_ERR_CONFIG;
		s = end;
		double unit = 1;
		if (!strncmp(s, "ms", 2)) {
			unit = 0.001;
			s += 2;
		} else if (*s == 's' || *s == 'm' || *s == 'h' || *s == 'd') {
			unit = *s == 's' ? 1 : *s == 'm' ? 60 : *s == 'h' ? 3600 : 86400;
			s++;
		} else if (*s) {
			return DU_ERR_CONFIG;        /* "12q"; a bare number is only allowed alone */
		} else if (any) {
			return DU_ERR_CONFIG;        /* "1h30": the unit of 30 is missing */
		}
		total += v * unit;
		any = true;
	}
	if (!any || total > 366.0 * 86400)
		return DU_ERR_CONFIG;
	*seconds = total;
	return DU_OK;
}

/* ---- parsing one value ---- */

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "1", "on" };
	static const char *const no[] = { "no", "false", "0", "off" };
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static char **split_list(const char *s)
{
	size_t cap = 1;
	for (const char *p = s; *p; p++)
		cap += *p == ',';
	char **list = calloc(cap + 1, sizeof(char *));
	if (!list)
		return NULL;
	size_t n = 0;
	const char *p = s;
	for (;;) {
		size_t len = strcspn(p, ",");
		const char *a = p, *b = p + len;
		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if (b > a && !(list[n++] = strndup(a, (size_t)(b - a)))) {
			du_cfg_free_list(list);
			return NULL;
		}
		if (!p[len])
			break;
		p += len + 1;
	}
	return list;
}

/* How to print a value inside an error message: never a secret. */
const char *du_cfg_shown(const struct opt *o, const char *s)
{
	return (o->flags & F_SECRET) ? "***" : s;
}

static int bad_value(const struct opt *o, const char *text, const char *src, struct du_err *err)
{
	if (o->type == T_ENUM || o->type == T_LEVEL) {
		char names[128] = "";
		for (size_t i = 0; o->names[i]; i++) {
			strncat(names, i ? ", " : "", sizeof(names) - strlen(names) - 1);
			strncat(names, o->names[i], sizeof(names) - strlen(names) - 1);
		}
		return du_err_set(err, DU_ERR_CONFIG, "%s must be one of %s, got '%s' (from %s)",
				  o->key, names, text, src);
	}
	return du_err_set(err, DU_ERR_CONFIG, "%s: expected %s, got '%s' (from %s)", o->key,
			  du_cfg_type_expect(o), du_cfg_shown(o, text), src);
}

static const char *json_kind(const cJSON *item);

/* "key=value" of a map's entry (the key was checked to hold no '='). */
static char *map_entry(const char *key, size_t klen, const char *value)
{
	size_t vlen = strlen(value);
	char *e = malloc(klen + vlen + 2);
	if (e) {
		memcpy(e, key, klen);
		e[klen] = '=';
		memcpy(e + klen + 1, value, vlen + 1);
	}
	return e;
}

/*
 * A JSON object of strings into a T_MAP value, in the object's order. Numbers are taken as their
 * JSON text ({"year": 2026} is "year=2026"); anything else (booleans, null, arrays, objects) is
 * refused. A key may not hold '=': du keeps each entry as "key=value" and splits at the first.
 */
static int map_from_json(const struct opt *o, const cJSON *item, union val *v, const char *src,
			 struct du_err *err)
{
	if (!cJSON_IsObject(item))
		return du_err_set(err, DU_ERR_CONFIG, "%s: expected %s, got %s (from %s)", o->key,
				  du_cfg_type_expect(o), json_kind(item), src);
	int n = cJSON_GetArraySize(item), k = 0, rc = DU_OK;
	if (n == 0)
		return DU_OK; /* {}: none, NULL like an unset map */
	if (!(v->list = calloc((size_t)n + 1, sizeof(char *))))
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	const cJSON *el;
	cJSON_ArrayForEach(el, item) {
		char *num = NULL;
		const char *val = el->valuestring;
		if (strchr(el->string, '=')) {
			rc = du_err_set(err, DU_ERR_CONFIG,
					"%s: key \"%.128s\" has '=', where du splits KEY=VALUE; not allowed in a key (from %s)",
					o->key, el->string, src);
			break;
		}
		if (cJSON_IsNumber(el) && !(val = num = cJSON_PrintUnformatted(el))) {
			rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
			break;
		}
		if (!cJSON_IsString(el) && !cJSON_IsNumber(el)) {
			rc = du_err_set(err, DU_ERR_CONFIG, "%s: expected %s, got %s for \"%.128s\" (from %s)",
					o->key, du_cfg_type_expect(o), json_kind(el), el->string, src);
			break;
		}
		v->list[k] = map_entry(el->string, strlen(el->string), val);
		free(num);
		if (!v->list[k++]) {
			rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
			break;
		}
	}
	if (rc) {
		du_cfg_free_list(v->list);
		v->list = NULL;
	}
	return rc;
}

/* The same key twice in one layer (after the row's check, which may have lowercased keys). */
static int map_unique(const struct opt *o, char **map, const char *src, struct du_err *err)
{
	for (size_t i = 0; map && map[i]; i++) {
		size_t ki = strcspn(map[i], "=");
		for (size_t j = 0; j < i; j++)
			if (strcspn(map[j], "=") == ki && !strncmp(map[i], map[j], ki))
				return du_err_set(err, DU_ERR_CONFIG, "%s: key \"%.*s\" given twice (from %s)",
						  o->key, (int)(ki < 128 ? ki : 128), map[i], src);
	}
	return DU_OK;
}

int du_cfg_parse_text(const struct opt *o, const char *s, union val *v, const char *src,
		      struct du_err *err)
{
	char *end;
	memset(v, 0, sizeof(*v));
	switch (o->type) {
	case T_STR:
		if (*s && !(v->s = strdup(s)))
			return du_err_set(err, DU_ERR_NOMEM, "out of memory");
		return DU_OK;
	case T_INT:
		errno = 0;
		v->l = strtol(s, &end, 10);
		while (isspace((unsigned char)*end))
			end++;
		if (errno || end == s || *end || !*s)
			return bad_value(o, s, src, err);
		return DU_OK;
	case T_I64: {
		errno = 0;
		long long x = strtoll(s, &end, 10);
		while (isspace((unsigned char)*end))
			end++;
		if (errno || end == s || *end || !*s)
			return bad_value(o, s, src, err);
		v->i = x;
		return DU_OK;
	}
	case T_DBL:
		errno = 0;
		v->d = strtod(s, &end);
		while (isspace((unsigned char)*end))
			end++;
		if (errno || end == s || *end || !isfinite(v->d))
			return bad_value(o, s, src, err);
		return DU_OK;
	case T_BOOL:
		return parse_bool(s, &v->b) ? bad_value(o, s, src, err) : DU_OK;
	case T_SIZE:
		return du_parse_size(s, &v->u) ? bad_value(o, s, src, err) : DU_OK;
	case T_LIST:
		if (!(v->list = split_list(s)))
			return du_err_set(err, DU_ERR_NOMEM, "out of memory");
		return DU_OK;
	case T_MAP: {
		/* The environment's and .env's text: a JSON object, as in the file. */
		cJSON *obj = cJSON_Parse(s);
		int rc = obj ? map_from_json(o, obj, v, src, err)
			     : du_err_set(err, DU_ERR_CONFIG, "%s: expected %s, got text that is not JSON (from %s)",
					  o->key, du_cfg_type_expect(o), src);
		cJSON_Delete(obj);
		return rc;
	}
	case T_ENUM:
		for (int i = 0; o->names[i]; i++)
			if (!strcasecmp(s, o->names[i])) {
				v->e = i;
				return DU_OK;
			}
		return bad_value(o, s, src, err);
	case T_LEVEL:
		v->e = du_log_parse_level(s);
		return v->e < 0 ? bad_value(o, s, src, err) : DU_OK;
	default:
		return du_err_set(err, DU_ERR_INTERNAL, "%s takes no value", o->key);
	}
}

static const char *json_kind(const cJSON *item)
{
	if (cJSON_IsString(item)) return "a string";
	if (cJSON_IsNumber(item)) return "a number";
	if (cJSON_IsBool(item)) return "a boolean";
	if (cJSON_IsArray(item)) return "an array";
	if (cJSON_IsObject(item)) return "an object";
	return "null";
}

static int wrong_type(const struct opt *o, const cJSON *item, const char *src, struct du_err *err)
{
	return du_err_set(err, DU_ERR_CONFIG, "%s: expected %s, got %s (from %s)", o->key,
			  du_cfg_type_expect(o), json_kind(item), src);
}

/* A JSON value: strings go through du_cfg_parse_text (numeric strings are fine, as in the Python
 * tool's files); numbers, booleans and arrays where the type allows them. */
int du_cfg_parse_json(const struct opt *o, const cJSON *item, union val *v, const char *src,
		      struct du_err *err)
{
	memset(v, 0, sizeof(*v));
	if (o->type == T_MAP)
		return map_from_json(o, item, v, src, err);
	if (cJSON_IsString(item))
		return du_cfg_parse_text(o, item->valuestring, v, src, err);
	if (cJSON_IsNumber(item)) {
		double d = item->valuedouble;
		bool integral = d == floor(d) && fabs(d) < 9.2e18;
		char num[64];
		snprintf(num, sizeof(num), "%.17g", d);
		switch (o->type) {
		case T_INT:
			if (!integral || d > (double)LONG_MAX || d < (double)LONG_MIN)
				return bad_value(o, num, src, err);
			v->l = (long)d;
			return DU_OK;
		case T_I64:
			if (!integral)
				return bad_value(o, num, src, err);
			v->i = (int64_t)d;
			return DU_OK;
		case T_SIZE:
			if (!integral || d < 0)
				return bad_value(o, num, src, err);
			v->u = (uint64_t)d;
			return DU_OK;
		case T_DBL:
			v->d = d;
			return DU_OK;
		case T_BOOL:
			if (d != 0 && d != 1)
				return bad_value(o, num, src, err);
			v->b = d == 1;
			return DU_OK;
		default:
			return wrong_type(o, item, src, err);
		}
	}
	if (cJSON_IsBool(item)) {
		if (o->type != T_BOOL)
			return wrong_type(o, item, src, err);
		v->b = cJSON_IsTrue(item);
		return DU_OK;
	}
	if (cJSON_IsArray(item) && o->type == T_LIST) {
		int n = cJSON_GetArraySize(item), k = 0;
		v->list = calloc((size_t)n + 1, sizeof(char *));
		if (!v->list)
			return du_err_set(err, DU_ERR_NOMEM, "out of memory");
		const cJSON *el;
		cJSON_ArrayForEach(el, item) {
			if (!cJSON_IsString(el)) {
				du_cfg_free_list(v->list);
				v->list = NULL;
				return du_err_set(err, DU_ERR_CONFIG,
						  "%s: expected a list of strings, got %s in the list (from %s)",
						  o->key, json_kind(el), src);
			}
			if (!(v->list[k++] = strdup(el->valuestring))) {
				du_cfg_free_list(v->list);
				v->list = NULL;
				return du_err_set(err, DU_ERR_NOMEM, "out of memory");
			}
		}
		return DU_OK;
	}
	return wrong_type(o, item, src, err);
}

/* Range, then the row's own check. Frees v on failure. */
int du_cfg_validate(const struct opt *o, union val *v, const char *src, struct du_err *err)
{
	int rc = DU_OK;
	if (o->min || o->max) {
		bool ok = true;
		char got[64], lo[32], hi[32];
		switch (o->type) {
		case T_INT:
			ok = v->l >= o->min && v->l <= o->max;
			snprintf(got, sizeof(got), "%ld", v->l);
			break;
		case T_I64:
			ok = v->i >= o->min && v->i <= o->max;
			snprintf(got, sizeof(got), "%" PRId64, v->i);
			break;
		case T_DBL:
			ok = v->d >= (double)o->min && v->d <= (double)o->max;
			snprintf(got, sizeof(got), "%g", v->d);
			break;
		case T_SIZE:
			ok = v->u >= (uint64_t)o->min && v->u <= (uint64_t)o->max;
			du_cfg_format_size(v->u, got, sizeof(got));
			break;
		default:
			break;
		}
		if (!ok) {
			if (o->type == T_SIZE) {
				du_cfg_format_size((uint64_t)o->min, lo, sizeof(lo));
				du_cfg_format_size((uint64_t)o->max, hi, sizeof(hi));
			} else {
				snprintf(lo, sizeof(lo), "%" PRId64, o->min);
				snprintf(hi, sizeof(hi), "%" PRId64, o->max);
			}
			if (o->max == INT64_MAX)
				rc = du_err_set(err, DU_ERR_CONFIG, "%s must be at least %s, got %s (from %s)",
						o->key, lo, got, src);
			else
				rc = du_err_set(err, DU_ERR_CONFIG,
						"%s must be between %s and %s, got %s (from %s)", o->key,
						lo, hi, got, src);
		}
	}
	if (!rc && o->check)
		rc = o->check(o, v, src, err);
	if (!rc && o->type == T_MAP)
		rc = map_unique(o, v->list, src, err);
	if (rc)
		du_cfg_free_val(o, v);
	return rc;
}

/* Replace the field's value and its source. Takes v. */
int du_cfg_store(struct du_config *cfg, size_t idx, union val *v, const char *src,
		 struct du_err *err)
{
	const struct opt *o = &du_cfg_opts[idx];
	void *f = du_cfg_field(cfg, o);
	char *s = strdup(src);
	if (!s) {
		du_cfg_free_val(o, v);
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	}
	free(cfg->sources[idx]);
	cfg->sources[idx] = s;
	switch (o->type) {
	case T_STR:
		(o->flags & F_SECRET) ? du_cfg_free_secret(*(char **)f) : free(*(char **)f);
		*(char **)f = v->s;
		break;
	case T_INT: *(long *)f = v->l; break;
	case T_I64: *(int64_t *)f = v->i; break;
	case T_DBL: *(double *)f = v->d; break;
	case T_BOOL: *(bool *)f = v->b; break;
	case T_SIZE: *(uint64_t *)f = v->u; break;
	case T_LIST: case T_MAP:
		du_cfg_free_list(*(char ***)f);
		*(char ***)f = v->list;
		break;
	case T_ENUM: case T_LEVEL: *(int *)f = v->e; break;
	default: break;
	}
	return DU_OK;
}

int du_cfg_set_text(struct du_config *cfg, size_t idx, const char *text, const char *src,
		    struct du_err *err)
{
	union val v;
	int rc = du_cfg_parse_text(&du_cfg_opts[idx], text, &v, src, err);
	if (!rc)
		rc = du_cfg_validate(&du_cfg_opts[idx], &v, src, err);
	return rc ? rc : du_cfg_store(cfg, idx, &v, src, err);
}

/*
 * One KEY=VALUE of a map's flag (--tag site=A1): with append, added to the map the command line
 * has built so far; else it replaces the lower layers' map. The whole map is checked again, so
 * limits on the count and the total size hold across repeated flags.
 */
int du_cfg_map_add(struct du_config *cfg, size_t idx, const char *pair, bool append, const char *src,
		   struct du_err *err)
{
	const struct opt *o = &du_cfg_opts[idx];
	char **have = append ? *(char ***)du_cfg_field(cfg, o) : NULL;
	size_t n = du_cfg_list_len(have);
	union val v = { .list = NULL };
	int rc;

	if (!strchr(pair, '='))
		return du_err_set(err, DU_ERR_CONFIG, "%s: expected KEY=VALUE, got '%.128s' (from %s)", o->key,
				  pair, src);
	if (!(v.list = calloc(n + 2, sizeof(char *))))
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i <= n; i++)
		if (!(v.list[i] = strdup(i < n ? have[i] : pair))) {
			du_cfg_free_list(v.list);
			return du_err_set(err, DU_ERR_NOMEM, "out of memory");
		}
	if ((rc = du_cfg_validate(o, &v, src, err)))
		return rc;
	return du_cfg_store(cfg, idx, &v, src, err);
}

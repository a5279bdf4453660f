/*
 * make docs: print the man page of one tool (man/du-upload.1 and the others) from the option
 * table (du_config_option_doc), so the OPTIONS and ENVIRONMENT sections cannot drift from what
 * the tool accepts; tests/e2e/97-packaging.bats fails when a committed page differs.
 *   man-page du-upload >man/du-upload.1
 * The prose (description, examples) is here; every option, variable, default and enum value
 * comes from src/config/options.c.
 */
#include <stdio.h>
#include <string.h>

#include "du/config.h"

#define U DU_TOOL_UPLOAD
#define R DU_TOOL_RETRY
#define T DU_TOOL_TRIGGER
#define M DU_TOOL_MASTER
#define ALL (U | R | T | M)

/* The documented exit codes (include/du/err.h, README "Exit codes"); tools: who can return it. */
static const struct {
	int code, tools;
	const char *text;
} exits[] = {
	{ 0, U | R | M, "success: every file is uploaded (or was already there)" },
	{ 0, T, "success: the webhook answered 2xx (or, with \\fB\\-\\-dry\\-run\\fR, the request was shown)" },
	{ 1, U | R | M, "the run finished but some files failed (see \\fBdu\\-retry \\-s\\fR \\fIID\\fR "
			"\\fB\\-\\-list\\fR); for \\fBdu\\-master verify\\fR, a file does not match; also a "
			"local error (file system, malformed answer)" },
	{ 1, T, "a local error (file system, malformed answer)" },
	{ 2, ALL, "usage error: unknown option, bad argument, a secret given as a flag" },
	{ 3, ALL, "configuration error: bad value, missing key, unreadable config file, unknown session" },
	{ 4, ALL, "database error: unreachable, authentication, schema" },
	{ 5, U | R | M, "S3 error: credentials missing or refused, bucket missing, endpoint unreachable" },
	{ 6, T | M, "the webhook could not be delivered" },
	{ 7, U | R | M, "stopped by the upload window (\\fB\\-\\-max\\-duration\\fR); run again to continue" },
	{ 130, ALL, "interrupted (SIGINT/SIGTERM); run again to continue" },
};

/* Variables read outside the option table; tools: who reads them. */
static const struct {
	const char *name;
	int tools;
	const char *text;
} more_env[] = {
	{ "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN", U | R | M,
	  "static credentials; without them the profile's files, then the instance role are used" },
	{ "AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE", U | R | M,
	  "other places for ~/.aws/credentials and ~/.aws/config" },
	{ "AWS_EC2_METADATA_DISABLED", U | R | M, "true: never ask the instance metadata service" },
	{ "PGHOST, PGPORT, PGDATABASE, PGUSER, PGSERVICE, PGPASSFILE", ALL,
	  "libpq's own variables (and ~/.pgpass) when no database_url or db_* setting is given" },
	{ "DU_PG_DIR", ALL, "directory of the private PostgreSQL cluster used when no database is configured" },
	{ "DU_PG_BIN", ALL, "directory holding initdb and pg_ctl for the private cluster" },
	{ "DU_DB_GRACE_SECONDS", U | R | M,
	  "how long a run keeps going without PostgreSQL before it stops, resumable (120)" },
	{ "DU_LEASE_SECONDS", U | R | M, "lease of a worker's claimed files (300)" },
	{ "NO_COLOR", U | R | M, "plain words instead of colour and indicators on a terminal" },
};

struct page {
	int tool;
	const char *description; /* roff */
	const char *commands;    /* roff, or NULL */
	const char *examples;    /* roff */
};

static const struct page pages[] = {
	{ U,
	  "scans \\fIDIR\\fR (the native walker, or find(1) with \\fBuse_find\\fR), streams the scan "
	  "and the S3 listing under \\fIPREFIX\\fR/ into PostgreSQL and lets one SQL statement decide "
	  "what to upload: a key missing from S3 is uploaded whatever the rows say; a key listed with "
	  "the file's size is skipped unread only when du's own row matches size, mtime, inode and "
	  "ETag, and is otherwise hashed and compared. Files go up in parallel with a checksum S3 "
	  "verifies; files at or above \\fBmultipart_threshold\\fR go in parts whose upload id and "
	  "finished parts are recorded, so a later run continues them.\n"
	  ".PP\n"
	  "Every file's fate is recorded in the session's rows (\\fBfile_uploads\\fR). Ctrl\\-C stops "
	  "cleanly and leaves the session resumable; running again uploads only what is left. With no "
	  "database configured at all, du creates and uses a private PostgreSQL cluster (see "
	  "\\fBFILES\\fR).\n",
	  NULL,
	  ".nf\n"
	  "du\\-upload \\-d /media/card01 \\-b my\\-recordings \\-p site\\-7/2024\\-05\n"
	  "du\\-upload \\-c config.json \\-\\-dry\\-run\n"
	  "du\\-upload \\-c config.json \\-\\-dump\\-config\n"
	  "du\\-upload \\-c config.json \\-\\-join 42   # a second uploader, session 42\n"
	  "du\\-upload \\-c config.json \\-\\-stale\\-uploads=list\n"
	  "DATABASE_URL=postgresql://uploader@db/du du\\-upload \\-c config.json\n"
	  ".fi\n" },
	{ R,
	  "re\\-uploads the failed files of session \\fISESSION\\fR through the same pool and S3 client "
	  "as du\\-upload, with the settings stored with the session (bucket, prefix, endpoint and part "
	  "sizes cannot drift). Each attempt counts in \\fBretry_count\\fR; files that reached "
	  "\\fB\\-\\-max\\-attempts\\fR or failed for a permanent reason (file gone, permission or "
	  "access denied) stay failed with their reason. \\fB\\-\\-auto\\-retry\\fR runs up to "
	  "\\fB\\-\\-max\\-rounds\\fR rounds, waiting \\fB\\-\\-delay\\fR \\(mu 2^(round\\-1) seconds "
	  "(jittered) between them.\n",
	  NULL,
	  ".nf\n"
	  "du\\-retry \\-s 42 \\-\\-list          # failed files: key, error, retry count\n"
	  "du\\-retry \\-s 42                 # one round over the failed files\n"
	  "du\\-retry \\-s 42 \\-a \\-r 5 \\-d 10   # up to 5 rounds, 10 s \\(mu 2^(n\\-1) apart\n"
	  ".fi\n" },
	{ T,
	  "POSTs the summary of session \\fISESSION\\fR to the webhook \\fIURL\\fR as JSON "
	  "(\\fBsession_id\\fR, \\fBbucket_name\\fR, \\fBs3_prefix\\fR, \\fBtotal_files\\fR, "
	  "\\fBfiles_uploaded\\fR, \\fBtotal_size_bytes\\fR, \\fBlocal_directory\\fR and more; "
	  "\\fB\\-\\-list\\-files\\fR adds every uploaded object) with an Idempotency\\-Key, the API key "
	  "header when DU_ENDPOINT_API_KEY is set and an HMAC\\-SHA256 signature when "
	  "DU_ENDPOINT_SECRET is set. 2xx is success; connection errors, timeouts, 429 and 5xx are "
	  "retried with backoff within a time budget; every attempt is recorded in "
	  "\\fBtrigger_attempts\\fR.\n",
	  NULL,
	  ".nf\n"
	  "du\\-trigger \\-s 42 \\-e https://example.org/hooks/du\n"
	  "du\\-trigger \\-s 42 \\-e https://example.org/hooks/du \\-\\-dry\\-run  # show it\n"
	  "DU_ENDPOINT_SECRET=... du\\-trigger \\-s 42 \\-e https://example.org/hooks/du\n"
	  ".fi\n" },
	{ M,
	  "runs the upload (as du\\-upload), an automatic retry when files failed (as "
	  "\\fBdu\\-retry \\-\\-auto\\-retry\\fR; \\fB\\-\\-skip\\-retry\\fR) and the webhook when an "
	  "endpoint is configured (as du\\-trigger; \\fB\\-\\-skip\\-endpoint\\fR) in one process, "
	  "handing the session id from step to step. A session with failed files still triggers, and "
	  "the payload says so. It exits with the worst code of its steps.\n",
	  ".TP\n"
	  "\\fBstatus\\fR [\\fISESSION\\fR]\n"
	  "The recent sessions, or one session's counts by status, bytes, rates, ETA while it runs "
	  "and top errors; \\fB\\-\\-json\\fR prints JSON. Reads only: works while an upload runs.\n"
	  ".TP\n"
	  "\\fBverify\\fR \\fISESSION\\fR\n"
	  "Checks every file of the session against S3 (listing, HEAD where needed) and the local "
	  "copy (\\fB\\-\\-deep\\fR: md5 or CRC of the local bytes), records the outcome per file, "
	  "writes a manifest (\\fB\\-\\-manifest\\fR) and exits 1 on any mismatch.\n",
	  ".nf\n"
	  "du\\-master \\-c config.json \\-e https://example.org/hooks/du\n"
	  "du\\-master status\n"
	  "du\\-master status 42 \\-\\-json\n"
	  "du\\-master verify 42 \\-\\-deep \\-\\-manifest /archive/site\\-7\n"
	  ".fi\n" },
};

/* Roff-escape text: backslashes, hyphens (so flags copy and paste), a leading dot or quote. */
static void esc(const char *s, FILE *out)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", out);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", out);
		else if (*s == '-')
			fputs("\\-", out);
		else
			fputc(*s, out);
	}
}

static void upper(const char *s, FILE *out)
{
	for (; *s; s++)
		*s == '-' ? fputs("\\-", out) : fputc(*s >= 'a' && *s <= 'z' ? *s - 32 : *s, out);
}

static void synopsis(int tool, FILE *out)
{
	/* "-s SESSION -e URL [OPTION]...": flags bold, their arguments and OPTION italic. */
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", du_config_synopsis(tool));
	fputs(".B ", out);
	esc(du_tool_name(tool), out);
	fputc('\n', out);
	for (char *w = strtok(buf, " "); w; w = strtok(NULL, " ")) {
		if (w[0] == '-') {
			fputs("\\fB", out);
			esc(w, out);
			fputs("\\fR\n", out);
		} else if (w[0] == '[') {
			size_t n = strcspn(w + 1, "]");
			fprintf(out, "[\\fI%.*s\\fR]", (int)n, w + 1);
			esc(w + 1 + n + (w[1 + n] == ']'), out);
			fputs("\\&\n", out); /* "..." at the end of a line is no full stop */
		} else {
			fputs("\\fI", out);
			esc(w, out);
			fputs("\\fR\n", out);
		}
	}
}

static void option_entry(const struct du_option_doc *d, FILE *out)
{
	fputs(".TP\n", out);
	if (d->shortc)
		fprintf(out, "\\fB\\-%c\\fR, ", d->shortc);
	fputs("\\fB\\-\\-", out);
	esc(d->flag, out);
	fputs("\\fR", out);
	if (d->metavar) {
		/* a map's KEY=VALUE after '=' would read as two assignments */
		fputs(d->arg_optional ? "[=\\fI" : !strcmp(d->type, "map") ? " \\fI" : "=\\fI", out);
		esc(d->metavar, out);
		fputs(d->arg_optional ? "\\fR]" : "\\fR", out);
	}
	fputc('\n', out);
	esc(d->help, out);
	fputs(d->required ? " (required).\n" : ".\n", out);
	/* One line of facts: key, variables, default, accepted values, range. */
	const char *sep = "";
	if (d->key && !d->cli_only) {
		fputs("Key \\fB", out);
		esc(d->key, out);
		fputs("\\fR", out);
		sep = "; ";
	} else if (d->cli_only && d->key) {
		fputs("Command line only", out);
		sep = "; ";
	}
	for (int e = 0; e < 3 && d->env[e]; e++) {
		fprintf(out, "%s%s\\fB", e ? ", " : sep, e ? "" : "environment ");
		esc(d->env[e], out);
		fputs("\\fR", out);
		sep = "; ";
	}
	if (d->def) {
		fprintf(out, "%sdefault \\fB", sep);
		esc(d->def, out);
		fputs("\\fR", out);
		sep = "; ";
	}
	if (d->values) {
		fprintf(out, "%svalues", sep);
		for (int v = 0; d->values[v]; v++) {
			fputs(v ? ", \\fB" : " \\fB", out);
			esc(d->values[v], out);
			fputs("\\fR", out);
		}
		sep = "; ";
	}
	if (d->range[0]) {
		fprintf(out, "%srange ", sep);
		esc(d->range, out);
		sep = "; ";
	}
	if (!strcmp(d->type, "list")) {
		fprintf(out, "%srepeatable or a comma list", sep);
		sep = "; ";
	}
	if (!strcmp(d->type, "map")) {
		fprintf(out, "%sa JSON object in the config file and the environment", sep);
		sep = "; ";
	}
	if (*sep)
		fputs(".\n", out);
}

static void options(int tool, FILE *out)
{
	struct du_option_doc d;
	fputs(".SH OPTIONS\n", out);
	/* Grouped as --help groups them (rows of one group need not be adjacent in the table). */
	for (int g = 0, more = 1; more; g++) {
		bool head = false;
		more = 0;
		for (size_t i = 0; i < du_config_option_count(); i++) {
			if (!du_config_option_doc(i, tool, &d))
				continue;
			more |= d.group_no > g;
			if (d.group_no != g || !d.flag)
				continue;
			if (!head) {
				fputs(".SS \"", out);
				esc(d.group, out);
				fputs("\"\n", out);
				head = true;
			}
			option_entry(&d, out);
		}
	}
	fputs(".PP\n"
	      "Booleans accept \\fBtrue\\fR/\\fBfalse\\fR, \\fByes\\fR/\\fBno\\fR, \\fB1\\fR/\\fB0\\fR, "
	      "\\fBon\\fR/\\fBoff\\fR; sizes accept bytes or K, KiB, M, MiB, G, GiB (base 1024). "
	      "Precedence, lowest first: defaults < config file (\\fB\\-c\\fR) < .env < environment < "
	      "command line; \\fB\\-\\-dump\\-config\\fR shows each effective value and where it came "
	      "from.\n",
	      out);
}

static void environment(int tool, FILE *out)
{
	struct du_option_doc d;
	fputs(".SH ENVIRONMENT\n"
	      "Each setting above can be given by the variable named in its entry. Secrets are read "
	      "only from the environment, .env or the config file, never from the command line:\n",
	      out);
	for (size_t i = 0; i < du_config_option_count(); i++) {
		if (!du_config_option_doc(i, tool, &d) || !d.secret)
			continue;
		fputs(".TP\n.B ", out);
		esc(d.env[0], out);
		fputc('\n', out);
		esc(d.help, out);
		fputs(" (key \\fB", out);
		esc(d.key, out);
		fputs("\\fR).\n", out);
	}
	fputs(".PP\nAlso read:\n", out);
	for (size_t i = 0; i < sizeof(more_env) / sizeof(more_env[0]); i++) {
		if (!(more_env[i].tools & tool))
			continue;
		fputs(".TP\n.B ", out);
		esc(more_env[i].name, out);
		fputc('\n', out);
		esc(more_env[i].text, out);
		fputs(".\n", out);
	}
}

static void files(int tool, FILE *out)
{
	fputs(".SH FILES\n"
	      ".TP\n.I .env\n"
	      "Read from the working directory (or \\fB\\-\\-env\\-file\\fR); never overrides a variable "
	      "already set.\n"
	      ".TP\n.I config.json\n"
	      "Any JSON file given with \\fB\\-c\\fR; the Python tool's files work unchanged. Starting "
	      "points: \\fI/usr/share/du/config.example.json\\fR and \\fI.env.example\\fR "
	      "(\\fIPREFIX/share/du\\fR after make install).\n",
	      out);
	if (tool != T)
		fputs(".TP\n.I ~/.aws/credentials\\fR, \\fI~/.aws/config\n"
		      "The AWS profile's keys and region (\\fB\\-\\-aws\\-profile\\fR).\n",
		      out);
	fputs(".TP\n.I ~/.local/state/du/pg\n"
	      "du's private PostgreSQL cluster, created on the first run when no database is configured "
	      "(Unix socket only); \\fI/var/lib/du/pg\\fR for root, \\fI$XDG_STATE_HOME/du/pg\\fR when "
	      "that is set. It needs PostgreSQL's initdb and pg_ctl.\n",
	      out);
}

int main(int argc, char **argv)
{
	const struct page *p = NULL;
	for (size_t i = 0; argc == 2 && i < sizeof(pages) / sizeof(pages[0]); i++)
		if (!strcmp(argv[1], du_tool_name(pages[i].tool)))
			p = &pages[i];
	if (!p) {
		fprintf(stderr, "usage: man-page du-upload|du-retry|du-trigger|du-master\n");
		return 2;
	}
	FILE *out = stdout;
	const char *name = du_tool_name(p->tool);
	fprintf(out, ".\\\" %s(1): generated from the option table in src/config/options.c by scripts/man-page.c\n"
		     ".\\\" (make docs); do not edit by hand.\n.TH ", name);
	upper(name, out);
	/* No hyphenation, ragged right: keys, variables and paths stay whole (and searchable). */
	fprintf(out, " 1 \"\" \"du %s\" \"User Commands\"\n.nh\n.ad l\n.SH NAME\n", DU_VERSION);
	esc(name, out);
	fputs(" \\- ", out);
	/* The --help summary, lower-cased first letter and without the full stop, as NAME lines go. */
	const char *sum = du_config_summary(p->tool);
	char line[256];
	snprintf(line, sizeof(line), "%s", sum);
	size_t n = strlen(line);
	if (n && line[n - 1] == '.')
		line[n - 1] = '\0';
	if (line[0] >= 'A' && line[0] <= 'Z')
		line[0] = (char)(line[0] + 32);
	esc(line, out);
	fputs("\n.SH SYNOPSIS\n", out);
	synopsis(p->tool, out);
	fputs(".SH DESCRIPTION\n.B ", out);
	esc(name, out);
	fputc('\n', out);
	fputs(p->description, out);
	if (p->commands) {
		fputs(".SH COMMANDS\nWithout a command, du\\-master runs the pipeline.\n", out);
		fputs(p->commands, out);
	}
	options(p->tool, out);
	fputs(".SH EXIT STATUS\n", out);
	for (size_t i = 0; i < sizeof(exits) / sizeof(exits[0]); i++) {
		if (!(exits[i].tools & p->tool))
			continue;
		fprintf(out, ".TP\n.B %d\n%s.\n", exits[i].code, exits[i].text);
	}
	if (p->tool == M)
		fputs(".PP\ndu\\-master exits with the worst code of its steps.\n", out);
	environment(p->tool, out);
	files(p->tool, out);
	fputs(".SH EXAMPLES\n", out);
	fputs(p->examples, out);
	fputs(".SH SEE ALSO\n", out);
	const char *sep = "";
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		if (pages[i].tool == p->tool)
			continue;
		fprintf(out, "%s\\fB", sep);
		esc(du_tool_name(pages[i].tool), out);
		fputs("\\fR(1)", out);
		sep = ", ";
	}
	fputs(", \\fBpsql\\fR(1).\n.PP\n"
	      "The configuration reference (every key, flag, variable, default and range) is "
	      "docs/CONFIG.md in du's source; the schema and the private cluster are in docs/DATABASE.md.\n",
	      out);
	return fflush(out) == 0 ? 0 : 1;
}

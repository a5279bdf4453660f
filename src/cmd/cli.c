/*
 * cli.c: what the four tools share. The table below says which library function runs for which
 * tool (and du-master subcommand); the command bodies are in cmd_*.c. Only this file reports a
 * command's error and maps its outcome to the documented exit code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "du/cli.h"
#include "du/commands.h"
#include "du/config.h"
#include "du/log.h"
#include "du/signals.h"

/* A command's outcome as an exit code: files_failed only counts when the command ran (DU_OK). */
static int finish(int rc, bool files_failed, struct du_err *err)
{
	if (du_err_paused(rc)) {
		if (err->msg[0])
			du_warn("%s", err->msg);
		return du_exit_code(rc);
	}
	if (rc)
		return du_err_report(err);
	return files_failed ? DU_EXIT_FILES_FAILED : DU_EXIT_OK;
}

static int run_upload(const struct du_config *cfg, int nargs, char **args, struct du_err *err)
{
	struct du_upload_result res = { 0 };
	(void)nargs, (void)args;
	int rc = du_cmd_upload(cfg, &res, err);
	return finish(rc, res.files_failed > 0, err);
}

static int run_retry(const struct du_config *cfg, int nargs, char **args, struct du_err *err)
{
	struct du_retry_result res = { 0 };
	(void)nargs, (void)args;
	int rc = du_cmd_retry(cfg, &res, err);
	return finish(rc, res.files_still_failed > 0, err);
}

static int run_trigger(const struct du_config *cfg, int nargs, char **args, struct du_err *err)
{
	struct du_trigger_result res = { 0 };
	(void)nargs, (void)args;
	return finish(du_cmd_trigger(cfg, &res, err), false, err);
}

/* A step's error is shown when the step ends; the interrupted step was already said by its log. */
static void report_step(const struct du_err *err, void *arg)
{
	(void)arg;
	du_err_report(err);
}

static int run_master(const struct du_config *cfg, int nargs, char **args, struct du_err *err)
{
	struct du_master_result res = { 0 };
	(void)nargs, (void)args;
	int rc = du_cmd_master(cfg, report_step, NULL, &res, err);
	if (rc)
		return finish(rc, false, err);
	return res.status ? du_exit_code(res.status) : res.files_failed ? DU_EXIT_FILES_FAILED : DU_EXIT_OK;
}

static int run_status(const struct du_config *cfg, int nargs, char **args, struct du_err *err)
{
	return finish(du_cmd_status(cfg, nargs, args, err), false, err);
}

static int run_verify(const struct du_config *cfg, int nargs, char **args, struct du_err *err)
{
	struct du_verify_result res = { 0 };
	int rc = du_cmd_verify(cfg, nargs, args, &res, err);
	return finish(rc, !res.intact, err);
}

static const struct command {
	int tool;
	const char *name;   /* du-master's subcommand (its first argument), or NULL: the tool itself */
	int (*run)(const struct du_config *cfg, int nargs, char **args, struct du_err *err);
} commands[] = {
	{ DU_TOOL_UPLOAD, NULL, run_upload },
	{ DU_TOOL_RETRY, NULL, run_retry },
	{ DU_TOOL_TRIGGER, NULL, run_trigger },
	{ DU_TOOL_MASTER, "status", run_status },
	{ DU_TOOL_MASTER, "verify", run_verify },
	{ DU_TOOL_MASTER, NULL, run_master },
};

static const struct command *find_command(int tool, const struct du_config *cfg)
{
	const char *sub = tool == DU_TOOL_MASTER && cfg->nargs > 0 ? cfg->args[0] : NULL;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *c = &commands[i];
		if (c->tool == tool && (c->name && sub ? !strcmp(c->name, sub) : c->name == sub))
			return c;
	}
	return NULL;
}

static int run(int tool, const struct du_config *cfg, struct du_err *err)
{
	const struct command *c = find_command(tool, cfg);
	if (!c) {   /* only du-master takes a command name */
		du_err_set(err, DU_ERR_USAGE, "unknown command '%s'", cfg->args[0]);
		du_err_hint(err, "try 'du-master --help'");
		return du_err_report(err);
	}
	if (c->name)
		return c->run(cfg, cfg->nargs - 1, cfg->args + 1, err);
	return c->run(cfg, cfg->nargs, cfg->args, err);
}
int du_cli_main(int tool, int argc, char **argv)
{
	const char *name = du_tool_name(tool);
	struct du_config cfg;
	struct du_err err = { 0 };
	int code;

	du_log_init(name);
	if (du_config_load(&cfg, tool, argc, argv, &err)) {
		code = du_err_report(&err);
		if (code == DU_EXIT_USAGE && !err.hint[0])
			du_hint("try '%s --help'", name);
		return code;
	}
	if (cfg.help) {
		du_config_usage(tool, stdout);
		code = DU_EXIT_OK;
		goto out;
	}
	if (cfg.version) {
		printf("%s (du) %s\n", name, DU_VERSION);
		code = DU_EXIT_OK;
		goto out;
	}
	du_log_set_level(cfg.log_level);
	if (cfg.log_file && du_log_set_file(cfg.log_file, &err)) {
		code = du_err_report(&err);
		goto out;
	}
	if (cfg.dump_config) {
		char *json = du_config_dump_json(&cfg, tool);
		if (!json) {
			du_error("out of memory");
			code = DU_EXIT_FILES_FAILED;
			goto out;
		}
		puts(json);
		free(json);
		code = DU_EXIT_OK;
		goto out;
	}
	du_signals_install();
	code = run(tool, &cfg, &err);
out:
	du_config_release(&cfg);
	du_log_close();
	return code;
}

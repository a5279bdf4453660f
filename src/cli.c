#include <stdio.h>
#include <stdlib.h>

#include "du/cli.h"
#include "du/commands.h"
#include "du/config.h"
#include "du/log.h"

static const char *tool_name(int tool)
{
	switch (tool) {
	case DU_TOOL_UPLOAD:
		return "du-upload";
	case DU_TOOL_RETRY:
		return "du-retry";
	case DU_TOOL_TRIGGER:
		return "du-trigger";
	default:
		return "du-master";
	}
}

static int run(int tool, const struct du_config *cfg, struct du_err *err)
{
	int rc;
	switch (tool) {
	case DU_TOOL_UPLOAD: {
		struct du_upload_result res = { 0 };
		rc = du_cmd_upload(cfg, &res, err);
		if (rc == DU_OK && res.files_failed)
			return DU_EXIT_FILES_FAILED;
		break;
	}
	case DU_TOOL_RETRY: {
		struct du_retry_result res = { 0 };
		rc = du_cmd_retry(cfg, &res, err);
		if (rc == DU_OK && res.files_still_failed)
			return DU_EXIT_FILES_FAILED;
		break;
	}
	case DU_TOOL_TRIGGER: {
		struct du_trigger_result res = { 0 };
		rc = du_cmd_trigger(cfg, &res, err);
		break;
	}
	default:
		return du_cmd_master(cfg, err);
	}
	if (rc == DU_ERR_INTERRUPTED) {
		if (err->msg[0])
			du_warn("%s", err->msg);
		return DU_EXIT_INTERRUPTED;
	}
	return rc ? du_err_report(err) : DU_EXIT_OK;
}

int du_cli_main(int tool, int argc, char **argv)
{
	const char *name = tool_name(tool);
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

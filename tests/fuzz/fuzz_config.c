/*
 * fuzz_config.c: the JSON configuration loader.
 *
 * The first byte picks the entry point, the rest is the JSON text:
 *   even: du_config_apply_json (a stored config_history record) on fresh defaults;
 *   odd:  du_config_load(du-upload -c FILE --dump-config), the config file layer.
 * Invariant: whatever was accepted serialises with du_config_to_json into JSON that is accepted
 * again and serialises to the same text (du-retry reloads exactly what du-upload stored), and
 * du_config_dump_json gives valid JSON.
 */
#include <cjson/cJSON.h>
#include <stdbool.h>

#include "du/config.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	/* No .env, AWS file or variable of this machine may change what is parsed. */
	char dir[] = "/tmp/du-fuzz-config.XXXXXX";
	if (!mkdtemp(dir) || chdir(dir))
		abort();
	rmdir(dir); /* an unlinked working directory: no .env can ever appear in it */
	clearenv();
	setenv("HOME", "/nonexistent", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent", 1);
	return 0;
}

static void check_round_trip(const struct du_config *cfg)
{
	char *json = du_config_to_json(cfg);
	FUZZ_CHECK(json != NULL);
	struct du_config again = {0};
	struct du_err err = {0};
	int rc = du_config_apply_json(&again, json, "round trip", &err);
	if (rc)
		fprintf(stderr, "re-applying %s: %s\n", json, err.msg);
	FUZZ_CHECK(rc == DU_OK);
	char *json2 = du_config_to_json(&again);
	FUZZ_CHECK(json2 != NULL);
	FUZZ_CHECK(strcmp(json, json2) == 0);
	free(json);
	free(json2);
	du_config_release(&again);
}

static void check_dump(const struct du_config *cfg)
{
	char *dump = du_config_dump_json(cfg, DU_TOOL_UPLOAD);
	FUZZ_CHECK(dump != NULL);
	cJSON *doc = cJSON_Parse(dump);
	FUZZ_CHECK(doc != NULL && cJSON_IsObject(doc));
	cJSON_Delete(doc);
	free(dump);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct du_config cfg = {0};
	struct du_err err = {0};
	int rc;
	if (data[0] % 2 == 0) {
		char *json = fuzz_strdup(data + 1, size - 1);
		rc = du_config_apply_json(&cfg, json, "fuzz", &err);
		free(json);
		if (rc == DU_OK) {
			check_round_trip(&cfg);
			check_dump(&cfg);
		} else {
			FUZZ_CHECK(err.code != DU_OK && err.msg[0]);
		}
		/* cfg was initialised either way (apply_json fails after du_config_init) */
		du_config_release(&cfg);
		return 0;
	}
	const char *path = fuzz_file(data + 1, size - 1);
	char *argv[] = { "du-upload", "-c", (char *)path, "--dump-config", NULL };
	rc = du_config_load(&cfg, DU_TOOL_UPLOAD, 4, argv, &err);
	if (rc == DU_OK) {
		check_round_trip(&cfg);
		check_dump(&cfg);
		du_config_release(&cfg);
	} else {
		FUZZ_CHECK(rc == DU_ERR_CONFIG || rc == DU_ERR_USAGE);
		FUZZ_CHECK(err.msg[0]);
	}
	return 0;
}

/*
 * fuzz_ini.c: the AWS shared-file parser (du_ini_load) and what reads through it: the
 * credentials chain (du_creds_provider_new with the input as both ~/.aws/credentials and
 * ~/.aws/config) and du_region_resolve.
 *
 * Invariants: every section listed is found by du_ini_has_section with a line inside the file;
 * every value found has a line inside the file; an error names the file and its line.
 * Inputs that mention credential_process are not given to the credentials chain: it would run
 * whatever shell command the fuzzer wrote.
 */
#include <ctype.h>
#include <stdbool.h>

#include "du/creds.h"
#include "du/ini.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	clearenv();
	setenv("HOME", "/nonexistent", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	return 0;
}

static bool mentions_process(const uint8_t *data, size_t size)
{
	static const char word[] = "process";
	for (size_t i = 0; i + sizeof(word) - 1 <= size; i++) {
		size_t k = 0;
		while (k < sizeof(word) - 1 && tolower(data[i + k]) == word[k])
			k++;
		if (k == sizeof(word) - 1)
			return true;
	}
	return false;
}

static const char *const keys[] = { "aws_access_key_id", "aws_secret_access_key", "region",
				    "aws_session_token", "s3", "" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size);
	int lines = 1;
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';

	struct du_ini *ini = NULL;
	struct du_err err = {0};
	bool missing = true;
	int rc = du_ini_load(&ini, path, &missing, &err);
	if (rc == DU_OK) {
		FUZZ_CHECK(ini && !missing);
		FUZZ_CHECK(strcmp(du_ini_path(ini), path) == 0);
		size_t n = du_ini_section_count(ini);
		for (size_t i = 0; i < n; i++) {
			const char *name = du_ini_section_name(ini, i);
			int line = 0;
			FUZZ_CHECK(name != NULL);
			FUZZ_CHECK(du_ini_has_section(ini, name, &line));
			FUZZ_CHECK(line >= 1 && line <= lines);
			for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
				int vline = 0;
				const char *v = du_ini_get(ini, name, keys[k], &vline);
				if (v)
					FUZZ_CHECK(vline >= 1 && vline <= lines);
			}
		}
		FUZZ_CHECK(du_ini_section_name(ini, n) == NULL || n == 0);
		du_ini_free(ini);
	} else {
		FUZZ_CHECK(rc == DU_ERR_CONFIG || rc == DU_ERR_NOMEM);
		FUZZ_CHECK(strstr(err.msg, path) != NULL);
	}

	/* The region and the credentials chain over the same bytes. */
	setenv("AWS_CONFIG_FILE", path, 1);
	char region[64];
	struct du_err rerr = {0};
	rc = du_region_resolve(NULL, "eu-west-1", "default", region, sizeof(region), &rerr);
	FUZZ_CHECK(rc == DU_OK || rc == DU_ERR_CONFIG);
	if (rc == DU_OK)
		FUZZ_CHECK(strlen(region) < sizeof(region));

	if (!mentions_process(data, size)) {
		setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
		static const char *const profiles[] = { "default", "p" };
		for (int p = 0; p < 2; p++) {
			struct du_creds_provider *cp = NULL;
			struct du_err cerr = {0};
			rc = du_creds_provider_new(&cp, profiles[p], p == 1, &cerr);
			if (rc == DU_OK) {
				struct du_creds c;
				if (du_creds_get(cp, &c, &cerr) == DU_OK) {
					FUZZ_CHECK(c.access_key[0] && c.secret_key[0]);
					du_creds_wipe(&c);
				}
				du_creds_provider_free(cp);
			} else {
				FUZZ_CHECK(cerr.msg[0]);
			}
		}
		unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	}
	unsetenv("AWS_CONFIG_FILE");
	return 0;
}

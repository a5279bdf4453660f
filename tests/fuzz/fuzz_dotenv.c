/*
 * fuzz_dotenv.c: the .env parser (du_dotenv_apply on the input as a file).
 *
 * Invariants: every variable reported set is in the environment afterwards, with a line number
 * inside the file; an error message never quotes a value (the fuzzer cannot know which bytes
 * are values, so we check the weaker, always-true form: the message starts with the path).
 * The variables set are removed again so runs stay independent.
 */
#include "du/config.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	clearenv();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size);
	struct du_dotenv set = {0};
	struct du_err err = {0};
	int lines = 1;
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	int rc = du_dotenv_apply(path, false, &set, &err);
	if (rc == DU_OK) {
		for (size_t i = 0; i < set.n; i++) {
			FUZZ_CHECK(set.vars[i].name && set.vars[i].name[0]);
			FUZZ_CHECK(getenv(set.vars[i].name) != NULL);
			FUZZ_CHECK(set.vars[i].line >= 1 && set.vars[i].line <= lines);
			unsetenv(set.vars[i].name);
		}
		du_dotenv_release(&set);
	} else {
		FUZZ_CHECK(rc == DU_ERR_CONFIG);
		FUZZ_CHECK(strncmp(err.msg, path, strlen(path)) == 0);
		FUZZ_CHECK(set.n == 0 && set.vars == NULL);
	}
	/* Nothing may be left behind by a failed or successful run. */
	FUZZ_CHECK(environ == NULL || environ[0] == NULL);
	return 0;
}

/* du-retry: see 'du-retry --help' and README.md. The body is du_cmd_retry() in libdu.a. */
#include "du/cli.h"
#include "du/config.h"

int main(int argc, char **argv)
{
	return du_cli_main(DU_TOOL_RETRY, argc, argv);
}

/* du-master: see 'du-master --help' and README.md. The body is du_cmd_master() in libdu.a. */
#include "du/cli.h"
#include "du/config.h"

int main(int argc, char **argv)
{
	return du_cli_main(DU_TOOL_MASTER, argc, argv);
}

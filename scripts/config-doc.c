/* make docs: print docs/CONFIG.md from the option table (du_config_reference_markdown). */
#include <stdio.h>

#include "du/config.h"

int main(void)
{
	du_config_reference_markdown(stdout);
	return fflush(stdout) == 0 ? 0 : 1;
}

/*
 * cli.h: the shared body of the four tools. A tool's main() is one line:
 *
 *     int main(int argc, char **argv) { return du_cli_main(DU_TOOL_UPLOAD, argc, argv); }
 *
 * du_cli_main sets up logging, loads and validates the configuration (nothing else happens on a
 * configuration error), answers --help, --version and --dump-config, installs the SIGINT/SIGTERM
 * handlers, runs the command (a library function, see commands.h) and returns the documented
 * exit code.
 */
#ifndef DU_CLI_H
#define DU_CLI_H

int du_cli_main(int tool, int argc, char **argv);

#endif

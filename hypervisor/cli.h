/* Command-line parsing, kept free of I/O so every error path is unit-tested. */
#ifndef VMLITE_CLI_H
#define VMLITE_CLI_H

#include <stdio.h>

#include "config.h"

enum cli_action { CLI_ERROR = -1, CLI_RUN, CLI_HELP, CLI_VERSION, CLI_RUN_HELP };

/* Parses argv into cfg. CLI_ERROR leaves a one-line message in err_msg(). */
enum cli_action cli_parse(int argc, char **argv, struct vm_config *cfg);
void cli_usage(FILE *out);
void cli_run_usage(FILE *out);

#endif

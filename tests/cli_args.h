/* The tests of sim/app/cmd_*.c build their struct e2_options the way main does: cli_parse of
 * a command line, here given as one string of words separated by single spaces. */
#ifndef E2SIM_TESTS_CLI_ARGS_H
#define E2SIM_TESTS_CLI_ARGS_H

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Parses "e2sim WORDS..." into opts; the words live in static storage until the next call. */
static inline int options_of(const char *words, struct e2_options *opts, struct e2_err *err)
{
    static char text[4096];
    static char *argv[CLI_MAX_ARGS];
    int argc = 0;
    snprintf(text, sizeof text, "e2sim %s", words);
    for (char *w = strtok(text, " "); w && argc < CLI_MAX_ARGS - 1; w = strtok(NULL, " "))
        argv[argc++] = w;
    argv[argc] = NULL;
    return cli_parse(argc, argv, opts, err);
}

#endif

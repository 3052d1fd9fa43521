/* The e2sim command line, parsed into struct e2_options without printing or exiting.
 *
 *   e2sim --config FILE [options]          run, energy-only run or sweep (what the config says)
 *   e2sim replay TRACE --config HW.yaml    price a recorded trace on other hardware
 *   e2sim merge DIR...                     join sharded sweep results
 *   e2sim calibrate --config FILE          fit the energy table to measurements
 *   e2sim bench [NAME...]                  speed benchmarks
 *
 * Options take their value as the next argument or after '=' (--out=DIR). */
#ifndef E2_CLI_H
#define E2_CLI_H

#include "status.h"

#define CLI_MAX_SETS 128
#define CLI_MAX_ARGS 256

enum e2_command {
    E2_CMD_RUN,
    E2_CMD_REPLAY,
    E2_CMD_MERGE,
    E2_CMD_CALIBRATE,
    E2_CMD_BENCH,
    E2_CMD_EXPORT_ERT,        /* export-ert --config HW.yaml [--out FILE] (cmd_export_ert.c) */
    E2_CMD_HELP,              /* --help: print cli_usage() */
    E2_CMD_VERSION,           /* --version */
    E2_CMD_CONFIG_REFERENCE,  /* hidden --config-reference: print docs/config.md */
};

struct e2_options {
    enum e2_command command;
    const char *config;                 /* --config FILE (NULL = none) */
    const char *out_dir;                /* --out DIR (NULL = out/<name>-<timestamp>) */
    int resume;                         /* --resume */
    const char *sets[CLI_MAX_SETS];     /* --set KEY=VALUE and --seed N, in command-line order */
    int nsets;
    int print_config;                   /* --print-config */
    int threads;                        /* --threads N (0 = all cores); main sets OpenMP */
    int jobs;                           /* --jobs N worker processes (default 1) */
    int quiet;                          /* --quiet: no progress, no summary */
    int shard_index, shard_count;       /* --shard K/N: 1 <= K <= N; default 1/1 */
    long point;                         /* --point I: run only sweep point I (-1 = all) */
    const char *trace;                  /* --trace FILE: record the op trace (NULL = none) */
    int rounds;                         /* --rounds N: bench measurements per column (default 1) */
    const char *args[CLI_MAX_ARGS];     /* positional: replay's TRACE, merge's DIRs, bench's names */
    int nargs;
    char seed_set[40];                  /* storage for "seed=N" made from --seed N */
};

/* Parse argv. Returns E2_OK, or E2_BAD_INPUT with a message for the user (main adds a hint to
 * --help). The options point into argv, which must outlive them. */
int cli_parse(int argc, char **argv, struct e2_options *opts, struct e2_err *err);

/* The --help text. */
const char *cli_usage(void);

/* Which subcommand name a command has ("run" for a plain run). */
const char *cli_command_name(enum e2_command command);

#endif

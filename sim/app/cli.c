/* Command-line parsing: a small table of options, each with the commands it applies to. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Commands as bits, for "which commands take this option". */
#define RUN (1u << E2_CMD_RUN)
#define REPLAY (1u << E2_CMD_REPLAY)
#define MERGE (1u << E2_CMD_MERGE)
#define CALIBRATE (1u << E2_CMD_CALIBRATE)
#define BENCH (1u << E2_CMD_BENCH)
#define EXPORT_ERT (1u << E2_CMD_EXPORT_ERT)

enum option_id {
    OPT_CONFIG, OPT_OUT, OPT_RESUME, OPT_SET, OPT_PRINT_CONFIG, OPT_THREADS, OPT_JOBS, OPT_SEED,
    OPT_QUIET, OPT_HELP, OPT_VERSION, OPT_SHARD, OPT_POINT, OPT_TRACE, OPT_CONFIG_REFERENCE, OPT_ROUNDS,
};

struct option_row {
    const char *name;   /* long name without "--" */
    char short_name;    /* 0 = none */
    int takes_value;
    unsigned commands;  /* where it applies */
    enum option_id id;
};

static const struct option_row option_rows[] = {
    {"config", 'c', 1, RUN | REPLAY | CALIBRATE | BENCH | EXPORT_ERT, OPT_CONFIG},
    {"out", 'o', 1, RUN | REPLAY | MERGE | CALIBRATE | BENCH | EXPORT_ERT, OPT_OUT},
    {"resume", 0, 0, RUN | REPLAY | CALIBRATE, OPT_RESUME},
    {"set", 0, 1, RUN | REPLAY | CALIBRATE | BENCH | EXPORT_ERT, OPT_SET},
    {"print-config", 0, 0, RUN | REPLAY | CALIBRATE, OPT_PRINT_CONFIG},
    {"threads", 0, 1, RUN | REPLAY | CALIBRATE | BENCH, OPT_THREADS},
    {"jobs", 'j', 1, RUN | REPLAY | CALIBRATE, OPT_JOBS},
    {"seed", 0, 1, RUN | CALIBRATE | BENCH, OPT_SEED},
    {"quiet", 'q', 0, RUN | REPLAY | MERGE | CALIBRATE | BENCH, OPT_QUIET},
    {"help", 'h', 0, ~0u, OPT_HELP},
    {"version", 'V', 0, ~0u, OPT_VERSION},
    {"shard", 0, 1, RUN | REPLAY, OPT_SHARD},
    {"point", 0, 1, RUN | REPLAY, OPT_POINT},
    {"trace", 0, 1, RUN, OPT_TRACE},
    {"config-reference", 0, 0, RUN, OPT_CONFIG_REFERENCE},
    {"rounds", 0, 1, BENCH, OPT_ROUNDS},
};

static const char *const command_names[] = {
    [E2_CMD_RUN] = "run",
    [E2_CMD_REPLAY] = "replay",
    [E2_CMD_MERGE] = "merge",
    [E2_CMD_CALIBRATE] = "calibrate",
    [E2_CMD_BENCH] = "bench",
    [E2_CMD_EXPORT_ERT] = "export-ert",
    [E2_CMD_HELP] = "help",
    [E2_CMD_VERSION] = "version",
    [E2_CMD_CONFIG_REFERENCE] = "config-reference",
};

const char *cli_command_name(enum e2_command command)
{
    return command_names[command];
}

const char *cli_usage(void)
{
    return "usage: e2sim --config FILE [options]        train (or energy-only, or sweep) as FILE says\n"
           "       e2sim replay TRACE --config HW.yaml  price a recorded trace on other hardware\n"
           "       e2sim merge DIR... [--out DIR]       join sharded sweep results\n"
           "       e2sim calibrate --config FILE        fit the energy table to measurements\n"
           "       e2sim bench [NAME...]                speed benchmarks\n"
           "       e2sim export-ert --config HW.yaml [--out FILE]  the energy table as an Accelergy ERT\n"
           "\n"
           "options:\n"
           "  -c, --config FILE     the YAML config (see docs/config.md)\n"
           "  -o, --out DIR         output folder (default out/<name>-<timestamp>); an existing\n"
           "                        folder is an error unless --resume\n"
           "      --resume          continue the run or sweep in --out DIR\n"
           "      --set KEY=VALUE   override a config key, e.g. --set training.psg.beta=0.1\n"
           "                        (repeatable; VALUE is YAML: --set training.method=[fp32])\n"
           "      --print-config    print the fully resolved config and exit\n"
           "      --threads N       OpenMP threads for the kernels (default: all cores)\n"
           "  -j, --jobs N          worker processes for sweep points (default 1)\n"
           "      --seed N          same as --set seed=N\n"
           "      --shard K/N       run only sweep points K-1, K-1+N, K-1+2N... (1 <= K <= N)\n"
           "      --point I         run only sweep point I (0-based)\n"
           "      --trace FILE      record the op trace of the run to FILE\n"
           "      --rounds N        bench: measure each column N times, alternating, and give\n"
           "                        medians (default 1)\n"
           "  -q, --quiet           no progress display and no summary\n"
           "  -h, --help            this help\n"
           "  -V, --version         print the version\n"
           "      --config-reference  print the reference of every config key (docs/config.md)\n"
           "\n"
           "Exit status: 0 success, 1 the run failed, 2 bad usage or bad input.\n";
}

/* A whole decimal number in [lo, hi]. */
static int parse_count(const char *text, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (!text[0] || *end || errno == ERANGE || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_shard(const char *text, struct e2_options *opts)
{
    char k[32];
    long index, count;
    const char *slash = strchr(text, '/');
    if (!slash || slash - text >= (long)sizeof k)
        return -1;
    memcpy(k, text, (size_t)(slash - text));
    k[slash - text] = 0;
    if (parse_count(k, 1, INT_MAX, &index) || parse_count(slash + 1, 1, INT_MAX, &count) ||
        index > count)
        return -1;
    opts->shard_index = (int)index;
    opts->shard_count = (int)count;
    return 0;
}

static int add_set(struct e2_options *opts, const char *assignment, struct e2_err *err)
{
    if (opts->nsets == CLI_MAX_SETS)
        return e2_fail(err, E2_BAD_INPUT, "too many --set options (at most %d)", CLI_MAX_SETS);
    opts->sets[opts->nsets++] = assignment;
    return E2_OK;
}

/* getopt_long's tables from option_rows: a long option's val is 256 + its row; the short
 * string starts with ':' so that a missing value is told apart from an unknown option. */
#define ROWS (sizeof option_rows / sizeof option_rows[0])

static void getopt_tables(struct option *longopts, char *shortopts)
{
    char *s = shortopts;
    *s++ = ':';
    for (size_t i = 0; i < ROWS; i++) {
        longopts[i] = (struct option){option_rows[i].name,
                                      option_rows[i].takes_value ? required_argument : no_argument,
                                      NULL, 256 + (int)i};
        if (option_rows[i].short_name) {
            *s++ = option_rows[i].short_name;
            if (option_rows[i].takes_value)
                *s++ = ':';
        }
    }
    *s = 0;
    longopts[ROWS] = (struct option){NULL, 0, NULL, 0};
}

static const struct option_row *row_of(int c)
{
    if (c >= 256 && c < 256 + (int)ROWS)
        return &option_rows[c - 256];
    for (size_t i = 0; i < ROWS; i++)
        if (option_rows[i].short_name && option_rows[i].short_name == c)
            return &option_rows[i];
    return NULL;
}

/* The message for getopt_long's '?' or ':' on the argument it stopped at. */
static int option_error(int c, const char *arg, struct e2_err *err)
{
    const struct option_row *row = row_of(optopt);
    if (c == ':')
        return e2_fail(err, E2_BAD_INPUT, "option %s needs a value", arg);
    if (row && strncmp(arg, "--", 2) == 0)
        return e2_fail(err, E2_BAD_INPUT, "option --%s takes no value", row->name);
    if (optopt && !row)
        return e2_fail(err, E2_BAD_INPUT, "unknown option '-%c'", optopt);
    size_t n = strcspn(arg + 2, "="), matches = 0;
    for (size_t i = 0; i < ROWS; i++)
        matches += strncmp(option_rows[i].name, arg + 2, n) == 0;
    if (strncmp(arg, "--", 2) == 0 && matches > 1)
        return e2_fail(err, E2_BAD_INPUT, "ambiguous option '%s' (%zu options begin so)", arg,
                       matches);
    return e2_fail(err, E2_BAD_INPUT, "unknown option '%s'", arg);
}

/* Apply one option with its value (NULL for flags). */
static int apply_option(const struct option_row *row, const char *arg, const char *value,
                        struct e2_options *opts, struct e2_err *err)
{
    long n;
    switch (row->id) {
    case OPT_CONFIG:
        opts->config = value;
        return E2_OK;
    case OPT_OUT:
        opts->out_dir = value;
        return E2_OK;
    case OPT_RESUME:
        opts->resume = 1;
        return E2_OK;
    case OPT_SET:
        if (!strchr(value, '=') || value[0] == '=')
            return e2_fail(err, E2_BAD_INPUT, "--set %s: expected KEY=VALUE", value);
        return add_set(opts, value, err);
    case OPT_PRINT_CONFIG:
        opts->print_config = 1;
        return E2_OK;
    case OPT_THREADS:
        if (parse_count(value, 1, 4096, &n))
            return e2_fail(err, E2_BAD_INPUT, "%s %s: expected a thread count from 1 to 4096",
                           arg, value);
        opts->threads = (int)n;
        return E2_OK;
    case OPT_JOBS:
        if (parse_count(value, 1, 4096, &n))
            return e2_fail(err, E2_BAD_INPUT, "%s %s: expected a job count from 1 to 4096", arg,
                           value);
        opts->jobs = (int)n;
        return E2_OK;
    case OPT_SEED:
        if (parse_count(value, 0, INT_MAX, &n))
            return e2_fail(err, E2_BAD_INPUT, "%s %s: expected a seed from 0 to %d", arg, value,
                           INT_MAX);
        snprintf(opts->seed_set, sizeof opts->seed_set, "seed=%ld", n);
        return add_set(opts, opts->seed_set, err);
    case OPT_QUIET:
        opts->quiet = 1;
        return E2_OK;
    case OPT_ROUNDS:
        if (parse_count(value, 1, 100, &n))
            return e2_fail(err, E2_BAD_INPUT, "%s %s: expected a round count from 1 to 100", arg,
                           value);
        opts->rounds = (int)n;
        return E2_OK;
    case OPT_HELP:
        opts->command = E2_CMD_HELP;
        return E2_OK;
    case OPT_VERSION:
        opts->command = E2_CMD_VERSION;
        return E2_OK;
    case OPT_SHARD:
        if (parse_shard(value, opts))
            return e2_fail(err, E2_BAD_INPUT, "%s %s: expected K/N with 1 <= K <= N", arg, value);
        return E2_OK;
    case OPT_POINT:
        if (parse_count(value, 0, LONG_MAX, &n))
            return e2_fail(err, E2_BAD_INPUT, "%s %s: expected a point index from 0", arg, value);
        opts->point = n;
        return E2_OK;
    case OPT_TRACE:
        opts->trace = value;
        return E2_OK;
    case OPT_CONFIG_REFERENCE:
        opts->command = E2_CMD_CONFIG_REFERENCE;
        return E2_OK;
    }
    return E2_OK;
}

/* Positional arguments and required options of each command. */
static int check_command(struct e2_options *opts, struct e2_err *err)
{
    switch (opts->command) {
    case E2_CMD_RUN:
    case E2_CMD_CALIBRATE:
        if (opts->resume && !opts->out_dir)
            return e2_fail(err, E2_BAD_INPUT, "--resume needs --out DIR (the folder to continue)");
        if (opts->nargs)
            return e2_fail(err, E2_BAD_INPUT, "unexpected argument '%s'", opts->args[0]);
        if (!opts->config)
            return e2_fail(err, E2_BAD_INPUT, "%s needs --config FILE",
                           opts->command == E2_CMD_RUN ? "a run" : "calibrate");
        return E2_OK;
    case E2_CMD_REPLAY:
        if (opts->resume && !opts->out_dir)
            return e2_fail(err, E2_BAD_INPUT, "--resume needs --out DIR (the folder to continue)");
        if (opts->nargs != 1)
            return e2_fail(err, E2_BAD_INPUT, "replay takes one TRACE file (got %d)",
                           opts->nargs);
        if (!opts->config)
            return e2_fail(err, E2_BAD_INPUT, "replay needs --config HW.yaml");
        return E2_OK;
    case E2_CMD_EXPORT_ERT:
        if (opts->nargs || !opts->config)
            return e2_fail(err, E2_BAD_INPUT, "export-ert takes --config HW.yaml and no arguments");
        return E2_OK;
    case E2_CMD_MERGE:
        if (!opts->nargs)
            return e2_fail(err, E2_BAD_INPUT, "merge needs at least one DIR");
        return E2_OK;
    default:
        return E2_OK;
    }
}

int cli_parse(int argc, char **argv, struct e2_options *opts, struct e2_err *err)
{
    memset(opts, 0, sizeof *opts);
    opts->command = E2_CMD_RUN;
    opts->jobs = 1;
    opts->shard_index = opts->shard_count = 1;
    opts->point = -1;
    opts->rounds = 1;
    int i = 1;
    if (argc > 1 && argv[1][0] != '-') {
        for (int c = E2_CMD_REPLAY; c <= E2_CMD_EXPORT_ERT; c++)
            if (strcmp(argv[1], command_names[c]) == 0)
                opts->command = (enum e2_command)c;
        if (opts->command == E2_CMD_RUN)
            return e2_fail(err, E2_BAD_INPUT,
                           "unknown command '%s' (commands: replay, merge, calibrate, bench, export-ert; "
                           "a run needs --config FILE)",
                           argv[1]);
        i = 2;
    }
    enum e2_command command = opts->command;
    int help = 0, version = 0, reference = 0;
    struct option longopts[ROWS + 1];
    char shortopts[2 * ROWS + 2];
    getopt_tables(longopts, shortopts);
    /* getopt_long sees the command as its argv[0]; it moves the positional arguments to the end
     * (in order), accepts unambiguous abbreviations of long options and values joined to short
     * ones (-j2). optind = 0 starts it afresh. */
    int gargc = argc - (i - 1);
    char **gargv = argv + (i - 1);
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(gargc, gargv, shortopts, longopts, NULL)) != -1) {
        if (c == '?' || c == ':')
            return option_error(c, gargv[optind - 1], err);
        const struct option_row *row = row_of(c);
        char arg[40];   /* the option as messages name it */
        snprintf(arg, sizeof arg, "--%s", row->name);
        if (!(row->commands & (1u << command)))
            return e2_fail(err, E2_BAD_INPUT, "option --%s does not apply to %s", row->name,
                           command == E2_CMD_RUN ? "a run" : command_names[command]);
        help |= row->id == OPT_HELP;
        version |= row->id == OPT_VERSION;
        reference |= row->id == OPT_CONFIG_REFERENCE;
        if (apply_option(row, arg, optarg, opts, err))
            return E2_BAD_INPUT;
        opts->command = command;   /* help/version are decided below */
    }
    for (int a = optind; a < gargc; a++) {
        if (opts->nargs == CLI_MAX_ARGS)
            return e2_fail(err, E2_BAD_INPUT, "too many arguments");
        opts->args[opts->nargs++] = gargv[a];
    }
    if (help || version || reference) {
        opts->command = help ? E2_CMD_HELP : version ? E2_CMD_VERSION : E2_CMD_CONFIG_REFERENCE;
        return E2_OK;
    }
    return check_command(opts, err);
}

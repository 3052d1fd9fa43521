/* Measurement files (the YAML files in configs/measured/): measured energy savings against float32 SGD,
 * each with the run setting that produced it, for `e2sim calibrate` (sim/calibrate/calibrate.h).
 *
 *   source: "where the numbers come from"          # optional, the file's reference
 *   measurements:
 *     - name: psg                                   # required, unique in the file
 *       source: "Table 2, PSG ..."                  # required
 *       set: ["training.method=[psg]"]              # optional: config overrides, KEY=VALUE as
 *                                                   #   for --set, applied to the calibration
 *                                                   #   config (the base run) in this order
 *       saving: 0.6328                              # required: a fraction in [0, 1)
 *
 * Loading is strict like the config loader: malformed YAML, an unknown or duplicate key, a
 * missing required key, a saving that is not a number in [0, 1), a `set` entry that is not
 * KEY=VALUE of a known config key, or a missing file are E2_BAD_INPUT errors whose message
 * starts with "FILE:LINE:COL: " (1-based; a missing file: "FILE: "). */
#ifndef E2_MEASURED_H
#define E2_MEASURED_H

#include "config.h"
#include "status.h"

#define MEASURED_NAME 64
#define MEASURED_SOURCE 256
#define MEASURED_MAX_SETS 32
#define MEASURED_MAX 256        /* measurements per file */

/* A place in a file (1-based line and column). */
struct measured_place {
    int line, col;
};

struct measurement {
    char name[MEASURED_NAME];
    char source[MEASURED_SOURCE];
    double saving;
    int nset;
    char set[MEASURED_MAX_SETS][CFG_TEXT];         /* "KEY=VALUE" */
    struct measured_place set_at[MEASURED_MAX_SETS];
    struct measured_place at;                      /* the item */
    char file[CFG_STR];                            /* the file it came from */
};

struct measured_file {
    char path[CFG_STR];
    char source[MEASURED_SOURCE];
    int n;
    struct measurement *m;      /* [n] */
};

/* Load and check one measurement file. On failure *out is empty (measured_free-safe). */
int measured_load(const char *path, struct measured_file *out, struct e2_err *err);
void measured_free(struct measured_file *f);

/* *out = base with m's overrides applied (cfg_set, in order). A value the config rejects is
 * E2_BAD_INPUT "FILE:LINE:COL: measurement 'NAME': --set ...: why". */
int measured_apply(const struct measurement *m, const struct e2_config *base,
                   struct e2_config *out, struct e2_err *err);

/* Where the value of a dotted key (e.g. "calibration.start") lies in a YAML file (the file
 * itself, not its includes); with index >= 0, where that element of the key's list lies.
 * Returns 0 and fills *at, or -1 if the file or key is not found. For error messages about
 * values that only a later check can judge. */
int measured_find_place(const char *path, const char *key, int index, struct measured_place *at);

#endif

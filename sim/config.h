/* The resolved e2sim configuration and its loader.
 * Every key, its type, default, range and one-line doc lives in ONE table (config_fields.c for
 * the run, config_hw.c for the hardware and energy table); the loader, --set, --print-config and
 * docs/config.md are all driven by those tables. */
#ifndef E2_CONFIG_H
#define E2_CONFIG_H

#include <stddef.h>
#include "hw_params.h"

#define CFG_STR 256
#define CFG_LIST_MAX 64

struct cfg_int_list { int n; int v[CFG_LIST_MAX]; };
struct cfg_double_list { int n; double v[CFG_LIST_MAX]; };
struct cfg_string_list { int n; char v[CFG_LIST_MAX][CFG_STR]; };

struct cfg_precision {
    int activations, weights, grad_output, grad_weight, accumulator; /* bits; 32 = float */
    char rounding[CFG_STR];                    /* nearest | stochastic */
};

struct cfg_smd { int enabled; double p; int momentum_on_skip; };
struct cfg_slu {
    int enabled; double alpha; double target_skip; char decision[CFG_STR]; /* bernoulli | threshold */
};
struct cfg_sd { int enabled; double skip_ratio; };
struct cfg_psg {
    int enabled; int msb_x, msb_g; double beta; char tau_mode[CFG_STR]; /* gw | gy | fixed */
    double tau;
};
struct cfg_swa { int enabled; double start; int every; double lr; };

/* Statistics the energy-only mode generates op streams from (no training). */
struct cfg_energy_only {
    struct cfg_double_list slu_skip;   /* one ratio for all gated blocks, or one per block */
    double psg_predictor_ratio;        /* fraction of weights updated from the predictor */
};

struct cfg_training {
    char mode[CFG_STR];                 /* train | energy-only */
    struct cfg_string_list method;      /* e.g. [smd, slu, psg, swa]; exactly one base */
    char base[CFG_STR];                 /* resolved: fp32 | fixed8 | fixed | signsgd | psg */
    int iterations, batch_size;
    double lr, lr_decay, momentum, weight_decay;
    struct cfg_int_list lr_steps;       /* iterations at which lr *= lr_decay */
    int eval_every, checkpoint_every;
    struct cfg_precision precision;
    struct cfg_smd smd;
    struct cfg_slu slu;
    struct cfg_sd sd;
    struct cfg_psg psg;
    struct cfg_swa swa;
    struct cfg_energy_only energy_only;
};

struct cfg_network {
    char arch[CFG_STR];                 /* resnet | mobilenetv2 */
    int depth;                          /* ResNet 6n+2 */
    int width;                          /* channels of the first stage */
};

struct cfg_dataset {
    char name[CFG_STR];                 /* fashion-mnist | mnist | cifar10 | cifar100 | synthetic */
    char path[CFG_STR];
    int train_subset, test_subset;      /* 0 = all */
    int augment, normalize;
    int synthetic_train, synthetic_test, synthetic_classes, synthetic_size, synthetic_channels;
};

struct cfg_report {
    int top_layers;
    char progress[CFG_STR];             /* auto | plain | off */
    char trace[CFG_STR];                /* op trace file to record ("" = none) */
    int timeline;                       /* write timeline.json (Chrome trace events) */
};

struct cfg_sweep {
    char mode[CFG_STR];                 /* grid | zip */
    struct cfg_string_list keys;        /* dotted config keys */
    struct cfg_string_list values;      /* per key: a YAML flow list, e.g. "[0.05, 0.1]" */
};

struct e2_config {
    char name[CFG_STR];
    char source[CFG_STR];               /* file it was loaded from (not a key) */
    int seed;
    struct cfg_network network;
    struct cfg_dataset dataset;
    struct cfg_training training;
    struct cfg_report report;
    struct cfg_sweep sweep;
    int has_sweep;                      /* the file had a sweep: section (not a key) */
    struct hw_params hw;                /* hardware: and energy: sections */
};

enum cfg_type {
    CFG_INT, CFG_DOUBLE, CFG_BOOL, CFG_STRING, CFG_ENUM,
    CFG_INT_LIST, CFG_DOUBLE_LIST, CFG_STRING_LIST
};

/* One row of a schema table. */
struct cfg_field {
    const char *key;      /* dotted path: "training.psg.beta" */
    enum cfg_type type;
    size_t offset;        /* offsetof(struct e2_config, ...) */
    const char *def;      /* default, as YAML text */
    double min, max;      /* inclusive range for numbers and list elements */
    const char *choices;  /* "a|b|c" for CFG_ENUM and CFG_STRING_LIST elements; NULL = any */
    const char *doc;      /* one line, printed as a comment by --print-config */
};

extern const struct cfg_field cfg_run_fields[];   /* config_fields.c; ends with key == NULL */
extern const struct cfg_field cfg_hw_fields[];    /* config_hw.c; ends with key == NULL */

#endif

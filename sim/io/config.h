/* The resolved e2sim configuration and its loader.
 * Every key, its type, default, range and one-line doc lives in ONE table (config_fields.c for
 * the run, config_hw.c for the hardware and energy table); the loader, --set, --print-config and
 * docs/config.md are all driven by those tables.
 *
 * Loading is strict: an unknown key (with a "did you mean" suggestion), a wrong type, a value out
 * of range or not among its choices, a duplicate key, a missing required key, malformed YAML or a
 * bad include is an E2_BAD_INPUT error whose message starts with "FILE:LINE:COL: " (1-based), or
 * with "--set KEY=VALUE: " when the fault is in a command-line override.
 *
 * A config file is one YAML mapping. Its optional top-level `include: [a.yaml, b.yaml]` (paths
 * relative to the including file) loads those files first, in order; the including file's own keys
 * then override theirs. A key twice in ONE file is an error. Derived fields (training.base and the
 * `enabled` flags of smd/slu/sd/psg/swa) are not keys: they are resolved from training.method.
 * Paths in values (dataset.path, report.trace...) are relative to the working directory. */
#ifndef E2_CONFIG_H
#define E2_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "hw_params.h"
#include "status.h"

#define CFG_STR 256
#define CFG_TEXT 1024       /* a sweep's value list as YAML flow text */
#define CFG_LIST_MAX 64

/* The choices of each enum key, once: the C enum, its names (cfg_..._names[value]) and the
 * schema row's "a|b|c" text are all made from these lists, so the loader decodes the text once
 * and no code compares config strings. X(ENUM_VALUE, "name"), in the order of the choices. */
#define CFG_MODES(X) X(CFG_MODE_TRAIN, "train") X(CFG_MODE_ENERGY_ONLY, "energy-only")
#define CFG_BASES(X)                                                                               \
    X(CFG_BASE_FP32, "fp32") X(CFG_BASE_FIXED8, "fixed8") X(CFG_BASE_FIXED, "fixed")              \
    X(CFG_BASE_SIGNSGD, "signsgd") X(CFG_BASE_PSG, "psg")
#define CFG_ADDONS(X)                                                                              \
    X(CFG_ADDON_SMD, "smd") X(CFG_ADDON_SLU, "slu") X(CFG_ADDON_SD, "sd") X(CFG_ADDON_SWA, "swa")
#define CFG_ROUNDINGS(X) X(CFG_ROUND_NEAREST, "nearest") X(CFG_ROUND_STOCHASTIC, "stochastic")
#define CFG_DECISIONS(X)                                                                           \
    X(CFG_SLU_BERNOULLI, "bernoulli") X(CFG_SLU_THRESHOLD, "threshold") X(CFG_SLU_MIXED, "mixed")
#define CFG_TARGET_SCOPES(X) X(CFG_SLU_SCOPE_NETWORK, "network") X(CFG_SLU_SCOPE_BLOCK, "block")
#define CFG_TAU_MODES(X) X(CFG_TAU_GW, "gw") X(CFG_TAU_GY, "gy") X(CFG_TAU_FIXED, "fixed")
#define CFG_ARCHS(X) X(CFG_ARCH_RESNET, "resnet") X(CFG_ARCH_MOBILENETV2, "mobilenetv2")
#define CFG_DATASETS(X)                                                                            \
    X(CFG_DATASET_FASHION_MNIST, "fashion-mnist") X(CFG_DATASET_MNIST, "mnist")                   \
    X(CFG_DATASET_CIFAR10, "cifar10") X(CFG_DATASET_CIFAR100, "cifar100")                         \
    X(CFG_DATASET_SYNTHETIC, "synthetic")
#define CFG_PROGRESSES(X)                                                                          \
    X(CFG_PROGRESS_AUTO, "auto") X(CFG_PROGRESS_PLAIN, "plain") X(CFG_PROGRESS_OFF, "off")
#define CFG_SWEEP_MODES(X) X(CFG_SWEEP_GRID, "grid") X(CFG_SWEEP_ZIP, "zip")

#define CFG_ENUM_VALUE(value, name) value,
enum cfg_mode { CFG_MODES(CFG_ENUM_VALUE) };
enum cfg_base { CFG_BASES(CFG_ENUM_VALUE) };
enum cfg_addon { CFG_ADDONS(CFG_ENUM_VALUE) };
enum cfg_rounding { CFG_ROUNDINGS(CFG_ENUM_VALUE) };
enum cfg_slu_decision { CFG_DECISIONS(CFG_ENUM_VALUE) };
enum cfg_slu_target_scope { CFG_TARGET_SCOPES(CFG_ENUM_VALUE) };
enum cfg_tau_mode { CFG_TAU_MODES(CFG_ENUM_VALUE) };
enum cfg_arch { CFG_ARCHS(CFG_ENUM_VALUE) };
enum cfg_dataset_name { CFG_DATASETS(CFG_ENUM_VALUE) };
enum cfg_progress { CFG_PROGRESSES(CFG_ENUM_VALUE) };
enum cfg_sweep_mode { CFG_SWEEP_MODES(CFG_ENUM_VALUE) };
#undef CFG_ENUM_VALUE

/* Names by value (config_fields.c), e.g. cfg_dataset_names[cfg->dataset.name]. */
extern const char *const cfg_mode_names[], *const cfg_base_names[], *const cfg_addon_names[],
    *const cfg_rounding_names[], *const cfg_decision_names[], *const cfg_target_scope_names[],
    *const cfg_tau_mode_names[],
    *const cfg_arch_names[], *const cfg_dataset_names[], *const cfg_progress_names[],
    *const cfg_sweep_mode_names[];

struct cfg_int_list { int n; int v[CFG_LIST_MAX]; };
struct cfg_double_list { int n; double v[CFG_LIST_MAX]; };
struct cfg_string_list { int n; char v[CFG_LIST_MAX][CFG_STR]; };
struct cfg_text_list { int n; char v[CFG_LIST_MAX][CFG_TEXT]; };

struct cfg_precision {
    int activations, weights, grad_output, grad_weight, accumulator; /* bits; 32 = float */
    enum cfg_rounding rounding;
};

struct cfg_smd { int enabled; double p; int momentum_on_skip; };
struct cfg_slu {
    int enabled; double alpha; double target_skip; enum cfg_slu_decision decision;
    enum cfg_slu_target_scope target_scope;
};
struct cfg_sd { int enabled; double skip_ratio; };
struct cfg_psg {
    int enabled; int msb_x, msb_g; double beta; enum cfg_tau_mode tau_mode;
    double tau;
};
struct cfg_swa { int enabled; double start; int every; double lr; };

/* Statistics the energy-only mode generates op streams from (no training). */
struct cfg_energy_only {
    struct cfg_double_list slu_skip;   /* one ratio for all gated blocks, or one per block */
    double psg_predictor_ratio;        /* fraction of weights updated from the predictor */
};

struct cfg_training {
    enum cfg_mode mode;
    struct cfg_string_list method;      /* e.g. [smd, slu, psg, swa]; exactly one base */
    enum cfg_base base;                 /* resolved from method */
    int iterations, batch_size;
    double epochs;                      /* > 0: run length in epochs instead of iterations */
    double lr, lr_decay, momentum, weight_decay;
    double sign_lr;                     /* lr of sign-updated conv weights (0 = lr); scheduled as lr */
    struct cfg_int_list lr_steps;       /* iterations at which lr *= lr_decay */
    struct cfg_double_list lr_step_fractions; /* same, as fractions of the run (if no lr_steps) */
    int eval_every, checkpoint_every;
    char finetune_from[CFG_STR];        /* checkpoint to start from ("" = train from scratch) */
    int finetune_last_fc_only;          /* with finetune_from: update only the final FC layer */
    struct cfg_precision precision;
    struct cfg_smd smd;
    struct cfg_slu slu;
    struct cfg_sd sd;
    struct cfg_psg psg;
    struct cfg_swa swa;
    struct cfg_energy_only energy_only;
};

struct cfg_network {
    enum cfg_arch arch;
    int depth;                          /* ResNet 6n+2 */
    int width;                          /* channels of the first stage */
    int skip_stage_entry;               /* SLU / SD may skip ResNet's stride-2 blocks */
};

struct cfg_dataset {
    enum cfg_dataset_name name;
    char path[CFG_STR];
    int train_subset, test_subset;      /* 0 = all */
    int augment, normalize;
    int synthetic_train, synthetic_test, synthetic_classes, synthetic_size, synthetic_channels;
};

struct cfg_report {
    int top_layers;
    enum cfg_progress progress;
    char trace[CFG_STR];                /* op trace file to record ("" = none) */
    int timeline;                       /* write timeline.json.gz and timeline.vcd */
};

struct cfg_sweep {
    enum cfg_sweep_mode mode;
    struct cfg_string_list keys;        /* dotted config keys, in the file's order */
    struct cfg_text_list values;        /* per key: a canonical YAML flow list, e.g. "[0.05, 0.1]" */
};

/* `e2sim calibrate`: which measurements to fit, which energy coefficients are free. */
struct cfg_calibration {
    struct cfg_string_list measurements; /* measurement files fitted (relative to the config) */
    struct cfg_string_list holdout;      /* measurement files only checked, never fitted */
    struct cfg_string_list free;         /* hardware:/energy: keys the fit may change (<= 3) */
    struct cfg_double_list lower, upper; /* bounds, one per free key */
    char output[CFG_STR];                /* calibrated hardware YAML, written in the output folder */
};

/* Which keys a config may hold. */
enum cfg_scope {
    CFG_SCOPE_RUN,   /* a run, sweep or calibration config: every key; name and
                        training.method are required */
    CFG_SCOPE_HW,    /* a hardware config (e2sim replay): only name, hardware:, energy:, report:
                        and a sweep over hardware:/energy: keys; nothing is required */
};

struct e2_config {
    char name[CFG_STR];
    char source[CFG_STR];               /* file it was loaded from (not a key) */
    enum cfg_scope scope;               /* which keys it may hold (not a key) */
    int seed;
    struct cfg_network network;
    struct cfg_dataset dataset;
    struct cfg_training training;
    struct cfg_report report;
    struct cfg_sweep sweep;
    int has_sweep;                      /* the file had a sweep: section (not a key) */
    struct cfg_calibration calibration;
    struct hw_params hw;                /* hardware: and energy: sections */
};

enum cfg_type {
    CFG_INT, CFG_DOUBLE, CFG_BOOL, CFG_STRING,
    CFG_CHOICE,   /* one of the choices, decoded: an enum above (the choice's index) */
    CFG_INT_LIST, CFG_DOUBLE_LIST, CFG_STRING_LIST
};

/* One row of a schema table. */
struct cfg_field {
    const char *key;      /* dotted path: "training.psg.beta" */
    enum cfg_type type;
    size_t offset;        /* offsetof(struct e2_config, ...) */
    const char *def;      /* default, as YAML text */
    double min, max;      /* inclusive range for numbers and list elements */
    const char *choices;  /* "a|b|c" for CFG_CHOICE and CFG_STRING_LIST elements (and
                             restricted CFG_INTs); NULL = any */
    const char *doc;      /* one line, printed as a comment by --print-config */
};

extern const struct cfg_field cfg_run_fields[];   /* config_fields.c; ends with key == NULL */
extern const struct cfg_field cfg_hw_fields[];    /* config_hw.c; ends with key == NULL */

/* ---- Loading ---------------------------------------------------------------------------- */

/* Fill cfg with every table default and resolve the derived fields (the E2-Train default run). */
void cfg_defaults(struct e2_config *cfg);

/* Load `path` (with its includes) over the defaults, then apply `sets` ("KEY=VALUE", VALUE parsed
 * as YAML so lists work: "training.method=[fp32]"), check required keys, resolve derived fields,
 * check cross-field rules and validate every sweep point. CFG_SCOPE_RUN. On error cfg is
 * unspecified and err says what and where. Returns E2_OK, E2_BAD_INPUT or E2_FAILURE (I/O). */
int cfg_load(const char *path, const char *const *sets, int nsets, struct e2_config *cfg,
             struct e2_err *err);
int cfg_load_scoped(const char *path, const char *const *sets, int nsets, enum cfg_scope scope,
                    struct e2_config *cfg, struct e2_err *err);

/* Bounds on YAML input (configs, --set values, measurement files), checked before or while
 * parsing so that no input can make the parser slow: file size, nesting of mappings and lists,
 * values with aliases expanded, anchors. */
#define CFG_YAML_MAX_BYTES (1 << 20)
#define CFG_YAML_MAX_NEST 64
#define CFG_YAML_MAX_NODES 1000000
#define CFG_YAML_MAX_ANCHORS 1024

/* Read the single YAML document of a regular file of at most CFG_YAML_MAX_BYTES into doc
 * (a yaml_document_t; delete it with yaml_document_delete, also when it has no root). A node
 * reached through an alias is a copy placed at the alias. Errors name path:line:col:
 * malformed YAML, a second document, nesting deeper than CFG_YAML_MAX_NEST, a file too big or
 * not regular. E2_OK, E2_BAD_INPUT or E2_FAILURE. */
struct yaml_document_s;
int cfg_yaml_read(const char *path, struct yaml_document_s *doc, struct e2_err *err);

/* Apply one "KEY=VALUE" to a loaded config, validated against its row, then re-resolve and
 * re-check the cross-field rules. Errors read "--set KEY=VALUE: ...". */
int cfg_set(struct e2_config *cfg, const char *assignment, struct e2_err *err);

/* Resolve training.base and the enabled flags from training.method and check every cross-field
 * rule (call after changing fields by hand). Errors start with "config: ". */
int cfg_resolve(struct e2_config *cfg, struct e2_err *err);

/* ---- Schema and values ------------------------------------------------------------------ */

/* The row for a dotted key in either table, or NULL. */
const struct cfg_field *cfg_find_field(const char *key);

/* Whether a config file must name this key (in CFG_SCOPE_RUN). */
int cfg_key_required(const char *key);

/* The field's current value as canonical YAML text ("0.05", "[smd, slu]", "\"a b\"").
 * Returns the text length, or -1 if it did not fit in `size` (buf then holds a truncated text). */
int cfg_format_value(const struct e2_config *cfg, const struct cfg_field *field, char *buf,
                     size_t size);

/* ---- Output ----------------------------------------------------------------------------- */

/* The fully resolved config as YAML, every key with its doc as a comment, no include:.
 * Loading it and printing again gives byte-identical text. */
void cfg_print(FILE *out, const struct e2_config *cfg);

/* DIR/config.yaml: the resolved config beside a run's or sweep's results (atomically), so a
 * folder says what it ran. */
int cfg_write_resolved(const char *dir, const struct e2_config *cfg, struct e2_err *err);

/* cfg_print into a malloc'd string (free it); NULL when out of memory. */
char *cfg_print_text(const struct e2_config *cfg);

/* The same values as one nested JSON object (for report.json); no trailing newline. */
void cfg_print_json(FILE *out, const struct e2_config *cfg);

/* The run's names in reports and trace headers: the network ("resnet-20", "mobilenetv2-w32")
 * and the method as written ("smd+slu+psg+swa"). */
void cfg_network_text(const struct e2_config *cfg, char *buf, size_t size);
void cfg_method_text(const struct e2_config *cfg, char *buf, size_t size);

/* FNV-1a 64 of the printed config without its comments (stable across doc edits). */
uint64_t cfg_hash(const struct e2_config *cfg);

/* docs/config.md: a Markdown reference of every key (type, default, range, doc). */
void cfg_write_reference(FILE *out);

/* ---- Sweeps ----------------------------------------------------------------------------- */

/* Number of points of cfg's sweep (grid: product of list lengths; zip: the common length);
 * 1 when there is no sweep. */
long cfg_sweep_points(const struct e2_config *cfg);

/* Point `index` (0-based; grid order: the first key varies slowest) as a full config without a
 * sweep: cfg with the point's values applied, resolved and checked. */
int cfg_sweep_point(const struct e2_config *cfg, long index, struct e2_config *point,
                    struct e2_err *err);

/* "training.psg.beta=0.05 training.psg.msb_x=4": the point's assignments, each valid --set text.
 * Returns the length, or -1 if it did not fit. */
int cfg_sweep_label(const struct e2_config *cfg, long index, char *buf, size_t size);

#endif

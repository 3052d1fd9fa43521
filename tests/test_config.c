/* Tests of the config engine (sim/io/config*.c; config_internal.h lists the parts): every class of malformed config gives E2_BAD_INPUT
 * with "FILE:LINE:COL:" and the key; defaults, includes, --set, sweeps and the print round
 * trip behave as documented. Each case writes its YAML into a fresh temporary folder. */
#define _DEFAULT_SOURCE
#include "cunit_main.h"
#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

static int load(const char *name, const char *const *sets, int nsets, struct e2_config *cfg,
                struct e2_err *err)
{
    char path[512];
    path_of(path, sizeof path, name);
    err->msg[0] = 0;
    return cfg_load(path, sets, nsets, cfg, err);
}

static int contains(const char *haystack, const char *needle)
{
    return strstr(haystack, needle) != NULL;
}

/* A config must be loaded into heap memory: struct e2_config is large. */
static struct e2_config *new_config(void)
{
    struct e2_config *cfg = calloc(1, sizeof *cfg);
    CU_ASSERT_FATAL(cfg != NULL);
    return cfg;
}

/* ---- malformed configs ------------------------------------------------------------------- */

struct bad_case {
    const char *file;    /* written into tmpdir, then loaded */
    const char *yaml;
    const char *at;      /* "FILE:LINE:COL" expected at the start of the message's place */
    const char *key;     /* must appear in the message */
    const char *also;    /* another expected part of the message, or NULL */
};

#define HEAD "name: t\ntraining:\n  method: [psg]\n"

static const struct bad_case bad_cases[] = {
    {"unknown_nested.yaml", HEAD "  psg:\n    betta: 0.1\n", "unknown_nested.yaml:5:5", "betta",
     "did you mean 'beta'?"},
    {"unknown_top.yaml", "name: t\ntrainig:\n  method: [psg]\n", "unknown_top.yaml:2:1",
     "trainig", "did you mean 'training'?"},
    {"misplaced.yaml", HEAD "  beta: 0.1\n", "misplaced.yaml:4:3", "beta",
     "did you mean 'training.psg.beta'?"},
    {"bad_double.yaml", HEAD "  lr: abc\n", "bad_double.yaml:4:7", "training.lr", "a number"},
    {"bad_int.yaml", HEAD "  iterations: 1.5\n", "bad_int.yaml:4:15", "training.iterations",
     "an integer"},
    {"bad_bool.yaml", "name: t\ndataset:\n  augment: yes\ntraining:\n  method: [psg]\n",
     "bad_bool.yaml:3:12", "dataset.augment", "true or false"},
    {"range_double.yaml", HEAD "  lr: 200\n", "range_double.yaml:4:7", "training.lr",
     "out of range [0, 100]"},
    {"range_int.yaml", HEAD "  batch_size: 0\n", "range_int.yaml:4:15", "training.batch_size",
     "out of range"},
    {"range_seed.yaml", "name: t\nseed: -1\ntraining:\n  method: [psg]\n", "range_seed.yaml:2:7",
     "seed", "out of range"},
    {"int_overflow.yaml", HEAD "  iterations: 99999999999\n", "int_overflow.yaml:4:15",
     "training.iterations", NULL},
    {"enum.yaml", "name: t\nnetwork:\n  arch: resnt\ntraining:\n  method: [psg]\n",
     "enum.yaml:3:9", "network.arch", "did you mean 'resnet'?"},
    {"enum_nested.yaml", HEAD "  precision:\n    rounding: round\n", "enum_nested.yaml:5:15",
     "training.precision.rounding", "nearest, stochastic"},
    {"list_choice.yaml", "name: t\ntraining:\n  method: [psg, foo]\n", "list_choice.yaml:3:17",
     "training.method[2]", "'foo'"},
    {"list_type.yaml", HEAD "  lr_steps: [100, x]\n", "list_type.yaml:4:19",
     "training.lr_steps[2]", "an integer"},
    {"list_range.yaml", HEAD "  energy_only:\n    slu_skip: [0.2, 1.5]\n", "list_range.yaml:5:21",
     "training.energy_only.slu_skip[2]", "out of range"},
    {"list_nested.yaml", "name: t\ntraining:\n  method: [psg, [smd]]\n", "list_nested.yaml:3:17",
     "training.method[2]", "a list"},
    {"dup_top.yaml", "name: t\nname: u\ntraining:\n  method: [psg]\n", "dup_top.yaml:2:1", "name",
     "duplicate key"},
    {"dup_nested.yaml", HEAD "  psg:\n    beta: 0.1\n    beta: 0.2\n", "dup_nested.yaml:6:5",
     "'beta' in training.psg", "first at line 5"},
    {"missing_name.yaml", "training:\n  method: [psg]\n", "missing_name.yaml:1:1", "'name'",
     "missing required key"},
    {"missing_method.yaml", "name: t\n", "missing_method.yaml:1:1", "training.method",
     "missing required key"},
    {"empty.yaml", "", "empty.yaml:1:1", "'name'", "missing required key"},
    {"malformed_flow.yaml", "name: t\ntraining:\n  method: [psg\n", "malformed_flow.yaml:4:1",
     "malformed YAML", "flow sequence"},
    {"malformed_tab.yaml", HEAD "  \tlr: 1\n", "malformed_tab.yaml:4:3", "malformed YAML", NULL},
    {"malformed_colon.yaml", "name: a: b\ntraining:\n  method: [psg]\n",
     "malformed_colon.yaml:1:8", "malformed YAML", "mapping values"},
    {"bad_utf8.yaml", HEAD "  lr: \xff\n", "bad_utf8.yaml:4:7", "malformed YAML", "UTF-8"},
    {"two_docs.yaml", HEAD "---\nname: u\n", "two_docs.yaml:4:1", "one YAML document", NULL},
    {"map_for_scalar.yaml", HEAD "  lr: {a: 1}\n", "map_for_scalar.yaml:4:7", "training.lr",
     "got a mapping"},
    {"list_for_scalar.yaml", HEAD "  lr: [1, 2]\n", "list_for_scalar.yaml:4:7", "training.lr",
     "got a list"},
    {"scalar_for_section.yaml", "name: t\ntraining: 3\n", "scalar_for_section.yaml:2:11",
     "'training' is a section", NULL},
    {"list_for_section.yaml", "name: t\nnetwork: [a]\ntraining:\n  method: [psg]\n",
     "list_for_section.yaml:2:10", "'network' is a section", "got a list"},
    {"map_for_list.yaml", HEAD "  lr_steps: {a: 1}\n", "map_for_list.yaml:4:13",
     "training.lr_steps", "got a mapping"},
    {"not_mapping.yaml", "- a\n- b\n", "not_mapping.yaml:1:1", "mapping of keys", "got a list"},
    {"key_not_scalar.yaml", "name: t\n[a, b]: 1\ntraining:\n  method: [psg]\n",
     "key_not_scalar.yaml:2:1", "plain name", NULL},
    {"long_text.yaml",
     "name: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
     "training:\n  method: [psg]\n",
     "long_text.yaml:1:7", "name", "longer than 255"},
    {"include_missing.yaml", "include: [nope.yaml]\n" HEAD, "include_missing.yaml:1:11",
     "nope.yaml", "cannot include"},
    {"cycle_a.yaml", "include: [cycle_b.yaml]\n" HEAD, "cycle_b.yaml:1:10", "cycle_a.yaml",
     "include cycle"},
    {"include_type.yaml", "include: {a: 1}\n" HEAD, "include_type.yaml:1:10", "include",
     "file name"},
    {"include_child.yaml", "include: [child_bad.yaml]\n" HEAD, "child_bad.yaml:2:7",
     "training.lr", "'fast'"},
    {"two_bases.yaml", "name: t\ntraining:\n  method: [psg, fp32]\n", "two_bases.yaml:3:11",
     "training.method", "two bases"},
    {"slu_sd.yaml", "name: t\ntraining:\n  method: [psg, slu, sd]\n", "slu_sd.yaml:3:11",
     "training.method", "both slu and sd"},
    {"no_base.yaml", "name: t\ntraining:\n  method: [smd, swa]\n", "no_base.yaml:3:11",
     "training.method", "one base"},
    {"dup_method.yaml", "name: t\ntraining:\n  method: [psg, psg]\n", "dup_method.yaml:3:11",
     "training.method", "twice"},
    {"lr_steps_end.yaml", HEAD "  iterations: 100\n  lr_steps: [50, 200]\n",
     "lr_steps_end.yaml:5:13", "training.lr_steps", "training.iterations = 100"},
    {"lr_steps_order.yaml", HEAD "  lr_steps: [50, 20]\n", "lr_steps_order.yaml:4:13",
     "training.lr_steps", "increase"},
    {"depth.yaml", "name: t\nnetwork:\n  depth: 10\ntraining:\n  method: [psg]\n",
     "depth.yaml:3:10", "network.depth", "6n+2"},
    {"entry.yaml", "name: t\nnetwork:\n  skip_stage_entry: false\ntraining:\n  method: [psg, slu]\n",
     "entry.yaml:3:21", "network.skip_stage_entry", "depth 14 or more"},
    {"msb.yaml", HEAD "  psg:\n    msb_x: 6\n  precision:\n    activations: 4\n", "msb.yaml:5:12",
     "training.psg.msb_x", "training.precision.activations = 4"},
    {"bits.yaml", HEAD "  precision:\n    weights: 20\n", "bits.yaml:5:14",
     "training.precision.weights", "2 to 16 bits"},
    {"smd_p.yaml", HEAD "  smd:\n    p: 1\n", "smd_p.yaml:5:8", "training.smd.p", "below 1"},
    {"finetune.yaml", HEAD "  finetune_last_fc_only: true\n", "finetune.yaml:4:26",
     "training.finetune_last_fc_only", "finetune_from"},
    {"calib_free.yaml", HEAD "calibration:\n  free: [training.lr]\n  lower: [0]\n  upper: [1]\n",
     "calib_free.yaml:5:9", "calibration.free", "'training.lr'"},
    {"sweep_unknown.yaml", HEAD "sweep:\n  vary:\n    training.psg.bet: [0.1]\n",
     "sweep_unknown.yaml:6:5", "training.psg.bet", "did you mean 'training.psg.beta'?"},
    {"sweep_value.yaml", HEAD "sweep:\n  vary:\n    training.psg.beta: [0.1, abc]\n",
     "sweep_value.yaml:6:30", "training.psg.beta", "'abc'"},
    {"sweep_zip.yaml",
     HEAD "sweep:\n  mode: zip\n  vary:\n    training.psg.beta: [0.1, 0.2]\n"
          "    training.psg.msb_x: [1, 2, 3]\n",
     "sweep_zip.yaml:7:5", "training.psg.msb_x", "one length"},
    {"sweep_point.yaml", HEAD "sweep:\n  vary:\n    training.method: [[psg], [slu, sd, psg]]\n",
     "sweep_point.yaml:6:5", "training.method", "sweep point 1"},
    {"sweep_no_vary.yaml", HEAD "sweep:\n  mode: grid\n", "sweep_no_vary.yaml:5:3", "vary", NULL},
    {"sweep_mode.yaml", HEAD "sweep:\n  mod: zip\n  vary:\n    seed: [1, 2]\n",
     "sweep_mode.yaml:5:3", "'mod'", "did you mean 'mode'?"},
    {"sweep_empty.yaml", HEAD "sweep:\n  vary:\n    training.psg.beta: []\n",
     "sweep_empty.yaml:6:24", "training.psg.beta", "non-empty list"},
    {"sweep_scalar.yaml", HEAD "sweep: 3\n", "sweep_scalar.yaml:4:8", "sweep", "mapping"},
    /* issue 12: one key set twice in a file, through a section and a dotted key */
    {"dup_dotted.yaml", HEAD "  lr: 0.1\ntraining.lr: 0.2\n", "dup_dotted.yaml:5:1",
     "duplicate key 'training.lr'", "first set at line 4"},
    /* issue 12: a duplicate through an alias is reported at the alias, not the anchor */
    {"dup_alias.yaml", HEAD "  psg:\n    &b beta: 0.1\n    *b: 0.2\n", "dup_alias.yaml:6:5",
     "duplicate key 'beta' in training.psg", "first at line 5"},
    {"alias_undefined.yaml", HEAD "  lr: *x\n", "alias_undefined.yaml:4:7", "alias *x",
     "no anchor"},
    /* issue 12: no "unknown key 'training' (did you mean 'training'?)" */
    {"sweep_section.yaml", HEAD "sweep:\n  vary:\n    training: [1, 2]\n",
     "sweep_section.yaml:6:5", "'training' is a section", NULL},
    /* issue 12: the ranges docs/config.md shows are the ranges enforced */
    {"port_bits.yaml", HEAD "hardware:\n  axi:\n    port_bits: 48\n", "port_bits.yaml:6:16",
     "hardware.axi.port_bits = 48", "is not one of 32, 64"},
    {"synthetic_classes.yaml", HEAD "dataset:\n  synthetic_classes: 300\n",
     "synthetic_classes.yaml:5:22", "dataset.synthetic_classes", "[2, 256]"},
    /* issue 12: hardware consistency is checked at load time, with the place */
    {"bus_bits.yaml", HEAD "hardware:\n  ddr:\n    bus_bits: 16\n", "bus_bits.yaml:6:15",
     "hardware.ddr.bus_bits = 16", "devices x device_bits = 2 x 16"},
    {"trefi.yaml", HEAD "hardware:\n  ddr:\n    trefi_ns: 150\n", "trefi.yaml:6:15",
     "hardware.ddr.trefi_ns = 150", "trfc_ns = 160"},
    /* an empty name would make out/-<timestamp> and reports that name no run */
    {"empty_name.yaml", "name: \"\"\ntraining:\n  method: [psg]\n", "empty_name.yaml:1:7",
     "name", "must not be empty"},
    {"null_name.yaml", "name: ~\ntraining:\n  method: [psg]\n", "null_name.yaml:1:7", "name",
     "must not be empty"},
    /* an explicit tag is a claim about the text: a false one is refused, not ignored */
    {"tag_int.yaml", "name: !!int abc\ntraining:\n  method: [psg]\n", "tag_int.yaml:1:7",
     "!!int", "'abc' is not an integer"},
    {"tag_int_epochs.yaml", HEAD "  epochs: !!int 1.5\n", "tag_int_epochs.yaml:4:11", "!!int",
     "'1.5' is not an integer"},
    {"tag_float.yaml", HEAD "  lr: !!float fast\n", "tag_float.yaml:4:7", "!!float",
     "not a number"},
    {"tag_bool.yaml", "name: t\ndataset:\n  augment: !!bool 1\ntraining:\n  method: [psg]\n",
     "tag_bool.yaml:3:12", "!!bool", "not true or false"},
    {"tag_item.yaml", HEAD "  lr_steps: [10, !!int x]\n", "tag_item.yaml:4:18", "!!int",
     "'x' is not an integer"},
    {"tag_unknown.yaml", HEAD "  lr: !celsius 1\n", "tag_unknown.yaml:4:7", "'!celsius'",
     "unsupported YAML tag"},
    {"tag_list.yaml", "name: t\ntraining:\n  method: !!str [psg]\n", "tag_list.yaml:3:11",
     "'!!str'", "unsupported YAML tag"},
    {"tag_sweep.yaml", HEAD "sweep:\n  vary:\n    training.iterations: [!!int ten]\n",
     "tag_sweep.yaml:6:27", "!!int", "'ten' is not an integer"},
    /* every point records its own trace: points/NNNN.e2t (docs/outputs.md, "Sweeps") */
    {"sweep_trace.yaml", HEAD "sweep:\n  vary:\n    report.trace: [a.e2t, b.e2t]\n",
     "sweep_trace.yaml:6:5", "report.trace", "cannot be varied"},
};

static void test_malformed_configs(void)
{
    write_file("cycle_b.yaml", "include: cycle_a.yaml\n");
    write_file("child_bad.yaml", "training:\n  lr: fast\n");
    struct e2_config *cfg = new_config();
    int n = (int)(sizeof bad_cases / sizeof bad_cases[0]);
    CU_ASSERT(n >= 30);
    for (int i = 0; i < n; i++) {
        const struct bad_case *c = &bad_cases[i];
        struct e2_err err;
        char at[300];
        write_file(c->file, c->yaml);
        int rc = load(c->file, NULL, 0, cfg, &err);
        snprintf(at, sizeof at, "/%s: ", c->at);
        int ok = rc == E2_BAD_INPUT && contains(err.msg, at) && contains(err.msg, c->key) &&
                 (!c->also || contains(err.msg, c->also));
        if (!ok)
            printf("\n  case %s: rc %d, message: %s\n", c->file, rc, err.msg);
        CU_ASSERT(ok);
    }
    free(cfg);
}

/* CPU seconds of this process (the machine may be busy: wall time would be flaky). */
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Issue 12, finding 5: inputs that made the loader slow or hang are refused fast: deep flow
 * nesting (200k levels took 107 s in libyaml), a file over 1 MB, a FIFO, 100k keys in one
 * mapping (50 s in a pairwise duplicate check). */
static void test_hostile_yaml(void)
{
    struct e2_config *cfg = new_config();
    struct e2_err err;
    size_t levels = 200000;
    char *deep = malloc(levels + 64);
    CU_ASSERT_PTR_NOT_NULL_FATAL(deep);
    strcpy(deep, "name: t\nx: ");
    memset(deep + strlen(deep), '[', levels);
    deep[11 + levels] = 0;
    write_file("deep.yaml", deep);
    double t0 = now();
    CU_ASSERT_EQUAL(load("deep.yaml", NULL, 0, cfg, &err), E2_BAD_INPUT);
    CU_ASSERT(contains(err.msg, "/deep.yaml:2:67: mappings and lists nest deeper than 64"));
    CU_ASSERT(now() - t0 < 1.0);
    /* the same through --set */
    deep[0] = 0;
    strcpy(deep, "training.lr_steps=");
    memset(deep + strlen(deep), '[', 1000);
    deep[18 + 1000] = 0;
    write_file("base.yaml", HEAD);
    const char *sets[] = {deep};
    CU_ASSERT_EQUAL(load("base.yaml", sets, 1, cfg, &err), E2_BAD_INPUT);
    CU_ASSERT(contains(err.msg, "nest deeper than 64"));
    free(deep);

    size_t big = (1u << 20) + 10;
    char *text = malloc(big + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    memset(text, '#', big);
    text[big] = 0;
    write_file("big.yaml", text);
    CU_ASSERT_EQUAL(load("big.yaml", NULL, 0, cfg, &err), E2_BAD_INPUT);
    CU_ASSERT(contains(err.msg, "/big.yaml: 1048586 bytes; a YAML file may hold at most 1048576"));
    free(text);

    char path[512];
    path_of(path, sizeof path, "fifo.yaml");
    CU_ASSERT_EQUAL_FATAL(mkfifo(path, 0600), 0);
    CU_ASSERT_EQUAL(load("fifo.yaml", NULL, 0, cfg, &err), E2_BAD_INPUT);
    CU_ASSERT(contains(err.msg, "not a regular file"));

    /* 100k distinct keys, then a duplicate of the first at the end */
    size_t keys = 100000, at = 0;
    text = malloc(keys * 12 + 64);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    at += (size_t)sprintf(text, HEAD);
    for (size_t i = 0; i < keys; i++) {   /* 4-letter names, no values: 800 kB in all */
        char name[5] = {(char)('a' + i / 17576), (char)('a' + i / 676 % 26),
                        (char)('a' + i / 26 % 26), (char)('a' + i % 26), 0};
        at += (size_t)sprintf(text + at, "  %s:\n", name);
    }
    sprintf(text + at, "  aaaa: 2\n");
    write_file("keys.yaml", text);
    free(text);
    t0 = now();
    CU_ASSERT_EQUAL(load("keys.yaml", NULL, 0, cfg, &err), E2_BAD_INPUT);
    double seconds = now() - t0;
    CU_ASSERT(contains(err.msg, "/keys.yaml:100004:3: duplicate key 'aaaa' in training (first at line 4)"));
    printf("\n  100k keys: %.3f s ", seconds);
    CU_ASSERT(seconds < 1.0);
    free(cfg);
}

/* --set faults name the option, not a file. */
static void test_bad_sets(void)
{
    struct {
        const char *set, *also;
    } cases[] = {
        {"training.psg.beta=abc", "training.psg.beta expects a number, got 'abc'"},
        {"training.psg.betta=1", "did you mean 'training.psg.beta'?"},
        {"trainig.lr=1", "did you mean 'training.lr'?"},
        {"training.psg=1", "is a section"},
        {"training.lr", "KEY=VALUE"},
        {"training.lr=[", "malformed YAML"},
        {"training.method=[slu, sd, psg]", "both slu and sd"},
        {"training.lr_steps=[1, x]", "training.lr_steps[2]"},
        {"seed=-3", "out of range"},
        /* issue 12: a second YAML document in a value is an error, not ignored */
        {"training.lr=0.1\n--- 0.2", "a second YAML document"},
        {"hardware.ddr.device_bits=8", "hardware.ddr.bus_bits = 32 must equal"},
        {"training.iterations=!!int ten", "!!int tag: 'ten' is not an integer"},
        {"name=", "name must not be empty"},
    };
    write_file("base.yaml", HEAD);
    struct e2_config *cfg = new_config();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct e2_err err;
        char prefix[300];
        const char *sets[] = {cases[i].set};
        int rc = load("base.yaml", sets, 1, cfg, &err);
        snprintf(prefix, sizeof prefix, "--set %s: ", cases[i].set);
        int ok = rc == E2_BAD_INPUT && strncmp(err.msg, prefix, strlen(prefix)) == 0 &&
                 contains(err.msg, cases[i].also);
        if (!ok)
            printf("\n  set %s: rc %d, message: %s\n", cases[i].set, rc, err.msg);
        CU_ASSERT(ok);
    }
    /* a key that the sweep varies cannot also be set */
    write_file("swept.yaml", HEAD "sweep:\n  vary:\n    training.psg.beta: [0.1, 0.2]\n");
    struct e2_err err;
    const char *sets[] = {"training.psg.beta=0.3"};
    CU_ASSERT_EQUAL(load("swept.yaml", sets, 1, cfg, &err), E2_BAD_INPUT);
    CU_ASSERT(contains(err.msg, "--set training.psg.beta=0.3: ") &&
              contains(err.msg, "varied by the sweep"));
    free(cfg);
}

/* A replay's hardware config holds only hardware keys. */
static void test_hardware_scope(void)
{
    struct e2_config *cfg = new_config();
    struct e2_err err;
    char path[512];
    write_file("hw_bad.yaml", "hardware:\n  dsps: 100\ntraining:\n  lr: 0.1\n");
    path_of(path, sizeof path, "hw_bad.yaml");
    CU_ASSERT_EQUAL(cfg_load_scoped(path, NULL, 0, CFG_SCOPE_HW, cfg, &err), E2_BAD_INPUT);
    CU_ASSERT(contains(err.msg, "hw_bad.yaml:3:1: ") && contains(err.msg, "'training'"));

    write_file("hw_sweep.yaml", "sweep:\n  vary:\n    training.lr: [0.1]\n");
    path_of(path, sizeof path, "hw_sweep.yaml");
    CU_ASSERT_EQUAL(cfg_load_scoped(path, NULL, 0, CFG_SCOPE_HW, cfg, &err), E2_BAD_INPUT);
    CU_ASSERT(contains(err.msg, "hw_sweep.yaml:3:5: ") && contains(err.msg, "training.lr"));

    /* nothing is required; the print holds only hardware-scope sections and round-trips */
    write_file("hw_ok.yaml", "hardware:\n  dsps: 100\n");
    path_of(path, sizeof path, "hw_ok.yaml");
    CU_ASSERT_EQUAL_FATAL(cfg_load_scoped(path, NULL, 0, CFG_SCOPE_HW, cfg, &err), E2_OK);
    CU_ASSERT_EQUAL(cfg->hw.dsps, 100);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    cfg_print(mem, cfg);
    fclose(mem);
    CU_ASSERT(!contains(text, "\ntraining:") && contains(text, "\nhardware:"));
    write_file("hw_print.yaml", text);
    path_of(path, sizeof path, "hw_print.yaml");
    CU_ASSERT_EQUAL(cfg_load_scoped(path, NULL, 0, CFG_SCOPE_HW, cfg, &err), E2_OK);
    free(text);
    free(cfg);
}

/* ---- the schema tables ------------------------------------------------------------------- */

static void check_table(const struct cfg_field *table, struct e2_config *scratch)
{
    for (const struct cfg_field *f = table; f->key; f++) {
        CU_ASSERT(f->doc && f->doc[0]);
        CU_ASSERT(f->def != NULL);
        CU_ASSERT(f->type != CFG_CHOICE || f->choices);
        CU_ASSERT(cfg_find_field(f->key) == f);   /* unique across both tables */
        CU_ASSERT(f->offset < sizeof *scratch);
        /* no key is also a section holding other keys (the YAML tree would clash) */
        char prefix[300];
        snprintf(prefix, sizeof prefix, "%s.", f->key);
        for (const struct cfg_field *g = cfg_run_fields; g->key; g++)
            CU_ASSERT(strncmp(g->key, prefix, strlen(prefix)) != 0);
        for (const struct cfg_field *g = cfg_hw_fields; g->key; g++)
            CU_ASSERT(strncmp(g->key, prefix, strlen(prefix)) != 0);
    }
}

static void test_tables(void)
{
    struct e2_config *cfg = new_config();
    check_table(cfg_run_fields, cfg);
    check_table(cfg_hw_fields, cfg);
    CU_ASSERT(cfg_find_field("training.psg.beta") != NULL);
    CU_ASSERT(cfg_find_field("training.psg") == NULL);
    CU_ASSERT(cfg_find_field("training.base") == NULL);   /* derived, not a key */
    CU_ASSERT(cfg_key_required("name") && cfg_key_required("training.method"));
    CU_ASSERT(!cfg_key_required("seed"));
    free(cfg);
}

/* ---- good configs ------------------------------------------------------------------------ */

static void test_defaults(void)
{
    struct e2_config *cfg = new_config();
    cfg_defaults(cfg);
    CU_ASSERT_EQUAL(cfg->network.arch, CFG_ARCH_RESNET);
    CU_ASSERT_EQUAL(cfg->network.depth, 8);
    CU_ASSERT_EQUAL(cfg->network.width, 16);
    CU_ASSERT_EQUAL(cfg->dataset.name, CFG_DATASET_FASHION_MNIST);
    CU_ASSERT_STRING_EQUAL(cfg->dataset.path, "");   /* each data set its own default folder */
    CU_ASSERT_EQUAL(cfg->training.method.n, 4);
    CU_ASSERT_EQUAL(cfg->training.base, CFG_BASE_PSG);
    CU_ASSERT(cfg->training.smd.enabled && cfg->training.slu.enabled && cfg->training.psg.enabled &&
              cfg->training.swa.enabled && !cfg->training.sd.enabled);
    CU_ASSERT_EQUAL(cfg->training.batch_size, 128);
    CU_ASSERT_DOUBLE_EQUAL(cfg->training.lr, 0.1, 0);
    CU_ASSERT_DOUBLE_EQUAL(cfg->training.momentum, 0.9, 0);
    CU_ASSERT_DOUBLE_EQUAL(cfg->training.weight_decay, 1e-4, 0);
    CU_ASSERT_EQUAL(cfg->training.precision.activations, 8);
    CU_ASSERT_EQUAL(cfg->training.precision.grad_output, 16);
    CU_ASSERT_EQUAL(cfg->training.precision.accumulator, 48);
    CU_ASSERT_EQUAL(cfg->training.precision.rounding, CFG_ROUND_NEAREST);
    CU_ASSERT_DOUBLE_EQUAL(cfg->training.smd.p, 0.5, 0);
    CU_ASSERT_EQUAL(cfg->training.psg.msb_x, 4);
    CU_ASSERT_EQUAL(cfg->training.psg.msb_g, 10);
    CU_ASSERT_DOUBLE_EQUAL(cfg->training.psg.beta, 0.05, 0);
    CU_ASSERT_EQUAL(cfg->training.psg.tau_mode, CFG_TAU_GW);
    CU_ASSERT_EQUAL(cfg->training.lr_step_fractions.n, 2);
    CU_ASSERT_EQUAL(cfg->training.energy_only.slu_skip.n, 1);
    CU_ASSERT_EQUAL(cfg->report.progress, CFG_PROGRESS_AUTO);
    CU_ASSERT_STRING_EQUAL(cfg->report.trace, "");
    CU_ASSERT_EQUAL(cfg->has_sweep, 0);
    CU_ASSERT_EQUAL(cfg_sweep_points(cfg), 1);
    struct e2_err err;
    CU_ASSERT_EQUAL(cfg_resolve(cfg, &err), E2_OK);

    /* a minimal file loads (so every default of both tables validates) and equals them */
    struct e2_config *loaded = new_config();
    write_file("minimal.yaml", "name: e2sim\ntraining:\n  method: [smd, slu, psg, swa]\n");
    CU_ASSERT_EQUAL_FATAL(load("minimal.yaml", NULL, 0, loaded, &err), E2_OK);
    CU_ASSERT_EQUAL(cfg_hash(cfg), cfg_hash(loaded));
    free(loaded);
    free(cfg);
}

static void test_include_override(void)
{
    struct e2_config *cfg = new_config();
    struct e2_err err;
    char sub[300];
    path_of(sub, sizeof sub, "sub");
    mkdir(sub, 0777);
    write_file("sub/hw.yaml", "hardware:\n  dsps: 120\n");
    write_file("sub/base.yaml",
               "include: [hw.yaml]\nname: base\ntraining:\n  method: [fp32]\n  lr: 0.2\n"
               "  psg:\n    beta: 0.1\n");
    write_file("top.yaml",
               "include: sub/base.yaml\nname: top\ntraining:\n  lr: 0.3\n  method: [psg, smd]\n");
    CU_ASSERT_EQUAL_FATAL(load("top.yaml", NULL, 0, cfg, &err), E2_OK);
    CU_ASSERT_STRING_EQUAL(cfg->name, "top");
    CU_ASSERT_DOUBLE_EQUAL(cfg->training.lr, 0.3, 0);        /* overridden */
    CU_ASSERT_DOUBLE_EQUAL(cfg->training.psg.beta, 0.1, 0);  /* from the include */
    CU_ASSERT_EQUAL(cfg->hw.dsps, 120);                      /* from the include's include */
    CU_ASSERT_EQUAL(cfg->training.base, CFG_BASE_PSG);
    CU_ASSERT(cfg->training.smd.enabled && !cfg->training.slu.enabled);
    CU_ASSERT(contains(cfg->source, "top.yaml"));

    /* required keys may come from an include */
    write_file("inherits.yaml", "include: [sub/base.yaml]\nseed: 7\n");
    CU_ASSERT_EQUAL(load("inherits.yaml", NULL, 0, cfg, &err), E2_OK);
    CU_ASSERT_STRING_EQUAL(cfg->name, "base");
    CU_ASSERT_EQUAL(cfg->seed, 7);
    free(cfg);
}

static void test_sets(void)
{
    struct e2_config *cfg = new_config();
    struct e2_err err;
    write_file("set.yaml", HEAD);
    const char *sets[] = {"training.psg.beta=0.2", "training.method=[fp32, smd]",
                          "training.lr_steps=[10, 20]", "name=hello world", "training.lr=0.5",
                          "training.lr=0.25", "report.trace=", "training.energy_only.slu_skip=0.3",
                          "training.lr_step_fractions="};
    CU_ASSERT_EQUAL_FATAL(load("set.yaml", sets, 9, cfg, &err), E2_OK);
    CU_ASSERT_EQUAL(cfg->training.lr_step_fractions.n, 0);   /* empty value: empty list */
    CU_ASSERT_DOUBLE_EQUAL(cfg->training.psg.beta, 0.2, 0);
    CU_ASSERT_EQUAL(cfg->training.base, CFG_BASE_FP32);
    CU_ASSERT(cfg->training.smd.enabled && !cfg->training.psg.enabled);
    CU_ASSERT_EQUAL(cfg->training.lr_steps.n, 2);
    CU_ASSERT_EQUAL(cfg->training.lr_steps.v[1], 20);
    CU_ASSERT_STRING_EQUAL(cfg->name, "hello world");
    CU_ASSERT_DOUBLE_EQUAL(cfg->training.lr, 0.25, 0);   /* the last --set wins */
    CU_ASSERT_STRING_EQUAL(cfg->report.trace, "");
    CU_ASSERT_EQUAL(cfg->training.energy_only.slu_skip.n, 1);   /* a scalar is a 1-item list */
    CU_ASSERT_DOUBLE_EQUAL(cfg->training.energy_only.slu_skip.v[0], 0.3, 0);

    /* cfg_set on a loaded config validates the value and the rules */
    CU_ASSERT_EQUAL(cfg_set(cfg, "training.method=[psg, slu]", &err), E2_OK);
    CU_ASSERT(cfg->training.psg.enabled && cfg->training.slu.enabled && !cfg->training.smd.enabled);
    CU_ASSERT_EQUAL(cfg_set(cfg, "training.method=[psg, slu, sd]", &err), E2_BAD_INPUT);
    CU_ASSERT(contains(err.msg, "--set training.method=[psg, slu, sd]: "));
    CU_ASSERT_EQUAL(cfg_set(cfg, "training.psg.beta=2", &err), E2_BAD_INPUT);
    /* SLU's mixed decision computes every block: the energy-only mode cannot price it */
    cfg_defaults(cfg);
    CU_ASSERT_EQUAL(cfg_set(cfg, "training.slu.decision=mixed", &err), E2_OK);
    CU_ASSERT_EQUAL(cfg_set(cfg, "training.mode=energy-only", &err), E2_BAD_INPUT);
    CU_ASSERT(contains(err.msg, "mixed computes every block"));
    free(cfg);
}

static void test_format_values(void)
{
    struct e2_config *cfg = new_config();
    cfg_defaults(cfg);
    char buf[512];
    struct e2_err err;
    CU_ASSERT_EQUAL(cfg_format_value(cfg, cfg_find_field("training.psg.beta"), buf, sizeof buf), 4);
    CU_ASSERT_STRING_EQUAL(buf, "0.05");
    cfg_format_value(cfg, cfg_find_field("training.method"), buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "[smd, slu, psg, swa]");
    cfg_format_value(cfg, cfg_find_field("training.weight_decay"), buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "0.0001");
    cfg_format_value(cfg, cfg_find_field("report.trace"), buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "\"\"");
    CU_ASSERT_EQUAL(cfg_set(cfg, "training.iterations=150", &err), E2_OK);
    cfg_format_value(cfg, cfg_find_field("training.iterations"), buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "150");
    CU_ASSERT_EQUAL(cfg_set(cfg, "training.lr=150", &err), E2_BAD_INPUT);
    CU_ASSERT_EQUAL(cfg_set(cfg, "training.psg.tau=150", &err), E2_OK);
    cfg_format_value(cfg, cfg_find_field("training.psg.tau"), buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "150");   /* not 1.5e+02 */
    CU_ASSERT_EQUAL(cfg_format_value(cfg, cfg_find_field("training.method"), buf, 5), -1);

    /* awkward text survives format -> --set */
    const char *odd = "a: b # c \"q\" \\ ~";
    snprintf(cfg->name, sizeof cfg->name, "%s", odd);
    char set[600];
    cfg_format_value(cfg, cfg_find_field("name"), buf, sizeof buf);
    snprintf(set, sizeof set, "name=%s", buf);
    CU_ASSERT_EQUAL(cfg_set(cfg, set, &err), E2_OK);
    CU_ASSERT_STRING_EQUAL(cfg->name, odd);
    /* a plain null is empty text (a key that may be empty: name may not) */
    CU_ASSERT_EQUAL(cfg_set(cfg, "dataset.path=null", &err), E2_OK);
    CU_ASSERT_STRING_EQUAL(cfg->dataset.path, "");
    CU_ASSERT_EQUAL(cfg_set(cfg, "dataset.path='null'", &err), E2_OK);
    CU_ASSERT_STRING_EQUAL(cfg->dataset.path, "null");
    cfg_format_value(cfg, cfg_find_field("dataset.path"), buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "\"null\"");
    free(cfg);
}

static char *print_to_string(const struct e2_config *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    CU_ASSERT_FATAL(mem != NULL);
    cfg_print(mem, cfg);
    fclose(mem);
    return text;
}

/* Whether two configs hold the same values: every schema field by its type (decoded enums as
 * their values), the derived fields and the sweep; not the bytes after a text's end. */
static int configs_equal(const struct e2_config *a, const struct e2_config *b)
{
    const struct cfg_field *const tables[] = {cfg_run_fields, cfg_hw_fields};
    for (int t = 0; t < 2; t++) {
        for (const struct cfg_field *f = tables[t]; f->key; f++) {
            const char *x = (const char *)a + f->offset, *y = (const char *)b + f->offset;
            int same;
            switch (f->type) {
            case CFG_STRING:
                same = strcmp(x, y) == 0;
                break;
            case CFG_DOUBLE:
                same = *(const double *)x == *(const double *)y;
                break;
            case CFG_INT_LIST:
                same = memcmp(x, y, sizeof(int) * (size_t)(1 + *(const int *)x)) == 0;
                break;
            case CFG_DOUBLE_LIST: {
                const struct cfg_double_list *l = (const void *)x, *m = (const void *)y;
                same = l->n == m->n && memcmp(l->v, m->v, sizeof l->v[0] * (size_t)l->n) == 0;
                break;
            }
            case CFG_STRING_LIST: {
                const struct cfg_string_list *l = (const void *)x, *m = (const void *)y;
                same = l->n == m->n;
                for (int i = 0; same && i < l->n; i++)
                    same = strcmp(l->v[i], m->v[i]) == 0;
                break;
            }
            default:   /* int, bool, choice */
                same = *(const int *)x == *(const int *)y;
            }
            if (!same) {
                printf("\n  %s differs\n", f->key);
                return 0;
            }
        }
    }
    const struct cfg_training *s = &a->training, *t = &b->training;
    if (s->base != t->base || s->smd.enabled != t->smd.enabled || s->slu.enabled != t->slu.enabled ||
        s->sd.enabled != t->sd.enabled || s->psg.enabled != t->psg.enabled ||
        s->swa.enabled != t->swa.enabled || a->scope != b->scope || a->has_sweep != b->has_sweep ||
        a->sweep.mode != b->sweep.mode || a->sweep.keys.n != b->sweep.keys.n)
        return 0;
    for (int k = 0; k < a->sweep.keys.n; k++)
        if (strcmp(a->sweep.keys.v[k], b->sweep.keys.v[k]) != 0 ||
            strcmp(a->sweep.values.v[k], b->sweep.values.v[k]) != 0)
            return 0;
    return 1;
}

/* print -> load -> print gives the same bytes; the reload equals the original. */
static void check_round_trip(const char *path, const char *copy_name)
{
    struct e2_config *a = new_config(), *b = new_config();
    struct e2_err err;
    int rc = cfg_load(path, NULL, 0, a, &err);
    if (rc != E2_OK)
        printf("\n  %s: %s\n", path, err.msg);
    CU_ASSERT_EQUAL_FATAL(rc, E2_OK);
    char *first = print_to_string(a);
    write_file(copy_name, first);
    rc = load(copy_name, NULL, 0, b, &err);
    if (rc != E2_OK)
        printf("\n  printed %s: %s\n", path, err.msg);
    CU_ASSERT_EQUAL_FATAL(rc, E2_OK);
    char *second = print_to_string(b);
    CU_ASSERT_STRING_EQUAL(first, second);
    CU_ASSERT(configs_equal(a, b));
    CU_ASSERT(!contains(first, "include:"));
    CU_ASSERT_EQUAL(cfg_hash(a), cfg_hash(b));
    free(first);
    free(second);
    free(a);
    free(b);
}

static void test_print_round_trip(void)
{
    check_round_trip(E2SIM_SOURCE_DIR "/configs/zedboard.yaml", "zedboard_printed.yaml");

    /* also with a sweep, odd text and lists */
    char path[512];
    write_file("rich.yaml",
               "name: \"rich: run #1\"\nseed: 42\ntraining:\n  method: [fixed, sd, swa]\n"
               "  lr_steps: [10, 20]\n  lr: 0.3\n  finetune_from: 'dir with space/ck.bin'\n"
               "sweep:\n  mode: zip\n  vary:\n    training.lr: [0.1, 0.2]\n"
               "    training.method: [[fp32], [psg, slu]]\n");
    path_of(path, sizeof path, "rich.yaml");
    check_round_trip(path, "rich_printed.yaml");

    /* text YAML does not take as written: a lone "-" printed plain started a block sequence
     * (the reload failed), U+0085 printed raw read back as a space, C1 controls and U+FFFE/F
     * raw were "control characters"; each is now quoted or escaped */
    write_file("awkward.yaml", "name: \"-\"\ntraining:\n  method: [fp32]\n"
               "  finetune_from: \"a\\u0085b\\x80c\\x9fd\\uFFFEe\\uffff\"\n"
               "report:\n  trace: \"\\u2028\\N\"\n");
    path_of(path, sizeof path, "awkward.yaml");
    check_round_trip(path, "awkward_printed.yaml");
}

static void test_hash(void)
{
    struct e2_config *a = new_config(), *b = new_config();
    struct e2_err err;
    cfg_defaults(a);
    cfg_defaults(b);
    CU_ASSERT_EQUAL(cfg_hash(a), cfg_hash(b));
    CU_ASSERT_EQUAL(cfg_set(b, "training.psg.beta=0.1", &err), E2_OK);
    CU_ASSERT_NOT_EQUAL(cfg_hash(a), cfg_hash(b));
    CU_ASSERT_EQUAL(cfg_set(b, "training.psg.beta=0.05", &err), E2_OK);
    CU_ASSERT_EQUAL(cfg_hash(a), cfg_hash(b));
    free(a);
    free(b);
}

static void test_sweeps(void)
{
    struct e2_config *cfg = new_config(), *point = new_config();
    struct e2_err err;
    char label[300];
    write_file("grid.yaml", HEAD "sweep:\n  vary:\n    training.psg.beta: [0.01, 0.05, 0.1]\n"
                                 "    training.psg.msb_x: [2, 4]\n");
    CU_ASSERT_EQUAL_FATAL(load("grid.yaml", NULL, 0, cfg, &err), E2_OK);
    CU_ASSERT(cfg->has_sweep);
    CU_ASSERT_EQUAL(cfg->sweep.mode, CFG_SWEEP_GRID);
    CU_ASSERT_EQUAL(cfg->sweep.keys.n, 2);
    CU_ASSERT_STRING_EQUAL(cfg->sweep.keys.v[0], "training.psg.beta");
    CU_ASSERT_STRING_EQUAL(cfg->sweep.values.v[0], "[0.01, 0.05, 0.1]");
    CU_ASSERT_EQUAL(cfg_sweep_points(cfg), 6);
    char *printed = print_to_string(cfg);   /* scripts/slurm-sweep sizes its array from this */
    CU_ASSERT(strstr(printed, "\nsweep:                                  # 6 points\n") != NULL);
    free(printed);
    /* the first key varies slowest */
    CU_ASSERT_EQUAL(cfg_sweep_point(cfg, 1, point, &err), E2_OK);
    CU_ASSERT_DOUBLE_EQUAL(point->training.psg.beta, 0.01, 0);
    CU_ASSERT_EQUAL(point->training.psg.msb_x, 4);
    CU_ASSERT_EQUAL(point->has_sweep, 0);
    CU_ASSERT_EQUAL(cfg_sweep_point(cfg, 5, point, &err), E2_OK);
    CU_ASSERT_DOUBLE_EQUAL(point->training.psg.beta, 0.1, 0);
    CU_ASSERT_EQUAL(point->training.psg.msb_x, 4);
    CU_ASSERT_EQUAL(cfg_sweep_point(cfg, 6, point, &err), E2_BAD_INPUT);
    CU_ASSERT(cfg_sweep_label(cfg, 3, label, sizeof label) > 0);
    CU_ASSERT_STRING_EQUAL(label, "training.psg.beta=0.05 training.psg.msb_x=4");

    write_file("zip.yaml", HEAD "sweep:\n  mode: zip\n  vary:\n"
                                "    training.method: [[fp32], [smd, psg, swa]]\n"
                                "    training.lr: [0.1, 0.03]\n");
    CU_ASSERT_EQUAL_FATAL(load("zip.yaml", NULL, 0, cfg, &err), E2_OK);
    CU_ASSERT_EQUAL(cfg_sweep_points(cfg), 2);
    CU_ASSERT_EQUAL(cfg_sweep_point(cfg, 0, point, &err), E2_OK);
    CU_ASSERT_EQUAL(point->training.base, CFG_BASE_FP32);
    CU_ASSERT(!point->training.smd.enabled && !point->training.psg.enabled);
    CU_ASSERT_DOUBLE_EQUAL(point->training.lr, 0.1, 0);
    CU_ASSERT_EQUAL(cfg_sweep_point(cfg, 1, point, &err), E2_OK);
    CU_ASSERT_EQUAL(point->training.base, CFG_BASE_PSG);
    CU_ASSERT(point->training.smd.enabled && point->training.swa.enabled);
    CU_ASSERT_DOUBLE_EQUAL(point->training.lr, 0.03, 0);
    cfg_sweep_label(cfg, 1, label, sizeof label);
    CU_ASSERT_STRING_EQUAL(label, "training.method=[smd, psg, swa] training.lr=0.03");
    free(cfg);
    free(point);
}

static void test_json_and_reference(void)
{
    struct e2_config *cfg = new_config();
    cfg_defaults(cfg);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    cfg_print_json(mem, cfg);
    fclose(mem);
    CU_ASSERT(text[0] == '{' && text[len - 1] == '}');
    CU_ASSERT(contains(text, "\"psg\": {\"msb_x\": 4, \"msb_g\": 10, \"beta\": 0.05"));
    CU_ASSERT(contains(text, "\"method\": [\"smd\", \"slu\", \"psg\", \"swa\"]"));
    CU_ASSERT(contains(text, "\"network\": {\"arch\": \"resnet\", "));   /* enums as names */
    CU_ASSERT(contains(text, "\"mode\": \"train\""));
    free(text);

    mem = open_memstream(&text, &len);
    cfg_write_reference(mem);
    fclose(mem);
    for (const struct cfg_field *f = cfg_run_fields; f->key; f++) {
        char row[300];
        snprintf(row, sizeof row, "| `%s` |", f->key);
        CU_ASSERT(contains(text, row));
    }
    CU_ASSERT(contains(text, "## hardware") || !cfg_hw_fields[0].key);
    CU_ASSERT(contains(text, "| `network.arch` | choice | `resnet` | resnet, mobilenetv2 |"));
    free(text);
    free(cfg);
}

/* Every enum key is decoded once, at load time, into its C enum: each choice gives its value,
 * prints back as its name, and a bad value is refused with its place and the choices. */
static void test_enum_decoding(void)
{
    static const struct {
        const char *key;
        const char *const *names;
    } enums[] = {
        {"training.mode", cfg_mode_names},
        {"training.precision.rounding", cfg_rounding_names},
        {"training.slu.decision", cfg_decision_names},
        {"training.slu.target_scope", cfg_target_scope_names},
        {"training.psg.tau_mode", cfg_tau_mode_names},
        {"network.arch", cfg_arch_names},
        {"dataset.name", cfg_dataset_names},
        {"report.progress", cfg_progress_names},
    };
    struct e2_config *cfg = new_config();
    struct e2_err err;
    int choice_rows = 0;
    for (const struct cfg_field *f = cfg_run_fields; f->key; f++)
        choice_rows += f->type == CFG_CHOICE;
    CU_ASSERT_EQUAL(choice_rows, (int)(sizeof enums / sizeof enums[0]));
    for (size_t e = 0; e < sizeof enums / sizeof enums[0]; e++) {
        const struct cfg_field *f = cfg_find_field(enums[e].key);
        CU_ASSERT_FATAL(f != NULL && f->type == CFG_CHOICE);
        char joined[300] = "", set[400], printed[100];
        for (int v = 0; enums[e].names[v]; v++) {
            snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%s",
                     v ? "|" : "", enums[e].names[v]);
            cfg_defaults(cfg);
            snprintf(set, sizeof set, "%s=%s", f->key, enums[e].names[v]);
            int rc = cfg_set(cfg, set, &err);
            if (rc != E2_OK)   /* energy-only with slu needs statistics: the defaults have them */
                printf("\n  %s: %s\n", set, err.msg);
            CU_ASSERT_EQUAL(rc, E2_OK);
            CU_ASSERT_EQUAL(*(const int *)((const char *)cfg + f->offset), v);
            cfg_format_value(cfg, f, printed, sizeof printed);
            CU_ASSERT_STRING_EQUAL(printed, enums[e].names[v]);
        }
        CU_ASSERT_STRING_EQUAL(joined, f->choices);   /* the names are the row's choices */
    }
    cfg_defaults(cfg);
    CU_ASSERT_EQUAL(cfg_set(cfg, "training.method=[fixed8, smd, swa]", &err), E2_OK);
    CU_ASSERT_EQUAL(cfg->training.base, CFG_BASE_FIXED8);
    CU_ASSERT(cfg->training.smd.enabled && cfg->training.swa.enabled && !cfg->training.psg.enabled);
    CU_ASSERT_STRING_EQUAL(cfg_base_names[CFG_BASE_SIGNSGD], "signsgd");

    /* a bad value: the whole message */
    CU_ASSERT_EQUAL(cfg_set(cfg, "training.psg.tau_mode=gz", &err), E2_BAD_INPUT);
    CU_ASSERT_STRING_EQUAL(err.msg, "--set training.psg.tau_mode=gz: training.psg.tau_mode = 'gz' "
                                    "is not one of gw, gy, fixed (did you mean 'gw'?)");
    CU_ASSERT_EQUAL(cfg->training.psg.tau_mode, CFG_TAU_GW);   /* unchanged */
    write_file("bad_mode.yaml", HEAD "  mode: energy_only\n");
    CU_ASSERT_EQUAL(load("bad_mode.yaml", NULL, 0, cfg, &err), E2_BAD_INPUT);
    CU_ASSERT(contains(err.msg, "bad_mode.yaml:4:9: training.mode = 'energy_only' is not one of "
                                "train, energy-only (did you mean 'energy-only'?)"));
    write_file("bad_sweep_mode.yaml", HEAD "sweep:\n  mode: zipp\n  vary:\n    seed: [1, 2]\n");
    CU_ASSERT_EQUAL(load("bad_sweep_mode.yaml", NULL, 0, cfg, &err), E2_BAD_INPUT);
    CU_ASSERT(contains(err.msg, "bad_sweep_mode.yaml:5:9: sweep.mode expects grid or zip"));

    /* a sweep over an enum key decodes each point's value */
    write_file("enum_sweep.yaml",
               HEAD "sweep:\n  vary:\n    training.psg.tau_mode: [gy, fixed]\n"
                    "    network.arch: [resnet, mobilenetv2]\n");
    struct e2_config *point = new_config();
    CU_ASSERT_EQUAL_FATAL(load("enum_sweep.yaml", NULL, 0, cfg, &err), E2_OK);
    CU_ASSERT_EQUAL(cfg_sweep_points(cfg), 4);
    CU_ASSERT_EQUAL(cfg_sweep_point(cfg, 3, point, &err), E2_OK);
    CU_ASSERT_EQUAL(point->training.psg.tau_mode, CFG_TAU_FIXED);
    CU_ASSERT_EQUAL(point->network.arch, CFG_ARCH_MOBILENETV2);
    CU_ASSERT_EQUAL(cfg_sweep_point(cfg, 0, point, &err), E2_OK);
    CU_ASSERT_EQUAL(point->training.psg.tau_mode, CFG_TAU_GY);
    CU_ASSERT_EQUAL(point->network.arch, CFG_ARCH_RESNET);
    free(point);
    free(cfg);
}

/* Every config the project ships loads: run configs (configs/, configs/paper/, configs/sweeps/)
 * as runs, hardware tables (configs/hw/) and the replay sweep as hardware configs. */
static void test_shipped_configs(void)
{
    static const char *const folders[] = {"configs", "configs/paper", "configs/sweeps", "configs/hw"};
    int loaded = 0;
    for (size_t d = 0; d < sizeof folders / sizeof folders[0]; d++) {
        char dirpath[512];
        snprintf(dirpath, sizeof dirpath, "%s/%s", E2SIM_SOURCE_DIR, folders[d]);
        DIR *dir = opendir(dirpath);
        CU_ASSERT_FATAL(dir != NULL);
        for (struct dirent *e; (e = readdir(dir)) != NULL;) {
            size_t len = strlen(e->d_name);
            if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0 ||
                strcmp(e->d_name, "paper-base.yaml") == 0)   /* a fragment the others include */
                continue;
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", dirpath, e->d_name);
            int hw = d == 3 || strcmp(e->d_name, "hw_replay.yaml") == 0;
            struct e2_config *cfg = calloc(1, sizeof *cfg);
            struct e2_err err = {""};
            int rc = cfg_load_scoped(path, NULL, 0, hw ? CFG_SCOPE_HW : CFG_SCOPE_RUN, cfg, &err);
            if (rc != E2_OK)
                printf("\n  %s\n", err.msg);
            CU_ASSERT_EQUAL(rc, E2_OK);
            loaded++;
            free(cfg);
        }
        closedir(dir);
    }
    CU_ASSERT(loaded >= 30);
}

/* A tag that agrees with its text changes nothing: !!str on a number is text, !!int and
 * !!float on numbers, !!bool on true, !!null on ~. */
static void test_true_tags(void)
{
    write_file("tags.yaml", "name: !!str 5\ndataset:\n  augment: !!bool true\n  path: !!null ~\n"
                            "training:\n  method: [!!str psg]\n  iterations: !!int 12\n"
                            "  lr: !!float 0.25\n  epochs: !!int 2\n");
    struct e2_config *cfg = new_config();
    struct e2_err err;
    int rc = load("tags.yaml", NULL, 0, cfg, &err);
    if (rc)
        printf("\n  %s\n", err.msg);
    CU_ASSERT_EQUAL_FATAL(rc, E2_OK);
    CU_ASSERT_STRING_EQUAL(cfg->name, "5");
    CU_ASSERT_EQUAL(cfg->dataset.augment, 1);
    CU_ASSERT_STRING_EQUAL(cfg->dataset.path, "");
    CU_ASSERT_EQUAL(cfg->training.iterations, 12);
    CU_ASSERT_DOUBLE_EQUAL(cfg->training.lr, 0.25, 0);
    CU_ASSERT_DOUBLE_EQUAL(cfg->training.epochs, 2, 0);
    free(cfg);
}

/* A path key that names the wrong kind of thing is refused at load time, at the key's place:
 * energy.ert a folder or a device (reading one failed with "ertd:1:1: input error"),
 * dataset.path a file (the loader said its image file did not exist), hardware.ddr.memspec a
 * folder ("read error"). */
static void test_path_kinds(void)
{
    char dir[512], file[512], yaml[1600], want[1400];
    path_of(dir, sizeof dir, "ertd");
    path_of(file, sizeof file, "a-file");
    CU_ASSERT_FATAL(mkdir(dir, 0755) == 0);
    write_file("a-file", "not a folder\n");
    const struct {
        const char *name, *yaml, *path, *at, *what;
    } cases[] = {
        {"ert_dir.yaml", "energy:\n  ert: %s\n", dir, "5:8", "energy.ert '%s' is a directory"},
        {"ert_dev.yaml", "energy:\n  ert: %s\n", "/dev/null", "5:8",
         "energy.ert '%s' is not a regular file"},
        {"ds_file.yaml", "dataset:\n  path: %s\n", file, "5:9",
         "dataset.path '%s' is not a directory"},
        {"memspec_dir.yaml", "hardware:\n  ddr:\n    memspec: %s\n", dir, "6:14",
         "hardware.ddr.memspec '%s' is a directory"},
    };
    struct e2_config *cfg = new_config();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct e2_err err;
        char fmt[300], what[600];
        snprintf(fmt, sizeof fmt, "%s%s", HEAD, cases[i].yaml);
        snprintf(yaml, sizeof yaml, fmt, cases[i].path);
        write_file(cases[i].name, yaml);
        snprintf(what, sizeof what, cases[i].what, cases[i].path);
        snprintf(want, sizeof want, "%s/%s:%s: %s", tmpdir, cases[i].name, cases[i].at, what);
        CU_ASSERT_EQUAL(load(cases[i].name, NULL, 0, cfg, &err), E2_BAD_INPUT);
        if (strcmp(err.msg, want) != 0)
            printf("\n  want: %s\n  got:  %s\n", want, err.msg);
        CU_ASSERT_STRING_EQUAL(err.msg, want);
    }
    free(cfg);
}

static int suite_init(void) { return tmpdir_create("config"); }

int main(void)
{
    CU_TestInfo tests[] = {
        { "malformed configs: place and key", test_malformed_configs },
        { "bad --set", test_bad_sets },
        { "hostile YAML refused fast", test_hostile_yaml },
        { "hardware-only scope", test_hardware_scope },
        { "schema tables", test_tables },
        { "defaults", test_defaults },
        { "include and override", test_include_override },
        { "--set of scalars and lists", test_sets },
        { "formatting values", test_format_values },
        { "print, load, print: byte-identical", test_print_round_trip },
        { "hash", test_hash },
        { "sweeps", test_sweeps },
        { "json and reference", test_json_and_reference },
        { "enums decoded at load time", test_enum_decoding },
        { "every shipped config loads", test_shipped_configs },
        { "YAML tags that agree with their text", test_true_tags },
        { "a path key naming the wrong kind of file", test_path_kinds },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("config", suite_init, tmpdir_remove, tests);
}

/* The derived fields (training.base and the enabled flags, from training.method) and every rule
 * that spans more than one key, each naming the keys to blame so the loader can point at the
 * one the user set. */
#include "config_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "ert.h"
#include "memspec.h"

/* Set why and the fields to blame (the first one the user set is quoted), return 1. */
static int rule_fault(const struct cfg_field **b1, const struct cfg_field **b2, const char *k1,
                      const char *k2, char *why, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static int rule_fault(const struct cfg_field **b1, const struct cfg_field **b2, const char *k1,
                      const char *k2, char *why, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
    *b1 = cfg_find_field(k1);
    *b2 = k2 ? cfg_find_field(k2) : NULL;
    return 1;
}

#define FAULT(k1, k2, ...) rule_fault(blame1, blame2, k1, k2, why, size, __VA_ARGS__)

/* training.method to training.base and the technique flags. */
static int resolve_method(struct e2_config *cfg, const struct cfg_field **blame1,
                          const struct cfg_field **blame2, char *why, size_t size)
{
    struct cfg_training *t = &cfg->training;
    const struct cfg_string_list *m = &t->method;
    int base = -1;
    t->smd.enabled = t->slu.enabled = t->sd.enabled = t->psg.enabled = t->swa.enabled = 0;
    for (int i = 0; i < m->n; i++) {
        const char *name = m->v[i];
        for (int j = 0; j < i; j++)
            if (strcmp(m->v[j], name) == 0)
                return FAULT("training.method", NULL, "training.method lists '%s' twice", name);
        int is_base = cfg_name_index(cfg_base_names, name);
        if (is_base >= 0) {
            if (base >= 0)
                return FAULT("training.method", NULL,
                             "training.method has two bases, '%s' and '%s'; choose one",
                             cfg_base_names[base], name);
            base = is_base;
            continue;
        }
        switch (cfg_name_index(cfg_addon_names, name)) {
        case CFG_ADDON_SMD:
            t->smd.enabled = 1;
            break;
        case CFG_ADDON_SLU:
            t->slu.enabled = 1;
            break;
        case CFG_ADDON_SD:
            t->sd.enabled = 1;
            break;
        case CFG_ADDON_SWA:
            t->swa.enabled = 1;
            break;
        default:
            return FAULT("training.method", NULL, "training.method: '%s' is not a method", name);
        }
    }
    if (base < 0)
        return FAULT("training.method", NULL,
                     "training.method needs one base: fp32, fixed8, fixed, signsgd or psg");
    if (t->slu.enabled && t->sd.enabled)
        return FAULT("training.method", NULL,
                     "training.method has both slu and sd; they exclude each other");
    t->base = (enum cfg_base)base;
    t->psg.enabled = t->base == CFG_BASE_PSG;
    return 0;
}

static int check_precision(const struct e2_config *cfg, const struct cfg_field **blame1,
                           const struct cfg_field **blame2, char *why, size_t size)
{
    const struct cfg_precision *p = &cfg->training.precision;
    const struct {
        const char *key;
        int bits;
    } widths[] = {{"training.precision.activations", p->activations},
                  {"training.precision.weights", p->weights},
                  {"training.precision.grad_output", p->grad_output},
                  {"training.precision.grad_weight", p->grad_weight}};
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++)
        if (widths[i].bits > 16 && widths[i].bits != 32)
            return FAULT(widths[i].key, NULL,
                         "%s = %d: fixed point has 2 to 16 bits; 32 means float", widths[i].key,
                         widths[i].bits);
    if (!cfg->training.psg.enabled)
        return 0;
    if (p->activations == 32 || p->grad_output == 32)
        return FAULT(p->activations == 32 ? "training.precision.activations"
                                          : "training.precision.grad_output",
                     "training.method",
                     "psg predicts from fixed-point codes: training.precision.activations and "
                     "grad_output must be below 32 bits");
    if (cfg->training.psg.msb_x > p->activations)
        return FAULT("training.psg.msb_x", "training.precision.activations",
                     "training.psg.msb_x = %d exceeds training.precision.activations = %d",
                     cfg->training.psg.msb_x, p->activations);
    if (cfg->training.psg.msb_g > p->grad_output)
        return FAULT("training.psg.msb_g", "training.precision.grad_output",
                     "training.psg.msb_g = %d exceeds training.precision.grad_output = %d",
                     cfg->training.psg.msb_g, p->grad_output);
    return 0;
}

static int check_schedule(const struct e2_config *cfg, const struct cfg_field **blame1,
                          const struct cfg_field **blame2, char *why, size_t size)
{
    const struct cfg_training *t = &cfg->training;
    for (int i = 1; i < t->lr_steps.n; i++)
        if (t->lr_steps.v[i] <= t->lr_steps.v[i - 1])
            return FAULT("training.lr_steps", NULL, "training.lr_steps must increase (%d after %d)",
                         t->lr_steps.v[i], t->lr_steps.v[i - 1]);
    if (t->epochs == 0 && t->lr_steps.n && t->lr_steps.v[t->lr_steps.n - 1] >= t->iterations)
        return FAULT("training.lr_steps", "training.iterations",
                     "training.lr_steps: step %d is not before the end of the run "
                     "(training.iterations = %d)",
                     t->lr_steps.v[t->lr_steps.n - 1], t->iterations);
    for (int i = 0; i < t->lr_step_fractions.n; i++) {
        double v = t->lr_step_fractions.v[i];
        if (v <= 0 || v >= 1)
            return FAULT("training.lr_step_fractions", NULL,
                         "training.lr_step_fractions: %g is not strictly between 0 and 1", v);
        if (i && v <= t->lr_step_fractions.v[i - 1])
            return FAULT("training.lr_step_fractions", NULL,
                         "training.lr_step_fractions must increase (%g after %g)", v,
                         t->lr_step_fractions.v[i - 1]);
    }
    const struct {
        const char *key;
        double v;
    } below_one[] = {{"training.smd.p", t->smd.p},
                     {"training.slu.target_skip", t->slu.target_skip},
                     {"training.sd.skip_ratio", t->sd.skip_ratio},
                     {"training.swa.start", t->swa.start}};
    for (size_t i = 0; i < sizeof below_one / sizeof below_one[0]; i++)
        if (below_one[i].v >= 1)
            return FAULT(below_one[i].key, NULL, "%s must be below 1", below_one[i].key);
    if (t->finetune_last_fc_only && !t->finetune_from[0] && t->mode != CFG_MODE_ENERGY_ONLY)
        return FAULT("training.finetune_last_fc_only", "training.finetune_from",
                     "training.finetune_last_fc_only needs training.finetune_from (except in "
                     "the energy-only mode, which trains nothing)");
    if (t->mode == CFG_MODE_ENERGY_ONLY && t->slu.enabled && t->energy_only.slu_skip.n == 0)
        return FAULT("training.energy_only.slu_skip", "training.method",
                     "energy-only with slu needs training.energy_only.slu_skip");
    /* mixed computes every block for every sample: skip statistics cannot describe its cost */
    if (t->mode == CFG_MODE_ENERGY_ONLY && t->slu.enabled && t->slu.decision == CFG_SLU_MIXED)
        return FAULT("training.slu.decision", "training.mode",
                     "training.slu.decision mixed computes every block, which the energy-only "
                     "mode cannot price from skip ratios: use bernoulli or threshold");
    return 0;
}

static int check_network(const struct e2_config *cfg, const struct cfg_field **blame1,
                         const struct cfg_field **blame2, char *why, size_t size)
{
    const struct cfg_network *n = &cfg->network;
    if (n->arch == CFG_ARCH_RESNET && (n->depth - 2) % 6 != 0)
        return FAULT("network.depth", "network.arch",
                     "network.depth = %d: a ResNet has 6n+2 layers (8, 14, 20, 26, 32, 38, 44, "
                     "56, 74, 110...)",
                     n->depth);
    /* the blocks SLU gates or SD drops: every skippable block but the first */
    int skip_on = cfg->training.slu.enabled || cfg->training.sd.enabled;
    if (n->arch == CFG_ARCH_RESNET && skip_on && !n->skip_stage_entry && n->depth < 14)
        return FAULT("network.skip_stage_entry", "training.method",
                     "ResNet-%d with network.skip_stage_entry false has one skippable block, "
                     "the first, which always runs: slu and sd need depth 14 or more (or "
                     "skip_stage_entry true)", n->depth);
    return 0;
}

static int check_calibration(const struct e2_config *cfg, const struct cfg_field **blame1,
                             const struct cfg_field **blame2, char *why, size_t size)
{
    const struct cfg_calibration *c = &cfg->calibration;
    /* written in the output folder, beside calibration.txt: a plain file name, nothing else */
    const char *out = c->output;
    if (!out[0] || strchr(out, '/') || strcmp(out, ".") == 0 || strcmp(out, "..") == 0 ||
        strcmp(out, "calibration.txt") == 0)
        return FAULT("calibration.output", NULL,
                     "calibration.output = '%s': expected a file name (no folder; not "
                     "calibration.txt): it is written in the output folder only, and installing "
                     "it (e.g. into configs/hw/) is a separate step (docs/calibration.md)", out);
    if (c->free.n > 3)
        return FAULT("calibration.free", NULL,
                     "calibration.free lists %d keys; savings ratios can fit at most 3",
                     c->free.n);
    for (int i = 0; i < c->free.n; i++) {
        const struct cfg_field *f = cfg_find_field(c->free.v[i]);
        if (!f || !cfg_is_hw_key(f->key) || (f->type != CFG_DOUBLE && f->type != CFG_INT))
            return FAULT("calibration.free", NULL,
                         "calibration.free: '%s' is not a number key of hardware: or energy:",
                         c->free.v[i]);
        for (int j = 0; j < i; j++)
            if (strcmp(c->free.v[j], c->free.v[i]) == 0)
                return FAULT("calibration.free", NULL, "calibration.free lists '%s' twice",
                             c->free.v[i]);
    }
    if (c->lower.n != c->free.n || c->upper.n != c->free.n)
        return FAULT(c->lower.n != c->free.n ? "calibration.lower" : "calibration.upper",
                     "calibration.free",
                     "calibration.lower and calibration.upper need one bound per free key "
                     "(%d free, %d lower, %d upper)",
                     c->free.n, c->lower.n, c->upper.n);
    for (int i = 0; i < c->free.n; i++) {
        const struct cfg_field *f = cfg_find_field(c->free.v[i]);
        if (!(c->lower.v[i] < c->upper.v[i]))
            return FAULT("calibration.lower", "calibration.upper",
                         "calibration bounds of %s are empty: lower %g is not below upper %g",
                         f->key, c->lower.v[i], c->upper.v[i]);
        if (c->lower.v[i] < f->min || c->upper.v[i] > f->max)
            return FAULT("calibration.lower", "calibration.upper",
                         "calibration bounds [%g, %g] of %s leave its range [%g, %g]",
                         c->lower.v[i], c->upper.v[i], f->key, f->min, f->max);
    }
    return 0;
}

/* The name titles the reports and makes the default folder out/<name>-<timestamp>. */
static int check_name(const struct e2_config *cfg, const struct cfg_field **blame1,
                      const struct cfg_field **blame2, char *why, size_t size)
{
    if (!cfg->name[0])
        return FAULT("name", NULL, "name must not be empty: it names the run, its reports and "
                     "its default folder out/<name>-<timestamp>");
    return 0;
}

/* What is wrong with an existing path of a file key (want_dir 0) or a folder key (1), or NULL.
 * A missing path is left to its reader, which names the file it looked for. */
static const char *wrong_kind(const char *path, int want_dir)
{
    struct stat st;
    if (!path[0] || stat(path, &st) != 0)
        return NULL;
    if (want_dir)
        return S_ISDIR(st.st_mode) ? NULL : "is not a directory";
    return S_ISREG(st.st_mode) ? NULL
           : S_ISDIR(st.st_mode) ? "is a directory"
                                 : "is not a regular file";
}

/* Path keys naming the wrong kind of thing, said at the key: read as a file, a folder gave
 * "ertd:1:1: input error" and a FIFO would block; a file as dataset.path made the loader say
 * that the data set's files do not exist. */
static int check_paths(const struct e2_config *cfg, const struct cfg_field **blame1,
                       const struct cfg_field **blame2, char *why, size_t size)
{
    static const struct {
        const char *key;
        int want_dir;
    } paths[] = {{"hardware.ddr.memspec", 0}, {"energy.ert", 0}, {"dataset.path", 1}};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        const char *path = cfg_cslot(cfg, cfg_find_field(paths[i].key));
        const char *wrong = wrong_kind(path, paths[i].want_dir);
        if (wrong)
            return FAULT(paths[i].key, NULL, "%s '%s' %s", paths[i].key, path, wrong);
    }
    return 0;
}

/* Whether int v is one of "4|8|16". */
static int in_choices(const char *choices, int v)
{
    char text[16];
    size_t n = (size_t)snprintf(text, sizeof text, "%d", v);
    for (const char *p = choices;; p++) {
        size_t len = strcspn(p, "|");
        if (len == n && strncmp(p, text, n) == 0)
            return 1;
        p += len;
        if (!*p)
            return 0;
    }
}

/* A table read from another tool's file sets hardware: and energy: values without their keys'
 * ranges; a value outside them (a memspec's width 0 or clkMhz 1e-300) was refused only by the
 * hardware model, as "hardware model: ... bus_bits must equal devices * device_bits" naming
 * neither the file nor the key, or not at all. Check every hardware number against its row;
 * 1 with why when one is out of range (a key the user set was checked when it was read). */
static int table_out_of_range(const struct e2_config *cfg, const char *file, char *why,
                              size_t size)
{
    for (const struct cfg_field *f = cfg_hw_fields; f->key; f++) {
        if (f->type != CFG_INT && f->type != CFG_DOUBLE)
            continue;
        const void *slot = cfg_cslot(cfg, f);
        double v = f->type == CFG_INT ? *(const int *)slot : *(const double *)slot;
        int ok = v >= f->min && v <= f->max &&   /* false for NaN */
                 (f->type != CFG_INT || !f->choices || in_choices(f->choices, *(const int *)slot));
        if (ok)
            continue;
        char range[100];
        cfg_range_text(f, range, sizeof range);
        snprintf(why, size, "%s: gives %s = %g, %s %s", file, f->key, v,
                 f->choices ? "not one of" : "outside its range", f->choices ? f->choices : range);
        return 1;
    }
    return 0;
}

/* hardware.ddr.memspec (sim/io/memspec.c), then energy.ert (sim/io/ert.c): tables read from the
 * files of other tools replace the keys they cover. */
static int read_tables(struct e2_config *cfg, const struct cfg_field **blame1, char *why,
                       size_t size)
{
    static const char *const keys[] = {"hardware.ddr.memspec", "energy.ert"};
    const char *files[] = {cfg->hw.memspec, cfg->hw.ert};
    for (int i = 0; i < 2; i++) {
        struct e2_err err = {""};
        if (!files[i][0])
            continue;
        int rc = i == 0 ? memspec_read(files[i], &cfg->hw, &err)
                        : ert_read(files[i], &cfg->hw, &err);
        if (rc == E2_OK && !table_out_of_range(cfg, files[i], why, size))
            continue;
        if (rc != E2_OK)
            snprintf(why, size, "%s", err.msg);
        *blame1 = cfg_find_field(keys[i]);
        return 1;
    }
    return 0;
}

/* What the hardware model needs beyond each key's range (models/zynq7020.cpp checks the same
 * again); checked here so that the message names the file, line and column. */
static int check_hardware(const struct e2_config *cfg, const struct cfg_field **blame1,
                          const struct cfg_field **blame2, char *why, size_t size)
{
    const struct hw_params *p = &cfg->hw;
    const struct hw_ddr_energy *e = &p->energy.ddr;
    int fp32 = p->fp32_dsps_per_mac > p->fp32_fixed_dsps_per_mac ? p->fp32_dsps_per_mac
                                                                  : p->fp32_fixed_dsps_per_mac;
    if (p->dsps < fp32)
        return FAULT("hardware.dsps", "hardware.fp32_dsps_per_mac",
                     "hardware.dsps = %d is fewer than one float32 lane needs (hardware."
                     "fp32_dsps_per_mac = %d, fp32_fixed_dsps_per_mac = %g)", p->dsps,
                     p->fp32_dsps_per_mac, p->fp32_fixed_dsps_per_mac);
    if (p->ddr.bus_bits != p->ddr.devices * p->ddr.device_bits)
        return FAULT("hardware.ddr.bus_bits", "hardware.ddr.device_bits",
                     "hardware.ddr.bus_bits = %d must equal hardware.ddr.devices x device_bits "
                     "= %d x %d", p->ddr.bus_bits, p->ddr.devices, p->ddr.device_bits);
    if (p->ddr.trefi_ns <= p->ddr.trfc_ns)
        return FAULT("hardware.ddr.trefi_ns", "hardware.ddr.trfc_ns",
                     "hardware.ddr.trefi_ns = %g must exceed hardware.ddr.trfc_ns = %g",
                     p->ddr.trefi_ns, p->ddr.trfc_ns);
    if (e->idd0_ma < e->idd3n_ma || e->idd0_ma < e->idd2n_ma)
        return FAULT("energy.ddr.idd0_ma", "energy.ddr.idd3n_ma",
                     "energy.ddr.idd0_ma = %g must be at least idd2n_ma = %g and idd3n_ma = %g",
                     e->idd0_ma, e->idd2n_ma, e->idd3n_ma);
    const struct {
        const char *key;
        double v;
    } active[] = {{"energy.ddr.idd4r_ma", e->idd4r_ma},
                  {"energy.ddr.idd4w_ma", e->idd4w_ma},
                  {"energy.ddr.idd5_ma", e->idd5_ma}};
    for (size_t i = 0; i < sizeof active / sizeof active[0]; i++)
        if (active[i].v < e->idd3n_ma)
            return FAULT(active[i].key, "energy.ddr.idd3n_ma",
                         "%s = %g must be at least energy.ddr.idd3n_ma = %g", active[i].key,
                         active[i].v, e->idd3n_ma);
    return 0;
}

/* Resolve the derived fields and check every rule that spans more than one key. */
int cfg_resolve_rules(struct e2_config *cfg, const struct cfg_field **blame1,
                         const struct cfg_field **blame2, char *why, size_t size)
{
    *blame1 = *blame2 = NULL;
    return check_name(cfg, blame1, blame2, why, size) ||
           resolve_method(cfg, blame1, blame2, why, size) ||
           check_precision(cfg, blame1, blame2, why, size) ||
           check_schedule(cfg, blame1, blame2, why, size) ||
           check_network(cfg, blame1, blame2, why, size) ||
           check_calibration(cfg, blame1, blame2, why, size) ||
           check_paths(cfg, blame1, blame2, why, size) ||
           read_tables(cfg, blame1, why, size) ||
           check_hardware(cfg, blame1, blame2, why, size);
}

#undef FAULT

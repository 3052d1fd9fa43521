/* Accelergy ERT export and import of the energy table (see ert.h).
 *
 * Every ERT action is linear in one energy coefficient of struct hw_params, given the
 * hardware's timings and supplies: energy = (value - base) x scale, where base is another
 * coefficient (DRAMPower's "current above standby") or 0. Writing evaluates that; reading
 * inverts it, so export then import gives back the same table. */
#include "ert.h"

#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define E(f) offsetof(struct hw_params, energy.f)
#define NONE ((size_t)-1)

enum scale_kind {
    PJ,             /* the coefficient is pJ per action */
    PJ_SCALED,      /* pJ, multiplied by energy.bram_lut_scale */
    WATT,           /* W, as pJ per PL cycle (Accelergy's "leak" per cycle) */
    DDR_CK,         /* mA, x supply x tCK, per device */
    DDR_BURST,      /* mA, x supply x burst time, per device */
    DDR_TRAS,       /* mA, x supply x tRAS */
    DDR_TRFC,       /* mA, x supply x tRFC */
    DDR_PIN_BURST,  /* mW per DQ pin, x device_bits x burst time */
};

struct ert_row {
    const char *table, *action;
    size_t value, base;     /* offsets into struct hw_params; base NONE = 0 */
    enum scale_kind kind;
    size_t supply;          /* DDR rows: energy.ddr.vdd or energy.ddr.vpp */
};

static const struct ert_row rows[] = {
    {"dsp", "mac_base", E(dsp_mac_base_pj), NONE, PJ, 0},
    {"dsp", "mac_full_product", E(dsp_mac_product_pj), NONE, PJ, 0},
    {"dsp", "mac_packed_8x8", E(dsp_mac_packed8_pj), NONE, PJ, 0},
    {"dsp", "mac_fp32", E(fp32_mac_pj), NONE, PJ, 0},
    {"dsp", "add_fp32", E(fp32_add_pj), NONE, PJ, 0},
    {"lut", "multiply_per_bit2", E(lut_mult_pj_per_bit2), NONE, PJ_SCALED, 0},
    {"lut", "accumulate_per_bit", E(lut_acc_pj_per_bit), NONE, PJ_SCALED, 0},
    {"bram", "read", E(bram_read_pj), NONE, PJ_SCALED, 0},
    {"bram", "write", E(bram_write_pj), NONE, PJ_SCALED, 0},
    {"uram", "read", E(uram_read_pj), NONE, PJ_SCALED, 0},
    {"uram", "write", E(uram_write_pj), NONE, PJ_SCALED, 0},
    {"axi_hp", "beat", E(axi_beat_pj), NONE, PJ, 0},
    {"ps", "compute_leak", E(ps_active_w), NONE, WATT, 0},
    {"ps", "quiescent_leak", E(stat.ps_w), NONE, WATT, 0},
    {"ps", "ddr_controller_leak", E(stat.ddrc_w), NONE, WATT, 0},
    {"pl", "leak", E(stat.pl_w), NONE, WATT, 0},
    {"board", "leak", E(stat.board_w), NONE, WATT, 0},
    /* per DRAM device; standby first, since the others are above it */
    {"dram_device", "standby_active", E(ddr.idd3n_ma), NONE, DDR_CK, E(ddr.vdd)},
    {"dram_device", "standby_precharged", E(ddr.idd2n_ma), NONE, DDR_CK, E(ddr.vdd)},
    {"dram_device", "activate", E(ddr.idd0_ma), E(ddr.idd3n_ma), DDR_TRAS, E(ddr.vdd)},
    {"dram_device", "read", E(ddr.idd4r_ma), E(ddr.idd3n_ma), DDR_BURST, E(ddr.vdd)},
    {"dram_device", "write", E(ddr.idd4w_ma), E(ddr.idd3n_ma), DDR_BURST, E(ddr.vdd)},
    {"dram_device", "refresh", E(ddr.idd5_ma), E(ddr.idd3n_ma), DDR_TRFC, E(ddr.vdd)},
    {"dram_device", "read_io", E(ddr.io_read_mw_per_pin), NONE, DDR_PIN_BURST, 0},
    {"dram_device", "write_termination", E(ddr.odt_write_mw_per_pin), NONE, DDR_PIN_BURST, 0},
    {"dram_device", "vpp_standby", E(ddr.ipp3n_ma), NONE, DDR_CK, E(ddr.vpp)},
    {"dram_device", "vpp_activate", E(ddr.ipp0_ma), E(ddr.ipp3n_ma), DDR_TRAS, E(ddr.vpp)},
    {"dram_device", "vpp_refresh", E(ddr.ipp5_ma), E(ddr.ipp3n_ma), DDR_TRFC, E(ddr.vpp)},
};
#define NROWS (sizeof rows / sizeof rows[0])

static double *field(const struct hw_params *hw, size_t off)
{
    return (double *)((char *)hw + off);
}

/* pJ of one action per unit of (value - base). */
static double scale_of(const struct hw_params *hw, const struct ert_row *r)
{
    double tck = 1000.0 / hw->ddr.clock_mhz, burst = hw->ddr.burst_length / 2.0 * tck;
    double v = r->supply ? *field(hw, r->supply) : 1.0;
    switch (r->kind) {
    case PJ:
        return 1.0;
    case PJ_SCALED:
        return hw->energy.bram_lut_scale;
    case WATT:
        return 1e6 / hw->pl_clock_mhz;
    case DDR_CK:
        return v * tck;
    case DDR_BURST:
        return v * burst;
    case DDR_TRAS:
        return v * hw->ddr.tras_ns;
    case DDR_TRFC:
        return v * hw->ddr.trfc_ns;
    case DDR_PIN_BURST:
        return hw->ddr.device_bits * burst;
    }
    return 0;
}

static double base_of(const struct hw_params *hw, const struct ert_row *r)
{
    return r->base == NONE ? 0.0 : *field(hw, r->base);
}

void ert_write(FILE *out, const struct hw_params *hw, const char *prefix)
{
    fprintf(out, "# e2sim energy table as an Accelergy ERT: energies in pJ per action; *_leak\n"
                 "# actions are per accelerator clock cycle; dram_device actions are per device.\n"
                 "ERT:\n  version: 0.3\n  tables:\n");
    const char *table = "";
    for (size_t i = 0; i < NROWS; i++) {
        const struct ert_row *r = &rows[i];
        if (strcmp(table, r->table) != 0) {
            table = r->table;
            fprintf(out, "  - name: %s.%s\n    actions:\n", prefix, table);
        }
        double e = (*field(hw, r->value) - base_of(hw, r)) * scale_of(hw, r);
        char num[40];
        snprintf(num, sizeof num, "%.15g", e);   /* the shortest that reads back exactly */
        if (strtod(num, NULL) != e)
            snprintf(num, sizeof num, "%.17g", e);
        fprintf(out, "    - name: %s\n      arguments: null\n      energy: %s\n", r->action, num);
    }
}

/* ---- reading ---- */

static yaml_node_t *map_get(yaml_document_t *d, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(d, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(d, p->value);
    }
    return NULL;
}

static const char *scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* Last dotted component of a table name equals want. */
static int table_is(const char *name, const char *want)
{
    const char *dot = strrchr(name, '.');
    return strcmp(dot ? dot + 1 : name, want) == 0;
}

/* The energy of table/action in the document; NULL node when absent. */
static yaml_node_t *find_energy(yaml_document_t *d, yaml_node_t *tables, const char *table,
                                const char *action)
{
    for (yaml_node_item_t *t = tables->data.sequence.items.start; t < tables->data.sequence.items.top; t++) {
        yaml_node_t *tn = yaml_document_get_node(d, *t);
        const char *name = scalar(map_get(d, tn, "name"));
        yaml_node_t *actions = map_get(d, tn, "actions");
        if (!name || !table_is(name, table) || !actions || actions->type != YAML_SEQUENCE_NODE)
            continue;
        for (yaml_node_item_t *a = actions->data.sequence.items.start; a < actions->data.sequence.items.top; a++) {
            yaml_node_t *an = yaml_document_get_node(d, *a);
            const char *aname = scalar(map_get(d, an, "name"));
            if (aname && strcmp(aname, action) == 0)
                return map_get(d, an, "energy");
        }
    }
    return NULL;
}

static int set_rows(const char *path, yaml_document_t *d, yaml_node_t *tables,
                    struct hw_params *hw, struct e2_err *err)
{
    struct hw_params out = *hw;
    out.energy.bram_lut_scale = 1.0;   /* the ERT holds the scaled energies */
    for (size_t i = 0; i < NROWS; i++) {
        const struct ert_row *r = &rows[i];
        yaml_node_t *n = find_energy(d, tables, r->table, r->action);
        const char *text = scalar(n);
        if (!text)
            return e2_fail(err, E2_BAD_INPUT, "%s: no energy for action %s of table *.%s", path,
                           r->action, r->table);
        char *end;
        double e = strtod(text, &end);
        /* strtod takes "" (an empty `energy:`) for 0 and skips leading blanks */
        if (!text[0] || isspace((unsigned char)text[0]) || *end || !isfinite(e) || e < 0)
            return e2_fail(err, E2_BAD_INPUT, "%s:%lu:%lu: energy '%s' is not a number >= 0",
                           path, (unsigned long)n->start_mark.line + 1,
                           (unsigned long)n->start_mark.column + 1, text);
        double s = scale_of(&out, r);
        if (s == 0) {   /* e.g. no VPP supply: the action must cost nothing */
            if (e != 0)
                return e2_fail(err, E2_BAD_INPUT, "%s:%lu:%lu: %s.%s costs energy but its supply "
                               "is 0 in this hardware", path, (unsigned long)n->start_mark.line + 1,
                               (unsigned long)n->start_mark.column + 1, r->table, r->action);
            continue;
        }
        *field(&out, r->value) = e / s + base_of(&out, r);
    }
    *hw = out;
    return E2_OK;
}

int ert_read(const char *path, struct hw_params *hw, struct e2_err *err)
{
    /* The configs' bounded reader, not libyaml's own loader: that one has no limit on nesting
     * or size (a 200 KB file of "[" took 75 s, a few MB would take hours). */
    yaml_document_t doc;
    int rc = cfg_yaml_read(path, &doc, err);
    if (rc != E2_OK)
        return rc;
    yaml_node_t *tables = map_get(&doc, map_get(&doc, yaml_document_get_root_node(&doc), "ERT"),
                                  "tables");
    rc = tables && tables->type == YAML_SEQUENCE_NODE
             ? set_rows(path, &doc, tables, hw, err)
             : e2_fail(err, E2_BAD_INPUT, "%s: not an Accelergy ERT (no ERT: tables: list)", path);
    yaml_document_delete(&doc);
    return rc;
}

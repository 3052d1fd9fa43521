/* The loader's hardware schema (sim/io/config_hw.c) is the model's parameter table row for row:
 * same keys in the same order, the field inside struct e2_config's hw, the same default, range
 * and choices, and the doc with the source tag appended. */
#include "cunit_main.h"

#include <string.h>

#include "config.h"

static enum cfg_type loader_type(enum hw_param_type t)
{
    switch (t) {
    case HW_PARAM_INT: return CFG_INT;
    case HW_PARAM_DOUBLE: return CFG_DOUBLE;
    case HW_PARAM_BOOL: return CFG_BOOL;
    case HW_PARAM_CHOICE: return CFG_CHOICE;
    default: return CFG_STRING;
    }
}

static int same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void test_rows_are_the_models(void)
{
    size_t n;
    const struct hw_param_def *t = hw_param_table(&n);
    size_t rows = 0;
    while (cfg_hw_fields[rows].key)
        rows++;
    CU_ASSERT_EQUAL_FATAL(rows, n);
    for (size_t i = 0; i < n; i++) {
        const struct cfg_field *f = &cfg_hw_fields[i];
        const struct hw_param_def *d = &t[i];
        char doc[1024];
        snprintf(doc, sizeof doc, "%s%s%s", d->doc, d->tag[0] ? " " : "", d->tag);
        int same = strcmp(f->key, d->key) == 0 && f->type == loader_type(d->type) &&
                   f->offset == offsetof(struct e2_config, hw) + d->offset &&
                   strcmp(f->def, d->def) == 0 && f->min == d->min && f->max == d->max &&
                   same_text(f->choices, d->choices) && strcmp(f->doc, doc) == 0;
        if (!same)
            fprintf(stderr, "\nrow %zu (%s) differs from the model's\n", i, d->key);
        CU_ASSERT(same);
        CU_ASSERT(cfg_find_field(d->key) == f);
    }
}

/* A tag shows in the doc line the way --print-config and docs/config.md print it. */
static void test_tag_in_doc(void)
{
    CU_ASSERT_STRING_EQUAL(cfg_find_field("energy.ddr.vdd")->doc, "DRAM core supply (V) [V]");
    CU_ASSERT_STRING_EQUAL(cfg_find_field("energy.bram_read_pj")->doc,
                           "one 36-bit BRAM port read (pJ) [E]");
    CU_ASSERT_STRING_EQUAL(cfg_find_field("energy.ddr.ipp5_ma")->doc,
                           "IPP5 burst refresh current on VPP per device (mA)");
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"the hardware rows are the model's table", test_rows_are_the_models},
        {"the source tag ends the doc line", test_tag_in_doc},
        CU_TEST_INFO_NULL,
    };
    return cunit_run("config_hw", NULL, NULL, tests);
}

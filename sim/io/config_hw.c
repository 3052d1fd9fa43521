/* Schema rows for the hardware: and energy: sections, made from the model's own parameter table
 * (models/hw_param_rows.h: keys, defaults, ranges, tags and docs live there, once). The tag
 * goes at the end of the doc line, as --print-config and docs/config.md show it. */
#include "config.h"

#define DOC_TAG_V(doc) doc " [V]"
#define DOC_TAG_E(doc) doc " [E]"
#define DOC_NO_TAG(doc) doc
#define HW_PARAM(key, type, field, def, min, max, choices, tag, doc) \
    {key, CFG_##type, offsetof(struct e2_config, hw.field), def, min, max, choices, DOC_##tag(doc)},
#define HW_PARAM_FIT(key, type, field, def, min, max, choices, tag, doc, low, high, unit, source) \
    HW_PARAM(key, type, field, def, min, max, choices, tag, doc)

const struct cfg_field cfg_hw_fields[] = {
#include "hw_param_rows.h"
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

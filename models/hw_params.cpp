/* The parameter table (models/hw_param_rows.h) and the defaults it gives (hw_params.h). */
#include "hw_params.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace e2hw {
namespace {

#define HW_TAG_TAG_V "[V]"
#define HW_TAG_TAG_E "[E]"
#define HW_TAG_NO_TAG ""
#define HW_PARAM_FIT(key, type, field, def, min, max, choices, tag, doc, low, high, unit, source) \
    {key, HW_PARAM_##type, offsetof(hw_params, field), def, min, max, choices, HW_TAG_##tag, doc, \
     low, high, unit, source},
#define HW_PARAM(key, type, field, def, min, max, choices, tag, doc) \
    HW_PARAM_FIT(key, type, field, def, min, max, choices, tag, doc, 0, 0, "", nullptr)

const hw_param_def table[] = {
#include "hw_param_rows.h"
};

#undef HW_PARAM
#undef HW_PARAM_FIT

const size_t table_rows = sizeof table / sizeof table[0];

/* The position of `text` among "a|b|c" (0 for a), -1 when it is not one of them. */
int choice_index(const char *choices, const char *text)
{
    size_t n = std::strlen(text);
    const char *c = choices;
    for (int index = 0;; index++) {
        if (std::strncmp(c, text, n) == 0 && (c[n] == '|' || c[n] == '\0'))
            return index;
        if (!(c = std::strchr(c, '|')))
            return -1;
        c++;
    }
}

/* Store a default's text into its field: the config loader reads these same texts with
 * strtol / strtod, so a model built from the defaults equals one loaded from an empty config. */
void put_default(hw_params &p, const hw_param_def &d)
{
    char *at = reinterpret_cast<char *>(&p) + d.offset;
    switch (d.type) {
    case HW_PARAM_INT:
        *reinterpret_cast<int *>(at) = (int)std::strtol(d.def, nullptr, 10);
        break;
    case HW_PARAM_DOUBLE:
        *reinterpret_cast<double *>(at) = std::strtod(d.def, nullptr);
        break;
    case HW_PARAM_BOOL:
        *reinterpret_cast<int *>(at) = std::strcmp(d.def, "true") == 0;
        break;
    case HW_PARAM_CHOICE:
        *reinterpret_cast<int *>(at) = choice_index(d.choices, d.def);
        break;
    case HW_PARAM_STRING:
        std::snprintf(at, sizeof p.memspec, "%s", d.def);
        break;
    }
}

} // namespace
} // namespace e2hw

/* Every text field has the size of memspec (put_default relies on it). */
static_assert(sizeof(hw_params::memspec) == sizeof(hw_params::ert), "text fields differ in size");

extern "C" const hw_param_def *hw_param_table(size_t *n)
{
    *n = e2hw::table_rows;
    return e2hw::table;
}

extern "C" const hw_param_def *hw_param_find(const char *key)
{
    for (const hw_param_def &d : e2hw::table)
        if (std::strcmp(d.key, key) == 0)
            return &d;
    return nullptr;
}

extern "C" hw_params hw_params_defaults(void)
{
    hw_params p;
    std::memset(&p, 0, sizeof p);
    for (const hw_param_def &d : e2hw::table)
        e2hw::put_default(p, d);
    return p;
}

extern "C" double hw_param_get(const hw_params *p, const hw_param_def *d)
{
    const char *at = reinterpret_cast<const char *>(p) + d->offset;
    if (d->type == HW_PARAM_DOUBLE)
        return *reinterpret_cast<const double *>(at);
    return *reinterpret_cast<const int *>(at);
}

extern "C" void hw_param_set(hw_params *p, const hw_param_def *d, double v)
{
    char *at = reinterpret_cast<char *>(p) + d->offset;
    if (d->type == HW_PARAM_DOUBLE)
        *reinterpret_cast<double *>(at) = v;
    else
        *reinterpret_cast<int *>(at) = (int)std::lround(v);
}

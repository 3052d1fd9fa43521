/* What the files of the config engine share, and nothing else includes:
 *   config.c        public entry points, schema lookups, defaults, enum names
 *   config_value.c  one value: parse and validate against its row, format as YAML, suggestions
 *   config_yaml.c   YAML text to a document: bounded size and nesting, aliases as copies
 *   config_load.c   files, includes and --set over the defaults; errors at FILE:LINE:COL
 *   config_rules.c  derived fields (training.base, enabled flags) and cross-field rules
 *   config_sweep.c  sweep points and their labels
 *   config_print.c  the resolved config as YAML and JSON
 *   config_doc.c    docs/config.md (--config-reference) */
#ifndef E2_CONFIG_INTERNAL_H
#define E2_CONFIG_INTERNAL_H

#include <yaml.h>
#include "config.h"

#define KEY_MAX 128             /* longest dotted key */

/* ---- schema (config.c) ---- */

/* Keys a config file must set itself (CFG_SCOPE_RUN); ends with NULL. */
extern const char *const cfg_required_keys[];

/* The i-th row over both tables, or NULL past the end; the number of rows; a row's index. */
const struct cfg_field *cfg_field_at(int i);
int cfg_field_count(void);
int cfg_field_index(const struct cfg_field *field);

/* Index of name in a NULL-terminated list (cfg_base_names...), or -1. */
int cfg_name_index(const char *const *names, const char *name);
/* key lies inside section `prefix` ("" = the top level). */
int cfg_in_section(const char *key, const char *prefix);
/* path names a section: some key lies strictly inside it. */
int cfg_is_section(const char *path);
/* buf = "prefix.child" (or "child" at the top level); 0, or -1 if it did not fit. */
int cfg_join_key(char *buf, size_t size, const char *prefix, const char *child);
/* Copy the name of the child of section `prefix` that `key` lies in ("psg" for
 * "training.psg.beta" in "training"). */
void cfg_child_name(const char *key, const char *prefix, char *out, size_t size);
/* What a config of this scope may hold (a replay's hardware config: name, hardware...). */
int cfg_allowed_in_scope(enum cfg_scope scope, const char *path);
int cfg_is_hw_key(const char *key);
void *cfg_slot(struct e2_config *cfg, const struct cfg_field *f);
const void *cfg_cslot(const struct e2_config *cfg, const struct cfg_field *f);

/* Every table default, resolved; a default that does not validate is a bug in a table
 * (E2_FAILURE). */
int cfg_defaults_checked(struct e2_config *cfg, struct e2_err *err);

/* ---- values (config_value.c) ---- */

/* A bounded string builder: appends what fits and remembers whether something did not. */
struct sbuf {
    char *p;
    size_t size, len;
    int overflow;
};
void cfg_sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The shortest decimal that reads back as exactly v. */
void cfg_format_double(double v, char *buf, size_t size);
/* The name of a CFG_CHOICE row's value: its index-th choice ("" when out of range). */
void cfg_choice_text(const struct cfg_field *f, int index, char *buf, size_t size);
/* "any", "at least 0", "[0, 1]": a number row's range. */
void cfg_range_text(const struct cfg_field *f, char *buf, size_t size);

/* A running "best candidate" search for a misspelled name. */
struct suggestion {
    char text[KEY_MAX + 1];
    int distance;
};
void cfg_suggest_consider(struct suggestion *s, const char *typed, const char *candidate);
/* Best guess for an unknown name typed inside section `prefix`. */
void cfg_suggest_key(const char *prefix, const char *typed, struct suggestion *s);
/* Best guess for an unknown full dotted key (--set, sweep.vary). */
void cfg_suggest_full_key(const char *typed, struct suggestion *s);
/* " (did you mean 'x'?)" or "". */
const char *cfg_did_you_mean(const struct suggestion *s, char *buf, size_t size);

/* Where a node came from, for messages: a file (node marks give line and column) or a label
 * such as "--set training.psg.beta=abc". */
struct origin {
    const char *file;
    const char *label;
};
int cfg_fail_node(struct e2_err *err, const struct origin *o, const yaml_node_t *node,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
const char *cfg_node_kind(const yaml_node_t *node);   /* "a mapping", "a list"... */
/* Text that reads whole as what an int key takes (base 10, in range of long) / a double key
 * takes (finite); the value into v. 1 or 0. */
int cfg_int_text(const char *s, long *v);
int cfg_number_text(const char *s, double *v);
/* "", "~", "null", "Null", "NULL": YAML's null (by our rules). */
int cfg_is_null_text(const char *s);
const char *cfg_scalar_of(const yaml_node_t *node);
int cfg_is_null_node(const yaml_node_t *node);

/* Store node's value into field f of cfg, validating it against the row. */
int cfg_apply_node(const struct origin *o, const struct cfg_field *f, yaml_document_t *doc,
                   yaml_node_t *node, struct e2_config *cfg, struct e2_err *err);
/* Apply YAML text as the value of field f. An empty text is empty text, or an empty list. */
int cfg_apply_text(const struct origin *o, const struct cfg_field *f, const char *text,
                   struct e2_config *cfg, struct e2_err *err);

/* ---- YAML (config_yaml.c) ---- */

/* Parse YAML text (a --set value, a default, a sweep list) into a document. 0, or -1 with why. */
int cfg_parse_text(const char *text, yaml_document_t *doc, char *why, size_t size);

/* ---- files (config_load.c) ---- */

/* Load path (with its includes) and the sets over cfg (which holds the defaults), then check
 * required keys, rules and every sweep point. */
int cfg_load_files(const char *path, const char *const *sets, int nsets, enum cfg_scope scope,
                   struct e2_config *cfg, struct e2_err *err);
/* Apply one "KEY=VALUE" of the command line (no cross-field rules yet). */
int cfg_apply_set(struct e2_config *cfg, enum cfg_scope scope, const char *assignment,
                  struct e2_err *err);

/* ---- rules (config_rules.c) ---- */

/* Resolve the derived fields and check every rule that spans more than one key: 0, or 1 with
 * why and the fields to blame (blame2 may be NULL). */
int cfg_resolve_rules(struct e2_config *cfg, const struct cfg_field **blame1,
                      const struct cfg_field **blame2, char *why, size_t size);

/* ---- sweeps (config_sweep.c) ---- */

/* Points of the sweep, or -1 (with why) when the lists do not form one. */
long cfg_sweep_count(const struct e2_config *cfg, char *why, size_t size);

#endif

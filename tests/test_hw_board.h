/* Tests only: a hardware YAML table (configs/hw/...) read by the real config loader, for tests
 * that link the whole program (e2core). */
#ifndef E2_TEST_HW_BOARD_H
#define E2_TEST_HW_BOARD_H

#include <stdio.h>
#include <stdlib.h>

#include "config.h"

/* *p = the table at `yaml` (a path under the source tree) over the defaults; 0 on success. */
static inline int hwt_board(struct hw_params *p, const char *yaml)
{
    struct e2_config *cfg = calloc(1, sizeof *cfg);
    struct e2_err e = {""};
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", E2SIM_SOURCE_DIR, yaml);
    int rc = cfg ? cfg_load_scoped(path, NULL, 0, CFG_SCOPE_HW, cfg, &e) : E2_FAILURE;
    if (rc == E2_OK)
        *p = cfg->hw;
    else
        fprintf(stderr, "\n%s: %s\n", yaml, e.msg);
    free(cfg);
    return rc;
}

#endif

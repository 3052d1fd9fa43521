/* Commands whose issue has not landed yet. Each says so and fails (exit status 1); nothing here
 * pretends to work. Whoever implements a command deletes its stub from this file. */
#include "commands.h"

int cmd_bench(const struct e2_options *opts, const struct e2_config *cfg, struct e2_err *err)
{
    (void)opts;
    (void)cfg;
    return e2_fail(err, E2_FAILURE, "bench: not implemented yet (issue 3)");
}

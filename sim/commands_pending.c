/* Commands whose issue has not landed yet. Each says so and fails (exit status 1); nothing here
 * pretends to work. Whoever implements a command deletes its stub from this file. */
#include "commands.h"

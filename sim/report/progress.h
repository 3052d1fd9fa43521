/* The progress line: the one piece of UI below main. The caller (main, run, sweep) owns the
 * FILE* and drives the object; the library never prints on its own.
 *   tty mode:   one line redrawn in place with '\r' (at most ~10 times a second)
 *   plain mode: a full line every PROGRESS_PLAIN_EVERY_S seconds (logs, pipes, CI)
 *   off:        nothing (--quiet) */
#ifndef E2_PROGRESS_H
#define E2_PROGRESS_H

#include <stdint.h>
#include <stdio.h>
#include "config.h"

#define PROGRESS_PLAIN_EVERY_S 5.0
#define PROGRESS_TTY_EVERY_S 0.1

enum progress_mode { PROGRESS_AUTO, PROGRESS_TTY, PROGRESS_PLAIN, PROGRESS_OFF };

struct progress {
    FILE *f;
    enum progress_mode mode;    /* resolved: never PROGRESS_AUTO after progress_init */
    char what[32];              /* "iter", "point", ... */
    uint64_t total;
    double t0, last;            /* seconds (monotonic clock or caller's clock) */
    int printed;                /* something printed since the last newline (tty mode) */
    int line_len;               /* length of the last tty line, to blank leftovers */
};

/* mode PROGRESS_AUTO picks TTY when f is a terminal, PLAIN otherwise. `what` names the unit
 * ("iter"), total is the number of units (0 = unknown). Starts the clock. */
void progress_init(struct progress *p, FILE *f, enum progress_mode mode, const char *what,
                   uint64_t total);
/* The report.progress config key (auto, plain, off) to a mode; quiet forces off. */
enum progress_mode progress_mode_from(enum cfg_progress setting, int quiet);

/* Report `done` units; loss / top1 / joules may be NaN when unknown. Prints when due. */
void progress_update(struct progress *p, uint64_t done, double loss, double top1, double joules);
/* The same with an explicit clock (seconds since any fixed origin), for tests. */
void progress_update_at(struct progress *p, double now, uint64_t done, double loss, double top1,
                        double joules);
/* Print a free-form message line (keeps the tty line intact). */
void progress_note(struct progress *p, const char *msg);
/* Wipe the tty line (if one is shown) so that other output starts on a clean line. */
void progress_clear(struct progress *p);
/* Print the final state (always, unless off) and end the line. */
void progress_finish(struct progress *p, uint64_t done, double loss, double top1, double joules);

/* Seconds on the monotonic clock. */
double progress_now(void);
/* "1h02m", "3m05s", "12s" (buf >= 16). */
void progress_format_duration(char *buf, size_t size, double seconds);

#endif

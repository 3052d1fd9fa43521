/* Progress line; see progress.h. */
#define _POSIX_C_SOURCE 200809L
#include "progress.h"

#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void progress_format_duration(char *buf, size_t size, double s)
{
    if (!isfinite(s) || s < 0) {
        snprintf(buf, size, "?");
        return;
    }
    long t = lround(s);
    if (t >= 3600)
        snprintf(buf, size, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        snprintf(buf, size, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, size, "%lds", t);
}

enum progress_mode progress_mode_from(enum cfg_progress setting, int quiet)
{
    if (quiet || setting == CFG_PROGRESS_OFF)
        return PROGRESS_OFF;
    return setting == CFG_PROGRESS_PLAIN ? PROGRESS_PLAIN : PROGRESS_AUTO;
}

static void init_at(struct progress *p, FILE *f, enum progress_mode mode, const char *what,
                    uint64_t total, double now)
{
    memset(p, 0, sizeof *p);
    p->f = f;
    if (!f)
        mode = PROGRESS_OFF;
    if (mode == PROGRESS_AUTO)
        mode = isatty(fileno(f)) ? PROGRESS_TTY : PROGRESS_PLAIN;
    p->mode = mode;
    snprintf(p->what, sizeof p->what, "%s", what ? what : "step");
    p->total = total;
    p->t0 = now;
    p->last = -INFINITY;
}

void progress_init(struct progress *p, FILE *f, enum progress_mode mode, const char *what,
                   uint64_t total)
{
    init_at(p, f, mode, what, total, progress_now());
}

/* "iter 120/500  loss 0.412  top1 86.1%  1.23 J  ETA 2m05s" */
static int format_line(const struct progress *p, char *buf, size_t size, double now, uint64_t done,
                       double loss, double top1, double joules)
{
    int n = 0;
    if (p->total)
        n += snprintf(buf + n, size - (size_t)n, "%s %llu/%llu", p->what,
                      (unsigned long long)done, (unsigned long long)p->total);
    else
        n += snprintf(buf + n, size - (size_t)n, "%s %llu", p->what, (unsigned long long)done);
    if (isfinite(loss))
        n += snprintf(buf + n, size - (size_t)n, "  loss %.4f", loss);
    if (isfinite(top1))
        n += snprintf(buf + n, size - (size_t)n, "  top1 %.2f%%", 100 * top1);
    if (isfinite(joules))
        n += snprintf(buf + n, size - (size_t)n, "  %.4g J", joules);
    double elapsed = now - p->t0;
    char t[16];
    if (p->total && done > 0 && done < p->total) {
        progress_format_duration(t, sizeof t, elapsed / (double)done * (double)(p->total - done));
        n += snprintf(buf + n, size - (size_t)n, "  ETA %s", t);
    } else {
        progress_format_duration(t, sizeof t, elapsed);
        n += snprintf(buf + n, size - (size_t)n, "  %s", t);
    }
    return n < (int)size ? n : (int)size - 1;
}

static void print_line(struct progress *p, double now, uint64_t done, double loss, double top1,
                       double joules, int final)
{
    char line[256];
    int len = format_line(p, line, sizeof line, now, done, loss, top1, joules);
    if (p->mode == PROGRESS_TTY) {
        /* pad with blanks so a shorter line wipes the end of the longer one before it */
        fprintf(p->f, "\r%s%*s", line, p->line_len > len ? p->line_len - len : 0, "");
        p->line_len = len;
        p->printed = 1;
        if (final) {
            fputc('\n', p->f);
            p->printed = 0;
            p->line_len = 0;
        }
    } else {
        fprintf(p->f, "%s\n", line);
    }
    fflush(p->f);
    p->last = now;
}

void progress_update_at(struct progress *p, double now, uint64_t done, double loss, double top1,
                        double joules)
{
    if (p->mode == PROGRESS_OFF)
        return;
    double every = p->mode == PROGRESS_TTY ? PROGRESS_TTY_EVERY_S : PROGRESS_PLAIN_EVERY_S;
    if (now - p->last < every)
        return;
    print_line(p, now, done, loss, top1, joules, 0);
}

void progress_update(struct progress *p, uint64_t done, double loss, double top1, double joules)
{
    progress_update_at(p, progress_now(), done, loss, top1, joules);
}

void progress_clear(struct progress *p)
{
    if (p->mode == PROGRESS_OFF || !p->printed)
        return;
    fprintf(p->f, "\r%*s\r", p->line_len, "");
    fflush(p->f);
    p->printed = 0;
    p->line_len = 0;
    p->last = -INFINITY;   /* redraw the line at the next update */
}

void progress_note(struct progress *p, const char *msg)
{
    if (p->mode == PROGRESS_OFF)
        return;
    progress_clear(p);
    fprintf(p->f, "%s\n", msg);
    fflush(p->f);
}

void progress_finish(struct progress *p, uint64_t done, double loss, double top1, double joules)
{
    if (p->mode == PROGRESS_OFF)
        return;
    print_line(p, progress_now(), done, loss, top1, joules, 1);
}

/* The progress line: '\r' redraws on a terminal, plain lines every few seconds otherwise,
 * nothing when quiet; the ETA from the rate so far. */
#define _POSIX_C_SOURCE 200809L
#include "cunit_main.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"

static char *contents(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    rewind(f);
    char *s = calloc(1, (size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n)
        s[0] = '\0';
    return s;
}

static int count(const char *s, char c)
{
    int n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

static void test_plain_lines_every_few_seconds(void)
{
    FILE *f = tmpfile();
    struct progress p;
    progress_init(&p, f, PROGRESS_AUTO, "iter", 100);   /* a file: plain */
    CU_ASSERT_EQUAL(p.mode, PROGRESS_PLAIN);
    p.t0 = 1000;
    for (int i = 1; i <= 100; i++)   /* one iteration every 0.5 s: 50 s in all */
        progress_update_at(&p, 1000 + 0.5 * i, (uint64_t)i, 1.0 / i, 0.5, 0.01 * i);
    char *s = contents(f);
    /* first update prints, then one line per PROGRESS_PLAIN_EVERY_S = 5 s */
    CU_ASSERT_EQUAL(count(s, '\n'), 10);
    CU_ASSERT_EQUAL(count(s, '\r'), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "iter 1/100  loss 1.0000  top1 50.00%  0.01 J  ETA 50s\n"));
    /* at iteration 11: 5.5 s for 11 iterations, 89 to go -> 44.5 s */
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "iter 11/100  loss 0.0909  top1 50.00%  0.11 J  ETA 45s\n"));
    free(s);
    fclose(f);
}

static void test_tty_redraws_in_place(void)
{
    FILE *f = tmpfile();
    struct progress p;
    progress_init(&p, f, PROGRESS_TTY, "iter", 0);
    p.t0 = 0;
    progress_update_at(&p, 1.0, 100, NAN, NAN, NAN);
    progress_update_at(&p, 1.05, 101, NAN, NAN, NAN);   /* too soon: skipped */
    progress_update_at(&p, 1.2, 9, 0.25, NAN, 2.5);
    progress_note(&p, "checkpoint written");
    char *s = contents(f), want[128];
    snprintf(want, sizeof want, "\riter 100  1s"
                              "\riter 9  loss 0.2500  2.5 J  1s"
                              "\r%30s\r" "checkpoint written\n", "");
    CU_ASSERT_STRING_EQUAL(s, want);
    free(s);
    fclose(f);
}

static void test_quiet_prints_nothing(void)
{
    FILE *f = tmpfile();
    struct progress p;
    progress_init(&p, f, progress_mode_from(CFG_PROGRESS_AUTO, 1), "iter", 10);
    progress_update_at(&p, 100, 5, 0.1, 0.2, 0.3);
    progress_note(&p, "x");
    progress_finish(&p, 10, 0.1, 0.2, 0.3);
    char *s = contents(f);
    CU_ASSERT_STRING_EQUAL(s, "");
    free(s);
    fclose(f);
    CU_ASSERT_EQUAL(progress_mode_from(CFG_PROGRESS_OFF, 0), PROGRESS_OFF);
    CU_ASSERT_EQUAL(progress_mode_from(CFG_PROGRESS_PLAIN, 0), PROGRESS_PLAIN);
    CU_ASSERT_EQUAL(progress_mode_from(CFG_PROGRESS_AUTO, 0), PROGRESS_AUTO);
}

static void test_finish_ends_the_line(void)
{
    FILE *f = tmpfile();
    struct progress p;
    progress_init(&p, f, PROGRESS_TTY, "point", 4);
    progress_finish(&p, 4, NAN, NAN, NAN);
    char *s = contents(f);
    CU_ASSERT_EQUAL(strncmp(s, "\rpoint 4/4  ", 12), 0);
    CU_ASSERT_EQUAL(s[strlen(s) - 1], '\n');
    free(s);
    fclose(f);
}

static void test_durations(void)
{
    char b[16];
    progress_format_duration(b, sizeof b, 3725);
    CU_ASSERT_STRING_EQUAL(b, "1h02m");
    progress_format_duration(b, sizeof b, 185);
    CU_ASSERT_STRING_EQUAL(b, "3m05s");
    progress_format_duration(b, sizeof b, 12.4);
    CU_ASSERT_STRING_EQUAL(b, "12s");
    progress_format_duration(b, sizeof b, NAN);
    CU_ASSERT_STRING_EQUAL(b, "?");
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "plain lines every few seconds", test_plain_lines_every_few_seconds },
        { "tty redraws in place", test_tty_redraws_in_place },
        { "quiet prints nothing", test_quiet_prints_nothing },
        { "finish ends the line", test_finish_ends_the_line },
        { "durations", test_durations },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("progress", NULL, NULL, tests);
}

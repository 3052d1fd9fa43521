/* What every fuzz target shares. The readers under test take file paths, so each input is
 * written into a private scratch folder first (made once per process under $TMPDIR or /tmp,
 * removed at exit). Targets are built with clang -fsanitize=fuzzer,address,undefined; see
 * scripts/fuzz and the README's "Fuzzing" paragraph. */
#ifndef E2SIM_FUZZ_H
#define E2SIM_FUZZ_H

#define _GNU_SOURCE
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[256];

static int fuzz_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(path);
}

static void fuzz_remove_dir(void)
{
    nftw(fuzz_dir, fuzz_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The scratch folder, made on first use. */
static const char *fuzz_scratch(void)
{
    if (!fuzz_dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(fuzz_dir, sizeof fuzz_dir, "%s/e2sim-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(fuzz_dir)) {
            perror("e2sim fuzz: mkdtemp");
            abort();
        }
        atexit(fuzz_remove_dir);
    }
    return fuzz_dir;
}

/* Writes size bytes as scratch/name; returns the path (a static buffer per call site is not
 * needed: the caller copies it into `path`). */
static inline void fuzz_write(char *path, size_t psize, const char *name, const void *data, size_t size)
{
    snprintf(path, psize, "%s/%s", fuzz_scratch(), name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

/* Removes scratch/name if it exists. */
static inline void fuzz_unlink(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fuzz_scratch(), name);
    unlink(path);
}

static inline uint32_t fuzz_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void fuzz_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void fuzz_exit_now(int status, void *unused)
{
    (void)unused;
    _exit(status);
}

/* For targets that run the SystemC hardware model: LeakSanitizer's check at process exit cannot
 * follow SystemC's coroutine stacks and reports libFuzzer's own live objects as leaked, so the
 * process ends (with its status) before that check. libFuzzer's leak check after each input
 * (-detect_leaks) still runs. */
static inline void fuzz_skip_exit_leak_check(void)
{
    on_exit(fuzz_exit_now, NULL);
}

/* With E2SIM_FUZZ_VERBOSE set, each input's outcome ("ok" or the error) goes to stderr: how to
 * see what a seed or a found input does (fuzz_TARGET FILE). */
static inline void fuzz_outcome(int rc, const char *msg)
{
    if (getenv("E2SIM_FUZZ_VERBOSE"))
        fprintf(stderr, "%s\n", rc == 0 ? "ok" : msg);
}

/* A failed property: say what, then abort so libFuzzer keeps the input. */
#define FUZZ_CHECK(cond, ...)                                                                    \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, "e2sim fuzz: property failed: %s: ", #cond);                         \
            fprintf(stderr, __VA_ARGS__);                                                        \
            fputc('\n', stderr);                                                                 \
            abort();                                                                             \
        }                                                                                        \
    } while (0)

#endif

/* Fuzz target: the config loader (sim/config*.c) with --set overrides. The input is a config
 * file; each of its lines that starts with "#set " (a YAML comment) is also passed as a --set
 * assignment, up to 8. Includes of the shipped configs work (link_config_folders).
 *
 * Properties: a load either succeeds or fails with a message; a loaded config printed
 * (--print-config) loads again and prints byte-identically (docs/config.md's promise). */
#include "fuzz.h"

#include <dirent.h>
#include <sys/stat.h>

#include "config.h"

#define MAX_SETS 8

/* Every entry of configs/ linked into scratch/ and scratch/c/, where the config is written: its
 * includes resolve as they would next to the shipped configs ("hw/...", "../hw/..."). */
static void link_config_folders(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    char configs[512], sub[512];
    snprintf(configs, sizeof configs, "%s/configs", E2SIM_SOURCE_DIR);
    snprintf(sub, sizeof sub, "%s/c", fuzz_scratch());
    if (mkdir(sub, 0755) != 0)
        perror(sub);
    DIR *d = opendir(configs);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char from[1024], to[1024];
        snprintf(from, sizeof from, "%s/%s", configs, e->d_name);
        snprintf(to, sizeof to, "%s/%s", fuzz_scratch(), e->d_name);
        if (symlink(from, to) != 0)
            perror(to);
        snprintf(to, sizeof to, "%s/%s", sub, e->d_name);
        if (symlink(from, to) != 0)
            perror(to);
    }
    if (d)
        closedir(d);
}

/* The "#set " lines of text (modified in place), in order. */
static int collect_sets(char *text, const char **sets)
{
    int n = 0;
    for (char *line = text; line && n < MAX_SETS;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        if (strncmp(line, "#set ", 5) == 0)
            sets[n++] = line + 5;
        line = next;
    }
    return n;
}

static void check_round_trip(const struct e2_config *cfg)
{
    char *printed = cfg_print_text(cfg);
    if (!printed)
        return;
    char path[512];
    fuzz_write(path, sizeof path, "c/printed.yaml", printed, strlen(printed));
    struct e2_config *again = malloc(sizeof *again);
    struct e2_err err = {{0}};
    FUZZ_CHECK(again != NULL, "out of memory");
    int rc = cfg_load(path, NULL, 0, again, &err);
    FUZZ_CHECK(rc == E2_OK, "the printed config does not load: %s", err.msg);
    char *reprinted = cfg_print_text(again);
    FUZZ_CHECK(reprinted && strcmp(printed, reprinted) == 0,
               "printing the reloaded config gives other text");
    free(reprinted);
    free(again);
    free(printed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    link_config_folders();
    char path[512];
    fuzz_write(path, sizeof path, "c/config.yaml", data, size);
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    const char *sets[MAX_SETS];
    int nsets = collect_sets(text, sets);
    struct e2_config *cfg = malloc(sizeof *cfg);
    struct e2_err err = {{0}};
    int rc = cfg ? cfg_load(path, sets, nsets, cfg, &err) : E2_FAILURE;
    fuzz_outcome(rc, err.msg);
    if (rc == E2_OK)
        check_round_trip(cfg);
    else if (cfg)
        FUZZ_CHECK(err.msg[0] != 0, "rc %d without a message", rc);
    free(cfg);
    free(text);
    return 0;
}

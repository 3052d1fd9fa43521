/* What several test files need around the file system: one scratch folder per suite under
 * /tmp, paths in it, and small text files written there. Include after the feature macro
 * (_DEFAULT_SOURCE) that declares mkdtemp. */
#ifndef E2SIM_TESTS_TESTUTIL_H
#define E2SIM_TESTS_TESTUTIL_H

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static char tmpdir[256];   /* the suite's scratch folder, made by tmpdir_create */

/* Makes /tmp/e2sim_test_<suite>_XXXXXX; 0 or -1 (a CUnit suite set-up's convention). */
static inline int tmpdir_create(const char *suite)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/e2sim_test_%s_XXXXXX", suite);
    return mkdtemp(tmpdir) ? 0 : -1;
}

/* Removes the scratch folder and everything in it; 0 or -1 (a suite clean-up). */
static inline int tmpdir_remove(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* buf = tmpdir/name */
static inline void path_of(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmpdir, name);
}

/* Writes text to tmpdir/name; a file that cannot be opened ends the test. */
static inline void write_file(const char *name, const char *text)
{
    char path[512];
    path_of(path, sizeof path, name);
    FILE *fp = fopen(path, "wb");
    CU_ASSERT_FATAL(fp != NULL);
    fputs(text, fp);
    fclose(fp);
}

/* Makes the new folder tmpdir/folder with the file `file` holding text in it; the folder's path
 * into dir. */
static inline void folder_with_file(const char *folder, const char *file, const char *text,
                                    char *dir, size_t size)
{
    char name[256];
    path_of(dir, size, folder);
    CU_ASSERT_FATAL(mkdir(dir, 0755) == 0);
    snprintf(name, sizeof name, "%s/%s", folder, file);
    write_file(name, text);
}

/* The whole file as a NUL-terminated string (free it), or NULL when it cannot be read. */
static inline char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s)
        s[n] = 0;
    fclose(f);
    return s;
}

#endif

/* Tests of sim/app/cmd_export_ert.c: --out FILE gets exactly what ert_write makes of the
 * config's table (written atomically: a failed write leaves no file). */
#define _DEFAULT_SOURCE   /* mkdtemp, open_memstream */
#include "cunit_main.h"
#include "testutil.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_args.h"
#include "commands.h"
#include "ert.h"

#define HW_YAML E2SIM_SOURCE_DIR "/configs/hw/zynq7020.yaml"

static int setup(void) { return tmpdir_create("cmd_export_ert"); }
static int cleanup(void) { return tmpdir_remove(); }

static void test_out_file_is_the_table(void)
{
    struct e2_options opts;
    struct e2_err err = {""};
    char words[1024], path[512];
    path_of(path, sizeof path, "table.yaml");
    snprintf(words, sizeof words, "export-ert --config %s --out %s", HW_YAML, path);
    CU_ASSERT_EQUAL_FATAL(options_of(words, &opts, &err), E2_OK);
    struct e2_config *cfg = malloc(sizeof *cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_EQUAL_FATAL(cfg_load_scoped(HW_YAML, NULL, 0, CFG_SCOPE_HW, cfg, &err), E2_OK);
    CU_ASSERT_EQUAL(cmd_export_ert(&opts, cfg, &err), E2_OK);
    char *want = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&want, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    ert_write(f, &cfg->hw, cfg->name);
    fclose(f);
    char *got = read_text(path);
    CU_ASSERT_PTR_NOT_NULL(got);
    CU_ASSERT(got && strcmp(got, want) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(want, "ERT"));
    free(got);
    free(want);
    /* a folder that does not exist: bad input, and nothing written */
    path_of(path, sizeof path, "missing/table.yaml");
    opts.out_dir = path;
    CU_ASSERT_EQUAL(cmd_export_ert(&opts, cfg, &err), E2_BAD_INPUT);
    CU_ASSERT(strstr(err.msg, "missing/table.yaml: cannot write in folder") != NULL);
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
    /* a FIFO (as /dev/null or /dev/stdout would be) stays one: the rename replaced it */
    path_of(path, sizeof path, "fifo");
    CU_ASSERT_FATAL(mkfifo(path, 0644) == 0);
    CU_ASSERT_EQUAL(cmd_export_ert(&opts, cfg, &err), E2_BAD_INPUT);
    CU_ASSERT(strstr(err.msg, "fifo: exists and is not a regular file") != NULL);
    struct stat st;
    CU_ASSERT(stat(path, &st) == 0 && S_ISFIFO(st.st_mode));
    free(cfg);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"--out FILE is the table", test_out_file_is_the_table},
        CU_TEST_INFO_NULL,
    };
    return cunit_run("cmd_export_ert", setup, cleanup, tests);
}

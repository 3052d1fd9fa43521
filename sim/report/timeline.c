/* report.timeline's files (see report.h): the hardware model draws them. */
#include "report.h"

#include "hw.h"
#include "outdir.h"

int report_write_timeline(const char *outdir, struct hw_model *m, const struct oprec *records,
                          size_t n, const char *const *labels, struct e2_err *err)
{
    char json[OUT_PATH_MAX], vcd[OUT_PATH_MAX], msg[512] = "";
    int rc = out_join(json, sizeof json, outdir, "timeline.json.gz", err);
    if (rc == E2_OK)
        rc = out_join(vcd, sizeof vcd, outdir, "timeline.vcd", err);
    if (rc != E2_OK)
        return rc;
    int hr = hw_timeline_write_ops(m, records, n, labels, json, vcd, msg, sizeof msg);
    return hr ? e2_fail(err, hr == 2 ? E2_BAD_INPUT : E2_FAILURE, "%s", msg) : E2_OK;
}

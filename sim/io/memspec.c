/* DRAMPower memspec reader (see memspec.h). Timings are in clock cycles of clkMhz there,
 * nanoseconds here; currents in mA per device in both. Currents the memspec leaves out are 0,
 * as in DRAMPower (e.g. a DDR3 part has no VPP currents). */
#include "memspec.h"

#include <math.h>
#include <string.h>

#include "json.h"

static int need(const struct json_value *spec, const char *path, const char *file, double *out,
                struct e2_err *err)
{
    const struct json_value *v = json_get(spec, path);
    /* 1e6 is above any real timing (cycles), current (mA), width or clock (MHz), and keeps
     * the products below (page size) inside an int */
    if (!v || v->type != JSON_NUMBER || !isfinite(v->number) || v->number < 0 || v->number > 1e6)
        return e2_fail(err, E2_BAD_INPUT, "%s: memspec.%s must be a number in 0..1e6", file, path);
    *out = v->number;
    return E2_OK;
}

static double optional(const struct json_value *spec, const char *path)
{
    return json_get_number(spec, path, 0.0);
}

static int read_spec(const struct json_value *spec, const char *file, struct hw_params *hw,
                     struct e2_err *err)
{
    const char *type = json_get_string(spec, "memoryType");
    if (!type || (strcmp(type, "DDR3") != 0 && strcmp(type, "DDR4") != 0))
        return e2_fail(err, E2_BAD_INPUT, "%s: memspec.memoryType must be DDR3 or DDR4 (got %s)",
                       file, type ? type : "none");
    double bl = 0, banks = 0, cols = 0, width = 0, clk = 0, rcd = 0, rp = 0, ras = 0, rfc = 0, refi = 0;
    struct hw_ddr_energy e = hw->energy.ddr;
    if (need(spec, "memarchitecturespec.burstLength", file, &bl, err) ||
        need(spec, "memarchitecturespec.nbrOfBanks", file, &banks, err) ||
        need(spec, "memarchitecturespec.nbrOfColumns", file, &cols, err) ||
        need(spec, "memarchitecturespec.width", file, &width, err) ||
        need(spec, "memtimingspec.clkMhz", file, &clk, err) ||
        need(spec, "memtimingspec.RCD", file, &rcd, err) ||
        need(spec, "memtimingspec.RP", file, &rp, err) ||
        need(spec, "memtimingspec.RAS", file, &ras, err) ||
        need(spec, "memtimingspec.RFC", file, &rfc, err) ||
        need(spec, "memtimingspec.REFI", file, &refi, err) ||
        need(spec, "mempowerspec.vdd", file, &e.vdd, err) ||
        need(spec, "mempowerspec.idd0", file, &e.idd0_ma, err) ||
        need(spec, "mempowerspec.idd2n", file, &e.idd2n_ma, err) ||
        need(spec, "mempowerspec.idd3n", file, &e.idd3n_ma, err) ||
        need(spec, "mempowerspec.idd4r", file, &e.idd4r_ma, err) ||
        need(spec, "mempowerspec.idd4w", file, &e.idd4w_ma, err))
        return E2_BAD_INPUT;
    /* DDR4 memspecs name the refresh current idd5B (all-bank burst refresh) */
    const char *idd5 = json_get(spec, "mempowerspec.idd5B") ? "mempowerspec.idd5B" : "mempowerspec.idd5";
    if (need(spec, idd5, file, &e.idd5_ma, err))
        return E2_BAD_INPUT;
    if (clk <= 0)
        return e2_fail(err, E2_BAD_INPUT, "%s: memspec.memtimingspec.clkMhz must be positive", file);
    if (cols * width / 8 > 1048576)
        return e2_fail(err, E2_BAD_INPUT, "%s: memspec: a page of nbrOfColumns x width is over 1 MiB",
                       file);
    e.vpp = optional(spec, "mempowerspec.vpp");
    e.ipp0_ma = optional(spec, "mempowerspec.ipp0");
    e.ipp3n_ma = optional(spec, "mempowerspec.ipp3n");
    e.ipp5_ma = optional(spec, "mempowerspec.ipp5B");
    double tck = 1000.0 / clk;
    struct hw_ddr d = hw->ddr;
    d.clock_mhz = clk;
    d.burst_length = (int)bl;
    d.banks = (int)banks;
    d.device_bits = (int)width;
    d.page_bytes = (int)(cols * width / 8);
    if (json_get(spec, "memarchitecturespec.nbrOfDevicesOnDIMM")) {
        double devices = 0;
        if (need(spec, "memarchitecturespec.nbrOfDevicesOnDIMM", file, &devices, err) ||
            devices > 64)
            return e2_fail(err, E2_BAD_INPUT,
                           "%s: memspec.memarchitecturespec.nbrOfDevicesOnDIMM must be 0..64", file);
        d.devices = (int)devices;
    }
    d.bus_bits = d.devices * d.device_bits;
    d.trcd_ns = rcd * tck;
    d.trp_ns = rp * tck;
    d.tras_ns = ras * tck;
    d.trfc_ns = rfc * tck;
    d.trefi_ns = refi * tck;
    hw->ddr = d;
    hw->energy.ddr = e;
    return E2_OK;
}

int memspec_read(const char *path, struct hw_params *hw, struct e2_err *err)
{
    struct json_value *root = NULL;
    int rc = json_parse_file(path, &root, err);
    if (rc != E2_OK)
        return E2_BAD_INPUT;
    const struct json_value *spec = json_get(root, "memspec");
    rc = spec && spec->type == JSON_OBJECT
             ? read_spec(spec, path, hw, err)
             : e2_fail(err, E2_BAD_INPUT, "%s: not a DRAMPower memspec (no top-level \"memspec\")", path);
    json_free(root);
    return rc;
}

#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then use only what was installed, from a working
# directory outside both trees: the installed configs resolve (through includes two folders
# apart) to exactly what the source configs resolve to, an installed paper config runs in the
# energy-only mode, an installed trace replays on an installed hardware table, and the man page
# renders, names every option of --help and carries the binary's version.
#
#   tests/test_install.sh CMAKE BUILD_DIR SOURCE_DIR
set -uo pipefail

cmake=$1
build_dir=$2
source_dir=$3
status=0
fail() { echo "FAILED: $*"; status=1; }

prefix=$(mktemp -d /tmp/e2sim-install.XXXXXX) || { echo "FAILED: mktemp"; exit 1; }
trap 'rm -rf "$prefix"' EXIT
if ! "$cmake" --install "$build_dir" --prefix "$prefix" >"$prefix/install.log" 2>&1; then
    cat "$prefix/install.log"
    echo "FAILED: cmake --install $build_dir --prefix $prefix"
    exit 1
fi

e2sim=$prefix/bin/e2sim
configs=$prefix/share/e2sim/configs
for file in bin/e2sim share/e2sim/configs/zedboard.yaml share/e2sim/configs/hw/zynq7020.yaml \
    share/e2sim/configs/sweeps/engine_design.yaml share/e2sim/traces/resnet8-fmnist-1k.e2t \
    share/doc/e2sim/README.md share/doc/e2sim/config.md share/doc/e2sim/outputs.md \
    share/man/man1/e2sim.1; do
    [ -s "$prefix/$file" ] || fail "$file was not installed"
done
[ -x "$e2sim" ] || { echo "FAILED: no installed binary"; exit 1; }

mkdir "$prefix/elsewhere" && cd "$prefix/elsewhere" || exit 1

# engine_design.yaml includes ../paper/resnet74-cifar10-e2train.yaml, which includes
# paper-base.yaml, which includes ../hw/zynq7020-calibrated.yaml.
for config in zedboard.yaml sweeps/engine_design.yaml; do
    if ! "$e2sim" --config "$configs/$config" --print-config >installed.yaml; then
        fail "the installed $config does not load"
    elif ! "$e2sim" --config "$source_dir/configs/$config" --print-config >source.yaml; then
        fail "the source $config does not load"
    elif ! diff -u source.yaml installed.yaml; then
        fail "the installed $config resolves differently from the source one"
    fi
done
grep -q '^sweep: *# [0-9]* points$' installed.yaml || fail "--print-config shows no sweep point count"

"$e2sim" --config "$configs/paper/resnet74-cifar10-e2train.yaml" --out run --quiet ||
    fail "an energy-only run of the installed paper config failed"
grep -q '"schema": *"e2sim.report/1"' run/report.json 2>/dev/null || fail "run/report.json is missing or not a report"

"$e2sim" replay "$prefix/share/e2sim/traces/resnet8-fmnist-1k.e2t" --config "$configs/hw/zynq7020.yaml" \
    --out replay --quiet || fail "replaying the installed trace on the installed hw table failed"
[ -s replay/report.json ] || fail "replay/report.json is missing"

man_page=$prefix/share/man/man1/e2sim.1
if command -v groff >/dev/null; then
    warnings=$(groff -man -Tutf8 -ww -z "$man_page" 2>&1)
    [ -z "$warnings" ] || fail "groff warns about the man page: $warnings"
else
    echo "note: groff is not installed, the man page was not rendered"
fi
for option in $("$e2sim" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
    grep -qF -- "${option//-/\\-}" "$man_page" || fail "the man page lacks $option (in --help)"
done
version=$("$e2sim" --version | awk '{print $2}')
grep -q "^\.TH E2SIM 1 .*\"e2sim $version\"" "$man_page" || fail "the man page's .TH does not say e2sim $version"

[ "$status" -eq 0 ] && echo "ok: installed into $prefix and ran from there"
exit "$status"

#!/usr/bin/env bash
# scripts/accuracy-table on synthetic data, two minibatches per method: two calls with different
# METHODS into one folder each end with the whole table (every method with a report.json), the
# SMD method runs twice the iterations, the savings column is against the fp32 SMB row, and the
# plot is an SVG with one point per method.
#
#   tests/test_accuracy_table.sh E2SIM SOURCE_DIR
set -uo pipefail

e2sim=$1
source_dir=$2
status=0
fail() { echo "FAILED: $*"; status=1; }

out=$(mktemp -d /tmp/e2sim-acctable.XXXXXX) || { echo "FAILED: mktemp"; exit 1; }
trap 'rm -rf "$out"' EXIT
export MINIBATCHES=2
export E2SIM_ARGS="--threads 1 --set dataset.name=synthetic --set dataset.path= --set training.batch_size=16"
METHODS=smb "$source_dir/scripts/accuracy-table" "$e2sim" "$out" >/dev/null 2>"$out/1.err" || fail "smb call: $(cat "$out/1.err")"
METHODS=e2train "$source_dir/scripts/accuracy-table" "$e2sim" "$out" >/dev/null 2>"$out/2.err" || fail "e2train call: $(cat "$out/2.err")"

rows=$(grep -c '^| ' "$out/accuracy.md")
[ "$rows" = 3 ] || fail "accuracy.md has $rows lines starting with '| ', want 3 (the header and two methods)"
grep -q '^| fp32 SMB | [0-9.]* | 2 | 2 | .* | 0.0 % | 0.0 % |' "$out/accuracy.md" || fail "no fp32 SMB row with 2 iterations"
grep -q '^| E2-Train (SMD + SLU + PSG + SWA) | [0-9.]* | 4 | [0-9] |' "$out/accuracy.md" || fail "no E2-Train row with 4 iterations"
[ "$(grep -c '^E2-Train\|^fp32 SMB' "$out/accuracy.csv")" = 2 ] || fail "accuracy.csv lacks a method"
[ "$(grep -c '<circle' "$out/accuracy.svg")" = 2 ] || fail "accuracy.svg does not hold two points"
ls "$out" | grep -q '\.tmp$\|\.raw$' && fail "temporary files left behind: $(ls "$out")"

# a bad MINIBATCHES is refused with status 2 before anything runs
MINIBATCHES=x "$source_dir/scripts/accuracy-table" "$e2sim" "$out/bad" >/dev/null 2>&1
[ $? = 2 ] || fail "MINIBATCHES=x did not exit 2"
[ -e "$out/bad" ] && fail "MINIBATCHES=x made the output folder"
exit $status

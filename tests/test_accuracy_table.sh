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

# an interrupted method continues from its checkpoint when the table is rerun, and ends as an
# uninterrupted run does (same energy and accuracy)
export MINIBATCHES=60
export E2SIM_ARGS="$E2SIM_ARGS --set training.checkpoint_every=1"
METHODS=smb "$source_dir/scripts/accuracy-table" "$e2sim" "$out/whole" >/dev/null 2>&1 || fail "uninterrupted call"
set -m   # the background table gets its own process group: one kill stops it and its e2sim
METHODS=smb "$source_dir/scripts/accuracy-table" "$e2sim" "$out/cut" >/dev/null 2>&1 &
table=$!
set +m
for _ in $(seq 600); do [ -f "$out/cut/smb/checkpoint.e2ck" ] && break; sleep 0.05; done
kill -KILL -- "-$table" || fail "no run to interrupt (it finished first?)"
wait $table 2>/dev/null
[ -f "$out/cut/smb/report.json" ] && fail "the interrupted run wrote a report"
METHODS=smb "$source_dir/scripts/accuracy-table" "$e2sim" "$out/cut" >/dev/null 2>"$out/3.err" || fail "rerun: $(cat "$out/3.err")"
grep -q 'resuming' "$out/3.err" || fail "the rerun did not resume: $(cat "$out/3.err")"
for key in total_j top1 iterations; do
    a=$(grep -m1 "\"$key\": " "$out/whole/smb/report.json"); b=$(grep -m1 "\"$key\": " "$out/cut/smb/report.json")
    [ -n "$a" ] && [ "$a" = "$b" ] || fail "resumed $key '$b' differs from the uninterrupted run's '$a'"
done

# a bad MINIBATCHES is refused with status 2 before anything runs
MINIBATCHES=x "$source_dir/scripts/accuracy-table" "$e2sim" "$out/bad" >/dev/null 2>&1
[ $? = 2 ] || fail "MINIBATCHES=x did not exit 2"
[ -e "$out/bad" ] && fail "MINIBATCHES=x made the output folder"
exit $status

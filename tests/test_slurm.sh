#!/usr/bin/env bash
# scripts/slurm-sweep on a real one-node Slurm cluster on localhost: this test starts its own
# munged, slurmctld and slurmd from files in a private temporary folder (own munge key and
# socket, own ports, own state and spool), runs a 6-point energy-only sweep through the script
# twice (one task per point, and --array=1-4: 4 shards for 6 points), and checks that each
# merged sweep.csv equals the unsharded run's. It stops the daemons it started by their PIDs.
# Where the daemons cannot run (not root, Slurm or munge missing, a port taken) it exits 77,
# which ctest reports as skipped.
#
#   tests/test_slurm.sh E2SIM SOURCE_DIR
set -uo pipefail

SKIP=77
e2sim=$1
source_dir=$2

skip() { echo "SKIPPED: $*"; exit $SKIP; }
fail() { echo "FAILED: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || skip "slurmd must run as root to launch jobs"
for tool in munged mungekey slurmctld slurmd sbatch scontrol squeue scancel; do
    command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/install-deps installs slurm-wlm and munge)"
done

# A Slurm job or a user setting around us must not reach this private cluster.
while read -r name; do unset "$name"; done < <(env | sed -n 's/^\(S\(LURM\|BATCH\|QUEUE\)_[A-Za-z0-9_]*\)=.*/\1/p')

dir=$(mktemp -d /tmp/e2sim-slurm.XXXXXX) || fail "mktemp"
chmod 755 "$dir"   # munged wants every directory above its socket searchable by all
export SLURM_CONF=$dir/slurm.conf

# shellcheck disable=SC2317  # called from the trap
stop_pid_file() {   # stop one daemon by the PID it wrote, waiting up to 10 s
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    echo "warning: $1 (pid $pid) still runs after 10 s: killing it"
    kill -9 "$pid" 2>/dev/null
}
# shellcheck disable=SC2317  # called from the trap
cleanup() {
    if [ -f "$dir/slurmctld.pid" ]; then
        scancel --user="$(id -un)" 2>/dev/null   # this cluster's jobs only (SLURM_CONF)
    fi
    stop_pid_file "$dir/slurmd.pid"
    stop_pid_file "$dir/slurmctld.pid"
    stop_pid_file "$dir/munged.pid"
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM   # so that cleanup runs on these too

show_logs() {
    for log in "$dir"/*.log; do echo "--- $log"; tail -n 15 "$log"; done
}

# Two ports nothing listens on, picked from a range that depends on our PID.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ports=()
for offset in $(seq 0 199); do
    port=$((20000 + ($$ * 7 + offset * 13) % 40000))
    port_in_use "$port" || ports+=("$port")
    [ ${#ports[@]} -eq 2 ] && break
done
[ ${#ports[@]} -eq 2 ] || skip "no free TCP ports found"

host=$(uname -n | cut -d. -f1)
mkdir -p "$dir/state" "$dir/spool"
cat >"$SLURM_CONF" <<EOF
ClusterName=e2simtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=${ports[0]}
SlurmdPort=${ports[1]}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge.sock
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MailProg=/bin/true
# 12 CPUs, more than the machine may have (config_overrides allows it), so that all 10 array
# tasks start in one scheduling pass: Slurm schedules every 2-3 s here, a pass per wave.
SlurmdParameters=config_overrides
NodeName=e2simtest NodeHostname=$host NodeAddr=127.0.0.1 CPUs=12 State=UNKNOWN
PartitionName=e2simtest Nodes=e2simtest Default=YES MaxTime=INFINITE State=UP
EOF

mungekey --create --keyfile="$dir/munge.key" || skip "mungekey could not create a key"
munged --socket="$dir/munge.sock" --key-file="$dir/munge.key" --pid-file="$dir/munged.pid" \
    --log-file="$dir/munged.log" --seed-file="$dir/munged.seed" ||
    { show_logs; skip "munged did not start"; }
slurmctld -f "$SLURM_CONF" || { show_logs; skip "slurmctld did not start"; }
slurmd -f "$SLURM_CONF" -N e2simtest || { show_logs; skip "slurmd did not start"; }
for _ in $(seq 1 100); do
    state=$(scontrol show node e2simtest 2>/dev/null | sed -n 's/.*State=\([A-Z_+]*\).*/\1/p')
    [ "$state" = IDLE ] && break
    sleep 0.2
done
[ "$state" = IDLE ] || { show_logs; skip "the node did not come up (state '$state')"; }
echo "cluster up: slurmctld port ${ports[0]}, slurmd port ${ports[1]}, in $dir"

# From here on the cluster runs, so anything that goes wrong is a failure.
cd "$dir" || fail "cd $dir"
cat >sweep.yaml <<EOF
include: [$source_dir/configs/paper/resnet74-cifar10-e2train.yaml]
name: slurm-test
sweep:
  mode: grid
  vary:
    hardware.dsps: [100, 200, 220]
    hardware.dataflow: [unfused, fused]
EOF
"$e2sim" --config sweep.yaml --out unsharded --quiet || fail "the unsharded sweep failed"

submit() {   # submit DIR [sbatch options]: prints the merge job's id
    local output
    output=$("$source_dir/scripts/slurm-sweep" --e2sim "$e2sim" --out "$1" sweep.yaml "${@:2}" 2>&1)
    echo "$output" >&2
    sed -n 's/.* 6 points: array job [0-9]*, merge job \([0-9]*\)$/\1/p' <<<"$output"
}
per_point=$(submit per-point)
four_shards=$(submit four-shards --array=1-4)
if [ -z "$per_point" ] || [ -z "$four_shards" ]; then fail "slurm-sweep did not submit both sweeps"; fi

deadline=$((SECONDS + 150))   # both sweeps, well inside ctest's TIMEOUT so cleanup runs
wait_for() {   # wait_for JOB: until it ends or the deadline passes; prints its state
    local state=""
    while [ "$SECONDS" -lt "$deadline" ]; do
        state=$(scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
        case "$state" in
        PENDING | RUNNING | CONFIGURING | COMPLETING | "") sleep 0.2 ;;
        *) break ;;
        esac
    done
    echo "$state"
}
status=0
for run in "per-point $per_point 6" "four-shards $four_shards 4"; do
    read -r out job shards <<<"$run"
    state=$(wait_for "$job")
    shard_dirs=$(ls -d "$out"/shard-* 2>/dev/null | wc -l)
    if [ "$state" != COMPLETED ]; then
        echo "FAILED: $out: merge job $job ended $state"
        tail -n 20 "$out"/slurm-*.out
        status=1
    elif [ "$shard_dirs" -ne "$shards" ]; then
        echo "FAILED: $out: $shard_dirs shard folders, expected $shards"
        status=1
    elif ! cmp unsharded/sweep.csv "$out/merged/sweep.csv"; then
        diff unsharded/sweep.csv "$out/merged/sweep.csv" | head -20
        echo "FAILED: $out: the merged sweep.csv differs from the unsharded one"
        status=1
    else
        echo "ok: $out: $shards shards merged by job $job, sweep.csv equals the unsharded run's"
    fi
done
[ "$status" -eq 0 ] || show_logs
exit "$status"

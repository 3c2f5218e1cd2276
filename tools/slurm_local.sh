#!/usr/bin/env bash
# A one-node SLURM cluster on localhost, for tests and for trying profiles/slurm:
#   tools/slurm_local.sh start DIR   # config, state, logs under DIR; returns once the node is idle
#   tools/slurm_local.sh stop DIR    # cancels its jobs, stops its daemons, removes the config link
# Needs root and Debian's slurm-wlm and munge (apt-get install slurm-wlm munge). No accounting
# daemon: run Snakemake with `--slurm-status-command squeue`. Facts behind each step:
# ../shared/SLURM_LOCAL.md (SLURM 22.05, Debian 12).
set -euo pipefail

LINK=/etc/slurm/slurm.conf
WAIT_S=${SLURM_LOCAL_WAIT_S:-30}
MARK="# written by tools/slurm_local.sh"

die() { echo "slurm_local: $*" >&2; exit 1; }

show_logs() {
    local log
    for log in "$DIR"/log/*.log "$DIR"/munge/munged.log; do
        [ -f "$log" ] || continue
        echo "--- $log (last 30 lines)" >&2
        tail -n 30 "$log" >&2
    done
}

write_config() {
    local host cpus memory
    host=$(hostname -s)
    cpus=$(nproc)
    # The node must not claim more memory than slurmd finds, or it is drained at registration.
    memory=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
    [ -n "$memory" ] || die "slurmd -C reported no RealMemory"
    memory=$((memory * 9 / 10))
    cat >"$DIR/slurm.conf" <<EOF
$MARK
ClusterName=local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE/munge.socket
StateSaveLocation=$DIR/state/ctld
SlurmdSpoolDir=$DIR/state/d
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Without it a job that names no memory takes the whole node and jobs run one at a time.
DefMemPerCPU=1000
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
# Ended jobs stay visible to squeue (the status command without accounting) for an hour.
MinJobAge=3600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
    local key=/etc/munge/munge.key
    [ -f "$key" ] || die "$key not found: install munge (apt-get install munge) or create a key with mungekey"
    install -m 400 -o munge -g munge "$key" "$MUNGE/munge.key"
    runuser -u munge -- munged --socket="$MUNGE/munge.socket" --key-file="$MUNGE/munge.key" \
        --log-file="$MUNGE/munged.log" --pid-file="$MUNGE/munged.pid" --seed-file="$MUNGE/munged.seed" \
        || { show_logs; die "munged did not start"; }
}

link_config() {
    # The executor's job step clears SLURM_* variables, so SLURM_CONF would not reach the inner
    # srun: the config has to be where every SLURM command looks by default.
    local current
    if [ -L "$LINK" ]; then
        current=$(readlink "$LINK")
        if [ "$current" != "$DIR/slurm.conf" ] && [ -f "$current" ]; then
            # A cluster this script started and nobody stopped (a killed test) holds the ports.
            [ "$(head -n 1 "$current")" = "$MARK" ] \
                || die "$LINK points to $current, not written here; not replacing it"
            echo "slurm_local: stopping the cluster of $(dirname "$current") first" >&2
            (DIR=$(dirname "$current"); stop)
        fi
    elif [ -e "$LINK" ]; then
        die "$LINK exists (a real SLURM installation?); not replacing it"
    fi
    mkdir -p "$(dirname "$LINK")"
    ln -sfn "$DIR/slurm.conf" "$LINK"
}

wait_for_idle() {
    local deadline=$((SECONDS + WAIT_S)) state=""
    while [ "$SECONDS" -lt "$deadline" ]; do
        state=$(sinfo -h -N -o %t 2>/dev/null | head -n 1) || true
        [ "$state" = idle ] && return 0
        sleep 0.5
    done
    show_logs
    die "node not idle after ${WAIT_S}s (sinfo state: '${state:-none}'); daemon logs above, config $DIR/slurm.conf"
}

start() {
    [ "$(id -u)" -eq 0 ] || die "must run as root (slurmd and munged's key need it)"
    for tool in munged slurmctld slurmd sinfo; do
        command -v "$tool" >/dev/null || die "$tool not found: apt-get install slurm-wlm munge"
    done
    # A start that fails part way stops what it started and removes the link.
    trap 'status=$?; [ "$status" -eq 0 ] || stop' EXIT
    mkdir -p "$DIR"/{state/ctld,state/d,run,log}
    # munged runs as user munge, which must reach its folder: not under DIR, which may sit in a
    # private tree (pytest's is mode 700). Its folder must be executable by all, or munged
    # refuses its socket.
    MUNGE=$(mktemp -d /tmp/slurm_local_munge.XXXXXX)
    chown munge:munge "$MUNGE"
    chmod 711 "$MUNGE"
    ln -sfn "$MUNGE" "$DIR/munge"
    write_config
    link_config
    start_munge
    slurmctld || { show_logs; die "slurmctld did not start"; }
    slurmd || { show_logs; die "slurmd did not start"; }
    wait_for_idle
    echo "slurm_local: node $(hostname -s) idle, $(nproc) CPUs; config $DIR/slurm.conf"
}

stop_daemons() {
    local file pid pids=() alive=() i
    for file in "$@"; do
        [ -f "$file" ] || continue
        pid=$(cat "$file")
        kill "$pid" 2>/dev/null && pids+=("$pid")
    done
    # Bounded: 10 s, then SIGKILL.
    for i in $(seq 100); do
        alive=()
        for pid in "${pids[@]}"; do
            kill -0 "$pid" 2>/dev/null && alive+=("$pid")
        done
        [ ${#alive[@]} -eq 0 ] && return 0
        sleep 0.1
    done
    kill -9 "${alive[@]}" 2>/dev/null || true
}

stop() {
    # Jobs first, so no job step outlives its slurmd.
    if [ "$(readlink "$LINK" 2>/dev/null)" = "$DIR/slurm.conf" ]; then
        squeue -h -o %i 2>/dev/null | xargs -r scancel 2>/dev/null || true
    fi
    stop_daemons "$DIR/run/slurmd.pid" "$DIR/run/slurmctld.pid" "$DIR/munge/munged.pid"
    if [ -L "$DIR/munge" ]; then
        rm -rf "$(readlink "$DIR/munge")"
        rm -f "$DIR/munge"
    fi
    if [ "$(readlink "$LINK" 2>/dev/null)" = "$DIR/slurm.conf" ]; then
        rm -f "$LINK"
    fi
}

[ $# -eq 2 ] || die "usage: $0 start|stop DIR"
DIR=$(realpath -m "$2")
case $1 in
    start) start ;;
    stop) stop ;;
    *) die "usage: $0 start|stop DIR" ;;
esac

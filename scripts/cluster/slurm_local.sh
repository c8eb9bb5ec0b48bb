#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, to try scripts/cluster/shards.sbatch through sbatch
# and srun without a cluster (and to test it): Debian's slurm-wlm and munge, configured for
# localhost with the cores and memory slurmd finds here.
#
#   sudo apt-get install slurm-wlm munge      # once
#   sudo scripts/cluster/slurm_local.sh start # munge key, slurm.conf, munged, slurmctld,
#                                             # slurmd; returns once the node is idle
#   sbatch --nodes=1 --ntasks=2 ... scripts/cluster/shards.sbatch embed ...
#   sudo scripts/cluster/slurm_local.sh stop  # stops the three daemons it started
#
# It runs as root and writes /etc/munge/munge.key (only when missing), /etc/slurm/slurm.conf
# (replacing it: do not run it on a machine that is part of a real cluster), and state, logs
# and pid files under $SLURM_LOCAL_DIR (default /var/lib/iis-slurm-local). No cgroups: the
# processes of a job are tracked by their parent (proctrack/linuxproc), which works in
# containers too.
set -euo pipefail
dir=${SLURM_LOCAL_DIR:-/var/lib/iis-slurm-local}
timeout=${SLURM_LOCAL_TIMEOUT:-60}

die() {
  echo "slurm_local.sh: $*" >&2
  exit 1
}

# The pid in FILE, when that process is alive.
alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop() {
  local pid
  for daemon in slurmd slurmctld munged; do
    if alive "$dir/$daemon.pid"; then
      pid=$(cat "$dir/$daemon.pid")  # the daemon removes its pid file as it exits
      kill "$pid"
      echo "stopped $daemon ($pid)"
    fi
    rm -f "$dir/$daemon.pid"
  done
}

write_conf() {
  local host node
  host=$(hostname -s)
  # slurmd -C: this machine as slurm.conf describes a node (CPUs, sockets, cores, memory).
  node=$(slurmd -C | head -n 1)
  [[ "$node" == NodeName=* ]] || die "slurmd -C printed no node line: $node"
  mkdir -p /etc/slurm "$dir/ctld" "$dir/d"
  cat >/etc/slurm/slurm.conf <<EOF
# Written by iis scripts/cluster/slurm_local.sh: a one-node cluster on $host.
ClusterName=iis-local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/d
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
  if [[ ! -s /etc/munge/munge.key ]]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  alive "$dir/munged.pid" && return
  runuser -u munge -- munged --pid-file=/run/munge/munged.pid
  cp /run/munge/munged.pid "$dir/munged.pid"
  munge -n | unmunge >/dev/null || die "munge does not work (see /var/log/munge/munged.log)"
}

start() {
  [[ $(id -u) == 0 ]] || die "run as root (it starts munged, slurmctld and slurmd)"
  for tool in munged slurmctld slurmd sinfo; do
    command -v $tool >/dev/null || die "$tool is missing: apt-get install slurm-wlm munge"
  done
  mkdir -p "$dir"
  write_conf
  start_munge
  alive "$dir/slurmctld.pid" || slurmctld
  alive "$dir/slurmd.pid" || slurmd
  local state="" waited=0
  until [[ "$state" == idle* ]]; do
    if ((waited >= timeout)); then
      die "the node is '${state:-not known}' after ${timeout} s (see $dir/slurmctld.log, $dir/slurmd.log)"
    fi
    sleep 1
    waited=$((waited + 1))
    state=$(sinfo -h -N -o %t 2>/dev/null | head -n 1 || true)
  done
  echo "one-node Slurm up: $(sinfo -h -N -o '%N %c CPUs %m MB %t')"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
  echo "usage: $0 start|stop" >&2
  exit 2
  ;;
esac

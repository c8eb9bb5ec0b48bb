#!/usr/bin/env bash
# One `iis embed` or `iis elements` command spread over NP processes started by mpirun (Open
# MPI; MPICH's and Intel MPI's mpiexec set PMI_RANK/PMI_SIZE, which --shard auto reads too),
# then one merge on this machine. Each process finds its shard with --shard auto and, with
# --device cuda:auto, its GPU (the node-local rank modulo the GPUs it sees).
#
#   NP=8 HOSTS=node1:4,node2:4 scripts/cluster/mpirun.sh embed --backbone models/resnet50.ts \
#       --data imagenet/train --out feats/train --device cuda:auto
#   NP=2 scripts/cluster/mpirun.sh elements --data images/ --kind segments --out elements
#
# NP: processes (default 2); HOSTS: Open MPI's --host list (default: this machine); THREADS:
# CPU threads per process (default 1); IIS: the tool (default iis on PATH); MPIRUN_ARGS: more
# mpirun options (e.g. --oversubscribe, --allow-run-as-root in a container, -x LD_LIBRARY_PATH
# where the tool needs it on the other hosts). The data and OUT must be on a file system every
# host sees.
set -euo pipefail
iis=${IIS:-iis}

out=""
args=("$@")
for ((k = 0; k + 1 < ${#args[@]}; ++k)); do
  [[ "${args[k]}" == --out ]] && out=${args[k + 1]}
done
if [[ -z "$out" || ( "${1:-}" != embed && "${1:-}" != elements ) ]]; then
  echo "usage: [NP=n] [HOSTS=h:k,...] $0 embed|elements ARGS... --out OUT" >&2
  exit 2
fi

# shellcheck disable=SC2086  # MPIRUN_ARGS is a list of options
mpirun -np "${NP:-2}" ${HOSTS:+--host "$HOSTS"} -x PATH ${MPIRUN_ARGS:-} \
  "$iis" --plain-progress --threads "${THREADS:-1}" "$@" --shard auto
"$iis" --plain-progress merge --out "$out" --wait --timeout 60

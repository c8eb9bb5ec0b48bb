#!/usr/bin/env bash
# Checks that two `iis` builds compute the same numbers: runs `iis fit` with both on one small
# generated problem for every concept type, threshold rule, concept selection and selection
# split, and compares every file they write byte for byte (JSON files after dropping timings
# and the fields that name the build). For refactors that must not change a result.
#   bash scripts/same_numbers.sh OLD_IIS NEW_IIS [WORK_DIR]
set -euo pipefail
old="${1:?usage: same_numbers.sh OLD_IIS NEW_IIS [WORK_DIR]}"
new="${2:?usage: same_numbers.sh OLD_IIS NEW_IIS [WORK_DIR]}"
work="${3:-$(mktemp -d)}"
mkdir -p "$work/data"
/usr/bin/python3 - "$work/data" <<'PY'
import sys
import numpy as np
d = sys.argv[1]
rng = np.random.default_rng(7)
C, D, M = 4, 24, 240
centres = rng.standard_normal((C, D)).astype(np.float32)
for name, n in (("train", 800), ("val", 300), ("elements", M)):
    y = rng.integers(0, C, n)
    x = (1.5 * centres[y] + rng.standard_normal((n, D))).astype(np.float32)
    np.save(f"{d}/{name}_x.npy", x)
    np.save(f"{d}/{name}_y.npy", y.astype(np.int64))
PY

# name: the extra flags of one case.
cases=(
  "prototype-strict:--threshold strict"
  "prototype-exact:--threshold exact"
  "prototype-soft:--threshold soft"
  "prototype-first:--concept-select first"
  "prototype-random:--concept-select random --select-on holdout"
  "cluster-strict:--concept-type cluster"
  "cluster-soft:--concept-type cluster --threshold soft --kmeans-max-elements 100"
  "end2end-strict:--concept-type end2end"
  "end2end-exact:--concept-type end2end --threshold exact --temperature 0.5"
)
fit() {  # fit IIS OUT FLAGS...
  local iis="$1" out="$2"
  shift 2
  "$iis" fit --train-features "$work/data/train_x.npy" --train-labels "$work/data/train_y.npy" \
    --val-features "$work/data/val_x.npy" --val-labels "$work/data/val_y.npy" \
    --concepts "$work/data/elements_x.npy" --concept-labels "$work/data/elements_y.npy" \
    --num-concepts 60 --epochs 4 --seeds 0,3 --lrs 0.01,0.05 --out "$out" "$@" >/dev/null 2>&1
}
# JSON without what differs between two runs of one build or between builds.
strip_json() {
  /usr/bin/python3 - "$1" <<'PY'
import json, sys
def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items()
                if k not in ("timings", "seconds", "version", "schema_version", "path")}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v
print(json.dumps(strip(json.load(open(sys.argv[1]))), sort_keys=True, indent=1))
PY
}
status=0
for c in "${cases[@]}"; do
  name="${c%%:*}"
  read -r -a flags <<<"${c#*:}"
  fit "$old" "$work/old/$name" "${flags[@]}"
  fit "$new" "$work/new/$name" "${flags[@]}"
  files=$(cd "$work/old/$name" && find . -type f | sort)
  [[ "$files" == "$(cd "$work/new/$name" && find . -type f | sort)" ]] || {
    echo "DIFFERENT FILES  $name"
    status=1
    continue
  }
  same=1
  for f in $files; do
    a="$work/old/$name/$f" b="$work/new/$name/$f"
    if [[ "$f" == *.json ]]; then
      cmp -s <(strip_json "$a") <(strip_json "$b") || { echo "  differs: $f"; same=0; }
    else
      cmp -s "$a" "$b" || { echo "  differs: $f"; same=0; }
    fi
  done
  n=$(wc -w <<<"$files")
  if ((same)); then echo "same  $name ($n files)"; else echo "DIFFERENT  $name"; status=1; fi
done
exit $status

#!/usr/bin/env bash
# The fine-tuning experiment of the README (iis finetune, docs/design.md §12), on a finished
# `iis demo` run: the demo's 1-epoch resnet8-w16 fine-tuned for one epoch on the 10 000
# training images the heads learn from, with CE(standard) + 1·CE(prototype head at r = 0.5)
# and, as the control, with lambda 0 (the same steps, batches and seeds), three seeds each;
# every fine-tuned backbone is embedded and fit like the demo's (K = 200, 30 epochs, seeds
# 0,1,2) and the table compares them with the starting backbone.
#
#   bash scripts/finetune_experiment.sh [DEMO_RUN (runs/demo)] [OUT (runs/finetune_experiment)]
#   TYPES="prototype cluster end2end" IIS=build/bin/iis bash scripts/finetune_experiment.sh
# Every step is skipped when its output exists, so an interrupted run picks up where it stopped.
set -euo pipefail
RUN=${1:-runs/demo}
OUT=${2:-runs/finetune_experiment}
IIS=${IIS:-build/bin/iis}
TYPES=${TYPES:-prototype}
FM=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
START=$RUN/pretrain/resnet8-w16_s0/epoch_1.pt
[ -f "$START" ] || { echo "no $START: run \`iis demo --out $RUN\` first" >&2; exit 1; }
mkdir -p "$OUT"

finetune() {  # NAME LAMBDA SEED
  [ -f "$OUT/$1/finetune.json" ] && return
  "$IIS" --plain-progress finetune --backbone "native:resnet8-w16@$START" \
    --data "$FM/train-images-idx3-ubyte.gz" --val-data "$FM/t10k-images-idx3-ubyte.gz" \
    --elements "$RUN/elements" --out "$OUT/$1" --lambda "$2" --ratio 0.5 --epochs 1 \
    --lr 0.001 --train-limit 10000 --seed "$3"
}

embed_and_fit() {  # NAME
  local spec="native:resnet8-w16@$OUT/$1/backbone.pt" e="$OUT/embed/$1"
  [ -f "$e/train.embed.json" ] || "$IIS" --quiet embed --backbone "$spec" \
    --data "$FM/train-images-idx3-ubyte.gz" --limit 10000 --out "$e/train"
  [ -f "$e/val.embed.json" ] || "$IIS" --quiet embed --backbone "$spec" \
    --data "$FM/t10k-images-idx3-ubyte.gz" --out "$e/val"
  [ -f "$e/elements.embed.json" ] || "$IIS" --quiet embed --backbone "$spec" \
    --data "$RUN/elements" --out "$e/elements"
  for t in $TYPES; do
    [ -f "$OUT/fit/$1/$t/results.json" ] || "$IIS" --quiet fit --concept-type "$t" \
      --train-features "$e/train.features.npy" --train-labels "$e/train.labels.npy" \
      --val-features "$e/val.features.npy" --val-labels "$e/val.labels.npy" \
      --concepts "$e/elements.features.npy" --concept-labels "$e/elements.labels.npy" \
      --seeds 0,1,2 --out "$OUT/fit/$1/$t" > /dev/null
  done
}

for lambda in 1 0; do
  for seed in 0 1 2; do
    finetune "lambda${lambda}_s${seed}" "$lambda" "$seed"
    embed_and_fit "lambda${lambda}_s${seed}"
  done
done

python3 - "$RUN" "$OUT" $TYPES <<'EOF'
import json, statistics, sys
run, out, types = sys.argv[1], sys.argv[2], sys.argv[3:]
def fit(path):
    return json.load(open(path))
def mean_sd(xs):
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)
print("| backbone | accuracy % | " + " | ".join("IIS " + t for t in types) + " |")
print("| --- | --- |" + " --- |" * len(types))
start = [fit(f"{run}/fit/resnet8-w16_e1/{t}/results.json") for t in types]
print(f"| start (resnet8-w16_e1) | {100 * start[0]['standard_accuracy']:.2f} | " +
      " | ".join(f"{r['iis']:.4f} ± {r['iis_std']:.4f}" for r in start) + " |")
for lam, label in (("1", "lambda 1 (interpretability term)"), ("0", "lambda 0 (control)")):
    acc = [fit(f"{out}/fit/lambda{lam}_s{s}/{types[0]}/results.json")["standard_accuracy"]
           for s in range(3)]
    cells = []
    for t in types:
        m, sd = mean_sd([fit(f"{out}/fit/lambda{lam}_s{s}/{t}/results.json")["iis"]
                         for s in range(3)])
        cells.append(f"{m:.4f} ± {sd:.4f}")
    m, sd = mean_sd(acc)
    print(f"| {label}, 3 seeds | {100 * m:.2f} ± {100 * sd:.2f} | " + " | ".join(cells) + " |")
EOF

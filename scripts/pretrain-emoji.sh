#!/usr/bin/env bash
# Reproduces pretrained/emoji32.safetensors: prepares the Noto emoji data (npm registry only),
# trains a 32x32 StyleGAN2 from scratch with the standard logistic loss, resuming if the run
# exists, and exports G_ema + D of its latest snapshot.
#   scripts/pretrain-emoji.sh [KIMG] [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
KIMG="${1:-1000}"
WORK="${2:-$HOME/emoji-pretrain}"
DATA="$WORK/data"
RUNS="$WORK/runs"

[ -d dist ] || npm run build
[ -d "$DATA/pretrain" ] || node dist/scripts/prepare-emoji.js --out "$DATA"

RUN=$(ls -d "$RUNS"/*-pretrain-logistic 2>/dev/null | tail -n 1 || true)
if [ -n "$RUN" ]; then
  node dist/src/cli/main.js finetune --resume "$RUN" --kimg "$KIMG" --data "$DATA/pretrain"
else
  node dist/src/cli/main.js finetune --data "$DATA/pretrain" --loss logistic --res 32 --cbase 2048 --cmax 64 \
    --zdim 64 --wdim 64 --map 2 --batch 16 --kimg "$KIMG" --tick 1 --snap 5 --mirror --seed 0 --outdir "$RUNS"
  RUN=$(ls -d "$RUNS"/*-pretrain-logistic | tail -n 1)
fi
SNAP=$(ls "$RUN"/network-snapshot-*.safetensors | tail -n 1)
node dist/src/cli/main.js convert "$SNAP" pretrained/emoji32.safetensors --networks G_ema,D --force

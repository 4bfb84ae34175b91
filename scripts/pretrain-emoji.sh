#!/usr/bin/env bash
# Pre-trains the bundled network pretrained/emoji32.safetensors: prepares the Noto emoji data (npm
# registry only), trains a 32x32 StyleGAN2 from scratch with the standard logistic loss, and keeps
# the full training state in the repository so that any machine continues it exactly.
#   scripts/pretrain-emoji.sh [KIMG] [WORKDIR]
#
# Where it starts, in order:
#   1. WORKDIR/runs/*-pretrain-logistic, the local run, when its latest snapshot is at least as far
#      as the committed state;
#   2. pretrained/emoji32-state.safetensors (the committed state: G, D, G_ema, Adam moments,
#      augment p, pl_mean, kimg, RNG and data order), copied into a new local run directory;
#   3. from scratch.
# On the way out (done, or stopped with Ctrl-C / SIGTERM) it replaces the committed state with the
# latest snapshot and exports G_ema + D to pretrained/emoji32.safetensors.
# PRETRAINED_DIR (default: pretrained/) and EMOJI_DATA (default: WORKDIR/data/pretrain, made by
# scripts/prepare-emoji.ts) can point elsewhere, as the tests do.
set -euo pipefail
cd "$(dirname "$0")/.."
KIMG="${1:-1000}"
WORK="${2:-$HOME/emoji-pretrain}"
DATA="${EMOJI_DATA:-$WORK/data/pretrain}"
RUNS="$WORK/runs"
PRE="${PRETRAINED_DIR:-pretrained}"
STATE="$PRE/emoji32-state.safetensors"
CLI=(node dist/src/cli/main.js)

[ -f dist/src/cli/main.js ] || npm run build
if [ ! -d "$DATA" ]; then
  [ -z "${EMOJI_DATA:-}" ] || { echo "pretrain-emoji: EMOJI_DATA=$DATA does not exist" >&2; exit 1; }
  node dist/scripts/prepare-emoji.js --out "$WORK/data"
fi

kimg_of() { "${CLI[@]}" info --json "$1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const t=JSON.parse(s).training;console.log(t?t.kimg:-1)})'; }
snap_name() { node -e 'console.log(`network-snapshot-${Number(process.argv[1]).toFixed(3).padStart(8,"0")}.safetensors`)' "$1"; }
latest_snap() { ls "$1"/network-snapshot-*.safetensors 2>/dev/null | sort -t- -k3 -g | tail -n 1; }

RUN=$(ls -d "$RUNS"/*-pretrain-logistic 2>/dev/null | tail -n 1 || true)
LOCAL_KIMG=-1
[ -n "$RUN" ] && [ -n "$(latest_snap "$RUN")" ] && LOCAL_KIMG=$(kimg_of "$(latest_snap "$RUN")")
STATE_KIMG=-1
[ -f "$STATE" ] && STATE_KIMG=$(kimg_of "$STATE")

if [ "$STATE_KIMG" != -1 ] && node -e 'process.exit(Number(process.argv[1]) > Number(process.argv[2]) ? 0 : 1)' "$STATE_KIMG" "$LOCAL_KIMG"; then
  # The committed state is ahead of (or instead of) the local run: continue from it.
  RUN="$RUNS/$(date +%Y%m%d-%H%M%S)-pretrain-logistic"
  mkdir -p "$RUN"
  cp "$STATE" "$RUN/$(snap_name "$STATE_KIMG")"
  echo "pretrain-emoji: continuing the committed state at kimg $STATE_KIMG in $RUN" >&2
fi

export_state() {
  local snap
  snap=$(latest_snap "$RUN")
  [ -n "$snap" ] || return 0
  # Atomic replacement: a copy beside the target, then a rename.
  cp "$snap" "$STATE.tmp" && mv "$STATE.tmp" "$STATE"
  "${CLI[@]}" convert "$snap" "$PRE/emoji32.safetensors" --networks G_ema,D --force >/dev/null
  echo "pretrain-emoji: state at kimg $(kimg_of "$STATE") -> $STATE and $PRE/emoji32.safetensors" >&2
}

if [ -n "$RUN" ] && [ -n "$(latest_snap "$RUN")" ]; then
  "${CLI[@]}" finetune --resume "$RUN" --kimg "$KIMG" --data "$DATA" || status=$?
else
  # Upstream's cifar config where it applies to a small 32x32 set: 2 mapping layers, gamma 0.01, no
  # path-length regularization, a G_ema half-life that grows with training (ramp-up 0.05).
  "${CLI[@]}" finetune --data "$DATA" --loss logistic --res 32 --cbase 2048 --cmax 64 --zdim 64 --wdim 64 --map 2 \
    --batch 16 --gamma 0.01 --pl-weight 0 --ema 20 --kimg "$KIMG" --tick 2 --snap 5 --mirror --seed 0 \
    --outdir "$RUNS" --run-dir "$RUNS/$(date +%Y%m%d-%H%M%S)-pretrain-logistic" || status=$?
  RUN=$(ls -d "$RUNS"/*-pretrain-logistic | tail -n 1)
fi
export_state
exit "${status:-0}"

#!/usr/bin/env bash
# Pre-trains the bundled network pretrained/emoji32.safetensors: prepares the Noto emoji data (npm
# registry only), trains a 32x32 StyleGAN2 from scratch with the standard logistic loss, and keeps
# the full training state in the repository so that any machine continues it exactly.
#   scripts/emoji/pretrain-emoji.sh [KIMG] [WORKDIR]
#
# Where it starts, in order:
#   1. WORKDIR/runs/*-pretrain-logistic, the local run, when its latest snapshot is at least as far
#      as the committed state;
#   2. pretrained/emoji32-state.safetensors (the committed state: G, D, G_ema, Adam moments,
#      augment p, pl_mean, kimg, RNG and data order), copied into a new local run directory;
#   3. from scratch.
# It never writes into the repository: training states and snapshots stay out of git. On the way
# out (done, or stopped with Ctrl-C / SIGTERM) it writes the latest snapshot as the state to
# OUT_DIR/emoji32-state.safetensors (OUT_DIR: PRETRAINED_DIR if set, else WORKDIR/export). At
# milestones (when the run crosses a multiple of MILESTONE_KIMG, default 50) it also exports G_ema + D
# to OUT_DIR/emoji32.safetensors and keeps that milestone's grid as OUT_DIR/milestones/kimgNNNN.png;
# EXPORT=always exports at every stop, EXPORT=never never. Re-committing the bundled network (or the
# state) is a decision made by hand, when what users see changes.
# At every stop it also adds the stopped snapshot's FED to the FED curve (scripts/emoji/emoji-fed.sh:
# OUT_DIR/fed.csv, started from docs/emoji32-milestones/fed.csv, or FED_CSV; FED_NUM generated
# images, default 5000; FED=never skips).
# PRETRAINED_DIR (read and written instead of pretrained/ and OUT_DIR) and EMOJI_DATA (default:
# WORKDIR/data/pretrain, made by scripts/emoji/prepare-emoji.ts) can point elsewhere, as the tests do.
set -euo pipefail
cd "$(dirname "$0")/../.."
KIMG="${1:-1000}"
WORK="${2:-$HOME/emoji-pretrain}"
DATA="${EMOJI_DATA:-$WORK/data/pretrain}"
RUNS="$WORK/runs"
OUT="${PRETRAINED_DIR:-$WORK/export}"
# The state to continue: this machine's own export when it is there, else the committed one.
STATE="$OUT/emoji32-state.safetensors"
[ -f "$STATE" ] || STATE="${PRETRAINED_DIR:-pretrained}/emoji32-state.safetensors"
OUT_STATE="$OUT/emoji32-state.safetensors"
mkdir -p "$OUT"
if [ -z "${FED_CSV:-}" ]; then
  export FED_CSV="$OUT/fed.csv"
  [ -f "$FED_CSV" ] || cp docs/emoji32-milestones/fed.csv "$FED_CSV"
fi
CLI=(node dist/src/cli/main.js)

[ -f dist/src/cli/main.js ] || npm run build
if [ ! -d "$DATA" ]; then
  [ -z "${EMOJI_DATA:-}" ] || { echo "pretrain-emoji: EMOJI_DATA=$DATA does not exist" >&2; exit 1; }
  node dist/scripts/emoji/prepare-emoji.js --out "$WORK/data"
fi

kimg_of() { "${CLI[@]}" info --json "$1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const t=JSON.parse(s).training;console.log(t?t.kimg:-1)})'; }
snap_name() { node -e 'console.log(`network-snapshot-${Number(process.argv[1]).toFixed(3).padStart(8,"0")}.safetensors`)' "$1"; }
latest_snap() { ls "$1"/network-snapshot-*.safetensors 2>/dev/null | sort -t- -k3 -g | tail -n 1; }

RUN=$(ls -d "$RUNS"/*-pretrain-logistic 2>/dev/null | tail -n 1 || true)
LOCAL_KIMG=-1
[ -n "$RUN" ] && [ -n "$(latest_snap "$RUN")" ] && LOCAL_KIMG=$(kimg_of "$(latest_snap "$RUN")")
STATE_KIMG=-1
[ -f "$STATE" ] && STATE_KIMG=$(kimg_of "$STATE")

if [ "$STATE_KIMG" != -1 ] && node -e 'process.exit(Number(process.argv[1]) > Number(process.argv[2]) ? 0 : 1)' -- "$STATE_KIMG" "$LOCAL_KIMG"; then
  # The committed state is ahead of (or instead of) the local run: continue from it.
  RUN="$RUNS/$(date +%Y%m%d-%H%M%S)-pretrain-logistic"
  mkdir -p "$RUN"
  cp "$STATE" "$RUN/$(snap_name "$STATE_KIMG")"
  # The state's own options make the folder a run directory, which --resume continues in place.
  node --input-type=module -e 'import { loadNetwork } from "./dist/src/io/network.js"; import { writeFileSync } from "node:fs";
    const [file, dir] = process.argv.slice(1); const net = await loadNetwork(file);
    writeFileSync(`${dir}/training_options.json`, `${JSON.stringify({ ...net.training.options, runDir: dir }, null, 2)}\n`);' "$STATE" "$RUN"
  echo "pretrain-emoji: continuing the committed state at kimg $STATE_KIMG in $RUN" >&2
fi

MILESTONE="${MILESTONE_KIMG:-50}"
EXPORT="${EXPORT:-milestone}"
START_KIMG="$STATE_KIMG"
[ "$START_KIMG" != -1 ] || START_KIMG=0

export_state() {
  local snap kimg
  snap=$(latest_snap "$RUN")
  [ -n "$snap" ] || return 0
  # Atomic replacement: a copy beside the target, then a rename.
  cp "$snap" "$OUT_STATE.tmp" && mv "$OUT_STATE.tmp" "$OUT_STATE"
  kimg=$(kimg_of "$OUT_STATE")
  echo "pretrain-emoji: state at kimg $kimg -> $OUT_STATE" >&2
  if [ "${FED:-always}" != never ]; then
    EMOJI_DATA="$DATA" bash scripts/emoji/emoji-fed.sh "$snap" || echo "pretrain-emoji: FED of $snap failed (the state is saved)" >&2
  fi
  if [ "$EXPORT" = always ] || { [ "$EXPORT" = milestone ] && node -e 'const [a,b,m]=process.argv.slice(1).map(Number);process.exit(Math.floor(b/m)>Math.floor(a/m)?0:1)' -- "$START_KIMG" "$kimg" "$MILESTONE"; }; then
    "${CLI[@]}" convert "$snap" "$OUT/emoji32.safetensors" --networks G_ema,D --force >/dev/null
    local grid
    grid=$(ls "$RUN"/fakes[0-9]*.png 2>/dev/null | sort -t s -k2 -g | tail -n 1)
    if [ -n "$grid" ]; then
      mkdir -p "$OUT/milestones"
      cp "$grid" "$OUT/milestones/kimg$(printf '%04d' "${kimg%.*}").png"
    fi
    echo "pretrain-emoji: exported G_ema + D at kimg $kimg -> $OUT/emoji32.safetensors" >&2
  fi
}

if [ -n "$RUN" ] && [ -n "$(latest_snap "$RUN")" ]; then
  "${CLI[@]}" finetune --resume "$RUN" --kimg "$KIMG" --data "$DATA" || status=$?
else
  # Upstream's cifar config where it applies to a small 32x32 set: 2 mapping layers, gamma 0.01, no
  # path-length regularization, no style mixing, a G_ema half-life that grows with training
  # (ramp-up 0.05); batch 32, upstream's for 32x32 on one GPU, with D's minibatch-std over groups
  # of 32 as upstream's cifar config; 128 channels at every resolution (upstream's cifar has 512).
  # (The committed run branched to these: style mixing 0.9 -> 0 at 410 kimg, batch 16 -> 32 at
  # 655.856 kimg, 64 -> 128 channels at 798.992 kimg (--cbase 2048 -> 4096, --cmax 64 -> 128,
  # widened), minibatch-std group 4 -> 32 at 854.192 kimg, R1 gamma 0.01 -> 0.05 at 956.016 kimg,
  # batch 32 -> 64 (upstream's cifar batch) at 1028.656 kimg, each with `finetune --resume RUN
  # --run-dir NEW ...`; the state's options record them under `branches`.)
  "${CLI[@]}" finetune --data "$DATA" --loss logistic --res 32 --cbase 4096 --cmax 128 --zdim 64 --wdim 64 --map 2 \
    --batch 32 --mbstd 32 --gamma 0.01 --pl-weight 0 --style-mixing 0 --ema 20 --kimg "$KIMG" --tick 2 --snap 5 --mirror --seed 0 \
    --outdir "$RUNS" --run-dir "$RUNS/$(date +%Y%m%d-%H%M%S)-pretrain-logistic" || status=$?
  RUN=$(ls -d "$RUNS"/*-pretrain-logistic | tail -n 1)
fi
export_state
exit "${status:-0}"

#!/usr/bin/env bash
# Appends the FED of pre-training snapshots to the bundled network's FED curve: for each
# snapshot given, FED (the emoji feature network's Fréchet distance, pretrained/EMOJI_FEATURES_CARD.md)
# of 5000 generated images (seed 0) against the pre-training images, one CSV row per kimg.
#   scripts/emoji/emoji-fed.sh SNAPSHOT...        (scripts/emoji/pretrain-emoji.sh calls it at every stop)
# EMOJI_DATA (default: $HOME/emoji-pretrain/data/pretrain) is the real set; FED_CSV (default:
# docs/emoji32-milestones/fed.csv) the curve, also drawn as fed.svg beside it (scripts/emoji/plot-fed.ts).
# A kimg already in the curve is skipped.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA="${EMOJI_DATA:-$HOME/emoji-pretrain/data/pretrain}"
CSV="${FED_CSV:-docs/emoji32-milestones/fed.csv}"
NUM="${FED_NUM:-5000}"
CLI=(node dist/src/cli/main.js)
[ -d "$DATA" ] || { echo "emoji-fed: the real images $DATA do not exist (set EMOJI_DATA)" >&2; exit 1; }
HEADER="kimg,fed,generated,real"
mkdir -p "$(dirname "$CSV")"
[ -f "$CSV" ] || echo "$HEADER" > "$CSV"
# Rows are appended and the file re-sorted in place: refuse any other CSV rather than rewrite it.
[ "$(head -n 1 "$CSV")" = "$HEADER" ] || { echo "emoji-fed: $CSV is not a FED curve (its first line must be $HEADER); give another FED_CSV" >&2; exit 1; }
for snap in "$@"; do
  kimg=$("${CLI[@]}" info --json "$snap" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const t=JSON.parse(s).training;console.log(t?t.kimg:"")})')
  [ -n "$kimg" ] || { echo "emoji-fed: $snap has no training state (kimg unknown); skipped" >&2; continue; }
  if cut -d, -f1 "$CSV" | grep -qx "$kimg"; then continue; fi
  row=$("${CLI[@]}" fid --network "$snap" --data "$DATA" --features emoji --num "$NUM" --json 2>/dev/null |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const d=JSON.parse(s);console.log([d.distance.toFixed(2),d.n2,d.n1].join(","))})')
  echo "$kimg,$row" >> "$CSV"
  echo "emoji-fed: kimg $kimg FED $(echo "$row" | cut -d, -f1)" >&2
done
# Keep the rows in kimg order (a backfill may add older snapshots after newer ones).
{ echo "$HEADER"; tail -n +2 "$CSV" | sort -t, -k1 -g; } > "$CSV.tmp" && mv "$CSV.tmp" "$CSV"
node dist/scripts/emoji/plot-fed.js "$CSV"

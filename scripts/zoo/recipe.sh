#!/usr/bin/env bash
# The demo zoo recipe (maintainer tool; not needed at run time or in CI).
#
#   scripts/zoo/recipe.sh [all|prepare|train|experts|export|variant-norms]     (default: all)
#
# prepare  corpora -> byte-level BPE tokenizer + per-domain token streams + public/zoo/heldout
# train    base from scratch on the four-domain mix, then the four experts (MLP-only fine-tunes)
# experts  only the four experts (reuses build/ckpt/base.pt)
# export   HF folders, f32 evaluation of the shipped f16 weights, samples, README, index.json
#
# Needs Debian's python3-torch (for /usr/bin/python3) and libopenblas0-openmp; no pip packages.
# Budget on a 2-core machine (~5-6k tokens/s idle): base 36 min + experts 4 x 8 min + up to 5 min per
# second phase + 4 min chat, about 75-85 minutes. Wall-clock caps end the runs when the cores are shared.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CORPORA="${CORPORA:-/work/shared/corpora}"
BUILD="${BUILD:-$HERE/build}"
ZOO="${ZOO:-$ROOT/public/zoo}"
PY=/usr/bin/python3
BASE_MINUTES="${BASE_MINUTES:-36}"

# This OpenBLAS misdetects the CPU; PASSIVE keeps throughput when other processes share the cores.
export OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=PASSIVE
cd "$HERE"
mkdir -p "$BUILD"

prepare() { $PY prepare.py --corpora "$CORPORA" --build "$BUILD" --zoo "$ZOO"; }
base() { $PY train.py base --build "$BUILD" --steps 1800 --minutes "$BASE_MINUTES" --lr 3e-3; }
# Expert schedule as built for the shipped zoo: domain, wall-clock minutes, peak lr. Then every
# expert whose quick-eval gain is under needs_phase2.py's margin gets a second, resumed phase
# (weakest first); the model cards list each phase.
expert() { $PY train.py expert --build "$BUILD" --domain "$1" --steps 350 --minutes "$2" --lr "$3" --seed 2; }
experts() {
  expert stories 8 2e-3
  expert code 8 2e-3
  expert math 8 3e-3
  expert chat 8 3e-3
  for d in $($PY needs_phase2.py "$BUILD"); do
    $PY train.py expert --build "$BUILD" --domain "$d" --steps 150 --minutes 5 --lr 2.5e-3 --seed 3 --resume
  done
  # A last chat phase over chat with short-answer documents repeated (short_chat.py), so that
  # <|end|> is frequent: the expert learns to end its answers (export.py measures how often).
  $PY short_chat.py "$BUILD" "$CORPORA"
  $PY train.py expert --build "$BUILD" --domain chat --stream chat_short --steps 200 --minutes 4 --lr 2e-3 --seed 4 --resume
}
# The comparison the zoo README reports: the same expert schedule, but MLPs + every RMSNorm
# train, into $BUILD/variant-norms (same base checkpoint, same data). scripts/zoo/compare-variants.ts
# merges both sets with moe-hidden.yml and writes build/variant-norms/compare.json for export.
variant_norms() {
  local V="$BUILD/variant-norms"
  mkdir -p "$V/ckpt"
  ln -sfn "$BUILD/data" "$V/data"
  cp "$BUILD/ckpt/base.pt" "$BUILD/ckpt/base.json" "$V/ckpt/"
  for spec in "stories 8 2e-3" "code 8 2e-3" "math 8 3e-3" "chat 8 3e-3"; do
    set -- $spec
    $PY train.py expert --build "$V" --domain "$1" --steps 350 --minutes "$2" --lr "$3" --seed 2 --train mlp+norms
  done
  $PY train.py expert --build "$V" --domain chat --stream chat_short --steps 200 --minutes 4 --lr 2e-3 --seed 4 --resume --train mlp+norms
}
export_zoo() { $PY export.py --build "$BUILD" --zoo "$ZOO" --corpora "$CORPORA"; }

case "${1:-all}" in
  all) prepare; base; experts; export_zoo ;;
  prepare) prepare ;;
  train) base; experts ;;
  experts) experts ;;
  export) export_zoo ;;
  variant-norms) variant_norms ;;
  *) echo "usage: $0 [all|prepare|train|experts|export|variant-norms]" >&2; exit 2 ;;
esac

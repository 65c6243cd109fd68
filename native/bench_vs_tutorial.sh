#!/usr/bin/env bash
# Seconds per training epoch: the tutorial's own PyTorch code (scripts/tutorial_reference.py, apt's
# python3-torch) and `digitlab bench`, one after the other, same thread count, same machine. Prints one
# table (and writes the raw results to $out). The figures for docs/benchmarks.md come from this.
# Usage: native/bench_vs_tutorial.sh [--epochs N] [--threads "1 2"] [--runs "mlp:mnist mlp:fashion cnn:fashion"]
#        [--digitlab build/native/digitlab] [--out build/bench-vs-tutorial] [--tutorial-env VAR=VALUE]
# --tutorial-env runs the tutorial with an extra environment variable, e.g. OPENBLAS_CORETYPE=SkylakeX to
# give it the OpenBLAS kernels digitlab picks for itself (the tutorial as written does not get them).
# Read next: scripts/tutorial_reference.py, native/src/bench.cpp.
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=5 threads="1" runs="mlp:mnist mlp:fashion cnn:fashion" digitlab=build/native/digitlab out=build/bench-vs-tutorial
tutorial_env=()
while [ $# -gt 0 ]; do
  case $1 in
    --epochs) epochs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --digitlab) digitlab=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --tutorial-env) tutorial_env+=("$2"); shift 2 ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
[ -x "$digitlab" ] || { echo "$digitlab is not built: cmake --preset native && cmake --build --preset native" >&2; exit 1; }
/usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null || { echo "python3-torch is missing: run scripts/setup-reference" >&2; exit 1; }
mkdir -p "$out"
echo "bench-vs-tutorial: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tutorial environment: ${tutorial_env[*]:-(as is)}"
rows=()
for run in $runs; do
  model=${run%%:*} dataset=${run##*:}
  for t in $threads; do
    ref_json=$out/tutorial-$model-$dataset-t$t.json ours_json=$out/digitlab-$model-$dataset-t$t.json
    load_before=$(cut -d' ' -f1 /proc/loadavg)
    env "${tutorial_env[@]}" /usr/bin/python3 scripts/tutorial_reference.py --model "$model" --dataset "$dataset" --epochs "$epochs" \
      --threads "$t" --json "$ref_json" >"$out/tutorial-$model-$dataset-t$t.log" 2>&1
    "$digitlab" bench --models "$model" --datasets "$dataset" --threads "$t" --epochs "$epochs" \
      --json "$ours_json" >"$out/digitlab-$model-$dataset-t$t.log" 2>&1
    load_after=$(cut -d' ' -f1 /proc/loadavg)
    rows+=("$(python3 - "$ref_json" "$ours_json" "$load_before" "$load_after" <<'EOF'
import json, sys
ref = json.load(open(sys.argv[1])); ours = json.load(open(sys.argv[2]))[0]
r, o = ref["seconds_per_epoch"], ours["seconds_per_epoch"]
print(f'| {ours["model"]} | {ours["dataset"]} | {ours["threads"]} | {r:.2f} | {100*ref["epochs"][-1]["test_accuracy"]:.2f} | '
      f'{o:.2f} | {100*ours["test_accuracy"]:.2f} | **{r/o:.2f}x** | {sys.argv[3]} / {sys.argv[4]} |')
EOF
)")
    echo "${rows[-1]}"
  done
done
echo
echo "| model | dataset | threads | tutorial s/epoch | tutorial acc % | digitlab s/epoch | digitlab acc % | speed-up | load before / after |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"

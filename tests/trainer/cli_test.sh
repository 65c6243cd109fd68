#!/usr/bin/env bash
# The `digitlab` program end to end on small subsets: resume after a simulated crash gives byte-identical
# weights, eval agrees with the core, and bad input gives clear errors with the right exit code.
# Usage: cli_test.sh CASE DIGITLAB_BINARY DATA_DIR WORK_DIR   (CASE: resume | eval | errors | tools)
# Read next: tests/trainer.cmake (registers one ctest test per case).
set -uo pipefail
case_name=$1 digitlab=$2 data=$3 work=$4/$1
rm -rf "$work" && mkdir -p "$work"
# shellcheck source=check_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/check_lib.sh"  # fail, expect

# A small, fast recipe: the CNN (batch norm, dropout) on 640 training images, 2 epochs of 10 steps.
# (CLI11 refuses an option given twice: cases that change one option spell the list out.)
common=(--limit-train 640 --limit-test 200 --threads 1 --device cpu --progress off --log-every 5)
small=(--model cnn --dataset mnist --data-dir "$data/mnist" --epochs 2 "${common[@]}")

case $case_name in
resume)
  "$digitlab" train "${small[@]}" -o "$work/straight.dlw" >"$work/straight.log" 2>&1 || fail "uninterrupted run failed"
  # Stopped mid-epoch (step 13 of 20), then resumed.
  expect 0 "Stopped after 13 steps" -- "$digitlab" train "${small[@]}" -o "$work/resumed.dlw" --stop-after-steps 13
  [ -e "$work/resumed.dlw" ] && fail "a stopped run must not write weights"
  expect 0 "Resumed from .* at epoch 2, step 3 \(13 steps done\)" -- \
    "$digitlab" train "${small[@]}" -o "$work/resumed.dlw" --resume "$work/resumed.dlw.ckpt"
  if cmp "$work/straight.dlw" "$work/resumed.dlw"; then echo "ok: resumed weights are byte-identical"
  else fail "resumed weights differ from the uninterrupted run's"; fi
  # The run records agree on everything but timings.
  for f in straight resumed; do
    python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(r['losses'], [e['test_accuracy'] for e in r['epochs']], r['test']['confusion_matrix'])" \
      "$work/$f.dlw.json" >"$work/$f.summary" || fail "unreadable run record $f.dlw.json"
  done
  cmp -s "$work/straight.summary" "$work/resumed.summary" && echo "ok: run records agree (losses, accuracies, confusion)" \
    || fail "run records differ: $(diff "$work/straight.summary" "$work/resumed.summary" | head -5)"
  # Killed for real while checkpointing every step: whatever is on disk is a whole checkpoint to resume from.
  "$digitlab" train "${small[@]}" -o "$work/killed.dlw" --checkpoint-every 1 >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do [ -e "$work/killed.dlw.ckpt" ] && break; sleep 0.05; done
  sleep 0.3
  kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  ls "$work" | grep -q '\.tmp-' && echo "note: the kill left a temporary file (never read; the next write replaces the target)"
  if [ -e "$work/killed.dlw" ]; then echo "note: the run finished before the kill; resuming anyway"; fi
  expect 0 "Resumed from" -- "$digitlab" train "${small[@]}" -o "$work/killed.dlw" --resume "$work/killed.dlw.ckpt"
  if cmp "$work/straight.dlw" "$work/killed.dlw"; then echo "ok: killed-then-resumed weights are byte-identical"
  else fail "killed-then-resumed weights differ"; fi
  # With augmentation (its draws come from the data generator too): still exact.
  augmented=(--model mlp --dataset mnist --data-dir "$data/mnist" --epochs 2 --augment shift:2,draw,flip "${common[@]}")
  "$digitlab" train "${augmented[@]}" -o "$work/aug-straight.dlw" >/dev/null 2>&1 || fail "augmented run failed"
  "$digitlab" train "${augmented[@]}" -o "$work/aug-resumed.dlw" --stop-after-steps 7 >/dev/null 2>&1
  "$digitlab" train "${augmented[@]}" -o "$work/aug-resumed.dlw" --resume "$work/aug-resumed.dlw.ckpt" >/dev/null 2>&1
  if cmp "$work/aug-straight.dlw" "$work/aug-resumed.dlw"; then echo "ok: resumed weights with augmentation are byte-identical"
  else fail "resumed weights with --augment shift:2,draw,flip differ"; fi
  # A checkpoint of another recipe is refused, naming the difference.
  expect 1 "batch_size: checkpoint 64, this run 32" -- \
    "$digitlab" train "${small[@]}" --batch-size 32 -o "$work/other.dlw" --resume "$work/resumed.dlw.ckpt"
  ;;
eval)
  "$digitlab" train "${small[@]}" -o "$work/model.dlw" >"$work/train.log" 2>&1 || fail "training failed"
  expect 0 "200/200 identical predictions; max \|logit diff\| [0-9.e-]+ at image" -- \
    "$digitlab" eval "$work/model.dlw" --data-dir "$data/mnist" --limit 200 --threads 1
  out=$("$digitlab" eval "$work/model.dlw" --data-dir "$data/mnist" --limit 200 --threads 1 --json)
  python3 - "$out" <<'EOF' || fail "eval --json is not what it should be"
import json, sys
r = json.loads(sys.argv[1])
assert r["passed"] is True and r["images"] == 200, r
assert r["max_abs_logit_diff"] <= 1e-4, r["max_abs_logit_diff"]
assert r["agreement"]["identical_predictions"] == 200
print("ok: eval --json: max |logit diff| %.3g, accuracy %.3f" % (r["max_abs_logit_diff"], r["core"]["accuracy"]))
EOF
  # An impossible tolerance makes the check fail with exit code 3 and the evidence printed.
  expect 3 "FAIL: LibTorch and the Eigen core disagree" -- \
    "$digitlab" eval "$work/model.dlw" --data-dir "$data/mnist" --limit 50 --threads 1 --tolerance -1
  ;;
errors)
  expect 2 "--model: resnet not in \{mlp,mlp-deep,cnn\}" -- "$digitlab" train --model resnet
  expect 2 "Could not convert: --epochs = abc" -- "$digitlab" train --epochs abc
  expect 2 "not expected: .*--learning-rate" -- "$digitlab" train --learning-rate 0.1
  expect 2 "unknown scheduler 'linear': use none, cosine or step:STEP:GAMMA" -- "$digitlab" train --scheduler linear
  expect 2 "--epochs 0 must be 1 to 10000" -- "$digitlab" train --epochs 0
  expect 2 "A subcommand is required" -- "$digitlab"
  expect 2 "weights is required" -- "$digitlab" eval
  # Missing data: the message names the file and what to do.
  expect 1 "cannot load the training set from $work/nowhere: .*train-images-idx3-ubyte.*scripts/setup" -- \
    "$digitlab" train --model mlp --epochs 1 "${common[@]}" --data-dir "$work/nowhere"
  # Corrupt data: a truncated images file, an HTML page saved as the labels file.
  mkdir -p "$work/truncated" "$work/html"
  head -c 100000 "$data/mnist/train-images-idx3-ubyte" >"$work/truncated/train-images-idx3-ubyte"
  cp "$data/mnist/train-labels-idx1-ubyte" "$work/truncated/"
  expect 1 "truncated.*train-images-idx3-ubyte" -- "$digitlab" train --epochs 1 "${common[@]}" --data-dir "$work/truncated"
  cp "$data/mnist/train-images-idx3-ubyte" "$work/html/"
  printf '<!DOCTYPE html><html><body>404 Not Found</body></html>\n' >"$work/html/train-labels-idx1-ubyte"
  expect 1 "train-labels-idx1-ubyte.*(HTML|html|web page)" -- "$digitlab" train --epochs 1 "${common[@]}" --data-dir "$work/html"
  # Not a weights file / not a checkpoint.
  expect 1 "digitlab info: error: .*" -- "$digitlab" info "$data/mnist/t10k-labels-idx1-ubyte"
  expect 1 "is not a digitlab checkpoint" -- \
    "$digitlab" train "${small[@]}" -o "$work/x.dlw" --resume "$data/mnist/t10k-labels-idx1-ubyte"
  expect 1 "cannot resume: cannot open $work/missing.ckpt" -- \
    "$digitlab" train "${small[@]}" -o "$work/x.dlw" --resume "$work/missing.ckpt"
  # A weights path that cannot be written: training runs, then the write fails with the path named.
  mkdir -p "$work/blocked" && echo x >"$work/blocked/file"
  expect 1 "cannot create folder $work/blocked/file" -- \
    "$digitlab" train --model mlp --data-dir "$data/mnist" --epochs 1 "${common[@]}" -o "$work/blocked/file/model.dlw"
  ;;
tools)
  "$digitlab" train --model cnn --epochs 1 --dataset fashion --data-dir "$data/fashion-mnist" "${common[@]}" \
    -o "$work/fashion.dlw" >"$work/train.log" 2>&1 || fail "fashion training failed"
  grep -Eq "Epoch \[1/1\], Step \[5/10\], Loss: [0-9]+\.[0-9]{4}" "$work/train.log" && echo "ok: tutorial loss lines" \
    || fail "no 'Epoch [1/1], Step [5/10], Loss: x.xxxx' line"
  grep -q "Ankle boot" "$work/train.log" && echo "ok: class names in the report" || fail "no Fashion-MNIST class names"
  grep -q "Using cpu device" "$work/train.log" && echo "ok: device line" || fail "no 'Using cpu device'"
  expect 0 "Architecture: +cnn" -- "$digitlab" info "$work/fashion.dlw"
  expect 0 "Dataset: +fashion-mnist \(10 classes: T-shirt/top, Trouser" -- "$digitlab" info "$work/fashion.dlw"
  "$digitlab" graph "$work/fashion.dlw" -o "$work/graph.dot" 2>/dev/null || fail "graph failed"
  if command -v dot >/dev/null; then
    dot -Tsvg "$work/graph.dot" -o "$work/graph.svg" && grep -q "<svg" "$work/graph.svg" \
      && echo "ok: graph renders with dot" || fail "dot cannot render the graph"
  fi
  expect 0 "Best: run" -- "$digitlab" sweep --model mlp --data-dir "$data/mnist" --limit-train 640 --limit-test 200 \
    --threads 1 --lrs 0.1,0.01 --optimizers sgd,adam --out-dir "$work/sweep"
  for f in sweep.md sweep.csv best.dlw best.dlw.json; do
    [ -s "$work/sweep/$f" ] && echo "ok: sweep wrote $f" || fail "sweep did not write $f"
  done
  [ "$(wc -l <"$work/sweep/sweep.csv")" = 5 ] && echo "ok: 4 runs in sweep.csv" || fail "sweep.csv should have 4 rows"
  for sub in train eval sweep graph info bench convert; do
    expect 0 "Usage: digitlab $sub" -- "$digitlab" "$sub" --help
  done
  ;;
*) echo "unknown case $case_name"; exit 2 ;;
esac

if [ $failures -gt 0 ]; then echo "$failures check(s) failed"; exit 1; fi
echo "all checks passed ($case_name)"

#!/bin/bash
# digitlab against real PyTorch files (Debian's python3-torch): the fixtures are written by torch.save from
# the tutorial's own classes, then
#   logits     the core (load_pytorch) and PyTorch give the same logits on the same inputs (pytorch_check)
#   roundtrip  import, export, and the tutorial's class loads the result strictly with identical tensors
#   cli        digitlab import / export on the fixtures, and bad flags refused with exit code 2
# Usage: run_tests.sh fixtures|logits|roundtrip|cli PYTORCH_CHECK DIGITLAB DATA_DIR OUT_DIR [READER_FIXTURES]
# READER_FIXTURES: the folder tests/pytorch/make_fixtures.py writes at build time (the reader's fixtures); its
# files of the tutorial's classes (plain, checkpoint, DataParallel, torch.compile, newer layout, safetensors)
# join the logits comparison.
# Exits 77 (ctest: skipped) when python3-torch is not installed. Read next: pytorch_check.cpp.
set -u
case_name=$1 check=$2 digitlab=$3 data_dir=$4 out=$5 reader_fixtures=${6:-}
here=$(cd "$(dirname "$0")" && pwd)
out=$(realpath -m "$out")  # the Python scripts run from $here
[ -n "$reader_fixtures" ] && reader_fixtures=$(realpath -m "$reader_fixtures")
python=/usr/bin/python3
fixtures=$out/fixtures

if ! $python -c 'import torch' 2>/dev/null; then
  echo "SKIP: python3-torch is not installed (sudo apt-get install python3-torch); the PyTorch comparison needs it"
  exit 77
fi

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Runs a command that must fail with exit code $1 and print $2 (a fixed string) on stderr.
expect_refusal() {
  local want_code=$1 want_text=$2
  shift 2
  local output code
  output=$("$@" 2>&1 >/dev/null)
  code=$?
  if [ "$code" != "$want_code" ]; then
    fail "'$*' exited $code, expected $want_code; it printed: $output"
  elif ! grep -qF -- "$want_text" <<<"$output"; then
    fail "'$*' did not say '$want_text'; it printed: $output"
  else
    echo "ok: refused (exit $code): ${output%%$'\n'*}"
  fi
}

# The tutorial's classes under their own names (the ones export writes back); bare-sequential is import only.
tutorial_fixtures="tutorial-mlp tutorial-mlp-deep tutorial-cnn wide-mlp-784-256-128-64-10 narrow-cnn-8-16-32-64 checkpoint-mlp"

case $case_name in
fixtures)
  rm -rf "$fixtures" && mkdir -p "$fixtures" || exit 1
  (cd "$here" && $python model_fixtures.py "$fixtures") || exit 1
  ;;
logits)
  mkdir -p "$out/logits"
  models=("$fixtures"/*.pth)
  for name in mlp.pth deep_mlp.pth cnn.pth checkpoint.pth data_parallel.pth compiled_checkpoint.pth \
              cnn_newer_layout.pth mlp.safetensors; do
    if [ -n "$reader_fixtures" ] && [ -f "$reader_fixtures/$name" ]; then
      models+=("$reader_fixtures/$name")
    else
      echo "note: the reader's fixture $name is not there (${reader_fixtures:-no folder given}); build pytorch_fixtures"
    fi
  done
  (cd "$here" && $python torch_logits.py "$out/logits" "${models[@]}") || exit 1
  for model in "${models[@]}"; do
    stem=$out/logits/$(basename "$model")
    "$check" logits "$model" "$stem.inputs.f32" "$stem.logits.f32" || failures=$((failures + 1))
  done
  ;;
roundtrip)
  mkdir -p "$out/roundtrip"
  pairs=()
  for name in $tutorial_fixtures; do
    "$check" roundtrip "$fixtures/$name.pth" "$out/roundtrip/$name.pth" || failures=$((failures + 1))
    pairs+=("$fixtures/$name.pth" "$out/roundtrip/$name.pth")
  done
  (cd "$here" && $python check_roundtrip.py "${pairs[@]}") || failures=$((failures + 1))
  ;;
cli)
  dir=$out/cli
  rm -rf "$dir" && mkdir -p "$dir"
  # The tutorial's MLP with the full MNIST test set; the CNN on 200 test images (time); the deep MLP without.
  "$digitlab" import "$fixtures/tutorial-mlp.pth" -o "$dir/mlp.dlw" --threads 1 --data-dir "$data_dir/mnist" \
    >"$dir/mlp.log" 2>&1 || fail "import tutorial-mlp.pth: $(cat "$dir/mlp.log")"
  cat "$dir/mlp.log"
  grep -q "Test accuracy: .* (10000/10000\|Test accuracy: .*/10000 images" "$dir/mlp.log" ||
    fail "import did not measure the full test set"
  "$digitlab" info "$dir/mlp.dlw" >"$dir/mlp.info" || fail "info mlp.dlw"
  grep -q "imported from tutorial-mlp.pth, a PyTorch state_dict" "$dir/mlp.info" || fail "the card does not say where the model came from: $(cat "$dir/mlp.info")"
  grep -q "Self-test:      passed" "$dir/mlp.info" || fail "no self-test in mlp.dlw: $(cat "$dir/mlp.info")"
  grep -q "Test accuracy:  [0-9]" "$dir/mlp.info" || fail "no test accuracy on the card: $(cat "$dir/mlp.info")"
  "$digitlab" import "$fixtures/tutorial-cnn.pth" -o "$dir/cnn.dlw" --threads 1 --data-dir "$data_dir/mnist" \
    --limit-test 200 --dataset mnist --normalize 0.1307,0.3081 >"$dir/cnn.log" 2>&1 || fail "import tutorial-cnn.pth: $(cat "$dir/cnn.log")"
  cat "$dir/cnn.log"
  "$digitlab" info "$dir/cnn.dlw" | grep -q "normalised as (pixel/255 - 0.1307) / 0.3081" || fail "--normalize did not reach the card"
  "$digitlab" import "$fixtures/checkpoint-mlp.pth" -o "$dir/checkpoint.dlw" --no-test-set --threads 1 \
    --dataset fashion >"$dir/checkpoint.log" 2>&1 || fail "import checkpoint-mlp.pth: $(cat "$dir/checkpoint.log")"
  "$digitlab" info "$dir/checkpoint.dlw" | grep -q "Ankle boot" || fail "--dataset fashion did not set the class names"
  "$digitlab" import "$fixtures/tutorial-mlp-deep.pth" -o "$dir/deep.dlw" --no-test-set --threads 1 --arch deep-mlp \
    >"$dir/deep.log" 2>&1 || fail "import tutorial-mlp-deep.pth: $(cat "$dir/deep.log")"
  # Export back, and the tutorial's classes load the results unchanged.
  for name in mlp cnn deep; do
    "$digitlab" export "$dir/$name.dlw" -o "$dir/$name.pth" || fail "export $name.dlw"
  done
  (cd "$here" && $python check_roundtrip.py "$fixtures/tutorial-mlp.pth" "$dir/mlp.pth" \
    "$fixtures/tutorial-cnn.pth" "$dir/cnn.pth" "$fixtures/tutorial-mlp-deep.pth" "$dir/deep.pth") ||
    fail "exported files do not round-trip"
  # Bad flags and bad files, each refused with what is wrong.
  m=$fixtures/tutorial-mlp.pth
  expect_refusal 2 "--normalize takes MEAN,STD" "$digitlab" import "$m" -o "$dir/x.dlw" --normalize 0.5
  expect_refusal 2 "--normalize takes MEAN,STD" "$digitlab" import "$m" -o "$dir/x.dlw" --normalize a,b
  expect_refusal 2 "--normalize takes MEAN,STD" "$digitlab" import "$m" -o "$dir/x.dlw" --normalize 0.5,0.5,0.5
  expect_refusal 2 "STD must be positive" "$digitlab" import "$m" -o "$dir/x.dlw" --normalize 0.5,0
  expect_refusal 2 "--arch" "$digitlab" import "$m" -o "$dir/x.dlw" --arch resnet
  expect_refusal 2 "--activation" "$digitlab" import "$m" -o "$dir/x.dlw" --activation gelu
  expect_refusal 2 "--dataset" "$digitlab" import "$m" -o "$dir/x.dlw" --dataset cifar10
  expect_refusal 2 "--output" "$digitlab" import "$m"
  expect_refusal 1 "unknown_architecture" "$digitlab" import "$m" -o "$dir/x.dlw" --arch cnn --no-test-set
  expect_refusal 1 "this file has 3" "$digitlab" import "$m" -o "$dir/x.dlw" --arch deep-mlp --no-test-set
  expect_refusal 1 "$dir/missing.pth" "$digitlab" import "$dir/missing.pth" -o "$dir/x.dlw"
  expect_refusal 1 "$dir/mlp.dlw" "$digitlab" import "$dir/mlp.dlw" -o "$dir/x.dlw" --no-test-set
  expect_refusal 1 "--no-test-set" "$digitlab" import "$m" -o "$dir/x.dlw" --data-dir "$dir/no-such-folder"
  expect_refusal 1 "run digitlab import" "$digitlab" export "$m" -o "$dir/x.pth"
  if [ -n "$reader_fixtures" ] && [ -f "$reader_fixtures/whole_module.pth" ]; then  # torch.save(model)
    expect_refusal 1 'torch.save(model.state_dict(), "model.pth")' "$digitlab" import "$reader_fixtures/whole_module.pth" \
      -o "$dir/x.dlw" --no-test-set
  fi
  [ -e "$dir/x.dlw" ] && fail "a refused import wrote $dir/x.dlw"
  ;;
*)
  echo "unknown case '$case_name'"
  exit 2
  ;;
esac

if [ "$failures" -ne 0 ]; then
  echo "FAILED: $failures check(s) in '$case_name'"
  exit 1
fi
echo "PASS: $case_name"

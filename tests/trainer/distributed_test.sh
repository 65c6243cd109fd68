#!/usr/bin/env bash
# Data-parallel training end to end, with worker processes on loopback (Gloo): the same run as one process,
# resume, a worker killed mid-run, bad environments and options, and the parallel sweep.
# Usage: distributed_test.sh CASE DIGITLAB_BINARY DATA_DIR WORK_DIR
#   CASE: parity | resume | kill | errors | sweep | torchrun
# Tolerances (parity): 2 workers x 32 images per step against 1 process x 64, same seed, one epoch of the
# tutorial's MLP on all of MNIST: after one step the weights agree to 1e-6 (only the order of float sums
# differs); after the epoch the test accuracy is within 0.2 points, the epoch's mean training loss within
# 0.005 and every logged loss within 0.05 (rounding differences grow over 938 SGD steps; measured here:
# 0.12 points, 0.0000 and 0.0096). Read next: tests/trainer.cmake, native/src/distributed.hpp.
set -uo pipefail
case_name=$1 digitlab=$2 data=$3 work=$4/$1
rm -rf "$work" && mkdir -p "$work"
# shellcheck source=check_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/check_lib.sh"  # fail, expect
py=/usr/bin/python3  # Debian's, with python3-torch (scripts/setup installs it)

# Largest |difference| between two weights files' tensors (through `digitlab export` and torch.load).
max_weight_difference() {
  "$digitlab" export "$1" -o "$1.pth" >/dev/null && "$digitlab" export "$2" -o "$2.pth" >/dev/null || return 1
  "$py" - "$1.pth" "$2.pth" <<'EOF'
import sys, torch
a, b = torch.load(sys.argv[1]), torch.load(sys.argv[2])
worst = max(((a[k] - b[k]).abs().max().item(), k) for k in a)
print(f"{worst[0]:.3g} {worst[1]}")
EOF
}

common=(--dataset mnist --data-dir "$data/mnist" --device cpu --progress off --threads 1)

case $case_name in
parity)
  # One step of 128 images: 1 x 128 against 2 x 64.
  one=(--model mlp --epochs 1 --limit-train 128 --limit-test 100 "${common[@]}")
  "$digitlab" train "${one[@]}" --batch-size 128 -o "$work/step1.dlw" >/dev/null 2>&1 || fail "single-process step failed"
  "$digitlab" train "${one[@]}" --batch-size 64 --nproc 2 -o "$work/step2.dlw" >/dev/null 2>&1 || fail "2-worker step failed"
  read -r diff where < <(max_weight_difference "$work/step1.dlw" "$work/step2.dlw")
  if "$py" -c "import sys; sys.exit(0 if float('$diff') <= 1e-6 else 1)"; then echo "ok: after one step the weights agree (max |diff| $diff at $where)"
  else fail "after one step 2 x 64 differs from 1 x 128 by $diff at $where (tolerance 1e-6)"; fi
  # WORLD_SIZE=1, as torchrun would start a run of one: byte-identical to the plain run.
  MASTER_ADDR=127.0.0.1 MASTER_PORT=$((20000 + RANDOM % 20000)) RANK=0 WORLD_SIZE=1 \
    "$digitlab" train "${one[@]}" --batch-size 128 -o "$work/world1.dlw" >/dev/null 2>&1 || fail "WORLD_SIZE=1 run failed"
  cmp -s "$work/step1.dlw" "$work/world1.dlw" && echo "ok: WORLD_SIZE=1 gives the single-process bytes" \
    || fail "WORLD_SIZE=1 weights differ from the single-process run's"

  # The tutorial's MLP, one epoch on all of MNIST.
  full=(--model mlp --epochs 1 "${common[@]}")
  "$digitlab" train "${full[@]}" --batch-size 64 -o "$work/one.dlw" >"$work/one.log" 2>&1 || fail "1 x 64 run failed"
  expect 0 "Data-parallel: 2 workers over gloo .* 32 images per worker per step, 64 in all" -- \
    "$digitlab" train "${full[@]}" --batch-size 32 --nproc 2 -o "$work/two.dlw"
  "$py" - "$work/one.dlw.json" "$work/two.dlw.json" <<'EOF' || fail "2 x 32 is not within the tolerances of 1 x 64"
import json, sys
one, two = (json.load(open(p)) for p in sys.argv[1:3])
accuracy = 100 * abs(one["test"]["accuracy"] - two["test"]["accuracy"])
epoch_loss = abs(one["epochs"][-1]["train_loss"] - two["epochs"][-1]["train_loss"])
steps = [(abs(a["loss"] - b["loss"]), a["global_step"]) for a, b in zip(one["losses"], two["losses"])]
worst = max(steps)
print(f"1 x 64: {100 * one['test']['accuracy']:.2f} %, 2 x 32: {100 * two['test']['accuracy']:.2f} % "
      f"({accuracy:.2f} points); epoch loss {one['epochs'][-1]['train_loss']:.4f} vs {two['epochs'][-1]['train_loss']:.4f}; "
      f"largest logged-loss difference {worst[0]:.4f} at step {worst[1]} of {len(steps)} logged")
assert len(one["losses"]) == len(two["losses"]) == 9, "both log the tutorial's 9 loss lines"
assert two["distributed"]["world_size"] == 2 and two["distributed"]["batch_per_worker"] == 32
assert accuracy <= 0.2 and epoch_loss <= 0.005 and worst[0] <= 0.05
EOF
  ;;

resume)
  # The CNN (batch norm, dropout) with synchronised batch norm, 2 workers: stopped mid-epoch and resumed,
  # it ends with the uninterrupted run's bytes.
  small=(--model cnn --epochs 2 --limit-train 640 --limit-test 200 --batch-size 16 --log-every 5 --sync-bn --nproc 2 "${common[@]}")
  "$digitlab" train "${small[@]}" -o "$work/straight.dlw" >"$work/straight.log" 2>&1 || { fail "uninterrupted run failed"; tail "$work/straight.log"; }
  expect 0 "Stopped after 27 steps" -- "$digitlab" train "${small[@]}" -o "$work/resumed.dlw" --stop-after-steps 27
  [ -e "$work/resumed.dlw" ] && fail "a stopped run must not write weights"
  expect 0 "Resumed from .* at epoch 2, step 7 \(27 steps done\)" -- \
    "$digitlab" train "${small[@]}" -o "$work/resumed.dlw" --resume "$work/resumed.dlw.ckpt"
  cmp -s "$work/straight.dlw" "$work/resumed.dlw" && echo "ok: the resumed 2-worker run's weights are byte-identical" \
    || fail "resumed 2-worker weights differ from the uninterrupted run's"
  # A checkpoint of a 2-worker run is not one of a single-process run (the steps differ).
  single=(--model cnn --epochs 2 --limit-train 640 --limit-test 200 --batch-size 16 --log-every 5 "${common[@]}")
  expect 1 "world_size" -- "$digitlab" train "${single[@]}" -o "$work/wrong.dlw" --resume "$work/resumed.dlw.ckpt"
  ;;

kill)
  # --nproc: rank 1 killed mid-run; the launcher and rank 0 stop within a bounded time, naming it, and
  # the previous weights file is untouched.
  long=(--model mlp --epochs 3 --limit-train 30000 --limit-test 500 --log-every 20 "${common[@]}")
  echo "previous weights" >"$work/kept.dlw"
  "$digitlab" train "${long[@]}" --nproc 2 -o "$work/kept.dlw" >"$work/nproc.log" 2>&1 &
  launcher=$!
  for _ in $(seq 1 600); do grep -q "Step \[40/" "$work/nproc.log" && break; sleep 0.05; done
  rank1=$(sed -n 's/^worker rank 1: pid //p' "$work/nproc.log")
  [ -n "$rank1" ] || fail "the launcher did not print rank 1's pid"
  start=$(date +%s.%N); kill -9 "$rank1"; wait "$launcher"; code=$?; end=$(date +%s.%N)
  seconds=$("$py" -c "print(f'{$end - $start:.2f}')")
  [ "$code" = 1 ] || fail "the launcher exited with $code, expected 1"
  "$py" -c "import sys; sys.exit(0 if $seconds < 30 else 1)" && echo "ok: every process stopped $seconds s after the kill (bound: 30 s)" \
    || fail "the run took $seconds s to stop after the kill"
  grep -q "worker rank 1 (pid $rank1) was killed by signal 9" "$work/nproc.log" && echo "ok: the launcher names rank 1" \
    || { fail "the launcher does not name the killed rank"; tail -5 "$work/nproc.log"; }
  grep -q "rank 0 lost contact .* rank 1 (pid $rank1) is no longer running" "$work/nproc.log" && echo "ok: rank 0 names rank 1" \
    || { fail "rank 0 does not name the lost rank"; tail -5 "$work/nproc.log"; }
  [ "$(cat "$work/kept.dlw")" = "previous weights" ] && echo "ok: the previous weights file is untouched" \
    || fail "the weights file was replaced by a run that failed"
  ls -a "$work" | grep -q '\.tmp-' && fail "a temporary file was left behind: $(ls -a "$work")"

  # torchrun's way (no launcher): two workers started by hand, rank 1 killed; rank 0 stops by itself.
  # Starts ranks 0 and 1 of the long run by hand on port $1 (their logs $2 and $3, more options after),
  # sets rank0 and rank1 to their pids and returns once rank 0 has logged step 40.
  start_two_ranks() {
    local port=$1 log0=$2 log1=$3
    shift 3
    env RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$digitlab" train "${long[@]}" "$@" \
      -o "$work/kept.dlw" >"$log0" 2>&1 &
    rank0=$!
    env RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$digitlab" train "${long[@]}" "$@" \
      -o "$work/kept.dlw" >"$log1" 2>&1 &
    rank1=$!
    for _ in $(seq 1 600); do grep -q "Step \[40/" "$log0" && break; sleep 0.05; done
  }
  port=$((20000 + RANDOM % 20000))
  start_two_ranks $port "$work/rank0.log" "$work/rank1.log"
  start=$(date +%s.%N); kill -9 "$rank1"; wait "$rank1" 2>/dev/null; wait "$rank0"; code=$?; end=$(date +%s.%N)
  seconds=$("$py" -c "print(f'{$end - $start:.2f}')")
  [ "$code" = 1 ] || fail "rank 0 exited with $code, expected 1"
  "$py" -c "import sys; sys.exit(0 if $seconds < 30 else 1)" && echo "ok: rank 0 stopped $seconds s after rank 1 was killed" \
    || fail "rank 0 took $seconds s to stop"
  grep -q "rank 1 (pid $rank1) is no longer running" "$work/rank0.log" && echo "ok: rank 0 names rank 1 by itself" \
    || { fail "rank 0 does not name rank 1"; tail -5 "$work/rank0.log"; }
  [ "$(cat "$work/kept.dlw")" = "previous weights" ] || fail "the weights file was replaced"

  # A stuck worker (stopped, not dead): rank 0 gives up after --dist-timeout and says one may be stuck.
  port=$((port + 1))
  start_two_ranks $port "$work/stuck0.log" /dev/null --dist-timeout 3
  start=$(date +%s.%N); kill -STOP "$rank1"; wait "$rank0"; code=$?; end=$(date +%s.%N)
  kill -9 "$rank1"; wait "$rank1" 2>/dev/null
  seconds=$("$py" -c "print(f'{$end - $start:.2f}')")
  [ "$code" = 1 ] && grep -q "a timeout: one may be stuck" "$work/stuck0.log" \
    && "$py" -c "import sys; sys.exit(0 if $seconds < 20 else 1)" \
    && echo "ok: a stuck rank 1 stopped rank 0 after $seconds s (--dist-timeout 3)" \
    || { fail "a stuck worker: rank 0 exited $code after $seconds s"; tail -3 "$work/stuck0.log"; }
  [ "$(cat "$work/kept.dlw")" = "previous weights" ] || fail "the weights file was replaced"
  ;;

errors)
  run=(train --model mlp --epochs 1 --limit-train 640 --limit-test 100 --quiet -o "$work/e.dlw" --dist-timeout=5 "${common[@]}")
  expect 2 "RANK is set but WORLD_SIZE is not" -- env RANK=0 "$digitlab" "${run[@]}"
  expect 2 "WORLD_SIZE='two' is not a whole number" -- env RANK=0 WORLD_SIZE=two "$digitlab" "${run[@]}"
  expect 2 "WORLD_SIZE=0: a run needs at least one worker" -- env RANK=0 WORLD_SIZE=0 "$digitlab" "${run[@]}"
  expect 2 "RANK=2 with WORLD_SIZE=2: ranks run from 0 to 1" -- env RANK=2 WORLD_SIZE=2 "$digitlab" "${run[@]}"
  expect 2 "MASTER_ADDR is not set" -- env RANK=0 WORLD_SIZE=2 "$digitlab" "${run[@]}"
  expect 2 "MASTER_PORT='http' is not a port number" -- env RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=http "$digitlab" "${run[@]}"
  expect 2 "--nproc starts its own workers" -- env RANK=0 WORLD_SIZE=1 MASTER_ADDR=127.0.0.1 MASTER_PORT=1 "$digitlab" "${run[@]}" --nproc 2
  expect 2 "--nproc 0 must be 1 to 256|--nproc -1 must be" -- "$digitlab" "${run[@]}" --nproc -1
  expect 2 "--sync-bn synchronises batch norm across data-parallel workers" -- "$digitlab" "${run[@]}" --sync-bn
  # No GPU: said once by the launcher, before any worker starts.
  if ! command -v nvidia-smi >/dev/null; then
    expect 2 "^digitlab train: error: --device cuda was asked for but" -- \
      "$digitlab" train --model mlp --epochs 1 --limit-train 640 --quiet -o "$work/e.dlw" --nproc 2 --device cuda
  fi
  # A port held by another program.
  port=$((20000 + RANDOM % 20000))
  "$py" -c "import socket, time; s = socket.socket(); s.bind(('127.0.0.1', $port)); s.listen(); time.sleep(30)" &
  holder=$!
  sleep 0.5
  expect 1 "could not listen on port $port for the rendezvous: the port is in use" -- \
    env RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$digitlab" "${run[@]}"
  kill "$holder"
  # A worker that never comes: rank 0 says how many arrived (bounded by --dist-timeout).
  expect 1 "only 1 of the 2 workers arrived within 2 s" -- \
    env RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$((port + 1)) "$digitlab" "${run[@]/--dist-timeout=5/--dist-timeout=2}"
  # Workers with different options: both refuse, naming the option.
  port=$((port + 2))
  env RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$digitlab" "${run[@]}" --lr 0.1 >"$work/rank1.log" 2>&1 &
  rank1=$!
  expect 2 "rank 1 stopped .*rank 1 has learning_rate = 0.1 but rank 0 has 0.01" -- \
    env RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$digitlab" "${run[@]}"
  wait "$rank1"; code=$?
  [ "$code" = 2 ] && grep -q "rank 1 has learning_rate = 0.1 but rank 0 has 0.01" "$work/rank1.log" \
    && echo "ok: rank 1 refuses too (exit 2)" || { fail "rank 1 exited $code"; cat "$work/rank1.log"; }
  [ -e "$work/e.dlw" ] && fail "a refused run wrote weights"
  # Too few images for the workers in the last step.
  expect 2 "leave a last step of 1 image\(s\) for 2 workers" -- \
    "$digitlab" train --model mlp --epochs 1 --batch-size 32 --limit-train 65 --limit-test 10 --quiet -o "$work/e.dlw" "${common[@]}" --nproc 2
  ;;

sweep)
  grid=(sweep --model mlp --limit-train 1280 --limit-test 500 --lrs 0.1,0.01 --optimizers sgd,adam
        --dataset mnist --data-dir "$data/mnist" --device cpu --threads 1)
  "$digitlab" "${grid[@]}" --out-dir "$work/serial" >"$work/serial.log" 2>&1 || { fail "serial sweep failed"; tail "$work/serial.log"; }
  expect 0 "Running 2 at a time \(child processes\), 1 CPU thread each" -- "$digitlab" "${grid[@]}" --out-dir "$work/parallel" --workers 2
  # Identical figures per configuration (all but the timing column), and the same best model.
  [ -s "$work/serial/sweep.csv" ] && [ -s "$work/parallel/sweep.csv" ] || fail "a sweep wrote no table"
  if diff <(cut -d, -f1-8 "$work/serial/sweep.csv") <(cut -d, -f1-8 "$work/parallel/sweep.csv"); then
    echo "ok: the parallel sweep's table has the serial one's figures:"; cut -d, -f1-8 "$work/parallel/sweep.csv"
  else fail "the parallel sweep's figures differ"; fi
  cmp -s "$work/serial/best.dlw" "$work/parallel/best.dlw" && echo "ok: the same best model, byte for byte" \
    || fail "the best models differ"
  # Started again in the same folder, a sweep reuses what an earlier one finished with the same recipe:
  # here runs 1, 2 and 4 (run 3's files removed, as if the sweep had stopped there).
  cp "$work/parallel/sweep.csv" "$work/first.csv"
  rm "$work/parallel/runs/run-3."*
  "$digitlab" "${grid[@]}" --out-dir "$work/parallel" >"$work/again.log" 2>&1 || fail "the second sweep failed"
  reused=$(grep -c "done by an earlier sweep" "$work/again.log")
  [ "$reused" = 3 ] && grep -q "^\[3/4\] adam lr=0.1 " "$work/again.log" && echo "ok: 3 runs reused, run 3 trained again" \
    || { fail "expected 3 reused runs, got $reused"; cat "$work/again.log"; }
  diff <(cut -d, -f1-8 "$work/first.csv") <(cut -d, -f1-8 "$work/parallel/sweep.csv") >/dev/null \
    && echo "ok: the same table" || fail "the resumed sweep's table differs"
  # Another recipe reuses nothing.
  "$digitlab" "${grid[@]}" --out-dir "$work/parallel" --epochs 2 >"$work/other.log" 2>&1 || fail "sweep --epochs 2 failed"
  grep -q "done by an earlier sweep" "$work/other.log" && fail "a run of another recipe was reused"
  expect 2 "--devices 'gpu0': give GPUs as cuda:0,cuda:1" -- "$digitlab" "${grid[@]}" --out-dir "$work/bad" --devices gpu0
  # Without a GPU, --devices reaches the child's CUDA check, and the sweep says which run failed.
  if ! command -v nvidia-smi >/dev/null; then
    expect 1 "error: run 1 \(sgd lr=0.1 .*\) failed \(its error is above\)" -- \
      "$digitlab" "${grid[@]}" --out-dir "$work/gpu" --devices cuda:0
  fi
  ;;

torchrun)
  # PyTorch's own launcher (Debian's python3-torch): its agent serves the store and the workers join it.
  # torchrun 1.13 under Python 3.11 cannot parse its --redirects default (an enum change): the wrapper
  # turns redirection off and runs torchrun's main() unchanged.
  [ -x /usr/bin/torchrun ] || { fail "torchrun is missing: scripts/setup installs python3-torch"; exit 1; }
  cat >"$work/torchrun.py" <<'EOF'
import sys
from torch.distributed.elastic.multiprocessing import api
api.Std.from_str = classmethod(lambda cls, text: api.Std.NONE)
from torch.distributed.run import main
sys.exit(main())
EOF
  run=(train --model mlp --epochs 1 --limit-train 640 --limit-test 100 --batch-size 32 "${common[@]}")
  "$digitlab" "${run[@]}" --nproc 2 -o "$work/nproc.dlw" >"$work/nproc.log" 2>&1 || fail "--nproc 2 failed"
  port=$((20000 + RANDOM % 20000))
  expect 0 "Epoch \\[1/1\\] done" -- "$py" "$work/torchrun.py" --nproc_per_node 2 --master_port $port --no_python \
    "$digitlab" "${run[@]}" -o "$work/torchrun.dlw"
  cmp -s "$work/nproc.dlw" "$work/torchrun.dlw" && echo "ok: torchrun's 2 workers write --nproc 2's bytes" \
    || fail "the torchrun run's weights differ from --nproc 2's"
  ;;

*)
  echo "unknown case $case_name"; exit 2 ;;
esac

if [ "$failures" -gt 0 ]; then echo "$failures check(s) failed"; exit 1; fi
echo "all checks passed ($case_name)"

#!/usr/bin/env bash
# Data-parallel throughput on this machine's cores, side by side in one run: for the tutorial's MLP and CNN,
# training images per second of
#   1 process x 1 thread     (the baseline one worker gets)
#   1 process x 2 threads    (the other way to use two cores)
#   2 workers x 1 thread     (--nproc 2, Gloo over loopback; batch 32 per worker = 64 per step)
# and the scaling efficiency, img/s(2 workers) / (2 x img/s(1 x 1 thread)). The configurations take turns,
# ROUNDS times, and the median of each is printed (timings are noisy here: compare the ratios).
# Also the all-reduce volume per step (from the run record), and what PyTorch's own Gloo all-reduce of that
# many floats costs between two processes here (Debian's python3-torch): the floor for a data-parallel step.
# Usage: native/bench_distributed.sh [DIGITLAB_BINARY] [ROUNDS]   (default build/native/digitlab, 3)
set -euo pipefail
digitlab=${1:-build/native/digitlab}
rounds=${2:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
py=/usr/bin/python3

declare -A images=([mlp]=19200 [cnn]=1920)
configs=("1x1:--threads 1 --batch-size 64" "1x2:--threads 2 --batch-size 64" "2x1:--nproc 2 --threads 1 --batch-size 32")

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for model in mlp cnn; do
  for round in $(seq 1 "$rounds"); do
    for config in "${configs[@]}"; do
      name=${config%%:*} flags=${config#*:}
      # shellcheck disable=SC2086
      "$digitlab" train --model "$model" --epochs 1 --limit-train "${images[$model]}" --limit-test 100 --device cpu \
        --progress off --quiet -o "$work/$model-$name.dlw" $flags >"$work/$model-$name-$round.log" 2>&1
      grep -o '([0-9,]* img/s)' "$work/$model-$name-$round.log" | tr -d '(), img/s' >>"$work/$model-$name.rates"
    done
  done
done

"$py" - "$work" <<'EOF'
import json, statistics, sys
work = sys.argv[1]
print(f"{'model':6} {'1 x 1 thread':>14} {'1 x 2 threads':>14} {'2 workers x 1':>14} {'2w / 1x2':>9} {'efficiency':>11}  all-reduce per step")
for model in ("mlp", "cnn"):
    rate = {c: statistics.median(float(x) for x in open(f"{work}/{model}-{c}.rates").read().split())
            for c in ("1x1", "1x2", "2x1")}
    record = json.load(open(f"{work}/{model}-2x1.dlw.json"))
    volume = record["distributed"]["allreduce_bytes_per_step"]
    print(f"{model:6} {rate['1x1']:>10,.0f} i/s {rate['1x2']:>10,.0f} i/s {rate['2x1']:>10,.0f} i/s "
          f"{rate['2x1'] / rate['1x2']:>9.2f} {rate['2x1'] / (2 * rate['1x1']):>10.0%}  {volume / 1e6:.2f} MB")
EOF

# PyTorch's dist.all_reduce over Gloo, 2 processes on loopback, the gradient sizes of the MLP and the CNN.
port=$((20000 + RANDOM % 20000))
"$py" - "$port" <<'EOF'
import sys, time, torch, torch.distributed as dist, torch.multiprocessing as mp
def work(rank, port, sizes, out):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    for name, floats in sizes:
        t = torch.ones(floats)
        for _ in range(10): dist.all_reduce(t)
        start = time.time()
        for _ in range(100): dist.all_reduce(t)
        if rank == 0: out.put((name, floats, (time.time() - start) / 100))
if __name__ == "__main__":
    sizes = [("mlp", 669707), ("cnn", 953291)]
    out = mp.get_context("fork").Queue()
    ps = [mp.get_context("fork").Process(target=work, args=(r, int(sys.argv[1]), sizes, out)) for r in range(2)]
    [p.start() for p in ps]; [p.join() for p in ps]
    while not out.empty():
        name, floats, seconds = out.get()
        print(f"PyTorch Gloo all-reduce, 2 processes: {name} gradients ({floats * 4 / 1e6:.2f} MB) {seconds * 1e3:.2f} ms")
EOF

# The round trip's Python end: the file digitlab exported must load into the tutorial's class with
# model.load_state_dict(torch.load(path)) (strict, unchanged) and hold exactly the original tensors.
# BatchNorm's num_batches_tracked is the one exception, reported but not compared: a .dlw does not keep it
# (it only matters when training resumes with momentum=None). Exits 1 naming the first differing tensor.
# Usage: /usr/bin/python3 check_roundtrip.py ORIGINAL.pth EXPORTED.pth [ORIGINAL EXPORTED ...]
# Read next: run_tests.sh.
import sys

import torch

import tutorial_classes as tc


def check(original_path, exported_path):
    original = tc.unwrap(torch.load(original_path))
    model = tc.class_for(original)
    exported = torch.load(exported_path)
    try:
        model.load_state_dict(exported)  # strict, as the tutorial's reader would call it
    except RuntimeError as error:
        print(f"FAIL: {exported_path} does not load into {type(model).__name__}: {error}")
        return 1
    if list(exported.keys()) != list(original.keys()):
        print(f"FAIL: key order differs:\n  original {list(original.keys())}\n  exported {list(exported.keys())}")
        return 1
    compared = 0
    for name, tensor in original.items():
        if name.endswith("num_batches_tracked"):
            continue
        other = exported[name]
        if other.dtype != tensor.dtype or other.shape != tensor.shape or not torch.equal(other, tensor):
            diff = (other.float() - tensor.float()).abs().max().item() if other.shape == tensor.shape else float("nan")
            print(f"FAIL: tensor {name} differs: original {tensor.dtype} {tuple(tensor.shape)}, exported "
                  f"{other.dtype} {tuple(other.shape)}, max |diff| {diff}")
            return 1
        compared += 1
    print(f"PASS: {exported_path} loads strictly into {type(model).__name__}; {compared} tensors identical "
          f"(torch.equal) to {original_path}")
    return 0


def main():
    pairs = sys.argv[1:]
    if not pairs or len(pairs) % 2:
        print("usage: check_roundtrip.py ORIGINAL.pth EXPORTED.pth [ORIGINAL EXPORTED ...]")
        return 2
    failed = 0
    for i in range(0, len(pairs), 2):
        failed += check(pairs[i], pairs[i + 1])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

# PyTorch's side of the logits comparison: loads a state_dict file into the tutorial's class (strict), runs
# it in eval mode on seeded inputs in the normalised range [-1, 1] and writes inputs and logits as raw
# little-endian float32 (N x 784 and N x 10: OUTDIR/<file name>.inputs.f32, .logits.f32), for pytorch_check.
# Usage: /usr/bin/python3 torch_logits.py OUTDIR MODEL.pth|MODEL.safetensors [...]
# Read next: pytorch_check.cpp.
import json
import os
import sys

import torch

import tutorial_classes as tc


def load_safetensors(path):
    """A .safetensors file's tensors (u64 header size, JSON header, data), without the safetensors package."""
    with open(path, "rb") as f:
        data = f.read()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + size])
    dtypes = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64, "I64": torch.int64}
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = bytearray(data[8 + size + begin:8 + size + end])
        tensors[name] = torch.frombuffer(raw, dtype=dtypes[info["dtype"]]).reshape(info["shape"]).clone()
    return tensors


def write(path, inputs_path, logits_path, count=8):
    state = tc.unwrap(load_safetensors(path) if path.endswith(".safetensors") else torch.load(path))
    state = {name: tensor.float() if tensor.is_floating_point() else tensor for name, tensor in state.items()}
    model = tc.class_for(state)
    model.load_state_dict(state, strict=True)
    model.eval()
    generator = torch.Generator().manual_seed(20261202)
    inputs = torch.rand(count, 1, 28, 28, generator=generator) * 2 - 1
    # One all-background image (pixel 0 -> -1 after Normalize(0.5, 0.5)) and one saturated image.
    inputs[0].fill_(-1.0)
    inputs[1].fill_(1.0)
    with torch.no_grad():
        logits = model(inputs)
    inputs.numpy().astype("<f4").tofile(inputs_path)
    logits.numpy().astype("<f4").tofile(logits_path)
    print(f"{path}: {type(model).__name__}, {count} inputs, logits in [{logits.min():.3f}, {logits.max():.3f}]")


def main():
    out = sys.argv[1]
    for path in sys.argv[2:]:
        stem = os.path.join(out, os.path.basename(path))
        write(path, stem + ".inputs.f32", stem + ".logits.f32")


if __name__ == "__main__":
    main()

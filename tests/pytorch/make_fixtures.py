# Writes real PyTorch files for the reader's tests (tests/core/test_pytorch_reader.cpp), seeded: the
# tutorial's own classes' state_dicts, wrappers, views, dtypes, .safetensors, and the ZIP layouts newer
# PyTorch versions write, rebuilt from a real file. Read next: docs/fuzzing.md, shared/src/pickle.cpp.
#
# Usage: /usr/bin/python3 tests/pytorch/make_fixtures.py OUT_DIR   (needs Debian's python3-torch)
# Each readable fixture X gets X.expected beside it: what the reader must return, written from PyTorch's
# own tensors (format below, little-endian), so the C++ test holds no numbers of its own.
#   "DLEX" u32 version=1 | str root | str unwrapped | u32 count | count x tensor
#   tensor: str name | u8 dtype (0 float32, 1 float16, 2 bfloat16, 3 float64, 4 int64) | u32 ndim | i64 dims
#           | values: numel float32 (float dtypes, converted by PyTorch) or numel int64
#   str: u32 length + UTF-8 bytes
import collections
import io
import json
import os
import struct
import sys
import zipfile

import torch
from torch import nn

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
DTYPE_CODE = {torch.float32: 0, torch.float16: 1, torch.bfloat16: 2, torch.float64: 3, torch.int64: 4}
SAFE_DTYPE = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64", torch.int64: "I64"}


# ---- the tutorial's classes, exactly --------------------------------------------------------------------
class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))

    def forward(self, x):
        return self.linear_relu_stack(self.flatten(x))


class NeuralNetwork_v1(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 512), nn.ReLU(),
            nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))

    def forward(self, x):
        return self.linear_relu_stack(self.flatten(x))


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)
        self.conv3 = nn.Conv2d(64, 128, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(128 * 3 * 3, 512)
        self.fc2 = nn.Linear(512, 512)
        self.fc3 = nn.Linear(512, 10)
        self.dropout = nn.Dropout(0.4)
        self.batch_norm1 = nn.BatchNorm2d(32)
        self.batch_norm2 = nn.BatchNorm2d(64)
        self.batch_norm3 = nn.BatchNorm2d(128)
        self.batch_norm_fc1 = nn.BatchNorm1d(512)
        self.batch_norm_fc2 = nn.BatchNorm1d(512)

    def forward(self, x):
        x = self.pool(torch.relu(self.batch_norm1(self.conv1(x))))
        x = self.pool(torch.relu(self.batch_norm2(self.conv2(x))))
        x = self.pool(torch.relu(self.batch_norm3(self.conv3(x))))
        x = torch.flatten(x, 1)
        x = self.dropout(torch.relu(self.batch_norm_fc1(self.fc1(x))))
        x = self.dropout(torch.relu(self.batch_norm_fc2(self.fc2(x))))
        return self.fc3(x)


# ---- writing the expected values -----------------------------------------------------------------------------
def put_str(out, text):
    data = text.encode("utf-8")
    out.write(struct.pack("<I", len(data)))
    out.write(data)


def write_expected(name, tensors, root, unwrapped):
    with open(os.path.join(OUT, name + ".expected"), "wb") as out:
        out.write(b"DLEX" + struct.pack("<I", 1))
        put_str(out, root)
        put_str(out, unwrapped)
        out.write(struct.pack("<I", len(tensors)))
        for key, tensor in tensors.items():
            tensor = tensor.detach()
            put_str(out, key)
            out.write(struct.pack("<BI", DTYPE_CODE[tensor.dtype], tensor.dim()))
            out.write(struct.pack("<%dq" % tensor.dim(), *tensor.shape))
            flat = tensor.contiguous().reshape(-1)
            if tensor.dtype == torch.int64:
                out.write(struct.pack("<%dq" % flat.numel(), *flat.tolist()))
            else:
                out.write(flat.float().numpy().astype("<f4").tobytes())


def save(name, obj, expected=None, root=None, unwrapped=""):
    path = os.path.join(OUT, name)
    torch.save(obj, path)
    if expected is not None:
        write_expected(name, expected, root if root is not None else os.path.splitext(name)[0], unwrapped)
    return path


def trained_batch_norms(model, seed):
    # A few training-mode batches so running statistics and num_batches_tracked are not their defaults.
    torch.manual_seed(seed)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(8, 1, 28, 28))
    model.eval()


# ---- the fixtures ----------------------------------------------------------------------------------------------
torch.manual_seed(1)
mlp = NeuralNetwork()
save("mlp.pth", mlp.state_dict(), mlp.state_dict())

torch.manual_seed(2)
deep = NeuralNetwork_v1()
save("deep_mlp.pth", deep.state_dict(), deep.state_dict())

torch.manual_seed(3)
cnn = CNN()
trained_batch_norms(cnn, 4)
cnn_path = save("cnn.pth", cnn.state_dict(), cnn.state_dict())

# A training checkpoint: model, optimizer (momentum buffers: tensors in a dict with int keys), floats, None.
optimizer = torch.optim.SGD(mlp.parameters(), lr=0.01, momentum=0.9)
torch.manual_seed(5)
loss = nn.functional.cross_entropy(mlp(torch.randn(4, 1, 28, 28)), torch.tensor([1, 2, 3, 4]))
loss.backward()
optimizer.step()
save("checkpoint.pth", {"epoch": 5, "model_state_dict": mlp.state_dict(), "optimizer_state_dict": optimizer.state_dict(),
                        "loss": float(loss), "best": None, "history": [0.9, 0.5, 0.25]},
     mlp.state_dict(), root="checkpoint", unwrapped="checkpoint['model_state_dict']")

# DataParallel's state_dict ("module." prefix) and torch.compile's ("_orig_mod.") inside a {'model': ...} dict.
parallel = nn.DataParallel(mlp)
save("data_parallel.pth", parallel.state_dict(), mlp.state_dict(), unwrapped="prefix 'module.'")
compiled = collections.OrderedDict(("_orig_mod." + k, v) for k, v in deep.state_dict().items())
save("compiled_checkpoint.pth", {"model": compiled, "epoch": 3}, deep.state_dict(),
     unwrapped="checkpoint['model'], prefix '_orig_mod.'")

# torch.save(model): the whole module, with __main__.NeuralNetwork in the pickle (the reader must refuse it).
save("whole_module.pth", mlp)
# Before PyTorch 1.6: not a ZIP.
torch.save(mlp.state_dict(), os.path.join(OUT, "legacy.pth"), _use_new_zipfile_serialization=False)

# Views: shared storages, a slice with an offset, non-contiguous strides, a broadcast, a parameter, a scalar.
torch.manual_seed(6)
base = torch.randn(4, 6)
flat = torch.randn(10)
views = collections.OrderedDict()
views["base"] = base
views["rows"] = base[1:3]                      # offset 6 into base's storage
views["column"] = base[:, 2]                   # stride (6,), offset 2
views["transposed"] = torch.randn(3, 4).t()    # stride (1, 4)
views["shared_a"] = flat[:4]
views["shared_b"] = flat[4:].view(2, 3)        # the same storage at offset 4
views["expanded"] = torch.randn(3, 1).expand(3, 4)  # stride (1, 0)
views["parameter"] = nn.Parameter(torch.randn(2, 2))  # _rebuild_parameter
views["scalar"] = torch.tensor(7, dtype=torch.int64)
views["empty"] = torch.zeros(0, 3)
views_path = save("views.pth", views, views)

torch.manual_seed(7)
dtypes = collections.OrderedDict()
dtypes["half"] = torch.randn(3, 4).half()
dtypes["bfloat"] = torch.randn(5).bfloat16()
dtypes["double"] = (torch.randn(2, 3) * 1e3).double() + 1e-9
dtypes["long"] = torch.arange(6).reshape(2, 3) - 3
dtypes["float"] = torch.randn(2)
save("dtypes.pth", dtypes, dtypes)


# ---- .safetensors, written by hand (the format: u64 header length, JSON header padded with spaces, data) -----
def write_safetensors(name, tensors, metadata=None):
    header, blobs, offset = collections.OrderedDict(), [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for key, tensor in tensors.items():
        data = tensor.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b""
        header[key] = {"dtype": SAFE_DTYPE[tensor.dtype], "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(os.path.join(OUT, name), "wb") as out:
        out.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    write_expected(name, tensors, "", "")


write_safetensors("mlp.safetensors", mlp.state_dict(), {"format": "pt"})
write_safetensors("dtypes.safetensors", dtypes, {"format": "pt", "source": "make_fixtures.py \u00e9"})


# ---- the layouts newer PyTorch versions write, rebuilt from the real 1.13 files above ------------------------------
def rebuild_newer(source, name, data_descriptor, zip64):
    """An 'archive/' root, byteorder, .format_version, .storage_alignment, .data/serialization_id, storages
    not in key order, each entry's data at a multiple of 64 (an 'FB' extra field), optionally bit 3 (sizes
    in the central directory only) and a Zip64 end record with saturated classic values."""
    with zipfile.ZipFile(source) as old:
        names = old.namelist()
        root = names[0].split("/")[0]
        contents = {n[len(root) + 1:]: old.read(n) for n in names}
    storages = sorted((n for n in contents if n.startswith("data/")), key=lambda n: int(n[5:]), reverse=True)
    order = [("data.pkl", contents["data.pkl"]), (".format_version", b"1"), (".storage_alignment", b"64"),
             ("byteorder", b"little")] + [(n, contents[n]) for n in storages] + \
            [("version", contents["version"]), (".data/serialization_id", b"1234567890123456789012345678901234567890")]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as new:
        for entry, data in order:
            info = zipfile.ZipInfo("archive/" + entry, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            if data_descriptor:
                info.flag_bits |= 0x08
            start = buffer.tell() + 30 + len(info.filename.encode()) + 4
            info.extra = b"FB" + struct.pack("<H", (64 - start % 64) % 64) + b"Z" * ((64 - start % 64) % 64)
            new.writestr(info, data)
    data = bytearray(buffer.getvalue())
    if zip64:
        signature, _, _, count, _, size, offset, comment = struct.unpack("<IHHHHIIH", data[-22:])
        del data[-22:]
        record = len(data)
        data += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, size, offset)
        data += struct.pack("<IIQI", 0x07064B50, 0, record, 1)
        data += struct.pack("<IHHHHIIH", signature, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(os.path.join(OUT, name), "wb") as out:
        out.write(data)
    check = torch.load(os.path.join(OUT, name))  # PyTorch itself reads the rebuilt file
    return check


write_expected("cnn_newer_layout.pth", rebuild_newer(cnn_path, "cnn_newer_layout.pth", True, True), "archive", "")
write_expected("views_newer_layout.pth", rebuild_newer(views_path, "views_newer_layout.pth", False, False), "archive", "")
print("wrote fixtures to", OUT)

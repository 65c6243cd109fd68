#!/usr/bin/python3
# The PyTorch side of tests/browser/pytorch_import.test.mjs: trains the tutorial's MLP and CNN briefly
# (seeded, a few hundred MNIST images: a model that reads digits, made in seconds) and saves their
# state_dicts as the tutorial does, plus a whole-module pickle; then answers what PyTorch predicts for a
# 28x28 image the page gave its model. Read next: tests/browser/pytorch_import.test.mjs.
# Usage: pytorch_page_models.py save OUT_DIR | pytorch_page_models.py predict MODEL.pth mlp|cnn < image.json
import gzip
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


sys.path.insert(0, os.path.join(ROOT, "tests", "pytorch"))
from tutorial_classes import ConvNeuralNetwork, NeuralNetwork  # noqa: E402  the tutorial's classes, one copy

MODELS = {"mlp": NeuralNetwork, "cnn": ConvNeuralNetwork}


def mnist_train(count):
    def read(name):
        path = os.path.join(ROOT, "data", "mnist", name)
        return open(path, "rb").read() if os.path.exists(path) else gzip.open(path + ".gz", "rb").read()
    images = np.frombuffer(read("train-images-idx3-ubyte"), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:count]
    labels = np.frombuffer(read("train-labels-idx1-ubyte"), np.uint8, offset=8)[:count]
    x = (torch.from_numpy(images.astype(np.float32)) / 255.0 - 0.5) / 0.5  # ToTensor + Normalize((0.5,), (0.5,))
    return x, torch.from_numpy(labels.astype(np.int64))


def save(out_dir):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    os.makedirs(out_dir, exist_ok=True)
    x, y = mnist_train(6400)
    for kind, steps in (("mlp", 100), ("cnn", 60)):
        model = MODELS[kind]()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)  # the tutorial's recipe
        model.train()
        for step in range(steps):
            batch = slice((step * 64) % len(x), (step * 64) % len(x) + 64)
            loss = F.cross_entropy(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        torch.save(model.state_dict(), os.path.join(out_dir, f"model-{kind}.pth"))
        if kind == "mlp":
            torch.save(model, os.path.join(out_dir, "whole-module.pth"))  # what the page must refuse, kindly
    print(f"saved model-mlp.pth, model-cnn.pth, whole-module.pth in {out_dir}")


def predict(path, kind):
    image = torch.tensor(json.load(sys.stdin), dtype=torch.float32).reshape(1, 1, 28, 28)
    model = MODELS[kind]()
    model.load_state_dict(torch.load(path))
    model.eval()
    with torch.no_grad():
        probabilities = torch.softmax(model((image - 0.5) / 0.5), dim=1)[0]
    print(json.dumps([float(p) for p in probabilities]))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "save":
        save(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "predict" and sys.argv[3] in MODELS:
        predict(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__ or "usage: pytorch_page_models.py save OUT_DIR | predict MODEL.pth mlp|cnn < image.json")

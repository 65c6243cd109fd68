#!/usr/bin/python3
# The PyTorch tutorial's own training code, as the tutorial writes it (torchvision datasets, DataLoader with
# batch 64, ToTensor + Normalize(0.5, 0.5), SGD 0.01/0.9, CrossEntropyLoss), timed per epoch: the reference
# that docs/benchmarks.md compares `digitlab train` against. Needs scripts/setup-reference (apt's python3-torch).
# Usage: /usr/bin/python3 scripts/tutorial_reference.py --model mlp|mlp-deep|cnn --dataset mnist|fashion
#        [--epochs 5] [--threads N] [--json results.json]
# Read next: docs/trainer.md (the same run with digitlab), native/src/trainer.cpp.
import argparse
import gzip
import json
import os
import shutil
import time

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def stage_idx_files(dataset, staging, data_dir):
    """torchvision reads <root>/<MNIST|FashionMNIST>/raw/<name> (uncompressed) and would otherwise download
    them: link or gunzip the project's verified copies from data/ into that layout instead."""
    source = os.path.join(data_dir, "mnist" if dataset == "mnist" else "fashion-mnist")
    raw = os.path.join(staging, "MNIST" if dataset == "mnist" else "FashionMNIST", "raw")
    os.makedirs(raw, exist_ok=True)
    for name in FILES:
        target = os.path.join(raw, name)
        if os.path.exists(target):
            continue
        if os.path.exists(os.path.join(source, name)):
            os.symlink(os.path.join(source, name), target)
        elif os.path.exists(os.path.join(source, name + ".gz")):
            with gzip.open(os.path.join(source, name + ".gz"), "rb") as f_in, open(target + ".part", "wb") as f_out:
                shutil.copyfileobj(f_in, f_out)
            os.replace(target + ".part", target)
        else:
            raise SystemExit(f"{source}/{name}[.gz] is missing: run scripts/setup")
    return staging


# ---- The tutorial's models ----------------------------------------------------------------------------------
class NeuralNetwork(nn.Module):
    def __init__(self, widths=(28 * 28, 512, 512, 10)):
        super().__init__()
        self.flatten = nn.Flatten()
        layers = []
        for i in range(len(widths) - 1):
            if i > 0:
                layers.append(nn.ReLU())
            layers.append(nn.Linear(widths[i], widths[i + 1]))
        self.linear_relu_stack = nn.Sequential(*layers)

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        def block(c_in, c_out):
            return [nn.Conv2d(c_in, c_out, kernel_size=3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]
        self.features = nn.Sequential(*block(1, 32), *block(32, 64), *block(64, 128))  # 28 -> 14 -> 7 -> 3
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(128 * 3 * 3, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Dropout(0.4),
            nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Dropout(0.4),
            nn.Linear(512, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", choices=["mlp", "mlp-deep", "cnn"], default="mlp")
    parser.add_argument("--dataset", choices=["mnist", "fashion"], default="mnist")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads; 0: torch's default")
    parser.add_argument("--data", default=os.path.join(ROOT, "data"), help="the project's data folder (scripts/setup)")
    parser.add_argument("--staging", default=os.path.join(ROOT, "build", "tutorial-reference-data"))
    parser.add_argument("--json", help="also write the per-epoch timings and accuracies here")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    # ---- The tutorial, from here on ----
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    root = stage_idx_files(args.dataset, args.staging, args.data)
    Dataset = datasets.MNIST if args.dataset == "mnist" else datasets.FashionMNIST
    train_dataset = Dataset(root=root, train=True, transform=transform, download=False)
    test_dataset = Dataset(root=root, train=False, transform=transform, download=False)
    train_loader = DataLoader(dataset=train_dataset, batch_size=64, shuffle=True)
    test_loader = DataLoader(dataset=test_dataset, batch_size=64, shuffle=False)

    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"Using {device} device")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    if args.model == "cnn":
        model = CNN().to(device)
    else:
        model = NeuralNetwork((28 * 28, 1024, 1024, 512, 512, 10) if args.model == "mlp-deep" else (28 * 28, 512, 512, 10)).to(device)
    print(model)

    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    num_epochs = args.epochs
    total_step = len(train_loader)
    epochs = []
    for epoch in range(num_epochs):
        model.train()
        started = time.perf_counter()
        for i, (images, labels) in enumerate(train_loader):
            images = images.to(device)
            labels = labels.to(device)
            outputs = model(images)
            loss = criterion(outputs, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if (i + 1) % 100 == 0:
                print(f"Epoch [{epoch + 1}/{num_epochs}], Step [{i + 1}/{total_step}], Loss: {loss.item():.4f}")
        train_seconds = time.perf_counter() - started

        model.eval()
        started = time.perf_counter()
        with torch.no_grad():
            correct = 0
            total = 0
            for images, labels in test_loader:
                images = images.to(device)
                labels = labels.to(device)
                outputs = model(images)
                _, predicted = torch.max(outputs.data, 1)
                total += labels.size(0)
                correct += (predicted == labels).sum().item()
        eval_seconds = time.perf_counter() - started
        accuracy = correct / total
        print(f"Epoch [{epoch + 1}/{num_epochs}] test accuracy: {100 * accuracy:.2f} %, "
              f"{train_seconds:.2f} s/epoch (training), eval {eval_seconds:.2f} s")
        epochs.append({"epoch": epoch + 1, "train_seconds": train_seconds, "eval_seconds": eval_seconds,
                       "test_accuracy": accuracy})

    mean = sum(e["train_seconds"] for e in epochs) / len(epochs)
    print(f"Accuracy of the network on the 10000 test images: {100 * epochs[-1]['test_accuracy']:.2f} %")
    print(f"Mean training time per epoch: {mean:.2f} s ({torch.get_num_threads()} thread(s))")
    if args.json:
        with open(args.json + ".part", "w") as f:
            json.dump({"model": args.model, "dataset": args.dataset, "threads": torch.get_num_threads(),
                       "device": device, "cuda": torch.version.cuda or "",
                       "gpu": torch.cuda.get_device_name(0) if device == "cuda" else "",
                       "torch": torch.__version__, "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
                       "epochs": epochs, "seconds_per_epoch": mean}, f, indent=2)
        os.replace(args.json + ".part", args.json)


if __name__ == "__main__":
    main()

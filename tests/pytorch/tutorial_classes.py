# The tutorial's three networks exactly as its Python code defines them (NeuralNetwork, NeuralNetwork_v1,
# ConvNeuralNetwork), plus the same shapes in other widths, for the tests that compare digitlab with PyTorch.
# Read next: torch_logits.py (PyTorch's logits on fixed inputs), check_roundtrip.py.
import torch
import torch.nn.functional as F
from torch import nn


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


class NeuralNetwork_v1(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 1024),
            nn.ReLU(),
            nn.Linear(1024, 1024),
            nn.ReLU(),
            nn.Linear(1024, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10)
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


class ConvNeuralNetwork(nn.Module):
    def __init__(self, channels=(32, 64, 128), hidden=512):
        super(ConvNeuralNetwork, self).__init__()
        c1, c2, c3 = channels
        self.conv1 = nn.Conv2d(1, c1, kernel_size=3, stride=1, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, kernel_size=3, stride=1, padding=1)
        self.conv3 = nn.Conv2d(c2, c3, kernel_size=3, stride=1, padding=1)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(c3 * 3 * 3, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, 10)
        self.dropout = nn.Dropout(0.4)
        self.batch_norm1 = nn.BatchNorm2d(c1)
        self.batch_norm2 = nn.BatchNorm2d(c2)
        self.batch_norm3 = nn.BatchNorm2d(c3)
        self.batch_norm_fc1 = nn.BatchNorm1d(hidden)
        self.batch_norm_fc2 = nn.BatchNorm1d(hidden)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(self.batch_norm1(x))
        x = F.max_pool2d(x, 2)

        x = self.conv2(x)
        x = F.relu(self.batch_norm2(x))
        x = F.max_pool2d(x, 2)

        x = self.conv3(x)
        x = F.relu(self.batch_norm3(x))
        x = F.max_pool2d(x, 2)

        x = self.flatten(x)
        x = self.fc1(x)
        x = F.relu(self.batch_norm_fc1(x))
        x = self.dropout(x)

        x = self.fc2(x)
        x = F.relu(self.batch_norm_fc2(x))
        x = self.dropout(x)

        logits = self.fc3(x)
        return logits


class WideStack(nn.Module):
    """The tutorial's NeuralNetwork with other widths and depth (the same linear_relu_stack names)."""

    def __init__(self, widths):
        super().__init__()
        self.flatten = nn.Flatten()
        layers = []
        for i in range(len(widths) - 1):
            if i > 0:
                layers.append(nn.ReLU())
            layers.append(nn.Linear(widths[i], widths[i + 1]))
        self.linear_relu_stack = nn.Sequential(*layers)

    def forward(self, x):
        return self.linear_relu_stack(self.flatten(x))


def class_for(state_dict):
    """The tutorial class that loads this state_dict (by its names and shapes), built with those shapes."""
    names = list(state_dict.keys())
    if "conv1.weight" in state_dict:
        channels = tuple(state_dict[f"conv{i}.weight"].shape[0] for i in (1, 2, 3))
        return ConvNeuralNetwork(channels, state_dict["fc1.weight"].shape[0])
    prefix = "linear_relu_stack." if names and names[0].startswith("linear_relu_stack.") else ""
    weights = sorted((int(n[len(prefix):].split(".")[0]), state_dict[n]) for n in names if n.endswith(".weight"))
    widths = [weights[0][1].shape[1]] + [w.shape[0] for _, w in weights]
    if prefix == "":
        layers = []
        for i in range(len(widths) - 1):
            if i > 0:
                layers.append(nn.ReLU())
            layers.append(nn.Linear(widths[i], widths[i + 1]))
        return _BareSequential(*layers)
    if widths == [784, 512, 512, 10]:
        return NeuralNetwork()
    if widths == [784, 1024, 1024, 512, 512, 10]:
        return NeuralNetwork_v1()
    return WideStack(widths)


class _BareSequential(nn.Sequential):
    """A bare nn.Sequential of Linear/ReLU (keys 0.weight, 2.weight, ...) fed flattened images."""

    def forward(self, x):
        return super().forward(torch.flatten(x, 1))


def unwrap(loaded):
    """The state_dict inside what torch.load returned: a state_dict or a checkpoint dict."""
    for key in ("model_state_dict", "state_dict", "model"):
        if isinstance(loaded, dict) and key in loaded and isinstance(loaded[key], dict):
            loaded = loaded[key]
            break
    return {k.removeprefix("module.").removeprefix("_orig_mod."): v for k, v in loaded.items()}

# Writes seeded state_dicts of the tutorial's classes (tutorial_classes.py) with torch.save, as a reader of
# the tutorial would: the three tutorial networks, other widths and depths, a bare nn.Sequential and a
# checkpoint dict. BatchNorm gets non-trivial statistics so the import's arithmetic is exercised.
# Usage: /usr/bin/python3 model_fixtures.py OUTDIR     Read next: torch_logits.py.
import os
import sys

import torch
from torch import nn

import tutorial_classes as tc


def seeded(model, seed):
    torch.manual_seed(seed)
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            module.reset_parameters()
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            with torch.no_grad():
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
                module.num_batches_tracked.fill_(4690)  # 5 epochs of 938 batches
    # Freshly initialised networks give logits within +-0.3; a trained one's span several units. Scaling
    # the last layer gives the fixtures that range, so a relative error (a wrong eps, say) shows clearly.
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():
        last.weight.mul_(20)
        last.bias.mul_(20)
    return model.eval()


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    models = {
        "tutorial-mlp": tc.NeuralNetwork(),
        "tutorial-mlp-deep": tc.NeuralNetwork_v1(),
        "tutorial-cnn": tc.ConvNeuralNetwork(),
        "wide-mlp-784-256-128-64-10": tc.WideStack([784, 256, 128, 64, 10]),
        "narrow-cnn-8-16-32-64": tc.ConvNeuralNetwork((8, 16, 32), 64),
        "bare-sequential": tc._BareSequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)),
    }
    for seed, (name, model) in enumerate(models.items(), start=1):
        seeded(model, seed)
        torch.save(model.state_dict(), os.path.join(out, name + ".pth"))
    # A training checkpoint, as the tutorials that resume training save it.
    checkpoint = {"epoch": 5, "model_state_dict": models["tutorial-mlp"].state_dict(), "loss": 0.25}
    torch.save(checkpoint, os.path.join(out, "checkpoint-mlp.pth"))
    print(f"wrote {len(models) + 1} fixtures to {out} (torch {torch.__version__})")


if __name__ == "__main__":
    main()

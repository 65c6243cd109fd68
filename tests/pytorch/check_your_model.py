# The train panel's "Download .pth (PyTorch)" in real PyTorch: the bytes the app saved load, strictly, into
# the tutorial's class that the panel names (built as the tutorial builds it, no arguments), and in eval
# mode give the app's logits on the same inputs, within 1e-4 + 1e-4 x |torch| (the tolerance of the other
# logits comparisons: the sums run in another order), with the same predicted class. Prints the largest
# difference either way. The files (<stem>.pth, .inputs.f32, .logits.f32, .class.txt; one stem per trained
# network: mlp, cnn) come from test_app_ui "[your_model]" with DIGITLAB_YOUR_MODEL_OUT=DIR.
# Usage: /usr/bin/python3 check_your_model.py DIR   Read next: tests/app/test_panel_your_model.cpp.
import os
import sys

import numpy
import torch

import tutorial_classes as tc

ABSOLUTE, RELATIVE = 1e-4, 1e-4


def check(folder, stem):
    with open(os.path.join(folder, stem + ".class.txt")) as f:
        class_name = f.read().strip()
    model = getattr(tc, class_name)()  # what the panel's line says: model = NeuralNetwork()
    try:
        model.load_state_dict(torch.load(os.path.join(folder, stem + ".pth")))  # strict
    except RuntimeError as error:
        print(f"FAIL: {stem}.pth does not load into {class_name}: {error}")
        return 1
    model.eval()
    read = lambda name: torch.from_numpy(numpy.fromfile(os.path.join(folder, f"{stem}.{name}.f32"), dtype="<f4"))
    inputs = read("inputs").reshape(-1, 1, 28, 28)
    app_logits = read("logits").reshape(inputs.shape[0], -1)
    with torch.no_grad():
        logits = model(inputs)
    difference = (logits - app_logits).abs()
    worst = difference.max().item()
    where = divmod(int(difference.argmax()), logits.shape[1])
    allowed = ABSOLUTE + RELATIVE * logits.abs()
    same_class = bool((logits.argmax(1) == app_logits.argmax(1)).all())
    if not bool((difference <= allowed).all()) or not same_class:
        print(f"FAIL: {stem}.pth: PyTorch's {class_name} and the app differ: largest |logit difference| {worst:.3g} at "
              f"input {where[0]}, class {where[1]} (allowed {ABSOLUTE:g} + {RELATIVE:g} x |torch|); same classes: {same_class}")
        return 1
    print(f"PASS: {stem}.pth loads strictly into the tutorial's {class_name}(); on {inputs.shape[0]} inputs the largest "
          f"|logit difference| from the app is {worst:.3g} (allowed {ABSOLUTE:g} + {RELATIVE:g} x |torch|), same predicted "
          f"class for all")
    return 0


def main():
    folder = sys.argv[1]
    stems = sorted(name[:-len(".class.txt")] for name in os.listdir(folder) if name.endswith(".class.txt"))
    if not stems:
        print(f"FAIL: no <stem>.class.txt in {folder}: run test_app_ui '[your_model]' with DIGITLAB_YOUR_MODEL_OUT={folder}")
        return 1
    return 1 if sum(check(folder, stem) for stem in stems) else 0


if __name__ == "__main__":
    sys.exit(main())

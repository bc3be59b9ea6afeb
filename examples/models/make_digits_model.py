#!/usr/bin/python3
"""Trains the demo classifier on scikit-learn's handwritten digits and writes its files.

Usage: /usr/bin/python3 examples/models/make_digits_model.py [OUTDIR]   (default: this folder)

An MLP 64-64-32-10 over 8x8 images scaled to [0,1]. Two weight sets from one training run:
  A = after the first epoch (clearly worse), B = fully trained (>= 95% test accuracy).
Writes:
  digits.onnx            opset 13, weights A, input "image" float32 [64,64], output "logits" [64,10]
  digits_b/<i>.bin       weights B, raw little-endian float32, one per float initializer of
                         digits.onnx in initializer order
  digits_b/manifest.json [{"name", "shape", "file"}] in the same order
  digits_test_x.bin      float32 [padded_count, 64]: the test images, zero rows as padding
  digits_test_y.bin      int32 [padded_count]: the labels, -1 on padding rows
  digits_test.json       {"count", "padded_count", "batch", ...}
Deterministic: fixed seeds and a fixed train/test split.
"""
import json
import os
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 2024
BATCH = 64  # the ONNX model's fixed batch
TEST_COUNT = 360
EPOCHS_B = 60

torch.set_num_threads(2)


class DigitsMlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(64, 64)
        self.fc2 = torch.nn.Linear(64, 32)
        self.fc3 = torch.nn.Linear(32, 10)

    def forward(self, x):
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model(torch.from_numpy(x)).argmax(1).numpy() == y).mean())


def train_epoch(model, opt, x, y, gen):
    model.train()
    order = torch.randperm(len(x), generator=gen)
    for i in range(0, len(x), 32):
        idx = order[i:i + 32]
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x[idx])), torch.from_numpy(y[idx]))
        loss.backward()
        opt.step()
    model.eval()


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    os.makedirs(os.path.join(outdir, "digits_b"), exist_ok=True)

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=TEST_COUNT, random_state=SEED, stratify=y)

    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    model = DigitsMlp().eval()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    train_epoch(model, opt, x_train, y_train, gen)
    acc_a = accuracy(model, x_test, y_test)
    state_a = {k: v.clone() for k, v in model.state_dict().items()}
    for _ in range(EPOCHS_B - 1):
        train_epoch(model, opt, x_train, y_train, gen)
    acc_b = accuracy(model, x_test, y_test)
    state_b = {k: v.clone() for k, v in model.state_dict().items()}
    print(f"PyTorch test accuracy: weights A (1 epoch) {acc_a:.4f}, weights B ({EPOCHS_B} epochs) {acc_b:.4f}")
    if not (0.6 <= acc_a <= 0.85 and acc_b >= 0.95 and acc_b > acc_a + 0.05):
        raise SystemExit("accuracies are outside the intended ranges")

    # The ONNX model carries weights A.
    model.load_state_dict(state_a)
    onnx_path = os.path.join(outdir, "digits.onnx")
    torch.onnx.export(model, torch.zeros(BATCH, 64), onnx_path, opset_version=13, do_constant_folding=False,
                      input_names=["image"], output_names=["logits"])
    proto = onnx.load(onnx_path)
    onnx.checker.check_model(proto)

    manifest = []
    for i, t in enumerate(t for t in proto.graph.initializer if t.data_type == onnx.TensorProto.FLOAT):
        if t.name not in state_a or not np.array_equal(numpy_helper.to_array(t), state_a[t.name].numpy()):
            raise SystemExit(f"initializer {t.name!r} is not the state_dict entry of the same name")
        wb = state_b[t.name].numpy().astype("<f4")
        fname = f"{i}.bin"
        wb.tofile(os.path.join(outdir, "digits_b", fname))
        manifest.append({"name": t.name, "shape": list(t.dims), "file": fname})
    with open(os.path.join(outdir, "digits_b", "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)

    padded = (TEST_COUNT + BATCH - 1) // BATCH * BATCH
    xp = np.zeros((padded, 64), dtype="<f4")
    xp[:TEST_COUNT] = x_test
    yp = np.full((padded,), -1, dtype="<i4")
    yp[:TEST_COUNT] = y_test
    xp.tofile(os.path.join(outdir, "digits_test_x.bin"))
    yp.tofile(os.path.join(outdir, "digits_test_y.bin"))
    info = {"count": TEST_COUNT, "padded_count": padded, "batch": BATCH, "features": 64, "classes": 10,
            "x": "digits_test_x.bin", "x_dtype": "float32", "y": "digits_test_y.bin", "y_dtype": "int32",
            "pad_label": -1, "accuracy_a": round(acc_a, 4), "accuracy_b": round(acc_b, 4)}
    with open(os.path.join(outdir, "digits_test.json"), "w") as f:
        json.dump(info, f, indent=1)

    # Batched over the padded file, as a runtime would see it, the accuracies are the same.
    for state, want in ((state_a, acc_a), (state_b, acc_b)):
        model.load_state_dict(state)
        with torch.no_grad():
            pred = np.concatenate([model(torch.from_numpy(xp[i:i + BATCH])).argmax(1).numpy()
                                   for i in range(0, padded, BATCH)])
        if abs(float((pred[:TEST_COUNT] == yp[:TEST_COUNT]).mean()) - want) > 1e-9:
            raise SystemExit("batched accuracy differs")


if __name__ == "__main__":
    main()

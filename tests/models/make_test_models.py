#!/usr/bin/python3
"""Writes the small torch-exported ONNX models and PyTorch references the C++ tests read.

Usage: /usr/bin/python3 make_test_models.py OUTDIR

For each model M (mlp, cnn_bn, mlp_opset11) it writes OUTDIR/M/:
  model.onnx        weights A
  model_b.onnx      same architecture, weights B (made by re-seeding)
  input.npy         the input batch
  out_a.npy         PyTorch output with weights A
  out_b.npy         PyTorch output with weights B
  out_b_skip0.npy   weights B except the first float initializer of model.onnx, which keeps A
  weights.json      model.onnx's float initializers in initializer order:
                    [{"name", "shape", "file": "b_<i>.npy"}]
  b_<i>.npy         weights B for that initializer
Deterministic (fixed seeds); runs in a few seconds on 2 cores.
"""
import json
import os
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper

torch.set_num_threads(2)

SEED_A = 1234
SEED_B = 98765
SEED_INPUT = 7


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(20, 32)
        self.fc2 = torch.nn.Linear(32, 16)
        self.fc3 = torch.nn.Linear(16, 5)

    def forward(self, x):
        x = torch.relu(self.fc1(x))
        x = torch.tanh(self.fc2(x))
        return self.fc3(x)


class CnnBn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = torch.nn.BatchNorm2d(8)
        self.pool = torch.nn.MaxPool2d(2)
        self.conv2 = torch.nn.Conv2d(8, 16, 3, stride=2, groups=2)
        self.bn2 = torch.nn.BatchNorm2d(16)
        self.gap = torch.nn.AdaptiveAvgPool2d(1)  # exported as GlobalAveragePool
        self.fc = torch.nn.Linear(16, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn1(self.conv1(x))))
        x = torch.relu(self.bn2(self.conv2(x)))
        x = torch.flatten(self.gap(x), 1)
        return self.fc(x)


# name -> (module class, input shape, opset, keep_initializers_as_inputs, ops that must appear)
MODELS = {
    "mlp": (Mlp, [4, 20], 13, False, {"Gemm", "Relu", "Tanh"}),
    "cnn_bn": (CnnBn, [2, 3, 16, 16], 17, False,
               {"Conv", "BatchNormalization", "Relu", "MaxPool", "GlobalAveragePool", "Flatten", "Gemm"}),
    # An old-style export: opset 11 and initializers also listed as graph inputs.
    "mlp_opset11": (Mlp, [4, 20], 11, True, {"Gemm", "Relu", "Tanh"}),
}


def build(cls, seed):
    torch.manual_seed(seed)
    m = cls()
    # Default BatchNorm statistics (0/1) and affine terms (1/0) are the same for every seed;
    # randomise them so that weights A and B differ in every tensor.
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                n = mod.num_features
                mod.weight.copy_(torch.rand(n) + 0.5)
                mod.bias.copy_(torch.randn(n) * 0.2)
                mod.running_mean.copy_(torch.randn(n) * 0.3)
                mod.running_var.copy_(torch.rand(n) + 0.5)
    return m.eval()


def run(m, x):
    with torch.no_grad():
        return m(torch.from_numpy(x)).numpy().astype(np.float32)


def export(m, x, path, opset, keep_inits):
    # PRESERVE on an eval() model exports inference-mode ops but skips the exporter's eval
    # peephole pass, which would fold BatchNormalization into the preceding Conv.
    torch.onnx.export(m, torch.from_numpy(x), path, opset_version=opset, do_constant_folding=False,
                      keep_initializers_as_inputs=keep_inits, input_names=["input"],
                      output_names=["output"], training=torch.onnx.TrainingMode.PRESERVE)
    model = onnx.load(path)
    onnx.checker.check_model(model)
    return model


def float_initializers(model):
    return [t for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT]


def map_initializers(inits, state_a):
    """ONNX initializer name -> state_dict key, by name, else by shape+value equality with A."""
    mapping = {}
    for t in inits:
        arr = numpy_helper.to_array(t)
        if t.name in state_a:
            key = t.name
        else:
            hits = [k for k, v in state_a.items()
                    if tuple(v.shape) == arr.shape and v.dtype == torch.float32
                    and np.array_equal(v.numpy(), arr)]
            if len(hits) != 1:
                raise SystemExit(f"cannot map initializer {t.name!r} to a state_dict key (candidates {hits})")
            key = hits[0]
        if not np.array_equal(state_a[key].numpy(), arr):
            raise SystemExit(f"initializer {t.name!r} differs from state_dict[{key!r}]")
        mapping[t.name] = key
    return mapping


def make(outdir, name):
    cls, in_shape, opset, keep_inits, required_ops = MODELS[name]
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    x = np.random.default_rng(SEED_INPUT).standard_normal(in_shape).astype(np.float32)
    np.save(os.path.join(d, "input.npy"), x)

    ma = build(cls, SEED_A)
    mb = build(cls, SEED_B)
    model_a = export(ma, x, os.path.join(d, "model.onnx"), opset, keep_inits)
    model_b = export(mb, x, os.path.join(d, "model_b.onnx"), opset, keep_inits)

    ops = {n.op_type for n in model_a.graph.node}
    if not required_ops <= ops:
        raise SystemExit(f"{name}: exported graph lacks {sorted(required_ops - ops)} (has {sorted(ops)})")
    for n in model_a.graph.node:
        if n.op_type == "BatchNormalization":
            modes = [a.i for a in n.attribute if a.name == "training_mode"]
            if len(n.output) != 1 or any(modes):
                raise SystemExit(f"{name}: BatchNormalization {n.name!r} was exported in training mode")
    got_opset = [o.version for o in model_a.opset_import if o.domain in ("", "ai.onnx")]
    if got_opset != [opset]:
        raise SystemExit(f"{name}: exported opset {got_opset}, wanted {opset}")

    np.save(os.path.join(d, "out_a.npy"), run(ma, x))
    np.save(os.path.join(d, "out_b.npy"), run(mb, x))

    state_a = ma.state_dict()
    state_b = mb.state_dict()
    inits = float_initializers(model_a)
    if not inits:
        raise SystemExit(f"{name}: no float initializers")
    mapping = map_initializers(inits, state_a)

    # Weights B with the first float initializer restored to its A value.
    first_key = mapping[inits[0].name]
    mixed = build(cls, SEED_B)
    state_mixed = {k: v.clone() for k, v in state_b.items()}
    state_mixed[first_key] = state_a[first_key].clone()
    mixed.load_state_dict(state_mixed)
    out_skip0 = run(mixed.eval(), x)
    if np.allclose(out_skip0, run(mb, x)) or np.allclose(out_skip0, run(ma, x)):
        raise SystemExit(f"{name}: keeping {inits[0].name!r} at A does not change the output")
    np.save(os.path.join(d, "out_b_skip0.npy"), out_skip0)

    b_inits = {t.name: numpy_helper.to_array(t) for t in model_b.graph.initializer}
    manifest = []
    for i, t in enumerate(inits):
        wb = state_b[mapping[t.name]].numpy().astype(np.float32)
        # model_b.onnx must carry the same tensor under the same name, or swapping weights
        # between the two files would not be meaningful.
        if t.name not in b_inits or not np.array_equal(b_inits[t.name], wb):
            raise SystemExit(f"{name}: model_b.onnx's {t.name!r} is not weights B")
        if np.array_equal(wb, state_a[mapping[t.name]].numpy()):
            raise SystemExit(f"{name}: weights A and B are equal for {t.name!r}")
        fname = f"b_{i}.npy"
        np.save(os.path.join(d, fname), wb)
        manifest.append({"name": t.name, "shape": list(t.dims), "file": fname})
    with open(os.path.join(d, "weights.json"), "w") as f:
        json.dump(manifest, f, indent=1)


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: make_test_models.py OUTDIR")
    outdir = sys.argv[1]
    for name in MODELS:
        make(outdir, name)
    print(f"wrote {', '.join(MODELS)} to {outdir}")


if __name__ == "__main__":
    main()

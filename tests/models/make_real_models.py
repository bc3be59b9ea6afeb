#!/usr/bin/python3
"""Writes the real models the C++ real-model tests (tests/models/*.cc) run, with PyTorch references.

Usage: /usr/bin/python3 make_real_models.py OUTDIR

Models (random weights, fixed seeds, float32):
  resnet18       torchvision ResNet-18, opset 13, input [1,3,64,64]
  mobilenet_v2   torchvision MobileNet v2, opset 13, input [1,3,64,64]
  encoder        2-layer BERT-like encoder (token + position embeddings, GELU, LayerNorm),
                 opset 14 (LayerNorm decomposed), int64 token ids [batch, seq] with dynamic
                 batch and sequence axes
  encoder17      the same at opset 17 (LayerNormalization)
For each model M, OUTDIR/M/ holds:
  model.onnx     weights A; model_b.onnx: the same graph with weights B (a second seed)
  input_<k>.npy, out_a_<k>.npy, out_b_<k>.npy   inputs (k = 0.., the encoder has two sequence
                 lengths) and PyTorch's outputs with weights A and B
The exporter's constant folding fuses BatchNorm into Conv, so initializer names are checked
to be the same in both files (the C++ test refreshes weights by those names).
Deterministic; about 20 s on 2 cores.
"""
import os
import sys

import numpy as np
import onnx
import torch
import torchvision

torch.set_num_threads(2)
SEED_A, SEED_B = 1234, 98765


class Encoder(torch.nn.Module):
    def __init__(self, vocab=100, dim=32, heads=4, ffn=64, layers=2, max_len=64):
        super().__init__()
        self.tok = torch.nn.Embedding(vocab, dim)
        self.pos = torch.nn.Embedding(max_len, dim)
        layer = torch.nn.TransformerEncoderLayer(dim, heads, ffn, dropout=0.0, activation="gelu", batch_first=True)
        self.enc = torch.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = torch.nn.LayerNorm(dim)

    def forward(self, ids):
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        return self.norm(self.enc(self.tok(ids) + self.pos(pos)))


def randomize_bn(m):
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                n = mod.num_features
                mod.weight.copy_(torch.rand(n) + 0.5)
                mod.bias.copy_(torch.randn(n) * 0.2)
                mod.running_mean.copy_(torch.randn(n) * 0.3)
                mod.running_var.copy_(torch.rand(n) + 0.5)
    return m


def make_model(kind, seed):
    torch.manual_seed(seed)
    if kind == "resnet18":
        return randomize_bn(torchvision.models.resnet18()).eval()
    if kind == "mobilenet_v2":
        return randomize_bn(torchvision.models.mobilenet_v2()).eval()
    return Encoder().eval()


def export(m, x, path, opset, dynamic):
    kwargs = {}
    if dynamic:
        kwargs["dynamic_axes"] = {"input": {0: "batch", 1: "seq"}, "output": {0: "batch", 1: "seq"}}
    torch.onnx.export(m, torch.from_numpy(x), path, opset_version=opset, input_names=["input"],
                      output_names=["output"], **kwargs)
    model = onnx.load(path)
    onnx.checker.check_model(model)
    return model


def make(outdir, name):
    kind = {"encoder17": "encoder"}.get(name, name)
    opset = {"encoder": 14, "encoder17": 17}.get(name, 13)
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(7)
    if kind == "encoder":
        inputs = [rng.integers(0, 100, size=(2, 8)).astype(np.int64), rng.integers(0, 100, size=(3, 5)).astype(np.int64)]
    else:
        inputs = [rng.standard_normal((1, 3, 64, 64)).astype(np.float32)]
    ma, mb = make_model(kind, SEED_A), make_model(kind, SEED_B)
    a = export(ma, inputs[0], os.path.join(d, "model.onnx"), opset, kind == "encoder")
    b = export(mb, inputs[0], os.path.join(d, "model_b.onnx"), opset, kind == "encoder")
    names_a = [t.name for t in a.graph.initializer]
    names_b = [t.name for t in b.graph.initializer]
    if names_a != names_b:
        raise SystemExit(f"{name}: weights A and B exports name their initializers differently")
    ops = sorted({n.op_type for n in a.graph.node})
    for k, x in enumerate(inputs):
        np.save(os.path.join(d, f"input_{k}.npy"), x)
        with torch.no_grad():
            np.save(os.path.join(d, f"out_a_{k}.npy"), ma(torch.from_numpy(x)).numpy().astype(np.float32))
            np.save(os.path.join(d, f"out_b_{k}.npy"), mb(torch.from_numpy(x)).numpy().astype(np.float32))
    with open(os.path.join(d, "ops.txt"), "w") as f:
        f.write("\n".join(ops) + "\n")


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: make_real_models.py OUTDIR")
    for name in ("resnet18", "mobilenet_v2", "encoder", "encoder17"):
        make(sys.argv[1], name)
    print("wrote resnet18, mobilenet_v2, encoder, encoder17 to", sys.argv[1])


if __name__ == "__main__":
    main()

"""Exports the benchmark models to ONNX (opset 13) with random weights from a fixed seed.

resnet18_bn is ResNet-18 exported with its BatchNormalization nodes kept (training=PRESERVE, no
constant folding), as an exporter that does not fold them writes it: its BatchNorm parameters
become refreshable weights, so liveweight cannot fold them into the convolutions at build time.

Usage: export_models.py OUT_DIR
Writes OUT_DIR/<name>.onnx and OUT_DIR/<name>.input.npy (one input per model) and
OUT_DIR/models.json describing them. Skips a model whose file already exists.
"""
import json
import os
import sys

import numpy as np
import torch
import torchvision


def mlp():
    dims = [1024, 4096, 4096, 4096, 4096, 1024]
    layers = []
    for i in range(len(dims) - 1):
        layers.append(torch.nn.Linear(dims[i], dims[i + 1]))
        if i + 2 < len(dims):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def transformer():
    layer = torch.nn.TransformerEncoderLayer(d_model=512, nhead=8, dim_feedforward=2048, dropout=0.0,
                                             batch_first=True)
    encoder = torch.nn.TransformerEncoder(layer, num_layers=4, enable_nested_tensor=False)
    # TransformerEncoder deep-copies one layer, so all four start identical and the exporter would
    # store one set of weights shared by every layer (12.6 MB instead of 50 MB). Give each layer
    # its own weights, as a trained model has.
    with torch.no_grad():
        for layer in encoder.layers:
            for name, p in layer.named_parameters():
                if "norm" in name and name.endswith("weight"):
                    p.uniform_(0.9, 1.1)
                elif p.dim() > 1:
                    p.uniform_(-0.05, 0.05)
                else:
                    p.uniform_(-0.01, 0.01)
    return encoder


MODELS = {
    "resnet18": (lambda: torchvision.models.resnet18(), [1, 3, 224, 224]),
    "resnet18_bn": (lambda: torchvision.models.resnet18(), [1, 3, 224, 224]),
    "resnet50": (lambda: torchvision.models.resnet50(), [1, 3, 224, 224]),
    "mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(), [1, 3, 224, 224]),
    "mlp": (mlp, [8, 1024]),
    "transformer": (transformer, [1, 128, 512]),
}


def make_model(name):
    """The model `name` with the benchmark's weights (same seed as the export)."""
    make, shape = MODELS[name]
    torch.manual_seed(0)
    model = make().eval()
    if name.startswith("resnet") or name.startswith("mobilenet"):
        # Non-trivial BatchNorm statistics, so folding mistakes show up in the numbers.
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                if name.endswith("_bn"):  # as trained: no two layers share their scale and shift
                    with torch.no_grad():
                        m.weight.uniform_(0.5, 1.5)
                        m.bias.uniform_(-0.1, 0.1)
    return model, shape


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    meta = {}
    for name, (_, shape) in MODELS.items():
        path = os.path.join(out, name + ".onnx")
        meta[name] = {"onnx": path, "input": os.path.join(out, name + ".input.npy"), "shape": shape}
        if os.path.exists(path):
            continue
        model, _ = make_model(name)
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
        np.save(meta[name]["input"], x.numpy())
        # Not under no_grad: with grad enabled the transformer layers skip PyTorch's fused fast
        # path, which has no ONNX export.
        keep_bn = name.endswith("_bn")
        torch.onnx.export(model, (x,), path, opset_version=13, input_names=["input"], output_names=["output"],
                          do_constant_folding=not keep_bn,
                          training=torch.onnx.TrainingMode.PRESERVE if keep_bn else torch.onnx.TrainingMode.EVAL)
    with open(os.path.join(out, "models.json"), "w") as f:
        json.dump(meta, f, indent=1)


if __name__ == "__main__":
    main()

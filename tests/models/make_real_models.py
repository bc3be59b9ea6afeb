#!/usr/bin/python3
"""Writes the real models the C++ real-model tests (tests/models/*.cc) run, with PyTorch references.

Usage: /usr/bin/python3 make_real_models.py OUTDIR [--all]

Models (random weights, fixed seeds, float32):
  resnet18       torchvision ResNet-18, opset 13, input [1,3,64,64]
  resnet18_bn    the same exported with its BatchNormalization nodes kept (training=PRESERVE,
                 no constant folding), so the BatchNorm parameters are refreshable weights
  mobilenet_v2   torchvision MobileNet v2, opset 13, input [1,3,64,64]
  encoder        2-layer BERT-like encoder (token + position embeddings, GELU, LayerNorm),
                 opset 14 (LayerNorm decomposed), int64 token ids [batch, seq] with dynamic
                 batch and sequence axes
  encoder17      the same at opset 17 (LayerNormalization)
  bert           a BERT-like encoder: word/position/token-type embeddings, an attention mask
                 from padding ids (Equal/Not/Where/Expand/ConstantOfShape), hand-written
                 attention (Split, batched MatMul), erf GELU; opset 14, dynamic batch and sequence
For each model M, OUTDIR/M/ holds:
  model.onnx     weights A; model_b.onnx: the same graph with weights B (a second seed)
  input_<k>.npy, out_a_<k>.npy, out_b_<k>.npy   inputs (k = 0.., the encoder has two sequence
                 lengths) and PyTorch's outputs with weights A and B
--all also writes the other torchvision classification models of issue 4 (MobileNet v3,
EfficientNet-B0, SqueezeNet, ShuffleNet v2, DenseNet-121, RegNet-Y, VGG-11 at 224x224, ConvNeXt-T
at opsets 13 and 17) and a BERT-like encoder with an attention mask; too slow for CI, run by
hand with LW_ALL_REAL_MODELS=OUTDIR test_real_models.
The exporter's constant folding fuses BatchNorm into Conv (except for resnet18_bn), so initializer names are checked
to be the same in both files (the C++ test refreshes weights by those names).
Deterministic; about 25 s on 2 cores.
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


class BertLike(torch.nn.Module):
    """Word + position + token-type embeddings, an additive attention mask from a 0/1 mask,
    hand-written multi-head attention (view/permute/matmul), erf GELU, LayerNorm."""

    def __init__(self, vocab=100, dim=32, heads=4, ffn=64, layers=2, max_len=64):
        super().__init__()
        self.heads = heads
        self.word = torch.nn.Embedding(vocab, dim)
        self.pos = torch.nn.Embedding(max_len, dim)
        self.tok_type = torch.nn.Embedding(2, dim)
        self.ln0 = torch.nn.LayerNorm(dim)
        self.qkv = torch.nn.ModuleList([torch.nn.Linear(dim, 3 * dim) for _ in range(layers)])
        self.out = torch.nn.ModuleList([torch.nn.Linear(dim, dim) for _ in range(layers)])
        self.ln1 = torch.nn.ModuleList([torch.nn.LayerNorm(dim) for _ in range(layers)])
        self.ff1 = torch.nn.ModuleList([torch.nn.Linear(dim, ffn) for _ in range(layers)])
        self.ff2 = torch.nn.ModuleList([torch.nn.Linear(ffn, dim) for _ in range(layers)])
        self.ln2 = torch.nn.ModuleList([torch.nn.LayerNorm(dim) for _ in range(layers)])

    def forward(self, ids):
        b, s = ids.shape
        mask = (ids != 0).to(torch.float32)  # token 0 is padding
        types = torch.zeros_like(ids)
        pos = torch.arange(s).unsqueeze(0).expand(b, s)
        x = self.ln0(self.word(ids) + self.pos(pos) + self.tok_type(types))
        bias = (1.0 - mask[:, None, None, :]) * -10000.0
        for i in range(len(self.qkv)):
            q, k, v = self.qkv[i](x).split(x.shape[-1], dim=-1)
            hd = x.shape[-1] // self.heads
            q, k, v = (t.view(b, s, self.heads, hd).permute(0, 2, 1, 3) for t in (q, k, v))
            att = torch.softmax(q @ k.transpose(-1, -2) / hd ** 0.5 + bias, dim=-1)
            ctx = (att @ v).permute(0, 2, 1, 3).reshape(b, s, -1)
            x = self.ln1[i](x + self.out[i](ctx))
            h = self.ff1[i](x)
            h = 0.5 * h * (1.0 + torch.erf(h / 2 ** 0.5))
            x = self.ln2[i](x + self.ff2[i](h))
        return x


TORCHVISION = {"resnet18": "resnet18", "mobilenet_v2": "mobilenet_v2", "mobilenet_v3": "mobilenet_v3_small",
               "efficientnet_b0": "efficientnet_b0", "squeezenet": "squeezenet1_0",
               "shufflenet_v2": "shufflenet_v2_x0_5", "densenet121": "densenet121", "regnet_y": "regnet_y_400mf",
               "vgg11": "vgg11", "convnext": "convnext_tiny", "convnext17": "convnext_tiny"}


def make_model(kind, seed):
    torch.manual_seed(seed)
    if kind in TORCHVISION:
        return randomize_bn(getattr(torchvision.models, TORCHVISION[kind])()).eval()
    if kind == "bert":
        return BertLike().eval()
    return Encoder().eval()


def export(m, x, path, opset, dynamic, keep_bn=False):
    kwargs = {}
    if keep_bn:
        kwargs = {"training": torch.onnx.TrainingMode.PRESERVE, "do_constant_folding": False}
    if dynamic:
        kwargs["dynamic_axes"] = {"input": {0: "batch", 1: "seq"}, "output": {0: "batch", 1: "seq"}}
    torch.onnx.export(m, torch.from_numpy(x), path, opset_version=opset, input_names=["input"],
                      output_names=["output"], **kwargs)
    model = onnx.load(path)
    onnx.checker.check_model(model)
    return model


def make(outdir, name):
    kind = {"encoder17": "encoder", "bert17": "bert", "resnet18_bn": "resnet18"}.get(name, name)
    keep_bn = name == "resnet18_bn"
    opset = {"encoder": 14, "encoder17": 17, "bert": 14, "bert17": 17, "convnext17": 17}.get(name, 13)
    dynamic = kind in ("encoder", "bert")
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(7)
    if dynamic:
        inputs = [rng.integers(0, 100, size=(2, 8)).astype(np.int64), rng.integers(0, 100, size=(3, 5)).astype(np.int64)]
        inputs[0][0, 6:] = 0  # padding, masked out by the BERT-like model
    else:
        side = 224 if kind == "vgg11" else 64
        inputs = [rng.standard_normal((1, 3, side, side)).astype(np.float32)]
    ma, mb = make_model(kind, SEED_A), make_model(kind, SEED_B)
    a = export(ma, inputs[0], os.path.join(d, "model.onnx"), opset, dynamic, keep_bn)
    b = export(mb, inputs[0], os.path.join(d, "model_b.onnx"), opset, dynamic, keep_bn)
    if keep_bn and not any(n.op_type == "BatchNormalization" for n in a.graph.node):
        raise SystemExit(f"{name}: the export folded its BatchNormalization nodes")
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
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and sys.argv[2] != "--all"):
        raise SystemExit("usage: make_real_models.py OUTDIR [--all]")
    names = ["resnet18", "resnet18_bn", "mobilenet_v2", "encoder", "encoder17", "bert"]
    if len(sys.argv) == 3:
        names = ["mobilenet_v3", "efficientnet_b0", "squeezenet", "shufflenet_v2", "densenet121", "regnet_y",
                 "vgg11", "convnext", "convnext17", "bert17"]
    for name in names:
        make(sys.argv[1], name)
    print("wrote", ", ".join(names), "to", sys.argv[1])


if __name__ == "__main__":
    main()

"""PyTorch eager on the same GPU, for bench/gpu_bench.cc's figures (issue 8).

Usage: gpu_torch_bench.py [--runs N]
ResNet-50 (torchvision, random weights) at batch 1 and 32, float32, with TF32 off and with
PyTorch's defaults (cuDNN convolutions may use TF32); plus a refresh of every parameter from
pinned host tensors (param.copy_(src, non_blocking=True), then a synchronize). Prints JSON.
"""
import argparse
import json
import time

import torch
import torchvision


def timed(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        t.append((time.perf_counter() - t0) * 1e3)
    t.sort()
    return {"median": t[len(t) // 2], "p90": t[min(len(t) - 1, len(t) * 9 // 10)], "min": t[0]}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=50)
    args = p.parse_args()
    torch.manual_seed(0)
    model = torchvision.models.resnet50().eval().cuda()
    out = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}
    with torch.no_grad():
        for tf32 in (False, True):
            torch.backends.cudnn.allow_tf32 = tf32
            torch.backends.cuda.matmul.allow_tf32 = tf32
            for batch in (1, 32):
                x = torch.randn(batch, 3, 224, 224, device="cuda")
                out[f"resnet50_b{batch}_{'tf32' if tf32 else 'fp32'}_ms"] = timed(lambda: model(x), 10, args.runs)
    params = [p for p in model.parameters()] + [b for b in model.buffers() if b.dtype.is_floating_point]
    pinned = [torch.randn(p.shape).pin_memory() for p in params]
    total = sum(p.numel() * p.element_size() for p in params)

    def refresh():
        with torch.no_grad():
            for dst, src in zip(params, pinned):
                dst.copy_(src, non_blocking=True)

    r = timed(refresh, 2, 10)
    out["refresh_pinned_ms"] = r
    out["refresh_pinned_GBps"] = total / (r["median"] * 1e-3) / 1e9
    out["weight_bytes"] = total
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

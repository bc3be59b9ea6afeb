"""PyTorch 1.13 eager peer: inference latency, load_state_dict time and peak memory of one model.

Usage: torch_bench.py MODELS_DIR NAME THREADS RUNS   (prints one JSON object)
"""
import json
import os
import resource
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_models import make_model  # noqa: E402


def main():
    models_dir, name, threads, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    model, _ = make_model(name)
    x = torch.from_numpy(np.load(os.path.join(models_dir, name + ".input.npy")))
    times = []
    with torch.inference_mode():
        for _ in range(5):
            y = model(x)
        for _ in range(runs):
            t = time.perf_counter()
            y = model(x)
            times.append((time.perf_counter() - t) * 1e3)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    state = {k: v.clone() for k, v in model.state_dict().items()}
    refresh = []
    for _ in range(5):
        t = time.perf_counter()
        model.load_state_dict(state)
        refresh.append((time.perf_counter() - t) * 1e3)
    print(json.dumps({"infer_ms": times, "load_state_dict_ms": sorted(refresh)[len(refresh) // 2], "peak_rss_kb": peak_kb,
                      "output_head": y.flatten()[:8].tolist()}))


if __name__ == "__main__":
    main()

"""ONNX Runtime peer through its Python package, for machines that have pip's onnxruntime but
no Node.js (the GPU machines, whose CPUs have AVX-512): inference latency of one model.

Usage: ort_python_bench.py MODEL.onnx INPUT.npy THREADS RUNS   (prints one JSON object)
Same options as ort_bench.js: all graph optimizations, sequential execution, THREADS intra-op
threads; the median is taken over RUNS timed runs after 5 warm-up runs.
"""
import json
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort


def main():
    model, x_path, threads, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    x = np.load(x_path)
    feeds = {session.get_inputs()[0].name: x}
    for _ in range(5):
        out = session.run(None, feeds)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        out = session.run(None, feeds)
        times.append((time.perf_counter() - t) * 1e3)
    print(json.dumps({"ort_version": ort.__version__, "infer_ms": times, "median_ms": statistics.median(times),
                      "output_head": [float(v) for v in out[0].reshape(-1)[:8]]}))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""`make bench-zoo`: liveweight against ONNX Runtime on more torchvision classifiers than
`make bench` times, for inference only: what a user who brings another model gets.

Usage: zoo.py --build-dir BUILD [--work DIR] [--models a,b] [--threads 2] [--rounds 3] [--runs 30]
              [--doc docs/benchmarks.md]

Per model (random weights with the same BatchNorm statistics as export_models.py, batch 1,
224 x 224, opset 13): `lw build`; calls to malloc per warm run (bench/alloc_count.cc), and on a
machine with AVX-512 again with oneDNN limited to AVX2 (DNNL_MAX_CPU_ISA=AVX2, which also keeps
liveweight's own kernels on their AVX2 code: the other machine kind's paths); then ROUNDS
alternating fresh processes of liveweight and ONNX Runtime inference (RUNS timed runs each
after 5 warm-up runs), the ratio of their medians per round, and the largest difference of the
first 8 outputs. Prints a table, writes WORK/zoo.json and the section "## Other models" of the
doc (replacing the one there).
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run  # noqa: E402  (setup, sh, last_json, machine)

MODELS = ["mobilenet_v3_small", "squeezenet1_1", "shufflenet_v2_x0_5", "mnasnet0_5", "efficientnet_b0", "googlenet",
          "densenet121", "regnet_x_400mf", "resnext50_32x4d"]
SECTION = "## Other models"


def export(outdir, names):
    """Exports the models not yet in outdir (a subprocess: importing torch here would slow every run)."""
    script = f"""
import os, sys, numpy as np, torch, torchvision
out = {outdir!r}
for name in {names!r}:
    path = os.path.join(out, name + ".onnx")
    if os.path.exists(path):
        continue
    torch.manual_seed(0)
    kwargs = {{"aux_logits": False, "init_weights": True}} if name == "googlenet" else {{}}
    model = getattr(torchvision.models, name)(**kwargs).eval()
    for m in model.modules():  # non-trivial statistics, as export_models.py gives its CNNs
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    np.save(os.path.join(out, name + ".input.npy"), x.numpy())
    torch.onnx.export(model, (x,), path, opset_version=13, input_names=["input"], output_names=["output"])
"""
    os.makedirs(outdir, exist_ok=True)
    code, out, err = run.sh([run.PY, "-c", script], timeout=3600)
    if code != 0:
        sys.exit("zoo export failed:\n" + err[-3000:])


def has_avx512():
    with open("/proc/cpuinfo") as f:
        return " avx512f" in f.read()


def run_model(args, name, ort, exe, zoo):
    onnx = os.path.join(zoo, name + ".onnx")
    x = os.path.join(zoo, name + ".input.npy")
    om = os.path.join(zoo, name + ".om")
    res = {"model": name}
    code, out, err = run.sh([os.path.join(args.work, "lib", "lw"), "build", onnx, "-o", om])
    if code != 0:
        res["lw_error"] = ((err or out).strip().splitlines() or ["lw build failed"])[-1]
        return res
    env = dict(os.environ, LW_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
    counter = os.path.join(args.work, "alloc_count")
    code, out, err = run.sh([counter, om, "20"], env=env)
    res["allocs_per_run"] = run.last_json(out)["allocs_per_run"] if code == 0 else None
    if has_avx512():
        code, out, err = run.sh([counter, om, "20"], env=dict(env, DNNL_MAX_CPU_ISA="AVX2"))
        res["allocs_per_run_avx2"] = run.last_json(out)["allocs_per_run"] if code == 0 else None
    lw_all, ort_all, ratios = [], [], []
    for k in range(args.rounds):
        code, out, err = run.sh([exe, "memory", om, x, str(args.runs)], env=env)
        if code != 0:
            res["lw_error"] = err.strip()[-300:]
            return res
        lw = run.last_json(out)
        cmd = ["node", os.path.join(HERE, "ort_bench.js"), ort, onnx, x, str(args.threads), str(args.runs)]
        code, out, err = run.sh(cmd if k == 0 else cmd + ["infer"], env=env)
        if code != 0:
            res["ort_error"] = err.strip()[-300:]
            return res
        o = run.last_json(out)
        if k == 0:
            res["max_abs_diff"] = max(abs(a - b) for a, b in zip(lw["output_head"], o["output_head"]))
        lw_all += lw["infer_ms"]
        ort_all += o["infer_ms"]
        ratios.append(statistics.median(lw["infer_ms"]) / statistics.median(o["infer_ms"]))
    res["lw_ms"] = statistics.median(lw_all)
    res["ort_ms"] = statistics.median(ort_all)
    res["round_ratios"] = ratios
    return res


def table(out):
    avx2 = any("allocs_per_run_avx2" in r for r in out["results"])
    head = "| model | lw ms | ORT ms | lw/ORT (rounds) | lw allocs/run" + (" (oneDNN limited to AVX2)" if avx2 else "") + \
        " | lw-ORT max diff |"
    rows = [head, "|" + "---|" * 6]
    for r in out["results"]:
        if "lw_error" in r or "ort_error" in r:
            rows.append(f"| {r['model']} | {r.get('lw_error') or r.get('ort_error')} | | | | |")
            continue
        q = r["round_ratios"]
        allocs = run.fmt(r["allocs_per_run"]) + (f" ({run.fmt(r['allocs_per_run_avx2'])})" if avx2 else "")
        rows.append(f"| {r['model']} | {run.fmt(r['lw_ms'])} | {run.fmt(r['ort_ms'])} | "
                    f"{run.fmt(statistics.median(q))} ({run.fmt(min(q))}-{run.fmt(max(q))}) | {allocs} | "
                    f"{r['max_abs_diff']:.1e} |")
    return "\n".join(rows)


def write_doc(path, out, text):
    """Replaces the doc's SECTION (up to the next "## " heading) or appends it."""
    with open(path) as f:
        doc = f.read()
    section = (f"{SECTION}\n\n`make bench-zoo` (bench/zoo.py): inference of more torchvision classifiers (random "
               f"weights, batch 1, 224 x 224, opset 13) against ONNX Runtime {run.ORT_VERSION}, {out['threads']} threads, "
               f"{out['rounds']} alternating rounds of fresh processes, {out['runs']} timed runs each (lw/ORT: the "
               "median of the per-round ratios of medians, their range in brackets). allocs/run: calls to malloc "
               "in a warm run (bench/alloc_count.cc); in brackets with oneDNN limited to AVX2, which also keeps "
               "liveweight's own kernels on their AVX2 code (the paths of the project's AVX2 machines)."
               f"\n\nMachine: {out['machine']}. Date: {out['date']}.\n\n{text}\n")
    start = doc.find("\n" + SECTION)
    if start < 0:
        doc = doc.rstrip("\n") + "\n\n" + section
    else:
        end = doc.find("\n## ", start + 1)
        doc = doc[:start + 1] + section + (doc[end:] if end >= 0 else "")
    with open(path, "w") as f:
        f.write(doc)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build-dir", required=True)
    p.add_argument("--work", default=None)
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--doc", default=os.path.join(run.ROOT, "docs", "benchmarks.md"))
    args = p.parse_args()
    args.work = args.work or os.path.join(args.build_dir, "bench")
    os.makedirs(args.work, exist_ok=True)
    where = run.machine()
    ort, _, exe = run.setup(args)
    zoo = os.path.join(args.work, "zoo")
    names = args.models.split(",")
    export(zoo, names)
    results = []
    for name in names:
        print(f"{name} ...", file=sys.stderr, flush=True)
        results.append(run_model(args, name, ort, exe, zoo))
    out = {"machine": where, "threads": args.threads, "rounds": args.rounds, "runs": args.runs,
           "date": time.strftime("%Y-%m-%d %H:%M"), "results": results}
    text = table(out)
    print(text)
    with open(os.path.join(args.work, "zoo.json"), "w") as f:
        json.dump(out, f, indent=1)
    if args.doc:
        write_doc(args.doc, out, text)


if __name__ == "__main__":
    main()

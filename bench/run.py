#!/usr/bin/env python3
"""`make bench`: liveweight against ONNX Runtime 1.30 and PyTorch 1.13 in one run.

Usage: run.py --build-dir BUILD [--work DIR] [--models a,b] [--threads 2,1] [--runs 30] [--doc docs/benchmarks.md]

Steps: installs onnxruntime-node into WORK/ort (npm, --ignore-scripts), exports the models
(export_models.py), compiles lw_bench.cc against BUILD/libliveweight.so, builds two bundles per
model with `lw build` (with and without the init graph), then runs every peer per model and
thread count in separate processes. Prints a table, writes WORK/results.json and the doc.
A model liveweight cannot import yet is reported as not supported; the run goes on.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = "/usr/bin/python3"
ORT_VERSION = "1.30.0"
ALL_MODELS = ["resnet18", "resnet18_bn", "resnet50", "mobilenet_v2", "mlp", "transformer"]


def sh(cmd, env=None, timeout=3600):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON in output")


def stats(times):
    t = sorted(times)
    p90 = t[min(len(t) - 1, int(round(0.9 * (len(t) - 1))))]
    return {"median": statistics.median(t), "p90": p90, "n": len(t)}


def setup(args):
    ort = os.path.join(args.work, "ort")
    if not os.path.isdir(os.path.join(ort, "node_modules", "onnxruntime-node")):
        os.makedirs(ort, exist_ok=True)
        code, out, err = sh(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", ort,
                             "onnxruntime-node@" + ORT_VERSION])
        if code != 0:
            sys.exit("npm install onnxruntime-node failed:\n" + err)
    models = os.path.join(args.work, "models")
    code, out, err = sh([PY, os.path.join(HERE, "export_models.py"), models])
    if code != 0:
        sys.exit("model export failed:\n" + err[-3000:])
    exe = os.path.join(args.work, "lw_bench")
    # A private copy of the library and the tool, so rebuilding during a run changes nothing.
    libdir = os.path.join(args.work, "lib")
    os.makedirs(libdir, exist_ok=True)
    for f in ("libliveweight.so", "lw"):
        src = os.path.join(args.build_dir, f)
        if not os.path.exists(src):
            sys.exit(src + " is missing: build liveweight first (make build)")
        shutil.copy2(os.path.realpath(src), os.path.join(libdir, f))
        if f.endswith(".so"):
            shutil.copy2(os.path.realpath(src), os.path.join(libdir, f + ".0"))  # the SONAME
    code, out, err = sh(["g++", "-O2", "-std=c++20", "-I", os.path.join(ROOT, "include"), os.path.join(HERE, "lw_bench.cc"),
                         "-o", exe, "-L", libdir, "-lliveweight", "-Wl,-rpath," + os.path.abspath(libdir)])
    if code != 0:
        sys.exit("compiling lw_bench failed:\n" + err)
    code, out, err = sh(["g++", "-O2", "-std=c++20", "-I", os.path.join(ROOT, "include"), os.path.join(HERE, "alloc_count.cc"),
                         "-o", os.path.join(args.work, "alloc_count"), "-L", libdir, "-lliveweight",
                         "-Wl,-rpath," + os.path.abspath(libdir)])
    if code != 0:
        sys.exit("compiling alloc_count failed:\n" + err)
    return ort, models, exe


def run_model(args, name, ort, models, exe):
    onnx = os.path.join(models, name + ".onnx")
    x = os.path.join(models, name + ".input.npy")
    res = {"model": name, "onnx_bytes": os.path.getsize(onnx), "threads": {}}
    lw_tool = os.path.join(args.work, "lib", "lw")
    om_init = os.path.join(args.work, name + ".om")
    om_noinit = os.path.join(args.work, name + ".noinit.om")
    t = time.perf_counter()
    code, out, err = sh([lw_tool, "build", onnx, "-o", om_init])
    res["lw_build_s"] = time.perf_counter() - t
    if code == 0:
        code, out, err = sh([lw_tool, "build", onnx, "-o", om_noinit, "--no-init"])
    if code != 0:
        res["lw_error"] = (err or out).strip().splitlines()[-1] if (err or out).strip() else "lw build failed"
    for threads in args.threads:
        env = dict(os.environ, LW_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
        if args.omp_wait_policy:
            env["OMP_WAIT_POLICY"] = args.omp_wait_policy
        r = {}
        if "lw_error" not in res:
            code, out, err = sh([exe, "speed", om_init, om_noinit, x, str(args.runs)], env=env)
            if code == 0:
                r["lw"] = last_json(out)
                code, out, err = sh([exe, "memory", om_init, x, str(args.runs)], env=env)
                if code == 0:
                    r["lw"]["peak_rss_kb"] = last_json(out)["peak_rss_kb"]
                    code, out, err = sh([os.path.join(args.work, "alloc_count"), om_init, "20"], env=env)
                if code == 0:
                    r["lw"]["allocs_per_run"] = last_json(out)["allocs_per_run"]
                if code == 0:
                    # First read and first load of a process, alternating fresh processes.
                    cold = {"read": [], "load": []}
                    for _ in range(args.cold_loads):
                        for what in ("read", "load"):
                            code, out, err = sh([exe, "cold", what, om_init], env=env)
                            if code != 0:
                                break
                            cold[what].append(last_json(out)["ms"])
                    if code == 0:
                        r["lw"]["read_file_cold_ms"] = statistics.median(cold["read"])
                        r["lw"]["load_init_cold_ms"] = statistics.median(cold["load"])
            if code != 0:
                r["lw_error"] = err.strip()[-500:]
        code, out, err = sh(["node", os.path.join(HERE, "ort_bench.js"), ort, onnx, x, str(threads), str(args.runs)], env=env)
        r["ort"] = last_json(out) if code == 0 else {"error": err.strip()[-500:]}
        code, out, err = sh([PY, os.path.join(HERE, "torch_bench.py"), models, name, str(threads), str(args.runs)], env=env)
        r["torch"] = last_json(out) if code == 0 else {"error": err.strip()[-500:]}
        # More rounds of liveweight and ONNX Runtime inference, alternating, each in a fresh
        # process: the machine's load drifts between processes, so one round each can tip a
        # ratio near 1 either way. The table pools every round's timings and shows the range
        # of the per-round ratios.
        rounds = [(r.get("lw", {}).get("infer_ms"), r["ort"].get("infer_ms"))]
        for _ in range(args.rounds - 1):
            if "infer_ms" not in r.get("lw", {}) or "infer_ms" not in r["ort"]:
                break
            code, out, err = sh([exe, "memory", om_init, x, str(args.runs)], env=env)
            lw_ms = last_json(out)["infer_ms"] if code == 0 else None
            code, out, err = sh(["node", os.path.join(HERE, "ort_bench.js"), ort, onnx, x, str(threads), str(args.runs),
                                 "infer"], env=env)
            ort_ms = last_json(out)["infer_ms"] if code == 0 else None
            if lw_ms and ort_ms:
                rounds.append((lw_ms, ort_ms))
        if all(a and b for a, b in rounds):
            r["lw_ort_round_ratios"] = [statistics.median(a) / statistics.median(b) for a, b in rounds]
            r["lw"]["infer_ms"] = [t for a, _ in rounds for t in a]
            r["ort"]["infer_ms"] = [t for _, b in rounds for t in b]
        for k in ("lw", "ort", "torch"):
            if k in r and "infer_ms" in r[k]:
                r[k]["infer"] = stats(r[k].pop("infer_ms"))
        if "lw" in r and "output_head" in r.get("ort", {}):
            r["lw_vs_ort_max_abs_diff"] = max(abs(a - b) for a, b in zip(r["lw"]["output_head"], r["ort"]["output_head"]))
        res["threads"][str(threads)] = r
        print(f"  {name} @{threads}t done", file=sys.stderr, flush=True)
    return res


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float):
        return (f"{v:.3f}" if v < 1 else f"{v:.1f}" if v >= 100 else f"{v:.2f}") + unit
    return str(v) + unit


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def table(results):
    lines = []
    head = ("| model | thr | lw infer med/p90 ms | ORT med/p90 ms | PyTorch med/p90 ms | lw/ORT | lw/PyTorch | "
            "full refresh ms (in place) | memcpy ms | refresh/memcpy | first infer after it ms (/ infer) | "
            "one / 1% / 10% refresh ms (% of full) | "
            "ORT new session ms | load+init ms | load no-init ms | read file ms (fresh / reused buffer) | "
            "load+init/read (fresh / reused) | "
            "first load+init / first read ms (ratio) | "
            "peak RSS MB lw / ORT / PyTorch | lw allocs/run | lw-ORT max diff |")
    lines.append(head)
    lines.append("|" + "---|" * (head.count("|") - 1))
    for res in results:
        name = res["model"]
        for thr, r in res["threads"].items():
            lw, ort, pt = r.get("lw"), r.get("ort", {}), r.get("torch", {})
            o_inf = ort.get("infer", {})
            p_inf = pt.get("infer", {})
            ort_s = f"{fmt(o_inf.get('median'))} / {fmt(o_inf.get('p90'))}" if o_inf else "error"
            pt_s = f"{fmt(p_inf.get('median'))} / {fmt(p_inf.get('p90'))}" if p_inf else "error"
            rss_o = fmt(ort.get("peak_rss_kb", 0) / 1024) if "peak_rss_kb" in ort else "-"
            rss_p = fmt(pt.get("peak_rss_kb", 0) / 1024) if "peak_rss_kb" in pt else "-"
            if not lw:
                why = res.get("lw_error") or r.get("lw_error", "failed")
                lines.append(f"| {name} | {thr} | not yet supported: {why} | {ort_s} | {pt_s} | - | - | - | - | - | - | - | "
                             f"{fmt(ort.get('recreate_ms'))} | - | - | - | - | - | - / {rss_o} / {rss_p} | - | - |")
                continue
            li = lw["infer"]
            full = lw["refresh"]["full"]["ms"]
            after = lw.get("infer_after_refresh_ms")
            parts = []
            for k in ("one", "pct1", "pct10"):
                c = lw["refresh"][k]
                parts.append(f"{fmt(c['ms'])} ({100 * c['ms'] / full:.0f}%)")
            lw_ort = fmt(ratio(li['median'], o_inf.get('median')))
            if len(r.get("lw_ort_round_ratios", [])) > 1:
                # The median of the rounds' ratios: each round's two processes ran back to back,
                # under the same load; the pooled medians mix rounds whose load differed.
                rr = r["lw_ort_round_ratios"]
                lw_ort = f"{fmt(statistics.median(rr))} ({fmt(min(rr))}-{fmt(max(rr))})"
            lines.append(
                f"| {name} | {thr} | {fmt(li['median'])} / {fmt(li['p90'])} | {ort_s} | {pt_s} | "
                f"{lw_ort} | {fmt(ratio(li['median'], p_inf.get('median')))} | "
                f"{fmt(full)} ({fmt(lw.get('refresh_full_in_place_ms'))}) | {fmt(lw['memcpy_ms'])} | {fmt(ratio(full, lw['memcpy_ms']))} | "
                f"{fmt(after)} ({fmt(ratio(after, li['median']))}) | {' / '.join(parts)} | "
                f"{fmt(ort.get('recreate_ms'))} | {fmt(lw['load_init_ms'])} | {fmt(lw['load_noinit_ms'])} | "
                f"{fmt(lw['read_file_ms'])} / {fmt(lw.get('read_file_reused_ms'))} | "
                f"{fmt(ratio(lw['load_init_ms'], lw['read_file_ms']))} / "
                f"{fmt(ratio(lw['load_init_ms'], lw.get('read_file_reused_ms')))} | "
                f"{fmt(lw.get('load_init_cold_ms'))} / {fmt(lw.get('read_file_cold_ms'))} "
                f"({fmt(ratio(lw.get('load_init_cold_ms'), lw.get('read_file_cold_ms')))}) | "
                f"{fmt(lw.get('peak_rss_kb', 0) / 1024)} / {rss_o} / {rss_p} | {fmt(lw.get('allocs_per_run'))} | "
                f"{fmt(r.get('lw_vs_ort_max_abs_diff'))} |")
    return "\n".join(lines)


def machine():
    cpu, isa = "unknown CPU", ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name") and cpu == "unknown CPU":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = line.split(":", 1)[1].split()
                # oneDNN's kernels, and so these figures, differ most between these two.
                isa = " (AVX-512)" if "avx512f" in flags else " (AVX2, no AVX-512)" if "avx2" in flags else ""
                break
    except OSError:
        pass
    load = os.getloadavg()
    return (f"{cpu}{isa}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
            f"load average {load[0]:.1f} at start")


NOTES = """
Notes:
- The machine is shared with other jobs (see the load average): single figures move by 2x
  from run to run; compare ratios from one run, and rerun before drawing conclusions.
- The project's machines are not all alike: some have AVX-512 (tables before 2026-11-27 02:00),
  some AVX2 only (the machine line says which). oneDNN 2.6 runs different kernels on each.
  On AVX2 its convolutions run fastest on channel-blocked activations (nChw8c, as ONNX
  Runtime's MLAS NCHWc kernels), which liveweight keeps between convolutions there
  (LW_CPU_ACTIVATION_LAYOUT; channels-last on AVX-512 machines), and its matmul is a gemm that
  packs B again on every call: a weight B there runs on liveweight's own AVX2 kernels instead,
  skinny_gemm for up to 16 rows (B as given) and packed_gemm for more (B held in panels of 16
  columns; src/backends/cpu/kernels/). Its 3 x 3 and larger convolutions on nChw8c run on
  liveweight's blocked_conv there (the BatchNorm of a refreshable pair in registers), the
  3 x 3 stride-1 ones with enough output by Winograd's F(2 x 2, 3 x 3) (winograd_conv;
  LW_CPU_CONV=direct or onednn to compare). Since 2026-11-27 23:55 its 1 x 1 convolutions of up
  to 400 output positions (ResNet-50's 14 x 14 and 7 x 7 layers, MobileNet v2's) run on
  liveweight's pointwise_conv at two threads or more, a product whose items the threads share
  out (0.78-1.01 of oneDNN's time there, alternating calls; the larger ones stay on oneDNN's,
  which was faster on them). On AVX-512 machines (a Zen 5 since 2026-11-28) oneDNN's matmul
  reads B from its own blocked layout and its convolutions run on channels-last activations;
  since 2026-11-28 02:40 every Gemm/MatMul with a weight B runs there on packed_gemm's AVX-512
  blocks instead (8 x 48 for up to 8 rows of A, 6 x 64 for more; B held in panels of 48 or 64
  columns): alternating processes against oneDNN's matmul, the transformer 1.007 of its time at
  two threads and 0.99 at one, the MLP 0.87 and 0.75, and no allocation per call. Since
  2026-11-28 03:00 the 1 x 1 convolutions of stride 1 without padding run on it too (blocks of
  16 to 64 columns picked by the channel count, the epilogue in registers): 0.93-1.05 of
  oneDNN's time per layer at one thread, 0.91-1.10 at two (alternating calls), whole models
  0.97-1.01. Since 2026-11-28 03:35 the depthwise ones run on liveweight's depthwise_conv (16
  channels a vector, 8 output positions a block): 0.43-1.0 of oneDNN's time per layer on 28 x 28
  and larger outputs, 1.1-1.3 on 14 x 14 and 7 x 7 ones, MobileNet v2 1.01-1.05 of its time; and
  since 04:00 a stem of up to 32 taps on a plain input (MobileNet v2's 3 x 3 one) on plain_conv,
  20% slower than oneDNN's primitive and its input reorder (0.02 ms a run). The other
  convolutions stay on oneDNN's AVX-512 kernels. Tables before 2026-11-28
  03:00 ran a process's first one-thread session's oneDNN convolutions on both cores (their
  thread count was fixed when created, from the process default): the speed columns were not
  affected (their sessions came after runs that set the count), the allocation counts were.
  Since 2026-11-27 11:30 the Winograd filters are
  transformed once per version of the weights (on the first inference after a refresh) rather
  than on every inference, and outputs of up to 8 x 8 read a zero-padded copy of their input:
  ResNet-18's lw/ORT went from 0.98 to 0.84 at two threads.
- Every weight of a bundle from `lw build` is refreshable, so conv and Gemm/MatMul weights are
  Variables: the convolutions and matmuls read them in oneDNN's blocked layouts (Acdb64a,
  BA16a64b, ...), held by the Variables themselves; init and update write through a tile copy
  into that layout (src/backends/cpu/blocked_pack.cc: 16 x 16 AVX-512 transposes, faster than
  oneDNN's reorder; 8 x 8 AVX2 transposes on AVX2 machines since 2026-11-27 11:50, 4 x 4
  before, with ordinary stores except for 1 x 1 weights, whose 8 x 8 blocks are whole lines and
  stream like the AVX-512 ones since 2026-11-27 14:45: MobileNet v2's full refresh at one
  thread went from 1.32-1.39x to 0.93-1.11x a memcpy; since 2026-11-27 16:40 the 3 x 3 weights'
  8 x 8 blocks are put together in L1 by runs of 8 input channels, 2304 bytes the layout
  stores contiguously, and streamed from there as whole lines: ResNet-18's full refresh at one
  thread went from 1.06-1.27x to 0.74-0.77x a memcpy). That transposition is why a refresh can
  cost more than a memcpy of the
  plain bytes, most at one thread (the conv layouts: ResNet-50). An update larger than the L3
  cache (32 MiB here, read from sysfs), or of 1 MiB or more to a model whose weights are,
  writes with non-temporal stores (src/core/stream_copy.h; LW_STREAMING_MIN_BYTES sets the
  size, 0 turns it off): no read of the destination lines before they are overwritten (those
  lines are not in cache: weights larger than the cache evict each other every inference).
  Of the rest, weights an inference reads 32 times or more (a convolution's: once per output
  position) are streamed too when the refresh's buffers, twice the update plus the model, do
  not fit in the cache (MobileNet v2's full refresh since 2026-11-26 21:00; its classifier,
  read once, is not); the others keep ordinary stores so the new weights stay in cache for the
  next inference (tables before 2026-11-26 15:49 streamed only updates larger than the
  cache, so a 10% subset cost 11-20% of a full refresh). MobileNet's memcpy runs mostly in cache
  (its source and destination fit in L3), while each copy-on-write refresh writes a buffer
  other than the one inference reads (the two versions, the new values and the source do not
  all fit). "(in place)": the same full refresh with in_place_updates, which writes over the
  weights inference reads (no second buffer; inferences wait meanwhile); refresh/memcpy is the
  copy-on-write figure. Streamed MatMul weights (BA16a64b, whose tile rows are pieces of the
  source rows) are read row by row in one sequential stream and scattered as whole lines,
  which is why the transformer's refresh beats the memcpy (tables before 2026-11-26 13:30
  walked them tile by tile: 1.77x the memcpy at one thread).
- CPU weight buffers of 2 MiB and more sit on transparent huge pages (madvise; README's
  LW_HUGE_PAGES). Tables before 2026-11-26 19:30 had 4 KiB pages there: the MLP inferred 12%
  slower, the ResNets and the transformer 1.5-2.5%, full refreshes of ResNet-50 and the MLP
  were 9-12% slower, and a first init of ResNet-50 (fresh memory) took 26-31 ms against 10-11.
  The memcpy reference copies into ordinary (4 KiB-page) buffers. Since 2026-11-26 23:40 each
  such buffer is a mapping of its own, and those a closed session freed (under 32 MiB, 64 MiB in
  all: LW_WEIGHT_BLOCK_CACHE_BYTES) serve the next load without the kernel zeroing them again.
  Before, glibc's heap served and reused blocks under 32 MiB but faulted them in 4 KiB at a time
  where it grew: load+init of ResNet-18 with BatchNorms and of the transformer at 2 threads
  moved between 6 and 35 ms from run to run (now 3.8-4.3 ms), the read of the file being 20 ms.
- Load: "load+init" and "read file" are medians of 9 repeats in one process, where the second
  and later loads find liveweight's weight blocks, oneDNN's generated code and (since 2026-11-27 20:10)
  the convolutions' primitive descriptors ready. The file is
  read twice over: into fresh memory each time (an anonymous mapping of its own, whose pages the
  kernel zeroes and maps as the read fills them, as in a program's first read of the file), and
  into one buffer every repeat reuses (the page cache's copy alone, the least a read can cost).
  Before 2026-11-27 20:25 there was one read, into new[] memory: glibc's heap reused the last
  read's pages for files under its dynamic mmap threshold (MobileNet v2's 14 MB) and handed out
  fresh pages for the larger ones, so that MobileNet v2 was measured against the reused buffer
  and the other models against fresh memory. The kernel's copy out of the page cache itself
  varies with the machine's state: MobileNet v2's 14 MB took 2.0 ms (7 GB/s) to read into a
  reused buffer at 17:24 on 2026-11-27 and 7.5-12 ms (1.2-1.9 GB/s) from 20:00 the same evening,
  while a user-space memcpy of as many bytes took 2-3 ms throughout; the read columns, and the
  ratios to them, move with it. "first load+init / first read": the medians over
  fresh processes (5 of each, alternating) of the first of each, which is what a program that
  loads a model once pays
  (columns added 2026-11-27 14:00). A load with init also verifies the checksums of the
  weights it reads (about 16 GB/s a thread since 2026-11-27 17:15, when the checksum loop began
  requesting its next pages ahead; 8-11 GB/s before), creates the primitives and packs the
  weights, which a read of the file does not. MobileNet v2's first load at two threads is
  bimodal on this machine (5-25 ms; 11.5 ms against a 5.7 ms first read at 08:10 on
  2026-11-28, 4.4 against 5.9 at 06:08): with OMP_WAIT_POLICY=passive it stays at 5.5-7.5 ms,
  so libgomp's spinning worker costs it, not the work. Where the time of a repeated load goes
  (ResNet-50, one thread, perf, 2026-11-28): the weights' packing into their kernels' layouts
  about 30%, the checksums 20%, zeroing fresh pages for the weights 11%, mapping the file's
  pages 6%.
- The transformer's attention runs as one fused kernel since 2026-11-27 13:40 (q k^T, softmax
  and the product with v per block of rows, reading q, k and v through the head-splitting
  Transposes; LW_CPU_ATTENTION=unfused keeps the separate nodes; its batched oneDNN matmuls
  were the 124 allocations per run the transformer showed before), and Reshape-like steps share
  their input's memory instead of copying it. Since 2026-11-27 16:45 the kernel also reads q, k
  and v straight out of the packed [S, 1, 3E] projection, where three Slices a layer copied
  them out before, and the products request the next panel of their weight ahead of use (3-8%
  faster products in a micro-benchmark).
- One small tensor refreshed alone at two threads costs a few microseconds. Tables before
  2026-11-26 13:30 show up to 0.1 ms there: each such update started a thread (its copy ran in
  a parallel region nested in a one-thread one, and libgomp starts nested teams afresh).
- `LW_PROFILE=1` prints each CPU plan's time per op type when the session closes.
- PyTorch is Debian's python3-torch 1.13 with OpenBLAS (the OpenMP build, from
  scripts/bootstrap.sh). Tables before 2026-11-26 08:30 ran it on Debian's reference BLAS, which
  made its MLP and transformer 10-45x slower than here.
- torch.onnx.export in eval mode folds BatchNorm into the convolutions, so these models have
  no BatchNormalization nodes, except resnet18_bn (exported with training=PRESERVE): there the
  BatchNorm parameters are refreshable weights, and the CPU plan fuses each BatchNormalization
  into the Conv before it as a per-channel scale and shift computed from the current parameters
  on every run, the shift through the convolution's bias and the scale as one post-op (tables
  before 2026-11-26 18:30 applied both as post-ops: 2-4% slower); ONNX Runtime folds them into
  the weights at session creation. Built with
  `lw build --refresh` leaving the BatchNorm and conv tensors out, they fold at build time.
- lw allocs/run: calls to malloc and friends during one aclmdlExecute with prepared datasets
  (bench/alloc_count.cc, every thread counted). All are oneDNN 2.6's own, inside every
  primitive execution (its argument map: 7 calls per convolution here, more with per-channel
  post-ops; checked with backtraces of the counted calls on 2026-11-27), so a run of oneDNN
  primitives cannot be allocation-free. Since 2026-11-28 05:00 no convolution or pool of these
  models runs on oneDNN at inference, on either machine kind, and every model's run calls malloc
  nowhere. History: on AVX2 machines every 1 x 1 convolution was oneDNN's before 2026-11-27
  23:55 (258 and 357 calls per run for ResNet-50 and MobileNet v2 at two threads), then those
  with more than 400 output positions or a lone 8-channel block, the depthwise ones and the
  3-channel stems (125, 207; ResNet-18 14); on AVX-512 machines ResNet-18 and ResNet-50 ran 167
  calls per run (their 3 x 3, strided and stem convolutions, the max pool) until 05:00 on
  2026-11-28, MobileNet v2 150 at 03:00, 14 at 03:35, none from 04:00 (174, 437 and 422 with
  every convolution and product on oneDNN that morning); the MLP's and the transformer's
  products none since 02:40 (39 and 116 calls before). On smaller inputs (64 to 160 pixels
  square, exported as the benchmark's), ResNet-18 and ResNet-50 ran 31-86 calls per run on
  AVX-512 machines (the convolutions of rows narrower than 7 were oneDNN's) until nhwc_conv
  gathered those on 2026-11-28 (none since; MobileNet v2 none before either; with oneDNN
  limited to AVX2 none at all). A convolution writing a graph output converted it from its
  layout with a oneDNN reorder (3 calls a run) until src/backends/cpu/activation_reorder.h.
  liveweight's kernels keep their oneDNN memory objects between runs
  (src/backends/cpu/dnnl_call.h), activations and scratch come from the arena planned at load,
  and the C API and Model::execute reuse per-thread lists: a warm aclmdlExecute allocates
  nothing in liveweight itself (tests/reliability/run_allocations_test.cc checks it on graphs
  of liveweight's own kernels: element-wise ops, narrow-row convolutions, a convolution writing
  a graph output).
- One-element constants (ReLU6's bounds, GELU's 0.5) are not weights for `lw build`, so they
  stay constants the compiler can fuse through; every other float initializer is refreshable.
- The transformer's four layers have their own weights (bench/export_models.py re-draws each
  layer; TransformerEncoder's identical copies would be exported as one shared set).
- Peak RSS: liveweight after load + init + the timed inferences, in its own process; ONNX
  Runtime after session creation and inferences (before the second session); PyTorch after
  building the model and inferences.
- OMP_WAIT_POLICY is left unset by default, as users run: libgomp's threads then spin a while
  between parallel regions, as ONNX Runtime's own pool does. With `passive` (earlier runs) every
  parallel region of liveweight and PyTorch waited for sleeping threads to wake while ONNX
  Runtime's pool kept spinning: MobileNet v2 at 2 threads took 5.3 ms in liveweight with
  `passive` against 1.9 ms unset (ONNX Runtime 2.2 and 2.0 ms; 2026-11-26, same machine).
"""


def write_doc(path, out, text):
    # The sections after the generated table (serving, GPU: figures from bench/serving_run.sh
    # and scripts/gpu-check.sh, written by hand) are kept as they are.
    kept = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
        at = old.find("\n## ")
        if at >= 0:
            kept = old[at:]
    with open(path, "w") as f:
        f.write("# Benchmarks\n\nLatest `make bench` (bench/run.py): liveweight against ONNX Runtime " + ORT_VERSION +
                " (npm onnxruntime-node) and PyTorch 1.13 eager, same thread count, one run, "
                f"{out['runs']} timed inferences after 5 warm-up runs per process; liveweight and ONNX Runtime "
                f"infer in {out.get('rounds', 1)} alternating rounds of fresh processes, pooled (lw/ORT: the median of "
                "the per-round ratios of medians, with their range in brackets; tables before 2026-11-27 09:05 gave "
                "the ratio of the pooled medians over 3 rounds).\n\n"
                f"Machine: {out['machine']}. Date: {out['date']}. "
                f"OMP_WAIT_POLICY={out.get('omp_wait_policy') or 'unset'} for every peer (ONNX Runtime's own thread pool "
                "ignores it).\n\n"
                "Columns: refresh = Session::update of the weights (new values, copy-on-write, published "
                "atomically); memcpy = one-thread memcpy of the same bytes into preallocated buffers in the same "
                "process, timed alternately with the full refresh (15 of each, medians; 7 in tables before "
                "2026-11-26 23:40; tables before 2026-11-26 14:08 timed the memcpy in a loop of its own, which kept a model that fits in the "
                "cache, MobileNet v2, in it); first infer after it = the first inference after a full refresh "
                "(median of 7; where a kernel derives something from its weights on their first use, Winograd's "
                "transformed filters since 2026-11-27 11:30, it is slower than the others; not in earlier tables), "
                "against the median inference; one / 1% / 10% = one median-size tensor and about 1% and 10% of the weight bytes "
                "(percent of the full refresh in brackets); ORT new session = creating a second session, "
                "which is what a weight change costs ONNX Runtime; load = Session::open (+ init) of the bundle "
                "from `lw build`; read file = reading the bundle file into fresh memory, and into a reused buffer "
                "(see the notes); both timed from the file "
                "to ready, closing the session and freeing the buffer untimed (tables before 2026-11-26 21:30 "
                "timed those too: 0.2-0.3 ms of MobileNet v2's load), medians of 9 (5 before 2026-11-26 23:40). "
                "lw-ORT max diff = largest "
                "absolute difference of the first 8 outputs.\n\n" + text + "\n" + NOTES + kept)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build-dir", required=True)
    p.add_argument("--work", default=None)
    p.add_argument("--models", default=",".join(ALL_MODELS))
    p.add_argument("--threads", default="2,1")
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--rounds", type=int, default=5, help="alternating liveweight / ONNX Runtime inference rounds")
    p.add_argument("--cold-loads", type=int, default=5, help="fresh processes for the first read and the first load, each")
    p.add_argument("--doc", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    # Idle OpenMP workers (liveweight's oneDNN, PyTorch) spin by default; on a shared 2-core
    # machine they steal the cores from everyone. ONNX Runtime's own pool ignores this.
    p.add_argument("--omp-wait-policy", default="", help="OMP_WAIT_POLICY for every peer (default: unset)")
    p.add_argument("--from-json", default=None, help="only render the table and the doc from a results.json")
    args = p.parse_args()
    if args.from_json:
        with open(args.from_json) as f:
            out = json.load(f)
        text = table(out["results"])
        print(text)
        if args.doc:
            write_doc(args.doc, out, text)
        return
    args.work = args.work or os.path.join(args.build_dir, "bench")
    args.threads = [int(t) for t in args.threads.split(",")]
    os.makedirs(args.work, exist_ok=True)
    where = machine()
    ort, models, exe = setup(args)
    results = []
    for name in args.models.split(","):
        print(f"{name} ...", file=sys.stderr, flush=True)
        results.append(run_model(args, name, ort, models, exe))
    text = table(results)
    print(text)
    out = {"machine": where, "runs": args.runs, "rounds": args.rounds, "omp_wait_policy": args.omp_wait_policy, "date": time.strftime("%Y-%m-%d %H:%M"), "results": results}
    with open(os.path.join(args.work, "results.json"), "w") as f:
        json.dump(out, f, indent=1)
    print("JSON: " + os.path.join(args.work, "results.json"), file=sys.stderr)
    if args.doc:
        write_doc(args.doc, out, text)

if __name__ == "__main__":
    main()

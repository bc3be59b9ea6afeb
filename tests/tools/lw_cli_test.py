#!/usr/bin/python3
"""Tests of the `lw` command-line tool: build, inspect, and their errors.

Usage: lw_cli_test.py LW_BINARY TEST_MODELS_DIR
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import onnx
from onnx import TensorProto, helper

LW = None
MODELS = None


def load_json(path):
    with open(path) as f:
        return json.load(f)


def lw(*args):
    return subprocess.run([LW, *args], capture_output=True, text=True, timeout=120)


class LwCli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def test_build_and_inspect_json(self):
        out = self.path("cnn.om")
        r = lw("build", os.path.join(MODELS, "cnn_bn", "model.onnx"), "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = lw("inspect", out, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        info = json.loads(r.stdout)
        self.assertEqual(info["kind"], "bundle")
        self.assertEqual([g["role"] for g in info["graphs"]], ["inference", "weight-init", "weight-update"])
        self.assertEqual([g["index"] for g in info["graphs"]], [0, 1, 2])
        manifest = load_json(os.path.join(MODELS, "cnn_bn", "weights.json"))
        names = [w["name"] for w in manifest]
        self.assertEqual([v["source"] for v in info["variables"]], names)
        self.assertEqual([v["name"] for v in info["variables"]], [n + "_var" for n in names])
        update = info["graphs"][2]
        self.assertEqual([t["name"] for t in update["inputs"]], [n + "_var_data" for n in names])
        for v, w in zip(info["variables"], manifest):
            self.assertEqual(v["dims"], w["shape"])
            count = 1
            for d in w["shape"]:
                count *= d
            self.assertEqual(v["bytes"], 4 * count)
            self.assertEqual(v["dtype"], "float32")
        self.assertEqual(info["graphs"][0]["inputs"][0]["dims"], [2, 3, 16, 16])
        self.assertEqual(info["weights_version"], 0)  # as built, not saved by a session
        # The text form names the same things.
        r = lw("inspect", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("weight-update", r.stdout)
        self.assertIn("conv1.weight_var", r.stdout)
        self.assertIn("weights: as built (version 0)\n", r.stdout)

    def test_inspect_shows_the_version_a_session_saved(self):
        # Bundle.save from the Python package built beside lw (absent when Python is not built).
        python_dir = os.path.join(os.path.dirname(LW), "python")
        if not os.path.isdir(os.path.join(python_dir, "liveweight")):
            self.skipTest("the liveweight Python package is not built")
        src = self.path("mlp.om")
        saved = self.path("mlp_saved.om")
        self.assertEqual(lw("build", os.path.join(MODELS, "mlp", "model.onnx"), "-o", src).returncode, 0)
        script = ("import sys, numpy as np, liveweight\n"
                  "with liveweight.Bundle(sys.argv[1]) as b:\n"
                  "    b.init()\n"
                  "    b.update({v.name: np.full(v.shape, 0.5, v.dtype) for v in b.variables})\n"
                  "    b.save(sys.argv[2])\n")
        env = dict(os.environ, PYTHONPATH=python_dir)
        r = subprocess.run([sys.executable, "-c", script, src, saved], capture_output=True, text=True, env=env,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = lw("inspect", saved)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("weights: version 2 of the session that saved them\n", r.stdout)
        self.assertIn("weight-init", r.stdout)
        self.assertEqual(json.loads(lw("inspect", saved, "--json").stdout)["weights_version"], 2)

    def test_no_init_and_refresh_subset(self):
        src = os.path.join(MODELS, "mlp", "model.onnx")
        out = self.path("mlp_noinit.om")
        self.assertEqual(lw("build", src, "-o", out, "--no-init").returncode, 0)
        info = json.loads(lw("inspect", out, "--json").stdout)
        self.assertEqual([g["role"] for g in info["graphs"]], ["inference", "weight-update"])
        # Without init the file holds no data for the refreshable weights.
        full = self.path("mlp.om")
        self.assertEqual(lw("build", src, "-o", full).returncode, 0)
        weight_bytes = sum(v["bytes"] for v in info["variables"])
        self.assertGreaterEqual(os.path.getsize(full) - os.path.getsize(out), weight_bytes)

        first = load_json(os.path.join(MODELS, "mlp", "weights.json"))[0]["name"]
        sub = self.path("mlp_sub.om")
        r = lw("build", src, "-o", sub, "--refresh", first)
        self.assertEqual(r.returncode, 0, r.stderr)
        info = json.loads(lw("inspect", sub, "--json").stdout)
        self.assertEqual([v["source"] for v in info["variables"]], [first])

    def test_build_errors(self):
        src = os.path.join(MODELS, "mlp", "model.onnx")
        r = lw("build", src, "-o", self.path("x.om"), "--refresh", "no_such_initializer")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no_such_initializer", r.stderr)
        r = lw("build", "/nonexistent/model.onnx", "-o", self.path("x.om"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nonexistent/model.onnx", r.stderr)
        self.assertEqual(lw("build", src).returncode, 2)  # no -o
        self.assertEqual(lw("frobnicate").returncode, 2)
        r = lw("build", src, "-o", "/nonexistent-dir/x.om")
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nonexistent-dir/x.om", r.stderr)

    def test_unsupported_ops_are_listed_together(self):
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
        w = helper.make_tensor("w", TensorProto.FLOAT, [2], [1.0, 2.0])
        nodes = [helper.make_node("Add", ["x", "w"], ["a"]),
                 helper.make_node("FancyOpOne", ["a"], ["b"]),
                 helper.make_node("FancyOpTwo", ["b"], ["y"])]
        graph = helper.make_graph(nodes, "g", [x], [y], [w])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        path = self.path("bad.onnx")
        onnx.save(model, path)
        r = lw("build", path, "-o", self.path("bad.om"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("FancyOpOne", r.stderr)
        self.assertIn("FancyOpTwo", r.stderr)
        self.assertEqual(r.stderr.count("lw: error"), 1)

    def test_inspect_rejects_corrupt_files(self):
        bad = self.path("junk.om")
        with open(bad, "wb") as f:
            f.write(b"LWBUNDLE" + b"\0" * 100)
        r = lw("inspect", bad)
        self.assertEqual(r.returncode, 1)
        self.assertIn("junk.om", r.stderr)
        src = self.path("mlp.om")
        self.assertEqual(lw("build", os.path.join(MODELS, "mlp", "model.onnx"), "-o", src).returncode, 0)
        with open(src, "rb") as f:
            data = f.read()
        trunc = self.path("trunc.om")
        with open(trunc, "wb") as f:
            f.write(data[: len(data) // 2])
        r = lw("inspect", trunc)
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.strip())


if __name__ == "__main__":
    LW, MODELS = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0], "-v"])

"""Shared fixtures for the Python package tests.

Environment (set by the CTest registration in tests/CMakeLists.txt):
  PYTHONPATH       <build>/python, where the acl and liveweight packages are assembled
  LW_BINARY_DIR    the build folder (test_models/ lives there)
  LW_SOURCE_DIR    the source tree (examples/)
"""
import json
import os

import numpy as np
import pytest

import acl
import liveweight

SOURCE_DIR = os.environ.get("LW_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BINARY_DIR = os.environ.get("LW_BINARY_DIR", os.path.join(SOURCE_DIR, "build"))
TEST_MODELS = os.path.join(BINARY_DIR, "test_models")
ACL_ERROR_REPEAT_INITIALIZE = 100002


def model_dir(name):
    d = os.path.join(TEST_MODELS, name)
    if not os.path.exists(os.path.join(d, "weights.json")):
        pytest.fail(f"{d} is missing: run the make_test_models test (CTest fixture test_models) first")
    return d


class TestModel:
    """One of tests/models/make_test_models.py's models, with its PyTorch references."""

    def __init__(self, name, bundle_path):
        d = model_dir(name)
        self.name = name
        self.dir = d
        self.onnx = os.path.join(d, "model.onnx")
        self.bundle = bundle_path
        self.input = np.load(os.path.join(d, "input.npy"))
        self.out_a = np.load(os.path.join(d, "out_a.npy"))
        self.out_b = np.load(os.path.join(d, "out_b.npy"))
        self.out_b_skip0 = np.load(os.path.join(d, "out_b_skip0.npy"))
        with open(os.path.join(d, "weights.json")) as f:
            manifest = json.load(f)
        # initializer name -> weights B, in initializer order
        self.weights_b = {w["name"]: np.load(os.path.join(d, w["file"])) for w in manifest}
        self.weight_names = [w["name"] for w in manifest]


@pytest.fixture(scope="session")
def acl_runtime():
    """aclInit + device 0 for the whole session (other tests may have initialized it already)."""
    ret = acl.init()
    assert ret in (0, ACL_ERROR_REPEAT_INITIALIZE), acl.get_recent_err_msg()
    assert acl.rt.set_device(0) == 0, acl.get_recent_err_msg()
    yield
    acl.get_recent_err_msg()


@pytest.fixture(scope="session", params=["mlp", "cnn_bn"])
def model(request, tmp_path_factory):
    path = str(tmp_path_factory.mktemp(request.param) / "bundle.om")
    name = request.param
    liveweight.build(os.path.join(model_dir(name), "model.onnx"), path)
    return TestModel(name, path)


@pytest.fixture(scope="session")
def mlp(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("mlp_only") / "bundle.om")
    liveweight.build(os.path.join(model_dir("mlp"), "model.onnx"), path)
    return TestModel("mlp", path)


def assert_close(got, want):
    """Float32 runtime vs PyTorch: a few ulps of accumulated rounding, far below any real error."""
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)

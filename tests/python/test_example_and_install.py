"""The seed's pyACL sample end to end, and the installed packages."""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import BINARY_DIR, SOURCE_DIR

PY = "/usr/bin/python3"


def run(cmd, env=None, timeout=120):
    return subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)


def test_weight_update_example(tmp_path):
    """examples/python/weight_update.py: the guide's ten steps on the digits model, self-checking."""
    env = dict(os.environ, LW_NUM_THREADS="2")
    script = os.path.join(SOURCE_DIR, "examples", "python", "weight_update.py")
    data = os.path.join(SOURCE_DIR, "examples", "models")
    r = run([PY, script, data, str(tmp_path / "digits.om")], env=env)
    assert r.returncode == 0, r.stdout
    assert "all checks passed" in r.stdout
    assert r.stdout.count("ok") >= 5
    assert os.path.exists(tmp_path / "digits.om")  # built with liveweight.build


def test_example_follows_the_seed():
    """The ten steps keep the seed's calls, including acl.mdl.unload(bundle_id)."""
    with open(os.path.join(SOURCE_DIR, "examples", "python", "weight_update.py")) as f:
        text = f.read()
    for call in ("acl.init(config_path)", "acl.rt.set_device(device_id)", "acl.mdl.bundle_load_from_file(",
                 "acl.mdl.bundle_get_model_num(bundle_id)", "acl.mdl.bundle_get_model_id(bundle_id, 0)",
                 "acl.mdl.bundle_get_model_id(bundle_id, 1)", "acl.mdl.bundle_get_model_id(bundle_id, 2)",
                 "acl.mdl.execute(init_id, init_mdl_input, init_mdl_output)",
                 "acl.mdl.execute(infer_id, infer_mdl_input, infer_mdl_output)",
                 "acl.mdl.set_dataset_tensor_desc(update_mdl_input, tensor_desc,",
                 "acl.mdl.execute(update_id, update_mdl_input, update_mdl_output)",
                 "acl.mdl.unload(bundle_id)", "acl.rt.reset_device(0)", "acl.finalize()"):
        assert call in text, call


def test_cmake_install_puts_packages_in_dist_packages(tmp_path):
    """`cmake --install` into a fresh prefix; both packages import from there alone (RPATH)."""
    if shutil.which("cmake") is None:
        pytest.skip("cmake not on PATH")
    prefix = tmp_path / "prefix"
    r = run(["cmake", "--install", BINARY_DIR, "--prefix", str(prefix)], timeout=120)
    assert r.returncode == 0, r.stdout
    site = prefix / "lib" / "python3" / "dist-packages"
    for f in ("acl/__init__.py", "acl/rt.py", "acl/mdl.py", "acl/util.py", "liveweight/__init__.py",
              "liveweight/_bundle.py", "liveweight/_errors.py"):
        assert (site / f).exists(), f
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LD_LIBRARY_PATH")}
    env["PYTHONPATH"] = str(site)
    code = ("import acl, liveweight, os; "
            "assert liveweight.__file__.startswith(os.environ['PYTHONPATH']), liveweight.__file__; "
            "assert acl.rt.get_run_mode() == (1, 0); "
            "assert acl.init() == 0 and acl.rt.set_device(0) == 0 and acl.finalize() == 0; print('ok')")
    r = run([PY, "-c", code], env=env, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout
    # The extension finds the installed library, not the build tree's.
    ext = [p for p in (site / "liveweight").iterdir() if p.name.startswith("_native")]
    assert len(ext) == 1
    r = run(["ldd", str(ext[0])])
    found = [line.split("=>")[1].split("(")[0].strip() for line in r.stdout.splitlines()
             if "libliveweight" in line and "=>" in line]
    assert len(found) == 1, r.stdout
    assert os.path.realpath(found[0]) == os.path.realpath(prefix / "lib" / "libliveweight.so.0"), found[0]

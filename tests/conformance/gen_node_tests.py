#!/usr/bin/python3
"""Writes the ONNX backend node test cases (model.onnx + test_data_set_*/ per case) into OUTDIR.

Used when ../shared/tools/gen_onnx_node_tests.py (the team's copy) is not beside the checkout.
Usage: /usr/bin/python3 gen_node_tests.py OUTDIR
"""
import argparse
import sys

import numpy as np

# ONNX 1.12's case generators still use numpy aliases that numpy 1.24 removed.
for name, value in (("bool", bool), ("int", int), ("float", float), ("object", object), ("str", str)):
    if not hasattr(np, name):
        setattr(np, name, value)

from onnx.backend.test.cmd_tools import generate_data  # noqa: E402 (after the aliases)

if len(sys.argv) != 2:
    sys.exit("usage: gen_node_tests.py OUTDIR")
generate_data(argparse.Namespace(output=sys.argv[1], op_type=None))

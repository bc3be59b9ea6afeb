"""Writes small ONNX models (one per family of operators the importer handles) as fuzz seeds.

Usage: /usr/bin/python3 make_onnx_seeds.py <out dir>
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(graph, path, opset=13):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="lw-fuzz-seeds")
    model.ir_version = 7
    onnx.save(model, path)


def init(name, shape, seed):
    rng = np.random.default_rng(seed)
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def main(out):
    os.makedirs(out, exist_ok=True)
    f = TensorProto.FLOAT
    # Gemm + Relu + Softmax
    g = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["h"], transB=1),
         helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("Softmax", ["r"], ["y"], axis=1)],
        "mlp", [helper.make_tensor_value_info("x", f, ["n", 8])], [helper.make_tensor_value_info("y", f, None)],
        [init("w", (4, 8), 1), init("b", (4,), 2)])
    save(g, os.path.join(out, "mlp.onnx"))
    # Conv + BatchNorm + MaxPool + Flatten + MatMul
    g = helper.make_graph(
        [helper.make_node("Conv", ["x", "k", "kb"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
         helper.make_node("BatchNormalization", ["c", "s", "o", "m", "v"], ["n"]),
         helper.make_node("MaxPool", ["n"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
         helper.make_node("Flatten", ["p"], ["fl"], axis=1),
         helper.make_node("MatMul", ["fl", "fc"], ["y"])],
        "cnn", [helper.make_tensor_value_info("x", f, [1, 2, 4, 4])], [helper.make_tensor_value_info("y", f, None)],
        [init("k", (3, 2, 3, 3), 3), init("kb", (3,), 4), init("s", (3,), 5), init("o", (3,), 6),
         init("m", (3,), 7), numpy_helper.from_array(np.ones(3, np.float32), "v"), init("fc", (12, 5), 8)])
    save(g, os.path.join(out, "cnn.onnx"))
    # Shape ops: Reshape with a Constant shape, Transpose, Concat, Unsqueeze, Slice, Gather
    shape = numpy_helper.from_array(np.array([2, -1], np.int64), "shape")
    g = helper.make_graph(
        [helper.make_node("Constant", [], ["sh"], value=shape),
         helper.make_node("Reshape", ["x", "sh"], ["r"]),
         helper.make_node("Transpose", ["r"], ["t"], perm=[1, 0]),
         helper.make_node("Concat", ["t", "t"], ["c"], axis=0),
         helper.make_node("Unsqueeze", ["c", "ax"], ["u"]),
         helper.make_node("Slice", ["u", "st", "en", "ax2"], ["sl"]),
         helper.make_node("Gather", ["sl", "idx"], ["y"], axis=1)],
        "shapes", [helper.make_tensor_value_info("x", f, [2, 3, 2])], [helper.make_tensor_value_info("y", f, None)],
        [numpy_helper.from_array(np.array([0], np.int64), "ax"), numpy_helper.from_array(np.array([0], np.int64), "st"),
         numpy_helper.from_array(np.array([2], np.int64), "en"), numpy_helper.from_array(np.array([1], np.int64), "ax2"),
         numpy_helper.from_array(np.array([0, 1], np.int64), "idx")])
    save(g, os.path.join(out, "shapes.onnx"))
    # An older opset, so the legacy rewrites run.
    g = helper.make_graph(
        [helper.make_node("Unsqueeze", ["x"], ["u"], axes=[0]), helper.make_node("Squeeze", ["u"], ["y"], axes=[0])],
        "legacy", [helper.make_tensor_value_info("x", f, [3])], [helper.make_tensor_value_info("y", f, None)])
    save(g, os.path.join(out, "legacy_opset11.onnx"), opset=11)


if __name__ == "__main__":
    main(sys.argv[1])

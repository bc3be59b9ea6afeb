#!/usr/bin/python3
"""The pyACL weight-update guide's ten steps, as the guide writes them, on the digits classifier.

    weight_update.py [DATA_DIR] [BUNDLE.om] [CONFIG.json]

DATA_DIR (default: examples/models next to this folder) holds digits.onnx, the test set
(digits_test.json, digits_test_x.bin, digits_test_y.bin) and the second weight set
(digits_b/manifest.json, one raw float32 file per weight). The bundle is built from digits.onnx
with liveweight.build (into a temporary folder unless BUNDLE.om is given).

It runs init + inference (weights A), an update that skips weight 0 (dims [0]) + inference, and
a full update + inference (weights B), and checks its own results like examples/c/weight_update.c:
the accuracies must match the ones PyTorch recorded, and the partial update must really have
skipped weight 0. Exit status 0 means every check passed.
"""
import json
import os
import sys
import tempfile
import time

import numpy as np

import acl
import liveweight

# Values of the AscendCL enums used below (pyACL programs define these themselves).
ACL_MEM_MALLOC_HUGE_FIRST = 0
ACL_MEMCPY_HOST_TO_DEVICE = 1
ACL_MEMCPY_DEVICE_TO_HOST = 2
ACL_FLOAT = 0
ACL_FORMAT_ND = 2

failures = 0


def check_ret(ret, what):
    if ret != 0:
        raise SystemExit(f"{what} failed with {ret}: {acl.get_recent_err_msg()}")


def expect(ok, what):
    global failures
    print(f"  check: {what:<58} {'ok' if ok else 'FAILED'}")
    if not ok:
        failures += 1


def to_device(host):
    """Copies a numpy array into new device memory; returns (dev_ptr, nbytes)."""
    host = np.ascontiguousarray(host)
    dev_ptr, ret = acl.rt.malloc(host.nbytes, ACL_MEM_MALLOC_HUGE_FIRST)
    check_ret(ret, "acl.rt.malloc")
    ret = acl.rt.memcpy(dev_ptr, host.nbytes, acl.util.numpy_to_ptr(host), host.nbytes, ACL_MEMCPY_HOST_TO_DEVICE)
    check_ret(ret, "acl.rt.memcpy")
    return dev_ptr, host.nbytes


class Data:
    """The test set and the second weight set, read from DATA_DIR."""

    def __init__(self, data_dir):
        with open(os.path.join(data_dir, "digits_test.json")) as f:
            meta = json.load(f)
        self.count, self.padded = meta["count"], meta["padded_count"]
        self.batch, self.features, self.classes = meta["batch"], meta["features"], meta["classes"]
        self.accuracy_a, self.accuracy_b = meta["accuracy_a"], meta["accuracy_b"]
        self.x = np.fromfile(os.path.join(data_dir, meta["x"]), dtype=np.float32).reshape(self.padded, self.features)
        self.y = np.fromfile(os.path.join(data_dir, meta["y"]), dtype=np.int32)
        with open(os.path.join(data_dir, "digits_b", "manifest.json")) as f:
            self.weights_b = [(w["name"], w["shape"],
                               np.fromfile(os.path.join(data_dir, "digits_b", w["file"]), dtype=np.float32)
                               .reshape(w["shape"])) for w in json.load(f)]


def make_infer_io(data, x_dev):
    """Input/output datasets for one batch of the inference graph (the input moves per batch)."""
    in_bytes = data.batch * data.features * 4
    out_bytes = data.batch * data.classes * 4
    y_dev, ret = acl.rt.malloc(out_bytes, ACL_MEM_MALLOC_HUGE_FIRST)
    check_ret(ret, "acl.rt.malloc")
    x_buf = acl.create_data_buffer(x_dev, in_bytes)
    y_buf = acl.create_data_buffer(y_dev, out_bytes)
    infer_mdl_input = acl.mdl.create_dataset()
    infer_mdl_output = acl.mdl.create_dataset()
    infer_mdl_input, ret = acl.mdl.add_dataset_buffer(infer_mdl_input, x_buf)
    check_ret(ret, "acl.mdl.add_dataset_buffer")
    infer_mdl_output, ret = acl.mdl.add_dataset_buffer(infer_mdl_output, y_buf)
    check_ret(ret, "acl.mdl.add_dataset_buffer")
    return infer_mdl_input, infer_mdl_output, (x_buf, y_buf, y_dev)


def destroy_io(*datasets):
    for ds in datasets:
        for i in range(acl.mdl.get_dataset_num_buffers(ds)):
            check_ret(acl.destroy_data_buffer(acl.mdl.get_dataset_buffer(ds, i)), "acl.destroy_data_buffer")
        check_ret(acl.mdl.destroy_dataset(ds), "acl.mdl.destroy_dataset")


def evaluate(infer_id, data, x_dev, infer_mdl_input, infer_mdl_output, x_buf, y_dev):
    """Runs the inference graph batch by batch over the test set; returns (accuracy, logits)."""
    in_bytes = data.batch * data.features * 4
    logits = np.zeros((data.padded, data.classes), dtype=np.float32)
    for b in range(data.padded // data.batch):
        check_ret(acl.update_data_buffer(x_buf, x_dev + b * in_bytes, in_bytes), "acl.update_data_buffer")
        ret = acl.mdl.execute(infer_id, infer_mdl_input, infer_mdl_output)
        check_ret(ret, "acl.mdl.execute (inference)")
        rows = logits[b * data.batch:(b + 1) * data.batch]
        check_ret(acl.rt.memcpy(acl.util.numpy_to_ptr(rows), rows.nbytes, y_dev, rows.nbytes,
                                ACL_MEMCPY_DEVICE_TO_HOST), "acl.rt.memcpy")
    predicted = logits[:data.count].argmax(axis=1)
    return float((predicted == data.y[:data.count]).mean()), logits


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    data_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "models")
    config_path = sys.argv[3] if len(sys.argv) > 3 else ""
    device_id = 0
    data = Data(data_dir)
    tmp = tempfile.TemporaryDirectory()
    bundle_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(tmp.name, "bundle.om")
    if not os.path.exists(bundle_path):
        liveweight.build(os.path.join(data_dir, "digits.onnx"), bundle_path)
    print(f"liveweight weight-update demo (pyACL): digits classifier, {data.count} test images")

    # 1. Initialize resources.
    t = time.perf_counter()
    ret = acl.init(config_path)
    check_ret(ret, "acl.init")
    ret = acl.rt.set_device(device_id)
    check_ret(ret, "acl.rt.set_device")
    print(f"1. acl.init + acl.rt.set_device             {1e3 * (time.perf_counter() - t):8.3f} ms")
    x_dev, _ = to_device(data.x)
    weights_dev = [to_device(w) for _, _, w in data.weights_b]

    # 2. Load the model built in Ascend Graph mode (inference, weight-init and weight-update graphs).
    t = time.perf_counter()
    bundle_id, ret = acl.mdl.bundle_load_from_file(bundle_path)
    check_ret(ret, "acl.mdl.bundle_load_from_file")
    print(f"2. acl.mdl.bundle_load_from_file            {1e3 * (time.perf_counter() - t):8.3f} ms")

    # 3. Obtain the ID of each graph in the model.
    model_num, ret = acl.mdl.bundle_get_model_num(bundle_id)
    check_ret(ret, "acl.mdl.bundle_get_model_num")
    expect(model_num == 3, "the bundle holds 3 graphs")
    infer_id, ret = acl.mdl.bundle_get_model_id(bundle_id, 0)
    check_ret(ret, "acl.mdl.bundle_get_model_id")
    init_id, ret = acl.mdl.bundle_get_model_id(bundle_id, 1)
    check_ret(ret, "acl.mdl.bundle_get_model_id")
    update_id, ret = acl.mdl.bundle_get_model_id(bundle_id, 2)
    check_ret(ret, "acl.mdl.bundle_get_model_id")
    update_desc = acl.mdl.create_desc()
    check_ret(acl.mdl.get_desc(update_desc, update_id), "acl.mdl.get_desc")
    num_update_inputs = acl.mdl.get_num_inputs(update_desc)
    print(f"3. graphs: inference {infer_id}, init {init_id}, update {update_id} ({num_update_inputs} weights)")

    # 4. Execute the weight initialization graph (no inputs, no outputs: empty datasets).
    init_mdl_input = acl.mdl.create_dataset()
    init_mdl_output = acl.mdl.create_dataset()
    t = time.perf_counter()
    ret = acl.mdl.execute(init_id, init_mdl_input, init_mdl_output)
    check_ret(ret, "acl.mdl.execute (init)")
    print(f"4. execute weight-init graph                {1e3 * (time.perf_counter() - t):8.3f} ms")
    destroy_io(init_mdl_input, init_mdl_output)

    # 5. Execute the inference graph.
    infer_mdl_input, infer_mdl_output, (x_buf, _, y_dev) = make_infer_io(data, x_dev)
    t = time.perf_counter()
    acc_a, logits_a = evaluate(infer_id, data, x_dev, infer_mdl_input, infer_mdl_output, x_buf, y_dev)
    print(f"5. inference, initial weights               {1e3 * (time.perf_counter() - t):8.3f} ms"
          f"   accuracy {100 * acc_a:.2f}%")
    expect(abs(acc_a - data.accuracy_a) <= 1.5 / data.count, "accuracy with weights A matches PyTorch")

    def update_weights(skip_first):
        """Steps 6 and 7: a tensor desc per update input (dims [0] skips one), then execute."""
        update_mdl_input = acl.mdl.create_dataset()
        update_mdl_output = acl.mdl.create_dataset()  # the update graph has no outputs
        for _ in range(num_update_inputs):
            update_mdl_input, ret = acl.mdl.add_dataset_buffer(update_mdl_input, acl.create_data_buffer(0, 0))
            check_ret(ret, "acl.mdl.add_dataset_buffer")
        for w, (name, shape, _) in enumerate(data.weights_b):
            index, ret = acl.mdl.get_input_index_by_name(update_desc, name + "_var_data")
            check_ret(ret, "acl.mdl.get_input_index_by_name")
            dev_ptr, nbytes = weights_dev[w]
            check_ret(acl.update_data_buffer(acl.mdl.get_dataset_buffer(update_mdl_input, index), dev_ptr, nbytes),
                      "acl.update_data_buffer")
            if skip_first and w == 0:
                # 6. A weight that needs no refresh: an empty tensor (dims [0]) over valid memory.
                no_need_refresh_index = index
                dims = [0]
                tensor_desc = acl.create_tensor_desc(ACL_FLOAT, dims, ACL_FORMAT_ND)
                update_mdl_input, ret = acl.mdl.set_dataset_tensor_desc(update_mdl_input, tensor_desc,
                                                                        no_need_refresh_index)
            else:
                need_refresh_index = index
                dims = list(shape)
                tensor_desc = acl.create_tensor_desc(ACL_FLOAT, dims, ACL_FORMAT_ND)
                update_mdl_input, ret = acl.mdl.set_dataset_tensor_desc(update_mdl_input, tensor_desc,
                                                                        need_refresh_index)
            check_ret(ret, "acl.mdl.set_dataset_tensor_desc")
            acl.destroy_tensor_desc(tensor_desc)  # the dataset keeps its own copy
        # 7. Execute the weight update graph.
        ret = acl.mdl.execute(update_id, update_mdl_input, update_mdl_output)
        check_ret(ret, "acl.mdl.execute (update)")
        destroy_io(update_mdl_input, update_mdl_output)

    # 6-8. Update every weight but weight 0, then execute the inference graph.
    t = time.perf_counter()
    update_weights(skip_first=True)
    print(f"6-7. update, skipping '{data.weights_b[0][0]}'         {1e3 * (time.perf_counter() - t):8.3f} ms")
    t = time.perf_counter()
    # 8. Execute the inference graph.
    acc_partial, logits_partial = evaluate(infer_id, data, x_dev, infer_mdl_input, infer_mdl_output, x_buf, y_dev)
    print(f"8. inference, partial update                {1e3 * (time.perf_counter() - t):8.3f} ms"
          f"   accuracy {100 * acc_partial:.2f}%")

    # 6-8 again: refresh every weight.
    t = time.perf_counter()
    update_weights(skip_first=False)
    print(f"6-7. update, all {len(data.weights_b)} weights                  {1e3 * (time.perf_counter() - t):8.3f} ms")
    t = time.perf_counter()
    acc_b, logits_b = evaluate(infer_id, data, x_dev, infer_mdl_input, infer_mdl_output, x_buf, y_dev)
    print(f"8. inference, second weight set             {1e3 * (time.perf_counter() - t):8.3f} ms"
          f"   accuracy {100 * acc_b:.2f}%")
    expect(abs(acc_b - data.accuracy_b) <= 1.5 / data.count, "accuracy with weights B matches PyTorch")
    expect(not np.array_equal(logits_partial, logits_b), "the partial update kept weight 0 (its outputs differ)")
    expect(not np.array_equal(logits_partial, logits_a), "the partial update changed the other weights")
    destroy_io(infer_mdl_input, infer_mdl_output)
    check_ret(acl.mdl.destroy_desc(update_desc), "acl.mdl.destroy_desc")

    # 9. Unload the bundle model (the guide calls unload with the bundle id).
    t = time.perf_counter()
    ret = acl.mdl.unload(bundle_id)
    check_ret(ret, "acl.mdl.unload")
    print(f"9. unload                                   {1e3 * (time.perf_counter() - t):8.3f} ms")

    # 10. Destroy allocations.
    for dev_ptr, _ in weights_dev:
        check_ret(acl.rt.free(dev_ptr), "acl.rt.free")
    check_ret(acl.rt.free(x_dev), "acl.rt.free")
    check_ret(acl.rt.free(y_dev), "acl.rt.free")
    ret = acl.rt.reset_device(0)
    check_ret(ret, "acl.rt.reset_device")
    ret = acl.finalize()
    check_ret(ret, "acl.finalize")
    print("10. reset device, finalize")
    tmp.cleanup()

    if failures:
        print(f"{failures} check(s) FAILED")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

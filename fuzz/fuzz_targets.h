// The bodies of the libFuzzer targets, shared by the fuzz executables (fuzz/*_fuzz.cc) and by
// the reliability tests, which replay every kept crash input and seed through them.
//
// Each function takes arbitrary bytes and must return normally for every input: any crash,
// sanitizer report, leak or escaping exception is a bug. Not thread-safe (the C API target keeps
// per-process runtime state); call from one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lw::fuzz {

// format::read_bundle over the bytes (aligned copy, unaligned view, with and without the
// segment CRCs); a model that reads is written back, read again and loaded through the C API.
void run_bundle_reader(const uint8_t* data, size_t size);

// onnx_import::import_onnx_bytes, then a plain model built from the graph and serialized.
void run_onnx_import(const uint8_t* data, size_t size);

// A byte-coded sequence of C API calls over a small real bundle (see c_api_ops in the .cc for
// the encoding). Everything the sequence creates is released at the end.
void run_c_api(const uint8_t* data, size_t size);

// The small real bundle (inference, init, update of y = Relu(x W + b), x [-1,4]) and the plain
// model of its inference graph, built once; used by run_c_api and as corpus seeds.
const std::vector<uint8_t>& small_bundle();
const std::vector<uint8_t>& small_plain_model();

}  // namespace lw::fuzz

// Writing and reading bundle files (layout in DESIGN.md section 4, schema in bundle.fbs).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/blob.h"
#include "graph/bundle_model.h"

namespace lw::format {

inline constexpr char kMagic[8] = {'L', 'W', 'B', 'U', 'N', 'D', 'L', 'E'};
inline constexpr uint16_t kFormatMajor = 1;
// 1.1: Program.weights_version (readers of 1.0 ignore it).
inline constexpr uint16_t kFormatMinor = 1;
inline constexpr size_t kHeaderSize = 64;
inline constexpr size_t kSegmentAlign = 64;

// All functions are thread-safe (no shared state); the model passed in is only read.

// Serializes a verified model. Const tensor data goes to 64-byte-aligned segments. Fails with
// the verifier's kParseModel for an invalid model, kInvalidArgument for a tensor whose bytes do
// not match its dtype and dims or a value without a valid dtype.
Result<std::vector<uint8_t>> write_bundle(const ir::BundleModel& model);
// Writes to `path` (exactly that name) through `path`.tmp and a rename. kWriteFile, naming the
// path and the system's reason, on failure.
Status write_bundle_file(const ir::BundleModel& model, const std::string& path);

struct ReadOptions {
  bool verify_segment_crc = true;
  // OpenMP threads for the segment checksums; 0: OpenMP's default (every core).
  int threads = 0;
};

// Parses and fully validates `file`. Const tensors in the returned graphs are slices of
// `file` (no copy), so they keep its owner alive. Never trusts the bytes: a corrupt or
// truncated file returns kParseModel (or kInvalidFile when it is not a bundle at all) with a
// message naming what is wrong. When `file.data` is not 64-byte aligned the bytes are copied
// once into an aligned block, which the tensors then share instead; `file` is not retained.
Result<ir::BundleModel> read_bundle(const Blob& file, const ReadOptions& options = {});

// Maps `path` read-only (MAP_PRIVATE); the Blob's owner unmaps when the last copy goes.
// kInvalidFile, naming the path and reason, when it cannot be opened, is not a regular file or
// is empty. The file must not be truncated by others while mapped (that raises SIGBUS).
Result<Blob> map_file(const std::string& path);

// True when `data` starts with the bundle magic (cheap sniffing, no validation).
bool has_bundle_magic(const void* data, size_t size);

}  // namespace lw::format

// Serializes an ir::BundleModel into the bundle layout (header, FlatBuffers program, data area).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <system_error>
#include <tuple>
#include <utility>

#include <flatbuffers/flatbuffers.h>

#include "format/bundle_generated.h"
#include "format/bundle_header.h"
#include "format/bundle_io.h"
#include "format/crc32c.h"

namespace lw::format {

namespace {

namespace fbs = ::lw::fb;
using FbString = flatbuffers::Offset<flatbuffers::String>;

constexpr uint32_t kNoConstant = 0xFFFFFFFFu;
// FlatBuffers cannot address more than 2 GiB; stay clear of it with room for bookkeeping.
constexpr uint64_t kMaxProgramEstimate = uint64_t{1} << 30;

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

struct SegmentPlan {
  const uint8_t* data = nullptr;
  uint64_t size = 0;
  uint64_t offset = 0;  // within the data area
  uint32_t crc = 0;
};

struct ConstantPlan {
  DType dtype = DType::kFloat32;
  Dims dims;
  uint32_t segment = 0;
};

// Assigns every tensor attribute a Constant, sharing Segments between tensors that view the
// same bytes and Constants between tensors that also agree on type.
class TensorTable {
 public:
  Status add(const ir::TensorData& t, const std::string& where) {
    auto bytes = byte_size(t.dtype, t.dims);
    if (!bytes.is_ok()) return bytes.status().with_context(where + ": ");
    if (*bytes != t.bytes.size || (t.bytes.size != 0 && t.bytes.data == nullptr))
      return make_error(StatusCode::kInvalidArgument, where, ": holds ", t.bytes.size, " bytes but its ",
                        dtype_name(t.dtype), " ", dims_to_string(t.dims), " needs ", *bytes);
    auto seg_key = std::make_pair(t.bytes.data, t.bytes.size);
    auto [seg_it, seg_new] = segment_index_.emplace(seg_key, static_cast<uint32_t>(segments_.size()));
    if (seg_new) segments_.push_back(SegmentPlan{t.bytes.data, t.bytes.size, 0, 0});
    auto const_key = std::make_tuple(seg_it->second, static_cast<int32_t>(t.dtype), t.dims);
    auto [const_it, const_new] = constant_index_.emplace(const_key, static_cast<uint32_t>(constants_.size()));
    if (const_new) constants_.push_back(ConstantPlan{t.dtype, t.dims, seg_it->second});
    by_tensor_[&t] = const_it->second;
    return Status::ok();
  }

  // Lays the segments out in the data area and checksums them; returns the data area size.
  uint64_t layout() {
    uint64_t end = 0;
    for (SegmentPlan& s : segments_) {
      s.offset = align_up(end, kSegmentAlign);
      s.crc = crc32c(s.data, s.size);
      end = s.offset + s.size;
    }
    return end;
  }

  uint32_t constant_of(const ir::TensorData& t) const {
    auto it = by_tensor_.find(&t);
    return it == by_tensor_.end() ? kNoConstant : it->second;
  }
  const std::vector<SegmentPlan>& segments() const { return segments_; }
  const std::vector<ConstantPlan>& constants() const { return constants_; }

 private:
  std::map<std::pair<const uint8_t*, size_t>, uint32_t> segment_index_;
  std::map<std::tuple<uint32_t, int32_t, Dims>, uint32_t> constant_index_;
  std::map<const ir::TensorData*, uint32_t> by_tensor_;
  std::vector<SegmentPlan> segments_;
  std::vector<ConstantPlan> constants_;
};

// Rough upper bound of the program's size, so a model too large for FlatBuffers is refused
// instead of overflowing the builder.
uint64_t estimate_program_size(const ir::BundleModel& model) {
  uint64_t n = 1024 + model.producer.size();
  for (const auto& v : model.variables) n += 64 + v.name.size() + v.source.size() + 8 * v.dims.size();
  for (const auto& entry : model.graphs) {
    const ir::Graph& g = entry.graph;
    n += 128 + g.name.size() + 4 * (g.inputs.size() + g.outputs.size());
    for (const auto& v : g.values) n += 64 + v.name.size() + 8 * v.shape.rank();
    for (const auto& node : g.nodes) {
      n += 96 + node.op.size() + node.name.size() + 4 * (node.inputs.size() + node.outputs.size());
      for (const auto& [key, attr] : node.attrs) {
        n += 96 + key.size();
        if (const auto* s = std::get_if<std::string>(&attr)) n += s->size();
        if (const auto* is = std::get_if<std::vector<int64_t>>(&attr)) n += 8 * is->size();
        if (const auto* fs = std::get_if<std::vector<float>>(&attr)) n += 4 * fs->size();
        if (const auto* ss = std::get_if<std::vector<std::string>>(&attr))
          for (const auto& s : *ss) n += 8 + s.size();
        if (const auto* t = std::get_if<ir::TensorData>(&attr)) n += 64 + 8 * t->dims.size();
      }
    }
  }
  return n;
}

class ProgramBuilder {
 public:
  explicit ProgramBuilder(const TensorTable& tensors) : tensors_(tensors) {}

  std::vector<uint8_t> build(const ir::BundleModel& model) {
    std::vector<flatbuffers::Offset<fbs::Graph>> graphs;
    for (const auto& entry : model.graphs) graphs.push_back(graph(entry));
    std::vector<flatbuffers::Offset<fbs::Variable>> variables;
    for (const auto& v : model.variables) {
      FbString name = fbb_.CreateString(v.name);
      auto dims = fbb_.CreateVector(v.dims);
      FbString source = fbb_.CreateString(v.source);
      variables.push_back(fbs::CreateVariable(fbb_, name, static_cast<int32_t>(v.dtype), dims, source, v.update_input));
    }
    std::vector<flatbuffers::Offset<fbs::Constant>> constants;
    for (const auto& c : tensors_.constants())
      constants.push_back(fbs::CreateConstant(fbb_, static_cast<int32_t>(c.dtype), fbb_.CreateVector(c.dims), c.segment));
    std::vector<flatbuffers::Offset<fbs::Segment>> segments;
    for (const auto& s : tensors_.segments()) segments.push_back(fbs::CreateSegment(fbb_, s.offset, s.size, s.crc));
    FbString producer = fbb_.CreateString(model.producer);
    auto graphs_vec = fbb_.CreateVector(graphs);
    auto variables_vec = fbb_.CreateVector(variables);
    auto constants_vec = fbb_.CreateVector(constants);
    auto segments_vec = fbb_.CreateVector(segments);
    fbs::ProgramBuilder pb(fbb_);
    pb.add_producer(producer);
    pb.add_graphs(graphs_vec);
    pb.add_variables(variables_vec);
    pb.add_constants(constants_vec);
    pb.add_segments(segments_vec);
    pb.add_is_bundle(model.is_bundle);
    pb.add_weights_version(model.weights_version);
    fbs::FinishProgramBuffer(fbb_, pb.Finish());
    return std::vector<uint8_t>(fbb_.GetBufferPointer(), fbb_.GetBufferPointer() + fbb_.GetSize());
  }

 private:
  flatbuffers::Offset<fbs::Graph> graph(const ir::GraphEntry& entry) {
    const ir::Graph& g = entry.graph;
    std::vector<flatbuffers::Offset<fbs::Value>> values;
    values.reserve(g.values.size());
    for (const auto& v : g.values) {
      FbString name = fbb_.CreateString(v.name);
      auto dims = fbb_.CreateVector(v.shape.dims());
      values.push_back(fbs::CreateValue(fbb_, name, static_cast<int32_t>(v.dtype), v.shape.rank_known(), dims));
    }
    std::vector<flatbuffers::Offset<fbs::Node>> nodes;
    nodes.reserve(g.nodes.size());
    for (const auto& n : g.nodes) nodes.push_back(node(n));
    FbString name = fbb_.CreateString(g.name);
    auto values_vec = fbb_.CreateVector(values);
    auto nodes_vec = fbb_.CreateVector(nodes);
    auto inputs = fbb_.CreateVector(g.inputs);
    auto outputs = fbb_.CreateVector(g.outputs);
    return fbs::CreateGraph(fbb_, static_cast<int32_t>(entry.role), name, values_vec, nodes_vec, inputs, outputs);
  }

  flatbuffers::Offset<fbs::Node> node(const ir::Node& n) {
    std::vector<flatbuffers::Offset<fbs::Attribute>> attrs;
    for (const auto& [key, attr] : n.attrs) attrs.push_back(attribute(key, attr));
    FbString op = fbb_.CreateString(n.op);
    FbString name = fbb_.CreateString(n.name);
    auto inputs = fbb_.CreateVector(n.inputs);
    auto outputs = fbb_.CreateVector(n.outputs);
    auto attrs_vec = fbb_.CreateVector(attrs);
    return fbs::CreateNode(fbb_, op, name, inputs, outputs, attrs_vec);
  }

  flatbuffers::Offset<fbs::Attribute> attribute(const std::string& key, const ir::Attribute& attr) {
    FbString name = fbb_.CreateString(key);
    FbString s = 0;
    flatbuffers::Offset<flatbuffers::Vector<int64_t>> ints = 0;
    flatbuffers::Offset<flatbuffers::Vector<float>> floats = 0;
    flatbuffers::Offset<flatbuffers::Vector<FbString>> strings = 0;
    int64_t i = 0;
    float f = 0.0f;
    uint32_t tensor = kNoConstant;
    fbs::AttrKind kind = fbs::AttrKind::Int;
    switch (ir::attr_kind(attr)) {
      case ir::AttrKind::kInt: kind = fbs::AttrKind::Int; i = std::get<int64_t>(attr); break;
      case ir::AttrKind::kFloat: kind = fbs::AttrKind::Float; f = std::get<float>(attr); break;
      case ir::AttrKind::kString: kind = fbs::AttrKind::String; s = fbb_.CreateString(std::get<std::string>(attr)); break;
      case ir::AttrKind::kInts: kind = fbs::AttrKind::Ints; ints = fbb_.CreateVector(std::get<std::vector<int64_t>>(attr)); break;
      case ir::AttrKind::kFloats: kind = fbs::AttrKind::Floats; floats = fbb_.CreateVector(std::get<std::vector<float>>(attr)); break;
      case ir::AttrKind::kStrings: kind = fbs::AttrKind::Strings; strings = fbb_.CreateVectorOfStrings(std::get<std::vector<std::string>>(attr)); break;
      case ir::AttrKind::kTensor: kind = fbs::AttrKind::Tensor; tensor = tensors_.constant_of(std::get<ir::TensorData>(attr)); break;
    }
    return fbs::CreateAttribute(fbb_, name, kind, i, f, s, ints, floats, strings, tensor);
  }

  const TensorTable& tensors_;
  flatbuffers::FlatBufferBuilder fbb_{4096};
};

std::string errno_text(int err) { return std::system_category().message(err); }

}  // namespace

Result<std::vector<uint8_t>> write_bundle(const ir::BundleModel& model) {
  LW_RETURN_IF_ERROR(ir::verify_bundle_model(model).with_context("cannot write bundle: "));
  TensorTable tensors;
  for (size_t gi = 0; gi < model.graphs.size(); ++gi) {
    const ir::Graph& g = model.graphs[gi].graph;
    for (const ir::Value& v : g.values)
      if (!dtype_is_valid(static_cast<int32_t>(v.dtype)))
        return make_error(StatusCode::kInvalidArgument, "cannot write bundle: graph ", gi, " value '", v.name,
                          "' has no valid dtype (run type inference first)");
    for (size_t ni = 0; ni < g.nodes.size(); ++ni)
      for (const auto& [key, attr] : g.nodes[ni].attrs)
        if (const auto* t = std::get_if<ir::TensorData>(&attr))
          LW_RETURN_IF_ERROR(tensors.add(*t, str_cat("cannot write bundle: graph ", gi, " node ", ni, " '",
                                                    g.nodes[ni].name, "' attribute '", key, "'")));
  }
  uint64_t estimate = estimate_program_size(model);
  if (estimate > kMaxProgramEstimate)
    return make_error(StatusCode::kInvalidArgument, "cannot write bundle: the graph description needs about ",
                      estimate, " bytes, more than the format's ", kMaxProgramEstimate, " limit");
  uint64_t data_size = tensors.layout();
  std::vector<uint8_t> program = ProgramBuilder(tensors).build(model);

  BundleHeader h;
  h.major = kFormatMajor;
  h.minor = kFormatMinor;
  h.flags = model.is_bundle ? kFlagIsBundle : 0;
  h.program_offset = kHeaderSize;
  h.program_size = program.size();
  h.data_offset = align_up(h.program_offset + h.program_size, kSegmentAlign);
  h.data_size = data_size;
  h.file_size = h.data_offset + h.data_size;
  if (h.file_size > std::vector<uint8_t>().max_size())
    return make_error(StatusCode::kOutOfMemory, "cannot write bundle: ", h.file_size, " bytes do not fit in memory");

  std::vector<uint8_t> out;
  try {
    out.assign(static_cast<size_t>(h.file_size), 0);
  } catch (const std::bad_alloc&) {
    return make_error(StatusCode::kOutOfMemory, "cannot write bundle: out of memory for ", h.file_size, " bytes");
  }
  encode_header(h, out.data());
  std::memcpy(out.data() + h.program_offset, program.data(), program.size());
  for (const SegmentPlan& s : tensors.segments())
    if (s.size) std::memcpy(out.data() + h.data_offset + s.offset, s.data, s.size);
  return out;
}

Status write_bundle_file(const ir::BundleModel& model, const std::string& path) {
  LW_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, write_bundle(model));
  const std::string tmp = path + ".tmp";
  auto fail = [&](const char* what, int err, bool remove_tmp) {
    if (remove_tmp) ::unlink(tmp.c_str());
    return make_error(StatusCode::kWriteFile, "cannot write bundle file '", path, "': ", what, ": ", errno_text(err));
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail("open", errno, false);
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return fail("write", err, true);
    }
    done += static_cast<size_t>(n);
  }
  // Flush before the rename so a crash never leaves a complete-looking name over partial data.
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    return fail("fsync", err, true);
  }
  if (::close(fd) != 0) return fail("close", errno, true);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("rename", errno, true);
  return Status::ok();
}

}  // namespace lw::format

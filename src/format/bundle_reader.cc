// Parses and validates a bundle file into an ir::BundleModel. Every field is checked before it
// is used: the bytes may be corrupt, truncated or hostile.
#include <omp.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <exception>
#include <set>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include "format/bundle_generated.h"
#include "format/bundle_header.h"
#include "format/bundle_io.h"
#include "format/crc32c.h"

namespace lw::format {

namespace {

namespace fbs = ::lw::fb;
template <typename T>
using FbVector = flatbuffers::Vector<T>;

constexpr uint32_t kNoConstant = 0xFFFFFFFFu;

std::string fb_string(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

// The FlatBuffers verifier only guarantees 4-byte alignment for a vector's elements, so 8-byte
// elements are copied out rather than loaded in place.
int64_t load_i64(const FbVector<int64_t>& v, uint32_t i) {
  int64_t out;
  std::memcpy(&out, v.Data() + size_t{i} * sizeof(int64_t), sizeof out);
  return out;
}

// Where in the program a check is, as a chain ("graph 1 node 12 attribute 0 'pads'") that
// becomes text only when a check fails: a load passes thousands of places, and formatting
// each one up front was about a fifth of opening a MobileNet v2 bundle (10,000 allocations).
// Each link refers to its parent and name, which outlive it.
struct Place {
  const Place* parent = nullptr;
  const char* label = "";
  int64_t index = -1;                 // printed after the label when >= 0
  const std::string* name = nullptr;  // printed quoted after that when set
};

std::ostream& operator<<(std::ostream& os, const Place& p) {
  if (p.parent) os << *p.parent;
  os << p.label;
  if (p.index >= 0) os << ' ' << p.index;
  if (p.name) os << " '" << *p.name << "'";
  return os;
}

class ProgramReader {
 public:
  ProgramReader(const Blob& file, const BundleHeader& header, const fbs::Program& program,
                const ReadOptions& options)
      : file_(file), header_(header), program_(program), options_(options),
        // Files never share sub-objects, so what they expand to is bounded by the program's own
        // size; a crafted file that points many offsets at one big object is refused.
        budget_(2 * header.program_size + 4096) {}

  Result<ir::BundleModel> read() {
    ir::BundleModel model;
    model.is_bundle = program_.is_bundle();
    if (model.is_bundle != ((header_.flags & kFlagIsBundle) != 0))
      return error("the header's is_bundle flag (", (header_.flags & kFlagIsBundle) != 0,
                   ") disagrees with the program's (", model.is_bundle, ")");
    LW_RETURN_IF_ERROR(spend(program_.producer() ? program_.producer()->size() : 0, Place{nullptr, "producer"}));
    model.producer = fb_string(program_.producer());
    model.weights_version = program_.weights_version();  // absent (files before 1.1): 0
    LW_RETURN_IF_ERROR(read_segments());
    // The checksums run on the other threads while this one reads the rest of the program,
    // then on this one too: hashing MobileNet v2's 14 MB (mostly mapping its pages) and
    // reading its three graphs took 0.4 and 0.35 ms one after the other at two threads. A
    // checksum mismatch is reported before any other error, as when they ran first.
    Status rest;
    std::vector<uint32_t> crcs(options_.verify_segment_crc ? segments_.size() : 0);
    std::atomic<size_t> next_segment{0};
    auto hash_segments = [&] {
      for (size_t si; (si = next_segment.fetch_add(1, std::memory_order_relaxed)) < crcs.size();)
        crcs[si] = crc32c(segments_[si].data, segments_[si].size);
    };
    const int threads = options_.threads > 0 ? options_.threads : omp_get_max_threads();
    if (threads > 1 && !crcs.empty()) {
      std::exception_ptr thrown;  // an exception may not leave the parallel region
#pragma omp parallel num_threads(threads)
      {
        // Thread 0 is the calling thread: what the reading allocates is counted where it was.
        if (omp_get_thread_num() == 0) {
          try {
            rest = read_rest(model);
          } catch (...) {
            thrown = std::current_exception();
          }
        }
        hash_segments();
      }
      if (thrown) std::rethrow_exception(thrown);
    } else {
      hash_segments();
      rest = read_rest(model);
    }
    LW_RETURN_IF_ERROR(check_crcs(crcs));
    LW_RETURN_IF_ERROR(rest);
    return model;
  }

 private:
  template <typename... Parts>
  static Status error(const Parts&... parts) {
    return make_error(StatusCode::kParseModel, "invalid bundle: ", parts...);
  }

  Status spend(uint64_t bytes, const Place& where) {
    if (bytes > budget_)
      return error(where, ": the program expands to more data than its ", header_.program_size,
                   " bytes can hold (shared or overlapping objects)");
    budget_ -= bytes;
    return Status::ok();
  }

  // Reads dims, each >= min_dim, at most kMaxRank of them.
  Result<Dims> read_dims(const FbVector<int64_t>* v, int64_t min_dim, const Place& where) {
    Dims dims;
    if (!v) return dims;
    if (v->size() > kMaxRank) return error(where, ": rank ", v->size(), " exceeds the limit of ", kMaxRank);
    LW_RETURN_IF_ERROR(spend(uint64_t{8} * v->size(), where));
    dims.reserve(v->size());
    for (uint32_t i = 0; i < v->size(); ++i) {
      int64_t d = load_i64(*v, i);
      if (d < min_dim) return error(where, ": dim ", i, " is ", d, " (must be >= ", min_dim, ")");
      dims.push_back(d);
    }
    return dims;
  }

  Result<DType> read_dtype(int32_t raw, const Place& where) {
    if (!dtype_is_valid(raw)) return error(where, ": dtype ", raw, " is not a known data type");
    return static_cast<DType>(raw);
  }

  Status read_segments() {
    const auto* segments = program_.segments();
    if (!segments) return Status::ok();
    segments_.reserve(segments->size());
    for (uint32_t si = 0; si < segments->size(); ++si) {
      const fbs::Segment& s = *segments->Get(si);
      uint64_t offset = s.offset(), size = s.size();
      if (offset > header_.data_size || size > header_.data_size - offset)
        return error("segment ", si, " (offset ", offset, ", size ", size, ") lies outside the ",
                     header_.data_size, "-byte data area");
      if (offset % kSegmentAlign != 0)
        return error("segment ", si, " offset ", offset, " is not a multiple of ", kSegmentAlign);
      segments_.push_back(file_.slice(static_cast<size_t>(header_.data_offset + offset), static_cast<size_t>(size)));
    }
    return Status::ok();
  }

  // The first segment in file order whose checksum is not the stored one (none when `crcs` is
  // empty: not verified).
  Status check_crcs(const std::vector<uint32_t>& crcs) {
    for (uint32_t si = 0; si < crcs.size(); ++si) {
      const uint32_t stored = program_.segments()->Get(si)->crc32c();
      if (crcs[si] != stored)
        return error("segment ", si, " checksum mismatch (stored ", hex32(stored), ", computed ", hex32(crcs[si]),
                     "): its data is corrupt");
    }
    return Status::ok();
  }

  // Everything after the segments: constants, variables, graphs, and the model's own checks.
  Status read_rest(ir::BundleModel& model) {
    LW_RETURN_IF_ERROR(read_constants());
    LW_RETURN_IF_ERROR(read_variables(model));
    if (const auto* graphs = program_.graphs()) {
      model.graphs.reserve(graphs->size());
      for (uint32_t gi = 0; gi < graphs->size(); ++gi) {
        ir::GraphEntry entry;
        LW_RETURN_IF_ERROR(read_graph(gi, *graphs->Get(gi), entry));
        model.graphs.push_back(std::move(entry));
      }
    }
    return ir::verify_bundle_model(model).with_context("invalid bundle: ");
  }

  Status read_constants() {
    const auto* constants = program_.constants();
    if (!constants) return Status::ok();
    constants_.reserve(constants->size());
    for (uint32_t ci = 0; ci < constants->size(); ++ci) {
      const fbs::Constant& c = *constants->Get(ci);
      const Place where{nullptr, "constant", ci};
      ir::TensorData t;
      LW_ASSIGN_OR_RETURN(t.dtype, read_dtype(c.dtype(), where));
      LW_ASSIGN_OR_RETURN(t.dims, read_dims(c.dims(), 0, where));
      auto bytes = byte_size(t.dtype, t.dims);
      if (!bytes.is_ok()) return error(where, ": ", bytes.status().message());
      if (c.segment() >= segments_.size())
        return error(where, ": segment index ", c.segment(), " out of range (bundle has ", segments_.size(),
                     " segments)");
      const Blob& seg = segments_[c.segment()];
      if (*bytes != seg.size)
        return error(where, ": ", dtype_name(t.dtype), " ", dims_to_string(t.dims), " needs ", *bytes,
                     " bytes but segment ", c.segment(), " holds ", seg.size);
      t.bytes = seg;
      constants_.push_back(std::move(t));
    }
    return Status::ok();
  }

  Status read_variables(ir::BundleModel& model) {
    const auto* variables = program_.variables();
    if (!variables) return Status::ok();
    model.variables.reserve(variables->size());
    for (uint32_t vi = 0; vi < variables->size(); ++vi) {
      const fbs::Variable& v = *variables->Get(vi);
      Place where{nullptr, "variable", vi};
      ir::VariableDesc desc;
      LW_RETURN_IF_ERROR(spend(uint64_t{v.name() ? v.name()->size() : 0} + (v.source() ? v.source()->size() : 0), where));
      desc.name = fb_string(v.name());
      desc.source = fb_string(v.source());
      where.name = &desc.name;
      LW_ASSIGN_OR_RETURN(desc.dtype, read_dtype(v.dtype(), where));
      LW_ASSIGN_OR_RETURN(desc.dims, read_dims(v.dims(), 0, where));
      auto bytes = byte_size(desc.dtype, desc.dims);
      if (!bytes.is_ok()) return error(where, ": ", bytes.status().message());
      if (v.update_input() < -1) return error(where, ": update_input ", v.update_input(), " is negative");
      desc.update_input = v.update_input();
      model.variables.push_back(std::move(desc));
    }
    return Status::ok();
  }

  Status read_ids(const FbVector<int32_t>* ids, size_t value_count, bool allow_none, const Place& where,
                  std::vector<ir::ValueId>& out) {
    if (!ids) return Status::ok();
    LW_RETURN_IF_ERROR(spend(uint64_t{4} * ids->size(), where));
    out.reserve(ids->size());
    for (uint32_t i = 0; i < ids->size(); ++i) {
      int32_t id = ids->Get(i);
      bool none = allow_none && id == ir::kNoValue;
      if (!none && (id < 0 || static_cast<size_t>(id) >= value_count))
        return error(where, " value id ", id, " out of range (graph has ", value_count, " values)");
      out.push_back(id);
    }
    return Status::ok();
  }

  Status read_graph(uint32_t gi, const fbs::Graph& fg, ir::GraphEntry& entry) {
    const Place gwhere{nullptr, "graph", gi};
    int32_t role = fg.role();
    if (role < static_cast<int32_t>(ir::GraphRole::kInference) || role > static_cast<int32_t>(ir::GraphRole::kOther))
      return error(gwhere, ": role ", role, " is not a known graph role");
    entry.role = static_cast<ir::GraphRole>(role);
    ir::Graph& g = entry.graph;
    LW_RETURN_IF_ERROR(spend(fg.name() ? fg.name()->size() : 0, gwhere));
    g.name = fb_string(fg.name());

    if (const auto* values = fg.values()) {
      g.values.reserve(values->size());
      for (uint32_t vi = 0; vi < values->size(); ++vi) {
        const fbs::Value& fv = *values->Get(vi);
        const Place where{&gwhere, " value", vi};
        LW_RETURN_IF_ERROR(spend(fv.name() ? fv.name()->size() : 0, where));
        ir::Value v;
        v.name = fb_string(fv.name());
        LW_ASSIGN_OR_RETURN(v.dtype, read_dtype(fv.dtype(), where));
        LW_ASSIGN_OR_RETURN(Dims dims, read_dims(fv.dims(), kDynamicDim, where));
        if (fv.rank_known()) {
          v.shape = Shape(std::move(dims));
        } else {
          if (!dims.empty()) return error(where, ": unknown rank but ", dims.size(), " dims listed");
          v.shape = Shape::unknown_rank();
        }
        g.values.push_back(std::move(v));
      }
    }
    const size_t value_count = g.values.size();

    if (const auto* nodes = fg.nodes()) {
      g.nodes.reserve(nodes->size());
      for (uint32_t ni = 0; ni < nodes->size(); ++ni) {
        const fbs::Node& fn = *nodes->Get(ni);
        const Place where{&gwhere, " node", ni};
        ir::Node n;
        LW_RETURN_IF_ERROR(spend(uint64_t{fn.op() ? fn.op()->size() : 0} + (fn.name() ? fn.name()->size() : 0), where));
        n.op = fb_string(fn.op());
        n.name = fb_string(fn.name());
        if (n.op.empty()) return error(where, ": no op name");
        LW_RETURN_IF_ERROR(read_ids(fn.inputs(), value_count, true, Place{&where, ": input"}, n.inputs));
        LW_RETURN_IF_ERROR(read_ids(fn.outputs(), value_count, false, Place{&where, ": output"}, n.outputs));
        if (const auto* attrs = fn.attributes()) {
          for (uint32_t ai = 0; ai < attrs->size(); ++ai) {
            const fbs::Attribute& fa = *attrs->Get(ai);
            std::string key = fb_string(fa.name());
            const Place awhere{&where, " attribute", ai, &key};
            LW_RETURN_IF_ERROR(spend(key.size(), awhere));
            if (key.empty()) return error(awhere, ": no name");
            LW_ASSIGN_OR_RETURN(ir::Attribute value, read_attribute(fa, awhere));
            if (n.attrs.count(key)) return error(awhere, ": appears twice");  // before `key` moves
            n.attrs.emplace(std::move(key), std::move(value));
          }
        }
        // add_node sets each output's producer; ids were range-checked above.
        g.add_node(std::move(n));
      }
    }
    LW_RETURN_IF_ERROR(read_ids(fg.inputs(), value_count, false, Place{&gwhere, ": graph input"}, g.inputs));
    LW_RETURN_IF_ERROR(read_ids(fg.outputs(), value_count, false, Place{&gwhere, ": graph output"}, g.outputs));
    return Status::ok();
  }

  Result<ir::Attribute> read_attribute(const fbs::Attribute& fa, const Place& where) {
    fbs::AttrKind kind = fa.kind();
    // A payload field of another kind means the writer and this reader disagree on the layout.
    auto only = [&](bool s, bool ints, bool floats, bool strings, bool tensor) -> Status {
      if ((fa.s() != nullptr && !s) || (fa.ints() != nullptr && !ints) || (fa.floats() != nullptr && !floats) ||
          (fa.strings() != nullptr && !strings) || (fa.tensor() != kNoConstant && !tensor))
        return error(where, ": ", fbs::EnumNameAttrKind(kind), " attribute carries a payload of another kind");
      return Status::ok();
    };
    switch (kind) {
      case fbs::AttrKind::Int:
        LW_RETURN_IF_ERROR(only(false, false, false, false, false));
        return ir::Attribute(int64_t{fa.i()});
      case fbs::AttrKind::Float:
        LW_RETURN_IF_ERROR(only(false, false, false, false, false));
        return ir::Attribute(fa.f());
      case fbs::AttrKind::String:
        LW_RETURN_IF_ERROR(only(true, false, false, false, false));
        LW_RETURN_IF_ERROR(spend(fa.s() ? fa.s()->size() : 0, where));
        return ir::Attribute(fb_string(fa.s()));
      case fbs::AttrKind::Ints: {
        LW_RETURN_IF_ERROR(only(false, true, false, false, false));
        std::vector<int64_t> v;
        if (const auto* ints = fa.ints()) {
          LW_RETURN_IF_ERROR(spend(uint64_t{8} * ints->size(), where));
          v.resize(ints->size());
          for (uint32_t i = 0; i < ints->size(); ++i) v[i] = load_i64(*ints, i);
        }
        return ir::Attribute(std::move(v));
      }
      case fbs::AttrKind::Floats: {
        LW_RETURN_IF_ERROR(only(false, false, true, false, false));
        std::vector<float> v;
        if (const auto* floats = fa.floats()) {
          LW_RETURN_IF_ERROR(spend(uint64_t{4} * floats->size(), where));
          v.assign(floats->begin(), floats->end());
        }
        return ir::Attribute(std::move(v));
      }
      case fbs::AttrKind::Strings: {
        LW_RETURN_IF_ERROR(only(false, false, false, true, false));
        std::vector<std::string> v;
        if (const auto* strings = fa.strings()) {
          LW_RETURN_IF_ERROR(spend(uint64_t{4} * strings->size(), where));
          v.reserve(strings->size());
          for (uint32_t i = 0; i < strings->size(); ++i) {
            const flatbuffers::String* s = strings->Get(i);
            LW_RETURN_IF_ERROR(spend(s ? s->size() : 0, where));
            v.push_back(fb_string(s));
          }
        }
        return ir::Attribute(std::move(v));
      }
      case fbs::AttrKind::Tensor: {
        LW_RETURN_IF_ERROR(only(false, false, false, false, true));
        uint32_t index = fa.tensor();
        if (index >= constants_.size())
          return error(where, ": constant index ", index, " out of range (bundle has ", constants_.size(),
                       " constants)");
        return ir::Attribute(constants_[index]);
      }
    }
    return error(where, ": attribute kind ", static_cast<int>(kind), " is not known");
  }

  const Blob& file_;
  const BundleHeader& header_;
  const fbs::Program& program_;
  const ReadOptions& options_;
  uint64_t budget_;
  std::vector<Blob> segments_;
  std::vector<ir::TensorData> constants_;
};

}  // namespace

Result<ir::BundleModel> read_bundle(const Blob& input, const ReadOptions& options) {
  if (input.size != 0 && input.data == nullptr)
    return make_error(StatusCode::kInvalidArgument, "read_bundle: null data with size ", input.size);
  LW_ASSIGN_OR_RETURN(BundleHeader header, decode_header(input.data, input.size));

  // The program is read in place and segments are handed out as tensors, so the bytes must sit
  // on a 64-byte boundary; a caller's buffer that does not is copied once.
  Blob file = input;
  if (reinterpret_cast<uintptr_t>(input.data) % kSegmentAlign != 0) {
    file = Blob::copy_of(input.data, input.size);
    if (file.data == nullptr)
      return make_error(StatusCode::kOutOfMemory, "read_bundle: cannot copy ", input.size, " bytes to align them");
  }

  // FlatBuffers addresses at most 2 GiB and its verifier asserts on more.
  if (header.program_size >= FLATBUFFERS_MAX_BUFFER_SIZE)
    return make_error(StatusCode::kParseModel, "invalid bundle: program size ", header.program_size,
                      " exceeds the FlatBuffers limit");
  const uint8_t* program_bytes = file.data + header.program_offset;
  const size_t program_size = static_cast<size_t>(header.program_size);
  // Every table takes at least 4 bytes of the program, so a valid file never visits more;
  // a crafted one that revisits shared tables is cut off.
  const auto max_tables = static_cast<flatbuffers::uoffset_t>(program_size / 4 + 64);
  flatbuffers::Verifier verifier(program_bytes, program_size, /*max_depth=*/64, max_tables);
  if (!fbs::VerifyProgramBuffer(verifier))
    return make_error(StatusCode::kParseModel, "invalid bundle: the program section (", program_size,
                      " bytes at offset ", header.program_offset, ") is not a valid lw.fb.Program");
  const fbs::Program* program = fbs::GetProgram(program_bytes);
  return ProgramReader(file, header, *program, options).read();
}

}  // namespace lw::format

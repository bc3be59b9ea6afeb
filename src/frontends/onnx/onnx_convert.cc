#include "frontends/onnx/onnx_convert.h"

#include <cstring>

namespace lw::onnx_import {

namespace {
using TP = onnx::TensorProto;
using AP = onnx::AttributeProto;

// A fresh aligned block of `size` bytes wrapped as a Blob; `out` gets the writable pointer.
Result<Blob> new_blob(size_t size, uint8_t** out, const std::string& what) {
  std::shared_ptr<uint8_t> block(static_cast<uint8_t*>(alloc_aligned(size)), AlignedDeleter{});
  if (!block) return make_error(StatusCode::kOutOfMemory, what, ": cannot allocate ", size, " bytes");
  *out = block.get();
  const uint8_t* data = block.get();
  return Blob{std::shared_ptr<const void>(block, data), data, size};
}

// Copies a repeated field into `dst`, converting each element to Dst.
template <typename Dst, typename Field>
void narrow_copy(const Field& src, uint8_t* dst) {
  for (int i = 0; i < src.size(); ++i) {
    Dst v = static_cast<Dst>(src.Get(i));
    std::memcpy(dst + static_cast<size_t>(i) * sizeof(Dst), &v, sizeof(Dst));
  }
}
}  // namespace

DType dtype_from_onnx(int32_t elem_type) {
  switch (elem_type) {
    case TP::FLOAT: return DType::kFloat32;
    case TP::UINT8: return DType::kUint8;
    case TP::INT8: return DType::kInt8;
    case TP::UINT16: return DType::kUint16;
    case TP::INT16: return DType::kInt16;
    case TP::INT32: return DType::kInt32;
    case TP::INT64: return DType::kInt64;
    case TP::STRING: return DType::kString;
    case TP::BOOL: return DType::kBool;
    case TP::FLOAT16: return DType::kFloat16;
    case TP::DOUBLE: return DType::kFloat64;
    case TP::UINT32: return DType::kUint32;
    case TP::UINT64: return DType::kUint64;
    case TP::COMPLEX64: return DType::kComplex64;
    case TP::COMPLEX128: return DType::kComplex128;
    case TP::BFLOAT16: return DType::kBFloat16;
    default: return DType::kUndefined;
  }
}

const char* onnx_type_name(int32_t elem_type) {
  if (TP::DataType_IsValid(elem_type)) return TP::DataType_Name(static_cast<TP::DataType>(elem_type)).c_str();
  return "an unknown element type";
}

Result<ir::TensorData> tensor_from_onnx(const TP& t, const std::string& what) {
  if (t.data_location() == TP::EXTERNAL || t.external_data_size() > 0)
    return make_error(StatusCode::kFeatureUnsupported, what,
                      " keeps its data in an external file, which is not supported; save the model with its "
                      "data inside (onnx.save_model(..., save_as_external_data=False))");
  if (t.has_segment())
    return make_error(StatusCode::kFeatureUnsupported, what, " is a segment of a larger tensor, which is not supported");
  if (!t.has_data_type())
    return make_error(StatusCode::kParseModel, what, " has no data type");
  DType dtype = dtype_from_onnx(t.data_type());
  if (dtype == DType::kString)
    return make_error(StatusCode::kFeatureUnsupported, what, " is a string tensor, which is not supported");
  if (dtype == DType::kUndefined)
    return make_error(StatusCode::kParseModel, what, " has data type ", t.data_type(), ", which ONNX does not define");

  ir::TensorData out;
  out.dtype = dtype;
  if (static_cast<size_t>(t.dims_size()) > kMaxRank)
    return make_error(StatusCode::kParseModel, what, " has rank ", t.dims_size(), ", more than ", kMaxRank);
  for (int64_t d : t.dims()) {
    if (d < 0) return make_error(StatusCode::kParseModel, what, " has a negative dim ", d);
    out.dims.push_back(d);
  }
  auto bytes = byte_size(dtype, out.dims);
  if (!bytes.is_ok())
    return make_error(StatusCode::kParseModel, what, " with dims ", dims_to_string(out.dims), ": ", bytes.status().message());
  const uint64_t nbytes = *bytes;
  const uint64_t numel = nbytes / dtype_size(dtype);

  auto mismatch = [&](uint64_t have, const char* field) {
    return make_error(StatusCode::kParseModel, what, " (", dtype_name(dtype), " ", dims_to_string(out.dims), ") needs ",
                      nbytes, " bytes but its ", field, " holds ", have, field[0] == 'r' ? " bytes" : " elements");
  };

  if (t.has_raw_data()) {
    if (t.raw_data().size() != nbytes) return mismatch(t.raw_data().size(), "raw_data");
    out.bytes = Blob::copy_of(t.raw_data().data(), nbytes);
    if (nbytes && !out.bytes.data) return make_error(StatusCode::kOutOfMemory, what, ": cannot allocate ", nbytes, " bytes");
    return out;
  }

  // Typed fields. Complex values take two entries per element.
  const uint64_t parts = (dtype == DType::kComplex64 || dtype == DType::kComplex128) ? 2 : 1;
  uint8_t* dst = nullptr;
  auto expect = [&](int have, const char* field) -> Status {
    if (static_cast<uint64_t>(have) != numel * parts) return mismatch(static_cast<uint64_t>(have), field);
    return Status::ok();
  };
  switch (dtype) {
    case DType::kFloat32:
    case DType::kComplex64:
      LW_RETURN_IF_ERROR(expect(t.float_data_size(), "float_data"));
      break;
    case DType::kFloat64:
    case DType::kComplex128:
      LW_RETURN_IF_ERROR(expect(t.double_data_size(), "double_data"));
      break;
    case DType::kInt64:
      LW_RETURN_IF_ERROR(expect(t.int64_data_size(), "int64_data"));
      break;
    case DType::kUint32:
    case DType::kUint64:
      LW_RETURN_IF_ERROR(expect(t.uint64_data_size(), "uint64_data"));
      break;
    default:  // int32, int16, int8, uint16, uint8, bool, float16, bfloat16 all live in int32_data
      LW_RETURN_IF_ERROR(expect(t.int32_data_size(), "int32_data"));
      break;
  }
  LW_ASSIGN_OR_RETURN(out.bytes, new_blob(nbytes, &dst, what));
  switch (dtype) {
    case DType::kFloat32:
    case DType::kComplex64: narrow_copy<float>(t.float_data(), dst); break;
    case DType::kFloat64:
    case DType::kComplex128: narrow_copy<double>(t.double_data(), dst); break;
    case DType::kInt64: narrow_copy<int64_t>(t.int64_data(), dst); break;
    case DType::kUint32: narrow_copy<uint32_t>(t.uint64_data(), dst); break;
    case DType::kUint64: narrow_copy<uint64_t>(t.uint64_data(), dst); break;
    case DType::kInt32: narrow_copy<int32_t>(t.int32_data(), dst); break;
    case DType::kInt16: narrow_copy<int16_t>(t.int32_data(), dst); break;
    case DType::kInt8: narrow_copy<int8_t>(t.int32_data(), dst); break;
    case DType::kUint8: narrow_copy<uint8_t>(t.int32_data(), dst); break;
    // float16 and bfloat16 keep their bit patterns in the low 16 bits.
    case DType::kUint16:
    case DType::kFloat16:
    case DType::kBFloat16: narrow_copy<uint16_t>(t.int32_data(), dst); break;
    case DType::kBool:
      for (int i = 0; i < t.int32_data_size(); ++i) dst[i] = t.int32_data(i) != 0 ? 1 : 0;
      break;
    default:
      return make_error(StatusCode::kInternal, what, ": unhandled dtype ", dtype_name(dtype));
  }
  return out;
}

Result<DeclaredType> type_from_onnx(const onnx::ValueInfoProto& info, const std::string& what) {
  DeclaredType out;
  if (!info.has_type()) return out;
  const onnx::TypeProto& type = info.type();
  if (type.value_case() == onnx::TypeProto::VALUE_NOT_SET) return out;
  if (!type.has_tensor_type())
    return make_error(StatusCode::kFeatureUnsupported, what, " is not a tensor (sequence, map, optional and sparse values are not supported)");
  const onnx::TypeProto::Tensor& tt = type.tensor_type();
  if (tt.has_elem_type() && tt.elem_type() != TP::UNDEFINED) {
    out.dtype = dtype_from_onnx(tt.elem_type());
    if (out.dtype == DType::kUndefined)
      return make_error(StatusCode::kParseModel, what, " has element type ", tt.elem_type(), ", which ONNX does not define");
    if (out.dtype == DType::kString)
      return make_error(StatusCode::kFeatureUnsupported, what, " is a string tensor, which is not supported");
  }
  if (tt.has_shape()) {
    if (static_cast<size_t>(tt.shape().dim_size()) > kMaxRank)
      return make_error(StatusCode::kParseModel, what, " has rank ", tt.shape().dim_size(), ", more than ", kMaxRank);
    Dims dims;
    for (const auto& d : tt.shape().dim()) {
      if (d.has_dim_value()) {
        if (d.dim_value() < 0) return make_error(StatusCode::kParseModel, what, " has a negative dim ", d.dim_value());
        dims.push_back(d.dim_value());
      } else {
        dims.push_back(kDynamicDim);
      }
    }
    out.shape = Shape(std::move(dims));
  }
  return out;
}

Result<ir::Attribute> attribute_from_onnx(const AP& a, const std::string& node_label) {
  auto where = [&]() { return str_cat(node_label, ": attribute '", a.name(), "'"); };
  if (a.has_ref_attr_name())
    return make_error(StatusCode::kFeatureUnsupported, where(), " refers to a function attribute, which is not supported");
  AP::AttributeType type = a.type();
  if (type == AP::UNDEFINED) {
    // IR version 1 models leave `type` unset; the field that holds data says what it is.
    if (a.has_f()) type = AP::FLOAT;
    else if (a.has_i()) type = AP::INT;
    else if (a.has_s()) type = AP::STRING;
    else if (a.has_t()) type = AP::TENSOR;
    else if (a.has_g() || a.graphs_size()) type = AP::GRAPH;
    else if (a.floats_size()) type = AP::FLOATS;
    else if (a.ints_size()) type = AP::INTS;
    else if (a.strings_size()) type = AP::STRINGS;
    else return make_error(StatusCode::kParseModel, where(), " has no type and no value");
  }
  switch (type) {
    case AP::FLOAT: return ir::Attribute(a.f());
    case AP::INT: return ir::Attribute(static_cast<int64_t>(a.i()));
    case AP::STRING: return ir::Attribute(a.s());
    case AP::FLOATS: return ir::Attribute(std::vector<float>(a.floats().begin(), a.floats().end()));
    case AP::INTS: return ir::Attribute(std::vector<int64_t>(a.ints().begin(), a.ints().end()));
    case AP::STRINGS: return ir::Attribute(std::vector<std::string>(a.strings().begin(), a.strings().end()));
    case AP::TENSOR: {
      LW_ASSIGN_OR_RETURN(ir::TensorData t, tensor_from_onnx(a.t(), where()));
      return ir::Attribute(std::move(t));
    }
    case AP::GRAPH:
    case AP::GRAPHS:
      return make_error(StatusCode::kFeatureUnsupported, where(),
                        " holds a subgraph; control flow (If, Loop, Scan) is not supported");
    default:
      return make_error(StatusCode::kFeatureUnsupported, where(), " has kind ",
                        AP::AttributeType_IsValid(type) ? AP::AttributeType_Name(type) : std::to_string(type),
                        ", which is not supported");
  }
}

}  // namespace lw::onnx_import

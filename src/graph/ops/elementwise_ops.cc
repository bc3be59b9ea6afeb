// Schemas of the elementwise ops: binary arithmetic with numpy broadcasting, comparisons,
// Where, unary math and activations, Clip, Identity, Dropout (inference) and Cast.
#include <algorithm>

#include "graph/ops/op_helpers.h"
#include "graph/ops/ops.h"

namespace lw::ir {

namespace {

Status infer_binary(InferContext& ctx, DType out_dtype) {
  LW_ASSIGN_OR_RETURN(Shape s, broadcast_shapes(ctx, {ctx.inputs[0].shape, ctx.inputs[1].shape}));
  ctx.outputs[0] = TensorType{out_dtype, s};
  return Status::ok();
}

OpSchema arithmetic(const char* op) {
  return OpSchema{op, 2, 2, 1, 1, {}, [](InferContext& ctx) -> Status {
                    LW_RETURN_IF_ERROR(check_dtype(ctx, 0, kNumericTypes, "A"));
                    LW_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 1));
                    return infer_binary(ctx, ctx.inputs[0].dtype);
                  }};
}

// Same type and shape as input 0; `types` limits the input type.
OpSchema unary(const char* op, std::initializer_list<DType> types,
               std::initializer_list<std::pair<const char*, AttrKind>> attrs = {}) {
  std::vector<DType> allowed(types);
  std::vector<std::pair<const char*, AttrKind>> attr_list(attrs);
  return OpSchema{op, 1, 1, 1, 1, {}, [allowed, attr_list](InferContext& ctx) -> Status {
                    for (const auto& [name, kind] : attr_list) LW_RETURN_IF_ERROR(check_attr_kinds(ctx, {{name, kind}}));
                    if (!allowed.empty() &&
                        std::find(allowed.begin(), allowed.end(), ctx.inputs[0].dtype) == allowed.end())
                      return ctx.error("input 0 has unsupported type ", dtype_name(ctx.inputs[0].dtype));
                    ctx.outputs[0] = ctx.inputs[0];
                    return Status::ok();
                  }};
}

Status infer_scalar_bound(const InferContext& ctx, size_t i, const char* name) {
  if (!ctx.has_input(i)) return Status::ok();
  LW_RETURN_IF_ERROR(check_same_dtype(ctx, 0, i));
  const Shape& s = ctx.inputs[i].shape;
  if (s.is_static()) {
    int64_t n = dims_product(s.dims(), 0, s.rank());
    if (n != 1) return ctx.error("input '", name, "' must be a scalar, got shape ", s.to_string());
  }
  return Status::ok();
}

}  // namespace

void register_elementwise_ops(std::vector<OpSchema>& registry) {
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) registry.push_back(arithmetic(op));

  registry.push_back(OpSchema{"Pow", 2, 2, 1, 1, {}, [](InferContext& ctx) -> Status {
                                LW_RETURN_IF_ERROR(check_dtype(ctx, 0, kNumericTypes, "X"));
                                LW_RETURN_IF_ERROR(check_dtype(ctx, 1, kNumericTypes, "Y"));
                                return infer_binary(ctx, ctx.inputs[0].dtype);
                              }});

  registry.push_back(OpSchema{"Equal", 2, 2, 1, 1, {}, [](InferContext& ctx) -> Status {
                                LW_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 1));
                                return infer_binary(ctx, DType::kBool);
                              }});
  for (const char* op : {"Less", "Greater", "LessOrEqual", "GreaterOrEqual"})
    registry.push_back(OpSchema{op, 2, 2, 1, 1, {}, [](InferContext& ctx) -> Status {
                                  LW_RETURN_IF_ERROR(check_dtype(ctx, 0, kNumericTypes, "A"));
                                  LW_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 1));
                                  return infer_binary(ctx, DType::kBool);
                                }});
  for (const char* op : {"And", "Or", "Xor"})
    registry.push_back(OpSchema{op, 2, 2, 1, 1, {}, [](InferContext& ctx) -> Status {
                                  LW_RETURN_IF_ERROR(check_dtype(ctx, 0, {DType::kBool}, "A"));
                                  LW_RETURN_IF_ERROR(check_dtype(ctx, 1, {DType::kBool}, "B"));
                                  return infer_binary(ctx, DType::kBool);
                                }});
  registry.push_back(unary("Not", {DType::kBool}));
  // Variadic numpy-broadcasting reductions over their inputs.
  for (const char* op : {"Max", "Min", "Sum", "Mean"})
    registry.push_back(OpSchema{op, 1, 64, 1, 1, {}, [](InferContext& ctx) -> Status {
                                  LW_RETURN_IF_ERROR(check_dtype(ctx, 0, kNumericTypes, "data_0"));
                                  std::vector<Shape> shapes;
                                  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
                                    if (!ctx.has_input(i)) return ctx.error("input ", i, " is missing");
                                    LW_RETURN_IF_ERROR(check_same_dtype(ctx, 0, i));
                                    shapes.push_back(ctx.inputs[i].shape);
                                  }
                                  LW_ASSIGN_OR_RETURN(Shape s, broadcast_shapes(ctx, shapes));
                                  ctx.outputs[0] = TensorType{ctx.inputs[0].dtype, s};
                                  return Status::ok();
                                }});

  registry.push_back(OpSchema{"Where", 3, 3, 1, 1, {}, [](InferContext& ctx) -> Status {
                                LW_RETURN_IF_ERROR(check_dtype(ctx, 0, {DType::kBool}, "condition"));
                                LW_RETURN_IF_ERROR(check_same_dtype(ctx, 1, 2));
                                LW_ASSIGN_OR_RETURN(Shape s, broadcast_shapes(ctx, {ctx.inputs[0].shape,
                                                                                    ctx.inputs[1].shape,
                                                                                    ctx.inputs[2].shape}));
                                ctx.outputs[0] = TensorType{ctx.inputs[1].dtype, s};
                                return Status::ok();
                              }});

  for (const char* op : {"Relu", "Neg", "Abs"}) registry.push_back(unary(op, kNumericTypes));
  for (const char* op : {"Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Erf", "Reciprocal", "Floor", "Ceil", "Round",
                         "Softplus", "Softsign", "Sin", "Cos", "HardSwish", "Sign", "Tan", "Asin", "Acos", "Atan",
                         "Sinh", "Cosh", "Asinh", "Acosh", "Atanh"})
    registry.push_back(unary(op, kFloatTypes));
  registry.push_back(unary("Celu", kFloatTypes, {{"alpha", AttrKind::kFloat}}));
  registry.push_back(unary("ThresholdedRelu", kFloatTypes, {{"alpha", AttrKind::kFloat}}));
  registry.push_back(unary("Shrink", kFloatTypes, {{"bias", AttrKind::kFloat}, {"lambd", AttrKind::kFloat}}));
  for (const char* op : {"IsNaN", "IsInf"})
    registry.push_back(OpSchema{op, 1, 1, 1, 1, {}, [](InferContext& ctx) -> Status {
                                  LW_RETURN_IF_ERROR(check_attr_kinds(
                                      ctx, {{"detect_positive", AttrKind::kInt}, {"detect_negative", AttrKind::kInt}}));
                                  LW_RETURN_IF_ERROR(check_dtype(ctx, 0, kFloatTypes, "X"));
                                  ctx.outputs[0] = TensorType{DType::kBool, ctx.inputs[0].shape};
                                  return Status::ok();
                                }});
  // PRelu: slope broadcasts (unidirectionally) to X.
  registry.push_back(OpSchema{"PRelu", 2, 2, 1, 1, {}, [](InferContext& ctx) -> Status {
                                LW_RETURN_IF_ERROR(check_dtype(ctx, 0, kFloatTypes, "X"));
                                LW_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 1));
                                LW_ASSIGN_OR_RETURN(Shape s, broadcast_shapes(ctx, {ctx.inputs[0].shape, ctx.inputs[1].shape}));
                                if (s.is_static() && ctx.inputs[0].shape.is_static() && s != ctx.inputs[0].shape)
                                  return ctx.error("slope ", ctx.inputs[1].shape.to_string(), " does not broadcast to X ",
                                                   ctx.inputs[0].shape.to_string());
                                ctx.outputs[0] = ctx.inputs[0];
                                return Status::ok();
                              }});
  registry.push_back(OpSchema{"Mod", 2, 2, 1, 1, {}, [](InferContext& ctx) -> Status {
                                LW_RETURN_IF_ERROR(check_attr_kinds(ctx, {{"fmod", AttrKind::kInt}}));
                                LW_RETURN_IF_ERROR(check_dtype(ctx, 0, kNumericTypes, "A"));
                                LW_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 1));
                                int64_t fmod = ctx.node.attr_int("fmod", 0);
                                if (fmod != 0 && fmod != 1) return ctx.error("attribute 'fmod' must be 0 or 1");
                                DType t = ctx.inputs[0].dtype;
                                if (fmod == 0 && (t == DType::kFloat32 || t == DType::kFloat64 || t == DType::kFloat16 ||
                                                  t == DType::kBFloat16))
                                  return ctx.error("floating-point inputs need fmod=1");
                                return infer_binary(ctx, t);
                              }});
  registry.push_back(unary("LeakyRelu", kFloatTypes, {{"alpha", AttrKind::kFloat}}));
  registry.push_back(unary("Elu", kFloatTypes, {{"alpha", AttrKind::kFloat}}));
  registry.push_back(unary("Selu", kFloatTypes, {{"alpha", AttrKind::kFloat}, {"gamma", AttrKind::kFloat}}));
  registry.push_back(unary("HardSigmoid", kFloatTypes, {{"alpha", AttrKind::kFloat}, {"beta", AttrKind::kFloat}}));
  registry.push_back(unary("Identity", {}));

  registry.push_back(OpSchema{"Clip", 1, 3, 1, 1, {}, [](InferContext& ctx) -> Status {
                                LW_RETURN_IF_ERROR(check_dtype(ctx, 0, kNumericTypes, "input"));
                                LW_RETURN_IF_ERROR(infer_scalar_bound(ctx, 1, "min"));
                                LW_RETURN_IF_ERROR(infer_scalar_bound(ctx, 2, "max"));
                                ctx.outputs[0] = ctx.inputs[0];
                                return Status::ok();
                              }});

  registry.push_back(OpSchema{"Dropout", 1, 3, 1, 2, {}, [](InferContext& ctx) -> Status {
                                LW_RETURN_IF_ERROR(check_attr_kinds(ctx, {{"seed", AttrKind::kInt}}));
                                LW_RETURN_IF_ERROR(check_dtype(ctx, 1, kFloatTypes, "ratio"));
                                LW_RETURN_IF_ERROR(check_dtype(ctx, 2, {DType::kBool}, "training_mode"));
                                LW_ASSIGN_OR_RETURN(auto training, const_ints(ctx, 2));
                                if (training && !training->empty() && (*training)[0] != 0)
                                  return ctx.error("training_mode=true is not supported (inference only)");
                                ctx.outputs[0] = ctx.inputs[0];
                                if (ctx.outputs.size() > 1) ctx.outputs[1] = TensorType{DType::kBool, ctx.inputs[0].shape};
                                return Status::ok();
                              }});

  registry.push_back(OpSchema{"Cast", 1, 1, 1, 1, {}, [](InferContext& ctx) -> Status {
                                LW_RETURN_IF_ERROR(check_attr_kinds(ctx, {{"to", AttrKind::kInt}, {"saturate", AttrKind::kInt}}));
                                if (!ctx.node.has_attr("to")) return ctx.error("attribute 'to' is required");
                                int64_t to = ctx.node.attr_int("to", 0);
                                std::optional<DType> t = dtype_from_onnx(to);
                                if (!t) return ctx.error("attribute 'to' = ", to, " is not an ONNX element type");
                                ctx.outputs[0] = TensorType{*t, ctx.inputs[0].shape};
                                return Status::ok();
                              }});
}

}  // namespace lw::ir

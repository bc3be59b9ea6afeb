// The ONNX protobuf classes (namespace onnx). Debian's libonnx-dev ships only the "-ml"
// flavour of the generated headers, so ONNX_ML must be set for every includer, not just the
// library's own sources.
#pragma once

#ifndef ONNX_ML
#define ONNX_ML 1
#endif
#ifndef ONNX_NAMESPACE
#define ONNX_NAMESPACE onnx
#endif
#include "onnx/onnx_pb.h"

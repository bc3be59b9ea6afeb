// cuBLAS and cuDNN, opened at run time with dlopen so neither is a link-time dependency: a
// CPU-only machine never loads them, and cuDNN (on the GPU machines here it sits only inside a
// Python package, nvidia/cudnn/lib) is found by path. Entry points are resolved once, on first
// use, and never change after. Thread-safe.
//
// Search order for each library: $LW_CUBLAS_PATH / $LW_CUDNN_PATH (a file), then the dynamic
// loader's own search (LD_LIBRARY_PATH, rpath, ld.so.cache), then /usr/local/cuda/lib64, then
// the nvidia/<name>/lib folders of Python site-packages found under /usr, /opt and $HOME.
// Members are named <entry point>_fn (cublas_v2.h defines macros for several entry names).
#pragma once

#include <cublas_v2.h>
#if defined(LW_HAVE_CUDNN_HEADERS)
#include <cudnn.h>
#endif

#include <string>

#include "backends/cuda/kernel.h"

namespace lw::cuda {

struct Libraries {
  // ---- cuBLAS (all null when not found) ----
  std::string cublas_path;  // where it was loaded from; empty when not found
  std::string cublas_error; // why not, when not found
  decltype(&cublasCreate_v2) cublasCreate_fn = nullptr;
  decltype(&cublasDestroy_v2) cublasDestroy_fn = nullptr;
  decltype(&cublasSetStream_v2) cublasSetStream_fn = nullptr;
  decltype(&cublasSetMathMode) cublasSetMathMode_fn = nullptr;
  decltype(&cublasSetWorkspace_v2) cublasSetWorkspace_fn = nullptr;
  // The C entry points (cublas_api.h also declares C++ overloads of these names).
  cublasStatus_t (*cublasGemmEx_fn)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                    const void*, const void*, cudaDataType, int, const void*, cudaDataType, int,
                                    const void*, void*, cudaDataType, int, cublasComputeType_t,
                                    cublasGemmAlgo_t) = nullptr;
  cublasStatus_t (*cublasGemmStridedBatchedEx_fn)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int,
                                                  int, const void*, const void*, cudaDataType, int, long long,
                                                  const void*, cudaDataType, int, long long, const void*, void*,
                                                  cudaDataType, int, long long, int, cublasComputeType_t,
                                                  cublasGemmAlgo_t) = nullptr;
  cublasStatus_t (*cublasGemmBatchedEx_fn)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                           const void*, const void* const[], cudaDataType, int, const void* const[],
                                           cudaDataType, int, const void*, void* const[], cudaDataType, int, int,
                                           cublasComputeType_t, cublasGemmAlgo_t) = nullptr;
  bool has_cublas() const { return cublasCreate_fn != nullptr; }

  // ---- cuDNN (all null when not found or built without its headers) ----
  std::string cudnn_path;
  std::string cudnn_error;
#if defined(LW_HAVE_CUDNN_HEADERS)
  size_t cudnn_version = 0;
  decltype(&cudnnGetVersion) cudnnGetVersion_fn = nullptr;
  decltype(&cudnnGetErrorString) cudnnGetErrorString_fn = nullptr;
  decltype(&cudnnCreate) cudnnCreate_fn = nullptr;
  decltype(&cudnnDestroy) cudnnDestroy_fn = nullptr;
  decltype(&cudnnSetStream) cudnnSetStream_fn = nullptr;
  decltype(&cudnnCreateTensorDescriptor) cudnnCreateTensorDescriptor_fn = nullptr;
  decltype(&cudnnDestroyTensorDescriptor) cudnnDestroyTensorDescriptor_fn = nullptr;
  decltype(&cudnnSetTensorNdDescriptor) cudnnSetTensorNdDescriptor_fn = nullptr;
  decltype(&cudnnCreateFilterDescriptor) cudnnCreateFilterDescriptor_fn = nullptr;
  decltype(&cudnnDestroyFilterDescriptor) cudnnDestroyFilterDescriptor_fn = nullptr;
  decltype(&cudnnSetFilterNdDescriptor) cudnnSetFilterNdDescriptor_fn = nullptr;
  decltype(&cudnnCreateConvolutionDescriptor) cudnnCreateConvolutionDescriptor_fn = nullptr;
  decltype(&cudnnDestroyConvolutionDescriptor) cudnnDestroyConvolutionDescriptor_fn = nullptr;
  decltype(&cudnnSetConvolutionNdDescriptor) cudnnSetConvolutionNdDescriptor_fn = nullptr;
  decltype(&cudnnSetConvolutionGroupCount) cudnnSetConvolutionGroupCount_fn = nullptr;
  decltype(&cudnnSetConvolutionMathType) cudnnSetConvolutionMathType_fn = nullptr;
  decltype(&cudnnGetConvolutionForwardAlgorithm_v7) cudnnGetConvolutionForwardAlgorithm_v7_fn = nullptr;
  decltype(&cudnnGetConvolutionForwardWorkspaceSize) cudnnGetConvolutionForwardWorkspaceSize_fn = nullptr;
  decltype(&cudnnConvolutionForward) cudnnConvolutionForward_fn = nullptr;
  // Optional (null when absent): timed algorithm search, used when a plan is made.
  decltype(&cudnnFindConvolutionForwardAlgorithmEx) cudnnFindConvolutionForwardAlgorithmEx_fn = nullptr;
  bool has_cudnn() const { return cudnnCreate_fn != nullptr; }
#else
  bool has_cudnn() const { return false; }
#endif
};

// Opened on the first call (and never closed). LW_DISABLE_CUDNN=1 skips cuDNN (the own
// convolution kernels then run), LW_DISABLE_CUBLAS=1 likewise for cuBLAS.
const Libraries& libraries();

// Creates the per-execution handles bound to `stream` (members stay null for a library that
// is absent). destroy_handles releases what create_handles made.
Status create_handles(const Libraries& libs, cudaStream_t stream, ExecHandles* handles);
void destroy_handles(const Libraries& libs, ExecHandles* handles);

}  // namespace lw::cuda

/*
 * liveweight's AscendCL-compatible C API: base types, error codes, data buffers and tensor
 * descriptions. Plain C (C99 or later) and C++.
 *
 * Conventions that hold for every function in acl_*.h:
 * - A function that returns aclError returns ACL_SUCCESS (0) or one of the codes below.
 * - On every failure the calling thread's recent error text is replaced by a message that names
 *   the function and the problem; aclGetRecentErrMsg returns it. Success leaves the text alone.
 * - A function that cannot return an aclError (a getter) returns its documented fallback (NULL,
 *   0, ACL_DT_UNDEFINED, ACL_FORMAT_UNDEFINED, -1) on failure and sets the text.
 * - Handles (aclDataBuffer*, aclTensorDesc*, aclmdlDataset*, aclmdlDesc*, aclrtContext) are
 *   checked against a table of live objects: a destroyed or foreign handle is refused with
 *   ACL_ERROR_INVALID_PARAM, never dereferenced.
 * - The tables are thread-safe, so different handles may be used from different threads freely.
 *   Changing one handle (update, set, add, destroy) while another thread uses that same handle is
 *   the caller's to serialize, as in AscendCL.
 * - No function throws or aborts, whatever its arguments.
 */
#ifndef LIVEWEIGHT_ACL_ACL_BASE_H_
#define LIVEWEIGHT_ACL_ACL_BASE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ACL_FUNC_VISIBILITY __attribute__((visibility("default")))
#else
#define ACL_FUNC_VISIBILITY
#endif

typedef int aclError;
typedef uint16_t aclFloat16;
typedef void* aclrtStream;
typedef void* aclrtContext;

/* Opaque handles; created and destroyed only through the functions below. */
typedef struct aclDataBuffer aclDataBuffer;
typedef struct aclTensorDesc aclTensorDesc;

/* Error codes. 1xxxxx: the caller can fix it; 2xxxxx: resources or unsupported; 5xxxxx: internal. */
static const int ACL_SUCCESS = 0;
static const int ACL_ERROR_NONE = 0; /* old alias of ACL_SUCCESS */

static const int ACL_ERROR_INVALID_PARAM = 100000;
static const int ACL_ERROR_UNINITIALIZE = 100001;
static const int ACL_ERROR_REPEAT_INITIALIZE = 100002;
static const int ACL_ERROR_INVALID_FILE = 100003;
static const int ACL_ERROR_WRITE_FILE = 100004;
static const int ACL_ERROR_INVALID_FILE_SIZE = 100005;
static const int ACL_ERROR_PARSE_FILE = 100006;
static const int ACL_ERROR_INVALID_MODEL_ID = 100011;
static const int ACL_ERROR_DESERIALIZE_MODEL = 100012;
static const int ACL_ERROR_PARSE_MODEL = 100013;
static const int ACL_ERROR_READ_MODEL_FAILURE = 100014;
static const int ACL_ERROR_MODEL_SIZE_INVALID = 100015;
static const int ACL_ERROR_MODEL_INPUT_NOT_MATCH = 100017;
static const int ACL_ERROR_MODEL_OUTPUT_NOT_MATCH = 100018;
static const int ACL_ERROR_MODEL_NOT_DYNAMIC = 100019;
static const int ACL_ERROR_OP_NOT_FOUND = 100024;
static const int ACL_ERROR_UNSUPPORTED_DATA_TYPE = 100026;
static const int ACL_ERROR_FORMAT_NOT_MATCH = 100027;
static const int ACL_ERROR_REPEAT_FINALIZE = 100037;
static const int ACL_ERROR_INVALID_BUNDLE_MODEL_ID = 148053;

static const int ACL_ERROR_BAD_ALLOC = 200000;
static const int ACL_ERROR_API_NOT_SUPPORT = 200001;
static const int ACL_ERROR_INVALID_DEVICE = 200002;
static const int ACL_ERROR_MEMORY_ADDRESS_UNALIGNED = 200003;
static const int ACL_ERROR_RESOURCE_NOT_MATCH = 200004;
static const int ACL_ERROR_INVALID_RESOURCE_HANDLE = 200005;
static const int ACL_ERROR_FEATURE_UNSUPPORTED = 200006;
static const int ACL_ERROR_STORAGE_OVER_LIMIT = 300000;

static const int ACL_ERROR_INTERNAL_ERROR = 500000;
static const int ACL_ERROR_FAILURE = 500001;

/* The enums are int-sized in C. In C++ they get `int` as their fixed underlying type, so every
 * int a C caller passes is a valid value there too (and is then rejected with an error code, not
 * undefined behaviour). */
#ifdef __cplusplus
#define ACL_ENUM_BASE : int
#else
#define ACL_ENUM_BASE
#endif

typedef enum ACL_ENUM_BASE {
  ACL_DT_UNDEFINED = -1,
  ACL_FLOAT = 0,
  ACL_FLOAT16 = 1,
  ACL_INT8 = 2,
  ACL_INT32 = 3,
  ACL_UINT8 = 4,
  ACL_INT16 = 6,
  ACL_UINT16 = 7,
  ACL_UINT32 = 8,
  ACL_INT64 = 9,
  ACL_UINT64 = 10,
  ACL_DOUBLE = 11,
  ACL_BOOL = 12,
  ACL_STRING = 13,
  ACL_COMPLEX64 = 16,
  ACL_COMPLEX128 = 17,
  ACL_BF16 = 27
} aclDataType;

typedef enum ACL_ENUM_BASE {
  ACL_FORMAT_UNDEFINED = -1,
  ACL_FORMAT_NCHW = 0,
  ACL_FORMAT_NHWC = 1,
  ACL_FORMAT_ND = 2,
  ACL_FORMAT_NC1HWC0 = 3,
  ACL_FORMAT_FRACTAL_Z = 4,
  ACL_FORMAT_HWCN = 16,
  ACL_FORMAT_NDHWC = 27,
  ACL_FORMAT_FRACTAL_NZ = 29,
  ACL_FORMAT_NCDHW = 30,
  ACL_FORMAT_NC = 35,
  ACL_FORMAT_NCL = 47
} aclFormat;

typedef enum ACL_ENUM_BASE { ACL_DEBUG = 0, ACL_INFO = 1, ACL_WARNING = 2, ACL_ERROR = 3 } aclLogLevel;

/* ---- errors ---- */

/* Returns the text of the most recent failure on the calling thread and clears it, so a second
 * call returns "". Never returns NULL. The returned string lives in a per-thread buffer owned by
 * the library; it stays valid until the next aclGetRecentErrMsg call on the same thread. */
ACL_FUNC_VISIBILITY const char* aclGetRecentErrMsg(void);

/* ---- data buffers: a {pointer, size} pair that does not own the memory ---- */

/* Creates a buffer describing `size` bytes at `data`. The caller keeps owning `data` and must keep
 * it alive while the buffer is used. (NULL, 0) makes an empty buffer; NULL with size > 0 is
 * refused. Returns NULL on failure. Destroy with aclDestroyDataBuffer. */
ACL_FUNC_VISIBILITY aclDataBuffer* aclCreateDataBuffer(void* data, size_t size);

/* Destroys the buffer object only; `data` is not freed. A dataset that still lists the buffer
 * then refuses it (ACL_ERROR_INVALID_PARAM at execute). */
ACL_FUNC_VISIBILITY aclError aclDestroyDataBuffer(const aclDataBuffer* dataBuffer);

/* Points an existing buffer at new memory; same rules as aclCreateDataBuffer. */
ACL_FUNC_VISIBILITY aclError aclUpdateDataBuffer(aclDataBuffer* dataBuffer, void* data, size_t size);

/* The buffer's address; NULL for a NULL or unknown handle (and for an empty buffer). */
ACL_FUNC_VISIBILITY void* aclGetDataBufferAddr(const aclDataBuffer* dataBuffer);

/* The buffer's size in bytes; 0 for a NULL or unknown handle. */
ACL_FUNC_VISIBILITY size_t aclGetDataBufferSizeV2(const aclDataBuffer* dataBuffer);

/* Deprecated 32-bit form of aclGetDataBufferSizeV2; 0 (with an error text) when the size does
 * not fit in 32 bits. */
ACL_FUNC_VISIBILITY uint32_t aclGetDataBufferSize(const aclDataBuffer* dataBuffer);

/* Bytes per element of `dataType`; 0 for ACL_STRING, and 0 with an error text for
 * ACL_DT_UNDEFINED or a value outside the enum. */
ACL_FUNC_VISIBILITY size_t aclDataTypeSize(aclDataType dataType);

/* ---- tensor descriptions: dtype, format, dims and an optional name ---- */

/* Creates a description. numDims 0 makes a scalar (dims may then be NULL); a dim of 0 makes an
 * empty tensor; -1 marks a dynamic dim and a single -2 an unknown rank. numDims must be at most
 * 128 (ACL_MAX_DIM_CNT), dataType and format must be values of their enums. The dims are copied.
 * Returns NULL on failure. The caller owns the result: destroy with aclDestroyTensorDesc. */
ACL_FUNC_VISIBILITY aclTensorDesc* aclCreateTensorDesc(aclDataType dataType, int numDims, const int64_t* dims,
                                                       aclFormat format);

/* Destroys a description the caller created. A description owned by a dataset (from
 * aclmdlGetDatasetTensorDesc) is refused with an error text: the dataset frees it. */
ACL_FUNC_VISIBILITY void aclDestroyTensorDesc(const aclTensorDesc* desc);

/* Getters; fallbacks for a NULL or unknown handle are given per function. */
ACL_FUNC_VISIBILITY aclDataType aclGetTensorDescType(const aclTensorDesc* desc);  /* ACL_DT_UNDEFINED */
ACL_FUNC_VISIBILITY aclFormat aclGetTensorDescFormat(const aclTensorDesc* desc);  /* ACL_FORMAT_UNDEFINED */

/* Bytes the tensor occupies (element count x element size); 0 with an error text for a NULL
 * handle, dynamic dims, an unsized dtype or a size past 2^40 bytes. 0 without text when empty. */
ACL_FUNC_VISIBILITY size_t aclGetTensorDescSize(const aclTensorDesc* desc);

/* Product of the dims (1 for a scalar); 0 with an error text for a NULL handle or dynamic dims. */
ACL_FUNC_VISIBILITY size_t aclGetTensorDescElementCount(const aclTensorDesc* desc);

/* Number of dims; 0 with an error text for a NULL handle. */
ACL_FUNC_VISIBILITY size_t aclGetTensorDescNumDims(const aclTensorDesc* desc);

/* Writes dim `index` to *dimSize. ACL_ERROR_INVALID_PARAM for a NULL or unknown handle, a NULL
 * dimSize or index >= the number of dims. */
ACL_FUNC_VISIBILITY aclError aclGetTensorDescDimV2(const aclTensorDesc* desc, size_t index, int64_t* dimSize);

/* Deprecated: dim `index`, or -1 with an error text on any failure. */
ACL_FUNC_VISIBILITY int64_t aclGetTensorDescDim(const aclTensorDesc* desc, size_t index);

/* Copies `name` into the description. A NULL handle or NULL name sets an error text and changes
 * nothing. Invalidates pointers returned earlier by aclGetTensorDescName for this description. */
ACL_FUNC_VISIBILITY void aclSetTensorDescName(aclTensorDesc* desc, const char* name);

/* The description's name ("" when none was set), owned by the description: valid until it is
 * destroyed or renamed. NULL with an error text for a NULL or unknown handle. */
ACL_FUNC_VISIBILITY const char* aclGetTensorDescName(aclTensorDesc* desc);

#ifdef __cplusplus
}
#endif

#endif /* LIVEWEIGHT_ACL_ACL_BASE_H_ */

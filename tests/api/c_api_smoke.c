/* Compiled as C (not C++): proves acl/acl.h is valid C and that the C API links and runs from C.
 * A standalone program (no gtest): prints each failed check and exits non-zero if any failed.
 * Build: a C99 executable linked against the liveweight library; see the CMake note in
 * tests/api (the lead's report) for the wiring. */
#include "acl/acl.h"

#include <stdio.h>
#include <string.h>

static int g_failures = 0;

#define CHECK(cond)                                                 \
  do {                                                              \
    if (!(cond)) {                                                  \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++g_failures;                                                 \
    }                                                               \
  } while (0)

int main(void) {
  void* dev = NULL;
  float host[4] = {1.0f, 2.0f, 3.0f, 4.0f};
  float back[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  int64_t dims[2] = {2, 2};
  aclTensorDesc* desc;
  aclDataBuffer* buffer;
  aclmdlDataset* dataset;
  aclmdlIODims io_dims;
  aclrtRunMode mode = ACL_DEVICE;
  uint32_t model_id = 0;
  const char* text;

  CHECK(aclInit(NULL) == ACL_SUCCESS);
  CHECK(aclrtSetDevice(0) == ACL_SUCCESS);
  CHECK(aclrtGetRunMode(&mode) == ACL_SUCCESS && mode == ACL_HOST);

  CHECK(aclrtMalloc(&dev, sizeof host, ACL_MEM_MALLOC_HUGE_FIRST) == ACL_SUCCESS);
  CHECK(aclrtMemcpy(dev, sizeof host, host, sizeof host, ACL_MEMCPY_HOST_TO_DEVICE) == ACL_SUCCESS);
  CHECK(aclrtMemcpy(back, sizeof back, dev, sizeof back, ACL_MEMCPY_DEVICE_TO_HOST) == ACL_SUCCESS);
  CHECK(memcmp(host, back, sizeof host) == 0);
  CHECK(aclrtMemcpy(back, sizeof back, dev, sizeof back, ACL_MEMCPY_HOST_TO_DEVICE) == ACL_ERROR_INVALID_PARAM);
  text = aclGetRecentErrMsg();
  CHECK(text != NULL && strncmp(text, "aclrtMemcpy: ", 13) == 0);
  text = aclGetRecentErrMsg();
  CHECK(text != NULL && text[0] == '\0');

  desc = aclCreateTensorDesc(ACL_FLOAT, 2, dims, ACL_FORMAT_ND);
  CHECK(desc != NULL);
  CHECK(aclGetTensorDescSize(desc) == 16);
  buffer = aclCreateDataBuffer(dev, sizeof host);
  dataset = aclmdlCreateDataset();
  CHECK(aclmdlAddDatasetBuffer(dataset, buffer) == ACL_SUCCESS);
  CHECK(aclmdlSetDatasetTensorDesc(dataset, desc, 0) == ACL_SUCCESS);
  aclDestroyTensorDesc(desc);
  CHECK(aclGetTensorDescElementCount(aclmdlGetDatasetTensorDesc(dataset, 0)) == 4);
  CHECK(aclmdlDestroyDataset(dataset) == ACL_SUCCESS);
  CHECK(aclDestroyDataBuffer(buffer) == ACL_SUCCESS);

  CHECK(aclmdlBundleUnload(123456u) == ACL_ERROR_INVALID_BUNDLE_MODEL_ID);
  CHECK(aclmdlLoadFromFile("/nonexistent/model.om", &model_id) == ACL_ERROR_INVALID_FILE);
  CHECK(sizeof io_dims.name == ACL_MAX_TENSOR_NAME_LEN);
  CHECK(sizeof io_dims.dims / sizeof io_dims.dims[0] == ACL_MAX_DIM_CNT);

  CHECK(aclrtFree(dev) == ACL_SUCCESS);
  CHECK(aclrtResetDevice(0) == ACL_SUCCESS);
  CHECK(aclFinalize() == ACL_SUCCESS);
  (void)aclGetRecentErrMsg();

  if (g_failures == 0) printf("c_api_smoke: all checks passed\n");
  return g_failures == 0 ? 0 : 1;
}

/*
 * liveweight's AscendCL-compatible C API: datasets, model descriptions, loading and running
 * models and bundles. Plain C and C++. The conventions of acl_base.h apply.
 */
#ifndef LIVEWEIGHT_ACL_ACL_MDL_H_
#define LIVEWEIGHT_ACL_ACL_MDL_H_

#include <stddef.h>
#include <stdint.h>

#include "acl_base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ACL_MAX_DIM_CNT 128
#define ACL_MAX_TENSOR_NAME_LEN 128

typedef struct aclmdlDataset aclmdlDataset;
typedef struct aclmdlDesc aclmdlDesc;

/* One input's or output's name and dims. A dim of -1 is dynamic; an unknown rank is reported as
 * dimCount 1 with dims[0] == -2. Names longer than 127 bytes are truncated; name is always
 * NUL-terminated. */
typedef struct aclmdlIODims {
  char name[ACL_MAX_TENSOR_NAME_LEN];
  size_t dimCount;
  int64_t dims[ACL_MAX_DIM_CNT];
} aclmdlIODims;

/* ---- datasets: an ordered list of {data buffer, optional tensor description} ---- */

/* Creates an empty dataset (NULL on failure). The caller owns it: destroy with
 * aclmdlDestroyDataset. An empty dataset is how a model without inputs (or outputs) is run. */
ACL_FUNC_VISIBILITY aclmdlDataset* aclmdlCreateDataset(void);

/* Destroys the dataset and the tensor descriptions it holds; the data buffers it lists are not
 * destroyed (they stay the caller's). */
ACL_FUNC_VISIBILITY aclError aclmdlDestroyDataset(const aclmdlDataset* dataset);

/* Appends a data buffer (not copied, not owned: keep it alive while the dataset is used). */
ACL_FUNC_VISIBILITY aclError aclmdlAddDatasetBuffer(aclmdlDataset* dataset, aclDataBuffer* dataBuffer);

/* Number of buffers; 0 with an error text for a NULL or unknown dataset. */
ACL_FUNC_VISIBILITY size_t aclmdlGetDatasetNumBuffers(const aclmdlDataset* dataset);

/* Buffer `index`; NULL with an error text when out of range, for a bad dataset, or when the
 * buffer at `index` was destroyed after it was added. */
ACL_FUNC_VISIBILITY aclDataBuffer* aclmdlGetDatasetBuffer(const aclmdlDataset* dataset, size_t index);

/* Sets the tensor description of slot `index` (a buffer must already be there). The description
 * is deep-copied, so the caller may destroy its own right away; NULL clears the slot's
 * description. For inputs only the dims are used (dtype and format are ignored). */
ACL_FUNC_VISIBILITY aclError aclmdlSetDatasetTensorDesc(aclmdlDataset* dataset, aclTensorDesc* tensorDesc,
                                                        size_t index);

/* The description of slot `index`, owned by the dataset (do not destroy it): valid until the slot's
 * description is set again or the dataset is destroyed; aclmdlExecute updates an output
 * dataset's descriptions in place. NULL when none is set (no error text), NULL with an error text
 * when out of range or for a bad dataset. */
ACL_FUNC_VISIBILITY aclTensorDesc* aclmdlGetDatasetTensorDesc(const aclmdlDataset* dataset, size_t index);

/* ---- model descriptions ---- */

/* Creates an empty model description (NULL on failure); fill it with aclmdlGetDesc. The caller owns
 * it: destroy with aclmdlDestroyDesc. */
ACL_FUNC_VISIBILITY aclmdlDesc* aclmdlCreateDesc(void);

ACL_FUNC_VISIBILITY aclError aclmdlDestroyDesc(aclmdlDesc* modelDesc);

/* Fills the description with loaded model `modelId`'s inputs and outputs. The description keeps
 * its own copy: it stays readable after the model is unloaded. */
ACL_FUNC_VISIBILITY aclError aclmdlGetDesc(aclmdlDesc* modelDesc, uint32_t modelId);

/* Counts; 0 with an error text for a bad or unfilled description. */
ACL_FUNC_VISIBILITY size_t aclmdlGetNumInputs(aclmdlDesc* modelDesc);
ACL_FUNC_VISIBILITY size_t aclmdlGetNumOutputs(aclmdlDesc* modelDesc);

/* Bytes of input/output `index`; 0 when a dim is dynamic (no error text), 0 with an error text
 * for a bad description or an index out of range. */
ACL_FUNC_VISIBILITY size_t aclmdlGetInputSizeByIndex(aclmdlDesc* modelDesc, size_t index);
ACL_FUNC_VISIBILITY size_t aclmdlGetOutputSizeByIndex(aclmdlDesc* modelDesc, size_t index);

/* Writes the name and the dims as built into the model (-1 = dynamic) to *dims. */
ACL_FUNC_VISIBILITY aclError aclmdlGetInputDims(const aclmdlDesc* modelDesc, size_t index, aclmdlIODims* dims);
ACL_FUNC_VISIBILITY aclError aclmdlGetOutputDims(const aclmdlDesc* modelDesc, size_t index, aclmdlIODims* dims);

/* Like aclmdlGetOutputDims, but the dims the model's most recent successful aclmdlExecute (from any
 * thread) produced; the built-in dims when it has not run yet. */
ACL_FUNC_VISIBILITY aclError aclmdlGetCurOutputDims(const aclmdlDesc* modelDesc, size_t index, aclmdlIODims* dims);

/* Names, owned by the description and valid while it lives (even after another aclmdlGetDesc on
 * it). NULL with an error text for a bad description or an index out of range. */
ACL_FUNC_VISIBILITY const char* aclmdlGetInputNameByIndex(const aclmdlDesc* modelDesc, size_t index);
ACL_FUNC_VISIBILITY const char* aclmdlGetOutputNameByIndex(const aclmdlDesc* modelDesc, size_t index);

/* Formats and dtypes; ACL_FORMAT_UNDEFINED / ACL_DT_UNDEFINED with an error text on failure. */
ACL_FUNC_VISIBILITY aclFormat aclmdlGetInputFormat(const aclmdlDesc* modelDesc, size_t index);
ACL_FUNC_VISIBILITY aclFormat aclmdlGetOutputFormat(const aclmdlDesc* modelDesc, size_t index);
ACL_FUNC_VISIBILITY aclDataType aclmdlGetInputDataType(const aclmdlDesc* modelDesc, size_t index);
ACL_FUNC_VISIBILITY aclDataType aclmdlGetOutputDataType(const aclmdlDesc* modelDesc, size_t index);

/* Position of the input/output called `name`; ACL_ERROR_INVALID_PARAM for a NULL or unknown name. */
ACL_FUNC_VISIBILITY aclError aclmdlGetInputIndexByName(const aclmdlDesc* modelDesc, const char* name, size_t* index);
ACL_FUNC_VISIBILITY aclError aclmdlGetOutputIndexByName(const aclmdlDesc* modelDesc, const char* name,
                                                        size_t* index);

/* ---- plain models ---- (need aclInit: ACL_ERROR_UNINITIALIZE otherwise) */

/* Loads a single-graph model file and writes its id. A bundle file is refused. */
ACL_FUNC_VISIBILITY aclError aclmdlLoadFromFile(const char* modelPath, uint32_t* modelId);

/* Same from memory; the bytes are copied, so the caller may free `model` when this returns. */
ACL_FUNC_VISIBILITY aclError aclmdlLoadFromMem(const void* model, size_t modelSize, uint32_t* modelId);

/* Runs model `modelId` synchronously. `input` and `output` must be live datasets (empty ones for a
 * model without inputs or outputs) with one buffer per model input / output; an input slot's
 * tensor description, when set, gives that input's dims. On success each output slot's
 * description holds the output's real dims (the model's dtype, ACL_FORMAT_ND). Several threads may
 * run the same model at once with different datasets. */
ACL_FUNC_VISIBILITY aclError aclmdlExecute(uint32_t modelId, const aclmdlDataset* input, aclmdlDataset* output);

/* aclmdlExecute queued on `stream` (NULL: runs now, synchronously). The model id and the datasets
 * are checked now; the buffers and input dims are taken now, and the model runs when the stream
 * reaches it. Its failure, if any, is returned by aclrtSynchronizeStream. The output dataset's
 * descriptions are written when the run finishes: read them after synchronizing. */
ACL_FUNC_VISIBILITY aclError aclmdlExecuteAsync(uint32_t modelId, const aclmdlDataset* input, aclmdlDataset* output,
                                                aclrtStream stream);

/* Unloads a plain model. A model id that belongs to a bundle is ACL_ERROR_INVALID_PARAM (use
 * aclmdlBundleUnload); a bundle id unloads the whole bundle. */
ACL_FUNC_VISIBILITY aclError aclmdlUnload(uint32_t modelId);

/* ---- bundles: several graphs sharing weight variables ---- (need aclInit) */

/* Loads a bundle file (at least two graphs) and writes its id. A plain model file is refused. */
ACL_FUNC_VISIBILITY aclError aclmdlBundleLoadFromFile(const char* modelPath, uint32_t* bundleId);

/* Same from memory; the bytes are copied. */
ACL_FUNC_VISIBILITY aclError aclmdlBundleLoadFromMem(const void* model, size_t modelSize, uint32_t* bundleId);

/* Number of graphs in the bundle. ACL_ERROR_INVALID_BUNDLE_MODEL_ID for an unknown bundle id. */
ACL_FUNC_VISIBILITY aclError aclmdlBundleGetModelNum(uint32_t bundleId, size_t* modelNum);

/* Model id of graph `index` (its position in the bundle build's list: by convention 0 inference,
 * 1 weight init, 2 weight update). index >= the model count is ACL_ERROR_INVALID_PARAM. */
ACL_FUNC_VISIBILITY aclError aclmdlBundleGetModelId(uint32_t bundleId, size_t index, uint32_t* modelId);

/* Unloads every graph of the bundle and frees its variables. */
ACL_FUNC_VISIBILITY aclError aclmdlBundleUnload(uint32_t bundleId);

#ifdef __cplusplus
}
#endif

#endif /* LIVEWEIGHT_ACL_ACL_MDL_H_ */

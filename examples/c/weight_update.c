/*
 * The pyACL weight-update guide's ten steps, in C against the AscendCL API.
 *
 *   weight_update BUNDLE.om DATA_DIR [CONFIG.json]
 *
 * BUNDLE.om is the digits classifier built with `lw build examples/models/digits.onnx`; DATA_DIR
 * (examples/models) holds the test set (digits_test.json, digits_test_x.bin, digits_test_y.bin)
 * and the second weight set (digits_b/manifest.json and one raw float32 file per weight).
 *
 * It runs init + inference (weights A), a partial update that skips weight 0 + inference, and a
 * full update + inference (weights B), printing each step's time and the accuracies, and checks
 * its own results: the accuracies must match the ones PyTorch recorded in digits_test.json, and
 * the partial update must really have skipped weight 0. Exit status 0 means every check passed.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl/acl.h"

#define MAX_WEIGHTS 64
#define MAX_DIMS 8

static int g_failures = 0;

#define CHECK_ACL(call)                                                                     \
  do {                                                                                      \
    aclError check_ret_ = (call);                                                           \
    if (check_ret_ != ACL_SUCCESS) {                                                        \
      fprintf(stderr, "%s:%d: %s failed with %d: %s\n", __FILE__, __LINE__, #call,          \
              (int)check_ret_, aclGetRecentErrMsg());                                       \
      exit(1);                                                                              \
    }                                                                                       \
  } while (0)

static void expect(int ok, const char* what) {
  printf("  check: %-58s %s\n", what, ok ? "ok" : "FAILED");
  if (!ok) ++g_failures;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- small file and JSON helpers (the data files are ours, so a tiny scanner is enough) ---- */

static char* read_file(const char* dir, const char* name, size_t* size) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE* f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cannot open %s\n", path);
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char* data = malloc((size_t)n + 1);
  if (!data || fread(data, 1, (size_t)n, f) != (size_t)n) {
    fprintf(stderr, "cannot read %s\n", path);
    exit(1);
  }
  fclose(f);
  data[n] = '\0';
  if (size) *size = (size_t)n;
  return data;
}

/* The number after "key": in text, or exits. */
static double json_number(const char* text, const char* key) {
  char pattern[128];
  snprintf(pattern, sizeof pattern, "\"%s\"", key);
  const char* p = strstr(text, pattern);
  if (!p || !(p = strchr(p + strlen(pattern), ':'))) {
    fprintf(stderr, "key %s not found\n", key);
    exit(1);
  }
  return strtod(p + 1, NULL);
}

/* The string after "key": starting the search at text; returns a pointer past it. */
static const char* json_string(const char* text, const char* key, char* out, size_t cap) {
  char pattern[128];
  snprintf(pattern, sizeof pattern, "\"%s\"", key);
  const char* p = strstr(text, pattern);
  if (!p || !(p = strchr(p + strlen(pattern), '"'))) return NULL;
  const char* end = strchr(p + 1, '"');
  size_t n = (size_t)(end - p - 1);
  if (!end || n >= cap) return NULL;
  memcpy(out, p + 1, n);
  out[n] = '\0';
  return end + 1;
}

typedef struct {
  char name[256];
  char file[256];
  int64_t dims[MAX_DIMS];
  int num_dims;
  void* device; /* the weight in device memory */
  size_t bytes;
} Weight;

static int read_manifest(const char* dir, Weight* weights) {
  char* text = read_file(dir, "digits_b/manifest.json", NULL);
  const char* p = text;
  int n = 0;
  while (n < MAX_WEIGHTS && (p = json_string(p, "name", weights[n].name, sizeof weights[n].name)) != NULL) {
    const char* shape = strchr(strstr(p, "\"shape\""), '[');
    const char* close = strchr(shape, ']');
    weights[n].num_dims = 0;
    for (const char* q = shape + 1; q < close && weights[n].num_dims < MAX_DIMS;) {
      char* after;
      long long d = strtoll(q, &after, 10);
      if (after == q) {
        ++q;
        continue;
      }
      weights[n].dims[weights[n].num_dims++] = d;
      q = after;
    }
    p = json_string(close, "file", weights[n].file, sizeof weights[n].file);
    ++n;
  }
  free(text);
  return n;
}

/* ---- the model ---- */

typedef struct {
  uint32_t infer_id, init_id, update_id;
  aclmdlDesc* update_desc;
  int count, padded, batch, features, classes;
  void* x_device; /* the whole padded test set */
  int32_t* labels;
} Demo;

/* Classifies the test set batch by batch; returns the accuracy and keeps the logits. */
static double evaluate(const Demo* d, float* logits_out) {
  size_t in_bytes = (size_t)d->batch * d->features * sizeof(float);
  size_t out_bytes = (size_t)d->batch * d->classes * sizeof(float);
  void* y_device = NULL;
  CHECK_ACL(aclrtMalloc(&y_device, out_bytes, ACL_MEM_MALLOC_HUGE_FIRST));
  aclmdlDataset* input = aclmdlCreateDataset();
  aclmdlDataset* output = aclmdlCreateDataset();
  aclDataBuffer* x_buf = aclCreateDataBuffer(d->x_device, in_bytes);
  aclDataBuffer* y_buf = aclCreateDataBuffer(y_device, out_bytes);
  CHECK_ACL(aclmdlAddDatasetBuffer(input, x_buf));
  CHECK_ACL(aclmdlAddDatasetBuffer(output, y_buf));

  int correct = 0;
  for (int b = 0; b < d->padded / d->batch; ++b) {
    CHECK_ACL(aclUpdateDataBuffer(x_buf, (char*)d->x_device + (size_t)b * in_bytes, in_bytes));
    CHECK_ACL(aclmdlExecute(d->infer_id, input, output));
    float* logits = logits_out + (size_t)b * d->batch * d->classes;
    CHECK_ACL(aclrtMemcpy(logits, out_bytes, y_device, out_bytes, ACL_MEMCPY_DEVICE_TO_HOST));
    for (int i = 0; i < d->batch; ++i) {
      int row = b * d->batch + i;
      if (row >= d->count) break;
      int best = 0;
      for (int c = 1; c < d->classes; ++c)
        if (logits[i * d->classes + c] > logits[i * d->classes + best]) best = c;
      correct += best == d->labels[row];
    }
  }
  CHECK_ACL(aclDestroyDataBuffer(x_buf));
  CHECK_ACL(aclDestroyDataBuffer(y_buf));
  CHECK_ACL(aclmdlDestroyDataset(input));
  CHECK_ACL(aclmdlDestroyDataset(output));
  CHECK_ACL(aclrtFree(y_device));
  return (double)correct / d->count;
}

/* Steps 6 and 7: one tensor desc per update input (dims [0] skips), then run the update graph. */
static void update_weights(const Demo* d, Weight* weights, int num_weights, const char* skip_name) {
  size_t num_inputs = aclmdlGetNumInputs(d->update_desc);
  aclmdlDataset* input = aclmdlCreateDataset();
  aclmdlDataset* output = aclmdlCreateDataset(); /* the update graph has no outputs */
  aclDataBuffer* buffers[MAX_WEIGHTS] = {0};
  for (size_t i = 0; i < num_inputs; ++i) {
    buffers[i] = aclCreateDataBuffer(NULL, 0);
    CHECK_ACL(aclmdlAddDatasetBuffer(input, buffers[i]));
  }
  for (int w = 0; w < num_weights; ++w) {
    char input_name[300];
    size_t index = 0;
    snprintf(input_name, sizeof input_name, "%s_var_data", weights[w].name);
    CHECK_ACL(aclmdlGetInputIndexByName(d->update_desc, input_name, &index));
    CHECK_ACL(aclUpdateDataBuffer(buffers[index], weights[w].device, weights[w].bytes));
    int skip = skip_name && strcmp(weights[w].name, skip_name) == 0;
    int64_t empty[1] = {0};
    aclTensorDesc* desc = skip ? aclCreateTensorDesc(ACL_FLOAT, 1, empty, ACL_FORMAT_ND)
                               : aclCreateTensorDesc(ACL_FLOAT, weights[w].num_dims, weights[w].dims, ACL_FORMAT_ND);
    CHECK_ACL(aclmdlSetDatasetTensorDesc(input, desc, index));
    aclDestroyTensorDesc(desc);
  }
  CHECK_ACL(aclmdlExecute(d->update_id, input, output));
  for (size_t i = 0; i < num_inputs; ++i) CHECK_ACL(aclDestroyDataBuffer(buffers[i]));
  CHECK_ACL(aclmdlDestroyDataset(input));
  CHECK_ACL(aclmdlDestroyDataset(output));
}

static void* to_device(const void* host, size_t bytes) {
  void* dev = NULL;
  CHECK_ACL(aclrtMalloc(&dev, bytes, ACL_MEM_MALLOC_HUGE_FIRST));
  CHECK_ACL(aclrtMemcpy(dev, bytes, host, bytes, ACL_MEMCPY_HOST_TO_DEVICE));
  return dev;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s BUNDLE.om DATA_DIR [CONFIG.json]\n", argv[0]);
    return 2;
  }
  const char* bundle_path = argv[1];
  const char* dir = argv[2];
  Demo d;
  memset(&d, 0, sizeof d);
  double t;

  char* meta = read_file(dir, "digits_test.json", NULL);
  d.count = (int)json_number(meta, "count");
  d.padded = (int)json_number(meta, "padded_count");
  d.batch = (int)json_number(meta, "batch");
  d.features = (int)json_number(meta, "features");
  d.classes = (int)json_number(meta, "classes");
  double expected_a = json_number(meta, "accuracy_a");
  double expected_b = json_number(meta, "accuracy_b");
  free(meta);

  printf("liveweight weight-update demo: digits classifier, %d test images\n", d.count);

  /* 1. Initialize resources. */
  t = now_ms();
  CHECK_ACL(aclInit(argc > 3 ? argv[3] : NULL));
  CHECK_ACL(aclrtSetDevice(0));
  printf("1. aclInit + aclrtSetDevice                 %8.3f ms\n", now_ms() - t);

  size_t x_bytes = 0;
  char* x_host = read_file(dir, "digits_test_x.bin", &x_bytes);
  d.x_device = to_device(x_host, x_bytes);
  free(x_host);
  d.labels = (int32_t*)read_file(dir, "digits_test_y.bin", NULL);
  Weight weights[MAX_WEIGHTS];
  int num_weights = read_manifest(dir, weights);
  for (int w = 0; w < num_weights; ++w) {
    char name[300];
    snprintf(name, sizeof name, "digits_b/%s", weights[w].file);
    char* host = read_file(dir, name, &weights[w].bytes);
    weights[w].device = to_device(host, weights[w].bytes);
    free(host);
  }

  /* 2. Load the bundle: inference, weight-init and weight-update graphs. */
  uint32_t bundle_id = 0;
  t = now_ms();
  CHECK_ACL(aclmdlBundleLoadFromFile(bundle_path, &bundle_id));
  printf("2. aclmdlBundleLoadFromFile                 %8.3f ms\n", now_ms() - t);

  /* 3. The id of each graph: index = position in the build list. */
  size_t model_num = 0;
  CHECK_ACL(aclmdlBundleGetModelNum(bundle_id, &model_num));
  expect(model_num == 3, "the bundle holds 3 graphs");
  CHECK_ACL(aclmdlBundleGetModelId(bundle_id, 0, &d.infer_id));
  CHECK_ACL(aclmdlBundleGetModelId(bundle_id, 1, &d.init_id));
  CHECK_ACL(aclmdlBundleGetModelId(bundle_id, 2, &d.update_id));
  d.update_desc = aclmdlCreateDesc();
  CHECK_ACL(aclmdlGetDesc(d.update_desc, d.update_id));
  printf("3. graphs: inference %u, init %u, update %u (%zu weights)\n", d.infer_id, d.init_id, d.update_id,
         aclmdlGetNumInputs(d.update_desc));

  /* 4. Execute the weight-init graph (no inputs, no outputs: empty datasets). */
  aclmdlDataset* none_in = aclmdlCreateDataset();
  aclmdlDataset* none_out = aclmdlCreateDataset();
  t = now_ms();
  CHECK_ACL(aclmdlExecute(d.init_id, none_in, none_out));
  printf("4. execute weight-init graph                %8.3f ms\n", now_ms() - t);
  CHECK_ACL(aclmdlDestroyDataset(none_in));
  CHECK_ACL(aclmdlDestroyDataset(none_out));

  /* 5. Execute the inference graph. */
  size_t logits_count = (size_t)d.padded * d.classes;
  float* logits_a = calloc(logits_count, sizeof(float));
  float* logits_partial = calloc(logits_count, sizeof(float));
  float* logits_b = calloc(logits_count, sizeof(float));
  t = now_ms();
  double acc_a = evaluate(&d, logits_a);
  printf("5. inference, initial weights               %8.3f ms   accuracy %.2f%%  (first run: starts the thread pool)\n",
         now_ms() - t, 100 * acc_a);
  expect(fabs(acc_a - expected_a) <= 1.5 / d.count, "accuracy with weights A matches PyTorch");

  /* 6-8. Update every weight but weight 0 (dims [0]), then infer. */
  t = now_ms();
  update_weights(&d, weights, num_weights, weights[0].name);
  printf("6-7. update, skipping '%s'         %8.3f ms\n", weights[0].name, now_ms() - t);
  t = now_ms();
  double acc_partial = evaluate(&d, logits_partial);
  printf("8. inference, partial update                %8.3f ms   accuracy %.2f%%\n", now_ms() - t, 100 * acc_partial);

  /* 6-8 again: refresh every weight. */
  t = now_ms();
  update_weights(&d, weights, num_weights, NULL);
  printf("6-7. update, all %d weights                  %8.3f ms\n", num_weights, now_ms() - t);
  t = now_ms();
  double acc_b = evaluate(&d, logits_b);
  printf("8. inference, second weight set             %8.3f ms   accuracy %.2f%%\n", now_ms() - t, 100 * acc_b);
  expect(fabs(acc_b - expected_b) <= 1.5 / d.count, "accuracy with weights B matches PyTorch");
  expect(memcmp(logits_partial, logits_b, logits_count * sizeof(float)) != 0,
         "the partial update kept weight 0 (its outputs differ)");
  expect(memcmp(logits_partial, logits_a, logits_count * sizeof(float)) != 0,
         "the partial update changed the other weights");

  /* 9. Unload the bundle (the guide calls aclmdlUnload with the bundle id). */
  aclmdlDestroyDesc(d.update_desc);
  t = now_ms();
  CHECK_ACL(aclmdlUnload(bundle_id));
  printf("9. unload                                   %8.3f ms\n", now_ms() - t);

  /* 10. Destroy allocations. */
  for (int w = 0; w < num_weights; ++w) CHECK_ACL(aclrtFree(weights[w].device));
  CHECK_ACL(aclrtFree(d.x_device));
  free(d.labels);
  free(logits_a);
  free(logits_partial);
  free(logits_b);
  CHECK_ACL(aclrtResetDevice(0));
  CHECK_ACL(aclFinalize());
  printf("10. reset device, finalize\n");

  if (g_failures) {
    printf("%d check(s) FAILED\n", g_failures);
    return 1;
  }
  printf("all checks passed\n");
  return 0;
}

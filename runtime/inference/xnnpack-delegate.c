/*
 * External-delegate plugin that turns on XNNPACK in the TFLite 2.9.0 runtime bundled with
 * tfjs-tflite-node. The binding's default interpreter never applies XNNPACK (about 8x slower on
 * conv nets, runtime.md §0); it only accepts one delegate, loaded from a shared library through
 * TfLiteExternalDelegateCreate, which calls the two functions below.
 *
 * Built by scripts/build-native.mjs into dist/native/libsidewalk_xnnpack.so, linked against the
 * same libtensorflowlite_c.so the binding uses (rpath), so there is one TFLite in the process.
 * Options: num_threads (0..64), flags (XNNPACK delegate flag bits, 0..3).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensorflow/lite/c/common.h"

/*
 * xnnpack_delegate.h is not shipped in cc_deps/include. In 2.9.0 the options struct is
 * { int32_t num_threads; uint32_t flags; } (8 bytes): TfLiteXNNPackDelegateOptionsDefault
 * returns it in one register and TfLiteXNNPackDelegateCreate reads 8 bytes (checked by disassembly
 * of the linux_amd64 library; the linux_arm64 one is built from the same 2.9.0 source).
 */
typedef struct {
  int32_t num_threads;
  uint32_t flags;
} SidewalkXnnpackOptions;

extern SidewalkXnnpackOptions TfLiteXNNPackDelegateOptionsDefault(void);
extern TfLiteDelegate* TfLiteXNNPackDelegateCreate(const SidewalkXnnpackOptions* options);
extern void TfLiteXNNPackDelegateDelete(TfLiteDelegate* delegate);

__attribute__((visibility("default")))
TfLiteDelegate* tflite_plugin_create_delegate(char** options_keys, char** options_values, size_t num_options,
                                              void (*report_error)(const char*)) {
  SidewalkXnnpackOptions options = TfLiteXNNPackDelegateOptionsDefault();
  for (size_t i = 0; i < num_options; i++) {
    if (strcmp(options_keys[i], "num_threads") == 0) {
      char* end = NULL;
      long threads = strtol(options_values[i], &end, 10);
      if (end == options_values[i] || *end != '\0' || threads < 0 || threads > 64) {
        if (report_error) report_error("sidewalk_xnnpack: num_threads must be an integer 0..64");
        return NULL;
      }
      options.num_threads = (int32_t)threads;
    } else if (strcmp(options_keys[i], "flags") == 0) {
      /* 2.9 bits: 1 = QS8 (signed int8 ops), 2 = QU8 (unsigned int8 ops); off by default. */
      char* end = NULL;
      unsigned long flags = strtoul(options_values[i], &end, 10);
      if (end == options_values[i] || *end != '\0' || flags > 3) {
        if (report_error) report_error("sidewalk_xnnpack: flags must be an integer 0..3");
        return NULL;
      }
      options.flags |= (uint32_t)flags;
    } else {
      char message[160];
      snprintf(message, sizeof message, "sidewalk_xnnpack: unknown option '%s'", options_keys[i]);
      if (report_error) report_error(message);
      return NULL;
    }
  }
  return TfLiteXNNPackDelegateCreate(&options);
}

__attribute__((visibility("default")))
void tflite_plugin_destroy_delegate(TfLiteDelegate* delegate) {
  TfLiteXNNPackDelegateDelete(delegate);
}

// Starts libFuzzer from a Swift executable target.
//
// SwiftPM links a Swift executable with `--defsym main=<Target>_main`, so
// libFuzzer's own `main` is never called. Each fuzz target therefore defines
// `<Target>_main` with @_cdecl and hands over to libFuzzer's driver here.
#ifndef PURSER_FUZZ_DRIVER_H
#define PURSER_FUZZ_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/// The signature of `LLVMFuzzerTestOneInput`.
typedef int (*purser_fuzz_test_one_input)(const uint8_t *data, size_t size);

/// Runs libFuzzer's command-line driver (`LLVMFuzzerRunDriver`) with the
/// process's arguments and the given test function; returns its exit code.
int purser_fuzz_run_driver(int argc, char **argv, purser_fuzz_test_one_input test);

#endif

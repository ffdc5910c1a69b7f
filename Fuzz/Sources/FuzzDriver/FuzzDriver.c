#include "FuzzDriver.h"

// Provided by libclang_rt.fuzzer (linked by `-sanitize=fuzzer`).
extern int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*test)(const uint8_t *data, size_t size));

int purser_fuzz_run_driver(int argc, char **argv, purser_fuzz_test_one_input test) {
    return LLVMFuzzerRunDriver(&argc, &argv, test);
}

import PurserFuzzing

// The harness is PurserFuzzing's `fuzzYAML` (Sources/PurserFuzzing/YAMLFuzzTarget.swift in the
// main package, where it can reach the package's internals and its seeds run as tests).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzYAML(data, size)
}

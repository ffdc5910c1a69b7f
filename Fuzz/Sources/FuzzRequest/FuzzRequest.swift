import PurserFuzzing

// The harness is PurserFuzzing's `fuzzRequest` (Sources/PurserFuzzing/RequestFuzzTarget.swift in the
// main package, where it can reach the package's internals and its seeds run as tests).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzRequest(data, size)
}

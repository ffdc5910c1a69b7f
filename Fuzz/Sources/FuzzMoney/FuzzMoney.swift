import PurserFuzzing

// The harness is PurserFuzzing's `fuzzMoney` (Sources/PurserFuzzing/MoneyFuzzTarget.swift in the
// main package, where it can reach the package's internals and its seeds run as tests).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzMoney(data, size)
}

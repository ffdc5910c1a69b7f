import FuzzDriver

/// The process entry point: SwiftPM links this target with
/// `--defsym main=FuzzMoney_main`, so it starts libFuzzer's driver itself.
@_cdecl("FuzzMoney_main")
public func fuzzMoneyMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    purser_fuzz_run_driver(argc, argv) { data, size in
        guard let data else { return 0 }
        return fuzz(data, size)
    }
}

import FuzzDriver

/// The process entry point: SwiftPM links this target with
/// `--defsym main=FuzzYAML_main`, so it starts libFuzzer's driver itself.
@_cdecl("FuzzYAML_main")
public func fuzzYAMLMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    purser_fuzz_run_driver(argc, argv) { data, size in
        guard let data else { return 0 }
        return fuzz(data, size)
    }
}

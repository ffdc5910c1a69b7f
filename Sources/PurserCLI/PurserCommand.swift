import PurserAudit
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Purser
import PurserPolicyCommands

/// `purser`: the root command. Subcommands do the work; this file only
/// wires them and maps errors to the exit codes of docs/cli.md, "Exit codes".
struct PurserCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purser",
        abstract: "Enforce LLM usage policy: approved models, budgets, regions.",
        discussion: """
            Policies are YAML files (default directory: ./policies). Typical use:

              purser check policies/            validate policy files (pre-commit, CI)
              purser explain unknown-key        what a check diagnostic means, with examples
              purser schema > schema.json       the policy language's JSON Schema, for editors
              purser eval requests.jsonl        decide requests as a gateway would
              purser test policies/             run the policy's *.test.yaml cases
              purser audit logs/*.jsonl         replay usage logs and report what broke policy
              purser ledger show --ledger sqlite:ledger.db   budget counters against their caps
              purser serve --policy policies/   decisions over HTTP for a gateway (docs/api.md)
              purser verify-log --public-key k.pub decisions/   check a decision log's chain and signatures

            Exit codes: 0 clean, 1 violations or errors found, 2 bad invocation,
            unreadable input or invalid policy.
            """,
        version: PurserVersion.current,
        subcommands: [Check.self, Explain.self, SchemaCommand.self, Eval.self, TestCommand.self, Audit.self, Generate.self, LedgerCommand.self,
                      Serve.self, VerifyLog.self, Keygen.self]
    )
}

@main
enum Main {
    static func main() {
        MallocTuning.keepLargeBuffers()
        ToolMain.run(PurserCommand.self)
    }
}

/// glibc malloc settings for Purser's allocation pattern.
enum MallocTuning {
    /// Audits and evals allocate and free buffers of a few MB at a high rate (chunks
    /// read, records decoded, decisions written). glibc maps each such buffer afresh
    /// (and the kernel faults in and zeroes every page); keeping them on the heap,
    /// and freed memory for reuse, saves that. `mallopt` is looked up at run time
    /// (the Glibc module does not import malloc.h); nothing happens without it.
    static func keepLargeBuffers() {
        #if canImport(Glibc)
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(nil, "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        let trimThreshold: Int32 = -1, mmapThreshold: Int32 = -3  // M_TRIM_THRESHOLD, M_MMAP_THRESHOLD (malloc.h)
        _ = mallopt(mmapThreshold, 32 << 20)
        _ = mallopt(trimThreshold, 512 << 20)
        #endif
    }
}

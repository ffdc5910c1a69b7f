import PurserAudit
import ArgumentParser
import Dispatch
import Purser
import PurserPolicyCommands
import PurserYAML
import Synchronization

/// `purser eval`: decisions for requests, as a gateway would get them.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decide requests: one JSON request, or a JSON Lines stream.",
        discussion: """
            Reads a request or one request per line and writes one decision per
            request (docs/wire-formats.md). A line that is not a valid request becomes
            {"error": …, "line": N, "column": C}, and the rest go on.

            Without --ledger nothing is counted: every request is evaluated against
            empty budget counters. With --ledger URL, requests are authorized in
            order and allowed ones settled at their estimated cost, so earlier
            requests count against the budgets of later ones: in memory (memory:),
            in a SQLite file that keeps the spend for the next run and for other
            processes (sqlite:PATH), or in PostgreSQL, shared by a fleet
            (postgres://USER@HOST/DATABASE, after purser ledger migrate; see
            purser ledger show).

            Exit codes: 0 every request allowed; 1 some denied; 2 a malformed request,
            an unreadable input or an invalid policy.

            Examples:
              echo '{"team":"payments","environment":"qa","model":"claude-opus-4-5"}' | purser eval
              purser eval --policy policies/ examples/requests/requests.jsonl
              purser eval --ledger memory: --now 2026-11-23T10:00:00Z requests.jsonl
              purser eval --ledger sqlite:ledger.db requests.jsonl
              purser eval --decision-log decisions/ --decision-log-key gw.key requests.jsonl

            With --decision-log, every decision is also appended to a tamper-evident
            log (event evaluate, or authorize with --ledger) that purser verify-log
            checks (docs/decision-log.md).
            """
    )

    @Option(help: "The policy files or directories.")
    var policy: [String] = ["policies"]

    @Argument(help: "A JSON or JSON Lines file of requests, or - for standard input.")
    var input: String = "-"

    @Option(help: ArgumentHelp("Count spend in a ledger: memory:, sqlite:PATH or postgres://USER@HOST/DB (authorize, then settle at the estimate).",
                               valueName: "url"), transform: LedgerURL.parse)
    var ledger: LedgerLocation?

    @Option(name: .shortAndLong, help: "Write decisions to a file instead of standard output (whole or not at all; never one of the inputs).")
    var output: String?

    @Option(help: ArgumentHelp("Use this time for requests without a timestamp (default: the clock).", valueName: "time"))
    var now: NowOption?

    @Option(help: "Threads for evaluation without a ledger (default: the number of cores).")
    var jobs: Int = SystemCalls.processorCount

    @OptionGroup var reading: PolicyReadOptions

    @OptionGroup var logging: DecisionLogOptions

    private static let chunkSize = 4 << 20

    func run() throws {
        let policy = try PolicyLoading.load(self.policy, now: now?.timestamp, output: output, reading: reading)
        try Output.refuseOverwriting(output, inputs: [input])
        let store = try ledger.flatMap { $0 == .memory ? nil : try LedgerOpening.open($0) }
        let enforcer = try PolicyLoading.enforcer(policy, ledger: store, now: now?.timestamp)
        let batch = BatchEvaluator(enforcer: enforcer, mode: ledger == nil ? .evaluate : .authorizeAndSettle)
        let recorder = try logging.open(event: ledger == nil ? "evaluate" : "authorize", time: now?.timestamp)
        let reader = try ChunkReader(input)
        let writer = try OutputWriter(output)
        defer { writer.close() }
        var counts = BatchEvaluator.Counts()

        var pending = try reader.read(Self.chunkSize)
        // A leading UTF-8 byte order mark (as some Windows editors write) is skipped.
        if pending.starts(with: [0xEF, 0xBB, 0xBF]) { pending.removeFirst(3) }
        if reader.isAtEnd, Self.isSingleDocument(pending) {
            // The whole input is one JSON request spread over several lines.
            let request: Request
            do {
                request = try RequestDecoder.decode(pending)
            } catch {
                let mark = pending.withUnsafeBufferPointer { YAMLMark(byteOffset: error.offset, in: $0) }
                let json = JSONWriter(capacity: 256)
                json.object { json in
                    json.field("error", error.message)
                    json.field("line", mark.line)
                    json.field("column", mark.column)
                }
                json.newline()
                try writer.write(json.bytes)
                try writer.commit()
                try recorder?.record(json.bytes)
                try recorder?.close()
                Output.error("purser: \(displayName):\(mark.line):\(mark.column): \(error.message)")
                throw ExitCode(2)
            }
            let decision = batch.mode == .evaluate ? enforcer.evaluateNow(request) : enforcer.authorizeNow(request)
            let line = Array((DecisionEncoder.json(decision) + "\n").utf8)
            try writer.write(line)
            try writer.commit()
            try recorder?.record(line)
            try recorder?.close()
            if !decision.isAllowed { throw ExitCode(1) }
            return
        }
        // Chunks of whole lines are decided off this thread, `jobs` at a time (one
        // at a time, in order, with a ledger), while this thread reads the next
        // chunks and writes finished decisions in input order.
        let parallel = batch.mode == .evaluate
        let queue = parallel
            ? DispatchQueue.global(qos: .userInitiated)
            : DispatchQueue(label: "purser.eval.ledger", qos: .userInitiated)
        let depth = parallel ? max(1, jobs) + 1 : 2
        var inFlight: [DecisionJob] = []
        // Each chunk's decisions are written into a pooled writer, so its pages stay mapped from chunk to chunk.
        let writers = WriterPool()
        func drain(keeping: Int) throws {
            while inFlight.count > keeping {
                let (decisions, partial) = inFlight.removeFirst().wait()
                counts = counts.adding(partial)
                try decisions.writer.withBytes { bytes in
                    try writer.write(bytes)
                    try recorder?.record(bytes)
                }
                writers.give(decisions)
            }
        }
        var line = 1
        while true {
            let atEnd = reader.isAtEnd
            if let newline = atEnd ? pending.count - 1 : pending.lastIndex(of: 0x0A), newline >= 0 {
                let cut = newline + 1
                let chunk = pending
                pending = Array(chunk[cut...])
                let job = DecisionJob()
                let firstLine = line
                let json = writers.take()
                queue.async {
                    let partial = chunk.withUnsafeBufferPointer { buffer in
                        batch.run(UnsafeBufferPointer(rebasing: buffer[0..<cut]), firstLine: firstLine, into: json.writer)
                    }
                    job.finish(json, partial)
                }
                inFlight.append(job)
                line += Self.newlines(in: chunk, upTo: cut)
                try drain(keeping: depth - 1)
            } else if pending.count > batch.maxLineBytes {
                // A line longer than the limit: report it, then skip to its end without keeping it.
                try drain(keeping: 0)
                counts.malformed += 1
                let error = Array("{\"error\":\"the line is longer than \(batch.maxLineBytes) bytes\",\"line\":\(line),\"column\":1}\n".utf8)
                try writer.write(error)
                try recorder?.record(error)
                pending = try reader.skipPastNewline()
                line += 1
                continue
            }
            if atEnd { break }
            pending.append(contentsOf: try reader.read(Self.chunkSize))
        }
        try drain(keeping: 0)
        try writer.commit()
        try recorder?.close()
        if counts.malformed > 0 {
            Output.error("purser: \(counts.malformed) malformed request\(counts.malformed == 1 ? "" : "s") (see the \"error\" lines)")
        }
        if counts.malformed > 0 { throw ExitCode(2) }
        if counts.denied > 0 { throw ExitCode(1) }
    }

    /// How many line feeds `bytes` holds before `end`.
    static func newlines(in bytes: [UInt8], upTo end: Int) -> Int {
        bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return 0 }
            var count = 0
            var position = 0
            while let found = ByteSearch.find(0x0A, in: base, from: position, to: end) {
                count += 1
                position = found + 1
            }
            return count
        }
    }

    /// Whether the input is one JSON document over several lines rather than JSON Lines.
    ///
    /// It is when it has more than one non-blank line and its first non-blank line
    /// does not close what it opens (`{` alone, or `{"team": "payments",`).
    static func isSingleDocument(_ bytes: [UInt8]) -> Bool {
        let lines = bytes.split(separator: 0x0A).filter { line in
            line.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D })
        }
        guard lines.count > 1, let first = lines.first else { return false }
        return (try? RequestDecoder.decode(Array(first))) == nil && !Self.isComplete(first)
    }

    /// Whether a line holds a balanced JSON value (brackets outside strings all closed).
    private static func isComplete(_ line: ArraySlice<UInt8>) -> Bool {
        var depth = 0
        var inString = false
        var escaped = false
        for byte in line {
            if inString {
                if escaped { escaped = false } else if byte == 0x5C { escaped = true } else if byte == 0x22 { inString = false }
                continue
            }
            switch byte {
            case 0x22: inString = true
            case 0x7B, 0x5B: depth += 1
            case 0x7D, 0x5D: depth -= 1
            default: break
            }
        }
        return depth <= 0
    }

    /// The input's name for messages.
    private var displayName: String { input == "-" ? "<stdin>" : input }
}

extension BatchEvaluator.Counts {
    func adding(_ other: BatchEvaluator.Counts) -> BatchEvaluator.Counts {
        var sum = self
        sum.decisions += other.decisions
        sum.allowed += other.allowed
        sum.denied += other.denied
        sum.malformed += other.malformed
        return sum
    }
}

/// A JSON writer handed from the reading thread to a job and back. (`@unchecked`: a `JSONWriter`
/// is not Sendable; one thread at a time has it: the pool's, then the job's from `queue.async` to
/// `DecisionJob.finish`, then the pool's again after `wait`.)
private struct PooledWriter: @unchecked Sendable {
    let writer: JSONWriter
}

/// Writers kept between chunks, so their buffers are not allocated and faulted in again.
private final class WriterPool {
    private var free: [PooledWriter] = []

    func take() -> PooledWriter {
        free.popLast() ?? PooledWriter(writer: JSONWriter(capacity: 1 << 20))
    }

    func give(_ writer: PooledWriter) {
        writer.writer.reset()
        free.append(writer)
    }
}

/// The decisions for one chunk of lines, decided on another thread.
private final class DecisionJob: Sendable {
    private let finished = DispatchSemaphore(value: 0)
    private let result = Mutex<(decisions: PooledWriter?, counts: BatchEvaluator.Counts)>((nil, BatchEvaluator.Counts()))

    /// Hands over the chunk's decisions and counts.
    func finish(_ decisions: PooledWriter, _ counts: BatchEvaluator.Counts) {
        result.withLock { $0 = (decisions, counts) }
        finished.signal()
    }

    /// Waits for the chunk to be decided and takes its decisions.
    func wait() -> (decisions: PooledWriter, counts: BatchEvaluator.Counts) {
        finished.wait()
        return result.withLock { value in
            defer { value = (nil, BatchEvaluator.Counts()) }
            // finish() always stores a writer before signalling.
            return (value.decisions ?? PooledWriter(writer: JSONWriter()), value.counts)
        }
    }
}

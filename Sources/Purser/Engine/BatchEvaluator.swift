import PurserCore
import PurserPolicy
import PurserYAML
import Dispatch
import Synchronization

/// Decides a stream of JSON Lines requests: parse, decide, encode, in input
/// order. Pure evaluation runs chunks on every core; with a ledger, requests
/// are authorized (and settled at their estimate) one after another, so that
/// earlier requests count against later ones.
package struct BatchEvaluator: Sendable {
    /// What to do with each request.
    package enum Mode: Sendable {
        /// `evaluate`: decisions against the ledger's current counters, changing nothing.
        case evaluate
        /// `authorize`, then settle allowed requests at their estimated cost.
        case authorizeAndSettle
    }

    /// What a run counted.
    package struct Counts: Sendable, Equatable {
        /// Requests decided.
        package var decisions = 0
        /// Decisions that allowed.
        package var allowed = 0
        /// Decisions that denied.
        package var denied = 0
        /// Lines that were not valid requests.
        package var malformed = 0

        /// Creates zero counts.
        package init() {}

        package static func + (lhs: Counts, rhs: Counts) -> Counts {
            var sum = lhs
            sum.decisions += rhs.decisions
            sum.allowed += rhs.allowed
            sum.denied += rhs.denied
            sum.malformed += rhs.malformed
            return sum
        }
    }

    /// The enforcer that decides.
    package let enforcer: Enforcer
    /// Evaluate, or authorize and settle.
    package let mode: Mode
    /// The longest line accepted, in bytes; longer ones are reported, not parsed.
    package var maxLineBytes = 1 << 20

    /// Creates a batch evaluator.
    package init(enforcer: Enforcer, mode: Mode) {
        self.enforcer = enforcer
        self.mode = mode
    }

    /// Decides every line of a chunk of complete lines; appends one JSON line per
    /// non-blank input line to `output` (a decision, or an error naming the line).
    package func run(_ chunk: UnsafeBufferPointer<UInt8>, firstLine: Int, into output: inout [UInt8]) -> Counts {
        let json = JSONWriter(capacity: 1 << 16)
        var counts = Counts()
        run(chunk, firstLine: firstLine, counts: &counts, json: json) { json in
            if json.count > 1 << 16 {
                json.withBytes { output.append(contentsOf: $0) }
                json.reset()
            }
        }
        json.withBytes { output.append(contentsOf: $0) }
        return counts
    }

    /// Decides every line of a chunk of complete lines, writing the JSON lines straight
    /// into `json` (reuse one writer across chunks: its buffer stays allocated).
    package func run(_ chunk: UnsafeBufferPointer<UInt8>, firstLine: Int, into json: JSONWriter) -> Counts {
        var counts = Counts()
        run(chunk, firstLine: firstLine, counts: &counts, json: json) { _ in }
        return counts
    }

    private func run(_ chunk: UnsafeBufferPointer<UInt8>, firstLine: Int, counts: inout Counts, json: JSONWriter,
                     afterEach: (JSONWriter) -> Void)
    {
        var json = json
        var encoder = DecisionEncoder()
        var parser = RequestParser()
        var start = 0
        var line = firstLine
        let count = chunk.count
        while start < count {
            var end = start
            while end < count, chunk[end] != 0x0A { end &+= 1 }
            let slice = UnsafeBufferPointer(rebasing: chunk[start..<end])
            decide(slice, line: line, counts: &counts, json: &json, encoder: &encoder, parser: &parser)
            afterEach(json)
            start = end &+ 1
            line &+= 1
        }
    }

    /// Decides a chunk on every core: it is split at line boundaries and the parts
    /// decided concurrently (pure evaluation only), then joined in order.
    package func runParallel(_ chunk: UnsafeBufferPointer<UInt8>, firstLine: Int, parts: Int) -> (output: [UInt8], counts: Counts) {
        guard mode == .evaluate, parts > 1, chunk.count > 1 << 16 else {
            var output: [UInt8] = []
            let counts = run(chunk, firstLine: firstLine, into: &output)
            return (output, counts)
        }
        // Split points at line starts, and the line number each part begins with.
        var bounds = [0]
        var lines = [firstLine]
        var line = firstLine
        var scanned = 0
        for part in 1..<parts {
            var cut = max(chunk.count * part / parts, bounds[bounds.count - 1])
            while cut < chunk.count, chunk[cut] != 0x0A { cut += 1 }
            cut = min(cut + 1, chunk.count)
            for index in scanned..<cut where chunk[index] == 0x0A { line += 1 }
            scanned = cut
            bounds.append(cut)
            lines.append(line)
        }
        bounds.append(chunk.count)
        let results = ParallelResults(count: parts)
        let (cuts, starts, input) = (bounds, lines, SharedBytes(chunk))
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let slice = UnsafeBufferPointer(rebasing: input.bytes[cuts[part]..<cuts[part + 1]])
            var output: [UInt8] = []
            output.reserveCapacity(slice.count * 3)
            let counts = run(slice, firstLine: starts[part], into: &output)
            results.store(part, output, counts)
        }
        return results.joined()
    }

    private func decide(_ line: UnsafeBufferPointer<UInt8>, line number: Int, counts: inout Counts, json: inout JSONWriter,
                        encoder: inout DecisionEncoder, parser: inout RequestParser)
    {
        var scanner = JSONScanner(line)
        guard scanner.peek() != nil else { return }  // blank line
        guard line.count <= maxLineBytes else {
            counts.malformed += 1
            error("the line is \(line.count) bytes; the limit is \(maxLineBytes)", line: number, column: 1, into: &json)
            return
        }
        let request: Request
        do throws(RequestError) {
            request = try parser.decode(&scanner)
            do throws(JSONError) { try scanner.expectEnd() } catch { throw RequestError(error.message, at: error.offset) }
        } catch {
            counts.malformed += 1
            let column = YAMLMark(byteOffset: error.offset, in: line).column
            self.error(error.message, line: number, column: column, into: &json)
            return
        }
        let decision: Decision
        switch mode {
        case .evaluate:
            decision = enforcer.evaluateNow(request)
        case .authorizeAndSettle:
            decision = enforcer.authorizeNow(request)
            if decision.isAllowed, let cost = decision.cost {
                _ = try? enforcer.settleNow(decision, cost: cost, tokens: request.usage.totalTokens)
            }
        }
        counts.decisions += 1
        if decision.isAllowed { counts.allowed += 1 } else { counts.denied += 1 }
        encoder.encode(decision, into: &json)
        json.newline()
    }

    private func error(_ message: String, line: Int, column: Int, into json: inout JSONWriter) {
        json.object { json in
            json.field("error", message)
            json.field("line", line)
            json.field("column", column)
        }
        json.newline()
    }
}

/// Read-only input bytes shared by the parts of a parallel run. (`@unchecked`: a buffer pointer
/// is not Sendable. Safe because nothing writes the bytes during the run, and they outlive it:
/// `concurrentPerform` returns only when every part is done, inside the caller's buffer scope.)
private struct SharedBytes: @unchecked Sendable {
    package let bytes: UnsafeBufferPointer<UInt8>

    package init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }
}

/// Per-part results of a parallel run, joined in order.
private final class ParallelResults: @unchecked Sendable {
    // `@unchecked`: parts store concurrently. Safe because each part writes only its own slot
    // (through the buffer, so no part's write touches the array's header), once, and reads happen
    // after `concurrentPerform` returns; debug builds check both.
    private var outputs: [[UInt8]]
    private var counts: [BatchEvaluator.Counts]
    #if DEBUG
    private let stored = Mutex<Set<Int>>([])
    #endif

    package init(count: Int) {
        outputs = Array(repeating: [], count: count)
        counts = Array(repeating: BatchEvaluator.Counts(), count: count)
    }

    package func store(_ part: Int, _ output: [UInt8], _ count: BatchEvaluator.Counts) {
        #if DEBUG
        precondition(stored.withLock { $0.insert(part).inserted }, "part \(part) stored twice")
        #endif
        outputs.withUnsafeMutableBufferPointer { $0[part] = output }
        counts.withUnsafeMutableBufferPointer { $0[part] = count }
    }

    package func joined() -> (output: [UInt8], counts: BatchEvaluator.Counts) {
        #if DEBUG
        precondition(stored.withLock { $0.count } == outputs.count, "joined before every part was stored")
        #endif
        var output: [UInt8] = []
        output.reserveCapacity(outputs.reduce(0) { $0 + $1.count })
        for part in outputs { output.append(contentsOf: part) }
        return (output, counts.reduce(BatchEvaluator.Counts(), +))
    }
}

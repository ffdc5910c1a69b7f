import Purser
extension RecordBatch {
    /// Adds the outcome of reading one entry: a record, a skip (`make` returned
    /// nil) counted under `skipReason`, or a malformed entry with the problem.
    package mutating func add(_ location: RecordLocation, skipReason: String,
                      _ make: () throws(RecordProblem) -> Request?) {
        do throws(RecordProblem) {
            if let request = try make() {
                records.append(UsageRecord(request: request, location: location))
            } else {
                skipped[skipReason, default: 0] += 1
            }
        } catch {
            malformed.append(MalformedRecord(location: location, message: error.message))
        }
    }

    /// Adds a malformed entry.
    package mutating func addMalformed(_ file: String, _ line: Int, _ message: String) {
        malformed.append(MalformedRecord(location: RecordLocation(file: file, line: line), message: message))
    }

    /// Whether the batch holds nothing at all.
    package var isEmpty: Bool { records.isEmpty && malformed.isEmpty && skipped.isEmpty }

    /// How many entries the batch accounts for.
    package var entryCount: Int { records.count + malformed.count + skipped.values.reduce(0, +) }
}

extension RecordProblem {
    /// The problem behind an error thrown while reading a record: a problem as
    /// it is, a JSON error with `prefix` before its message.
    package init(from error: any Error, prefix: String) {
        if let problem = error as? RecordProblem {
            self = problem
        } else if let json = error as? JSONError {
            self.init(prefix + json.message)
        } else {
            self.init(prefix + String(describing: error))
        }
    }
}

extension JSONError {
    /// The error as a record problem, with the byte column it was found at.
    package var problem: RecordProblem { RecordProblem("column \(offset + 1): \(message)") }
}

import Purser
/// Typed reads of JSON values for the importers, lenient where exports
/// differ (numbers written as strings, `null` for missing) and strict where
/// it matters (a count that is not a whole number is a problem, not zero).
package enum JSONValues {
    /// A string, number or boolean as text; nil for `null`. Objects and arrays are a problem.
    package static func text(_ scanner: inout JSONScanner, _ field: @autoclosure () -> String) throws(RecordProblem) -> String? {
        do {
            switch scanner.peek() {
            case UInt8(ascii: "\"")?: return try scanner.string()
            case UInt8(ascii: "n")?:
                guard try scanner.null() else { break }
                return nil
            case UInt8(ascii: "t")?, UInt8(ascii: "f")?: return try scanner.bool() ? "true" : "false"
            case UInt8(ascii: "-")?, (48...57)?: return try scanner.numberText()
            default: break
            }
            throw RecordProblem("\(field()) must be a string, found \(scanner.tokenDescription())")
        } catch {
            throw RecordProblem(from: error, prefix: "\(field()): ")
        }
    }

    /// A name (team, model, user…): a string, number or boolean within the name limit; nil for `null` or empty.
    package static func name(_ scanner: inout JSONScanner, _ field: @autoclosure () -> String) throws(RecordProblem) -> String? {
        if scanner.peek() == UInt8(ascii: "\"") {
            do {
                let range = try scanner.rawString()
                if !scanner.hasEscapes(range) { return try ImportValues.name(UnsafeBufferPointer(rebasing: scanner.bytes[range]), field()) }
                return try ImportValues.name(try scanner.decodeString(range), field())
            } catch {
                throw RecordProblem(from: error, prefix: "\(field()): ")
            }
        }
        return try ImportValues.name(try text(&scanner, field()), field())
    }

    /// Request tags (`["env:prod", "batch"]`): a JSON array of strings, or a
    /// string holding one, added to `tags` by ``TagList``; false for `null`.
    package static func tags(_ scanner: inout JSONScanner, _ field: @autoclosure () -> String, into tags: inout Tags) throws(RecordProblem) -> Bool {
        do {
            switch scanner.peek() {
            case UInt8(ascii: "n")?:
                if try scanner.null() { return false }
            case UInt8(ascii: "\"")?:
                let embedded = Array(try scanner.string().utf8)
                if ImportValues.isBlankJSON(embedded) { return false }
                return try embedded.withUnsafeBufferPointer { buffer throws(RecordProblem) in
                    var inner = JSONScanner(buffer)
                    let found = try self.tags(&inner, field(), into: &tags)
                    do throws(JSONError) { try inner.expectEnd() } catch { throw RecordProblem("\(field()): \(error.message)") }
                    return found
                }
            case UInt8(ascii: "[")?:
                try scanner.beginArray()
                var first = true
                while try scanner.nextElement(first: &first) {
                    if scanner.peek() == UInt8(ascii: "\"") {
                        let range = try scanner.rawString()
                        if scanner.hasEscapes(range) {
                            try TagList.add([try scanner.decodeString(range)], to: &tags)
                        } else {
                            try TagList.add(UnsafeBufferPointer(rebasing: scanner.bytes[range]), to: &tags)
                        }
                    } else if let entry = try text(&scanner, field()) {
                        try TagList.add([entry], to: &tags)
                    }
                }
                return true
            default:
                break
            }
            throw RecordProblem("\(field()) must be a list of strings, found \(scanner.tokenDescription())")
        } catch {
            throw RecordProblem(from: error, prefix: "\(field()): ")
        }
    }

    /// A token count: a number or a numeric string; nil for `null`.
    package static func count(_ scanner: inout JSONScanner, _ field: @autoclosure () -> String) throws(RecordProblem) -> Int64? {
        try withScalar(&scanner, field()) { bytes throws(RecordProblem) in try ImportValues.tokens(bytes, field()) }
    }

    /// An amount of USD: a number or a numeric string, rounded to the nano-dollar; nil for `null`.
    package static func usd(_ scanner: inout JSONScanner, _ field: @autoclosure () -> String) throws(RecordProblem) -> USD? {
        try withScalar(&scanner, field()) { bytes throws(RecordProblem) in
            if ImportValues.isBlank(bytes) { return nil }
            guard let value = ImportValues.usd(bytes) else {
                throw RecordProblem("\(field()) must be an amount of USD, found \(ImportValues.shown(bytes))")
            }
            return value
        }
    }

    /// A time: a string in any form ``ImportValues/timestamp(_:)`` reads, or Unix seconds as a number; nil for `null`.
    package static func timestamp(_ scanner: inout JSONScanner, _ field: @autoclosure () -> String) throws(RecordProblem) -> Timestamp? {
        try withScalar(&scanner, field()) { bytes throws(RecordProblem) in
            if ImportValues.isBlank(bytes) { return nil }
            guard let value = ImportValues.timestamp(bytes) else {
                throw RecordProblem("\(field()) \(ImportValues.shown(bytes)) is not a time like 2026-11-22T10:00:00Z")
            }
            return value
        }
    }

    /// Calls `body` with the raw text of a number or of a string without escapes; nil for `null`.
    private static func withScalar<T>(_ scanner: inout JSONScanner, _ field: @autoclosure () -> String,
                                      _ body: (UnsafeBufferPointer<UInt8>) throws(RecordProblem) -> T?) throws(RecordProblem) -> T? {
        do {
            switch scanner.peek() {
            case UInt8(ascii: "\"")?:
                let range = try scanner.rawString()
                if scanner.hasEscapes(range) {
                    let decoded = Array(try scanner.decodeString(range).utf8)
                    return try decoded.withUnsafeBufferPointer { buffer throws(RecordProblem) in try body(buffer) }
                }
                return try body(UnsafeBufferPointer(rebasing: scanner.bytes[range]))
            case UInt8(ascii: "n")?:
                if try scanner.null() { return nil }
            case UInt8(ascii: "-")?, (48...57)?:
                let range = try scanner.numberRange()
                return try body(UnsafeBufferPointer(rebasing: scanner.bytes[range]))
            default:
                break
            }
            throw RecordProblem("\(field()) must be a number, found \(scanner.tokenDescription())")
        } catch {
            throw RecordProblem(from: error, prefix: "\(field()): ")
        }
    }

    /// Whether the object at the scanner has a top-level key (a scan of its keys; false when it is not a valid object).
    package static func hasKey(_ scanner: JSONScanner, _ name: StaticString) -> Bool {
        var probe = scanner
        do throws(JSONError) {
            guard probe.peek() == UInt8(ascii: "{") else { return false }
            try probe.beginObject()
            var first = true
            while let key = try probe.nextKey(first: &first) {
                if probe.equals(key, name) { return true }
                try probe.skipValue()
            }
        } catch {
            return false
        }
        return false
    }

    /// Whether a raw key range equals `name`.
    package static func keyEquals(_ scanner: JSONScanner, _ key: Range<Int>, _ name: String) -> Bool {
        if scanner.hasEscapes(key) { return (try? scanner.decodeString(key)) == name }
        var utf8 = name.utf8.makeIterator()
        for position in key {
            guard let byte = utf8.next(), byte == scanner.bytes[position] else { return false }
        }
        return utf8.next() == nil
    }

    /// The value at a path of object keys, starting at the scanner's value, as
    /// text (``text(_:_:)``); nil when the path is not there, is not a scalar, or the JSON is invalid.
    package static func lookup(_ path: ArraySlice<String>, _ scanner: inout JSONScanner) -> String? {
        guard let key = path.first else { return try? text(&scanner, path.description) }
        guard scanner.peek() == UInt8(ascii: "{") else {
            // A string holding JSON (LiteLLM writes metadata that way): look inside it.
            guard scanner.peek() == UInt8(ascii: "\""), let embedded = try? scanner.string() else { return nil }
            return Array(embedded.utf8).withUnsafeBufferPointer { buffer in
                var inner = JSONScanner(buffer)
                guard inner.peek() == UInt8(ascii: "{") else { return nil }
                return lookup(path, &inner)
            }
        }
        do throws(JSONError) {
            try scanner.beginObject()
            var first = true
            while let name = try scanner.nextKey(first: &first) {
                if keyEquals(scanner, name, key) { return lookup(path.dropFirst(), &scanner) }
                try scanner.skipValue()
            }
        } catch {
            return nil
        }
        return nil
    }

    /// The value at a path in a buffer of JSON (see ``lookup(_:_:)``).
    package static func lookup(_ path: ArraySlice<String>, in bytes: UnsafeBufferPointer<UInt8>) -> String? {
        var scanner = JSONScanner(bytes)
        return lookup(path, &scanner)
    }
}

extension ImportValues {
    /// Whether JSON text is empty, spaces, or `null`.
    package static func isBlankJSON(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { buffer in
            let trimmed = trimmed(buffer)
            return trimmed.isEmpty || isNullWord(trimmed)
        }
    }
}

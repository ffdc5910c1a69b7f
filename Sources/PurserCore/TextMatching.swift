
/// Glob patterns (`*`, `?`) over names, and "did you mean" suggestions.
@usableFromInline package enum TextMatching {
    /// Whether a name is a glob pattern rather than a plain name.
    @usableFromInline package static func isGlob(_ pattern: String) -> Bool {
        pattern.utf8.contains { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") }
    }

    /// Matches `*` (any run, also empty) and `?` (one character) against a name.
    @usableFromInline package static func glob(_ pattern: String, matches name: String) -> Bool {
        let p = Array(pattern.unicodeScalars)
        let n = Array(name.unicodeScalars)
        var pi = 0
        var ni = 0
        var starP = -1
        var starN = 0
        while ni < n.count {
            if pi < p.count, p[pi] == "?" || p[pi] == n[ni] {
                pi += 1
                ni += 1
            } else if pi < p.count, p[pi] == "*" {
                starP = pi
                starN = ni
                pi += 1
            } else if starP >= 0 {
                pi = starP + 1
                starN += 1
                ni = starN
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == "*" { pi += 1 }
        return pi == p.count
    }

    /// Edit distance over Unicode scalars where an insertion, deletion,
    /// substitution or swap of two neighbours each cost 1 (optimal string alignment).
    @usableFromInline package static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars)
        let b = Array(b.unicodeScalars)
        var cells = 0
        return distance(a, b, limit: max(a.count, b.count), cells: &cells) ?? max(a.count, b.count)
    }

    /// The distance of two scalar arrays if it is at most `limit`, else nil.
    /// Stops as soon as every path through the table costs more than
    /// `limit`; adds the number of table cells computed to `cells`.
    @usableFromInline package static func distance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar], limit: Int, cells: inout Int) -> Int? {
        if a.isEmpty { return b.count <= limit ? b.count : nil }
        if b.isEmpty { return a.count <= limit ? a.count : nil }
        var beforePrevious = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        var previousMinimum = 0
        for i in 1...a.count {
            current[0] = i
            var minimum = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var best = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    best = min(best, beforePrevious[j - 2] + 1)
                }
                current[j] = best
                minimum = min(minimum, best)
            }
            cells += b.count
            // A swap jumps from row i-1 to row i+1, so only both rows together bound the rest.
            if minimum > limit && previousMinimum > limit { return nil }
            previousMinimum = minimum
            (beforePrevious, previous, current) = (previous, current, beforePrevious)
        }
        return previous[b.count] <= limit ? previous[b.count] : nil
    }

    /// Names longer than this (in Unicode scalars) get no suggestions: a
    /// typo in them is implausible, and comparing them is costly.
    @usableFromInline package static let maxSuggestionLength = 128

    /// The most distance-table cells one suggestion may compute; past it the
    /// best candidate so far is used. Keeps hostile policies (thousands of
    /// long, near-identical names) from making a check quadratic.
    @usableFromInline package static let maxSuggestionCells = 250_000

    /// The candidate closest to `name`, if it is close enough to be a likely
    /// typo: within a quarter of the shorter name's length (at least 1).
    /// Ties go to the candidate that sorts first.
    @usableFromInline package static func suggestion(for name: String, among candidates: some Sequence<String>) -> String? {
        let target = Array(name.lowercased().unicodeScalars)
        guard !target.isEmpty, target.count <= maxSuggestionLength else { return nil }
        var best: (candidate: String, score: Int)?
        var cells = 0
        for candidate in candidates {
            let length = candidate.unicodeScalars.count
            cells += 1
            guard length <= maxSuggestionLength else { continue }
            let allowed = max(1, (min(target.count, length) + 2) / 4)
            // The distance is at least the difference in length.
            guard abs(length - target.count) <= allowed else { continue }
            let limit = min(allowed, best?.score ?? allowed)
            guard let score = distance(target, Array(candidate.lowercased().unicodeScalars), limit: limit, cells: &cells)
            else {
                if cells > maxSuggestionCells { break }
                continue
            }
            if let current = best, score > current.score || (score == current.score && candidate >= current.candidate) {
                continue
            }
            best = (candidate, score)
            if cells > maxSuggestionCells { break }
        }
        return best?.candidate
    }

    /// ` (did you mean "x"?)` or an empty string.
    @usableFromInline package static func didYouMean(_ name: String, among candidates: some Sequence<String>) -> String {
        suggestion(for: name, among: candidates).map { "; did you mean \"\($0)\"?" } ?? ""
    }
}

/// A budget of "did you mean" look-ups among user-defined names (models,
/// teams, regions…): each look-up may scan every name, so a policy with
/// thousands of undefined references to thousands of names would make the
/// check quadratic. References past the budget are reported without a
/// suggestion.
@usableFromInline package struct SuggestionBudget {
    /// Look-ups left.
    @usableFromInline package var remaining: Int

    /// A budget of `limit` look-ups (64 by default).
    @usableFromInline package init(limit: Int = 64) {
        remaining = limit
    }

    /// `; did you mean "x"?` or an empty string, while the budget lasts.
    @usableFromInline package mutating func didYouMean(_ name: String, among candidates: some Sequence<String>) -> String {
        guard remaining > 0 else { return "" }
        remaining -= 1
        return TextMatching.didYouMean(name, among: candidates)
    }
}

extension String {
    /// Whether the two strings are the same UTF-8 bytes (`==` also equates canonically
    /// equivalent strings, such as a precomposed `é` and `e` with a combining accent).
    @inline(__always)
    @inlinable package func hasSameUTF8(as other: String) -> Bool {
        let compared = utf8.withContiguousStorageIfAvailable { mine in
            other.utf8.withContiguousStorageIfAvailable { theirs -> Bool in
                guard mine.count == theirs.count else { return false }
                guard let first = mine.baseAddress, let second = theirs.baseAddress else { return true }
                return ByteSearch.equal(first, second, count: mine.count)
            }
        }
        // Both native strings (the usual case) are compared in place; any other by their views.
        return (compared ?? nil) ?? utf8.elementsEqual(other.utf8)
    }
}

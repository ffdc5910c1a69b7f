/// Glob patterns (`*`, `?`) over names, and "did you mean" suggestions.
enum TextMatching {
    /// Whether a name is a glob pattern rather than a plain name.
    static func isGlob(_ pattern: String) -> Bool {
        pattern.utf8.contains { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") }
    }

    /// Matches `*` (any run, also empty) and `?` (one character) against a name.
    static func glob(_ pattern: String, matches name: String) -> Bool {
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
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars)
        let b = Array(b.unicodeScalars)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var beforePrevious = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var best = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    best = min(best, beforePrevious[j - 2] + 1)
                }
                current[j] = best
            }
            (beforePrevious, previous, current) = (previous, current, beforePrevious)
        }
        return previous[b.count]
    }

    /// The candidate closest to `name`, if it is close enough to be a likely typo.
    static func suggestion(for name: String, among candidates: some Sequence<String>) -> String? {
        var best: (String, Int)?
        let lowered = name.lowercased()
        for candidate in candidates {
            let score = distance(lowered, candidate.lowercased())
            if let current = best, score > current.1 || (score == current.1 && candidate >= current.0) {
                continue
            }
            best = (candidate, score)
        }
        guard let (candidate, score) = best else { return nil }
        let allowed = max(1, (min(name.count, candidate.count) + 2) / 4)
        return score <= allowed ? candidate : nil
    }

    /// ` (did you mean "x"?)` or an empty string.
    static func didYouMean(_ name: String, among candidates: some Sequence<String>) -> String {
        suggestion(for: name, among: candidates).map { "; did you mean \"\($0)\"?" } ?? ""
    }
}

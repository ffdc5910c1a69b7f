/// Making untrusted text (names from policies and logs, file names, messages) safe to show on
/// a terminal: no escape sequences, no carriage returns that overwrite a line, no bidi
/// overrides that reorder it (docs/audit-reports.md, "Terminal safety").
package enum TerminalText {
    /// The text with every C0 and C1 control character (ESC, CR, BEL, DEL, …), Unicode line and
    /// paragraph separator and bidirectional formatting character replaced by `replacement`; line
    /// feeds are kept when `keepingNewlines` is set. Text with none of them is returned as it is.
    package static func sanitized(_ text: String, keepingNewlines: Bool = false, replacement: Unicode.Scalar = "\u{FFFD}") -> String {
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 >= 0xC2 }) else { return text }
        guard text.unicodeScalars.contains(where: { isUnsafe($0, keepingNewlines: keepingNewlines) }) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar == "\t" {
                out.append(" ")
            } else {
                out.append(isUnsafe(scalar, keepingNewlines: keepingNewlines) ? replacement : scalar)
            }
        }
        return String(out)
    }

    /// The text with unsafe characters replaced by U+FFFD except line breaks (LF and CRLF) and
    /// tab, for CSV cells, where RFC 4180 quoting keeps line breaks. A CR that does not end a
    /// line is replaced: on a terminal it would move back and overwrite the line. Text with
    /// nothing to replace is returned as it is.
    package static func sanitizedKeepingLineBreaks(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 >= 0xC2 }) else { return text }
        let scalars = Array(text.unicodeScalars)
        func kept(_ index: Int) -> Bool {
            let scalar = scalars[index]
            if scalar == "\r" { return index + 1 < scalars.count && scalars[index + 1] == "\n" }
            return scalar == "\n" || scalar == "\t" || !isUnsafe(scalar, keepingNewlines: true)
        }
        guard !scalars.indices.allSatisfy(kept) else { return text }
        var out = String.UnicodeScalarView()
        for index in scalars.indices { out.append(kept(index) ? scalars[index] : "\u{FFFD}") }
        return String(out)
    }

    /// Whether a scalar must not reach a terminal as it is.
    package static func isUnsafe(_ scalar: Unicode.Scalar, keepingNewlines: Bool) -> Bool {
        switch scalar.value {
        case 0x0A: return !keepingNewlines
        case 0x00..<0x20, 0x7F...0x9F: return true
        // Line and paragraph separators.
        case 0x2028, 0x2029: return true
        // Bidirectional marks, embeddings, overrides and isolates (the "Trojan Source" characters).
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }
}

import Testing
import PurserAudit
import Purser

/// Names from policies and logs cannot drive a terminal through any human-readable output
/// (issue #19, item 13).
@Suite("Terminal text")
struct TerminalTextTests {
    static let hostile = "\u{1B}]0;PWNED\u{07}\u{1B}[2J\rFAKE PASS\u{202E}evil\u{9B}31m\u{0}"

    @Test func controlsAndBidiCharactersAreReplaced() {
        let safe = TerminalText.sanitized(Self.hostile)
        #expect(safe == "\u{FFFD}]0;PWNED\u{FFFD}\u{FFFD}[2J\u{FFFD}FAKE PASS\u{FFFD}evil\u{FFFD}31m\u{FFFD}")
        #expect(TerminalText.sanitized("a\nb\tc", keepingNewlines: true) == "a\nb c")
        #expect(TerminalText.sanitized("a\nb") == "a\u{FFFD}b")
        #expect(TerminalText.sanitized("café ok") == "café ok")
        for scalar in [0x061C, 0x200E, 0x200F, 0x202A, 0x202E, 0x2066, 0x2069, 0x2028, 0x2029, 0x7F, 0x85] {
            let text = "x" + String(Character(Unicode.Scalar(UInt32(scalar)) ?? "?")) + "y"
            #expect(TerminalText.sanitized(text) == "x\u{FFFD}y", "U+\(String(scalar, radix: 16))")
        }
    }

    @Test func diagnosticsAreOneSafeLine() {
        let diagnostic = Diagnostic(.invalidValue, "teams.\(Self.hostile) is bad", at: SourceLocation(file: "p\u{1B}[2J.yaml"))
        let text = diagnostic.description
        #expect(!text.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) || $0 == "\u{202E}" })
        #expect(text.contains("PWNED") && text.contains("FAKE PASS"))
    }

    @Test func tableCellsAndCSVFieldsCarryNoEscapes() {
        #expect(ReportText.oneLine("a\u{1B}[2Jb\u{202E}c") == "a [2Jb c")
        let field = AuditCSV.text(Self.hostile)
        #expect(!field.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{07}" || $0 == "\u{202E}" || $0 == "\u{9B}" || $0 == "\u{0}" })
        // Line breaks stay, quoted as RFC 4180 says; a CR that ends no line would overwrite it.
        #expect(AuditCSV.text("a\nb") == "\"a\nb\"")
        #expect(AuditCSV.text("a\r\nb") == "\"a\r\nb\"")
        #expect(AuditCSV.text("ok\rFAKE PASS") == "\"ok\u{FFFD}FAKE PASS\"" || AuditCSV.text("ok\rFAKE PASS") == "ok\u{FFFD}FAKE PASS")
        #expect(AuditCSV.text("end\r").unicodeScalars.contains("\u{FFFD}"))
        #expect(!field.unicodeScalars.contains("\r"))
    }
}

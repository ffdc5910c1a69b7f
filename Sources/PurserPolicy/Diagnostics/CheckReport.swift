import PurserYAML
import PurserCore
/// The result of `purser check`, and its renderings: the fixed text format,
/// JSON, and SARIF 2.1.0 for code-scanning tools.
package struct CheckReport: Sendable {
    /// The output formats of `purser check`.
    package enum Format: String, Sendable, CaseIterable {
        case text, json, sarif
    }

    /// Every diagnostic, sorted by file, line and column.
    package let diagnostics: [Diagnostic]
    /// The files that were read.
    package let files: [String]
    /// Whether warnings fail the check.
    package let strict: Bool

    /// Creates a report from a load result.
    package init(_ result: PolicyLoadResult, strict: Bool) {
        self.diagnostics = result.diagnostics
        self.files = result.files
        self.strict = strict
    }

    /// The number of errors.
    package var errorCount: Int { diagnostics.count { $0.severity == .error } }
    /// The number of warnings.
    package var warningCount: Int { diagnostics.count { $0.severity == .warning } }

    /// The exit code (docs/cli.md, "purser check"): 2 when input could not be read, 1 for errors (or warnings
    /// under `--strict`), 0 when clean.
    package var exitCode: Int32 {
        if diagnostics.contains(where: { $0.code.isInputError && $0.severity == .error }) { return 2 }
        if errorCount > 0 || (strict && warningCount > 0) { return 1 }
        return 0
    }

    /// One line: `3 files checked: 1 error, 2 warnings`.
    package var summary: String {
        func plural(_ count: Int, _ word: String) -> String { "\(count) \(word)\(count == 1 ? "" : "s")" }
        return "\(plural(files.count, "file")) checked: \(plural(errorCount, "error")), \(plural(warningCount, "warning"))"
            + (strict && warningCount > 0 ? " (--strict: warnings fail)" : "")
    }

    /// The rendering in a format.
    package func render(_ format: Format, toolVersion: String) -> String {
        switch format {
        case .text: return text
        case .json: return json
        case .sarif: return sarif(toolVersion: toolVersion)
        }
    }

    /// `FILE:LINE:COL: error|warning: MESSAGE [code]`, one per line.
    package var text: String {
        diagnostics.map { $0.description + "\n" }.joined()
    }

    /// `{"diagnostics": [...], "summary": {...}}`
    package var json: String {
        let json = JSONWriter()
        json.object { json in
            json.field("diagnostics", array: { json in
                for diagnostic in diagnostics {
                    json.object { json in
                        json.field("file", diagnostic.location.file)
                        json.field("line", diagnostic.location.line)
                        json.field("column", diagnostic.location.column)
                        json.field("severity", diagnostic.severity.rawValue)
                        json.field("code", diagnostic.code.id)
                        json.field("message", diagnostic.message)
                    }
                }
            })
            json.field("summary", object: { json in
                json.field("files", files.count)
                json.field("errors", errorCount)
                json.field("warnings", warningCount)
                json.field("exit_code", Int(exitCode))
            })
        }
        json.newline()
        return json.text
    }

    /// SARIF 2.1.0 with one rule per catalog code, so GitHub code scanning can show the findings.
    package func sarif(toolVersion: String) -> String {
        let rules = CheckCatalog.entries
        let json = JSONWriter()
        json.object { json in
            json.field("$schema", "https://json.schemastore.org/sarif-2.1.0.json")
            json.field("version", "2.1.0")
            json.field("runs", array: { json in
                json.object { json in
                    json.field("tool", object: { json in
                        json.field("driver", object: { json in
                            json.field("name", "purser")
                            json.field("semanticVersion", toolVersion)
                            json.field("informationUri", "https://github.com/purser-dev/purser")
                            json.field("rules", array: { json in
                                for entry in rules {
                                    json.object { json in
                                        json.field("id", entry.code.id)
                                        json.field("name", SARIF.ruleName(entry.code.id))
                                        json.field("shortDescription", object: { $0.field("text", entry.summary) })
                                        json.field("helpUri", "https://github.com/purser-dev/purser/blob/main/docs/checks.md#\(entry.code.id)")
                                        json.field("defaultConfiguration", object: { $0.field("level", entry.code.defaultSeverity.rawValue) })
                                        json.field("properties", object: { $0.field("category", entry.stage.rawValue) })
                                    }
                                }
                            })
                        })
                    })
                    json.field("results", array: { json in
                        for diagnostic in diagnostics {
                            json.object { json in
                                json.field("ruleId", diagnostic.code.id)
                                if let index = rules.firstIndex(where: { $0.code == diagnostic.code }) {
                                    json.field("ruleIndex", index)
                                }
                                json.field("level", diagnostic.severity.rawValue)
                                json.field("message", object: { $0.field("text", diagnostic.message) })
                                json.field("locations", array: { json in
                                    json.object { json in
                                        json.field("physicalLocation", object: { json in
                                            json.field("artifactLocation", object: { $0.field("uri", SARIF.uri(diagnostic.location.file)) })
                                            json.field("region", object: { json in
                                                json.field("startLine", diagnostic.location.line)
                                                json.field("startColumn", diagnostic.location.column)
                                            })
                                        })
                                    }
                                })
                            }
                        }
                    })
                    json.field("columnKind", "unicodeCodePoints")
                }
            })
        }
        json.newline()
        return json.text
    }
}

/// SARIF naming helpers.
package enum SARIF {
    /// `unknown-key` → `UnknownKey`.
    package static func ruleName(_ id: String) -> String {
        id.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    /// A relative path as a URI reference (percent-encoding what must be).
    package static func uri(_ path: String) -> String {
        var out = ""
        let relative = path.hasPrefix("./") ? String(path.dropFirst(2)) : path
        for byte in relative.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}

import Foundation
import Testing
import PurserPolicy
import PurserCore
import PurserTestSupport

/// SwiftLint's pattern: every diagnostic's examples are tests.
@Suite("Check catalog")
struct CheckCatalogTests {
    @Test("triggering examples raise their code", arguments: CheckCatalog.entries.map(\.code.id))
    func triggering(id: String) throws {
        let entry = try #require(CheckCatalog.entries.first { $0.code.id == id })
        #expect(!entry.triggering.isEmpty)
        for example in entry.triggering {
            let result = try check(example)
            #expect(codes(result).contains(id), "expected [\(id)] from \(example.files.map(\.path)), got \(result.diagnostics)")
            if let diagnostic = result.diagnostics.first(where: { $0.code.id == id }) {
                #expect(diagnostic.severity == entry.code.defaultSeverity || id == "undefined-reference")
                #expect(diagnostic.location.line >= 1 && diagnostic.location.column >= 1)
                #expect(!diagnostic.message.isEmpty)
            }
        }
    }

    @Test("non-triggering examples are clean", arguments: CheckCatalog.entries.map(\.code.id))
    func nonTriggering(id: String) throws {
        let entry = try #require(CheckCatalog.entries.first { $0.code.id == id })
        #expect(!entry.nonTriggering.isEmpty)
        for example in entry.nonTriggering {
            let result = try check(example)
            #expect(result.diagnostics.isEmpty, "expected no diagnostics for \(id)'s example, got \(result.diagnostics)")
            #expect(result.policy != nil)
        }
    }

    @Test func everyCodeIsDocumented() {
        let documented = Set(CheckCatalog.entries.map(\.code.id))
        #expect(documented == Set(DiagnosticCode.all.map(\.id)))
        #expect(CheckCatalog.entries.count == documented.count, "a code is documented twice")
    }

    @Test func inputCodesAreTheInputStage() {
        for entry in CheckCatalog.entries {
            #expect(entry.code.isInputError == (entry.stage == .input), "\(entry.code.id)")
        }
    }

    @Test func docsAreUpToDate() throws {
        let path = repositoryRoot + "/docs/checks.md"
        let onDisk = try String(contentsOfFile: path, encoding: .utf8)
        #expect(onDisk == CheckDocumentation.markdown(), "docs/checks.md is stale: run `swift run purser explain --all --markdown > docs/checks.md`")
    }

    @Test func suggestsNearestCode() {
        #expect(CheckCatalog.suggestion(for: "unknwon-key") == "unknown-key")
        #expect(CheckCatalog.suggestion(for: "something-else-entirely") == nil)
    }
}

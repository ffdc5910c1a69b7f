import Foundation
import Testing
@testable import PurserPolicy
import PurserCore
import PurserYAML
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

    @Test func everyCodeIsDocumentedOnce() {
        let ids = CheckCatalog.entries.map(\.code.id)
        #expect(Set(ids).count == ids.count, "a code is described by two rules")
        #expect(DiagnosticCode.all.map(\.id) == ids)
        for id in ids {
            #expect(id.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" }, "\(id) is not kebab-case")
        }
    }

    /// Exit code 2 means the input could not be read; only input-stage codes may cause it.
    @Test("input-stage examples exit 2, the others do not", arguments: CheckCatalog.entries.map(\.code.id))
    func exitCodeFollowsTheStage(id: String) throws {
        let entry = try #require(CheckCatalog.entries.first { $0.code.id == id })
        for example in entry.triggering {
            let exit = CheckReport(try check(example), strict: true).exitCode
            #expect(entry.stage == .input ? exit == 2 : exit == 1, "\(id): exit \(exit)")
        }
    }

    @Test func everyYAMLErrorHasItsOwnCode() {
        let codes = YAMLError.Kind.allCases.map { DiagnosticCode.forYAML($0) }
        #expect(Set(codes).count == codes.count)
        for kind in YAMLError.Kind.allCases {
            #expect(DiagnosticCode.forYAML(kind).id == kind.rawValue)
            #expect(CheckCatalog.entry(for: .forYAML(kind))?.stage == .input)
        }
    }

    /// The catalog asks rules what they are through the protocol, not by casting (see
    /// CheckRule.swift); the answers agree with the protocols each rule conforms to.
    @Test func rulesSayWhatTheyAre() {
        let setRules: [String] = CheckCatalog.rules.filter { $0 is any PolicySetRule.Type }.map { $0.code.id }
        #expect(!setRules.isEmpty)
        #expect(CheckCatalog.policySetRules.map { $0.code.id } == setRules)
        let readerRules = CheckCatalog.rules.compactMap { ($0 as? any YAMLReaderRule.Type).map { ($0.readerKind, $0.code) } }
        #expect(readerRules.count == CheckCatalog.yamlCodes.count)
        for (kind, code) in readerRules { #expect(CheckCatalog.yamlCodes[kind] == code) }
    }

    /// Each code's logic is in its own rule: run alone, a policy-set rule raises only
    /// its code, and the rules together raise what the validator does.
    @Test func eachPolicySetRuleRaisesOnlyItsCode() throws {
        let examples = CheckCatalog.entries.flatMap { $0.triggering + $0.nonTriggering }
        var checked = 0
        for example in examples {
            guard let policy = try assembled(example) else { continue }
            var options = PolicyLoadOptions()
            options.now = CheckCatalog.exampleNow
            var together: [Diagnostic] = []
            for rule in CheckCatalog.policySetRules {
                var context = ValidationContext(policy: policy, options: options)
                rule.check(&context)
                #expect(context.diagnostics.allSatisfy { $0.code == rule.code }, "\(rule.code): \(context.diagnostics)")
                together += context.diagnostics
            }
            var validator = PolicyValidator(policy: policy, options: options)
            validator.run()
            #expect(together.sorted() == validator.diagnostics.sorted())
            checked += together.isEmpty ? 0 : 1
        }
        #expect(checked >= CheckCatalog.entries.filter { $0.stage == .meaning }.count)
    }

    /// An example's files decoded and merged, before the meaning checks (nil when it does not get that far).
    private func assembled(_ example: CheckCatalog.Example) throws -> PolicySet? {
        var sources: [(String, [UInt8])] = []
        for file in example.files {
            guard case .text(let text) = file.content else { return nil }
            sources.append((file.path, Array(text.utf8)))
        }
        var fragments: [Fragment] = []
        for (name, bytes) in sources {
            guard let documents = try? YAMLReader().read(bytes, file: name) else { return nil }
            let decoder = FragmentDecoder(context: DecodingContext(file: name))
            fragments += documents.compactMap(decoder.decode)
        }
        var assembler = PolicyAssembler()
        return assembler.assemble(fragments, hashes: sources, files: sources.map(\.0), options: PolicyLoadOptions())
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

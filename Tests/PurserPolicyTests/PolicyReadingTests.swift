#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import PurserPolicy
import PurserCore
import PurserTestSupport
import PurserYAML

/// Reading a policy set: byte order marks, the total limit, reads kept inside the given
/// directories, and messages that say what is wrong without echoing megabytes (issue #19).
@Suite("Policy reading")
struct PolicyReadingTests {
    static let base = "version: 1\nteams:\n  payments: {}\n"

    @Test func aByteOrderMarkIsSkipped() throws {
        let documents = try YAMLReader().read([0xEF, 0xBB, 0xBF] + Array(("---\n" + Self.base).utf8), file: "p.yaml")
        #expect(documents.count == 1 && documents[0].root.mapping?.first?.key.scalar == "version")
        let result = PolicySet.load(files: [("p.yaml", [0xEF, 0xBB, 0xBF] + Array(("%YAML 1.1\n---\n" + Self.base).utf8))])
        #expect(result.policy != nil, "\(result.diagnostics)")
    }

    @Test func theWholeSetIsLimited() throws {
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        for index in 0..<3 {
            try Data((Self.base.replacingOccurrences(of: "payments", with: "t\(index)") + String(repeating: "#\n", count: 500)).utf8)
                .write(to: URL(fileURLWithPath: directory + "/f\(index).yaml"))
        }
        var options = PolicyLoadOptions()
        options.maxTotalBytes = 2_500
        let result = PolicySet.load(paths: [directory], options: options)
        #expect(result.policy == nil)
        let refused = result.diagnostics.filter { $0.code == .fileTooLarge }
        #expect(refused.count == 1 && refused[0].location.file.hasSuffix("f2.yaml"))
        #expect(refused[0].message.contains("limit of 2500 bytes (maxTotalBytes"))
        #expect(PolicySet.load(paths: [directory]).policy != nil)
    }

    @Test func readsStayInsideTheDirectoriesGiven() throws {
        let directory = try temporaryDirectory()
        defer { cleanup(directory) }
        try FileManager.default.createDirectory(atPath: directory + "/p", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/secret", withIntermediateDirectories: true)
        try Data("ghp_SECRETTOKEN123\n".utf8).write(to: URL(fileURLWithPath: directory + "/secret/token.yaml"))
        try Data(Self.base.utf8).write(to: URL(fileURLWithPath: directory + "/p/base.yaml"))
        try FileManager.default.createSymbolicLink(atPath: directory + "/p/leak.yaml", withDestinationPath: directory + "/secret/token.yaml")
        let refused = PolicySet.load(paths: [directory + "/p"])
        #expect(refused.policy == nil && refused.hasInputErrors)
        #expect(!refused.diagnostics.contains { $0.message.contains("ghp_") })
        var options = PolicyLoadOptions()
        options.allowOutsideRoots = true
        let allowed = PolicySet.load(paths: [directory + "/p"], options: options)
        // Read when allowed: not a policy, and the message quotes at most a short excerpt.
        #expect(allowed.diagnostics.contains { $0.location.file.hasSuffix("leak.yaml") && $0.code != .unreadableFile })
    }

    @Test func integersOutOfRangeAreNotFormatErrors() {
        let result = PolicySet.load(yaml: """
            version: 1
            budgets:
              - {id: b, scope: org, period: month, tokens: 1e23, requests: 1.5}

            """)
        let messages = result.diagnostics.map(\.message)
        #expect(messages.contains { $0.contains("budgets.b.tokens is out of range (0..1000000000000000), found 1e23") }, "\(messages)")
        #expect(messages.contains { $0.contains("requests must be a whole number, found 1.5") }, "\(messages)")
    }

    @Test func longValuesAreCutInMessages() {
        let long = String(repeating: "y", count: 100_000)
        let result = PolicySet.load(yaml: "version: 1\n\(long): 1\nmodels:\n  m: {tier: small, provider: \"\(long) \"}\n")
        #expect(!result.diagnostics.isEmpty)
        #expect(result.diagnostics.allSatisfy { $0.message.utf8.count < 400 }, "\(result.diagnostics.map(\.message.utf8.count))")
    }
}

extension PolicyReadingTests {
    @Test func yamlErrorsQuoteOnlyAnExcerptOfAKey() {
        let key = String(repeating: "k", count: 1 << 20)
        do {
            _ = try YAMLReader().read("? \(key)\n: 1\n? \(key)\n: 2\n", file: "p.yaml")
            Issue.record("a duplicate key was accepted")
        } catch {
            #expect(error.message.hasPrefix("duplicate key \"kkk") && error.message.utf8.count < 200, "\(error.message.utf8.count) bytes")
        }
    }
}

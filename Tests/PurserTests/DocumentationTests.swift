import Foundation
import Testing
import Purser
import PurserTestSupport

/// The documentation's examples are executable: every ```yaml block is a
/// complete policy that checks clean, or a policy test file (top-level
/// `tests:`) whose cases pass against the shipped `policies/`. (YAML that is
/// neither, such as a pre-commit configuration, is fenced as ```yml.)
@Suite("Documentation")
struct DocumentationTests {
    /// The fenced blocks of a Markdown file whose info string is exactly `yaml`, with their line numbers.
    static func yamlBlocks(_ path: String) throws -> [(line: Int, text: String)] {
        try blocks(path, info: "yaml")
    }

    /// The fenced blocks of a Markdown file whose info string is exactly `info`, with their line numbers.
    static func blocks(_ path: String, info: String) throws -> [(line: Int, text: String)] {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        var blocks: [(Int, String)] = []
        var current: (Int, [Substring])?
        for (number, line) in lines.enumerated() {
            if let open = current {
                if line.hasPrefix("```") {
                    blocks.append((open.0, open.1.joined(separator: "\n") + "\n"))
                    current = nil
                } else {
                    current?.1.append(line)
                }
            } else if line == "```" + info {
                current = (number + 1, [])
            }
        }
        return blocks
    }

    @Test(arguments: ["docs/policy-language.md", "docs/evaluation.md", "docs/cli.md", "README.md"])
    func yamlExamplesCheckClean(file: String) throws {
        let path = repositoryRoot + "/" + file
        guard FileManager.default.fileExists(atPath: path) else {
            Issue.record("\(file) is missing")
            return
        }
        let blocks = try Self.yamlBlocks(path)
        #expect(!blocks.isEmpty)
        for block in blocks where block.text.contains("\ntests:") {
            try expectTestCasesPass(block.text, at: "\(file):\(block.line)")
        }
        for block in blocks where !block.text.contains("\ntests:") {
            let result = load(block.text, file: "\(file):\(block.line)")
            #expect(result.diagnostics.isEmpty, "the yaml block at \(file):\(block.line) does not check clean: \(result.diagnostics)")
        }
    }

    /// Every ```json block of the wire-format page is what Purser reads or writes: a request
    /// (or usage record) decodes, and a decision, violation, budget or alert object has
    /// exactly the fields `DecisionEncoder` writes.
    @Test func jsonExamplesMatchTheWireFormats() async throws {
        let policy = try #require(PolicySet.load(paths: [repositoryRoot + "/policies"]).policy)
        let enforcer = try Enforcer(policy: policy, clock: ManualClock(try #require(Timestamp(rfc3339: "2026-11-23T15:00:00Z"))))
        func object(_ text: String) -> [String: Any]? {
            (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
        }
        // A rerouted decision has violations and budgets; an authorization of the last dollars
        // of a dev allowance raises an alert (encoded on its own).
        let decision = try #require(object(DecisionEncoder.json(await enforcer.evaluate(
            Request(team: "payments", environment: "qa", model: "claude-opus-4-5")))))
        let violation = try #require((decision["violations"] as? [[String: Any]])?.first)
        let budget = try #require((decision["budgets"] as? [[String: Any]])?.first)
        let alerted = await enforcer.authorize(Request(team: "research", environment: "dev", model: "gpt-5-mini", cost: USD(dollars: 33)))
        var alertJSON = JSONWriter()
        DecisionEncoder.encode(try #require(alerted.alerts.first), into: &alertJSON)
        let alert = try #require(object(alertJSON.text))
        let written = (decision: Set(decision.keys), violation: Set(violation.keys), budget: Set(budget.keys), alert: Set(alert.keys))

        let file = "docs/wire-formats.md"
        let blocks = try Self.blocks(repositoryRoot + "/" + file, info: "json")
        #expect(blocks.count >= 6)
        for block in blocks {
            let place = "\(file):\(block.line)"
            guard let example = object(block.text) else {
                Issue.record("the json block at \(place) is not a JSON object")
                continue
            }
            let keys = Set(example.keys)
            if keys.contains("decision") {
                #expect(keys == written.decision, "the decision at \(place)")
                for item in example["violations"] as? [[String: Any]] ?? [] { #expect(Set(item.keys) == written.violation, "a violation at \(place)") }
                for item in example["budgets"] as? [[String: Any]] ?? [] { #expect(Set(item.keys) == written.budget, "a budget at \(place)") }
                for item in example["alerts"] as? [[String: Any]] ?? [] { #expect(Set(item.keys) == written.alert, "an alert at \(place)") }
            } else if keys.contains("threshold") {
                #expect(keys == written.alert, "the alert at \(place)")
            } else if keys.contains("rule") {
                #expect(keys == written.violation, "the violation at \(place)")
            } else if keys.contains("remaining") {
                #expect(keys == written.budget, "the budget at \(place)")
            } else {
                do {
                    _ = try RequestDecoder.decode(block.text)
                } catch {
                    Issue.record("the request at \(place) does not decode: \(error.message)")
                }
            }
        }
    }

    /// A decision that raised alerts is valid JSON too (docs/wire-formats.md, "Alerts").
    /// Regression: `DecisionEncoder` wrote a comma before each alert (`"alerts":[,{…},,{…}]`).
    @Test func decisionsWithAlertsAreValidJSON() async throws {
        let policy = try #require(PolicySet.load(paths: [repositoryRoot + "/policies"]).policy)
        let enforcer = try Enforcer(policy: policy, clock: ManualClock(try #require(Timestamp(rfc3339: "2026-11-23T15:00:00Z"))))
        let decision = await enforcer.authorize(Request(team: "research", environment: "dev", model: "gpt-5-mini", cost: USD(dollars: 40)))
        #expect(decision.alerts.count == 2)
        let json = DecisionEncoder.json(decision)
        let parsed = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let alerts = try #require(parsed?["alerts"] as? [[String: Any]], "\(json)")
        #expect(alerts.count == 2 && alerts.allSatisfy { $0["budget"] is String && $0["threshold"] != nil })
    }

    /// Runs a test file from the docs against the shipped policies.
    func expectTestCasesPass(_ text: String, at place: String) throws {
        let directory = NSTemporaryDirectory() + "purser-doc-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data(text.utf8).write(to: URL(fileURLWithPath: directory + "/example.test.yaml"))
        let loaded = PolicySet.load(paths: [repositoryRoot + "/policies"])
        let policySet = try #require(loaded.policy)
        let suite = PolicyTestSuite.load(paths: [directory], policy: policySet)
        #expect(suite.diagnostics.isEmpty, "the test file at \(place) has problems: \(suite.diagnostics)")
        #expect(!suite.cases.isEmpty)
        let results = PolicyTestRunner(policy: try CompiledPolicy(policySet)).run(suite)
        for result in results where !result.passed {
            Issue.record("the test case \"\(result.testCase.name)\" at \(place) fails: \(result.failures)")
        }
    }

    @Test func shippedPoliciesCheckCleanUnderStrict() {
        var options = PolicyLoadOptions()
        options.now = CheckCatalog.exampleNow
        let result = PolicySet.load(paths: [repositoryRoot + "/policies"], options: options)
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
        let policy = result.policy
        #expect(Set(policy?.environments.map(\.name) ?? []) == ["production", "staging", "qa", "dev"])
        #expect((policy?.teams.count ?? 0) >= 5)
        #expect(Set(policy?.models.map(\.provider) ?? []).count >= 3)
        #expect(policy?.rules.contains { $0.enforcement == .audit } == true)
        #expect(policy?.exceptions.count == 1)
        #expect(policy?.budgets.contains { $0.scope == [.org] } == true)
    }
}

/// The project is its own specification: comments, tests, scripts and docs point into
/// `docs/` (`(docs/evaluation.md, "Rerouting")`), never at a document outside the
/// repository, and every pointer leads somewhere. A renamed heading or page fails here
/// rather than leaving pointers that lead nowhere.
@Suite("Documentation pointers")
struct DocumentationPointerTests {
    /// A text file of the repository, its lines with comment markers taken off and joined
    /// (so a pointer broken over two comment lines reads as one).
    struct Source {
        let path: String
        let text: String
        let joined: String
    }

    /// The files whose pointers are checked: sources, tests, scripts and docs. Data (logs,
    /// price tables, fuzz seeds) and the CHANGELOG, which records history, are left out.
    static func sources() throws -> [Source] {
        let skipped: Set<String> = [".build", ".git", ".swiftpm", "examples/usage", "examples/prices", "examples/samples",
                                    "Fuzz/seeds", "Fuzz/corpus", "Fuzz/artifacts", "Fuzz/logs"]
        let extensions: Set<String> = ["swift", "md", "sh", "dict", "py", "yaml", "yml"]
        var result: [Source] = []
        let manager = FileManager.default
        guard let walker = manager.enumerator(atPath: repositoryRoot) else { return [] }
        while let relative = walker.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            let isDirectory = (walker.fileAttributes?[.type] as? FileAttributeType) == .typeDirectory
            if isDirectory {
                if skipped.contains(relative) || skipped.contains(name) || (name.hasPrefix(".") && name != ".ci") {
                    walker.skipDescendants()
                }
                continue
            }
            let inCI = relative.hasPrefix(".ci/")
            guard inCI || extensions.contains((name as NSString).pathExtension), relative != "CHANGELOG.md" else { continue }
            guard let text = try? String(contentsOfFile: repositoryRoot + "/" + relative, encoding: .utf8) else { continue }
            let joined = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
                var line = line.drop { $0 == " " || $0 == "\t" }
                for marker in ["///", "//", "#", "*"] where line.hasPrefix(marker) {
                    line = line.dropFirst(marker.count)
                    break
                }
                return line.trimmingCharacters(in: .whitespaces)
            }.joined(separator: " ")
            result.append(Source(path: relative, text: text, joined: joined))
        }
        return result
    }

    /// The headings of a Markdown file (outside code blocks), and their GitHub anchors.
    struct Headings {
        var titles: Set<String> = []
        var anchors: Set<String> = []

        init(_ markdown: String) {
            var fenced = false
            var seen: [String: Int] = [:]
            for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("```") { fenced.toggle() }
                guard !fenced, line.hasPrefix("#") else { continue }
                let title = line.drop { $0 == "#" }
                guard title.first == " " else { continue }
                let text = title.trimmingCharacters(in: .whitespaces)
                titles.insert(Self.normalized(text))
                let anchor = Self.anchor(text)
                let count = seen[anchor, default: 0]
                seen[anchor] = count + 1
                anchors.insert(count == 0 ? anchor : "\(anchor)-\(count)")
            }
        }

        /// A heading or a pointer's text compared loosely: case, code spans and section numbers aside.
        static func normalized(_ text: String) -> String {
            var text = text.replacingOccurrences(of: "`", with: "").lowercased().trimmingCharacters(in: .whitespaces)
            if let range = text.range(of: #"^[0-9]+\.\s*"#, options: .regularExpression) { text.removeSubrange(range) }
            return text
        }

        /// GitHub's anchor for a heading: lowercased, punctuation dropped, spaces to hyphens.
        static func anchor(_ text: String) -> String {
            String(text.lowercased().compactMap { character -> Character? in
                if character == " " { return "-" }
                if character.isLetter || character.isNumber || character == "-" || character == "_" { return character }
                return nil
            })
        }
    }

    static func matches(_ pattern: String, in text: String) -> [[String]] {
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return [] }
        let whole = NSRange(text.startIndex..., in: text)
        return expression.matches(in: text, range: whole).map { match in
            (0..<match.numberOfRanges).map { index in
                Range(match.range(at: index), in: text).map { String(text[$0]) } ?? ""
            }
        }
    }

    @Test func noPointerLeavesTheRepository() throws {
        let sources = try Self.sources()
        #expect(sources.count > 100)
        // The name of the contract document this project started from; its sections are now docs/ pages.
        let outside = #"\bS[P]EC\b"#
        for source in sources {
            for match in Self.matches(outside, in: source.joined) {
                Issue.record("\(source.path) cites \"\(match[0])\", a document outside the repository; point to the page and section in docs/ instead")
            }
        }
    }

    @Test func pointersIntoDocsLeadSomewhere() throws {
        var pages: [String: Headings] = [:]
        func page(_ path: String) -> Headings? {
            if let known = pages[path] { return known }
            guard let text = try? String(contentsOfFile: repositoryRoot + "/" + path, encoding: .utf8) else { return nil }
            let headings = Headings(text)
            pages[path] = headings
            return headings
        }
        var checked = 0
        for source in try Self.sources() {
            // `docs/<page>.md, "Heading"` (the form comments use) and `docs/<page>.md#anchor`.
            for match in Self.matches(#"docs/([A-Za-z0-9_-]+\.md)(?:,\s*"([^"]+)"|#([A-Za-z0-9_-]+))?"#, in: source.joined) {
                checked += 1
                let target = "docs/" + match[1]
                guard let headings = page(target) else {
                    Issue.record("\(source.path) points to \(target), which does not exist")
                    continue
                }
                if !match[2].isEmpty, !headings.titles.contains(Headings.normalized(match[2])) {
                    Issue.record("\(source.path) points to \(target), \"\(match[2])\": the page has no such heading")
                }
                if !match[3].isEmpty, !headings.anchors.contains(match[3]) {
                    Issue.record("\(source.path) points to \(target)#\(match[3]): the page has no such heading")
                }
            }
            // Relative Markdown links: [text](page.md#anchor), [text](#anchor), [text](../policies).
            guard source.path.hasSuffix(".md") else { continue }
            let directory = (source.path as NSString).deletingLastPathComponent
            for match in Self.matches(#"\]\(([^)\s]+)\)"#, in: source.text) {
                let link = match[1]
                guard !link.contains("://"), !link.hasPrefix("mailto:") else { continue }
                checked += 1
                let parts = link.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                let file = parts[0].isEmpty ? source.path : ((directory as NSString).appendingPathComponent(parts[0]) as NSString).standardizingPath
                guard FileManager.default.fileExists(atPath: repositoryRoot + "/" + file) else {
                    Issue.record("\(source.path) links to \(link): \(file) does not exist")
                    continue
                }
                if parts.count == 2, file.hasSuffix(".md"), page(file)?.anchors.contains(parts[1]) != true {
                    Issue.record("\(source.path) links to \(link): \(file) has no such heading")
                }
            }
        }
        #expect(checked > 50)
    }
}

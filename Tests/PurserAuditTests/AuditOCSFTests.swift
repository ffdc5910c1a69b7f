import Foundation
import Testing
import PurserAudit
import Purser
import PurserTestSupport

/// A JSON value with its exact JSON type (an integer is not a float, a boolean is not a number).
enum JSONValue: Decodable, Equatable {
    case null, bool(Bool), integer(Int64), float(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .float(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// The value at a dotted path (`metadata.product.name`).
    subscript(path: String) -> JSONValue? {
        var current: JSONValue? = self
        for key in path.split(separator: ".") {
            guard case .object(let members)? = current else { return nil }
            current = members[String(key)]
        }
        return current
    }
}

@Suite struct AuditOCSFTests {
    /// The JSON types OCSF's scalar types map to.
    enum Kind { case integer, string, object, stringArray, objectArray }

    /// The required attributes of an OCSF 1.8.0 Compliance Finding (class_uid 2003), from
    /// github.com/ocsf/ocsf-schema at tag 1.8.0 (version.json "1.8.0"):
    /// - events/base_event.json, requirement "required": activity_id, category_uid, class_uid,
    ///   metadata, severity_id, time, type_uid (integer_t / long_t / timestamp_t → integers;
    ///   timestamp_t is milliseconds since the epoch);
    /// - events/findings/finding.json: finding_info; events/findings/compliance_finding.json: compliance;
    /// - objects/metadata.json: product, version; objects/finding_info.json: uid;
    /// - objects/product.json and objects/resource_details.json extend _entity, whose constraint
    ///   is at_least_one of name, uid (checked separately below).
    /// Plus the attributes Purser promises (compliance.control, standards, status_id; resources; unmapped).
    static let required: [(String, Kind)] = [
        ("activity_id", .integer), ("category_uid", .integer), ("class_uid", .integer), ("type_uid", .integer),
        ("time", .integer), ("severity_id", .integer), ("metadata", .object), ("metadata.version", .string),
        ("metadata.product", .object), ("finding_info", .object), ("finding_info.uid", .string), ("compliance", .object),
        // Recommended or promised by Purser:
        ("status_id", .integer), ("message", .string), ("finding_info.title", .string), ("finding_info.types", .stringArray),
        ("compliance.control", .string), ("compliance.standards", .stringArray), ("compliance.requirements", .stringArray),
        ("compliance.status_id", .integer), ("resources", .objectArray), ("unmapped", .object), ("unmapped.input", .string),
        ("unmapped.policy_revision", .string),
    ]

    static func matches(_ value: JSONValue?, _ kind: Kind) -> Bool {
        switch (kind, value) {
        case (.integer, .integer?), (.string, .string?), (.object, .object?): return true
        case (.stringArray, .array(let items)?): return items.allSatisfy { if case .string = $0 { true } else { false } }
        case (.objectArray, .array(let items)?): return items.allSatisfy { if case .object = $0 { true } else { false } }
        default: return false
        }
    }

    /// Whether an `_entity` object has a string `name` or `uid`.
    static func isEntity(_ value: JSONValue?) -> Bool {
        matches(value?["name"], .string) || matches(value?["uid"], .string)
    }

    @Test func everyFindingHasTheRequiredFieldsWithTheirTypes() throws {
        let report = try AuditReportFixture.report()
        let text = try AuditRenderer.text(report, as: .ocsf)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(text.hasSuffix("\n"))
        #expect(lines.count == report.summary.violations)
        let violations = try AuditReportFixture.violations(report)
        var uids = Set<String>()
        for (line, item) in zip(lines, violations) {
            let finding = try JSONDecoder().decode(JSONValue.self, from: Data(line.utf8))
            for (path, kind) in Self.required {
                #expect(Self.matches(finding[path], kind), "\(path) in \(line)")
            }
            #expect(Self.isEntity(finding["metadata.product"]))
            if case .array(let resources)? = finding["resources"] {
                #expect(!resources.isEmpty && resources.allSatisfy(Self.isEntity))
            }
            #expect(finding["class_uid"] == .integer(2003))
            #expect(finding["category_uid"] == .integer(2))
            #expect(finding["activity_id"] == .integer(1))
            #expect(finding["type_uid"] == .integer(200_301))
            #expect(finding["metadata.version"] == .string("1.8.0"))
            #expect(finding["metadata.product.name"] == .string("Purser"))
            #expect(finding["time"] == .integer(item.timestamp.nanoseconds / 1_000_000))
            let severities: [Severity: Int64] = [.info: 1, .low: 2, .medium: 3, .high: 4, .critical: 5]
            #expect(finding["severity_id"] == .integer(severities[item.violation.severity] ?? 0))
            let compliance: [ViolationEffect: Int64] = [.deny: 3, .rerouted: 3, .warn: 2, .waived: 99]
            #expect(finding["compliance.status_id"] == .integer(compliance[item.violation.effect] ?? 0))
            let status: [ViolationEffect: Int64] = [.deny: 1, .warn: 1, .waived: 3, .rerouted: 4]
            #expect(finding["status_id"] == .integer(status[item.violation.effect] ?? 0))
            #expect(finding["compliance.control"] == .string(item.violation.rule))
            #expect(finding["unmapped.input"] == .string(item.input.description))
            if case .string(let uid)? = finding["finding_info.uid"] { uids.insert(uid) }
            if let cost = item.cost {
                // The cost is an exact JSON number, as in the jsonl report.
                #expect(line.contains("\"cost\":\(cost.description)"))
            }
        }
        #expect(uids.count == lines.count)
    }

    @Test func waivedFindingsSayWhichException() throws {
        let report = try AuditReportFixture.report()
        let lines = try AuditRenderer.text(report, as: .ocsf).split(separator: "\n")
        let waived = try lines.map { try JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
            .filter { $0["unmapped.effect"] == .string("waived") }
        #expect(!waived.isEmpty)
        for finding in waived {
            #expect(finding["compliance.status"] == .string("Waived"))
            #expect(finding["compliance.status_details"] == .array([.string("waived by exception EXC-2026-031")]))
            #expect(finding["status"] == .string("Suppressed"))
        }
    }
}

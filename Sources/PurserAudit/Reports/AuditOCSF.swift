import Purser
/// `--format ocsf`: one OCSF Compliance Finding (class 2003) per violation, as JSON Lines.
///
/// Targets OCSF 1.8.0 (github.com/ocsf/ocsf-schema, tag `1.8.0`). Its required attributes:
///
/// - `events/base_event.json`: `activity_id`, `category_uid`, `class_uid`, `metadata`,
///   `severity_id`, `time`, `type_uid`
/// - `events/findings/finding.json`: `finding_info`
/// - `events/findings/compliance_finding.json`: `compliance`
/// - `objects/metadata.json`: `product`, `version`; `objects/product.json` (an `_entity`):
///   at least one of `name`, `uid`
/// - `objects/finding_info.json`: `uid`
/// - `objects/compliance.json`: none (`control`, `standards`, `status_id` are recommended)
/// - `objects/resource_details.json` (an `_entity`): at least one of `name`, `uid`
///
/// Enums: `activity_id` 1 Create; `type_uid` = class_uid × 100 + activity_id = 200301;
/// `severity_id` info 1, low 2, medium 3, high 4, critical 5. `compliance.status_id`
/// (1 Pass, 2 Warning, 3 Fail, 99 Other): deny and rerouted → Fail, warn → Warning,
/// waived → Other with `status` "Waived" — the record did break the control, so Pass would be
/// false, and the schema's 99 Other exists for exactly a source-defined status. The event's
/// `status_id` is the finding's workflow state (1 New, 3 Suppressed, 4 Resolved, …):
/// deny and warn → New, waived → Suppressed (an approved exception), rerouted → Resolved.
package enum AuditOCSF {
    /// The OCSF schema version written in `metadata.version`.
    package static let schemaVersion = "1.8.0"
    package static let categoryUID = 2
    package static let classUID = 2003
    package static let activityID = 1

    /// Writes one finding per violation, one per line, streamed from the spool.
    package static func render(_ report: AuditReport, options: AuditRenderOptions, write: @escaping ([UInt8]) throws -> Void) throws {
        var out = ChunkedOutput(write)
        var json = JSONWriter()
        try report.forEachViolation { item in
            json.reset()
            finding(item, report: report, toolVersion: options.toolVersion, into: &json)
            json.newline()
            try out.append(bytes: json.bytes)
        }
        try out.flush()
    }

    /// `severity_id` and its caption.
    package static func severity(_ severity: Severity) -> (id: Int, caption: String) {
        switch severity {
        case .info: return (1, "Informational")
        case .low: return (2, "Low")
        case .medium: return (3, "Medium")
        case .high: return (4, "High")
        case .critical: return (5, "Critical")
        }
    }

    /// `compliance.status_id` and its caption.
    package static func complianceStatus(_ effect: ViolationEffect) -> (id: Int, caption: String) {
        switch effect {
        case .deny, .rerouted: return (3, "Fail")
        case .warn: return (2, "Warning")
        case .waived: return (99, "Waived")
        }
    }

    /// The finding's `status_id` and its caption.
    package static func findingStatus(_ effect: ViolationEffect) -> (id: Int, caption: String) {
        switch effect {
        case .deny, .warn: return (1, "New")
        case .waived: return (3, "Suppressed")
        case .rerouted: return (4, "Resolved")
        }
    }

    /// One violation as a Compliance Finding.
    package static func finding(_ item: AuditViolation, report: AuditReport, toolVersion: String, into json: inout JSONWriter) {
        let violation = item.violation
        let rule = report.rule(violation.rule)
        let uid = ReportText.fingerprint(item)
        let time = item.timestamp.nanoseconds / 1_000_000
        let severity = severity(violation.severity)
        let status = findingStatus(violation.effect)
        json.object { json in
            json.field("activity_id", activityID)
            json.field("activity_name", "Create")
            json.field("category_uid", categoryUID)
            json.field("category_name", "Findings")
            json.field("class_uid", classUID)
            json.field("class_name", "Compliance Finding")
            json.field("type_uid", classUID * 100 + activityID)
            json.field("type_name", "Compliance Finding: Create")
            json.field("time", time)
            json.field("severity_id", severity.id)
            json.field("severity", severity.caption)
            json.field("status_id", status.id)
            json.field("status", status.caption)
            json.field("message", violation.message)
            json.field("metadata", object: { json in
                json.field("version", schemaVersion)
                json.field("product", object: { json in
                    json.field("name", "Purser")
                    json.field("vendor_name", "Purser")
                    json.field("version", toolVersion)
                })
                json.field("uid", uid)
                json.field("original_time", item.timestamp.description)
                json.field("log_source", item.input.file)
                if let id = item.requestID { json.field("original_event_uid", id) }
            })
            json.field("finding_info", object: { json in
                json.field("uid", uid)
                json.field("title", violation.message)
                json.field("desc", rule.summary)
                json.field("types", array: { $0.string("Purser \(violation.kind.rawValue) violation") })
                json.field("first_seen_time", time)
                json.field("last_seen_time", time)
            })
            compliance(violation, rule: rule, into: &json)
            resources(item, into: &json)
            if let reroute = item.reroute {
                json.field("remediation", object: { json in
                    let cost = reroute.cost.map { " (it would have cost \(ReportText.money($0)))" } ?? ""
                    json.field("desc", "The policy would have rerouted the request to \(reroute.model)"
                        + (reroute.region.map { " in \($0)" } ?? "") + cost + ".")
                })
            }
            unmapped(item, report: report, into: &json)
        }
    }

    /// The `compliance` object: the control, its standard and requirement, and the result.
    private static func compliance(_ violation: Violation, rule: AuditRule, into json: inout JSONWriter) {
        let status = complianceStatus(violation.effect)
        json.field("compliance", object: { json in
            json.field("control", violation.rule)
            json.field("desc", rule.summary)
            json.field("standards", array: { $0.string("Purser policy") })
            json.field("requirements", array: { json in
                json.string(violation.source?.description ?? (rule.source?.description ?? "built-in check \(violation.rule)"))
            })
            json.field("status_id", status.id)
            json.field("status", status.caption)
            if let waiver = violation.waivedBy {
                json.field("status_details", array: { $0.string("waived by exception \(waiver)") })
            }
        })
    }

    /// The team, environment and model the finding is about, as resources.
    private static func resources(_ item: AuditViolation, into json: inout JSONWriter) {
        json.field("resources", array: { json in
            if let team = item.team {
                json.object { json in
                    json.field("type", "team")
                    json.field("name", team)
                    json.field("uid", "team:" + team)
                }
            }
            if let environment = item.environment {
                json.object { json in
                    json.field("type", "environment")
                    json.field("name", environment)
                    json.field("uid", "environment:" + environment)
                }
            }
            json.object { json in
                json.field("type", "model")
                json.field("name", item.model)
                json.field("uid", "model:" + item.model)
                if let region = item.region { json.field("region", region) }
            }
        })
    }

    /// Purser's own fields: exact cost, log file:line, policy revision and the violation as Purser reports it.
    private static func unmapped(_ item: AuditViolation, report: AuditReport, into json: inout JSONWriter) {
        json.field("unmapped", object: { json in
            json.key("cost")
            if let cost = item.cost { json.usd(cost) } else { json.null() }
            json.field("input", item.input.description)
            json.field("policy_revision", report.policyRevision)
            json.field("rule", item.violation.rule)
            json.field("kind", item.violation.kind.rawValue)
            json.field("effect", item.violation.effect.rawValue)
            json.field("waived_by", item.violation.waivedBy)
            json.field("request_id", item.requestID)
            json.field("timestamp", item.timestamp.description)
            if let reroute = item.reroute {
                json.field("reroute", object: { json in
                    json.field("model", reroute.model)
                    json.field("region", reroute.region)
                    json.key("cost")
                    if let cost = reroute.cost { json.usd(cost) } else { json.null() }
                })
            }
        })
    }
}

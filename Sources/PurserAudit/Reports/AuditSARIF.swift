import Purser
/// `--format sarif`: SARIF 2.1.0, one result per violation, located at the log record
/// (file and line) with the policy definition as a related location.
///
/// Levels: deny → `error`, warn → `warning`, waived and rerouted → `note`; a waived result also
/// carries an external suppression naming the exception. `partialFingerprints.purserViolation/v1`
/// is SHA-256 of rule id, log file:line and time, stable across runs. Results are streamed from
/// the spool; the rules come from the per-rule totals, so nothing is read twice.
package enum AuditSARIF {
    /// Writes the log: the run header with its rules, then the results streamed from the spool.
    package static func render(_ report: AuditReport, options: AuditRenderOptions, write: @escaping ([UInt8]) throws -> Void) throws {
        var out = ChunkedOutput(write)
        let rules = report.byRule.map { report.rule($0.name) }.sorted { $0.id < $1.id }
        var indexes: [String: Int] = [:]
        for (index, rule) in rules.enumerated() { indexes[rule.id] = index }

        let json = JSONWriter()
        json.appendRaw(Array("{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\",\"version\":\"2.1.0\",\"runs\":[{\"tool\":".utf8))
        json.object { json in
            json.field("driver", object: { json in
                json.field("name", "purser")
                json.field("semanticVersion", options.toolVersion)
                json.field("informationUri", "https://github.com/purser-dev/purser")
                json.field("rules", array: { json in
                    for rule in rules { AuditSARIF.rule(rule, into: &json) }
                })
            })
        }
        json.appendRaw(Array(",\"properties\":".utf8))
        let properties = JSONWriter()
        properties.object { json in
            json.field("policy_revision", report.policyRevision)
            json.field("timezone", report.timezone)
            json.field("records", report.summary.records)
            json.field("malformed", report.summary.malformed)
            json.field("malformed_tolerated", report.summary.malformedTolerated)
            json.field("out_of_window", report.summary.outOfWindow)
            json.field("skipped_files", report.summary.skippedFiles.count)
            json.field("total_spend", report.summary.totalSpend)
        }
        json.appendRaw(properties.bytes)
        json.appendRaw(Array(",\"columnKind\":\"unicodeCodePoints\",\"results\":[".utf8))
        try out.append(bytes: json.bytes)

        var first = true
        var result = JSONWriter()
        try report.forEachViolation { item in
            result.reset()
            if !first { result.appendRaw([UInt8(ascii: ",")]) }
            first = false
            AuditSARIF.result(item, ruleIndex: indexes[item.violation.rule], into: &result)
            try out.append(bytes: result.bytes)
        }
        try out.append("]}]}\n")
        try out.flush()
    }

    /// `error`, `warning` or `note`.
    package static func level(_ effect: ViolationEffect) -> String {
        switch effect {
        case .deny: return "error"
        case .warn: return "warning"
        case .waived, .rerouted: return "note"
        }
    }

    /// A `reportingDescriptor` for a rule id.
    package static func rule(_ rule: AuditRule, into json: inout JSONWriter) {
        json.object { json in
            json.field("id", rule.id)
            json.field("name", SARIF.ruleName(rule.id))
            json.field("shortDescription", object: { $0.field("text", rule.summary) })
            if BuiltinCheck(rawValue: rule.id) != nil {
                json.field("helpUri", "https://github.com/purser-dev/purser/blob/main/docs/policy-language.md#11-exceptions")
            }
            json.field("properties", object: { json in
                json.field("kind", rule.kind.rawValue)
                if let source = rule.source { json.field("source", source.description) }
            })
        }
    }

    /// One violation as a SARIF result.
    package static func result(_ item: AuditViolation, ruleIndex: Int?, into json: inout JSONWriter) {
        let violation = item.violation
        json.object { json in
            json.field("ruleId", violation.rule)
            if let ruleIndex { json.field("ruleIndex", ruleIndex) }
            json.field("level", level(violation.effect))
            json.field("message", object: { $0.field("text", violation.message) })
            json.field("locations", array: { json in
                json.object { json in
                    json.field("physicalLocation", object: { json in
                        json.field("artifactLocation", object: { $0.field("uri", artifactURI(item.input.file)) })
                        json.field("region", object: { $0.field("startLine", item.input.line) })
                    })
                }
            })
            if let source = violation.source {
                json.field("relatedLocations", array: { json in
                    json.object { json in
                        json.field("id", 1)
                        json.field("message", object: { $0.field("text", "policy definition of \(violation.rule)") })
                        json.field("physicalLocation", object: { json in
                            json.field("artifactLocation", object: { $0.field("uri", artifactURI(source.file)) })
                            json.field("region", object: { json in
                                json.field("startLine", source.line)
                                json.field("startColumn", source.column)
                            })
                        })
                    }
                })
            }
            if violation.effect == .waived {
                json.field("suppressions", array: { json in
                    json.object { json in
                        json.field("kind", "external")
                        json.field("status", "accepted")
                        json.field("justification", "waived by \(violation.waivedBy ?? "an exception")")
                    }
                })
            }
            json.field("partialFingerprints", object: { $0.field("purserViolation/v1", ReportText.fingerprint(item)) })
            json.field("properties", object: { json in
                json.field("effect", violation.effect.rawValue)
                json.field("kind", violation.kind.rawValue)
                json.field("severity", violation.severity.rawValue)
                json.field("waived_by", violation.waivedBy)
                json.field("request_id", item.requestID)
                json.field("timestamp", item.timestamp.description)
                json.field("team", item.team)
                json.field("environment", item.environment)
                json.field("model", item.model)
                json.field("region", item.region)
                json.key("cost")
                if let cost = item.cost { json.usd(cost) } else { json.null() }
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

    /// A file as a SARIF artifact URI: relative paths as URI references, absolute ones as `file://` URIs.
    package static func artifactURI(_ path: String) -> String {
        path.hasPrefix("/") ? "file://" + SARIF.uri(path) : SARIF.uri(path)
    }
}

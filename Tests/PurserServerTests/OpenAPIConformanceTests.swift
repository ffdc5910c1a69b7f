import Foundation
import Purser
import PurserServer
import PurserTestSupport
import PurserYAML
import Testing

/// The server's answers checked against docs/openapi.yaml: every status it sends is documented
/// for its operation, with the documented content type, and every JSON body validates against
/// the documented schema; every documented operation is served. (CI also runs schemathesis,
/// which generates the requests, against a running server.)
@Suite("purser serve: answers conform to docs/openapi.yaml")
struct OpenAPIConformanceTests {
    static let specPath: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/docs/openapi.yaml"
    }()

    @Test("every answer of every endpoint, for good and bad calls, is documented and validates")
    func conformance() async throws {
        let spec = try OpenAPISpec(path: Self.specPath)
        let scratch = try Scratch()
        defer { scratch.remove() }
        _ = try scratch.write("policy.yaml", ServerOperationsTests.policy)
        let enforcer = try Enforcer(policy: try #require(PolicySet.load(paths: [scratch.path]).policy), clock: ManualClock(EngineFixture.monday))
        var options = ServerOptions()
        options.policyPaths = [scratch.path]
        options.maxBodyBytes = 4096
        options.callers = try Callers(tokensFile: try scratch.write("tokens", """
            gateway decide,settle gateway-token-0123456789abcdef
            reader  decide        reader-token-0123456789abcdef0
            ops     admin         admin-token-0123456789abcdef00
            """))
        let gateway = "gateway-token-0123456789abcdef", reader = "reader-token-0123456789abcdef0", admin = "admin-token-0123456789abcdef00"
        var served: Set<String> = []
        try await withServer(enforcer, options: options, files: [scratch.path + "/policy.yaml"]) { server in
            func check(_ method: String, _ path: String, body: String? = nil, token: String? = gateway, expect status: Int) async throws -> HTTPTestClient.Response {
                let response = try await HTTPTestClient.send(port: server.port, method, path, body: body,
                                                             headers: token.map { ["Authorization": "Bearer \($0)"] } ?? [:])
                #expect(response.status == status, "\(method) \(path): \(response.text)")
                let route = String(path.split(separator: "?")[0])
                served.insert("\(method) \(route)")
                let problems = spec.check(method: method, path: route, status: response.status,
                                          contentType: response.headers["content-type"] ?? "", body: response.body)
                #expect(problems.isEmpty, "\(method) \(path) \(response.status): \(problems.joined(separator: "; "))\n\(response.text)")
                return response
            }
            let allow = #"{"id":"r","team":"t","environment":"qa","model":"small","usage":{"input_tokens":10}}"#
            let decision = try await check("POST", "/v1/authorize", body: allow, expect: 200).json
            _ = try await check("POST", "/v1/authorize", body: ServerOperationsTests.bigInQA, expect: 200)
            _ = try await check("POST", "/v1/authorize", body: #"{"model":}"#, expect: 400)
            _ = try await check("POST", "/v1/authorize", body: allow, token: nil, expect: 401)
            _ = try await check("POST", "/v1/authorize", body: #"{"model":"small","cost":1}"#, expect: 403)
            _ = try await check("POST", "/v1/authorize", body: String(repeating: " ", count: 5000), expect: 413)
            _ = try await check("POST", "/v1/evaluate", body: #"{"model":"small","timestamp":"2020-01-01T00:00:00Z"}"#, token: reader, expect: 200)
            let id = try #require(decision["decision_id"] as? String)
            _ = try await check("POST", "/v1/settle", body: #"{"decision_id":"\#(id)","usage":{"output_tokens":5}}"#, expect: 200)
            _ = try await check("POST", "/v1/settle", body: #"{"decision_id":"d-00000000000000000000000001"}"#, expect: 404)
            _ = try await check("POST", "/v1/settle", body: #"{"decision_id":"\#(id)"}"#, token: reader, expect: 403)
            _ = try await check("POST", "/v1/release", body: #"{"decision_id":"\#(id)"}"#, expect: 200)
            _ = try await check("POST", "/v1/release", body: "{}", expect: 400)
            _ = try await check("GET", "/v1/budgets?team=t", expect: 200)
            _ = try await check("GET", "/v1/budgets?nope=1", expect: 400)
            _ = try await check("GET", "/v1/policy", token: reader, expect: 200)
            _ = try await check("POST", "/v1/reload", token: admin, expect: 200)
            _ = try scratch.write("policy.yaml", "version: [")
            _ = try await check("POST", "/v1/reload", token: admin, expect: 422)
            _ = try await check("GET", "/v1/policy", expect: 200)  // with last_reload_error
            _ = try await check("POST", "/v1/reload", token: gateway, expect: 403)
            _ = try await check("GET", "/healthz", token: nil, expect: 200)
            _ = try await check("GET", "/readyz", token: nil, expect: 200)
            _ = try await check("GET", "/metrics", token: nil, expect: 200)
        }
        #expect(served == spec.operations, "served but not documented, or documented but not exercised: \(served.symmetricDifference(spec.operations))")
    }

    @Test("the validator itself finds what is wrong")
    func validatorFindsProblems() throws {
        let spec = try OpenAPISpec(path: Self.specPath)
        let healthy = spec.check(method: "GET", path: "/healthz", status: 200, contentType: "application/json", body: Array(#"{"status":"ok"}"#.utf8))
        #expect(healthy.isEmpty)
        #expect(!spec.check(method: "GET", path: "/healthz", status: 200, contentType: "application/json", body: Array(#"{"status":"ok","x":1}"#.utf8)).isEmpty)
        #expect(!spec.check(method: "GET", path: "/healthz", status: 500, contentType: "application/json", body: Array("{}".utf8)).isEmpty)
        #expect(!spec.check(method: "GET", path: "/healthz", status: 200, contentType: "text/plain", body: Array(#"{"status":"ok"}"#.utf8)).isEmpty)
        let badID = #"{"decision_id":"x","released":true}"#
        #expect(!spec.check(method: "POST", path: "/v1/release", status: 200, contentType: "application/json", body: Array(badID.utf8)).isEmpty)
    }
}

/// A JSON value, decoded strictly enough to tell `true` from `1`.
enum JSONValue: Decodable, Equatable, CustomStringConvertible {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    var object: [String: JSONValue]? { if case .object(let value) = self { value } else { nil } }
    var string: String? { if case .string(let value) = self { value } else { nil } }
    var number: Double? { if case .number(let value) = self { value } else { nil } }
    var array: [JSONValue]? { if case .array(let value) = self { value } else { nil } }

    subscript(_ key: String) -> JSONValue? { object?[key] }

    var description: String {
        switch self {
        case .null: "null"
        case .bool(let value): "\(value)"
        case .number(let value): "\(value)"
        case .string(let value): "\"\(value.count > 50 ? String(value.prefix(50)) + "…" : value)\""
        case .array(let items): "[\(items.count) items]"
        case .object(let fields): "{\(fields.keys.sorted().prefix(5).joined(separator: ","))}"
        }
    }
}

/// docs/openapi.yaml, read with Purser's own YAML reader, and a validator for the part of
/// JSON Schema it uses (type, const, enum, required, properties, additionalProperties, items,
/// oneOf, minimum, maximum, minLength, maxLength, pattern, maxItems, maxProperties, $ref).
struct OpenAPISpec {
    let root: JSONValue

    init(path: String) throws {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let document = try #require(try YAMLReader().read(bytes, file: path).first)
        root = Self.value(document.root)
    }

    /// `METHOD /path` of every documented operation.
    var operations: Set<String> {
        var result: Set<String> = []
        for (path, item) in root["paths"]?.object ?? [:] {
            for method in (item.object ?? [:]).keys { result.insert("\(method.uppercased()) \(path)") }
        }
        return result
    }

    /// What is wrong with an answer, by the spec; empty when nothing is.
    func check(method: String, path: String, status: Int, contentType: String, body: [UInt8]) -> [String] {
        guard let operation = root["paths"]?[path]?[method.lowercased()] else {
            return ["\(method) \(path) is not documented"]
        }
        guard var response = operation["responses"]?[String(status)] else {
            return ["status \(status) is not documented for \(method) \(path)"]
        }
        if let ref = response["$ref"]?.string, let resolved = resolve(ref) { response = resolved }
        guard let content = response["content"]?.object else { return body.isEmpty ? [] : ["a body where none is documented"] }
        let mediaType = String(contentType.split(separator: ";").first ?? "").trimmingCharacters(in: .whitespaces)
        guard let media = content[mediaType] else {
            return ["content type \(contentType) is not documented (\(content.keys.sorted()))"]
        }
        guard mediaType == "application/json", let schema = media["schema"] else { return [] }
        guard let json = try? JSONDecoder().decode(JSONValue.self, from: Data(body)) else { return ["the body is not JSON"] }
        var problems: [String] = []
        validate(json, schema, at: "$", into: &problems)
        return problems
    }

    private func resolve(_ ref: String) -> JSONValue? {
        var node: JSONValue? = root
        for part in ref.dropFirst(2).split(separator: "/") { node = node?[String(part)] }
        return node
    }

    private func validate(_ value: JSONValue, _ schemaValue: JSONValue, at place: String, into problems: inout [String]) {
        var schema = schemaValue
        if let ref = schema["$ref"]?.string {
            guard let resolved = resolve(ref) else { return problems.append("\(place): unresolved \(ref)") }
            schema = resolved
        }
        if let types = schema["type"] {
            let allowed = types.array?.compactMap(\.string) ?? [types.string ?? ""]
            guard allowed.contains(where: { Self.isType(value, $0) }) else {
                return problems.append("\(place): \(value) is not \(allowed.joined(separator: " or "))")
            }
        }
        if let constant = schema["const"], value != constant { problems.append("\(place): \(value) is not \(constant)") }
        if let choices = schema["enum"]?.array, !choices.contains(value) { problems.append("\(place): \(value) is not one of \(choices)") }
        if let options = schema["oneOf"]?.array {
            let passing = options.filter { option in
                var found: [String] = []
                validate(value, option, at: place, into: &found)
                return found.isEmpty
            }
            if passing.count != 1 { problems.append("\(place): matches \(passing.count) of oneOf's \(options.count) schemas") }
        }
        if let number = value.number {
            if let minimum = schema["minimum"]?.number, number < minimum { problems.append("\(place): \(number) < \(minimum)") }
            if let maximum = schema["maximum"]?.number, number > maximum { problems.append("\(place): \(number) > \(maximum)") }
        }
        if let text = value.string {
            if let minimum = schema["minLength"]?.number, Double(text.count) < minimum { problems.append("\(place): shorter than \(minimum)") }
            if let maximum = schema["maxLength"]?.number, Double(text.count) > maximum { problems.append("\(place): longer than \(maximum)") }
            if let pattern = schema["pattern"]?.string, text.range(of: pattern, options: .regularExpression) == nil {
                problems.append("\(place): \(value) does not match \(pattern)")
            }
        }
        if let object = value.object {
            let properties = schema["properties"]?.object ?? [:]
            for case .string(let name) in schema["required"]?.array ?? [] where object[name] == nil { problems.append("\(place): no \(name)") }
            if let maximum = schema["maxProperties"]?.number, Double(object.count) > maximum { problems.append("\(place): more than \(maximum) properties") }
            for (name, item) in object {
                if let property = properties[name] {
                    validate(item, property, at: "\(place).\(name)", into: &problems)
                } else if let additional = schema["additionalProperties"] {
                    if additional == .bool(false) { problems.append("\(place): unexpected property \(name)") }
                    validate(item, additional, at: "\(place).\(name)", into: &problems)
                }
            }
        }
        if let array = value.array {
            if let maximum = schema["maxItems"]?.number, Double(array.count) > maximum { problems.append("\(place): more than \(maximum) items") }
            if let items = schema["items"] {
                for (index, item) in array.enumerated() { validate(item, items, at: "\(place)[\(index)]", into: &problems) }
            }
        }
    }

    private static func isType(_ value: JSONValue, _ type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("object", .object), ("array", .array), ("string", .string), ("number", .number): true
        case ("integer", .number(let number)): number.rounded() == number
        default: false
        }
    }

    /// A YAML node as a JSON value: plain scalars that read as booleans, null or numbers become those.
    private static func value(_ node: YAMLNode) -> JSONValue {
        switch node.content {
        case .mapping(let pairs):
            var object: [String: JSONValue] = [:]
            for pair in pairs { object[pair.key.scalar ?? ""] = value(pair.value) }
            return .object(object)
        case .sequence(let items):
            return .array(items.map(value))
        case .scalar(let text, let style):
            guard style.isPlain else { return .string(text) }
            switch text {
            case "true": return .bool(true)
            case "false": return .bool(false)
            case "null", "~": return .null
            default: return Double(text).map(JSONValue.number) ?? .string(text)
            }
        }
    }
}

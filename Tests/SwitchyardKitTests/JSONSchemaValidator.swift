import Foundation
@testable import Reporting

/// A JSON Schema (2020-12) validator for the keywords docs/schema/*.schema.json use, and no
/// more: `type`, `enum`, `properties`, `additionalProperties` (bool or schema), `items`,
/// `required`, `anyOf`, `pattern`, `format: date-time`, and `$ref` into `#/$defs`. A keyword it
/// does not know is an error, so the schema cannot use one that is silently not checked.
struct JSONSchemaValidator {
    let root: JSONValue
    static let annotations: Set<String> = ["$schema", "$id", "title", "description", "$defs", "$comment"]
    static let keywords: Set<String> = ["type", "enum", "properties", "additionalProperties", "items", "required",
                                        "anyOf", "pattern", "format", "$ref"]

    init(schema: [UInt8]) throws {
        guard let root = JSONParser.parse(ArraySlice(schema)) else { throw ValidationError("the schema is not JSON") }
        self.root = root
    }

    struct ValidationError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// Every way `value` breaks the schema, as `path: problem` lines (empty when valid).
    func errors(_ value: JSONValue) -> [String] {
        var found: [String] = []
        check(value, against: root, path: "", into: &found)
        return found
    }

    static func typeName(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "boolean"
        case .number(let text): return text.contains(where: { ".eE".contains($0) }) ? "number" : "integer"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    private func resolve(_ reference: String) -> JSONValue? {
        guard reference.hasPrefix("#/$defs/") else { return nil }
        return root["$defs"]?[String(reference.dropFirst("#/$defs/".count))]
    }

    private func check(_ value: JSONValue, against schema: JSONValue, path: String, into found: inout [String]) {
        if case .bool(let allowed) = schema {
            if !allowed { found.append("\(path): not allowed") }
            return
        }
        guard let members = schema.members else { return found.append("\(path): schema is not an object") }
        for member in members where !Self.keywords.contains(member.key) && !Self.annotations.contains(member.key)
            && !member.key.hasPrefix("x-") {
            found.append("\(path): schema keyword \(member.key) is not supported by this validator")
        }
        if let reference = schema["$ref"]?.stringValue {
            guard let target = resolve(reference) else { return found.append("\(path): unresolved $ref \(reference)") }
            check(value, against: target, path: path, into: &found)
        }
        if let options = schema["anyOf"]?.arrayValue {
            let passing = options.contains { option in
                var errors: [String] = []
                check(value, against: option, path: path, into: &errors)
                return errors.isEmpty
            }
            if !passing { found.append("\(path): matches no anyOf alternative") }
        }
        if let type = schema["type"] {
            let allowed = type.arrayValue?.compactMap(\.stringValue) ?? [type.stringValue ?? ""]
            let actual = Self.typeName(value)
            if !allowed.contains(actual) && !(actual == "integer" && allowed.contains("number")) {
                found.append("\(path): \(actual), schema says \(allowed.joined(separator: " or "))")
                return
            }
        }
        if let choices = schema["enum"]?.arrayValue, !choices.contains(value) {
            found.append("\(path): \(value.serialized()) is not one of the enum")
        }
        if case .string(let text) = value {
            if let pattern = schema["pattern"]?.stringValue,
               text.range(of: pattern, options: .regularExpression) == nil {
                found.append("\(path): \(text) does not match \(pattern)")
            }
            if schema["format"]?.stringValue == "date-time",
               text.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"#, options: .regularExpression) == nil {
                found.append("\(path): \(text) is not an RFC 3339 date-time")
            }
        }
        if case .array(let elements) = value, let items = schema["items"] {
            for (index, element) in elements.enumerated() {
                check(element, against: items, path: "\(path)[\(index)]", into: &found)
            }
        }
        if case .object(let fields) = value {
            for key in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where value[key] == nil {
                found.append("\(path): required \(key) is missing")
            }
            let properties = schema["properties"]
            for field in fields {
                if let property = properties?[field.key] {
                    check(field.value, against: property, path: "\(path).\(field.key)", into: &found)
                } else if let additional = schema["additionalProperties"] {
                    check(field.value, against: additional, path: "\(path).\(field.key)", into: &found)
                }
            }
        }
    }
}

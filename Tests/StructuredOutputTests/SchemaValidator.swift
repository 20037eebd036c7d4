import JSONTree
import Foundation
import TestSupport
@testable import StructuredOutput

/// Python's `jsonschema` (Draft 2020-12) as the independent judge of
/// outputs: one python3 run checks a whole batch.
enum SchemaValidator {
    static let script = #"""
import json, sys
import jsonschema
sys.path.insert(0, sys.argv[2])
from schema_formats import FORMATS as formats  # date, time, date-time and uuid asserted
cases = json.load(open(sys.argv[1], encoding="utf-8"))
failures = []
for i, case in enumerate(cases):
    try:
        value = json.loads(case["output"])
        jsonschema.Draft202012Validator(case["schema"], format_checker=formats).validate(value)
    except Exception as e:
        failures.append({"index": i, "error": str(e)[:300]})
print(json.dumps({"checked": len(cases), "failures": failures}))
"""#

    /// Where schema_formats.py is: beside the OpenAI SDK checks.
    static let formatsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ServerTests/OpenAI").path

    /// Whether python3 with jsonschema is here; outside CI the tests that
    /// need it are skipped without it, in CI they fail.
    static let available: Bool = (try? run(["-c", "import jsonschema"]).status) == 0
    static let enabled = available || DefaultModel.isCI

    struct Case {
        let schema: JSON
        let output: [UInt8]
        let label: String
    }

    /// The labels of outputs that do not parse or do not validate, with why.
    static func failures(_ cases: [Case]) throws -> [String] {
        var invalid: [String] = []
        var document: [JSON] = []
        for c in cases {
            guard let text = String(validating: c.output, as: UTF8.self) else {
                invalid.append("\(c.label): not UTF-8")
                continue
            }
            document.append(.object([("schema", c.schema), ("output", .string(text))]))
        }
        let valid = cases.filter { String(validating: $0.output, as: UTF8.self) != nil }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kvserve-schema-cases-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: path) }
        try Data(JSON.array(document).serializedBytes).write(to: path)
        let result = try run(["-c", script, path.path, formatsDirectory])
        guard result.status == 0, case let .object(report) = try JSON.parse(result.output),
              case let .array(failures)? = report.first(where: { $0.key == "failures" })?.value else {
            return invalid + ["python3 failed: \(result.output)"]
        }
        for f in failures {
            guard case let .number(index)? = f["index"], let i = Int(index), case let .string(error)? = f["error"] else { continue }
            invalid.append("\(valid[i].label): \(error)\n  schema \(valid[i].schema.serialized)\n  output \(String(decoding: valid[i].output, as: UTF8.self))")
        }
        return invalid
    }

    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try Subprocess.run("/usr/bin/env", ["python3"] + arguments, includeErrors: true)
    }
}

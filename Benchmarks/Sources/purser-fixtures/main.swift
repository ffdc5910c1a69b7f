import Foundation
import Purser
import PurserFixtures

// purser-fixtures policy DIR [--rules N] [--teams N]   write a large policy set
// purser-fixtures lines DIR N                          write a policy set of about N lines
// purser-fixtures requests FILE N                      write N JSONL requests for the large policy
let arguments = CommandLine.arguments.dropFirst()
func option(_ name: String, _ fallback: Int) -> Int {
    guard let index = arguments.firstIndex(of: name), arguments.index(after: index) < arguments.endIndex,
          let value = Int(arguments[arguments.index(after: index)]) else { return fallback }
    return value
}

func write(_ text: String, to path: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

let positional = arguments.filter { !$0.hasPrefix("--") && Int($0) == nil || arguments.first == $0 }
guard let command = arguments.first, arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: purser-fixtures policy DIR | lines DIR N | requests FILE N\n".utf8))
    exit(2)
}
let target = arguments[arguments.index(after: arguments.startIndex)]
switch command {
case "policy":
    var generator = PolicyGenerator()
    generator.rules = option("--rules", generator.rules)
    generator.teams = option("--teams", generator.teams)
    try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
    try write(generator.yaml(), to: target + "/policy.yaml")
case "lines":
    let lines = arguments.dropFirst(2).first.flatMap { Int($0) } ?? 10_000
    try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
    for file in PolicyGenerator.files(lines: lines) { try write(file.text, to: target + "/" + file.name) }
case "requests":
    let count = arguments.dropFirst(2).first.flatMap { Int($0) } ?? 1_000_000
    let generator = PolicyGenerator()
    guard let handle = FileManager.default.createFile(atPath: target, contents: nil) ? FileHandle(forWritingAtPath: target) : nil else {
        exit(2)
    }
    var buffer = ""
    for request in generator.requests(count: count) {
        buffer += PolicyGenerator.jsonLine(request) + "\n"
        if buffer.utf8.count > 1 << 20 {
            handle.write(Data(buffer.utf8))
            buffer = ""
        }
    }
    handle.write(Data(buffer.utf8))
default:
    FileHandle.standardError.write(Data("unknown command \(command)\n".utf8))
    exit(2)
}

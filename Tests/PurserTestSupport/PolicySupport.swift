import Foundation
import Purser

/// The repository root, found from this file's path.
package let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// Loads a policy from YAML text with the examples' fixed "now".
package func load(_ yaml: String, file: String = "policy.yaml") -> PolicyLoadResult {
    var options = PolicyLoadOptions()
    options.now = CheckCatalog.exampleNow
    return PolicySet.load(yaml: yaml, file: file, options: options)
}

/// The codes of a result's diagnostics.
package func codes(_ result: PolicyLoadResult) -> [String] {
    result.diagnostics.map(\.code.id)
}

/// A fresh temporary directory, removed by the caller with `cleanup`.
package func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "purser-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

package func cleanup(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

/// Writes a catalog example's files under a directory.
package func materialize(_ example: CheckCatalog.Example, in directory: String) throws {
    let manager = FileManager.default
    for file in example.files {
        let path = directory + "/" + file.path
        try manager.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        switch file.content {
        case .text(let text):
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        case .bytes(let bytes, _):
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        case .large(let bytes):
            let line = Array("# padding padding padding padding padding padding padding padding padding\n".utf8)
            var data = Data(capacity: bytes)
            while data.count + line.count <= bytes { data.append(contentsOf: line) }
            data.append(contentsOf: [UInt8](repeating: UInt8(ascii: "#"), count: bytes - data.count))
            try data.write(to: URL(fileURLWithPath: path))
        case .symlink(let target):
            try manager.createSymbolicLink(atPath: path, withDestinationPath: target)
        case .directory:
            try manager.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
    }
}

/// Checks an example as `purser check` would, from inside its directory.
package func check(_ example: CheckCatalog.Example) throws -> PolicyLoadResult {
    let directory = try temporaryDirectory()
    defer { cleanup(directory) }
    try materialize(example, in: directory)
    var options = PolicyLoadOptions()
    options.now = CheckCatalog.exampleNow
    return PolicySet.load(paths: [directory + "/" + example.checkPath], options: options)
}

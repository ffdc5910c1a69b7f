import Benchmark
import Purser
import PurserYAML
import PurserFixtures

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .microseconds,
        warmupIterations: 3,
        maxDuration: .seconds(3)
    )
    let text = PolicyGenerator.files(lines: 10_000).map(\.text).joined(separator: "---\n")
    let bytes = Array(text.utf8)

    Benchmark("yaml-reader-tree") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try? YAMLReader().read(bytes, file: "bench.yaml"))
        }
    }

    Benchmark("yaml-libyaml-events") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try? YAMLReader.countEvents(bytes))
        }
    }

    Benchmark("policy-load-10k-lines") { benchmark in
        let files = PolicyGenerator.files(lines: 10_000).map { (name: $0.name, contents: Array($0.text.utf8)) }
        for _ in benchmark.scaledIterations {
            blackHole(PolicySet.load(files: files))
        }
    }
}

// `rosenpass-crypto bench`: time every primitive and operation.

import ArgumentParser
import Foundation
import RosenpassCrypto

/// One measured operation: `name` is "<algorithm> <operation>", `run` performs it `iterations` times.
struct Benchmark {
    let name: String
    /// Bytes processed by one operation, for throughput figures (0 when it does not apply).
    let bytesPerOperation: Int
    /// Prepares the inputs, then returns the closure to time. The closure runs the operation `n` times.
    let prepare: () -> (_ n: Int) -> Void
}

/// Every benchmark, in the order they are reported. Each family lives in its own file
/// (`Benchmarks-Hashes.swift`, `Benchmarks-Kyber.swift`, `Benchmarks-McEliece.swift`,
/// `Benchmarks-Handshake.swift`).
var allBenchmarks: [Benchmark] {
    hashBenchmarks + kyberBenchmarks + mcelieceBenchmarks + handshakeBenchmarks
}

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure each primitive and operation.",
        discussion: """
            Each operation is repeated until at least --seconds have passed (after a warm-up), and the best of \
            --rounds such runs is reported, which filters out interference from other processes. \
            With --json, one JSON object per line: {"name": ..., "ns_per_op": ..., "mb_per_s": ...}.
            """
    )

    @Flag(name: .long, help: "One JSON object per line instead of a table.")
    var json = false

    @Option(name: .long, help: "Only run benchmarks whose name contains this text.")
    var filter: String?

    @Option(name: .long, help: "Minimum time per measured round, in seconds.")
    var seconds: Double = 0.3

    @Option(name: .long, help: "Measured rounds; the fastest is reported.")
    var rounds: Int = 5

    func run() throws {
        let selected = allBenchmarks.filter { filter == nil || $0.name.contains(filter!) }
        if selected.isEmpty { throw ToolError("no benchmark matches '\(filter ?? "")'") }
        if !json {
            print(pad("benchmark", 36) + pad("ns/op", 16, left: true) + pad("MB/s", 12, left: true))
        }
        for benchmark in selected {
            let nanoseconds = measure(benchmark)
            let throughput = benchmark.bytesPerOperation > 0
                ? Double(benchmark.bytesPerOperation) / nanoseconds * 1e3 : nil
            if json {
                var line = "{\"name\": \"\(benchmark.name)\", \"ns_per_op\": \(String(format: "%.1f", nanoseconds))"
                if let throughput { line += ", \"mb_per_s\": \(String(format: "%.1f", throughput))" }
                print(line + "}")
            } else {
                print(pad(benchmark.name, 36) + pad(String(format: "%.1f", nanoseconds), 16, left: true)
                    + pad(throughput.map { String(format: "%.1f", $0) } ?? "", 12, left: true))
            }
            fflush(nil)
        }
    }

    /// Returns the best nanoseconds per operation over `rounds` rounds.
    private func measure(_ benchmark: Benchmark) -> Double {
        let body = benchmark.prepare()
        body(1)  // warm-up
        // Find an iteration count that takes about `seconds`.
        var iterations = 1
        while true {
            let elapsed = time { body(iterations) }
            if elapsed >= seconds / 4 || iterations >= 1 << 30 {
                iterations = max(1, Int(Double(iterations) * seconds / max(elapsed, 1e-9)))
                break
            }
            iterations *= 4
        }
        var best = Double.infinity
        for _ in 0..<max(1, rounds) {
            let elapsed = time { body(iterations) }
            best = min(best, elapsed / Double(iterations) * 1e9)
        }
        return best
    }

    private func time(_ work: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        work()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    private func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
        let padding = String(repeating: " ", count: max(0, width - text.count))
        return left ? padding + text : text + padding
    }
}

/// Keeps the optimizer from removing a computation whose result is otherwise unused.
@inline(never)
func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}

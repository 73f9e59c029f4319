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
            --rounds such runs is reported, which filters out interference from other processes; the median is \
            shown beside it so that a noisy machine is visible. With --json, one JSON object per line: \
            {"name": ..., "ns_per_op": <best>, "median_ns_per_op": ..., "rounds": ..., "mb_per_s": ...} \
            (mb_per_s only where a byte count applies). To compare against reference implementations in the \
            same run, use scripts/bench/compare.py (make bench).
            """
    )

    @Flag(name: .long, help: "One JSON object per line instead of a table.")
    var json = false

    @Flag(name: .long, help: "Print the benchmark names and exit.")
    var list = false

    @Option(name: .long, help: "Only run benchmarks whose name contains this text.")
    var filter: String?

    @Option(name: .long, help: "Only run the benchmark with exactly this name (repeatable).")
    var name: [String] = []

    @Option(name: .long, help: "Minimum time per measured round, in seconds.")
    var seconds: Double = 0.3

    @Option(name: .long, help: "Measured rounds; the fastest is reported.")
    var rounds: Int = 5

    func validate() throws {
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
        guard seconds > 0, seconds <= 60 else { throw ValidationError("--seconds must be in (0, 60]") }
    }

    func run() throws {
        let selected = allBenchmarks.filter { benchmark in
            (filter == nil || benchmark.name.contains(filter!)) && (name.isEmpty || name.contains(benchmark.name))
        }
        if selected.isEmpty {
            throw ToolError("no benchmark matches \(filter.map { "'\($0)'" } ?? "") \(name.map { "'\($0)'" }.joined(separator: ", "))")
        }
        if list {
            for benchmark in selected { print(benchmark.name) }
            return
        }
        if !json {
            print(pad("benchmark", 36) + pad("best ns/op", 16, left: true) + pad("median ns/op", 16, left: true)
                + pad("MB/s", 12, left: true))
        }
        for benchmark in selected {
            let (best, median) = measure(benchmark)
            let throughput = benchmark.bytesPerOperation > 0
                ? Double(benchmark.bytesPerOperation) / best * 1e3 : nil
            if json {
                var line = "{\"name\": \"\(benchmark.name)\", \"ns_per_op\": \(String(format: "%.1f", best))"
                line += ", \"median_ns_per_op\": \(String(format: "%.1f", median)), \"rounds\": \(rounds)"
                if let throughput { line += ", \"mb_per_s\": \(String(format: "%.1f", throughput))" }
                print(line + "}")
            } else {
                print(pad(benchmark.name, 36) + pad(String(format: "%.1f", best), 16, left: true)
                    + pad(String(format: "%.1f", median), 16, left: true)
                    + pad(throughput.map { String(format: "%.1f", $0) } ?? "", 12, left: true))
            }
            fflush(nil)
        }
    }

    /// Returns the best and the median nanoseconds per operation over `rounds` rounds.
    private func measure(_ benchmark: Benchmark) -> (best: Double, median: Double) {
        let body = benchmark.prepare()
        body(1)  // warm-up: caches, page faults, lazy initialisation
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
        var samples: [Double] = []
        for _ in 0..<rounds {
            let elapsed = time { body(iterations) }
            samples.append(elapsed / Double(iterations) * 1e9)
        }
        samples.sort()
        let middle = samples.count / 2
        let median = samples.count % 2 == 1 ? samples[middle] : (samples[middle - 1] + samples[middle]) / 2
        return (samples[0], median)
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
///
/// `@_optimize(none)` keeps the optimizer from looking into the body: without it, it sees that the
/// argument is unused and may delete the computation that produced it.
@inline(never)
@_optimize(none)
func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}

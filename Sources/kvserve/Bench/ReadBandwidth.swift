import Foundation
import Model

/// The machine's memory read bandwidth as kvserve's worker pool sees it: every
/// worker sums its share of a buffer far larger than the caches, with SIMD
/// loads, and the best of several passes counts.
enum ReadBandwidth {
    static func measure(megabytes: Int = 512, passes: Int = 5, pool: WorkerPool = .shared) -> Double {
        let count = megabytes << 20 / MemoryLayout<Float>.stride
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: 1, count: count)
        var best = 0.0
        var sink: Float = 0
        for _ in 0..<passes {
            var sums = [Float](repeating: 0, count: pool.partCount)
            let seconds = sums.withUnsafeMutableBufferPointer { partial in
                DecodeBenchmark.seconds {
                    pool.run { worker, workers in
                        let share = WorkerPool.share(of: count / 32, worker: worker, workers: workers)
                        var a = SIMD8<Float>(), b = a, c = a, d = a
                        let raw = UnsafeRawPointer(buffer)
                        for i in share {
                            let p = raw + i * 128
                            a += p.loadUnaligned(fromByteOffset: 0, as: SIMD8<Float>.self)
                            b += p.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                            c += p.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self)
                            d += p.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
                        }
                        let total = a + b + c + d
                        var s: Float = 0
                        for k in 0..<8 { s += total[k] }
                        partial[worker] = s
                    }
                }
            }
            sink += sums.reduce(0, +)
            best = max(best, Double(count * 4) / seconds)
        }
        // Using the sums keeps the loads from being optimised away.
        if sink == -1 { print(sink) }
        return best
    }
}

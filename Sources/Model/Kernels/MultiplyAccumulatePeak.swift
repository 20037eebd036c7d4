import Dispatch
import X86Instructions

/// The machine's 8-bit multiply-accumulate peak as the prefill kernel can use
/// it: `vpmaddubsw` (32 byte products summed in pairs) on registers only, ten
/// independent chains per thread so neither latency nor memory limits it,
/// spread over the pool like a kernel call. A ceiling to put prefill's
/// multiply-accumulates per second against (`kvserve bench decode`).
public enum MultiplyAccumulatePeak {
    /// Multiply-accumulates per second, best of `passes`.
    public static func measure(pool: WorkerPool = .shared, passes: Int = 5) -> Double {
        let iterations = 2_000_000
        var best = 0.0
        for _ in 0..<passes {
            let start = DispatchTime.now().uptimeNanoseconds
            pool.run { part, parts in
                let turns = WorkerPool.share(of: iterations, worker: part, workers: parts).count
                sink(chains(turns, seed: UInt8(truncatingIfNeeded: part &+ 1)))
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            // Each pass is `iterations` loop turns of ten instructions of 32 products.
            best = max(best, Double(iterations) * 10 * 32 / seconds)
        }
        return best
    }

    /// Ten chains, each feeding its result back as the next activations:
    /// nothing can be hoisted out of the loop, and ten chains cover the
    /// instruction's latency at two per cycle.
    @inline(never)
    static func chains(_ count: Int, seed: UInt8) -> SIMD16<Int16> {
        let w = SIMD32<UInt8>(repeating: seed & 0x0F)
        @inline(__always) func step(_ a: SIMD16<Int16>) -> SIMD16<Int16> {
            kv_multiply_add_bytes(w, unsafeBitCast(a, to: SIMD32<Int8>.self))
        }
        var a0 = SIMD16<Int16>(repeating: Int16(seed)), a1 = a0 &+ 1, a2 = a0 &+ 2, a3 = a0 &+ 3, a4 = a0 &+ 4
        var a5 = a0 &+ 5, a6 = a0 &+ 6, a7 = a0 &+ 7, a8 = a0 &+ 8, a9 = a0 &+ 9
        for _ in 0..<count {
            a0 = step(a0); a1 = step(a1); a2 = step(a2); a3 = step(a3); a4 = step(a4)
            a5 = step(a5); a6 = step(a6); a7 = step(a7); a8 = step(a8); a9 = step(a9)
        }
        return a0 &+ a1 &+ a2 &+ a3 &+ a4 &+ a5 &+ a6 &+ a7 &+ a8 &+ a9
    }

    /// Keeps the chains' results alive so the loop is not optimised away.
    nonisolated(unsafe) private static var kept = SIMD16<Int16>()
    private static func sink(_ v: SIMD16<Int16>) { if v[0] == 12345 { kept = v } }
}

import Foundation

/// One weight matrix of a GGUF file laid out as the forward pass lays it
/// out (panels for 8-bit activations, the file's rows for float ones) and
/// multiplied alone with one token on a pool, so any tensor's kernel can be
/// timed without loading a model of that architecture.
public final class MatrixBenchmark {
    public let matrix: WeightMatrix
    /// Whether the product quantizes its input to 8 bits (panels) or not.
    public let int8: Bool
    private let region: HugePageRegion

    public init(_ tensor: GGUFTensor, int8: Bool) throws {
        let file = try WeightMatrix(tensor)
        let layout = int8 ? PanelFormat(file.type) : nil
        guard let region = HugePageRegion(byteCount: file.byteCount(as: layout)) else {
            throw GGUFError.badTensor(name: tensor.name, reason: "could not map \(file.byteCount(as: layout)) bytes")
        }
        self.region = region
        self.int8 = layout != nil
        matrix = file.copied(to: region.base, as: layout)
    }

    /// Bytes per weight as held in memory (scales included).
    public var bytesPerWeight: Double { Double(matrix.byteCount) / Double(matrix.rows * matrix.columns) }

    /// Seconds per product of the matrix with one vector, over `calls`
    /// calls after one to warm up; the vector is quantized once, as one
    /// quantization serves several matrices in the forward pass.
    public func secondsPerProduct(calls: Int, pool: WorkerPool = .shared) -> Double {
        var rng = SplitMix64(seed: 1)
        let x = (0..<matrix.columns).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
        var y = [Float](repeating: 0, count: matrix.rows)
        var quantized = Int8Activations(columns: matrix.columns)
        x.withUnsafeBufferPointer { quantized.prepare($0.baseAddress!, count: 1) }
        return x.withUnsafeBufferPointer { floats in
            y.withUnsafeMutableBufferPointer { out in
                quantized.withPointers { q in
                    multiply(q, floats.baseAddress!, out.baseAddress!, pool)
                    let start = DispatchTime.now().uptimeNanoseconds
                    for _ in 0..<calls { multiply(q, floats.baseAddress!, out.baseAddress!, pool) }
                    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(calls)
                }
            }
        }
    }

    /// Rows in units of eight shared over the pool's parts, as the forward pass does.
    private func multiply(_ q: PanelKernel.Activations, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                          _ pool: WorkerPool) {
        let units = PanelFormat.panelCount(rows: matrix.rows), panels = matrix.panelKernel, rows = matrix.rows
        let floatKernel = panels == nil ? matrix.rowsKernel : nil
        pool.run { part, parts in
            let share = WorkerPool.share(of: units, worker: part, workers: parts)
            if let panels {
                panels.multiply(panels: share, q, count: 1, into: y, stride: rows)
            } else if let floatKernel {
                for row in (share.lowerBound * 8)..<min(share.upperBound * 8, rows) { y[row] = floatKernel.dot(row: row, x) }
            }
        }
    }
}

import Foundation

extension DecoderModel {
    /// How a product job's parts divide the rows of its matrices.
    enum RowSharing {
        /// The matrices' rows one after another, cut in groups of `multiple`
        /// rows (a multiple of the panels' 8; q8_0 K/V caching quantizes
        /// whole 32-row groups in the parts that computed them).
        case concatenated(multiple: Int)
        /// Every matrix's same rows, cut in groups of `multiple` (all the
        /// matrices have the same number of rows): gate and up, whose rows
        /// pair up in SwiGLU.
        case sameRows(multiple: Int)
    }

    /// Several matrices that multiply the same input (Q, K and V; gate and
    /// up) as one job for the pool: one hand-over instead of one per matrix,
    /// and the small K and V matrices no longer split on their own.
    /// outputs[m][t * rows_m + row] = W_m · input[t] (added to it when
    /// `accumulating`). Matrices in panels multiply the 8-bit form of the
    /// input (quantized here on first use), others (a file may mix types)
    /// the floats.
    ///
    /// `finish(m, rows)` runs in the part that computed rows `rows` of matrix
    /// m, for all tokens, right after them (with `.sameRows`, once for all
    /// the matrices, m = 0): work on those rows alone needs no hand-over of
    /// its own. Row ranges start on a multiple of the sharing's multiple.
    func multiply(_ ws: [WeightMatrix], _ input: [Float], _ quantized: inout Int8Activations,
                  into outputs: [UnsafeMutablePointer<Float>], count: Int, accumulating: Bool = false,
                  sharing: RowSharing = .concatenated(multiple: PanelFormat.rows), finish: ((Int, Range<Int>) -> Void)? = nil) {
        let panelKernels = ws.map(\.panelKernel)
        let rows = ws.map(\.rows), columns = ws[0].columns
        let anyPanels = panelKernels.contains { $0 != nil }
        if anyPanels {
            input.withUnsafeBufferPointer { quantized.prepare($0.baseAddress!, count: count, pool: pool) }
        }
        /// Rows `range` of matrix m for every token.
        func product(_ m: Int, _ range: Range<Int>, _ x: PanelKernel.Activations?, _ floats: UnsafePointer<Float>) {
            let y = outputs[m], stride = rows[m]
            if let kernel = panelKernels[m], let x {
                let panels = (range.lowerBound / PanelFormat.rows)..<((range.upperBound + PanelFormat.rows - 1) / PanelFormat.rows)
                kernel.multiply(panels: panels, x, count: count, into: y, stride: stride, accumulating: accumulating)
            } else {
                let kernel = ws[m].rowsKernel
                for row in range {
                    for t in 0..<count {
                        let dot = kernel.dot(row: row, floats + t * columns)
                        y[t * stride + row] = accumulating ? y[t * stride + row] + dot : dot
                    }
                }
            }
        }
        func job(_ x: PanelKernel.Activations?, _ floats: UnsafePointer<Float>) {
            pool.run { part, parts in
                switch sharing {
                case .concatenated(let unit):
                    WorkerPool.forEachShare(of: rows.map { ($0 + unit - 1) / unit }, worker: part, workers: parts) { m, units in
                        let range = (units.lowerBound * unit)..<min(units.upperBound * unit, rows[m])
                        product(m, range, x, floats)
                        finish?(m, range)
                    }
                case .sameRows(let unit):
                    precondition(rows.allSatisfy { $0 == rows[0] })
                    let units = WorkerPool.share(of: (rows[0] + unit - 1) / unit, worker: part, workers: parts)
                    guard !units.isEmpty else { return }
                    let range = (units.lowerBound * unit)..<min(units.upperBound * unit, rows[0])
                    for m in ws.indices { product(m, range, x, floats) }
                    finish?(0, range)
                }
            }
        }
        input.withUnsafeBufferPointer { floats in
            if !anyPanels {
                job(nil, floats.baseAddress!)
            } else {
                quantized.withPointers { job($0, floats.baseAddress!) }
            }
        }
    }

    /// Mutable base addresses of several arrays at once.
    func withPointers(_ a: inout [Float], _ b: inout [Float], _ c: inout [Float],
                              _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        a.withUnsafeMutableBufferPointer { a in
            b.withUnsafeMutableBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in body(a.baseAddress!, b.baseAddress!, c.baseAddress!) }
            }
        }
    }

    func withPointers(_ a: inout [Float], _ b: inout [Float],
                              _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        a.withUnsafeMutableBufferPointer { a in
            b.withUnsafeMutableBufferPointer { b in body(a.baseAddress!, b.baseAddress!) }
        }
    }
}

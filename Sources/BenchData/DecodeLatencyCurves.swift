/// The per-token latency curves `kvserve bench decode` measures, as its JSON
/// carries them (key "latencyCurves") for `kvserve-plot` to draw. Shared by
/// both so that the server binary writes what the plotter reads without
/// linking any plotting code.
public struct DecodeLatencyCurves: Codable, Sendable, Equatable {
    public struct Point: Codable, Sendable, Equatable {
        public var position: Double
        public var milliseconds: Double

        public init(position: Double, milliseconds: Double) {
            self.position = position
            self.milliseconds = milliseconds
        }
    }

    /// With the KV cache: the median of each run of 16 positions, at its middle.
    public var cached: [Point]
    /// Without the cache: the whole sequence recomputed for the token at each position.
    public var uncached: [Point]
    /// llama.cpp's average per measured range (llama-bench), at the range's
    /// middle; nil when the bench ran without the peer.
    public var llamaCpp: [Point]?

    public init(cached: [Point], uncached: [Point], llamaCpp: [Point]?) {
        self.cached = cached
        self.uncached = uncached
        self.llamaCpp = llamaCpp
    }
}

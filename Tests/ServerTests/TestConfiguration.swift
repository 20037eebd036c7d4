import Server
import TestSupport

extension Configuration {
    /// A server on the default model, on a free port, keeping its sessions in
    /// memory (tests that want them on disk say so).
    static func forTests(kvCacheBytes: Int) -> Configuration {
        var c = Configuration()
        c.model = DefaultModel.path
        c.port = 0
        c.kvCacheBytes = kvCacheBytes
        c.sessionStore = "memory"
        c.kvDiskBytes = 0
        return c
    }
}

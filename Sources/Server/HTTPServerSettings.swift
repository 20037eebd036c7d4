import Foundation
import HTTPServer

extension Configuration {
    /// The HTTP server's part of the configuration.
    public var httpServer: HTTPServerConfiguration {
        var c = HTTPServerConfiguration()
        c.host = host
        c.port = port
        c.maxConnections = maxConnections
        c.limits.maxHeaderBytes = maxHeaderBytes
        c.limits.maxRequestLineBytes = min(c.limits.maxRequestLineBytes, maxHeaderBytes)
        c.limits.maxBodyBytes = maxBodyBytes
        c.limits.maxHeaderCount = maxHeaderCount
        c.headerTimeout = Double(headerTimeoutSeconds)
        c.bodyTimeout = Double(bodyTimeoutSeconds)
        c.idleTimeout = Double(idleTimeoutSeconds)
        c.writeTimeout = Double(writeTimeoutSeconds)
        c.shutdownGrace = Double(shutdownGraceSeconds)
        c.responseHeaders = [("X-Kvserve-Replica", replicaName.isEmpty ? ProcessInfo.processInfo.hostName : replicaName)]
        return c
    }
}

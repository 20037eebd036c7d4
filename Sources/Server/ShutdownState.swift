import Foundation

/// Whether the server is stopping: turns cancelled from then on were cut by
/// the shutdown, not by their clients.
final class ShutdownState: @unchecked Sendable {
    private let lock = NSLock()
    private var stopping = false

    var isStopping: Bool { lock.withLock { stopping } }
    func begin() { lock.withLock { stopping = true } }
}

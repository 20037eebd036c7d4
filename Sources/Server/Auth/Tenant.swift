import KVCache

/// Whose request this is. Each API key is a tenant: its sessions and stored
/// responses live in its own namespace, and its prefix cache chains are
/// rooted in its own salt, so no tenant can see another's conversations or
/// learn from time to first token what another has cached.
public struct Tenant: Sendable, Equatable {
    /// Namespaces the tenant's records; "" when the server has no keys.
    public let id: String
    /// The root of the tenant's chain hashes (0: the cache is shared).
    public let cacheSalt: UInt64

    /// The one tenant of a server without API keys.
    public static let anonymous = Tenant(id: "", cacheSalt: 0)

    /// The engine's name for the tenant's session `id` (session ids never
    /// contain ':', so names cannot collide across tenants).
    public func sessionKey(_ id: String) -> String { self.id.isEmpty ? id : "\(self.id):\(id)" }
}

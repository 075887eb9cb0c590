import Hummingbird
import NIOCore

/// The request context of every StrongAuth route: Hummingbird's core storage plus the peer
/// address (for audit events and, later, rate limits).
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's IP address, if the transport has one.
    public let remoteAddress: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress
    }
}

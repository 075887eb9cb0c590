import HummingbirdBcrypt
import NIOPosix
import StrongAuthCore

/// bcrypt (hummingbird-auth) with a configurable cost, run on the blocking thread pool so a
/// slow hash never stalls an event loop.
struct BcryptPasswordHasher: PasswordHasher {
    let cost: UInt8

    func hash(_ password: String) async throws -> String {
        let cost = cost
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    func verify(_ password: String, hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }
}

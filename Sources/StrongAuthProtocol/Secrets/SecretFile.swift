#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Creating a file that holds a secret (the development master key, a simulator's device key,
/// a PowerAuth activation record): mode 0600 from the first byte and never over an existing file.
///
/// `FileManager.createFile(…attributes: [.posixPermissions: 0o600])` writes a temporary file
/// with the umask's mode (0644, or 0666 under umask 000) and only then sets 0600, so there is a
/// window in which another local user may open it; it also replaces whatever was at the path,
/// so two processes generating a key at once each believe in their own (SECURITY.md).
///
/// Here the secret is written to a temporary file opened with `O_CREAT|O_EXCL|O_NOFOLLOW`,
/// mode 0600, fsynced, then hard-linked to its name: `link(2)` fails if the name exists, so the
/// file appears whole or not at all and an existing one (or a planted symlink) is never replaced.
public enum SecretFile {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// Something already exists at the path; it was left as it was.
        case exists(path: String)
        /// A system call failed (`errno`).
        case system(call: String, path: String, errno: Int32)

        public var description: String {
            switch self {
            case .exists(let path): "\(path) already exists; it is never overwritten"
            case .system(let call, let path, let code): "\(call)(\(path)) failed: errno \(code)"
            }
        }
    }

    /// Creates `path` holding `contents`, mode 0600, or throws `.exists` if anything is there.
    public static func create(atPath path: String, contents: [UInt8]) throws {
        let temporary = path + ".\(Hex.encode(SecureRandom.bytes(8))).tmp"
        try writeExclusively(contents, to: temporary)
        defer { unlink(temporary) }
        guard link(temporary, path) == 0 else {
            let code = errno
            if code == EEXIST { throw Failure.exists(path: path) }
            throw Failure.system(call: "link", path: path, errno: code)
        }
    }

    /// Opens `path` with `O_CREAT|O_EXCL|O_NOFOLLOW` and mode 0600 (the umask can only remove
    /// bits), writes everything and fsyncs before closing; on failure the file is removed.
    public static func writeExclusively(_ contents: [UInt8], to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            let code = errno
            if code == EEXIST { throw Failure.exists(path: path) }
            throw Failure.system(call: "open", path: path, errno: code)
        }
        var failure: Failure?
        contents.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count, let base = buffer.baseAddress {
                let written = write(descriptor, base + offset, buffer.count - offset)
                if written < 0, errno == EINTR { continue }
                guard written > 0 else {
                    failure = .system(call: "write", path: path, errno: errno)
                    return
                }
                offset += written
            }
        }
        if failure == nil, fsync(descriptor) != 0 { failure = .system(call: "fsync", path: path, errno: errno) }
        close(descriptor)
        if let failure {
            unlink(path)
            throw failure
        }
    }
}

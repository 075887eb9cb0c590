// swift-tools-version: 6.2
import PackageDescription

/// StrongAuth: one Strong Customer Authentication server, many API faces.
///
/// Layering (each arrow is "depends on"):
///   strongauth (CLI) → StrongAuthServer → StrongAuthStore → StrongAuthCore → StrongAuthProtocol
///   StrongAuthClient (SDK) → StrongAuthAPI + StrongAuthProtocol
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "strongauth",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "strongauth", targets: ["strongauth"]),
        .library(name: "StrongAuthClient", targets: ["StrongAuthClient"]),
        .library(name: "StrongAuthServer", targets: ["StrongAuthServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "4.5.2"..<"5.0.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-openapi-generator.git", from: "1.14.3"),
        .package(url: "https://github.com/apple/swift-openapi-runtime.git", from: "1.13.4"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
    ],
    targets: [
        // Wire-level crypto and formats shared by server and SDK. No I/O.
        .target(
            name: "StrongAuthProtocol",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: swiftSettings
        ),
        // SQLite's process-wide options, set before it initializes (`sqlite3_config` is variadic:
        // Swift cannot call it). Links the system SQLite that GRDB uses.
        .target(name: "CSQLiteSetup", linkerSettings: [.linkedLibrary("sqlite3")]),
        // The domain: entities, state machines, policies, use cases, repository protocols.
        .target(
            name: "StrongAuthCore",
            dependencies: [
                "StrongAuthProtocol",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // One data layer (SQLKit) over SQLite and PostgreSQL. SQLite connections are GRDB's
        // (statements run on the caller's thread, prepared once); SQLiteKit lends the dialect
        // and the value coding.
        .target(
            name: "StrongAuthStore",
            dependencies: [
                "StrongAuthCore", "CSQLiteSetup",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's C API, for running GRDB's prepared statements without its row machinery.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                // `System.coreCount`, capped by the affinity mask to size the SQLite threads (UsableProcessors).
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // openapi.yaml (served at /openapi.yaml) and the wire types generated from it.
        .target(
            name: "StrongAuthAPI",
            dependencies: [
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime")
            ],
            resources: [.copy("openapi.yaml")],
            // Generated code only; the generator emits `public import`s that some files do not use.
            swiftSettings: swiftSettings + [.unsafeFlags(["-suppress-warnings"])],
            plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]
        ),
        // The Hummingbird application: one folder per API face.
        .target(
            name: "StrongAuthServer",
            dependencies: [
                "StrongAuthCore", "StrongAuthStore", "StrongAuthAPI", "StrongAuthProtocol",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "HummingbirdOTP", package: "hummingbird-auth"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            // The passkey pages' one script, compiled into the binary (`PackageResources.passkeys_js`): no bundle to ship.
            resources: [.embedInCode("Web/Static/passkeys.js")],
            swiftSettings: swiftSettings
        ),
        // The Swift SDK: the integrator side and the phone (Kontist device binding, PowerAuth).
        .target(
            name: "StrongAuthClient",
            dependencies: [
                "StrongAuthAPI", "StrongAuthProtocol",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The CLI: serve, migrate, create…
        .executableTarget(
            name: "strongauth",
            dependencies: [
                "StrongAuthServer", "StrongAuthClient", "StrongAuthStore", "StrongAuthCore", "StrongAuthProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                // `strongauth login`'s loopback listener for the redirect (RFC 8252 §7.3).
                .product(name: "Hummingbird", package: "hummingbird"),
                // `strongauth bench authorization-codes` drives the hosted login as a browser would.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                // `strongauth bench floor-server` signs and verifies as the floor routes' work.
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StrongAuthProtocolTests",
            dependencies: ["StrongAuthProtocol", .product(name: "PropertyBased", package: "swift-property-based")],
            swiftSettings: swiftSettings
        ),
        // The pure domain of the core: state machines, policies, matchers — no database, no HTTP.
        .testTarget(
            name: "StrongAuthCoreTests",
            dependencies: ["StrongAuthCore", "StrongAuthProtocol", .product(name: "PropertyBased", package: "swift-property-based")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StrongAuthStoreTests",
            dependencies: ["StrongAuthStore", "StrongAuthCore", .product(name: "GRDBSQLite", package: "GRDB.swift")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StrongAuthServerTests",
            dependencies: [
                "StrongAuthServer", "StrongAuthClient", "StrongAuthCore", "StrongAuthStore",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdOTP", package: "hummingbird-auth"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)

// swift-tools-version: 6.0
//
// swift-rosenpass: the Rosenpass post-quantum key exchange for WireGuard, in Swift.
//
// The modules follow the architecture; an arrow means "imports", and none points back:
//
//   RosenpassApp -> RosenpassProtocol -> RosenpassCrypto
//   RosenpassApp -> RosenpassBrokerClient -> RosenpassBroker -> RosenpassSystem
//   RosenpassSocketHandler -> RosenpassBroker
//
// - RosenpassCrypto:   pure primitives (Keccak, BLAKE2b, AEADs, Kyber-512, Classic McEliece 460896).
// - RosenpassProtocol: the wire protocol as a pure state machine; randomness and clock are injected.
// - RosenpassSystem:   the programs' system code: POSIX helpers, sockets, processes, threads, netlink.
// - RosenpassBroker:   the PSK broker protocol, its allow-list, the privileged WireGuard backends.
// - RosenpassBrokerClient, RosenpassSocketHandler: the daemon's broker client and the socket
//                      handler, each a state machine behind a poll loop.
// - RosenpassApp:      configuration, key files, the daemon's event loop and the command lines.
// The executables are thin shells over RosenpassApp, RosenpassSocketHandler and RosenpassBroker.
// docs/ARCHITECTURE.md has the whole picture.
//
// Platforms: the programs are Linux-only (netlink, Linux process and socket interfaces).
// RosenpassCrypto and RosenpassProtocol (with RosenpassSecureMemory and CRosenpassSystem beneath
// them) use no Linux-only API, so that an app can embed them (docs/embedding.md;
// scripts/check-portable-core.py checks it); the Apple versions below are the oldest those modules
// are meant for. Nothing here builds or tests them on Apple hardware.
import PackageDescription

let package = Package(
    name: "swift-rosenpass",
    platforms: [.macOS(.v14), .iOS(.v17)],
    products: [
        .executable(name: "rosenpass", targets: ["rosenpass"]),
        .executable(name: "rosenpass-wireguard-broker-privileged", targets: ["rosenpass-wireguard-broker-privileged"]),
        .executable(
            name: "rosenpass-wireguard-broker-socket-handler",
            targets: ["rosenpass-wireguard-broker-socket-handler"]
        ),
        .executable(name: "rp", targets: ["rp"]),
        .executable(name: "rosenpass-crypto", targets: ["rosenpass-crypto"]),
        .library(name: "RosenpassCrypto", targets: ["RosenpassCrypto"]),
        .library(name: "RosenpassProtocol", targets: ["RosenpassProtocol"]),
        .library(name: "RosenpassSystem", targets: ["RosenpassSystem"]),
        .library(name: "RosenpassBroker", targets: ["RosenpassBroker"]),
        .library(name: "RosenpassBrokerClient", targets: ["RosenpassBrokerClient"]),
        .library(name: "RosenpassSocketHandler", targets: ["RosenpassSocketHandler"]),
        .library(name: "RosenpassApp", targets: ["RosenpassApp"]),
        // For the fuzzing package (Fuzzing/), not for programs.
        .library(name: "RosenpassTOMLOracle", targets: ["RosenpassTOMLOracle"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
        // 1.7: @ParentCommand.
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.7.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
    ],
    targets: [
        // System calls Glibc's Swift module lacks (prctl, accept4, pipe2, capget, capset), as plain C functions.
        .target(name: "CRosenpassSystem"),
        // System code of the programs, in one place: POSIX helpers, unix sockets, pipes, process
        // spawning, threads, capabilities, netlink and rtnetlink. Linux-only; the portable core does
        // not use it.
        .target(name: "RosenpassSystem", dependencies: ["CRosenpassSystem"]),
        // Locked, undumpable memory for key material, shared by the crypto and broker modules.
        .target(name: "RosenpassSecureMemory", dependencies: ["CRosenpassSystem"]),
        .target(
            name: "RosenpassCrypto",
            dependencies: [
                "RosenpassSecureMemory",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "RosenpassProtocol",
            dependencies: ["RosenpassCrypto"]
        ),
        .target(
            name: "RosenpassBroker",
            dependencies: [
                "RosenpassSystem",
                "RosenpassSecureMemory",
                // The programs' shared command-line conventions (version, exit statuses).
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The daemon's side of the broker: PSKBrokerClient around PSKDeliveryQueue.
        .target(
            name: "RosenpassBrokerClient",
            dependencies: ["RosenpassBroker", "RosenpassSystem", .product(name: "Logging", package: "swift-log")]
        ),
        // The socket handler: SocketHandler around SocketHandlerState. Apart from the broker module
        // so that the privileged broker, which needs neither, links neither.
        .target(
            name: "RosenpassSocketHandler",
            dependencies: ["RosenpassBroker", "RosenpassSystem", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "RosenpassApp",
            dependencies: [
                "RosenpassSystem",
                "RosenpassSecureMemory",
                "RosenpassCrypto",
                "RosenpassProtocol",
                "RosenpassBroker",
                "RosenpassBrokerClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                // X25519 for `rp pubkey` (the WireGuard public key of `wgsk`).
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "rosenpass", dependencies: ["RosenpassApp", "RosenpassSystem", "RosenpassSecureMemory"]),
        .executableTarget(name: "rp", dependencies: ["RosenpassApp", "RosenpassSystem", "RosenpassSecureMemory"]),
        .executableTarget(
            name: "rosenpass-wireguard-broker-privileged",
            dependencies: ["RosenpassBroker", "RosenpassSystem", "RosenpassSecureMemory", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "rosenpass-wireguard-broker-socket-handler",
            dependencies: ["RosenpassSocketHandler", "RosenpassBroker", "RosenpassSystem", "RosenpassSecureMemory", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Valgrind client requests for `rosenpass-crypto ct-check` (no-ops without valgrind's headers).
        .target(name: "CValgrindShim"),
        .executableTarget(
            name: "rosenpass-crypto",
            dependencies: [
                "RosenpassCrypto",
                "RosenpassProtocol",
                "CValgrindShim",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "RosenpassTestSupport", path: "Tests/RosenpassTestSupport"),
        // TOMLKit (toml++) as the differential oracle for our TOML reader, for the tests and the
        // fuzzer only: no program links it.
        .target(
            name: "RosenpassTOMLOracle",
            dependencies: ["RosenpassApp", .product(name: "TOMLKit", package: "TOMLKit")],
            path: "Tests/RosenpassTOMLOracle"
        ),
        // Known-answer fixtures are read from disk next to the tests (`Fixtures.url`), not bundled.
        .testTarget(
            name: "RosenpassCryptoTests",
            dependencies: ["RosenpassCrypto", "RosenpassSecureMemory", "RosenpassTestSupport"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "RosenpassProtocolTests",
            dependencies: ["RosenpassProtocol", "RosenpassCrypto", "RosenpassTestSupport"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "RosenpassBrokerTests",
            dependencies: ["RosenpassBroker", "RosenpassBrokerClient", "RosenpassSocketHandler", "RosenpassSystem", "RosenpassTestSupport"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "RosenpassAppTests",
            dependencies: ["RosenpassApp", "RosenpassSystem", "RosenpassTestSupport", "RosenpassTOMLOracle"],
            exclude: ["Fixtures"]
        ),
    ]
)

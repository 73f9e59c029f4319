// swift-tools-version:6.0
// The fuzz targets (libFuzzer), a package of their own so that the main package never links
// libFuzzer. Built by scripts/fuzz.sh with `-sanitize=fuzzer,address`; see FUZZING.md.

import Foundation
import PackageDescription

// The main package is the folder above; SwiftPM names a path dependency after its folder, which
// is whatever the repository was cloned as.
let mainPackage = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent.lowercased()

let targets = [
    "FuzzDatagrams", "FuzzBrokerFrames", "FuzzPrivilegedBroker", "FuzzConfig", "FuzzKeyFiles", "FuzzRPCommandLine", "FuzzNetlink",
    "FuzzHashes", "FuzzControl",
]

let package = Package(
    name: "swift-rosenpass-fuzzing",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
    ],
    targets: [
        .target(name: "FuzzingSupport"),
    ]
        + targets.map { name in
            .executableTarget(
                name: name,
                dependencies: [
                    "FuzzingSupport",
                    .product(name: "RosenpassCrypto", package: mainPackage),
                    .product(name: "RosenpassProtocol", package: mainPackage),
                    .product(name: "RosenpassSystem", package: mainPackage),
                    .product(name: "RosenpassBroker", package: mainPackage),
                    .product(name: "RosenpassApp", package: mainPackage),
                    .product(name: "RosenpassTOMLOracle", package: mainPackage),
                    .product(name: "Logging", package: "swift-log"),
                    .product(name: "Crypto", package: "swift-crypto"),
                ])
        }
)

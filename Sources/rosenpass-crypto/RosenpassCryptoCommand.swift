// rosenpass-crypto: a developer tool to cross-check and measure the primitives of RosenpassCrypto.

import ArgumentParser

@main
struct RosenpassCryptoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rosenpass-crypto",
        abstract: "Run, cross-check and measure the cryptographic primitives of swift-rosenpass.",
        subcommands: [KEMCommand.self, HashCommand.self, BenchCommand.self, ConstantTimeCheckCommand.self, FloodCommand.self, ScaleClientCommand.self]
    )
}

/// A failure that ends the tool with a one-line message and exit status 1.
struct ToolError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

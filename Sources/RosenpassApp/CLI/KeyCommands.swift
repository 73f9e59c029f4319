// `gen-keys`, the hidden legacy `keygen`, and `gen-config` (`components.md` §3.2).

import ArgumentParser
import RosenpassCrypto
import RosenpassProtocol

extension McElieceVariant: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}

/// `rosenpass gen-keys [CONFIG] [-p PK] [-s SK] [-f] [--mceliece-variant round3|round4]`.
struct GenKeysCommand: ParsableCommand, RootOptionsReading {
    static let configuration = CommandConfiguration(
        commandName: "gen-keys",
        abstract: "Generate a new Rosenpass key pair (Classic McEliece 460896).",
        discussion: """
            Writes the secret key (mode 0600) and the public key as raw files, the format the reference \
            rosenpass reads. With CONFIG, the paths are the config's public_key and secret_key and the \
            options -p and -s are ignored; otherwise both are required. Existing key files are only \
            replaced with --force. Key generation takes a second or so; progress goes to stderr and \
            nothing is written to stdout.
            """
    )

    @Argument(help: ArgumentHelp("A configuration whose public_key and secret_key name the files to write.", valueName: "CONFIG"))
    var configFile: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the public key.", valueName: "PATH"))
    var publicKey: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the secret key.", valueName: "PATH"))
    var secretKey: String?

    @Flag(name: .shortAndLong, help: "Replace existing key files.")
    var force = false

    @Option(name: .customLong("mceliece-variant"), help: ArgumentHelp(
        "round3 (13568-byte secret key, 188-byte ciphertexts; Rosenpass 0.2.x and most deployments) or round4 (13608 bytes, 156-byte ciphertexts).",
        valueName: "VARIANT"))
    var mcelieceVariant: McElieceVariant = .round3

    func run() throws {
        let (publicPath, secretPath) = try targets()
        try KeyGeneration.generate(publicPath: publicPath, secretPath: secretPath, variant: mcelieceVariant, force: force)
    }

    private func targets() throws(AppError) -> (String, String) {
        if let configFile {
            guard FileIO.exists(configFile) else { throw .runtime("config file \"\(configFile)\" does not exist") }
            let configuration = try Configuration.load(file: configFile, home: Environment.home)
            guard let publicPath = configuration.publicKeyPath, let secretPath = configuration.secretKeyPath else {
                throw .config(file: configFile, "public_key and secret_key must both be set to generate keys from a config")
            }
            return (publicPath, secretPath)
        }
        guard let publicKey, let secretKey else {
            throw .usage("gen-keys needs a CONFIG file, or both --public-key and --secret-key")
        }
        return (publicKey, secretKey)
    }
}

/// The deprecated `rosenpass keygen public-key PK secret-key SK` (hidden).
struct KeygenCommand: ParsableCommand, RootOptionsReading {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Deprecated: use gen-keys. keygen public-key PATH secret-key PATH",
        shouldDisplay: false
    )

    @Argument(parsing: .allUnrecognized, help: "public-key PATH secret-key PATH (or private-key PATH)")
    var words: [String] = []

    func run() throws {
        let logger = AppLogging.logger(level: root.explicitLogLevel ?? .warning)
        logger.warning("the keygen command is deprecated; use: rosenpass gen-keys --public-key PK --secret-key SK")
        var publicPath: String?
        var secretPath: String?
        var index = 0
        while index < words.count {
            let word = words[index]
            guard index + 1 < words.count else { throw AppError.usage("\(word) needs a path after it") }
            switch word {
            case "public-key": publicPath = words[index + 1]
            case "secret-key", "private-key": secretPath = words[index + 1]
            default: throw AppError.usage("Unknown option \(word)")
            }
            index += 2
        }
        guard let publicPath else { throw AppError.usage("public-key file must be set") }
        guard let secretPath else { throw AppError.usage("secret-key file must be set") }
        try KeyGeneration.generate(publicPath: publicPath, secretPath: secretPath, variant: .round3, force: false)
    }
}

/// `rosenpass gen-config FILE [-f]`.
struct GenConfigCommand: ParsableCommand, RootOptionsReading {
    static let configuration = CommandConfiguration(
        commandName: "gen-config",
        abstract: "Write an example configuration file to start from.",
        discussion: "Fails if FILE exists, unless --force is given. Replace the /path/to placeholders, then run gen-keys FILE."
    )

    @Argument(help: ArgumentHelp("The file to write.", valueName: "FILE"))
    var configFile: String

    @Flag(name: .shortAndLong, help: "Overwrite FILE if it exists.")
    var force = false

    func run() throws {
        if FileIO.exists(configFile) && !force {
            throw AppError.runtime("config file \"\(configFile)\" already exists; use --force to overwrite it")
        }
        let bytes = Array(Configuration.exampleText.utf8)
        try withAppErrors { try bytes.withUnsafeBytes { raw in try FileIO.writeAtomically(configFile, bytes: raw, mode: 0o644) } }
    }
}

/// Making a static key pair, with progress on stderr.
enum KeyGeneration {
    /// Generates a key pair of `variant` and writes it.
    ///
    /// - Throws: ``AppError`` when a target exists and `force` is off (naming the files), or when
    ///   writing fails.
    static func generate(publicPath: String, secretPath: String, variant: McElieceVariant, force: Bool) throws(AppError) {
        if !force {
            let existing = [publicPath, secretPath].filter(FileIO.isRegularFile).map(FileIO.canonical)
            if !existing.isEmpty {
                throw .runtime(
                    "refusing to overwrite existing key file\(existing.count > 1 ? "s" : ""): \(existing.joined(separator: ", ")); use --force to replace")
            }
        }
        let progress = Progress(message: "Generating a Classic McEliece 460896 \(variant == .round3 ? "(round 3)" : "(round 4)") key pair")
        let pair = StaticKeyGenerator.generate(variant)
        progress.finish()
        try StaticKeyFiles.write(publicKey: pair.publicKey, secretKey: pair.secretKey, publicPath: publicPath, secretPath: secretPath)
        RosenpassCLI.printError("Wrote the secret key to \(secretPath) (mode 0600) and the public key to \(publicPath).")
    }
}

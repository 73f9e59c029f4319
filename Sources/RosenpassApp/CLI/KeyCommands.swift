// `gen-keys`, the hidden legacy `keygen`, and `gen-config` (`docs/components.md` §3.2).

import ArgumentParser
import RosenpassCrypto
import RosenpassProtocol

extension McElieceVariant: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}

/// `rosenpass gen-keys [CONFIG] [-p PK] [-s SK] [-f] [--mceliece-variant round3|round4]`.
struct GenKeysCommand: ParsableCommand, RootOptionsReading {
    @ParentCommand var root: RosenpassCommand

    static let configuration = CommandConfiguration(
        commandName: "gen-keys",
        abstract: "Generate a new Rosenpass key pair (Classic McEliece 460896).",
        discussion: """
            Writes the secret key (mode 0600) and the public key as raw files, the format the reference \
            rosenpass reads. With CONFIG, the paths are the config's public_key and secret_key and the \
            options -p and -s are ignored; otherwise both are required. Existing key files are only \
            replaced with --force. Key generation takes a second or so; progress goes to stderr and \
            nothing is written to stdout.

            Secret key layouts: 13568 bytes (the default; Rosenpass 0.2.x and the reference since 2026-09 \
            read and write it) or 13608 bytes (--mceliece-variant round4; the NIST layout that go-rosenpass \
            and the reference from 2024 to 2026-08 read and write). The public key is the same in both, and \
            rosenpass reads either and answers both McEliece formats with it; the layout does not choose the \
            format a handshake uses (that is mceliece_variant per peer, round 3 by default). To move a key to \
            software that needs the other layout: rosenpass convert-key.
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
        "The secret key's layout: round3 (13568 bytes; Rosenpass 0.2.x, the reference) or round4 (13608 bytes, the NIST layout; go-rosenpass).",
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

/// `rosenpass convert-key SECRET_KEY OUTPUT [--public-key PK] [--layout 13568|13608] [-f]`.
struct ConvertKeyCommand: ParsableCommand, RootOptionsReading {
    @ParentCommand var root: RosenpassCommand

    static let configuration = CommandConfiguration(
        commandName: "convert-key",
        abstract: "Write a Classic McEliece secret key in the other layout (13568 ↔ 13608 bytes).",
        discussion: """
            Reads SECRET_KEY and writes the same key in the other layout to OUTPUT (mode 0600): \
            13568 bytes for Rosenpass 0.2.x and the reference since 2026-09, 13608 bytes (the NIST layout) \
            for go-rosenpass and the reference from 2024 to 2026-08. The public key stays as it is and \
            works with both. rosenpass itself reads either layout, so it needs no conversion. With \
            --public-key, the converted key is checked against the public key first.
            """
    )

    @Argument(help: ArgumentHelp("The secret key to read.", valueName: "SECRET_KEY"))
    var input: String

    @Argument(help: ArgumentHelp("Where to write the converted secret key.", valueName: "OUTPUT"))
    var output: String

    @Option(name: .shortAndLong, help: ArgumentHelp("The public key of the pair, to check the conversion against.", valueName: "PATH"))
    var publicKey: String?

    @Option(help: ArgumentHelp("The layout to write: 13568 or 13608 (default: the other one).", valueName: "BYTES"))
    var layout: Int?

    @Flag(name: .shortAndLong, help: "Replace OUTPUT if it exists.")
    var force = false

    func run() throws {
        let (key, variant) = try StaticKeyFiles.loadSecretKey(input)
        let target = variant == .round3 ? McElieceVariant.round4 : .round3
        if let layout, layout != target.secretKeyCount {
            if layout == variant.secretKeyCount {
                throw AppError.usage("\(input) already has the \(layout)-byte layout")
            }
            throw AppError.usage("--layout must be 13568 or 13608, not \(layout)")
        }
        guard FileIO.canonical(input) != FileIO.canonical(output) else {
            throw AppError.usage("OUTPUT must be another file than SECRET_KEY")
        }
        if FileIO.isRegularFile(output) && !force {
            throw AppError.runtime("refusing to overwrite \(FileIO.canonical(output)); use --force to replace it")
        }
        let converted = StandardKEMs().convertStaticSecretKey(key, from: variant)
        if let publicKey {
            let pk = try StaticKeyFiles.loadPublicKey(publicKey)
            guard StaticKeyFiles.isPair(publicKey: pk, secretKey: key, variant: variant) else {
                throw AppError.runtime("\(input) does not belong to the public key \(publicKey); nothing written")
            }
            guard StaticKeyFiles.isPair(publicKey: pk, secretKey: converted, variant: target) else {
                throw AppError.runtime("the converted key does not work with \(publicKey); nothing written (please report this)")
            }
        }
        try withAppErrors { try converted.withUnsafeBytes { try FileIO.writeAtomically(output, bytes: $0, mode: 0o600) } }
        RosenpassCLI.printError(
            "Wrote \(output) (mode 0600): \(SecretKeyLayout.describe(target)). The public key is unchanged.")
    }
}

/// The deprecated `rosenpass keygen public-key PK secret-key SK` (hidden).
struct KeygenCommand: ParsableCommand, RootOptionsReading {
    @ParentCommand var root: RosenpassCommand

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
    @ParentCommand var root: RosenpassCommand

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
    /// - Throws: ``AppError`` before any work when a target cannot be written (no such folder, a
    ///   folder, no permission), both are one file, or a target exists and `force` is off (naming the
    ///   files); or when writing fails.
    static func generate(publicPath: String, secretPath: String, variant: McElieceVariant, force: Bool) throws(AppError) {
        // Everything that can be checked is checked before the work.
        try FileIO.checkWritable(secretPath)
        try FileIO.checkWritable(publicPath)
        let (publicFolder, publicName) = FileIO.split(publicPath)
        let (secretFolder, secretName) = FileIO.split(secretPath)
        if publicName == secretName && FileIO.canonical(publicFolder.isEmpty ? "." : publicFolder) == FileIO.canonical(secretFolder.isEmpty ? "." : secretFolder) {
            throw .usage("the public and the secret key would be written to the same file, \(publicPath)")
        }
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

// The `rosenpass` command line as a user runs it (`docs/components.md` §3, §9 items 4, 5, 9).

import Foundation
import RosenpassProtocol
import RosenpassTestSupport
import Testing

@Suite("rosenpass command line")
struct CommandLineTests {
    private func run(_ arguments: [String], in folder: TemporaryFolder) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await RosenpassProcess.run(arguments, directory: folder.path)
    }

    @Test func usageErrors_exitWith2() async throws {
        let folder = TemporaryFolder()
        let bare = try await run([], in: folder)
        #expect(bare.status == 2 && bare.stderr.contains("USAGE"))
        #expect(try await run(["--no-such-option"], in: folder).status == 2)
        #expect(try await run(["no-such-command"], in: folder).status == 2)
        #expect(try await run(["-v", "-q", "validate"], in: folder).status == 2)
        #expect(try await run(["--psk-broker", "/x", "--psk-broker-spawn", "validate"], in: folder).status == 2)
        let grammar = try await run(["exchange", "public-key", "pk", "bogus"], in: folder)
        #expect(grammar.status == 2 && grammar.stderr.contains("unrecognised argument bogus"))
        let onlyOptions = try await run(["-v"], in: folder)
        #expect(onlyOptions.status == 0 && onlyOptions.stdout.isEmpty)
    }

    @Test func helpAndVersion_succeed() async throws {
        let folder = TemporaryFolder()
        for command in [[], ["exchange"], ["exchange-config"], ["gen-config"], ["gen-keys"], ["validate"]] {
            let result = try await run(command + ["--help"], in: folder)
            #expect(result.status == 0 && result.stdout.contains("USAGE"), "\(command)")
        }
        let version = try await run(["--version"], in: folder)
        #expect(version.status == 0 && version.stdout.contains("swift-rosenpass"))
    }

    @Test func exchangeConfigOnADirectory_failsWithTheOSError() async throws {
        let result = try await run(["exchange-config", "/"], in: TemporaryFolder())
        #expect(result.status == 1)
        #expect(result.stderr.contains("Is a directory (os error 21)"), "\(result.stderr)")
        let missing = try await run(["exchange-config", "/nonexistent.toml"], in: TemporaryFolder())
        #expect(missing.status == 1 && missing.stderr.contains("/nonexistent.toml"))
    }

    @Test func genKeys_writesNothingOnStdoutAndProtectsTheSecretKey() async throws {
        let folder = TemporaryFolder()
        let first = try await run(["gen-keys", "--secret-key", "sk", "--public-key", "pk"], in: folder)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.isEmpty)
        #expect(first.stderr.contains("Classic McEliece"), "progress on stderr")
        #expect(folder.mode("sk") == 0o600)
        let secret = try Data(contentsOf: URL(fileURLWithPath: folder.file("sk")))
        #expect(secret.count == 13_568, "round 3 by default")
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder.file("pk"))).count == 524_160)

        let again = try await run(["gen-keys", "-s", "sk", "-p", "pk"], in: folder)
        #expect(again.status == 1)
        let canonical = URL(fileURLWithPath: folder.file("sk")).resolvingSymlinksInPath().path
        #expect(again.stderr.contains(canonical) && again.stderr.contains("--force"), "\(again.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder.file("sk"))) == secret, "nothing was replaced")

        let forced = try await run(["gen-keys", "-s", "sk", "-p", "pk", "-f", "--mceliece-variant", "round4"], in: folder)
        #expect(forced.status == 0 && forced.stdout.isEmpty)
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder.file("sk"))).count == 13_608)

        let missingOption = try await run(["gen-keys", "--secret-key", "x"], in: folder)
        #expect(missingOption.status == 2)
    }

    @Test func genKeys_checksTheDestinationsBeforeGeneratingAndNamesThem() async throws {
        let folder = TemporaryFolder()
        let missing = try await run(["gen-keys", "-s", "nowhere/sk", "-p", "pk"], in: folder)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("cannot write nowhere/sk: the folder nowhere does not exist"), "\(missing.stderr)")
        #expect(!missing.stderr.contains("Generating") && !missing.stderr.contains(".tmp"), "no work, no temporary name: \(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.file("pk")))

        let onFolder = try await run(["gen-keys", "-s", "sk", "-p", "."], in: folder)
        #expect(onFolder.status == 1 && onFolder.stderr.contains("cannot write .: it is a folder"), "\(onFolder.stderr)")
        let same = try await run(["gen-keys", "-s", "key", "-p", "./key"], in: folder)
        #expect(same.status == 2 && same.stderr.contains("same file"), "\(same.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.file("sk")) && !FileManager.default.fileExists(atPath: folder.file("key")))
    }

    @Test func legacyKeygen_stillWorks() async throws {
        let folder = TemporaryFolder()
        let result = try await run(["keygen", "public-key", "pk", "private-key", "sk"], in: folder)
        #expect(result.status == 0 && result.stdout.isEmpty && result.stderr.contains("deprecated"))
        #expect(folder.mode("sk") == 0o600)
        #expect(try await run(["keygen", "public-key", "pk", "colour", "blue"], in: folder).status == 2)
    }

    @Test func exampleConfig_roundTripsThroughGenKeysAndValidate() async throws {
        // docs/components.md §4.4: gen-config, replace /path/to, gen-keys CONFIG, use our public key as the
        // peer's, validate.
        let folder = TemporaryFolder()
        #expect(try await run(["gen-config", "rp.toml"], in: folder).status == 0)
        let refused = try await run(["gen-config", "rp.toml"], in: folder)
        #expect(refused.status == 1 && refused.stderr.contains("already exists"))
        let text = try String(contentsOfFile: folder.file("rp.toml"), encoding: .utf8).replacingOccurrences(of: "/path/to", with: folder.path)
        try text.write(toFile: folder.file("rp.toml"), atomically: true, encoding: .utf8)
        let keys = try await run(["gen-keys", "rp.toml"], in: folder)
        #expect(keys.status == 0 && keys.stdout.isEmpty, "\(keys.stderr)")
        try FileManager.default.copyItem(atPath: folder.file("rp-public-key"), toPath: folder.file("rp-peer-public-key"))
        let result = try await run(["validate", "rp.toml"], in: folder)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("\"rp.toml\" is valid TOML and conforms to the expected schema"))
        #expect(result.stderr.contains("\"rp.toml\" has passed all logical checks"))
    }

    @Test func validate_failsOnBrokenConfigsWithUsefulMessages() async throws {
        let folder = TemporaryFolder()
        _ = folder.write("schema.toml", Array("listen = []\npeers = []\n\n[[peers]]\n".utf8), mode: 0o644)
        _ = folder.write("unknown.toml", Array("listen = []\n\n[[peers]]\npublic_key = \"pk\"\nkey_outt = \"o\"\n".utf8), mode: 0o644)
        _ = folder.write("missing.toml", Array("listen = []\n\n[[peers]]\npublic_key = \"nope.pk\"\nkey_out = \"o\"\n".utf8), mode: 0o644)
        let result = try await run(["validate", "schema.toml", "unknown.toml", "missing.toml"], in: folder)
        #expect(result.status == 1)
        #expect(result.stderr.contains("\"schema.toml\" is not valid: schema.toml:4: invalid TOML"), "\(result.stderr)")
        #expect(result.stderr.contains("\"unknown.toml\" is not valid: unknown.toml:5: unknown key 'key_outt' in [[peers]] entry 0"), "\(result.stderr)")
        #expect(result.stderr.contains("\"missing.toml\" is valid TOML and conforms to the expected schema"))
        #expect(result.stderr.contains("\"missing.toml\" contains logical errors: 'missing.toml:4: peer 0: nope.pk: open failed: No such file or directory (os error 2)'"), "\(result.stderr)")
    }

    @Test func convertKey_writesTheOtherLayoutAndBack() async throws {
        let folder = TemporaryFolder()
        #expect(try await run(["gen-keys", "-s", "sk", "-p", "pk"], in: folder).status == 0)
        #expect(try await run(["gen-keys", "-s", "other.sk", "-p", "other.pk"], in: folder).status == 0)
        let toNIST = try await run(["convert-key", "sk", "nist.sk", "--public-key", "pk"], in: folder)
        #expect(toNIST.status == 0 && toNIST.stderr.contains("13608 bytes, the NIST layout"), "\(toNIST.stderr)")
        #expect(folder.mode("nist.sk") == 0o600)
        #expect(try FileManager.default.attributesOfItem(atPath: folder.file("nist.sk"))[.size] as? Int == 13_608)
        #expect(try await run(["convert-key", "nist.sk", "back.sk", "--layout", "13568"], in: folder).status == 0)
        #expect(FileManager.default.contentsEqual(atPath: folder.file("back.sk"), andPath: folder.file("sk")), "13568 → 13608 → 13568 is the identity")
        // A converted key still validates with the unchanged public key.
        try FileManager.default.copyItem(atPath: folder.file("other.pk"), toPath: folder.file("peer.pk"))
        _ = folder.write("rp.toml", Array("public_key = \"pk\"\nsecret_key = \"nist.sk\"\nlisten = []\n[[peers]]\npublic_key = \"peer.pk\"\nkey_out = \"out\"\n".utf8), mode: 0o644)
        let valid = try await run(["validate", "rp.toml"], in: folder)
        #expect(valid.status == 0 && valid.stderr.contains("note: secret key: 13608 bytes"), "\(valid.stderr)")
        let refused = try await run(["convert-key", "sk", "x.sk", "--public-key", "other.pk"], in: folder)
        #expect(refused.status == 1 && refused.stderr.contains("does not belong to the public key other.pk; nothing written"))
        #expect(try await run(["convert-key", "sk", "nist.sk"], in: folder).status == 1, "no overwrite without --force")
        #expect(try await run(["convert-key", "sk", "y.sk", "--layout", "13568"], in: folder).stderr.contains("already has the 13568-byte layout"))
    }

    @Test func validate_refusesASecretKeyOfAnotherPair() async throws {
        let folder = TemporaryFolder()
        #expect(try await run(["gen-keys", "-s", "sk", "-p", "pk"], in: folder).status == 0)
        #expect(try await run(["gen-keys", "-s", "other.sk", "-p", "other.pk"], in: folder).status == 0)
        _ = folder.write("rp.toml", Array("public_key = \"pk\"\nsecret_key = \"other.sk\"\nlisten = []\n[[peers]]\npublic_key = \"other.pk\"\nkey_out = \"out\"\n".utf8), mode: 0o644)
        let result = try await run(["validate", "rp.toml"], in: folder)
        #expect(result.status == 1)
        #expect(result.stderr.contains("rp.toml:2: other.sk: this secret key does not belong to the public key pk"), "\(result.stderr)")
    }

    @Test func validate_warnsAboutPortZeroSharedKeyOutAndUnwritableFolders() async throws {
        let folder = TemporaryFolder()
        #expect(try await run(["gen-keys", "-s", "sk", "-p", "pk"], in: folder).status == 0)
        #expect(try await run(["gen-keys", "-s", "b.sk", "-p", "b.pk"], in: folder).status == 0)
        #expect(try await run(["gen-keys", "-s", "c.sk", "-p", "c.pk"], in: folder).status == 0)
        let text = """
            public_key = "pk"
            secret_key = "sk"
            listen = []
            [[peers]]
            public_key = "b.pk"
            endpoint = "127.0.0.1:0"
            key_out = "shared.key"
            [[peers]]
            public_key = "c.pk"
            key_out = "./shared.key"
            [[peers]]
            public_key = "pk"
            key_out = "/proc/1/rp.key"
            """
        _ = folder.write("rp.toml", Array(text.utf8), mode: 0o644)
        let result = try await run(["validate", "rp.toml"], in: folder)
        #expect(result.status == 0, "warnings only: \(result.stderr)")
        #expect(result.stderr.contains("warning: peer 0: endpoint 127.0.0.1:0 has port 0"), "\(result.stderr)")
        #expect(result.stderr.contains("warning: peer 1 and peer 0 share key_out \"./shared.key\""), "\(result.stderr)")
        #expect(result.stderr.contains("warning: peer 2: key_out \"/proc/1/rp.key\": this user cannot write in the folder \"/proc/1\""), "\(result.stderr)")
    }

    @Test func exchangeConfig_refusesAnUnprotectedSecretKey() async throws {
        let folder = TemporaryFolder()
        #expect(try await run(["gen-keys", "-s", "sk", "-p", "pk"], in: folder).status == 0)
        chmod(folder.file("sk"), 0o644)
        try FileManager.default.copyItem(atPath: folder.file("pk"), toPath: folder.file("peer.pk"))
        _ = folder.write("rp.toml", Array("public_key = \"pk\"\nsecret_key = \"sk\"\nlisten = []\n[[peers]]\npublic_key = \"peer.pk\"\nkey_out = \"out\"\n".utf8), mode: 0o644)
        let result = try await run(["exchange-config", "rp.toml"], in: folder)
        #expect(result.status == 1)
        #expect(result.stderr.contains("rp.toml:2: sk: secret key file is accessible by"), "\(result.stderr)")
        #expect(result.stderr.contains("chmod 600 sk"))
    }

    @Test func manPages_haveTheExpectedSections() async throws {
        let folder = TemporaryFolder()
        let result = try await run(["--generate-manpage", "man"], in: folder)
        #expect(result.status == 0, "\(result.stderr)")
        let names = [
            "rosenpass", "rosenpass-exchange", "rosenpass-exchange-config", "rosenpass-gen-config", "rosenpass-gen-keys", "rosenpass-validate",
            "rosenpass-convert-key", "rosenpass-status", "rosenpass-metrics", "rosenpass-reload", "rosenpass-peer", "rosenpass-peer-add",
            "rosenpass-peer-remove",
        ]
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: folder.file("man"))) == Set(names.map { "\($0).1" } + ["rp.1"]))
        let rp = try String(contentsOfFile: folder.file("man/rp.1"), encoding: .utf8)
        for text in [".SH NAME\nrp \\- ", ".SH SYNOPSIS", ".SH COMMANDS", "\\fBexchange-config\\fR", ".SH EXIT STATUS", "rosenpass(1)"] {
            #expect(rp.contains(text), "rp.1 contains \(text)")
        }
        for name in names {
            let page = try String(contentsOfFile: folder.file("man/\(name).1"), encoding: .utf8)
            for section in ["NAME", "SYNOPSIS", "OPTIONS"] + (name == "rosenpass" ? [] : ["DESCRIPTION"]) {
                #expect(page.contains(".SH \(section)\n"), "\(name).1 has \(section)")
            }
        }
        let root = try String(contentsOfFile: folder.file("man/rosenpass.1"), encoding: .utf8)
        for text in [".SH EXIT STATUS", ".SH SEE ALSO", ".SH STANDARDS", ".SH AUTHORS", ".SH BUGS", "[--log-level]",
                     "rosenpass-exchange-config(1)", "Start Rosenpass key exchanges based on a configuration file.",
                     "https://rosenpass.eu/whitepaper.pdf"] {
            #expect(root.contains(text), "rosenpass.1 contains \(text)")
        }
        let exchange = try String(contentsOfFile: folder.file("man/rosenpass-exchange.1"), encoding: .utf8)
        #expect(exchange.contains("[-c|--config-file]") && exchange.contains("PSK := preshared-key"))
        #expect(!root.contains("keygen"), "the deprecated keygen stays hidden")
    }

    /// The package's pages of the broker programs: rendered from each program's own
    /// `--experimental-dump-help` by `rosenpass --generate-manpage DIR --manpage-for-program FILE`.
    @Test func manPages_ofTheBrokerPrograms_comeFromTheirOwnDescriptions() async throws {
        let folder = TemporaryFolder()
        var arguments = ["--generate-manpage", "man"]
        for program in ["rosenpass-wireguard-broker-socket-handler", "rosenpass-wireguard-broker-privileged"] {
            let described = try ChildProcess.run(executable: BuiltProducts.executable(program).path, arguments: ["--experimental-dump-help"])
            #expect(described.status == 0)
            _ = folder.write("\(program).json", Array(described.standardOutput.utf8), mode: 0o644)
            arguments += ["--manpage-for-program", "\(program).json"]
        }
        let result = try await run(arguments, in: folder)
        #expect(result.status == 0, "\(result.stderr)")
        let handler = try String(contentsOfFile: folder.file("man/rosenpass-wireguard-broker-socket-handler.1"), encoding: .utf8)
        for text in [".SH NAME\nrosenpass-wireguard-broker-socket-handler \\- Serve", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH OPTIONS",
                     "\\fB--listen-path\\fR", ".SH EXIT STATUS", "rosenpass(1)"] {
            #expect(handler.contains(text), "the handler's page contains \(text)")
        }
        let privileged = try String(contentsOfFile: folder.file("man/rosenpass-wireguard-broker-privileged.1"), encoding: .utf8)
        #expect(privileged.contains("\\fB--allow-interface\\fR") && privileged.contains("\\fB--max-key-age\\fR"))
        _ = folder.write("junk.json", Array("{}".utf8), mode: 0o644)
        let junk = try await run(["--generate-manpage", "man2", "--manpage-for-program", "junk.json"], in: folder)
        #expect(junk.status == 1 && junk.stderr.contains("junk.json: not a program description"), "\(junk.stderr)")
    }

    @Test func completions_printAScript() async throws {
        let folder = TemporaryFolder()
        for shell in ["bash", "zsh", "fish"] {
            let result = try await run(["--print-completions", shell], in: folder)
            #expect(result.status == 0 && result.stdout.contains("exchange-config"), "\(shell)")
        }
        // A root option reaches every subcommand, nested ones too, before or after its name.
        for words in [["peer", "remove", "x", "--print-completions", "bash"], ["--print-completions", "bash", "status"]] {
            let result = try await run(words, in: folder)
            #expect(result.status == 0 && result.stdout.contains("exchange-config"), "\(words): \(result.stderr)")
        }
        let refused = try await run(["--print-completions", "elvish"], in: folder)
        #expect(refused.status == 2 && refused.stderr.contains("'bash', 'fish'"), "only the shells offered: \(refused.stderr)")
        let help = try await run(["--help"], in: folder)
        #expect(help.stdout.contains("bash, zsh or fish") && !help.stdout.contains("elvish"))
    }
}

// Reading configuration TOML: `rosenpass` and `rp exchange-config` files.
//
// One reader ships: `TOMLReader`, ours, because configuration errors must name the file, the line
// and the key, and it records where everything was written. It is held to TOMLKit (toml++, a
// complete TOML 1.0 implementation) by a differential oracle outside the binaries
// (`Tests/RosenpassTOMLOracle`): the tests run it over a corpus of documents and `FuzzConfig` over
// everything libFuzzer makes up, and fail whenever our reader accepts a document that toml++
// refuses or reads differently. So our reader accepts no more than toml++, and reads the same.

enum ConfigurationTOML {
    /// Parses `text`, the contents of `file`.
    ///
    /// - Throws: ``AppError`` naming the file, line and column of a syntax error.
    static func parse(_ text: String, file: String) throws(AppError) -> TOMLTable {
        do {
            return try TOMLReader.parse(text)
        } catch {
            throw .config(file: file, line: error.position.line, "invalid TOML at column \(error.position.column): \(error.message)")
        }
    }
}

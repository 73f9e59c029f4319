// `~` in configured paths (`docs/components.md` §4.2).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Expands a leading `~` path component with `$HOME`, as the reference does for key paths, the PSK
/// path and `key_out`: `~/x` and `~//x` become `$HOME/x`, `~` becomes `$HOME`; `~foo/x`, `.~/x`,
/// `/~/x` and `~\x` stay as they are. Relative paths stay relative to the working directory (not to
/// the configuration file), which the reference's benchmark scripts rely on.
enum PathExpansion {
    /// Expands `path`.
    ///
    /// - Throws: ``AppError`` when the path starts with `~` and `home` is unknown.
    static func expand(_ path: String, home: String?, file: String, line: Int?) throws(AppError) -> String {
        guard path == "~" || path.hasPrefix("~/") else { return path }
        guard let home, !home.isEmpty else {
            throw .config(file: file, line: line, "cannot expand '~' in \"\(path)\": $HOME is not set")
        }
        let rest = path.dropFirst().drop { $0 == "/" }
        if rest.isEmpty { return home }
        return home.hasSuffix("/") ? home + rest : home + "/" + rest
    }
}

/// The process environment the configuration needs.
enum Environment {
    /// `$HOME`, for `~` in configured paths.
    static var home: String? { getenv("HOME").map { String(cString: $0) } }
}

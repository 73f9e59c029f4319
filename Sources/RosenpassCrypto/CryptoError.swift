// The one error type of the crypto module.

/// An error from a RosenpassCrypto operation: malformed input (a wrong length) or an AEAD tag that did
/// not verify.
///
/// The cases are kept private so that new ones can be added without breaking users; compare against
/// the static values (`error == .authenticationFailure`). Programming errors (a key of the wrong size
/// passed by the caller's own code, an output buffer of the wrong size) are not reported here: they
/// stop the process with a precondition failure that names the function and the size.
public struct CryptoError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Base: Hashable, Sendable {
        case authenticationFailure
        case invalidLength(what: String, expected: Int, actual: Int)
        case tooShort(what: String, minimum: Int, actual: Int)
    }

    private let base: Base

    private init(_ base: Base) { self.base = base }

    /// An AEAD tag did not verify: the ciphertext, tag, key, nonce or associated data is wrong.
    public static let authenticationFailure = CryptoError(.authenticationFailure)

    /// An input had the wrong length.
    ///
    /// - Parameters:
    ///   - what: names the input, e.g. "Kyber-512 ciphertext".
    ///   - expected: the length it must have, in bytes.
    ///   - actual: the length it had.
    @inline(never)
    public static func invalidLength(_ what: String, expected: Int, actual: Int) -> CryptoError {
        CryptoError(.invalidLength(what: what, expected: expected, actual: actual))
    }

    /// An input was shorter than the least it can be (for example a sealed AEAD buffer shorter than
    /// its tag).
    ///
    /// - Parameters:
    ///   - what: names the input.
    ///   - minimum: the least length it can have, in bytes.
    ///   - actual: the length it had.
    @inline(never)
    public static func invalidLength(_ what: String, minimum: Int, actual: Int) -> CryptoError {
        CryptoError(.tooShort(what: what, minimum: minimum, actual: actual))
    }

    /// Whether this is a length error (of either kind), whatever the input.
    public var isInvalidLength: Bool {
        switch base {
        case .invalidLength, .tooShort: return true
        case .authenticationFailure: return false
        }
    }

    public var description: String {
        switch base {
        case .authenticationFailure:
            return "authentication failed: the message was altered or the key is wrong"
        case .invalidLength(let what, let expected, let actual):
            return "\(what) must be \(expected) bytes, got \(actual)"
        case .tooShort(let what, let minimum, let actual):
            return "\(what) must be at least \(minimum) bytes, got \(actual)"
        }
    }
}

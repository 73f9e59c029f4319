// The one error type of the crypto module.

/// An error from a RosenpassCrypto operation.
///
/// The cases are kept private so that new ones can be added; compare against the static values.
public struct CryptoError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Base: Hashable, Sendable {
        case authenticationFailure
        case invalidLength(what: String, expected: Int, actual: Int)
    }

    private let base: Base

    private init(_ base: Base) { self.base = base }

    /// An AEAD tag did not verify: the ciphertext, key, nonce or associated data is wrong.
    public static let authenticationFailure = CryptoError(.authenticationFailure)

    /// An input had the wrong length.
    @inline(never)
    public static func invalidLength(_ what: String, expected: Int, actual: Int) -> CryptoError {
        CryptoError(.invalidLength(what: what, expected: expected, actual: actual))
    }

    public var description: String {
        switch base {
        case .authenticationFailure:
            return "authentication failed: the message was altered or the key is wrong"
        case .invalidLength(let what, let expected, let actual):
            return "\(what) must be \(expected) bytes, got \(actual)"
        }
    }
}

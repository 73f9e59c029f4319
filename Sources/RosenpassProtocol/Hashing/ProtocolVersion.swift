// The protocol versions and the keyed hash each one uses (`docs/protocol.md` §1.5).

import RosenpassCrypto

/// The Rosenpass protocol version configured for a peer. It decides the keyed hash `H` and the
/// protocol string at the root of every hash domain (`docs/protocol.md` §1.5, §2.1).
public enum ProtocolVersion: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// "Incorrect HMAC-BLAKE2b" (the default in the configuration file).
    case v02 = "V02"
    /// Keyed SHAKE256.
    case v03 = "V03"

    /// The keyed hash `H` of this version.
    public var keyedHash: KeyedHash {
        switch self {
        case .v02: return .incorrectHMACBlake2b
        case .v03: return .shake256
        }
    }

    /// The protocol string hashed into the root of every domain (`docs/protocol.md` §2.1). The "BLAKE2s"
    /// in the V02 string is a historical mistake that must be reproduced.
    public var protocolString: String {
        switch self {
        case .v02: return "Rosenpass v1 mceliece460896 Kyber512 ChaChaPoly1305 BLAKE2s"
        case .v03: return "Rosenpass v1 mceliece460896 Kyber512 ChaChaPoly1305 SHAKE256"
        }
    }

    public var description: String { rawValue }

    /// The order in which a responder tries versions on a message that carries none (`docs/protocol.md` §4.7).
    static let responderTryOrder: [ProtocolVersion] = [.v03, .v02]
}

extension ProtocolVersion {
    /// `H(key, data)` under this version, for a 32-byte key.
    @inline(__always)
    func hash(key: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer) -> [UInt8] {
        keyedHash.hash(key: key, data: data)
    }

    /// `H(key, data)` for byte arrays.
    func hash(key: [UInt8], data: [UInt8]) -> [UInt8] {
        key.withUnsafeBytes { k in data.withUnsafeBytes { hash(key: k, data: $0) } }
    }

    /// `H(key, data)` with the data given as a string's UTF-8 bytes.
    func hash(key: [UInt8], label: String) -> [UInt8] {
        hash(key: key, data: Array(label.utf8))
    }
}

// The responder's cookie secrets and the cookie values derived from them (`docs/protocol.md` §5.7, §6.3).

import RosenpassCrypto

/// One 16-byte cookie secret slot.
struct CookieSecretSlot: Equatable, Sendable {
    var secret: Secret
    var createdAt: Seconds
}

/// The responder's two cookie-secret slots: a secret is young for 120 s, retired for 120 s more,
/// then erased. Cookies are issued from the first usable secret and accepted under any usable one.
struct CookieSecretRing: Equatable, Sendable {
    static let secretCount = 16
    static let valueCount = 16
    private(set) var slots: [CookieSecretSlot]

    init(using entropy: inout some HandshakeEntropy) {
        slots = (0..<2).map { _ in
            CookieSecretSlot(secret: .random(count: Self.secretCount, for: .cookieSecret, using: &entropy), createdAt: TimerConstants.never)
        }
    }

    private static var lifetime: Seconds { 2 * TimerConstants.cookieSecretEpoch }

    /// The usable secrets, younger first; refills the older slot when none is usable.
    mutating func usableSecrets(now: Seconds, using entropy: inout some HandshakeEntropy) -> [Secret] {
        let younger = slots[1].createdAt > slots[0].createdAt ? 1 : 0
        let order = [younger, 1 - younger]
        let usable = order.filter { now - slots[$0].createdAt < Self.lifetime }
        if !usable.isEmpty { return usable.map { slots[$0].secret } }
        let older = 1 - younger
        slots[older] = CookieSecretSlot(secret: .random(count: Self.secretCount, for: .cookieSecret, using: &entropy), createdAt: now)
        return [slots[older].secret]
    }

    /// Erases secrets older than 240 s.
    mutating func eraseExpired(now: Seconds, using entropy: inout some HandshakeEntropy) {
        for index in slots.indices where slots[index].createdAt != TimerConstants.never
            && reached(slots[index].createdAt + Self.lifetime, now)
        {
            slots[index] = CookieSecretSlot(
                secret: .random(count: Self.secretCount, for: .cookieSecret, using: &entropy), createdAt: TimerConstants.never)
        }
    }

    /// When the next erasure is due.
    var nextErasure: Seconds {
        slots.filter { $0.createdAt != TimerConstants.never }.map { $0.createdAt + Self.lifetime }.min() ?? .infinity
    }

    /// Overwrites a slot (test-vector replays inject the recorded secrets).
    mutating func inject(slot: Int, secret: Secret, createdAt: Seconds) {
        slots[slot] = CookieSecretSlot(secret: secret, createdAt: createdAt)
    }

    /// The cookie value for a sender: `lhash(V03, "cookie-value", secret, host_id)[0..16]`.
    static func cookieValue(secret: Secret, hostID: [UInt8]) -> Secret {
        let domain = DomainConstants.cookies.cookieValue
        let withSecret = secret.withUnsafeBytes { domain.adding($0) }
        var value = withSecret.adding(hostID).value
        defer { secureZero(&value) }
        return value.withUnsafeBytes { Secret(SecretBytes(copying: UnsafeRawBufferPointer(rebasing: $0[0..<valueCount]))) }
    }
}

/// Building and opening CookieReply messages (`docs/protocol.md` §3.9, §6.3, §6.4).
enum CookieReplySealing {
    /// The sealed part of a CookieReply: `XAEAD(cookieKey, nonce, pt = cookie value, ad = InitHello mac)`.
    static func seal(cookieValue: Secret, cookieKey: Secret, nonce: [UInt8], initHelloMAC: [UInt8]) -> [UInt8] {
        cookieKey.withUnsafeBytes { k in
            nonce.withUnsafeBytes { n in
                initHelloMAC.withUnsafeBytes { ad in
                    cookieValue.withUnsafeBytes { XChaCha20Poly1305.seal(key: k, nonce: n, associatedData: ad, plaintext: $0) }
                }
            }
        }
    }

    /// Opens the sealed part of a CookieReply; `nil` when it does not decrypt.
    static func open(_ sealed: [UInt8], cookieKey: Secret, mac: [UInt8]) -> Secret? {
        let result: Result<[UInt8], CryptoError> = cookieKey.withUnsafeBytes { k in
            sealed.withUnsafeBytes { s in
                mac.withUnsafeBytes { ad in
                    Result { () throws(CryptoError) in try XChaCha20Poly1305.open(key: k, sealed: s, associatedData: ad) }
                }
            }
        }
        guard case .success(var value) = result, value.count == CookieSecretRing.valueCount else { return nil }
        defer { secureZero(&value) }
        return Secret(copying: value)
    }
}

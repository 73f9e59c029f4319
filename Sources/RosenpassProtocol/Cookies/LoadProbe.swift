// The messages a load generator sends: what an attacker who knows our public key can send, for the
// flood benchmark (`rosenpass-crypto flood`, docs/dos-cookies.md). Package-internal: not an API.

import RosenpassCrypto

/// InitHellos that pass a responder's envelope checks and then cost it its full McEliece work:
/// anyone who knows the responder's public key can make them, and can answer its CookieReplies.
package struct LoadProbe: Sendable {
    /// The InitHello, with a valid MAC for the responder and a zero cookie field.
    package private(set) var initHello: [UInt8]
    private let cookieKey: Secret

    /// An InitHello to the owner of `publicKey` under `version`, in the McEliece round-3 format,
    /// with random contents (its peer id decrypts to nothing the responder knows).
    package init(responderPublicKey publicKey: [UInt8], version: ProtocolVersion = .v02) {
        var body = [UInt8](repeating: 0, count: MessageLayout.round3.initHelloLength)
        body.withUnsafeMutableBytes { SystemRandom.fill($0) }
        body[0] = MessageType.initHello.rawValue
        body[1] = 0
        body[2] = 0
        body[3] = 0
        let digests = PublicKeyDigests(publicKey: publicKey, version: version)
        Envelope.sealMAC(&body, macKey: digests.macKey, version: version)
        for index in Envelope.cookieOffset(body.count)..<body.count { body[index] = 0 }
        initHello = body
        cookieKey = Secret(copying: DomainConstants.cookies.cookieKey.adding(publicKey).value)
    }

    /// Takes the cookie value from a CookieReply to ``initHello`` and fills the InitHello's cookie
    /// field with it, as an honest initiator would. Returns false when `reply` is not such a reply.
    package mutating func accept(cookieReply reply: [UInt8]) -> Bool {
        guard case .cookieReply(let message)? = try? ParsedDatagram.parse(reply),
            let value = CookieReplySealing.open(message.sealedCookie, cookieKey: cookieKey, mac: Envelope.macField(initHello))
        else { return false }
        Envelope.sealCookie(&initHello, cookieValue: value)
        return true
    }
}

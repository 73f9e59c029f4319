import RosenpassCrypto
import RosenpassTestSupport
import Testing

@Test func keyedHashKnownAnswers() {
    let key = [UInt8](repeating: 0, count: 32)
    let data = [UInt8](repeating: 0xFF, count: 32)
    #expect(Hex.encode(KeyedHash.incorrectHMACBlake2b.hash(key: key, data: data))
        == "0598878d976a9308dc5f26421d210368fa7283771b383b2c0b43e67170145067")
    #expect(Hex.encode(KeyedHash.shake256.hash(key: key, data: data))
        == "ae042fbc01e4b3f6432bff5e9b0bbba1266ed917043eac1edabbf950ab1591ee")
}

@Test func xaeadKnownAnswer() throws {
    let sealed = XChaCha20Poly1305.seal(
        key: [UInt8](repeating: 0, count: 32), nonce: [UInt8](repeating: 0, count: 24),
        associatedData: Array("the encrypted message is very important".utf8),
        plaintext: Array("post-quantum cryptography is very important".utf8))
    #expect(Hex.encode(sealed) == String(repeating: "00", count: 24)
        + "08f1e5fdc851f81eb79586a895576d319f6cce5933e8e8c5a3fdfed0494cfd0df7a285b8b12c498ab0c13df83db7a4c0d6a804013ef3243095a406")
}

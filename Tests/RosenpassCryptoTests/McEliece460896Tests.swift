// Classic McEliece 460896: byte-exactness against the reference's handshake vector and against
// independent implementations, for round 3 (liboqs ≤ 0.8 format) and round 4.

import Foundation
import RosenpassTestSupport
import Testing

@testable import RosenpassCrypto

/// `Fixtures/mceliece460896-r4-handshake-vector.json`, written by
/// `scripts/fixtures/generate-mceliece460896-handshake.py`.
struct McElieceHandshakeVector: Decodable {
    struct Case: Decodable {
        let name: String
        let secretKey: String
        let ciphertext: String
        let sharedKey: String
    }

    let source: String
    let cases: [Case]
}

@Suite("Classic McEliece 460896")
struct McEliece460896Tests {
    @Test func handshakeVector_decapsulatesToRecordedKeys() throws {
        let vector = try Fixtures.json(McElieceHandshakeVector.self, "mceliece460896-r4-handshake-vector.json")
        #expect(vector.cases.count == 2)
        for known in vector.cases {
            let key = McElieceDecapsulation.decapsulate(
                secretKey: SecretBytes(Hex.decode(known.secretKey)), ciphertext: Hex.decode(known.ciphertext),
                layout: .round4, withConfirmation: false)
            #expect(key.withUnsafeBytes { Hex.encode($0) } == known.sharedKey, "\(known.name)")
        }
    }
}

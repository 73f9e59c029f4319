// The control protocol between `rosenpass status|metrics|reload|peer …` and a running daemon
// (docs/control-socket.md): length-prefixed frames on a unix stream socket, one response per request.

import RosenpassBroker

/// Constants of the control protocol.
public enum ControlProtocol {
    /// The protocol version this build speaks. A request with another version is answered with
    /// ``ControlResult/unsupportedVersion`` and the connection stays usable.
    public static let version: UInt8 = 1
    /// The largest request payload: room for a peer's TOML section.
    public static let maximumRequest = 64 << 10
    /// The largest response payload a client accepts: the status of 10,000 peers is a few MB.
    public static let maximumResponse = 64 << 20
}

/// What a request asks for.
public enum ControlRequestKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// The daemon's and every peer's state, as JSON (``DaemonStatus``).
    case status = 1
    /// The Prometheus text exposition.
    case metrics = 2
    /// Read the configuration file again and apply what changed in the peers (as SIGHUP does).
    case reload = 3
    /// Add a peer: `flags (1 byte) ‖ TOML`, the keys of one `[[peers]]` entry. Flag bit 0: also
    /// append the entry to the configuration file.
    case addPeer = 4
    /// Remove a peer: `flags (1 byte) ‖ name`, its `name`, peer id or `public_key` path. Flag bit 0:
    /// also delete its entry from the configuration file.
    case removePeer = 5

    public var description: String {
        switch self {
        case .status: return "status"
        case .metrics: return "metrics"
        case .reload: return "reload"
        case .addPeer: return "peer add"
        case .removePeer: return "peer remove"
        }
    }
}

/// How a request went.
public enum ControlResult: UInt8, Sendable, CustomStringConvertible {
    /// Done; the body is the answer.
    case ok = 0
    /// Understood but not done (for example a reloaded configuration with an error); the body says why,
    /// and nothing was changed.
    case failed = 1
    /// The request's body does not make sense; the body says why.
    case badRequest = 2
    /// The request uses a protocol version this daemon does not speak.
    case unsupportedVersion = 3
    /// The request kind is unknown to this daemon.
    case unknownRequest = 4

    public var description: String {
        switch self {
        case .ok: return "ok"
        case .failed: return "failed"
        case .badRequest: return "bad request"
        case .unsupportedVersion: return "unsupported protocol version"
        case .unknownRequest: return "unknown request"
        }
    }
}

/// A request: `version (1 byte) ‖ kind (1 byte) ‖ body`.
public struct ControlRequest: Sendable, Equatable {
    public var kind: ControlRequestKind
    public var body: [UInt8]

    public init(_ kind: ControlRequestKind, body: [UInt8] = []) {
        self.kind = kind
        self.body = body
    }

    /// The body as text (requests carry UTF-8).
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The frame payload.
    public var encodedPayload: [UInt8] { [ControlProtocol.version, kind.rawValue] + body }

    /// What a request payload decodes to.
    public enum Decoded: Sendable, Equatable {
        case request(ControlRequest)
        /// Not a request this daemon can serve; the response says why.
        case refused(ControlResponse)
    }

    /// Decodes a request payload.
    ///
    /// - Returns: the request, or the response that refuses it (wrong version, unknown kind, too short).
    public static func decode(_ payload: some Collection<UInt8>) -> Decoded {
        let bytes = Array(payload)
        guard bytes.count >= 2 else {
            return .refused(ControlResponse(kindCode: 0, result: .badRequest, text: "a request has at least 2 bytes (version, kind); got \(bytes.count)"))
        }
        guard bytes[0] == ControlProtocol.version else {
            return .refused(
                ControlResponse(
                    kindCode: bytes[1], result: .unsupportedVersion,
                    text: "this daemon speaks control protocol version \(ControlProtocol.version), not \(bytes[0])"))
        }
        guard let kind = ControlRequestKind(rawValue: bytes[1]) else {
            return .refused(ControlResponse(kindCode: bytes[1], result: .unknownRequest, text: "unknown request kind \(bytes[1])"))
        }
        return .request(ControlRequest(kind, body: Array(bytes[2...])))
    }
}

/// A response: `version (1 byte) ‖ kind of the request (1 byte) ‖ result (1 byte) ‖ body`.
public struct ControlResponse: Sendable, Equatable {
    /// The request kind it answers (raw, since it may answer a kind this build does not know).
    public var kindCode: UInt8
    public var result: ControlResult
    /// JSON for status, the Prometheus text for metrics, a message otherwise (UTF-8).
    public var body: [UInt8]

    public init(kindCode: UInt8, result: ControlResult, body: [UInt8]) {
        self.kindCode = kindCode
        self.result = result
        self.body = body
    }

    public init(kindCode: UInt8, result: ControlResult, text: String) {
        self.init(kindCode: kindCode, result: result, body: Array(text.utf8))
    }

    /// A response to `request`.
    public init(answering request: ControlRequest, _ result: ControlResult, text: String) {
        self.init(kindCode: request.kind.rawValue, result: result, text: text)
    }

    /// The body as text.
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The frame payload.
    public var encodedPayload: [UInt8] { [ControlProtocol.version, kindCode, result.rawValue] + body }

    /// The whole frame: length prefix and payload.
    public var encodedFrame: [UInt8] { LengthPrefixedFrames.encode(encodedPayload) }

    /// Decodes a response payload.
    ///
    /// - Throws: ``AppError`` when it is not a response of this protocol version.
    public init(decoding payload: some Collection<UInt8>) throws(AppError) {
        let bytes = Array(payload)
        guard bytes.count >= 3 else { throw .runtime("the daemon's answer is \(bytes.count) bytes, too short for a control response") }
        guard bytes[0] == ControlProtocol.version else {
            throw .runtime("the daemon answered in control protocol version \(bytes[0]); this rosenpass speaks \(ControlProtocol.version)")
        }
        guard let result = ControlResult(rawValue: bytes[2]) else { throw .runtime("the daemon answered with unknown result code \(bytes[2])") }
        self.init(kindCode: bytes[1], result: result, body: Array(bytes[3...]))
    }
}

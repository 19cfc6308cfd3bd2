import Findings
import PacketCapture

/// Follows both directions of one HTTP/2 connection — after an h2c upgrade or with prior
/// knowledge (RFC 9113 §3.3) — decodes frames and HPACK header blocks, and checks:
/// the client preface (RFC 9113 §3.4), the server's first frame, `:status 101` (§8.6),
/// connection-specific fields (§8.2.2) and `:protocol` sent before the server allowed it
/// (RFC 8441 §4). It lists the connection's requests (`HTTP2RequestLog`, bounded) for the
/// record: what travelled inside an h2c tunnel is what h2c smuggling is about.
///
/// A final class so that the per-direction decoders and HPACK contexts can be reached from
/// the decoders' event callbacks without copying state.
public final class HTTP2Session {
    public struct Options: Sendable {
        public var frames = HTTP2FrameDecoder.Options()
        /// Fields kept per header block (name + value + 32 each, RFC 9113 §6.5.2).
        public var maxHeaderListSize = 65_536
        /// Violations reported per rule per connection; later ones are only counted.
        public var maxViolationsPerRule = 8
        /// Requests listed in the `http2` evidence (`requests`); later ones are counted
        /// (`requests_not_listed`) and an `analyzer_limit_reached` finding says so once.
        public var maxListedRequests = 32
        /// Octets kept of each listed value (`:path`, `:authority`…); longer ones are cut and
        /// the entry says `values_truncated`.
        public var maxRequestValueBytes = 512

        public init() {}
    }

    public static let clientDirection = "client_to_server"
    public static let serverDirection = "server_to_client"

    public let connection: ConnectionRef?
    /// Started after `101 Switching Protocols` to h2c (not prior knowledge).
    public let afterUpgrade: Bool
    /// Settings from the upgrade request's HTTP2-Settings header (RFC 7540 §3.2.1).
    public let upgradeSettings: [HTTP2Setting]
    public let options: Options

    public private(set) var client: HTTP2FrameDecoder
    public private(set) var server: HTTP2FrameDecoder
    /// Decodes the client's header blocks; its limit is the server's SETTINGS_HEADER_TABLE_SIZE.
    var clientHPACK: HPACKDecoder
    var serverHPACK: HPACKDecoder
    public private(set) var clientHPACKStopReason: String?
    public private(set) var serverHPACKStopReason: String?
    public private(set) var clientHeaderBlocks: UInt64 = 0
    public private(set) var serverHeaderBlocks: UInt64 = 0
    /// `:protocol` values of extended CONNECT requests (RFC 8441 §4), first few distinct.
    public private(set) var extendedConnectProtocols: [String] = []
    /// The requests of the connection, first `options.maxListedRequests` of them.
    public private(set) var requests: HTTP2RequestLog
    /// The server sent SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3); last value it sent, if any.
    public private(set) var serverEnableConnectProtocol: UInt32?
    var serverEverEnabledConnectProtocol = false
    var listLimitReported = false

    var outbox: [Violation] = []
    var reportedPerRule: [String: Int] = [:]
    public private(set) var suppressedViolations: UInt64 = 0

    var frame: UInt64 = 0
    var timestamp = Timestamp.zero

    /// `upgradeRequest`: the HTTP/1.1 request that carried the h2c upgrade, which becomes
    /// stream 1 (RFC 7540 §3.2); nil when its head was not kept (stream 1 is listed without it).
    public init(connection: ConnectionRef? = nil, afterUpgrade: Bool, upgradeSettings: [HTTP2Setting] = [],
                upgradeRequest: HandshakeMessage? = nil, options: Options = Options()) {
        self.connection = connection
        self.afterUpgrade = afterUpgrade
        self.upgradeSettings = upgradeSettings
        self.options = options
        requests = HTTP2RequestLog(maxListed: options.maxListedRequests, maxValueBytes: options.maxRequestValueBytes)
        if afterUpgrade {
            requests.openUpgraded(method: upgradeRequest?.method, target: upgradeRequest?.target,
                                  authority: upgradeRequest?.values("Host").first)
        }
        client = HTTP2FrameDecoder(isClient: true, options: options.frames)
        server = HTTP2FrameDecoder(isClient: false, options: options.frames)
        clientHPACK = HPACKDecoder(maxHeaderListSize: options.maxHeaderListSize)
        serverHPACK = HPACKDecoder(maxHeaderListSize: options.maxHeaderListSize)
        // The HTTP2-Settings header carries the client's initial SETTINGS (RFC 7540 §3.2.1).
        for setting in upgradeSettings { apply(setting, fromClient: true) }
    }

    /// All complete frames of both directions (what tshark counts as HTTP/2 frames).
    public var totalFrames: UInt64 { client.statistics.frames &+ server.statistics.frames }

    // MARK: Input

    public func clientData(_ bytes: UnsafeRawBufferPointer, frame: UInt64, timestamp: Timestamp) {
        self.frame = frame
        self.timestamp = timestamp
        client.feed(bytes) { event in self.clientEvent(event) }
    }

    public func serverData(_ bytes: UnsafeRawBufferPointer, frame: UInt64, timestamp: Timestamp) {
        self.frame = frame
        self.timestamp = timestamp
        server.feed(bytes) { event in self.serverEvent(event) }
    }

    public func clientData(_ bytes: [UInt8], frame: UInt64, timestamp: Timestamp) {
        bytes.withUnsafeBytes { clientData($0, frame: frame, timestamp: timestamp) }
    }

    public func serverData(_ bytes: [UInt8], frame: UInt64, timestamp: Timestamp) {
        bytes.withUnsafeBytes { serverData($0, frame: frame, timestamp: timestamp) }
    }

    /// `length` client bytes are missing; decoding of that direction stops unless the gap
    /// fell inside a payload that is skipped anyway.
    public func clientGap(length: UInt64, frame: UInt64, timestamp: Timestamp) {
        self.frame = frame
        self.timestamp = timestamp
        client.gap(length: length)
    }

    public func serverGap(length: UInt64, frame: UInt64, timestamp: Timestamp) {
        self.frame = frame
        self.timestamp = timestamp
        server.gap(length: length)
    }

    /// Both directions are over: notes frames cut short (`summary` says what was seen).
    public func finish() {
        client.finish()
        server.finish()
        // With no room at all, the upgraded stream 1 was left out before any frame.
        if requests.notListed > 0 { reportListLimit(1) }
    }

    public var hasViolations: Bool { !outbox.isEmpty }

    /// Takes the violations produced so far.
    public func takeViolations() -> [Violation] {
        var taken: [Violation] = []
        swap(&taken, &outbox)
        return taken
    }

    // MARK: Events (never touch the decoder that is feeding)

    func clientEvent(_ event: HTTP2FrameDecoder.Event) {
        switch event {
        case .prefaceMismatch(let first):
            report(.h2cMissingClientPreface, Self.clientDirection,
                   "The client's first bytes after the switch are not the HTTP/2 connection preface.",
                   ["expected": .bytes(HTTP2.clientPreface), "first_bytes": .bytes(first)])
        case .frameStart(let header):
            if requests.clientFrame(header) { reportListLimit(header.streamID) }
            if !clientFirstFrameChecked {
                clientFirstFrameChecked = true
                if header.type != HTTP2FrameType.settings.rawValue {
                    report(.h2cMissingClientPreface, Self.clientDirection,
                           "The client's connection preface is not followed by a SETTINGS frame but by \(header.typeName).",
                           frameEvidence(header))
                }
            }
        case .headerBlock(let info, let bytes):
            decodeBlock(info, bytes, fromClient: true)
        case .headerBlockDropped(let streamID, let reason):
            stopHPACK(fromClient: true, "HPACK stopped: \(reason) (stream \(streamID))")
        case .setting(let setting):
            apply(setting, fromClient: true)
        case .rstStream(let streamID, let errorCode):
            requests.reset(streamID, errorCode: errorCode, byClient: true)
        case .prefaceVerified, .settingsAck, .goAway, .frameComplete:
            break
        }
    }

    func serverEvent(_ event: HTTP2FrameDecoder.Event) {
        switch event {
        case .frameStart(let header):
            requests.serverFrame(header)
            if !serverFirstFrameChecked {
                serverFirstFrameChecked = true
                if header.type != HTTP2FrameType.settings.rawValue {
                    report(.h2cServerFirstFrameNotSettings, Self.serverDirection,
                           "The server's first HTTP/2 frame is \(header.typeName), not SETTINGS.",
                           frameEvidence(header))
                }
            }
        case .headerBlock(let info, let bytes):
            decodeBlock(info, bytes, fromClient: false)
        case .headerBlockDropped(let streamID, let reason):
            stopHPACK(fromClient: false, "HPACK stopped: \(reason) (stream \(streamID))")
        case .setting(let setting):
            apply(setting, fromClient: false)
        case .rstStream(let streamID, let errorCode):
            requests.reset(streamID, errorCode: errorCode, byClient: false)
        case .prefaceMismatch, .prefaceVerified, .settingsAck, .goAway, .frameComplete:
            break
        }
    }

    var clientFirstFrameChecked = false
    var serverFirstFrameChecked = false

    func frameEvidence(_ header: HTTP2FrameHeader) -> Evidence {
        ["frame_type": .text(header.typeName), "stream_id": .integer(Int64(header.streamID)),
         "length": .integer(Int64(header.length)), "flags": .integer(Int64(header.flags))]
    }

    /// A sender's SETTINGS govern what the other side may send it (RFC 9113 §6.5.2). Limits
    /// only ever grow here, so a change in flight never makes a correct peer look wrong.
    func apply(_ setting: HTTP2Setting, fromClient: Bool) {
        guard setting.invalidReason == nil else { return }
        switch setting.id {
        case HTTP2Setting.enableConnectProtocol where !fromClient:
            serverEnableConnectProtocol = setting.value
            if setting.value == 1 { serverEverEnabledConnectProtocol = true }
        case HTTP2Setting.headerTableSize:
            let size = Int(min(setting.value, 1 << 24))
            if fromClient {
                serverHPACK.maxAllowedTableSize = max(serverHPACK.maxAllowedTableSize, size)
            } else {
                clientHPACK.maxAllowedTableSize = max(clientHPACK.maxAllowedTableSize, size)
            }
        case HTTP2Setting.maxFrameSize:
            let size = Int(setting.value)
            if fromClient {
                server.peerMaxFrameSize = max(server.peerMaxFrameSize, size)
            } else {
                client.peerMaxFrameSize = max(client.peerMaxFrameSize, size)
            }
        default:
            break
        }
    }

    // MARK: Header blocks

    func stopHPACK(fromClient: Bool, _ reason: String) {
        if fromClient {
            if clientHPACKStopReason == nil { clientHPACKStopReason = reason }
        } else if serverHPACKStopReason == nil {
            serverHPACKStopReason = reason
        }
    }

    func decodeBlock(_ info: HTTP2HeaderBlockInfo, _ bytes: UnsafeRawBufferPointer, fromClient: Bool) {
        let block: HPACKHeaderBlock
        if fromClient {
            guard clientHPACKStopReason == nil else { return }
            do throws(HPACKError) {
                block = try clientHPACK.decode(bytes)
            } catch {
                stopHPACK(fromClient: true, "HPACK stopped: \(error) (stream \(info.streamID))")
                return
            }
            clientHeaderBlocks &+= 1
        } else {
            guard serverHPACKStopReason == nil else { return }
            do throws(HPACKError) {
                block = try serverHPACK.decode(bytes)
            } catch {
                stopHPACK(fromClient: false, "HPACK stopped: \(error) (stream \(info.streamID))")
                return
            }
            serverHeaderBlocks &+= 1
        }
        check(block, info, fromClient: fromClient)
        switch (fromClient, info.frameType) {
        case (true, .headers):
            requests.requestHeaders(info.streamID, block.fields)
        case (false, .headers):
            requests.responseHeaders(info.streamID, block.fields)
        case (false, .pushPromise):
            if let promised = info.promisedStreamID, requests.promised(promised, fields: block.fields) {
                reportListLimit(promised)
            }
        default:
            break
        }
    }

    /// The request list is full: said once per connection; the record counts the rest.
    func reportListLimit(_ streamID: UInt32) {
        guard !listLimitReported else { return }
        listLimitReported = true
        report(.analyzerLimitReached, nil,
               "More than \(options.maxListedRequests) HTTP/2 requests on this connection; later ones are counted in the record (requests_not_listed), not listed.",
               ["limit": .text("http2_listed_requests"), "max": .integer(Int64(options.maxListedRequests)),
                "stream_id": .integer(Int64(streamID))])
    }

    static let connectionSpecific: Set<String> = ["connection", "upgrade", "keep-alive", "transfer-encoding",
                                                   "proxy-connection"]

    func check(_ block: HPACKHeaderBlock, _ info: HTTP2HeaderBlockInfo, fromClient: Bool) {
        let direction = fromClient ? Self.clientDirection : Self.serverDirection
        var offending: [String] = []
        for field in block.fields {
            let name = field.name.lowercased()
            if Self.connectionSpecific.contains(name) {
                offending.append("\(field.name): \(field.value)")
            } else if name == "te" && field.value.trimmingSpaces.lowercased() != "trailers" {
                offending.append("\(field.name): \(field.value)")
            } else if name == ":status" && !fromClient && info.frameType == .headers && field.value == "101" {
                report(.http2Status101, direction,
                       "The server sent :status 101 on HTTP/2 stream \(info.streamID), which has no protocol switching.",
                       ["stream_id": .integer(Int64(info.streamID)), "status_field": .text(field.value),
                        "fields": .texts(block.fields.prefix(16).map { "\($0.name): \($0.value)" })])
            } else if name == ":protocol" && fromClient {
                if extendedConnectProtocols.count < 4 && !extendedConnectProtocols.contains(field.value) {
                    extendedConnectProtocols.append(field.value)
                }
                if !serverEverEnabledConnectProtocol && info.frameType == .headers {
                    let setting = serverEnableConnectProtocol.map { "ENABLE_CONNECT_PROTOCOL=\($0)" } ?? "not sent"
                    report(.http2ExtendedConnectWithoutSetting, direction,
                           "The client sent :protocol \(field.value) on HTTP/2 stream \(info.streamID) although the server has not sent SETTINGS_ENABLE_CONNECT_PROTOCOL = 1.",
                           ["stream_id": .integer(Int64(info.streamID)), "protocol": .text(field.value),
                            "server_setting": .text(setting)])
                }
            }
        }
        if !offending.isEmpty {
            let kind = info.frameType == .pushPromise ? "PUSH_PROMISE" : "HEADERS"
            report(.http2ConnectionSpecificHeader, direction,
                   "HTTP/2 \(kind) on stream \(info.streamID) carry connection-specific fields (\(offending.joined(separator: "; "))).",
                   ["stream_id": .integer(Int64(info.streamID)), "frame_type": .text(kind),
                    "fields": .texts(Array(offending.prefix(16)))])
        }
    }

    // MARK: Findings

    func report(_ rule: Rule, _ direction: String?, _ message: String, _ evidence: Evidence) {
        let count = reportedPerRule[rule.id, default: 0]
        guard count < options.maxViolationsPerRule else {
            suppressedViolations &+= 1
            return
        }
        reportedPerRule[rule.id] = count + 1
        outbox.append(Violation(rule: rule, message: message, timestamp: timestamp, frame: frame,
                                direction: direction, connection: connection, evidence: evidence))
    }

    /// What the connection carried, for the switch record's `observed` section.
    public var summary: Evidence {
        var evidence = Evidence()
        evidence.append("mode", .text(afterUpgrade ? "h2c_upgrade" : "prior_knowledge"))
        let preface: String
        switch client.prefaceState {
        case .verified: preface = "seen"
        case .missing: preface = "missing"
        case .partial: preface = "incomplete"
        case .pending, .notExpected: preface = "not_seen"
        }
        evidence.append("client_preface", .text(preface))
        if afterUpgrade {
            evidence.append("upgrade_stream_id", .integer(1))
            if !upgradeSettings.isEmpty { evidence.append("upgrade_settings", .texts(upgradeSettings.map(\.text))) }
        }
        describe(client, "client", blocks: clientHeaderBlocks, hpackStop: clientHPACKStopReason, into: &evidence)
        describe(server, "server", blocks: serverHeaderBlocks, hpackStop: serverHPACKStopReason, into: &evidence)
        evidence.append("total_frames", .integer(Int64(clamping: totalFrames)))
        if !extendedConnectProtocols.isEmpty { evidence.append("extended_connect_protocols", .texts(extendedConnectProtocols)) }
        evidence.append("requests", .list(requests.exchanges.map { .object($0.evidence) }))
        if requests.notListed > 0 { evidence.append("requests_not_listed", .integer(Int64(clamping: requests.notListed))) }
        if suppressedViolations > 0 { evidence.append("violations_suppressed", .integer(Int64(clamping: suppressedViolations))) }
        return evidence
    }

    func describe(_ decoder: HTTP2FrameDecoder, _ side: String, blocks: UInt64, hpackStop: String?,
                  into evidence: inout Evidence) {
        let stats = decoder.statistics
        evidence.append("\(side)_bytes", .integer(Int64(clamping: stats.bytes)))
        evidence.append("\(side)_frames", .integer(Int64(clamping: stats.frames)))
        if stats.frames > 0 { evidence.append("\(side)_frame_types", .texts(stats.frameTypeTexts)) }
        evidence.append("\(side)_streams_opened", .integer(Int64(clamping: stats.streamsOpened)))
        if stats.settingsEntries > 0 {
            evidence.append("\(side)_settings", .texts(stats.settingsTexts))
            evidence.append("\(side)_settings_entries", .integer(Int64(clamping: stats.settingsEntries)))
        }
        if let goAway = stats.goAway {
            evidence.append("\(side)_goaway", .text("\(HTTP2.errorCodeName(goAway.errorCode)) last_stream_id=\(goAway.lastStreamID)"))
        }
        evidence.append("\(side)_header_blocks", .integer(Int64(clamping: blocks)))
        let counters: [(String, UInt64)] = [
            ("rst_stream_errors", stats.rstStreamErrors), ("malformed_frames", stats.malformedFrames),
            ("oversized_frames", stats.oversizedFrames), ("invalid_settings", stats.invalidSettings),
            ("dropped_header_blocks", stats.droppedHeaderBlocks), ("gaps_bridged", stats.gapsBridged),
        ]
        for (name, value) in counters where value > 0 {
            evidence.append("\(side)_\(name)", .integer(Int64(clamping: value)))
        }
        if stats.incompleteFrameAtEnd { evidence.append("\(side)_incomplete_frame", .flag(true)) }
        if let reason = decoder.stopReason { evidence.append("\(side)_stopped", .text(reason)) }
        if let hpackStop { evidence.append("\(side)_hpack_stopped", .text(hpackStop)) }
    }
}

private extension String {
    /// Without leading and trailing spaces and tabs (HTTP's OWS), Foundation-free.
    var trimmingSpaces: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { $0 != " " && $0 != "\t" }),
              let last = scalars.lastIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
        return String(scalars[first...last])
    }
}

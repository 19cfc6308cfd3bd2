import PacketCapture
import PacketDecoding

/// The version of the record layout that docs/schema/switchyard-record.schema.json describes,
/// written in the run's `summary` record. Raised when a field is removed, renamed or changes
/// type; adding a field keeps it.
public enum OutputSchema {
    public static let version = 1
}

/// JSON Lines encoding of findings. Field names are stable lowercase snake_case,
/// documented in docs/OUTPUT.md; key order is fixed so output can be diffed.
extension JSONWriter {
    public mutating func endpoint(_ endpoint: Endpoint) {
        beginObject()
        key("ip"); string(endpoint.address.description)
        key("port"); int(endpoint.port)
        endObject()
    }

    public mutating func connection(_ connection: ConnectionRef) {
        beginObject()
        key("client"); endpoint(connection.client)
        key("server"); endpoint(connection.server)
        key("partial"); bool(connection.partial)
        key("flow_id"); int(connection.flowID)
        key("community_id"); string(connection.communityID)
        endObject()
    }

    public mutating func evidence(_ evidence: Evidence) {
        beginObject()
        for entry in evidence.entries {
            key(entry.key)
            evidenceValue(entry.value)
        }
        endObject()
    }

    public mutating func message(_ message: MessageSummary) {
        beginObject()
        if let method = message.method { key("method"); string(method) }
        if let target = message.target { key("target"); string(target) }
        key("version"); string(message.version)
        if let status = message.status { key("status"); int(status) }
        if let reason = message.reason { key("reason"); string(reason) }
        key("upgrade")
        beginArray()
        for token in message.upgrade { string(token) }
        endArray()
        key("headers")
        beginObject()
        for header in message.headers {
            key(header.name)
            string(header.value)
        }
        endObject()
        key("frame"); int(message.frame)
        key("ts"); string(message.timestamp.rfc3339)
        endObject()
    }

    private mutating func recordStart(_ type: String, _ timestamp: Timestamp, _ capture: String) {
        beginObject()
        key("type"); string(type)
        key("ts"); string(timestamp.rfc3339)
        key("capture"); string(capture)
    }

    /// Writes one finding as one JSON object (no trailing newline).
    public mutating func finding(_ finding: Finding, capture: String) {
        recordStart(finding.typeName, finding.timestamp, capture)
        switch finding {
        case .violation(let v):
            if let connection = v.connection { key("connection"); self.connection(connection) }
            key("rule"); string(v.rule.id)
            key("severity"); string(v.rule.severity.name)
            key("message"); string(v.message)
            key("reference"); string(v.rule.reference)
            key("frame"); int(v.frame)
            key("direction")
            if let direction = v.direction { string(direction) } else { null() }
            key("evidence"); evidence(v.evidence)
        case .switched(let s):
            key("connection"); connection(s.connection)
            key("protocol"); string(s.protocolName)
            key("request")
            if let request = s.request { message(request) } else { null() }
            key("response"); message(s.response)
            key("request_frame")
            if let request = s.request { int(request.frame) } else { null() }
            key("response_frame"); int(s.response.frame)
            key("handoff_offset")
            beginObject()
            key("client_to_server")
            if let offset = s.clientHandoffOffset { int(offset) } else { null() }
            key("server_to_client"); int(s.serverHandoffOffset)
            endObject()
            key("bytes_after_switch")
            beginObject()
            key("client_to_server"); int(s.bytesAfterSwitchClient)
            key("server_to_client"); int(s.bytesAfterSwitchServer)
            endObject()
            key("last_ts"); string(s.lastTimestamp.rfc3339)
            key("duration_seconds"); double(max(0, s.lastTimestamp.secondsSince(s.response.timestamp)))
            if !s.observed.entries.isEmpty {
                key("observed"); evidence(s.observed)
            }
        case .upgradeDeclined(let d):
            key("connection"); connection(d.connection)
            key("request"); message(d.request)
            key("response"); message(d.response)
            key("request_frame"); int(d.request.frame)
            key("response_frame"); int(d.response.frame)
        case .switchEnd(let e):
            key("connection"); connection(e.connection)
            key("protocol"); string(e.protocolName)
            key("response_frame"); int(e.responseFrame)
            key("bytes_after_switch")
            beginObject()
            key("client_to_server"); int(e.bytesAfterSwitchClient)
            key("server_to_client"); int(e.bytesAfterSwitchServer)
            endObject()
            key("observed"); evidence(e.observed)
        case .priorKnowledge(let p):
            key("connection"); connection(p.connection)
            key("protocol"); string(p.protocolName)
            key("first_frame"); int(p.firstFrame)
            key("last_ts"); string(p.lastTimestamp.rfc3339)
            key("stream_bytes")
            beginObject()
            key("client_to_server"); int(p.bytesClient)
            key("server_to_client"); int(p.bytesServer)
            endObject()
            key("observed"); evidence(p.observed)
        case .proxiedUpgrade(let p):
            proxiedUpgrade(p)
        case .flow(let f):
            key("id"); int(f.id)
            key("connection"); connection(f.connection)
            key("first_ts"); string(f.firstTimestamp.rfc3339)
            key("last_ts"); string(f.lastTimestamp.rfc3339)
            key("first_frame"); int(f.firstFrame)
            key("last_frame"); int(f.lastFrame)
            key("state"); string(f.state)
            key("partial"); bool(f.connection.partial)
            key("client_to_server"); flowSide(f.clientToServer)
            key("server_to_client"); flowSide(f.serverToClient)
            if !f.streamFiles.isEmpty {
                key("stream_files")
                beginArray()
                for file in f.streamFiles { string(file) }
                endArray()
            }
        }
        endObject()
    }

    private mutating func flowSide(_ side: FlowRecord.Side) {
        beginObject()
        key("packets"); int(side.packets)
        key("payload_bytes"); int(side.payloadBytes)
        key("gaps"); int(side.gaps)
        key("gap_bytes"); int(side.gapBytes)
        key("retransmitted_bytes"); int(side.retransmittedBytes)
        key("out_of_order_segments"); int(side.outOfOrderSegments)
        endObject()
    }
}

import PacketCapture
import PacketDecoding

/// `--format eve`: each record in Suricata's EVE JSON layout, so that a pipeline built for
/// Suricata (Filebeat's and Logstash's Suricata inputs, Vector, Splunk's add-on, Arkime's EVE
/// import) ingests it unchanged. The common EVE fields come first, as Suricata's `etc/schema.json`
/// types them (`timestamp` with a numeric UTC offset, `flow_id` and ports integers, `proto` a
/// name); the whole Switchyard record follows under `switchyard`, as `--format json` writes it.
/// The mapping is documented in docs/OUTPUT.md (*EVE layout*).
public enum EVELayout {
    /// Suricata's `alert.gid` for Switchyard's rules.
    public static let generatorID = 1
    /// `alert.category` of every Switchyard violation.
    public static let category = "Protocol upgrade audit"

    /// `2026-11-21T17:51:14.013929+0000`: Suricata's timestamp (microseconds, numeric offset).
    public static func timestamp(_ time: Timestamp) -> String {
        String(time.rfc3339.dropLast()) + "+0000"
    }

    /// A stable `alert.signature_id` for a rule: FNV-1a of its id into 9,000,000–9,999,999, a
    /// range clear of the Emerging Threats and Suricata rule sets (RuleCatalogueTests checks that
    /// no two rules share one).
    public static func signatureID(_ rule: Rule) -> Int {
        var hash: UInt32 = 0x811C_9DC5
        for byte in rule.id.utf8 { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
        return 9_000_000 + Int(hash % 1_000_000)
    }

    /// Suricata's alert severity: 1 is the most severe, 3 the least.
    public static func severity(_ severity: Severity) -> Int {
        switch severity {
        case .high: return 1
        case .medium: return 2
        case .low, .info: return 3
        }
    }

    /// Suricata's `app_proto` names for the protocols Switchyard reports.
    public static func appProto(_ protocolName: String) -> String {
        switch protocolName {
        case "h2c", "http2": return "http2"
        case "websocket": return "websocket"
        case "tls": return "tls"
        default: return protocolName
        }
    }

    /// The application protocol a rule is about, from its prefix; nil for TCP, IP and analyzer rules.
    static func appProto(rule: Rule) -> String? {
        let prefix = rule.id.prefix { $0 != "_" }
        switch prefix {
        case "http", "upgrade", "proxy": return "http"
        case "h2c", "http2": return "http2"
        case "websocket": return "websocket"
        case "tls": return "tls"
        case "docker": return "docker"
        default: return nil
        }
    }

    /// Suricata's flow `state` and `reason` for Switchyard's close reasons.
    static func flowState(_ state: String) -> (state: String, reason: String) {
        switch state {
        case "closed", "reset": return ("closed", "timeout")
        case "timeout": return ("established", "timeout")
        case "open": return ("established", "shutdown")
        default: return ("established", "forced") // reused, limit
        }
    }
}

extension JSONWriter {
    /// One EVE record for `finding`; `native` is the record as `finding(_:capture:)` wrote it.
    public mutating func eveRecord(_ finding: Finding, native: [UInt8]) {
        beginObject()
        key("timestamp"); string(EVELayout.timestamp(finding.timestamp))
        var connection: ConnectionRef?
        var fromServer = false
        var frame: UInt64?
        var appProto: String?
        let eventType: String
        switch finding {
        case .violation(let v):
            eventType = "alert"
            connection = v.connection
            fromServer = v.direction == "server_to_client"
            frame = v.frame
            appProto = EVELayout.appProto(rule: v.rule)
        case .switched(let s):
            eventType = "switch"
            connection = s.connection
            fromServer = true
            frame = s.response.frame
            appProto = EVELayout.appProto(s.protocolName)
        case .switchEnd(let e):
            eventType = "switch_end"
            connection = e.connection
            appProto = EVELayout.appProto(e.protocolName)
        case .upgradeDeclined(let d):
            eventType = "upgrade_declined"
            connection = d.connection
            fromServer = true
            frame = d.response.frame
            appProto = "http"
        case .priorKnowledge(let p):
            eventType = "prior_knowledge"
            connection = p.connection
            frame = p.firstFrame
            appProto = EVELayout.appProto(p.protocolName)
        case .proxiedUpgrade(let p):
            eventType = "proxied_upgrade"
            connection = p.front.connection
            frame = p.front.requestFrame
            appProto = "http"
        case .flow(let f):
            eventType = "flow"
            connection = f.connection
        }
        if let connection { key("flow_id"); int(connection.flowID) }
        if let frame { key("pcap_cnt"); int(frame) }
        key("event_type"); string(eventType)
        if let connection {
            let (source, destination) = fromServer ? (connection.server, connection.client) : (connection.client, connection.server)
            key("src_ip"); string(source.address.description)
            key("src_port"); int(source.port)
            key("dest_ip"); string(destination.address.description)
            key("dest_port"); int(destination.port)
            key("proto"); string("TCP")
            if let appProto { key("app_proto"); string(appProto) }
            key("community_id"); string(connection.communityID)
        }
        switch finding {
        case .violation(let v):
            key("alert")
            beginObject()
            key("action"); string("allowed")
            key("gid"); int(EVELayout.generatorID)
            key("signature_id"); int(EVELayout.signatureID(v.rule))
            key("rev"); int(1)
            key("signature"); string("SWITCHYARD \(v.rule.id): \(v.rule.summary)")
            key("category"); string(EVELayout.category)
            key("severity"); int(EVELayout.severity(v.rule.severity))
            endObject()
        case .flow(let f):
            let (state, reason) = EVELayout.flowState(f.state)
            key("flow")
            beginObject()
            key("pkts_toserver"); int(f.clientToServer.packets)
            key("pkts_toclient"); int(f.serverToClient.packets)
            key("start"); string(EVELayout.timestamp(f.firstTimestamp))
            key("end"); string(EVELayout.timestamp(f.lastTimestamp))
            key("age"); int(max(0, f.lastTimestamp.seconds - f.firstTimestamp.seconds))
            key("state"); string(state)
            key("reason"); string(reason)
            endObject()
        default:
            break
        }
        key("switchyard"); raw(native)
        endObject()
    }

    /// The run's summary as an EVE record (`event_type` `summary`, no flow fields).
    public mutating func eveSummary(timestamp: Timestamp, native: [UInt8]) {
        beginObject()
        key("timestamp"); string(EVELayout.timestamp(timestamp))
        key("event_type"); string("summary")
        key("switchyard"); raw(native)
        endObject()
    }
}

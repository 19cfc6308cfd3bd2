import Findings
import HTTP1
import PacketCapture
import PacketDecoding
import ProxyCorrelation
import Reporting
import UpgradeAnalysis

/// A shard's upgrade exchanges as records, for `switchyard merge` to pair the legs of proxied
/// upgrades over the whole set (the two legs may have been analysed in two shards).
///
/// A shard writes one `{"type":"shard_exchange","capture":…,"exchange":{…}}` record per
/// exchange where one run writes its pairing's records (section 1), and the merge reads them
/// back, pairs them with the same `ProxyCorrelator` and writes what one run would have. The
/// encoding keeps everything the correlator reads, exactly: addresses as their 64-bit words,
/// times as seconds and nanoseconds, bytes as hex.
enum ShardExchanges {
    static let recordType = "shard_exchange"

    static func write(_ entry: ExchangeCollector.Entry, into json: inout JSONWriter) {
        json.beginObject()
        json.key("type"); json.string(recordType)
        json.key("capture"); json.string(entry.capture)
        json.key("exchange")
        let exchange = entry.exchange
        json.beginObject()
        json.key("client"); write(exchange.connection.client, into: &json)
        json.key("server"); write(exchange.connection.server, into: &json)
        json.key("partial"); json.bool(exchange.connection.partial)
        json.key("flow_id"); json.int(exchange.connection.flowID)
        json.key("sequence"); json.int(exchange.sequence)
        json.key("request"); write(exchange.request, into: &json)
        json.key("response")
        if let response = exchange.response { write(response, into: &json) } else { json.null() }
        json.key("outcome")
        switch exchange.outcome {
        case .switched(let name): json.beginArray(); json.string("switched"); json.string(name); json.endArray()
        case .declined(let status): json.beginArray(); json.string("declined"); json.int(Int64(status)); json.endArray()
        case .noAnswer: json.beginArray(); json.string("no_answer"); json.endArray()
        }
        json.key("follow_up")
        switch exchange.followUp {
        case .request(let head)?:
            json.beginArray(); json.string("request"); write(head, into: &json); json.endArray()
        case .bytes(let bytes, let frame, let timestamp)?:
            json.beginArray(); json.string("bytes"); json.string(hex(bytes)); json.int(frame)
            write(timestamp, into: &json); json.endArray()
        case nil:
            json.null()
        }
        json.key("client_bytes"); json.string(hex(exchange.firstClientBytes))
        json.key("server_bytes"); json.string(hex(exchange.firstServerBytes))
        json.endObject()
        json.endObject()
    }

    /// The capture and the exchange of a `shard_exchange` record, or nil if it is not one.
    static func read(_ value: JSONValue) -> (capture: String, exchange: UpgradeExchange)? {
        guard let capture = value["capture"]?.stringValue, let e = value["exchange"],
              let client = endpoint(e["client"]), let server = endpoint(e["server"]),
              let partial = e["partial"]?.boolValue, let flowID = e["flow_id"]?.integerValue,
              let sequence = e["sequence"]?.integerValue,
              let request = head(e["request"]), let outcomeParts = e["outcome"]?.arrayValue,
              let clientBytes = bytes(e["client_bytes"]), let serverBytes = bytes(e["server_bytes"]) else { return nil }
        var response: UpgradeExchange.Head?
        if let r = e["response"], !r.isNull {
            guard let parsed = head(r) else { return nil }
            response = parsed
        }
        let outcome: UpgradeExchange.Outcome
        switch outcomeParts.first?.stringValue {
        case "switched"?:
            guard outcomeParts.count == 2, let name = outcomeParts[1].stringValue else { return nil }
            outcome = .switched(name)
        case "declined"?:
            guard outcomeParts.count == 2, let status = outcomeParts[1].integerValue else { return nil }
            outcome = .declined(Int(status))
        case "no_answer"?:
            outcome = .noAnswer
        default:
            return nil
        }
        var followUp: UpgradeExchange.FollowUp?
        if let f = e["follow_up"], !f.isNull {
            guard let parts = f.arrayValue else { return nil }
            switch parts.first?.stringValue {
            case "request"?:
                guard parts.count == 2, let next = head(parts[1]) else { return nil }
                followUp = .request(next)
            case "bytes"?:
                guard parts.count == 4, let data = bytes(parts[1]), let frame = parts[2].integerValue,
                      let time = timestamp(parts[3]) else { return nil }
                followUp = .bytes(data, frame: UInt64(frame), timestamp: time)
            default:
                return nil
            }
        }
        let exchange = UpgradeExchange(
            connection: ConnectionRef(client: client, server: server, partial: partial, flowID: UInt64(flowID)), sequence: UInt64(sequence),
            request: request, response: response, outcome: outcome, followUp: followUp,
            firstClientBytes: clientBytes, firstServerBytes: serverBytes)
        return (capture, exchange)
    }

    // MARK: - Parts

    private static func write(_ endpoint: Endpoint, into json: inout JSONWriter) {
        json.beginArray()
        json.string(String(endpoint.address.high, radix: 16))
        json.string(String(endpoint.address.low, radix: 16))
        json.bool(endpoint.address.isIPv6)
        json.int(endpoint.port)
        json.endArray()
    }

    private static func endpoint(_ value: JSONValue?) -> Endpoint? {
        guard let parts = value?.arrayValue, parts.count == 4,
              let high = parts[0].stringValue.flatMap({ UInt64($0, radix: 16) }),
              let low = parts[1].stringValue.flatMap({ UInt64($0, radix: 16) }),
              let isIPv6 = parts[2].boolValue, let port = parts[3].integerValue,
              let port16 = UInt16(exactly: port) else { return nil }
        let address: IPAddress
        if isIPv6 {
            address = IPAddress(ipv6High: high, low: low)
        } else {
            guard high == 0, let v4 = UInt32(exactly: low) else { return nil }
            address = IPAddress(ipv4: v4)
        }
        return Endpoint(address: address, port: port16)
    }

    private static func write(_ timestamp: Timestamp, into json: inout JSONWriter) {
        json.beginArray()
        json.int(timestamp.seconds)
        json.int(timestamp.nanoseconds)
        json.endArray()
    }

    private static func timestamp(_ value: JSONValue?) -> Timestamp? {
        guard let parts = value?.arrayValue, parts.count == 2, let seconds = parts[0].integerValue,
              let nanos = parts[1].integerValue, let nanoseconds = UInt32(exactly: nanos) else { return nil }
        return Timestamp(seconds: seconds, nanoseconds: nanoseconds)
    }

    private static func write(_ head: UpgradeExchange.Head, into json: inout JSONWriter) {
        json.beginObject()
        json.key("start_line"); json.string(head.startLine)
        json.key("method"); if let method = head.method { json.string(method) } else { json.null() }
        json.key("target"); if let target = head.target { json.string(target) } else { json.null() }
        json.key("status"); if let status = head.status { json.int(Int64(status)) } else { json.null() }
        json.key("fields")
        json.beginArray()
        for field in head.fields {
            json.beginArray(); json.string(field.name); json.string(field.value); json.endArray()
        }
        json.endArray()
        json.key("frame"); json.int(head.frame)
        json.key("time"); write(head.timestamp, into: &json)
        json.endObject()
    }

    private static func head(_ value: JSONValue?) -> UpgradeExchange.Head? {
        guard let value, let startLine = value["start_line"]?.stringValue, let fieldList = value["fields"]?.arrayValue,
              let frame = value["frame"]?.integerValue, let time = timestamp(value["time"]) else { return nil }
        var fields: [HTTPField] = []
        for item in fieldList {
            guard let pair = item.arrayValue, pair.count == 2, let name = pair[0].stringValue,
                  let fieldValue = pair[1].stringValue else { return nil }
            fields.append(HTTPField(name: name, value: fieldValue))
        }
        let status = value["status"]?.integerValue.map { Int($0) }
        return UpgradeExchange.Head(startLine: startLine, method: value["method"]?.stringValue,
                                    target: value["target"]?.stringValue, status: status, fields: fields,
                                    frame: UInt64(frame), timestamp: time)
    }

    private static let digits = Array("0123456789abcdef".utf8)

    private static func hex(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func bytes(_ value: JSONValue?) -> [UInt8]? {
        guard let text = value?.stringValue else { return nil }
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = UInt8(String(decoding: utf8[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(high)
            index += 2
        }
        return out
    }
}

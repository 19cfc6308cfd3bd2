import Findings

extension ConnectUDPSession {
    /// The table's entry point: checks the upgrade exchange against RFC 9298 §3.2 and §3.3
    /// (and RFC 9297 §3.2, §3.4 for the Capsule Protocol's own requirements), puts the target
    /// in the switch record, and starts decoding capsules.
    @Sendable static func start(_ context: SwitchContext) -> SwitchStart {
        var violations: [Violation] = []
        var target = Evidence()
        if let request = context.request {
            let parsed = ConnectUDPTarget.parse(requestTarget: request.target ?? "")
            switch parsed {
            case .target(let udp):
                target.append("template", .text(udp.template.rawValue))
                target.append("host", .text(udp.host))
                target.append("port", .integer(Int64(udp.port)))
            case .invalid(let template, _):
                target.append("template", .text(template?.rawValue ?? "unrecognised"))
            case .unrecognised:
                target.append("template", .text("unrecognised"))
            }
            var problems: [String] = []
            if let method = request.method, method != "GET" { problems.append("the method is \(method), not GET") }
            let hosts = request.values("Host").count
            if hosts != 1 { problems.append("\(hosts) Host fields instead of one") }
            if case .invalid(_, let reason) = parsed { problems.append(reason) }
            problems += contentFields(request).map { "the request carries \($0)" }
            if !problems.isEmpty {
                violations.append(Violation(
                    rule: .connectUDPRequestMalformed,
                    message: "The server switched to connect-udp on a malformed request: \(problems.joined(separator: "; ")).",
                    timestamp: context.requestTimestamp, frame: context.requestFrame, direction: HTTP2Session.clientDirection,
                    connection: context.connection,
                    evidence: ["problems": .texts(problems), "target": .text(request.target ?? "")]))
            }
            if let problem = capsuleProtocolProblem(request) {
                violations.append(capsuleProtocolMissing(problem, in: "request", context: context, fromClient: true))
            }
        }
        var problems: [String] = []
        let upgrade = context.response.values("Upgrade")
        if upgrade.count != 1 || upgrade.first?.lowercased() != "connect-udp" {
            problems.append("Upgrade is \(upgrade.isEmpty ? "absent" : upgrade.map { "\"\($0)\"" }.joined(separator: ", ")), not one field with the value connect-udp")
        }
        problems += contentFields(context.response).map { "the 101 carries \($0)" }
        if !problems.isEmpty {
            violations.append(Violation(
                rule: .connectUDPResponseMalformed,
                message: "The 101 to connect-udp is one the client must treat as a failed attempt: \(problems.joined(separator: "; ")).",
                timestamp: context.responseTimestamp, frame: context.responseFrame, direction: HTTP2Session.serverDirection,
                connection: context.connection, evidence: ["problems": .texts(problems)]))
        }
        if let problem = capsuleProtocolProblem(context.response) {
            violations.append(capsuleProtocolMissing(problem, in: "101", context: context, fromClient: false))
        }
        // Without the request (a capture that missed it) there is no target to show.
        return SwitchStart(session: ConnectUDPSession(connection: context.connection), violations: violations,
                           evidence: context.request == nil ? Evidence() : ["connect_udp_target": .object(target)])
    }

    /// RFC 9297 §3.2: the Capsule Protocol is not used with messages that carry these.
    static func contentFields(_ message: HandshakeMessage) -> [String] {
        ["Content-Length", "Content-Type", "Transfer-Encoding"].filter { !message.values($0).isEmpty }
    }

    static func capsuleProtocolProblem(_ message: HandshakeMessage) -> String? {
        switch CapsuleProtocolField(message) {
        case .isTrue: return nil
        case .absent: return "no Capsule-Protocol field"
        case .isFalse: return "Capsule-Protocol: ?0 (false, the same as absent)"
        case .ignored(let why): return why + ", which recipients ignore"
        }
    }

    static func capsuleProtocolMissing(_ problem: String, in message: String, context: SwitchContext, fromClient: Bool) -> Violation {
        Violation(rule: .connectUDPCapsuleProtocolMissing,
                  message: "The connect-udp \(message) has \(problem); intermediaries recognise the Capsule Protocol by `Capsule-Protocol: ?1`.",
                  timestamp: fromClient ? context.requestTimestamp : context.responseTimestamp,
                  frame: fromClient ? context.requestFrame : context.responseFrame,
                  direction: fromClient ? HTTP2Session.clientDirection : HTTP2Session.serverDirection,
                  connection: context.connection, evidence: ["message": .text(message), "problem": .text(problem)])
    }
}

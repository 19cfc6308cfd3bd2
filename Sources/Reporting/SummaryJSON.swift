import Findings

/// The `--format json` document: the report's numbers for dashboards. Keys are in a fixed
/// order and every list is sorted, so the same findings always give the same bytes.
struct SummaryJSON {
    let audit: Audit
    /// Captures listed (the HTML page embeds the first few); nil for all that were kept.
    var captureLimit: Int?

    init(audit: Audit, captureLimit: Int? = nil) {
        self.audit = audit
        self.captureLimit = captureLimit
    }

    func document() -> JSONValue {
        let scope = audit.scope
        var members: [JSONMember] = [
            JSONMember("report", .string("switchyard-audit")),
            JSONMember("format_version", number(2)),
            JSONMember("title", .string(audit.options.title)),
            JSONMember("generated_at", audit.options.generatedAt.map(JSONValue.string) ?? .null),
            JSONMember("sources", .array(audit.options.sources.sorted().map(JSONValue.string))),
            JSONMember("scope", .object([
                JSONMember("captures", .array(audit.captures.prefix(captureLimit ?? .max).map { capture in
                    .object([
                        JSONMember("capture", .string(capture.name)),
                        JSONMember("format", .string(capture.format)),
                        JSONMember("packets", number(capture.packets)),
                        JSONMember("bytes", number(capture.bytes)),
                        JSONMember("connections", number(capture.connections)),
                        JSONMember("error", capture.error.map(JSONValue.string) ?? .null),
                        JSONMember("violations", number(capture.findings)),
                        JSONMember("switches", number(capture.switches)),
                    ])
                })),
                JSONMember("captures_total", number(audit.captureCount)),
                JSONMember("captures_beyond_limit", .bool(audit.capturesOverflowed)),
                JSONMember("unreadable", .array(scope.unreadable.items.map {
                    .object([JSONMember("capture", .string($0.name)), JSONMember("error", .string($0.reason))])
                })),
                JSONMember("first_ts", scope.first.map { .string($0.rfc3339) } ?? .null),
                JSONMember("last_ts", scope.last.map { .string($0.rfc3339) } ?? .null),
                JSONMember("duration_us", audit.timeSpan.map(number) ?? .null),
                JSONMember("packets", number(scope.packets)),
                JSONMember("bytes", number(scope.bytes)),
                JSONMember("connections", number(scope.connections)),
                JSONMember("gaps", number(scope.gaps)),
                JSONMember("gap_bytes", number(scope.gapBytes)),
                JSONMember("packet_disposition", counts(scope.disposition.ordered(Scope.dispositionOrder))),
                JSONMember("http_messages", .object([
                    JSONMember("requests", number(scope.requests)),
                    JSONMember("responses", number(scope.responses)),
                    JSONMember("non_http_directions", number(scope.nonHTTPDirections)),
                    JSONMember("parse_errors", counts(scope.parseErrors.ordered())),
                ])),
                JSONMember("summary_records", number(scope.summaryRecords)),
            ])),
            JSONMember("switches", number(audit.switchCount)),
            JSONMember("switches_by_protocol", counts(audit.switchesByProtocol.sorted { $0.name < $1.name })),
            JSONMember("protocols_after_switch", .array(audit.protocolPairs.map { pair in
                .object([
                    JSONMember("agreed", .string(pair.agreed)),
                    JSONMember("observed", .string(pair.observed)),
                    JSONMember("count", number(pair.count)),
                    JSONMember("verdict", .string(pair.verdict.rawValue)),
                ])
            })),
            JSONMember("upgrades_declined", number(audit.declinedCount)),
            JSONMember("prior_knowledge_by_protocol", counts(audit.priorKnowledgeByProtocol.sorted { $0.name < $1.name })),
            JSONMember("violations", number(audit.findingCount)),
            JSONMember("violations_by_severity", .object(audit.countsBySeverity.map {
                JSONMember($0.severity.name, number($0.count))
            })),
            JSONMember("violations_by_rule", .object(audit.ruleCounts.sorted { $0.rule < $1.rule }.map {
                JSONMember($0.rule, number($0.count))
            })),
            JSONMember("groups", number(audit.groups.count)),
            JSONMember("violations_beyond_group_limit", number(audit.ungrouped.findings)),
            JSONMember("services", .array(audit.services.prefix(audit.limits.shownServices).map { service in
                .object([
                    JSONMember("server_ip", .string(service.key.ip)),
                    JSONMember("server_port", service.key.port.map(number) ?? .null),
                    JSONMember("hosts", .array(service.hosts.values.map(JSONValue.string))),
                    JSONMember("switches", number(service.switches)),
                    JSONMember("upgrades_declined", number(service.declined)),
                    JSONMember("violations_by_severity", .object(Severity.allCases.reversed().map {
                        JSONMember($0.name, number(service.findings[$0.rawValue]))
                    })),
                ])
            })),
            JSONMember("services_total", number(audit.services.count)),
            JSONMember("services_beyond_limit", .bool(audit.servicesOverflowed)),
            JSONMember("top_risks", .array(audit.topRisks().shown.map { risk in
                let guide = RuleGuide.forRule(risk.rule)
                return .object([
                    JSONMember("rule", .string(risk.rule)),
                    JSONMember("severity", .string(risk.severity.name)),
                    JSONMember("count", number(risk.count)),
                    JSONMember("services", number(risk.services)),
                    JSONMember("title", .string(guide.title)),
                    JSONMember("why", .string(guide.why)),
                    JSONMember("remediation", .string(guide.remediation)),
                    JSONMember("reference", .string(Rule.named(risk.rule)?.reference ?? "")),
                ])
            })),
        ]
        members.append(JSONMember("baseline", baselineValue()))
        members.append(JSONMember("input", .object([
            JSONMember("invalid_lines", number(audit.invalidLines)),
            JSONMember("ignored_records", number(audit.ignoredRecords)),
            JSONMember("suppressed_findings", number(scope.suppressedFindings)),
        ])))
        return .object(members)
    }

    private func baselineValue() -> JSONValue {
        guard let comparison = audit.baseline else { return .null }
        func entries(_ list: [BaselineComparison.Entry]) -> JSONValue {
            .array(list.prefix(captureLimit ?? .max).map { entry in
                .object([
                    JSONMember("rule", .string(entry.key.rule)),
                    JSONMember("severity", .string(entry.severity.name)),
                    JSONMember("server_ip", .string(entry.key.server.ip)),
                    JSONMember("server_port", entry.key.server.port.map(number) ?? .null),
                    JSONMember("baseline_count", number(entry.baselineCount)),
                    JSONMember("count", number(entry.currentCount)),
                ])
            })
        }
        return .object([
            JSONMember("sources", .array(audit.options.baselineSources.sorted().map(JSONValue.string))),
            JSONMember("matching_key", .array(["rule", "server_ip", "server_port"].map(JSONValue.string))),
            JSONMember("baseline_findings", number(comparison.baselineFindings)),
            JSONMember("new", number(comparison.new.count)),
            JSONMember("fixed", number(comparison.fixed.count)),
            JSONMember("unchanged", number(comparison.unchanged.count)),
            JSONMember("new_groups", entries(comparison.new)),
            JSONMember("fixed_groups", entries(comparison.fixed)),
            JSONMember("unchanged_groups", entries(comparison.unchanged)),
        ])
    }

    private func counts<C: BinaryInteger>(_ list: [(name: String, count: C)]) -> JSONValue {
        .object(list.map { JSONMember($0.name, number($0.count)) })
    }
}

func number<T: BinaryInteger>(_ value: T) -> JSONValue { .number(String(value)) }

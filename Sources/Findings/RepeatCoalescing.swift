/// One finding per rule, frame and direction (issue #17, *Noise*).
///
/// A rule that checks a unit smaller than a packet (a WebSocket frame, a header line) can fire
/// several times for one captured frame: three WebSocket frames reusing a masking key in one TCP
/// segment, two folded lines in one request head. A reader wants one finding for one thing seen in
/// one place, so the repeats are folded into the first: its message and evidence stay, `occurrences`
/// counts them all, and `each` lists, for every evidence key whose value differed between them,
/// the values in the order of the occurrences that had the key (at most `maxListed`), so nothing
/// that was found is lost.
extension Finding {
    /// At most this many values per key in `each`; `occurrences` still counts every repeat.
    public static let maxListed = 16

    /// `findings` with every violation folded into the first one of the same rule, frame,
    /// direction and connection; order otherwise kept. Findings of one stream event are passed
    /// together, so the pass is over a handful of values.
    public static func coalescingRepeats(_ findings: [Finding]) -> [Finding] {
        guard findings.count > 1 else { return findings }
        var result: [Finding] = []
        var groups: [Int: [Evidence]] = [:]
        result.reserveCapacity(findings.count)
        for finding in findings {
            guard case .violation(let violation) = finding else {
                result.append(finding)
                continue
            }
            let first = result.indices.first { index in
                guard case .violation(let earlier) = result[index] else { return false }
                return earlier.rule.id == violation.rule.id && earlier.frame == violation.frame
                    && earlier.direction == violation.direction && earlier.connection == violation.connection
            }
            if let first {
                groups[first, default: []].append(violation.evidence)
            } else {
                result.append(finding)
            }
        }
        for (index, repeats) in groups {
            guard case .violation(var violation) = result[index] else { continue }
            violation.evidence = Evidence.combining([violation.evidence] + repeats)
            result[index] = .violation(violation)
        }
        return result
    }
}

extension Evidence {
    /// The first occurrence's evidence, `occurrences`, and `each` for the keys that differed.
    static func combining(_ occurrences: [Evidence]) -> Evidence {
        var combined = occurrences[0]
        var each = Evidence()
        var keys: [String] = []
        for evidence in occurrences {
            for entry in evidence.entries where !keys.contains(entry.key) { keys.append(entry.key) }
        }
        for key in keys {
            let values = occurrences.map { $0[key] }
            guard values.contains(where: { $0 != values[0] }) else { continue }
            each.append(key, .list(values.prefix(Finding.maxListed).compactMap { $0 }))
        }
        combined.append("occurrences", .integer(Int64(occurrences.count)))
        if !each.entries.isEmpty { combined.append("each", .object(each)) }
        return combined
    }
}

/// How much a finding matters. Ordered: `info < low < medium < high`.
public enum Severity: Int, Comparable, CaseIterable, Sendable {
    case info = 0, low, medium, high

    public static func < (a: Severity, b: Severity) -> Bool { a.rawValue < b.rawValue }

    public var name: String {
        switch self {
        case .info: return "info"
        case .low: return "low"
        case .medium: return "medium"
        case .high: return "high"
        }
    }

    public init?(name: String) {
        guard let found = Severity.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = found
    }
}

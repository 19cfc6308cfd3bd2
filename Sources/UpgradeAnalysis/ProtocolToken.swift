/// An Upgrade protocol token, `protocol-name ["/" protocol-version]` (RFC 9110 §7.8).
struct ProtocolToken: Equatable {
    var name: String
    var version: String?

    init(_ text: String) {
        if let slash = text.firstIndex(of: "/") {
            name = text[..<slash].lowercased()
            version = text[text.index(after: slash)...].lowercased()
        } else {
            name = text.lowercased()
            version = nil
        }
    }

    /// Whether a server's selected token is among those offered: names compare
    /// case-insensitively; a selected version must equal an offered one, and a selected
    /// token without a version matches any offer of that name.
    func isOffered(in offers: [ProtocolToken]) -> Bool {
        offers.contains { offer in
            offer.name == name && (version == nil || offer.version == version)
        }
    }
}

/// Base64 and base64url (RFC 4648 §4, §5), written here because the WebSocket handshake
/// (RFC 6455 §4.1, §4.2.2) needs both directions and the product uses no crypto library.
///
/// Decoding is strict (RFC 4648 §3.3, §3.5): no whitespace, no characters outside the
/// alphabet, padding exactly as asked, and the unused bits of the last character zero,
/// so that every byte string has exactly one accepted encoding.
public enum Base64 {
    public enum Alphabet: Sendable {
        /// `A–Z a–z 0–9 + /` (RFC 4648 §4).
        case standard
        /// `A–Z a–z 0–9 - _` (RFC 4648 §5), for URLs and file names.
        case url
    }

    public enum Padding: Sendable {
        /// `=` up to a multiple of four characters (RFC 4648 §3.2).
        case required
        /// No `=` at all (allowed where the length is known, RFC 4648 §3.2, §5).
        case forbidden
        /// Either form, but padding that is present must be complete.
        case optional
    }

    private static let standardTable = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let urlTable = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Encodes with padding by default (base64url usually drops it: pass `padding: false`).
    public static func encode(_ bytes: [UInt8], alphabet: Alphabet = .standard, padding: Bool = true) -> String {
        let table = alphabet == .standard ? standardTable : urlTable
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let group = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out += [table[Int(group >> 18)], table[Int(group >> 12 & 63)], table[Int(group >> 6 & 63)], table[Int(group & 63)]]
            index += 3
        }
        switch bytes.count - index {
        case 1:
            let group = UInt32(bytes[index]) << 16
            out += [table[Int(group >> 18)], table[Int(group >> 12 & 63)]]
            if padding { out += [UInt8(ascii: "="), UInt8(ascii: "=")] }
        case 2:
            let group = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out += [table[Int(group >> 18)], table[Int(group >> 12 & 63)], table[Int(group >> 6 & 63)]]
            if padding { out.append(UInt8(ascii: "=")) }
        default:
            break
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes strictly; nil for anything that is not the canonical encoding of some bytes.
    /// Default padding: required for `.standard`, forbidden for `.url` (RFC 7515 §2 style).
    public static func decode(_ text: String, alphabet: Alphabet = .standard, padding: Padding? = nil) -> [UInt8]? {
        decode(Array(text.utf8), alphabet: alphabet, padding: padding ?? (alphabet == .standard ? .required : .forbidden))
    }

    public static func decode(_ text: [UInt8], alphabet: Alphabet, padding: Padding) -> [UInt8]? {
        var characters = text[...]
        var padCount = 0
        while let last = characters.last, last == UInt8(ascii: "=") {
            padCount += 1
            characters = characters.dropLast()
        }
        switch padding {
        case .required:
            guard text.count % 4 == 0 else { return nil }
        case .forbidden:
            guard padCount == 0 else { return nil }
        case .optional:
            guard padCount == 0 || text.count % 4 == 0 else { return nil }
        }
        // One or two '=' only, and only where they complete a group.
        guard padCount <= 2, padCount == 0 || (characters.count + padCount) % 4 == 0 else { return nil }
        let remainder = characters.count % 4
        guard remainder != 1 else { return nil }
        if padCount > 0 && padCount != (4 - remainder) % 4 { return nil }

        var out: [UInt8] = []
        out.reserveCapacity(characters.count * 3 / 4)
        var group: UInt32 = 0
        var inGroup = 0
        for character in characters {
            guard let value = sextet(character, alphabet) else { return nil }
            group = group << 6 | UInt32(value)
            inGroup += 1
            if inGroup == 4 {
                out += [UInt8(group >> 16), UInt8(truncatingIfNeeded: group >> 8), UInt8(truncatingIfNeeded: group)]
                group = 0
                inGroup = 0
            }
        }
        switch inGroup {
        case 2:
            guard group & 0xF == 0 else { return nil }  // RFC 4648 §3.5: pad bits must be zero
            out.append(UInt8(truncatingIfNeeded: group >> 4))
        case 3:
            guard group & 0x3 == 0 else { return nil }
            out += [UInt8(truncatingIfNeeded: group >> 10), UInt8(truncatingIfNeeded: group >> 2)]
        default:
            break
        }
        return out
    }

    @inline(__always)
    private static func sextet(_ character: UInt8, _ alphabet: Alphabet) -> UInt8? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return character - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return character - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): return alphabet == .standard ? 62 : nil
        case UInt8(ascii: "/"): return alphabet == .standard ? 63 : nil
        case UInt8(ascii: "-"): return alphabet == .url ? 62 : nil
        case UInt8(ascii: "_"): return alphabet == .url ? 63 : nil
        default: return nil
        }
    }
}

/// Escaping for every place captured text can land. Captured values are attacker-controlled:
/// a header value, a target, a capture's file name or even a rule id in a forged findings file
/// must come out as inert text wherever the report puts it.
enum Escape {
    /// Makes invisible or misleading characters visible: control characters become `\xNN`,
    /// and line/paragraph separators, bidirectional overrides and zero-width characters
    /// (which can make text read differently from what it is) become `\u{XXXX}`.
    static func visible(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsMarking) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F || (scalar.value >= 0x80 && scalar.value < 0xA0) {
                out += "\\x" + hexByte(UInt8(truncatingIfNeeded: scalar.value))
            } else if needsMarking(scalar) {
                out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func needsMarking(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00..<0x20, 0x7F..<0xA0: return true
        case 0x061C, 0x200B...0x200F, 0x2028...0x202E, 0x2060...0x2069, 0xFEFF, 0xFFF9...0xFFFB: return true
        default: return false
        }
    }

    /// Text for HTML element content and (always double-quoted) attribute values.
    static func html(_ text: String) -> String {
        var out = ""
        for scalar in visible(text).unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Text for Markdown paragraphs and table cells (GitHub Flavored Markdown). Every character
    /// that can start emphasis, code, links, images, HTML, tables, math, mentions or references
    /// is backslash-escaped or written as an entity, and line breaks are already `\x0a`, so
    /// a value can neither leave its cell nor become markup.
    static func markdown(_ text: String) -> String {
        var out = ""
        for scalar in visible(text).unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\\", "`", "*", "_", "[", "]", "(", ")", "{", "}", "#", "!", "|", "~", "$", "@":
                out += "\\"
                out.unicodeScalars.append(scalar)
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A fenced code block whose fence cannot be closed by the content: the content's lines are
    /// made visible (so no line breaks of its own beyond the ones given) and the fence is longer
    /// than any run of backticks in it.
    static func markdownCodeBlock(_ lines: [String]) -> String {
        let body = lines.map(visible)
        var longest = 0
        for line in body {
            var run = 0
            for character in line {
                if character == "`" { run += 1; longest = max(longest, run) } else { run = 0 }
            }
        }
        let fence = String(repeating: "`", count: max(3, longest + 1))
        return fence + "text\n" + body.joined(separator: "\n") + "\n" + fence + "\n"
    }

    /// Cuts long captured values (header blocks may be 64 KiB) so a report stays readable.
    static func clipped(_ text: String, _ limit: Int = 300) -> String {
        guard text.count > limit else { return text }
        return String(text.prefix(limit)) + "… (\(grouped(Int64(text.count - limit))) more characters)"
    }
}

private let hexCharacters = Array("0123456789abcdef")

func hexByte(_ byte: UInt8) -> String {
    String([hexCharacters[Int(byte >> 4)], hexCharacters[Int(byte & 0xF)]])
}

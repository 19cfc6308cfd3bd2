/// Classic hex dump lines: offset, 16 bytes in hex (two groups of 8), and the bytes as
/// printable ASCII between bars. Only hex digits, spaces and printable ASCII come out; the
/// renderers still escape the ASCII column, which holds captured bytes.
///
///     0000  81 85 2a 45 cd 31 42 20  a1 5d 45 82 8a ab 96 94  |..*E.1B .]E.....|
func hexDumpLines(_ bytes: [UInt8], limit: Int = 512) -> [String] {
    var lines: [String] = []
    let shown = bytes.prefix(limit)
    var offset = 0
    while offset < shown.count {
        let row = Array(shown[(shown.startIndex + offset)..<min(shown.startIndex + offset + 16, shown.endIndex)])
        var line = pad4Hex(offset) + "  "
        for column in 0..<16 {
            if column == 8 { line += " " }
            line += column < row.count ? hexByte(row[column]) + " " : "   "
        }
        line += " |" + printableText(row) + "|"
        lines.append(line)
        offset += 16
    }
    if bytes.count > limit { lines.append("… \(grouped(Int64(bytes.count - limit))) more bytes") }
    return lines
}

private func pad4Hex(_ value: Int) -> String {
    let text = String(value, radix: 16)
    return text.count >= 4 ? text : String(repeating: "0", count: 4 - text.count) + text
}

/// Printable ASCII kept, everything else shown as '.'.
func printableText(_ raw: [UInt8]) -> String {
    String(decoding: raw.map { $0 >= 0x20 && $0 < 0x7F ? $0 : UInt8(ascii: ".") }, as: UTF8.self)
}

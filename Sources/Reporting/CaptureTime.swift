/// A capture timestamp from a record's RFC 3339 `ts` (`2026-11-21T17:51:27.554127Z`), as
/// microseconds since the Unix epoch. Parsed rather than shown as given so the report only
/// ever prints digits it formatted itself.
struct CaptureTime: Comparable, Hashable, Sendable {
    var microseconds: Int64

    static func < (a: CaptureTime, b: CaptureTime) -> Bool { a.microseconds < b.microseconds }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`; nil for anything else.
    init?(rfc3339 text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.count <= 40, bytes.last == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for index in range {
                let byte = bytes[index]
                guard byte >= 0x30 && byte <= 0x39 else { return nil }
                value = value * 10 + Int64(byte - 0x30)
            }
            return value
        }
        guard bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t"),
              bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
              let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var micros: Int64 = 0
        let fractionEnd = bytes.count - 1
        if fractionEnd > 19 {
            guard bytes[19] == UInt8(ascii: "."), fractionEnd > 20,
                  let fraction = number(20..<min(fractionEnd, 26)), number(20..<fractionEnd) != nil
            else { return nil }
            micros = fraction
            for _ in 0..<(6 - min(fractionEnd - 20, 6)) { micros *= 10 }
        } else if fractionEnd != 19 {
            return nil
        }
        let days = Self.daysFromCivil(year: year, month: month, day: day)
        microseconds = ((days * 86_400 + hour * 3600 + minute * 60 + second) * 1_000_000) + micros
    }

    init(microseconds: Int64) {
        self.microseconds = microseconds
    }

    /// Days since 1970-01-01 (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private var parts: (date: String, hour: Int64, minute: Int64, second: Int64, micros: Int64) {
        var days = microseconds / 86_400_000_000
        var rest = microseconds % 86_400_000_000
        if rest < 0 { rest += 86_400_000_000; days -= 1 }
        let (year, month, day) = Self.civil(fromDays: days)
        let date = pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2)
        let seconds = rest / 1_000_000
        return (date, seconds / 3600, seconds / 60 % 60, seconds % 60, rest % 1_000_000)
    }

    /// `2026-11-21 17:51:27.554127 UTC`
    var display: String {
        let p = parts
        return "\(p.date) \(pad(p.hour, 2)):\(pad(p.minute, 2)):\(pad(p.second, 2)).\(pad(p.micros, 6)) UTC"
    }

    /// `2026-11-21 17:51:27` (for axes and tables).
    var short: String {
        let p = parts
        return "\(p.date) \(pad(p.hour, 2)):\(pad(p.minute, 2)):\(pad(p.second, 2))"
    }

    /// `17:51:27.554` (for axes when the span is short).
    var timeOfDay: String {
        let p = parts
        return "\(pad(p.hour, 2)):\(pad(p.minute, 2)):\(pad(p.second, 2)).\(pad(p.micros / 1000, 3))"
    }

    /// `2026-11-21T17:51:27.554127Z`, as analyze writes it (normalised).
    var rfc3339: String {
        let p = parts
        return "\(p.date)T\(pad(p.hour, 2)):\(pad(p.minute, 2)):\(pad(p.second, 2)).\(pad(p.micros, 6))Z"
    }
}

func pad(_ value: Int64, _ width: Int) -> String {
    let text = String(value)
    return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
}

/// A duration in words a reader can take in at a glance: `40 µs`, `850 ms`, `54.5 s`, `12 min`, `3.2 h`, `41 days`.
func durationText(microseconds: Int64) -> String {
    let seconds = Double(microseconds) / 1_000_000
    if microseconds < 1000 { return "\(microseconds) µs" }
    if microseconds < 1_000_000 { return "\(microseconds / 1000) ms" }
    if seconds < 120 { return oneDecimal(seconds) + " s" }
    if seconds < 7200 { return oneDecimal(seconds / 60) + " min" }
    if seconds < 172_800 { return oneDecimal(seconds / 3600) + " h" }
    if seconds < 86_400 * 730 { return oneDecimal(seconds / 86_400) + " days" }
    return oneDecimal(seconds / (86_400 * 365.25)) + " years"
}

func oneDecimal(_ value: Double) -> String {
    guard value.isFinite else { return "0" }
    let tenths = Int64((value * 10).rounded())
    return tenths % 10 == 0 ? String(tenths / 10) : "\(tenths / 10).\(abs(tenths % 10))"
}

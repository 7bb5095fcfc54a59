import Foundation

/// XEP-0082 date-times as microseconds since the Unix epoch (the archive's clock).
enum Timestamps {
    static func now() -> Int64 { Int64((Date().timeIntervalSince1970 * 1_000_000).rounded()) }

    /// `2026-11-25T08:47:01.123456Z`
    static func format(_ micros: Int64) -> String {
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let fraction = micros - seconds * 1_000_000
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
                      Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(fraction))
    }

    /// `CCYY-MM-DDThh:mm:ss[.sss]TZD` with TZD `Z` or `±hh:mm`; nil if malformed.
    static func parse(_ text: String) -> Int64? {
        let chars = Array(text.trimmingCharacters(in: .whitespaces).utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= chars.count else { return nil }
            var value = 0
            for i in range {
                guard chars[i] >= 48 && chars[i] <= 57 else { return nil }
                value = value * 10 + Int(chars[i] - 48)
            }
            return value
        }
        func char(_ i: Int, _ c: Character) -> Bool { i < chars.count && chars[i] == c.asciiValue! }
        guard let year = number(0..<4), char(4, "-"), let month = number(5..<7), char(7, "-"),
              let day = number(8..<10), char(10, "T"), let hour = number(11..<13), char(13, ":"),
              let minute = number(14..<16), char(16, ":"), let second = number(17..<19),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var i = 19
        var micros = 0
        if char(i, ".") {
            i += 1
            var digits = 0
            while i < chars.count, chars[i] >= 48 && chars[i] <= 57 {
                if digits < 6 { micros = micros * 10 + Int(chars[i] - 48) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 6) { micros *= 10 }
        }
        var offset = 0
        if char(i, "Z") {
            i += 1
        } else if char(i, "+") || char(i, "-") {
            guard let h = number(i + 1..<i + 3), char(i + 3, ":"), let m = number(i + 4..<i + 6) else { return nil }
            offset = (h * 60 + m) * 60 * (char(i, "-") ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == chars.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Int64(seconds) * 1_000_000 + Int64(micros)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

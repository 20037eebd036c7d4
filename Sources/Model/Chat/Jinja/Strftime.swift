import Foundation

extension Jinja {
    /// Where `strftime_now` reads the time: a server reads the system clock,
    /// tests fix it so that renders are reproducible.
    ///
    /// transformers formats `datetime.now()`, the machine's local time;
    /// kvserve formats the time in UTC, so a prompt's date does not depend
    /// on the server's time zone setting (it is the same date wherever the
    /// host runs in UTC, as containers do).
    public struct Clock: Sendable {
        public let now: @Sendable () -> Date

        public init(now: @escaping @Sendable () -> Date) { self.now = now }

        public static let system = Clock { Date() }

        public static func fixed(_ date: Date) -> Clock { Clock { date } }
    }

    /// `datetime.strftime` as Python on Linux runs it (glibc, C locale), for
    /// the directives a date needs. Any other directive is refused, where
    /// glibc would copy it through and a prompt would carry a stray `%Q`.
    struct Strftime {
        let year, month, day, hour, minute, second: Int
        /// 0 is Sunday, as `%w` counts.
        let weekday: Int
        let dayOfYear: Int

        init(_ date: Date) {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(secondsFromGMT: 0)!
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
            (year, month, day, hour, minute, second) = (c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
            weekday = c.weekday! - 1
            dayOfYear = calendar.ordinality(of: .day, in: .year, for: date)!
        }

        /// Refuses a format with a directive `format` would refuse, whatever the date.
        static func check(_ format: String) throws(Error) {
            _ = try Strftime(Date(timeIntervalSince1970: 0)).format(format)
        }

        func format(_ format: String) throws(Error) -> String {
            var out = "", scalars = format.unicodeScalars.makeIterator()
            while let u = scalars.next() {
                guard u == "%" else { out.unicodeScalars.append(u); continue }
                var d = scalars.next()
                // glibc's `-` flag: numbers without padding (`%-d` is 3, not 03).
                let padded = d != "-"
                if !padded { d = scalars.next() }
                guard let d else { throw Error(.unsupported, "strftime_now: the format \(format.debugDescription) ends with a lone '%'") }
                guard let text = directive(d, padded: padded) else {
                    throw Error(.unsupported, "strftime_now: the directive '%\(padded ? "" : "-")\(d)' is not supported")
                }
                out += text
            }
            return out
        }

        private static let days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
        private static let months = ["January", "February", "March", "April", "May", "June", "July", "August",
                                     "September", "October", "November", "December"]

        private func directive(_ d: Unicode.Scalar, padded: Bool) -> String? {
            func number(_ n: Int, _ width: Int, _ pad: Character = "0") -> String {
                let digits = String(n)
                return padded ? String(repeating: pad, count: max(0, width - digits.count)) + digits : digits
            }
            let hour12 = hour % 12 == 0 ? 12 : hour % 12
            switch d {
            case "a": return String(Self.days[weekday].prefix(3))
            case "A": return Self.days[weekday]
            case "b", "h": return String(Self.months[month - 1].prefix(3))
            case "B": return Self.months[month - 1]
            case "d": return number(day, 2)
            case "e": return number(day, 2, " ")
            case "H": return number(hour, 2)
            case "I": return number(hour12, 2)
            case "j": return number(dayOfYear, 3)
            case "m": return number(month, 2)
            case "M": return number(minute, 2)
            case "S": return number(second, 2)
            case "y": return number(year % 100, 2)
            case "Y": return String(year)
            case "p": return hour < 12 ? "AM" : "PM"
            case "u": return String(weekday == 0 ? 7 : weekday)
            case "w": return String(weekday)
            // Weeks that begin on Sunday (%U) or Monday (%W); days before the first are week 0.
            case "U": return number((dayOfYear + 6 - weekday) / 7, 2)
            case "W": return number((dayOfYear + 6 - (weekday + 6) % 7) / 7, 2)
            case "c": return "\(directive("a", padded: true)!) \(directive("b", padded: true)!) \(number(day, 2, " ")) "
                + "\(directive("T", padded: true)!) \(year)"
            case "D", "x": return "\(number(month, 2))/\(number(day, 2))/\(number(year % 100, 2))"
            case "F": return "\(year)-\(number(month, 2))-\(number(day, 2))"
            case "R": return "\(number(hour, 2)):\(number(minute, 2))"
            case "T", "X": return "\(number(hour, 2)):\(number(minute, 2)):\(number(second, 2))"
            // transformers' datetime.now() has no time zone: Python writes nothing.
            case "Z", "z": return ""
            case "n": return "\n"
            case "t": return "\t"
            case "%": return "%"
            default: return nil
            }
        }
    }
}

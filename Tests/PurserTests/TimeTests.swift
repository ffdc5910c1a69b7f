import Foundation
import Testing
import Purser
import PurserTestSupport

@Suite("Time")
struct TimeTests {
    @Test(arguments: [
        ("2026-11-22T10:00:00Z", Int64(1_795_341_600)),
        ("2026-11-22T11:00:00+01:00", 1_795_341_600),
        ("2026-11-22t10:00:00z", 1_795_341_600),
        ("2026-11-22 10:00:00Z", 1_795_341_600),
        ("1970-01-01T00:00:00Z", 0),
        ("2024-02-29T23:59:59-00:30", 1_709_252_999),
    ])
    func parsesRFC3339(text: String, seconds: Int64) {
        #expect(Timestamp(rfc3339: text)?.seconds == seconds)
    }

    @Test func keepsFractions() {
        #expect(Timestamp(rfc3339: "2026-11-22T10:00:00.123Z")?.nanoseconds == 1_795_341_600_123_000_000)
        #expect(Timestamp(rfc3339: "2026-11-22T10:00:00.123456789123Z")?.nanoseconds == 1_795_341_600_123_456_789)
        #expect(Timestamp(nanoseconds: 1_795_341_600_120_000_000).description == "2026-11-22T10:00:00.12Z")
    }

    @Test(arguments: [
        "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-22T24:00:00Z", "2026-11-22T10:00:00",
        "2026-11-22", "22/11/2026", "", "2026-11-22T10:00:00+25:00", "1969-12-31T23:59:59Z", "2026-11-22T10:00:00.Z",
        "2026-11-22T10:00:00Zjunk",
    ])
    func rejectsInvalidTimestamps(text: String) {
        #expect(Timestamp(rfc3339: text) == nil)
    }

    /// Every byte of the date and time read in place: a wrong digit or separator anywhere is rejected.
    @Test(arguments: 0..<19)
    func rejectsAWrongByteAtEveryPosition(position: Int) {
        let valid = Array("2026-11-22T10:00:00Z".utf8)
        for replacement in [UInt8(ascii: "x"), UInt8(ascii: "/"), UInt8(ascii: ":") + 1, UInt8(ascii: "0") - 1] {
            var bytes = valid
            bytes[position] = replacement
            #expect(Timestamp(rfc3339: String(decoding: bytes, as: UTF8.self)) == nil, "\(String(decoding: bytes, as: UTF8.self))")
        }
        // A digit where a separator belongs.
        if [4, 7, 10, 13, 16].contains(position) {
            var bytes = valid
            bytes[position] = UInt8(ascii: "1")
            #expect(Timestamp(rfc3339: String(decoding: bytes, as: UTF8.self)) == nil)
        }
    }

    @Test func civilDatesRoundTrip() {
        for days in stride(from: -1000, through: 200_000, by: 37) {
            let date = CivilDate(days: days)
            #expect(date.days == days)
        }
    }

    @Test func berlinOffsetsFollowDST() throws {
        let berlin = try #require(ZoneRules(identifier: "Europe/Berlin"))
        // 2026-03-29 01:00 UTC: clocks go from +1 to +2.
        #expect(berlin.offset(atUTC: 1_774_745_999) == 3600)
        #expect(berlin.offset(atUTC: 1_774_746_000) == 7200)
        // Local midnight 2026-11-23 (+1) is 2026-11-22T23:00Z.
        let local = Int64(CivilDate(year: 2026, month: 11, day: 23).days) * 86_400
        #expect(berlin.utc(fromLocal: local) == 1_795_388_400)
        // 02:30 on 2026-03-29 does not exist in Berlin: it maps to the end of the gap.
        let gap = Int64(CivilDate(year: 2026, month: 3, day: 29).days) * 86_400 + 9000
        #expect(berlin.utc(fromLocal: gap) == 1_774_746_000)
    }

    @Test(arguments: [("10m", Int64(600)), ("30s", 30), ("1h30m", 5400), ("2d", 172_800)])
    func parsesDurations(text: String, seconds: Int64) {
        #expect(DurationText.seconds(text) == seconds)
    }

    @Test(arguments: ["", "10", "m", "10x", "-5m", "0s"])
    func rejectsDurations(text: String) {
        #expect(DurationText.seconds(text) == nil)
    }

    /// A timestamp parsed after others (its date and hour taken from the last one's when they
    /// match) reads as it reads alone, valid or not: generated texts a few minutes apart, in
    /// every accepted form, some with a byte changed.
    @Test func aTimestampReadAfterOthersReadsAsItReadsAlone() {
        var generator = SeededRandom(seed: 3)
        var hours = HourPrefix()
        var instant: Int64 = 1_774_700_000  // 2026-03-28, before Berlin's and after New York's DST change
        var valid = 0
        for _ in 0..<20_000 {
            instant += Int64(generator.next() % 900) - (generator.next() % 50 == 0 ? 7200 : 0)
            let offset = [0, 3600, -18_000, 19_800, -1800][Int(generator.next() % 5)]
            let local = instant + Int64(offset)
            let date = CivilDate(days: Int(local / 86_400))
            let second = Int(local % 86_400)
            var text = String(format: "%04d-%02d-%02d", date.year, date.month, date.day)
            text += ["T", "t", " "][Int(generator.next() % 3)]
            text += String(format: "%02d:%02d:%02d", second / 3600, second / 60 % 60, second % 60)
            if generator.next() % 2 == 0 { text += "." + String(generator.next() % 1_000_000_000_000) }
            if offset == 0, generator.next() % 2 == 0 {
                text += generator.next() % 2 == 0 ? "Z" : "z"
            } else {
                text += String(format: "%@%02d:%02d", offset < 0 ? "-" : "+", abs(offset) / 3600, abs(offset) / 60 % 60)
            }
            var bytes = Array(text.utf8)
            if generator.next() % 10 == 0 {
                bytes[Int(generator.next() % UInt64(bytes.count))] = [UInt8(ascii: "9"), UInt8(ascii: "x"), UInt8(ascii: ":")][Int(generator.next() % 3)]
            }
            bytes.withUnsafeBufferPointer { buffer in
                let afterOthers = Timestamp.parse(buffer, hours: &hours)
                let alone = Timestamp.parse(buffer)
                #expect(afterOthers == alone, "\(String(decoding: buffer, as: UTF8.self))")
                if let alone {
                    valid += 1
                    #expect(alone.seconds == Timestamp(rfc3339: String(decoding: buffer, as: UTF8.self))?.seconds)
                }
            }
            // The unchanged text is the instant it was made from.
            if let parsed = Timestamp(rfc3339: text) { #expect(parsed.seconds == instant, "\(text)") }
        }
        #expect(valid > 15_000)
    }

    /// The clock read through the span of the day before is the clock worked out from the instant
    /// alone, in zones with DST, half-hour offsets and a half-hour DST change, forwards and
    /// sometimes back in time.
    @Test(arguments: ["America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"])
    func aClockReadThroughItsDaySpanIsTheClockOfTheInstant(zone identifier: String) throws {
        let zone = try #require(ZoneRules(identifier: identifier))
        var generator = SeededRandom(seed: 9)
        var span = Evaluator.LocalClock.Span()
        // 2026-03-01 to past 2026-11-02: both DST changes of either hemisphere.
        var seconds: Int64 = 1_772_323_200
        while seconds < 1_794_000_000 {
            seconds += Int64(generator.next() % 5400) - (generator.next() % 40 == 0 ? 86_400 : 0)
            let timestamp = Timestamp(seconds: seconds)
            let spanned = Evaluator.LocalClock(timestamp, zone: zone, span: &span)
            // The clock worked out from the instant alone.
            let local = seconds + zone.offset(atUTC: seconds)
            let day = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
            let date = CivilDate(days: Int(day))
            let expected = (local: local, day: day, hour: (local - day * 86_400) / 3600, weekday: ((day + 3) % 7 + 7) % 7,
                            month: Int64(date.year * 12 + date.month - 1))
            #expect(spanned.local == expected.local && spanned.day == expected.day && spanned.hour == expected.hour
                        && spanned.weekday == expected.weekday && spanned.month == expected.month, "\(identifier) \(timestamp)")
            let alone = Evaluator.LocalClock(timestamp, zone: zone)
            #expect(alone.local == expected.local && alone.day == expected.day && alone.month == expected.month)
        }
    }
}

//! Times for Kyverno's `time_*` JMESPath functions, as Go's `time` package has them: an
//! instant with the offset it was written in (`time_add('…-07:00', '3h')` stays in `-07:00`),
//! read with Go layouts (`time.Parse`) and written as Go's `Format(time.RFC3339)` writes them
//! (whole seconds, `Z` for a zero offset).

use rampart_core::civil::{civil_from_days, days_from_civil};
use std::time::{SystemTime, UNIX_EPOCH};

/// An instant (seconds and nanoseconds since the Unix epoch) and the offset east of UTC, in
/// seconds, it is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time {
    pub unix: i64,
    pub nanos: i64,
    pub offset: i32,
}

impl Time {
    /// Nanoseconds since the Unix epoch.
    pub fn total_nanos(&self) -> i128 {
        i128::from(self.unix) * 1_000_000_000 + i128::from(self.nanos)
    }

    fn from_nanos(total: i128, offset: i32) -> Time {
        Time {
            unix: total.div_euclid(1_000_000_000) as i64,
            nanos: total.rem_euclid(1_000_000_000) as i64,
            offset,
        }
    }

    /// `t.Add(d)`.
    pub fn add(&self, nanos: i64) -> Time {
        Time::from_nanos(self.total_nanos() + i128::from(nanos), self.offset)
    }

    /// `t2.Sub(t1)`, saturated as Go's is.
    pub fn sub(&self, earlier: &Time) -> i64 {
        let d = self.total_nanos() - earlier.total_nanos();
        d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// `t.UTC()`.
    pub fn utc(&self) -> Time {
        Time { offset: 0, ..*self }
    }

    /// `t.Truncate(d)`: down to a multiple of `d` since Go's zero time (January 1 of year 1,
    /// UTC), not since the Unix epoch; `d <= 0` leaves the time as it is.
    pub fn truncate(&self, d: i64) -> Time {
        if d <= 0 {
            return *self;
        }
        const ZERO_TO_UNIX: i128 = 62_135_596_800 * 1_000_000_000;
        let since_zero = self.total_nanos() + ZERO_TO_UNIX;
        let cut = since_zero - since_zero.rem_euclid(i128::from(d));
        Time::from_nanos(cut - ZERO_TO_UNIX, self.offset)
    }

    /// The wall clock in the time's own offset: (year, month, day, hour, minute, second,
    /// weekday with Sunday 0).
    pub fn civil(&self) -> (i64, i64, i64, i64, i64, i64, i64) {
        let local = self.unix + i64::from(self.offset);
        let days = local.div_euclid(86_400);
        let rem = local.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        // 1970-01-01 was a Thursday
        let weekday = (days + 4).rem_euclid(7);
        (y, m, d, rem / 3600, (rem % 3600) / 60, rem % 60, weekday)
    }

    /// `t.Format(time.RFC3339)`.
    pub fn rfc3339(&self) -> String {
        let (y, m, d, h, mi, s, _) = self.civil();
        let zone = if self.offset == 0 {
            "Z".to_string()
        } else {
            let sign = if self.offset < 0 { '-' } else { '+' };
            let o = self.offset.unsigned_abs();
            format!("{sign}{:02}:{:02}", o / 3600, (o % 3600) / 60)
        };
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}{zone}")
    }
}

/// Now, in UTC.
pub fn now() -> Time {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Time {
        unix: d.as_secs() as i64,
        nanos: i64::from(d.subsec_nanos()),
        offset: 0,
    }
}

/// `time.Parse(time.RFC3339, s)`.
pub fn parse_rfc3339(s: &str) -> Option<Time> {
    parse(RFC3339, s)
}

const RFC3339: &str = "2006-01-02T15:04:05Z07:00";

/// Kyverno's `time_to_cron`: `minute hour day month weekday` of an RFC 3339 time, in its own
/// offset (Sunday is 0), without leading zeros.
pub fn cron_of(s: &str) -> Option<String> {
    let (_, mo, d, h, mi, _, weekday) = parse_rfc3339(s)?.civil();
    Some(format!("{mi} {h} {d} {mo} {weekday}"))
}

/// One element of a Go layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    Pm,
    PmLower,
    Tz,
    Iso8601Tz,
    Iso8601SecondsTz,
    Iso8601ShortTz,
    Iso8601ColonTz,
    Iso8601ColonSecondsTz,
    NumTz,
    NumSecondsTz,
    NumShortTz,
    NumColonTz,
    NumColonSecondsTz,
    /// `.000` or `.999` (`,` too): a fraction of the given width; `true` for the 9s.
    Frac(usize, bool),
}

/// The next layout element: the literal text before it, the element, and what follows it
/// (Go's `nextStdChunk`).
fn next_chunk(layout: &str) -> (&str, Option<Chunk>, &str) {
    use Chunk::*;
    let b = layout.as_bytes();
    let starts = |i: usize, p: &str| layout.get(i..).is_some_and(|r| r.starts_with(p));
    for (i, &c) in b.iter().enumerate() {
        let found: Option<(Chunk, usize)> = match c {
            b'J' if starts(i, "January") => Some((LongMonth, 7)),
            b'J' if starts(i, "Jan") => Some((Month, 3)),
            b'M' if starts(i, "Monday") => Some((LongWeekDay, 6)),
            b'M' if starts(i, "Mon") => Some((WeekDay, 3)),
            b'M' if starts(i, "MST") => Some((Tz, 3)),
            b'0' => match b.get(i + 1) {
                Some(b'1') => Some((ZeroMonth, 2)),
                Some(b'2') => Some((ZeroDay, 2)),
                Some(b'3') => Some((ZeroHour12, 2)),
                Some(b'4') => Some((ZeroMinute, 2)),
                Some(b'5') => Some((ZeroSecond, 2)),
                Some(b'6') => Some((Year, 2)),
                Some(b'0') if b.get(i + 2) == Some(&b'2') => Some((ZeroYearDay, 3)),
                _ => None,
            },
            b'1' if b.get(i + 1) == Some(&b'5') => Some((Hour, 2)),
            b'1' => Some((NumMonth, 1)),
            b'2' if starts(i, "2006") => Some((LongYear, 4)),
            b'2' => Some((Day, 1)),
            b'_' if starts(i, "_2006") => {
                // `_` then a year: the underscore is literal
                return (&layout[..=i], Some(LongYear), &layout[i + 5..]);
            }
            b'_' if starts(i, "__2") => Some((UnderYearDay, 3)),
            b'_' if starts(i, "_2") => Some((UnderDay, 2)),
            b'3' => Some((Hour12, 1)),
            b'4' => Some((Minute, 1)),
            b'5' => Some((Second, 1)),
            b'P' if b.get(i + 1) == Some(&b'M') => Some((Pm, 2)),
            b'p' if b.get(i + 1) == Some(&b'm') => Some((PmLower, 2)),
            b'-' if starts(i, "-070000") => Some((NumSecondsTz, 7)),
            b'-' if starts(i, "-07:00:00") => Some((NumColonSecondsTz, 9)),
            b'-' if starts(i, "-0700") => Some((NumTz, 5)),
            b'-' if starts(i, "-07:00") => Some((NumColonTz, 6)),
            b'-' if starts(i, "-07") => Some((NumShortTz, 3)),
            b'Z' if starts(i, "Z070000") => Some((Iso8601SecondsTz, 7)),
            b'Z' if starts(i, "Z07:00:00") => Some((Iso8601ColonSecondsTz, 9)),
            b'Z' if starts(i, "Z0700") => Some((Iso8601Tz, 5)),
            b'Z' if starts(i, "Z07:00") => Some((Iso8601ColonTz, 6)),
            b'Z' if starts(i, "Z07") => Some((Iso8601ShortTz, 3)),
            b'.' | b',' => {
                // `.000` / `.999` after a digit run of the same character, not followed by
                // another digit
                match b.get(i + 1) {
                    Some(&c @ (b'0' | b'9')) => {
                        let mut j = i + 1;
                        while b.get(j) == Some(&c) {
                            j += 1;
                        }
                        if b.get(j).is_some_and(u8::is_ascii_digit) {
                            None
                        } else {
                            Some((Frac(j - i - 1, c == b'9'), j - i))
                        }
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        if let Some((chunk, len)) = found {
            return (&layout[..i], Some(chunk), &layout[i + len..]);
        }
    }
    (layout, None, "")
}

const LONG_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const LONG_DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Which of `names` (or their first three letters, when `short`) `value` starts with,
/// ignoring case as Go's `lookup` does.
fn lookup(names: &[&str], short: bool, value: &str) -> Option<(usize, usize)> {
    names.iter().enumerate().find_map(|(i, n)| {
        let n = if short { n.get(..3)? } else { n };
        let v = value.get(..n.len())?;
        v.eq_ignore_ascii_case(n).then_some((i, n.len()))
    })
}

/// Leading digits of `value`: exactly `fixed` of them, or one or two (`fixed == 0`).
fn getnum(value: &str, fixed: usize) -> Option<(i64, &str)> {
    let b = value.as_bytes();
    if !b.first()?.is_ascii_digit() {
        return None;
    }
    let n = if fixed > 0 {
        if !b.get(..fixed)?.iter().all(u8::is_ascii_digit) {
            return None;
        }
        fixed
    } else if b.get(1).is_some_and(u8::is_ascii_digit) {
        2
    } else {
        1
    };
    Some((value[..n].parse().ok()?, &value[n..]))
}

/// [`getnum`] of a value that must lie in `range`.
fn getnum_in(
    value: &str,
    fixed: usize,
    range: std::ops::RangeInclusive<i64>,
) -> Option<(i64, &str)> {
    getnum(value, fixed).filter(|(n, _)| range.contains(n))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `time.Parse(layout, value)`: the layout's elements read from the value, literal text
/// matched as it is; a fraction of a second is accepted after the seconds even where the
/// layout has none. A zone abbreviation other than `UTC` reads as a zero offset, as Go does
/// for an abbreviation its location does not know.
pub fn parse(layout: &str, value: &str) -> Option<Time> {
    use Chunk::*;
    let (mut year, mut month, mut day, mut yday) = (1i64, -1i64, -1i64, -1i64);
    let (mut hour, mut min, mut sec, mut nanos) = (0i64, 0i64, 0i64, 0i64);
    let (mut pm, mut am) = (false, false);
    let mut offset: Option<i64> = None;
    let mut layout = layout;
    let mut value = value;
    loop {
        let (prefix, chunk, rest) = next_chunk(layout);
        value = value.strip_prefix(prefix)?;
        let Some(chunk) = chunk else {
            if !value.is_empty() {
                return None;
            }
            break;
        };
        layout = rest;
        match chunk {
            Year => {
                let (y, r) = getnum(value, 2)?;
                year = if y >= 69 { 1900 + y } else { 2000 + y };
                value = r;
            }
            LongYear => {
                let digits = value.get(..4)?;
                if !digits.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                year = digits.parse().ok()?;
                value = &value[4..];
            }
            Month | LongMonth => {
                let (i, n) = lookup(&LONG_MONTHS, chunk == Month, value)?;
                month = i as i64 + 1;
                value = &value[n..];
            }
            NumMonth | ZeroMonth => {
                let (m, r) = getnum(value, if chunk == ZeroMonth { 2 } else { 0 })?;
                if !(1..=12).contains(&m) {
                    return None;
                }
                month = m;
                value = r;
            }
            WeekDay | LongWeekDay => {
                let (_, n) = lookup(&LONG_DAYS, chunk == WeekDay, value)?;
                value = &value[n..];
            }
            Day | UnderDay | ZeroDay => {
                if chunk == UnderDay && value.starts_with(' ') {
                    value = &value[1..];
                }
                let (d, r) = getnum(value, if chunk == ZeroDay { 2 } else { 0 })?;
                day = d;
                value = r;
            }
            UnderYearDay | ZeroYearDay => {
                let mut v = value;
                if chunk == UnderYearDay {
                    v = v.trim_start_matches(' ');
                }
                let n = v.bytes().take(3).take_while(u8::is_ascii_digit).count();
                if n == 0 || (chunk == ZeroYearDay && n < 3) {
                    return None;
                }
                yday = v[..n].parse().ok()?;
                value = &v[n..];
            }
            Hour => (hour, value) = getnum_in(value, 0, 0..=23)?,
            Hour12 | ZeroHour12 => {
                (hour, value) = getnum_in(value, if chunk == ZeroHour12 { 2 } else { 0 }, 0..=12)?;
            }
            Minute | ZeroMinute => {
                (min, value) = getnum_in(value, if chunk == ZeroMinute { 2 } else { 0 }, 0..=59)?;
            }
            Second | ZeroSecond => {
                (sec, value) = getnum_in(value, if chunk == ZeroSecond { 2 } else { 0 }, 0..=59)?;
                // a fraction the layout does not name, unless the layout's next element is
                // one
                if value.starts_with(['.', ','])
                    && !matches!(next_chunk(layout), (_, Some(Frac(..)), _))
                    && value[1..].starts_with(|c: char| c.is_ascii_digit())
                {
                    let digits: usize = value[1..].bytes().take_while(u8::is_ascii_digit).count();
                    nanos = frac_nanos(&value[1..=digits])?;
                    value = &value[1 + digits..];
                }
            }
            Pm | PmLower => {
                let (p_text, a_text) = if chunk == Pm {
                    ("PM", "AM")
                } else {
                    ("pm", "am")
                };
                let p = value.get(..2)?;
                if p == p_text {
                    pm = true;
                } else if p == a_text {
                    am = true;
                } else {
                    return None;
                }
                value = &value[2..];
            }
            Tz => {
                // `UTC`, or an abbreviation of three to five capitals (`MST`, `CEST`), or
                // a `GMT+3` form
                let n = value.bytes().take_while(u8::is_ascii_uppercase).count();
                if n < 3 {
                    return None;
                }
                let abbr = &value[..n];
                value = &value[n..];
                if abbr == "GMT" {
                    // GMT[+-]hh
                    let b = value.as_bytes();
                    if let Some(&first @ (b'+' | b'-')) = b.first() {
                        let sign = if first == b'-' { -1 } else { 1 };
                        let digits = value[1..].bytes().take_while(u8::is_ascii_digit).count();
                        let h: i64 = value.get(1..1 + digits)?.parse().ok()?;
                        offset = Some(sign * h * 3600);
                        value = &value[1 + digits..];
                    } else {
                        offset = Some(0);
                    }
                } else {
                    offset = Some(0);
                }
            }
            Iso8601Tz
            | Iso8601SecondsTz
            | Iso8601ShortTz
            | Iso8601ColonTz
            | Iso8601ColonSecondsTz
                if value.starts_with('Z') =>
            {
                offset = Some(0);
                value = &value[1..];
            }
            Iso8601Tz
            | Iso8601SecondsTz
            | Iso8601ShortTz
            | Iso8601ColonTz
            | Iso8601ColonSecondsTz
            | NumTz
            | NumSecondsTz
            | NumShortTz
            | NumColonTz
            | NumColonSecondsTz => {
                let colon = matches!(
                    chunk,
                    Iso8601ColonTz | Iso8601ColonSecondsTz | NumColonTz | NumColonSecondsTz
                );
                let seconds = matches!(
                    chunk,
                    Iso8601SecondsTz | Iso8601ColonSecondsTz | NumSecondsTz | NumColonSecondsTz
                );
                let short = matches!(chunk, Iso8601ShortTz | NumShortTz);
                let b = value.as_bytes();
                let sign = match b.first() {
                    Some(b'+') => 1,
                    Some(b'-') => -1,
                    _ => return None,
                };
                let mut v = &value[1..];
                let take2 = |v: &str| -> Option<i64> {
                    let d = v.get(..2)?;
                    d.bytes()
                        .all(|c| c.is_ascii_digit())
                        .then(|| d.parse().ok())?
                };
                let h = take2(v)?;
                v = &v[2..];
                let mut m = 0;
                let mut s = 0;
                if !short {
                    if colon {
                        v = v.strip_prefix(':')?;
                    }
                    m = take2(v)?;
                    v = &v[2..];
                    if seconds {
                        if colon {
                            v = v.strip_prefix(':')?;
                        }
                        s = take2(v)?;
                        v = &v[2..];
                    }
                }
                offset = Some(sign * (h * 3600 + m * 60 + s));
                value = v;
            }
            Frac(width, nines) => {
                let sep = value.chars().next()?;
                if sep != '.' && sep != ',' {
                    if nines {
                        // an optional fraction that is absent
                        continue;
                    }
                    return None;
                }
                let digits = if nines {
                    value[1..].bytes().take_while(u8::is_ascii_digit).count()
                } else {
                    width
                };
                let d = value.get(1..1 + digits)?;
                if !d.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                nanos = frac_nanos(d)?;
                value = &value[1 + digits..];
            }
        }
    }
    if pm && hour < 12 {
        hour += 12;
    } else if am && hour == 12 {
        hour = 0;
    }
    if yday >= 0 {
        // a day of the year, checked against a month and day given too
        let leap = days_in_month(year, 2) == 29;
        if yday < 1 || yday > if leap { 366 } else { 365 } {
            return None;
        }
        let (mut m, mut d) = (1, yday);
        while d > days_in_month(year, m) {
            d -= days_in_month(year, m);
            m += 1;
        }
        if (month >= 0 && month != m) || (day >= 0 && day != d) {
            return None;
        }
        month = m;
        day = d;
    }
    if month < 0 {
        month = 1;
    }
    if day < 0 {
        day = 1;
    }
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let offset = offset.unwrap_or(0);
    let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec;
    Some(Time {
        unix: local - offset,
        nanos,
        offset: i32::try_from(offset).ok()?,
    })
}

/// The nanoseconds of a fraction's digits (more than nine are cut).
fn frac_nanos(digits: &str) -> Option<i64> {
    let mut n: i64 = 0;
    for c in digits.bytes().take(9) {
        n = n * 10 + i64::from(c - b'0');
    }
    let shown = digits.len().min(9) as u32;
    Some(n * 10i64.pow(9 - shown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_keeps_the_offset_and_whole_seconds() {
        let t = parse_rfc3339("2024-02-29T12:30:45Z").unwrap();
        assert_eq!(t.rfc3339(), "2024-02-29T12:30:45Z");
        let t = parse_rfc3339("1970-01-01T01:00:00+01:00").unwrap();
        assert_eq!((t.unix, t.offset), (0, 3600));
        assert_eq!(t.rfc3339(), "1970-01-01T01:00:00+01:00");
        assert_eq!(t.utc().rfc3339(), "1970-01-01T00:00:00Z");
        let t = parse_rfc3339("2021-01-02T15:04:05.75-07:00").unwrap();
        assert_eq!(t.nanos, 750_000_000);
        assert_eq!(
            t.add(3 * 3_600_000_000_000).rfc3339(),
            "2021-01-02T18:04:05-07:00"
        );
        assert!(parse_rfc3339("yesterday").is_none());
        assert!(parse_rfc3339("2021-02-30T00:00:00Z").is_none());
    }

    #[test]
    fn go_layouts() {
        let p = |l: &str, v: &str| parse(l, v).map(|t| t.rfc3339());
        assert_eq!(
            p(
                "Mon Jan 02 15:04:05 -0700 2006",
                "Sat Jan 02 15:04:05 -0700 2021"
            )
            .as_deref(),
            Some("2021-01-02T15:04:05-07:00")
        );
        assert_eq!(
            p(
                "Mon Jan _2 15:04:05 MST 2006",
                "Mon Jan 10 03:14:16 MST 2021"
            )
            .as_deref(),
            Some("2021-01-10T03:14:16Z")
        );
        assert_eq!(
            p("2006-01-02", "2023-07-04").as_deref(),
            Some("2023-07-04T00:00:00Z")
        );
        assert_eq!(
            p("02 Jan 06 15:04 PM", "05 Mar 24 03:30 PM").as_deref(),
            Some("2024-03-05T15:30:00Z")
        );
        assert_eq!(
            p("2006-01-02 15:04:05.000", "2023-07-04 10:11:12.345").map(|_| parse(
                "2006-01-02 15:04:05.000",
                "2023-07-04 10:11:12.345"
            )
            .unwrap()
            .nanos),
            Some(345_000_000)
        );
        assert!(p("2006-01-02", "2023-13-04").is_none());
        assert!(p("2006-01-02", "2023-07-04 extra").is_none());
    }

    #[test]
    fn truncation_counts_from_the_year_one() {
        let t = parse_rfc3339("2021-01-07T10:11:12Z").unwrap();
        assert_eq!(
            t.truncate(3_600_000_000_000).rfc3339(),
            "2021-01-07T10:00:00Z"
        );
        // weeks start on Mondays counted from January 1 of year 1
        assert_eq!(
            t.truncate(7 * 86_400_000_000_000).rfc3339(),
            "2021-01-04T00:00:00Z"
        );
    }
}

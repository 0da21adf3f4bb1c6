//! RFC 3339 times for Kyverno's `time_*` JMESPath functions, without a date library: seconds
//! since the Unix epoch (with fractions) and back.

use rampart_core::civil::{civil_from_days, days_from_civil};
use std::time::{SystemTime, UNIX_EPOCH};

/// Parses an RFC 3339 time (`2024-01-02T03:04:05Z`, fractions and offsets allowed).
pub fn parse_rfc3339(s: &str) -> Option<f64> {
    let s = s.trim();
    let num = |a: usize, b: usize| s.get(a..b).and_then(|x| x.parse::<i64>().ok());
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    if s.get(4..5)? != "-" || s.get(7..8)? != "-" || !matches!(s.get(10..11)?, "T" | "t" | " ") {
        return None;
    }
    let (h, mi, se) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let mut rest = s.get(19..)?;
    let mut frac = 0.0;
    if let Some(r) = rest.strip_prefix('.') {
        let digits: String = r.chars().take_while(char::is_ascii_digit).collect();
        frac = format!("0.{digits}").parse().ok()?;
        rest = r.get(digits.len()..)?;
    }
    let offset = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let oh: i64 = o.get(1..3)?.parse().ok()?;
            let om: i64 = o.get(4..6)?.parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    Some((days * 86_400 + h * 3600 + mi * 60 + se - offset) as f64 + frac)
}

/// Kyverno's `time_to_cron`: `minute hour day month weekday` of an RFC 3339 time, in its own
/// offset (Sunday is 0), without leading zeros.
pub fn cron_of(s: &str) -> Option<String> {
    parse_rfc3339(s)?;
    let s = s.trim();
    let num = |a: usize, b: usize| s.get(a..b).and_then(|x| x.parse::<i64>().ok());
    let (y, mo, d, h, mi) = (
        num(0, 4)?,
        num(5, 7)?,
        num(8, 10)?,
        num(11, 13)?,
        num(14, 16)?,
    );
    // 1970-01-01 was a Thursday
    let weekday = (days_from_civil(y, mo, d) + 4).rem_euclid(7);
    Some(format!("{mi} {h} {d} {mo} {weekday}"))
}

/// Formats seconds since the epoch as RFC 3339 in UTC.
pub fn format_rfc3339(t: f64) -> String {
    let secs = t.floor() as i64;
    let frac = t - t.floor();
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let base = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    );
    if frac > 0.0 {
        let f = format!("{frac:.9}");
        let f = f.trim_start_matches('0').trim_end_matches('0');
        format!("{base}{f}Z")
    } else {
        format!("{base}Z")
    }
}

/// Now, in seconds since the epoch.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let t = parse_rfc3339("2024-02-29T12:30:45Z").unwrap();
        assert_eq!(format_rfc3339(t), "2024-02-29T12:30:45Z");
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Some(0.0));
        assert_eq!(format_rfc3339(1.5), "1970-01-01T00:00:01.5Z");
        assert!(parse_rfc3339("yesterday").is_none());
    }
}

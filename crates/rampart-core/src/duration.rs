//! Go's `time.Duration`: `time.ParseDuration` and `Duration.String()`, exact in nanoseconds.
//! Kubernetes components' flags and Kyverno's policies both write durations this way.

const NANOS: [(&str, i128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Reads a Go duration (`time.ParseDuration`: `1h30m`, `1.5s`, `-5m`, `0`) to nanoseconds,
/// exactly (fractions are cut at nanoseconds, as Go cuts them); `None` beyond an `i64`.
pub fn parse(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..)?),
        Some(b'+') => (false, s.get(1..)?),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let int_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let int = rest.get(..int_end)?;
        rest = rest.get(int_end..)?;
        let mut frac = "";
        if let Some(r) = rest.strip_prefix('.') {
            let f_end = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
            frac = r.get(..f_end)?;
            rest = r.get(f_end..)?;
        }
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let u_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = rest.get(..u_end)?;
        rest = rest.get(u_end..)?;
        let scale = NANOS.iter().find(|(u, _)| *u == unit)?.1;
        let whole: i128 = if int.is_empty() { 0 } else { int.parse().ok()? };
        let mut v = whole.checked_mul(scale)?;
        // the fraction, exactly, truncated at nanoseconds as Go does
        let mut f_scale = scale;
        for d in frac.bytes() {
            if f_scale < 10 {
                break;
            }
            f_scale /= 10;
            v += i128::from(d - b'0') * f_scale;
        }
        total = total.checked_add(v)?;
        if total > i128::from(i64::MAX) + i128::from(neg) {
            return None;
        }
    }
    let total = if neg { -total } else { total };
    i64::try_from(total).ok()
}

/// Go's `time.Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`.
pub fn format(nanos: i64) -> String {
    let neg = nanos < 0;
    let mut u = nanos.unsigned_abs();
    let frac = |u: u64, prec: u32| -> (String, u64) {
        let p = 10u64.pow(prec);
        let (whole, mut f) = (u / p, u % p);
        if f == 0 {
            return (String::new(), whole);
        }
        let mut digits = prec;
        while f % 10 == 0 {
            f /= 10;
            digits -= 1;
        }
        (format!(".{f:0width$}", width = digits as usize), whole)
    };
    let body = if u < 1_000_000_000 {
        let (unit, prec) = match u {
            0 => return "0s".into(),
            1..=999 => ("ns", 0),
            1_000..=999_999 => ("µs", 3),
            _ => ("ms", 6),
        };
        let (f, whole) = frac(u, prec);
        format!("{whole}{f}{unit}")
    } else {
        let (f, secs) = frac(u, 9);
        u = secs;
        let mut out = format!("{}{f}s", u % 60);
        u /= 60;
        if u > 0 {
            out = format!("{}m{out}", u % 60);
            u /= 60;
            if u > 0 {
                out = format!("{u}h{out}");
            }
        }
        out
    };
    if neg { format!("-{body}") } else { body }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_print_as_go() {
        for (input, nanos, text) in [
            ("1h30m", 5_400_000_000_000i64, "1h30m0s"),
            ("1.5s", 1_500_000_000, "1.5s"),
            ("1500ms", 1_500_000_000, "1.5s"),
            ("2m24s", 144_000_000_000, "2m24s"),
            ("0", 0, "0s"),
            ("-5s", -5_000_000_000, "-5s"),
            ("1.5ms", 1_500_000, "1.5ms"),
            ("3µs", 3_000, "3µs"),
            ("7ns", 7, "7ns"),
        ] {
            assert_eq!(parse(input), Some(nanos), "{input}");
            assert_eq!(format(nanos), text, "{input}");
        }
        for bad in ["", "10", "1d", "s", ".s", "1.5"] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}

//! Kubernetes quantities and Go durations, as Kyverno compares them.

/// Parses a Kubernetes quantity (`100m`, `1Gi`, `2e3`, `0.5`) to a number; blanks around it
/// are ignored, as Kyverno ignores them.
pub fn parse_quantity(s: &str) -> Option<f64> {
    rampart_core::parse_quantity(s.trim())
}

/// Parses a Go duration (`1h30m`, `-5s`, `0`) to seconds.
pub fn parse_duration(s: &str) -> Option<f64> {
    crate::arith::parse_duration(s).map(|ns| ns as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_and_durations() {
        assert_eq!(parse_quantity("100m"), Some(0.1));
        assert_eq!(parse_quantity("1Gi"), Some(1073741824.0));
        assert_eq!(parse_quantity("2e3"), Some(2000.0));
        assert_eq!(parse_quantity("abc"), None);
        assert_eq!(parse_quantity("1-2"), None);
        assert_eq!(parse_duration("1h30m"), Some(5400.0));
        assert_eq!(parse_duration("0"), Some(0.0));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("1.5s"), Some(1.5));
    }
}

//! Redaction of secret values before they reach any output.

/// What a redacted value is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Shows at most the first 4 characters of a secret-like value's shape, never the value itself:
/// `AKIA…` style prefixes are part of the pattern, not the secret, so only those survive.
pub fn redact_value(value: &str) -> String {
    let keep: String = value
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .take(4)
        .collect();
    if keep.len() == 4 && value.chars().count() > 12 {
        format!("{keep}…{REDACTED}")
    } else {
        REDACTED.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shows_the_value() {
        let v = "AKIAIOSFODNN7EXAMPLE";
        let r = redact_value(v);
        assert!(!r.contains("IOSFODNN7"));
        assert_eq!(redact_value("hunter2"), REDACTED);
    }
}

//! Kyverno's JMESPath arithmetic (`add`, `sum`, `subtract`, `multiply`, `divide`, `modulo`):
//! each operand is a number (a scalar), a string Kubernetes reads as a quantity (`12Ki`,
//! `100m`, `13`), or else as a Go duration (`1h30m`); the operation is defined for some pairs
//! of kinds and is a "Types mismatch" for the others. Quantities follow Kubernetes'
//! `resource.Quantity` exactly (exact decimals, the format of the left operand, canonical
//! text such as `25Ki`, `1500m`), durations Go's `time.Duration` (nanoseconds, `2m24s`).

/// A quantity's text format, from its suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `k`, `M`, `m`, `n`, or no suffix.
    DecimalSi,
    /// `Ki`, `Mi`, … `Ei`.
    BinarySi,
    /// `e3`, `E-2`.
    DecimalExponent,
}

/// A Kubernetes quantity: `mantissa × 10^exp`, as it was read or computed (the exponent is
/// the representation's: it decides how far `divide` rounds), and its format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    pub mantissa: i128,
    pub exp: i32,
    pub format: Format,
}

/// The largest magnitude kept exactly; beyond it a quantity is not read (Kubernetes caps
/// binary quantities at 2^63 - 1 and keeps larger decimals as big numbers: far beyond any
/// resource a policy compares).
const LIMIT: i128 = 10i128.pow(36);

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

impl Quantity {
    /// Reads a quantity as `resource.ParseQuantity` does: a signed decimal number, then an
    /// optional suffix; values finer than a nano are rounded up (away from zero) to a nano.
    pub fn parse(s: &str) -> Option<Quantity> {
        let b = s.as_bytes();
        let mut i = 0;
        let negative = match b.first() {
            Some(b'-') => {
                i = 1;
                true
            }
            Some(b'+') => {
                i = 1;
                false
            }
            _ => false,
        };
        let int_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let num = s.get(int_start..i)?;
        let mut denom = "";
        if b.get(i) == Some(&b'.') {
            i += 1;
            let d = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            denom = s.get(d..i)?;
        }
        if num.is_empty() && denom.is_empty() {
            return None;
        }
        let suffix = s.get(i..)?;
        let (format, binary, exponent): (Format, bool, i32) = match suffix {
            "" => (Format::DecimalSi, false, 0),
            "n" => (Format::DecimalSi, false, -9),
            "u" => (Format::DecimalSi, false, -6),
            "m" => (Format::DecimalSi, false, -3),
            "k" => (Format::DecimalSi, false, 3),
            "M" => (Format::DecimalSi, false, 6),
            "G" => (Format::DecimalSi, false, 9),
            "T" => (Format::DecimalSi, false, 12),
            "P" => (Format::DecimalSi, false, 15),
            "E" => (Format::DecimalSi, false, 18),
            "Ki" => (Format::BinarySi, true, 10),
            "Mi" => (Format::BinarySi, true, 20),
            "Gi" => (Format::BinarySi, true, 30),
            "Ti" => (Format::BinarySi, true, 40),
            "Pi" => (Format::BinarySi, true, 50),
            "Ei" => (Format::BinarySi, true, 60),
            other => {
                let e = other.strip_prefix(['e', 'E'])?;
                let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                (Format::DecimalExponent, false, e.parse().ok()?)
            }
        };
        // the digits, without leading zeros, as one integer
        let digits = format!("{num}{denom}");
        let trimmed = digits.trim_start_matches('0');
        if trimmed.len() > 36 {
            return None;
        }
        let mut mantissa: i128 = if trimmed.is_empty() {
            0
        } else {
            trimmed.parse().ok()?
        };
        let mut exp = -(denom.len() as i32);
        // Kubernetes' fast path keeps the number as written; the others are rounded to a
        // nano (scale 9)
        let fast = match format {
            Format::BinarySi => denom.is_empty() && num.len() + (exponent as usize * 3 / 10) < 15,
            _ => num.len() + denom.len() <= 18 && exp + exponent >= -9,
        };
        if binary {
            mantissa = mantissa.checked_mul(1i128 << exponent)?;
        } else {
            exp += exponent;
        }
        if negative {
            mantissa = -mantissa;
        }
        if mantissa.abs() > LIMIT {
            return None;
        }
        let q = Quantity {
            mantissa,
            exp,
            format,
        };
        if !fast && mantissa != 0 {
            return q.rescale_up(-9);
        }
        Some(q)
    }

    /// The same value at exponent `to`, rounded away from zero where digits are dropped.
    fn rescale_up(self, to: i32) -> Option<Quantity> {
        let mut q = self;
        if q.exp > to {
            q.mantissa = q.mantissa.checked_mul(pow10((q.exp - to) as u32)?)?;
        } else if q.exp < to {
            let d = pow10((to - q.exp) as u32)?;
            let (quo, rem) = (q.mantissa / d, q.mantissa % d);
            q.mantissa = quo + rem.signum();
        }
        q.exp = to;
        Some(q)
    }

    /// The same value at exponent `to`, rounded toward zero.
    fn rescale_down(self, to: i32) -> Option<Quantity> {
        let mut q = self;
        if q.exp > to {
            q.mantissa = q.mantissa.checked_mul(pow10((q.exp - to) as u32)?)?;
        } else if q.exp < to {
            q.mantissa /= pow10((to - q.exp) as u32)?;
        }
        q.exp = to;
        Some(q)
    }

    fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    pub fn as_f64(&self) -> f64 {
        self.mantissa as f64 * 10f64.powi(self.exp)
    }

    /// `Quantity.Add` (and `Sub` with `negate`): exact, at the finer exponent; the left
    /// operand's format, or the right one's when the left is zero.
    fn add(self, other: Quantity, negate: bool) -> Option<Quantity> {
        let exp = self.exp.min(other.exp);
        let a = self.rescale_down(exp)?;
        let b = other.rescale_down(exp)?;
        let rhs = if negate { -b.mantissa } else { b.mantissa };
        let mantissa = a.mantissa.checked_add(rhs)?;
        (mantissa.abs() <= LIMIT).then_some(Quantity {
            mantissa,
            exp,
            format: if self.is_zero() {
                other.format
            } else {
                self.format
            },
        })
    }

    fn mul(self, other: Quantity) -> Option<Quantity> {
        let mantissa = self.mantissa.checked_mul(other.mantissa)?;
        (mantissa.abs() <= LIMIT).then_some(Quantity {
            mantissa,
            exp: self.exp + other.exp,
            format: self.format,
        })
    }

    /// `self / other` rounded toward zero at exponent `exp`.
    fn quo_down(self, other: Quantity, exp: i32) -> Option<Quantity> {
        // self.m·10^a / (other.m·10^b) = (self.m·10^(a-b-exp) / other.m)·10^exp
        let shift = self.exp - other.exp - exp;
        let num = if shift >= 0 {
            self.mantissa.checked_mul(pow10(shift as u32)?)?
        } else {
            self.mantissa / pow10((-shift) as u32)?
        };
        Some(Quantity {
            mantissa: num / other.mantissa,
            exp,
            format: self.format,
        })
    }

    /// The canonical text Kubernetes prints (`Quantity.String` of a computed quantity).
    pub fn canonical(&self) -> String {
        if self.is_zero() {
            return "0".into();
        }
        let mut format = self.format;
        if format == Format::BinarySi {
            let small = self.as_f64().abs() < 1024.0;
            let integral =
                self.exp >= 0 || pow10((-self.exp) as u32).is_some_and(|d| self.mantissa % d == 0);
            if small || !integral {
                format = Format::DecimalSi;
            }
        }
        if format == Format::BinarySi {
            let mut amount = self.rescale_down(0).map_or(0, |q| q.mantissa);
            let mut e = 0;
            while amount != 0 && amount % 1024 == 0 && e < 6 {
                amount /= 1024;
                e += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
                .get(e)
                .copied()
                .unwrap_or("");
            return format!("{amount}{suffix}");
        }
        let mut amount = self.mantissa;
        let mut e = self.exp;
        while amount % 10 == 0 {
            amount /= 10;
            e += 1;
        }
        while e % 3 != 0 {
            amount *= 10;
            e -= 1;
        }
        let suffix = match (format, e) {
            (Format::DecimalSi, -9) => "n".to_string(),
            (Format::DecimalSi, -6) => "u".to_string(),
            (Format::DecimalSi, -3) => "m".to_string(),
            (_, 0) => String::new(),
            (Format::DecimalSi, 3) => "k".to_string(),
            (Format::DecimalSi, 6) => "M".to_string(),
            (Format::DecimalSi, 9) => "G".to_string(),
            (Format::DecimalSi, 12) => "T".to_string(),
            (Format::DecimalSi, 15) => "P".to_string(),
            (Format::DecimalSi, 18) => "E".to_string(),
            (_, e) => format!("e{e}"),
        };
        format!("{amount}{suffix}")
    }
}

pub use rampart_core::duration::{format as format_duration, parse as parse_duration};

/// An operand of Kyverno's arithmetic.
#[derive(Debug, Clone, Copy)]
enum Operand {
    Scalar(f64),
    Quantity(Quantity),
    Duration(i64),
}

const MISMATCH: &str = "Types mismatch";
const ZERO: &str = "Zero divisor passed";
const NON_INT_MODULO: &str = "Non-integer argument(s) passed for modulo";

fn operand(v: &serde_json::Value) -> Result<Operand, String> {
    match v {
        serde_json::Value::Number(n) => Ok(Operand::Scalar(n.as_f64().unwrap_or(0.0))),
        serde_json::Value::String(s) => Quantity::parse(s)
            .map(Operand::Quantity)
            .or_else(|| parse_duration(s).map(Operand::Duration))
            .ok_or_else(|| "invalid operand".to_string()),
        _ => Err("invalid operand".into()),
    }
}

/// A scalar as a quantity, as Kyverno makes it: `ParseQuantity(fmt.Sprintf("%v", x))`, Go's
/// shortest digits written plainly (`2.5`, `0.0001`) or, for a decimal exponent below -4 or
/// from 6 up, as `1.5e+06` (which keeps the exponent in the representation).
fn scalar_quantity(x: f64) -> Result<Quantity, String> {
    let sci = format!("{x:e}");
    let (digits_part, e10) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let e10: i32 = e10.parse().map_err(|_| format!("cannot read {sci}"))?;
    let negative = digits_part.starts_with('-');
    let digits: String = digits_part.chars().filter(char::is_ascii_digit).collect();
    let nd = digits.len() as i32;
    let mut mantissa: i128 = digits.parse().map_err(|_| format!("cannot read {sci}"))?;
    if negative {
        mantissa = -mantissa;
    }
    let exact = e10 - (nd - 1);
    let exp = if !(-4..6).contains(&e10) {
        exact
    } else {
        exact.min(0)
    };
    let q = Quantity {
        mantissa,
        exp: exact,
        format: Format::DecimalSi,
    };
    q.rescale_down(exp)
        .ok_or_else(|| format!("quantities: cannot read {sci}"))
}

/// Go's `Duration.Seconds()`.
fn seconds(d: i64) -> f64 {
    let (sec, nsec) = (d / 1_000_000_000, d % 1_000_000_000);
    sec as f64 + nsec as f64 / 1e9
}

/// A result number as JSON: a whole one as an integer, as Go prints a float64 such as 3.
fn number(x: f64) -> serde_json::Value {
    if x.fract() == 0.0 && x.abs() < 9e15 {
        return serde_json::Value::from(x as i64);
    }
    serde_json::Number::from_f64(x)
        .map(serde_json::Value::Number)
        .unwrap_or(serde_json::Value::Null)
}

fn text(s: String) -> serde_json::Value {
    serde_json::Value::String(s)
}

fn overflow() -> String {
    "quantity out of range".into()
}

/// Go's `time.Duration(seconds * float64(time.Second))`.
fn duration_of_seconds(secs: f64) -> i64 {
    (secs * 1e9) as i64
}

/// One of Kyverno's arithmetic functions (`+ - * / %`) on two JSON values: the result (a
/// number, or a quantity's or duration's text) or the reason it has none.
pub fn apply(
    x: &serde_json::Value,
    y: &serde_json::Value,
    op: char,
) -> Result<serde_json::Value, String> {
    use Operand::{Duration as D, Quantity as Q, Scalar as S};
    let (a, b) = (operand(x)?, operand(y)?);
    match (op, a, b) {
        ('+', S(a), S(b)) => Ok(number(a + b)),
        ('+', Q(a), Q(b)) => Ok(text(a.add(b, false).ok_or_else(overflow)?.canonical())),
        ('+', D(a), D(b)) => Ok(text(format_duration(
            a.checked_add(b).ok_or_else(overflow)?,
        ))),
        ('-', S(a), S(b)) => Ok(number(a - b)),
        ('-', Q(a), Q(b)) => Ok(text(a.add(b, true).ok_or_else(overflow)?.canonical())),
        ('-', D(a), D(b)) => Ok(text(format_duration(
            a.checked_sub(b).ok_or_else(overflow)?,
        ))),
        ('*', S(a), S(b)) => Ok(number(a * b)),
        ('*', Q(q), S(s)) | ('*', S(s), Q(q)) => Ok(text(
            q.mul(scalar_quantity(s)?).ok_or_else(overflow)?.canonical(),
        )),
        ('*', D(d), S(s)) | ('*', S(s), D(d)) => {
            Ok(text(format_duration(duration_of_seconds(seconds(d) * s))))
        }
        ('/', S(a), S(b)) => {
            if b == 0.0 {
                return Err(ZERO.into());
            }
            Ok(number(a / b))
        }
        ('/', Q(a), Q(b)) => {
            let d = b.as_f64();
            if d == 0.0 {
                return Err(ZERO.into());
            }
            Ok(number(a.as_f64() / d))
        }
        ('/', Q(a), S(s)) => {
            if s == 0.0 {
                return Err(ZERO.into());
            }
            let d = scalar_quantity(s)?;
            // rounded toward zero at the finer of the two representations' decimal places
            let exp = a.exp.min(d.exp);
            Ok(text(a.quo_down(d, exp).ok_or_else(overflow)?.canonical()))
        }
        ('/', D(a), D(b)) => {
            if b == 0 {
                return Err(ZERO.into());
            }
            Ok(number(seconds(a) / seconds(b)))
        }
        ('/', D(d), S(s)) => {
            if s == 0.0 {
                return Err(ZERO.into());
            }
            Ok(text(format_duration(duration_of_seconds(seconds(d) / s))))
        }
        ('%', S(a), S(b)) => {
            let (ia, ib) = (a as i64, b as i64);
            if a != ia as f64 || b != ib as f64 {
                return Err(NON_INT_MODULO.into());
            }
            if ib == 0 {
                return Err(ZERO.into());
            }
            Ok(number((ia % ib) as f64))
        }
        ('%', Q(a), Q(b)) => {
            let (fa, fb) = (a.as_f64(), b.as_f64());
            let (ia, ib) = (fa as i64, fb as i64);
            if fa != ia as f64 || fb != ib as f64 {
                return Err(NON_INT_MODULO.into());
            }
            if ib == 0 {
                return Err(ZERO.into());
            }
            let q = Quantity {
                mantissa: i128::from(ia % ib),
                exp: 0,
                format: a.format,
            };
            Ok(text(q.canonical()))
        }
        ('%', D(a), D(b)) => {
            if b == 0 {
                return Err(ZERO.into());
            }
            Ok(text(format_duration(a % b)))
        }
        _ => Err(MISMATCH.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(s: &str) -> String {
        Quantity::parse(s)
            .map(|q| q.canonical())
            .unwrap_or_default()
    }

    #[test]
    fn quantities_print_as_kubernetes_prints_them() {
        for (input, want) in [
            ("12Ki", "12Ki"),
            ("1024Ki", "1Mi"),
            ("1536", "1536"),
            ("1.5", "1500m"),
            ("100m", "100m"),
            ("0.1", "100m"),
            ("1000", "1k"),
            ("1e3", "1e3"),
            ("1000m", "1"),
            ("0.0000000001", "1n"),
            ("-1.5Ki", "-1536"),
            ("0", "0"),
            ("500Ki", "500Ki"),
            ("1.5Gi", "1536Mi"),
        ] {
            assert_eq!(q(input), want, "{input}");
        }
        for bad in ["", "Ki", "1.2.3", "1KiB", "12s", "abc", "1e", "--1"] {
            assert!(Quantity::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn operations_are_typed_as_in_kyverno() {
        let ok = |x: serde_json::Value, y: serde_json::Value, op: char| apply(&x, &y, op).unwrap();
        let fails =
            |x: serde_json::Value, y: serde_json::Value, op: char| apply(&x, &y, op).is_err();
        assert_eq!(ok(json!(12), json!(13), '+'), json!(25));
        assert_eq!(ok(json!("12Ki"), json!("13Ki"), '+'), json!("25Ki"));
        assert_eq!(ok(json!("12Ki"), json!("13"), '+'), json!("12301"));
        assert_eq!(ok(json!("12s"), json!("13s"), '+'), json!("25s"));
        assert_eq!(ok(json!("12Ki"), json!("13Ki"), '-'), json!("-1Ki"));
        assert_eq!(ok(json!("12Ki"), json!(2), '*'), json!("24Ki"));
        assert_eq!(ok(json!(2.5), json!("12Ki"), '*'), json!("30Ki"));
        assert_eq!(ok(json!("12s"), json!(12), '*'), json!("2m24s"));
        assert_eq!(ok(json!("12Ki"), json!(3), '/'), json!("4Ki"));
        assert_eq!(ok(json!("100m"), json!(3), '/'), json!("33m"));
        assert_eq!(ok(json!("12Ki"), json!("3Ki"), '/'), json!(4));
        assert_eq!(ok(json!("12Ki"), json!("5Ki"), '%'), json!("2Ki"));
        assert_eq!(ok(json!(13), json!(2), '%'), json!(1));
        // a string reads as a quantity first: `1m` is a milli, not a minute
        assert_eq!(ok(json!("1m"), json!("1m"), '+'), json!("2m"));
        for (x, y, op) in [
            (json!(12), json!("13Ki"), '+'),
            (json!("12Ki"), json!(13), '+'),
            (json!("12s"), json!("13Ki"), '+'),
            (json!("12Ki"), json!("12Ki"), '*'),
            (json!(14), json!("5s"), '/'),
            (json!(14), json!(1.5), '%'),
            (json!("4.5"), json!("1"), '%'),
            (json!(1), json!(0), '/'),
            (json!(true), json!(1), '+'),
        ] {
            assert!(fails(x.clone(), y.clone(), op), "{x} {op} {y}");
        }
    }
}

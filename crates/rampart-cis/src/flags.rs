//! Command lines parsed the way the components parse them: Go's pflag for the Kubernetes
//! components, Go's standard `flag` package for etcd.

use crate::component::Component;
use std::collections::HashMap;

/// One flag occurrence: its value and the index of the argument that set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagValue {
    pub value: String,
    /// Index of the argument holding the flag (the name), in the argument list given.
    pub arg: usize,
    /// Index of the argument holding the value, when it is a separate argument (`--f v`).
    pub value_arg: Option<usize>,
}

/// A problem with a command line, positioned at an argument index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgProblem {
    pub arg: usize,
    pub message: String,
}

/// The flags of one command line; the last occurrence of a flag wins, as in pflag and `flag`.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    map: HashMap<String, FlagValue>,
    pub problems: Vec<ArgProblem>,
}

impl Flags {
    pub fn get(&self, name: &str) -> Option<&FlagValue> {
        self.map.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    fn set(&mut self, name: &str, value: String, arg: usize, value_arg: Option<usize>) {
        self.map.insert(
            name.to_string(),
            FlagValue {
                value,
                arg,
                value_arg,
            },
        );
    }
}

/// Parses `args` (without the program name) as `component` parses its command line.
pub fn parse(component: Component, args: &[String]) -> Flags {
    if component == Component::Etcd {
        parse_go_flag(component, args)
    } else {
        parse_pflag(component, args)
    }
}

fn parse_pflag(component: Component, args: &[String]) -> Flags {
    let mut flags = Flags::default();
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if a == "--" {
            for (j, rest) in args.iter().enumerate().skip(i + 1) {
                positional(component, &mut flags, j, rest, None);
            }
            break;
        }
        if let Some(body) = a.strip_prefix("--") {
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            if name.is_empty() || name.starts_with('-') || name.starts_with('=') {
                flags.problems.push(ArgProblem {
                    arg: i,
                    message: format!("bad flag syntax: {a}"),
                });
                i += 1;
                continue;
            }
            match inline {
                Some(v) => flags.set(name, v.to_string(), i, None),
                None if component.is_bool_flag(name) => flags.set(name, "true".into(), i, None),
                None => match args.get(i + 1) {
                    // An unknown flag followed by another flag is read as a boolean.
                    Some(next) if component.knows_flag(name) || !next.starts_with('-') => {
                        flags.set(name, next.clone(), i, Some(i + 1));
                        i += 1;
                    }
                    Some(_) => flags.set(name, "true".into(), i, None),
                    None => flags.problems.push(ArgProblem {
                        arg: i,
                        message: format!("flag needs an argument: --{name}"),
                    }),
                },
            }
        } else if let Some(short) = a.strip_prefix('-').filter(|s| !s.is_empty()) {
            // Shorthands (`-v 2`, `-v=2`) are not long flags; only `-v` takes a value.
            if short == "v" {
                i += 1;
            }
        } else {
            let prev = i.checked_sub(1).and_then(|p| args.get(p));
            positional(component, &mut flags, i, a, prev.map(String::as_str));
        }
        i += 1;
    }
    flags
}

fn positional(component: Component, flags: &mut Flags, i: usize, a: &str, prev: Option<&str>) {
    if a.is_empty() {
        return;
    }
    let hint = match prev.and_then(|p| p.strip_prefix("--")) {
        Some(name) if !name.contains('=') && component.is_bool_flag(name) => format!(
            "; --{name} is a boolean flag and does not take the next argument as its value, \
             write --{name}={a}"
        ),
        _ => String::new(),
    };
    flags.problems.push(ArgProblem {
        arg: i,
        message: format!(
            "{} takes no positional arguments, got {a:?}{hint}",
            component.name()
        ),
    });
}

/// Go's `flag`: `-f` and `--f` alike, non-boolean flags take the next argument, parsing stops
/// at the first non-flag argument.
fn parse_go_flag(component: Component, args: &[String]) -> Flags {
    let mut flags = Flags::default();
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if a == "--" {
            break;
        }
        let body = match a.strip_prefix("--").or_else(|| a.strip_prefix('-')) {
            Some(b) if !b.is_empty() && !a.eq("-") => b,
            _ => {
                flags.problems.push(ArgProblem {
                    arg: i,
                    message: format!(
                        "{} stops reading flags at the first non-flag argument {a:?}; \
                         flags after it are ignored",
                        component.name()
                    ),
                });
                break;
            }
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        if name.is_empty() || name.starts_with('-') {
            flags.problems.push(ArgProblem {
                arg: i,
                message: format!("bad flag syntax: {a}"),
            });
            break;
        }
        match inline {
            Some(v) => flags.set(name, v.to_string(), i, None),
            None if component.is_bool_flag(name) => flags.set(name, "true".into(), i, None),
            None => match args.get(i + 1) {
                Some(next) => {
                    flags.set(name, next.clone(), i, Some(i + 1));
                    i += 1;
                }
                None => flags.problems.push(ArgProblem {
                    arg: i,
                    message: format!("flag needs an argument: -{name}"),
                }),
            },
        }
        i += 1;
    }
    flags
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)` as pflag's int flags use it (base prefixes, `_`).
pub fn parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (radix, digits) = if let Some(d) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (16, d)
    } else if let Some(d) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        (2, d)
    } else if let Some(d) = body.strip_prefix("0o").or(body.strip_prefix("0O")) {
        (8, d)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, body.get(1..).unwrap_or(""))
    } else {
        (10, body)
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') {
        return None;
    }
    let v = i64::from_str_radix(&digits.replace('_', ""), radix).ok()?;
    Some(if neg { -v } else { v })
}

/// Go's `time.ParseDuration`, in nanoseconds.
pub fn parse_duration(s: &str) -> Option<i128> {
    rampart_core::duration::parse(s).map(i128::from)
}

pub use rampart_core::parse_quantity;

/// A list flag's items: split on commas, blanks trimmed, empty items dropped.
pub fn split_list(s: &str) -> Vec<&str> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .collect()
}

/// A `key=value,key=value` map flag (`--feature-gates`).
pub fn split_map(s: &str) -> Vec<(&str, &str)> {
    split_list(s)
        .into_iter()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.trim(), v.trim())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn p(c: Component, args: &[&str]) -> Flags {
        parse(c, &args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn pflag_forms_and_last_wins() {
        let f = p(
            Component::ApiServer,
            &[
                "--authorization-mode",
                "Node,RBAC",
                "--anonymous-auth",
                "--profiling=false",
                "-v",
                "2",
                "--profiling=true",
            ],
        );
        assert_eq!(f.get("authorization-mode").unwrap().value, "Node,RBAC");
        assert_eq!(f.get("authorization-mode").unwrap().value_arg, Some(1));
        assert_eq!(f.get("anonymous-auth").unwrap().value, "true");
        assert_eq!(f.get("profiling").unwrap().value, "true");
        assert_eq!(f.get("profiling").unwrap().arg, 6);
        assert!(f.problems.is_empty());
    }

    #[test]
    fn bool_flag_does_not_take_next_argument() {
        let f = p(Component::ApiServer, &["--anonymous-auth", "false"]);
        assert_eq!(f.get("anonymous-auth").unwrap().value, "true");
        assert_eq!(f.problems.len(), 1);
        assert!(f.problems[0].message.contains("--anonymous-auth=false"));
    }

    #[test]
    fn single_dash_is_not_a_long_flag_for_pflag_but_is_for_etcd() {
        let f = p(Component::ApiServer, &["-profiling=false"]);
        assert!(f.get("profiling").is_none());
        let e = p(
            Component::Etcd,
            &["-client-cert-auth", "--cert-file", "/c", "x", "--auto-tls"],
        );
        assert_eq!(e.get("client-cert-auth").unwrap().value, "true");
        assert_eq!(e.get("cert-file").unwrap().value, "/c");
        assert!(e.get("auto-tls").is_none());
        assert_eq!(e.problems.len(), 1);
    }

    #[test]
    fn go_values() {
        assert_eq!(parse_duration("4h"), Some(4 * 3600 * 1_000_000_000));
        assert_eq!(parse_duration("1h30m"), Some(5400 * 1_000_000_000));
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("0s"), Some(0));
        assert_eq!(parse_duration("-5m"), Some(-300 * 1_000_000_000));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("1d"), None);
        assert_eq!(parse_bool("True"), Some(true));
        assert_eq!(parse_bool("yes"), None);
        assert_eq!(parse_int("0x10"), Some(16));
        assert_eq!(parse_int("010"), Some(8));
        assert_eq!(parse_int("-1"), Some(-1));
        assert_eq!(parse_int("1e3"), None);
        assert_eq!(parse_quantity("100Mi"), Some(100.0 * 1024.0 * 1024.0));
        assert_eq!(parse_quantity("250m"), Some(0.25));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("Mi"), None);
        assert_eq!(parse_quantity("1Q"), None);
        assert_eq!(split_list(" a, b,,c "), vec!["a", "b", "c"]);
    }
}

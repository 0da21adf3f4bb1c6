//! Sets of allowed connections: ports per protocol.

use range_set_blaze::RangeSetBlaze;
use serde::Serialize;
use std::fmt;

/// A transport protocol a NetworkPolicy port can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Protocol {
    #[serde(rename = "SCTP")]
    Sctp,
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
}

impl Protocol {
    /// All protocols, in output order.
    pub const ALL: [Protocol; 3] = [Protocol::Sctp, Protocol::Tcp, Protocol::Udp];

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Sctp => "SCTP",
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        }
    }

    /// Parses `TCP`, `UDP` or `SCTP` (case-insensitive).
    pub fn parse(s: &str) -> Option<Protocol> {
        match s.to_ascii_uppercase().as_str() {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    fn idx(self) -> usize {
        match self {
            Protocol::Sctp => 0,
            Protocol::Tcp => 1,
            Protocol::Udp => 2,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lowest and highest port a policy can name.
pub const MIN_PORT: u16 = 1;
pub const MAX_PORT: u16 = 65535;

/// A set of (protocol, port) pairs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnSet {
    ports: [RangeSetBlaze<u16>; 3],
}

impl ConnSet {
    /// The empty set: nothing allowed.
    pub fn none() -> ConnSet {
        ConnSet::default()
    }

    /// Every protocol, every port.
    pub fn all() -> ConnSet {
        let full = RangeSetBlaze::from_iter([MIN_PORT..=MAX_PORT]);
        ConnSet {
            ports: [full.clone(), full.clone(), full],
        }
    }

    /// Adds the ports `start..=end` of `proto`.
    pub fn add(&mut self, proto: Protocol, start: u16, end: u16) {
        let (s, e) = (start.max(MIN_PORT), end);
        if s <= e
            && let Some(set) = self.ports.get_mut(proto.idx())
        {
            set.ranges_insert(s..=e);
        }
    }

    /// Adds every port of `proto`.
    pub fn add_protocol(&mut self, proto: Protocol) {
        self.add(proto, MIN_PORT, MAX_PORT);
    }

    pub fn union_with(&mut self, other: &ConnSet) {
        for (a, b) in self.ports.iter_mut().zip(other.ports.iter()) {
            if !b.is_empty() {
                *a = &*a | b;
            }
        }
    }

    pub fn intersect(&self, other: &ConnSet) -> ConnSet {
        let [a0, a1, a2] = &self.ports;
        let [b0, b1, b2] = &other.ports;
        ConnSet {
            ports: [a0 & b0, a1 & b1, a2 & b2],
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ports.iter().all(RangeSetBlaze::is_empty)
    }

    pub fn is_all(&self) -> bool {
        self.ports.iter().all(|s| {
            s.ranges_len() == 1 && s.first() == Some(MIN_PORT) && s.last() == Some(MAX_PORT)
        })
    }

    /// Whether `port` of `proto` is in the set.
    pub fn contains(&self, proto: Protocol, port: u16) -> bool {
        self.ports
            .get(proto.idx())
            .is_some_and(|s| s.contains(port))
    }

    /// The port ranges of one protocol.
    pub fn ranges(&self, proto: Protocol) -> Vec<(u16, u16)> {
        self.ports
            .get(proto.idx())
            .map(|s| s.ranges().map(|r| (*r.start(), *r.end())).collect())
            .unwrap_or_default()
    }
}

impl fmt::Display for ConnSet {
    /// The netpol-analyzer connlist form: `All Connections`, `No Connections`, or
    /// `SCTP 7070,TCP 8080-8081,UDP 9090`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("All Connections");
        }
        if self.is_empty() {
            return f.write_str("No Connections");
        }
        let mut first = true;
        for proto in Protocol::ALL {
            let ranges = self.ranges(proto);
            if ranges.is_empty() {
                continue;
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{proto} ")?;
            for (i, (s, e)) in ranges.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                if s == e {
                    write!(f, "{s}")?;
                } else {
                    write!(f, "{s}-{e}")?;
                }
            }
        }
        Ok(())
    }
}

impl Serialize for ConnSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_connlist() {
        let mut c = ConnSet::none();
        c.add(Protocol::Udp, 9090, 9090);
        c.add(Protocol::Tcp, 8080, 8081);
        c.add(Protocol::Sctp, 7070, 7070);
        assert_eq!(c.to_string(), "SCTP 7070,TCP 8080-8081,UDP 9090");
        c.add(Protocol::Tcp, 8082, 8082);
        c.add(Protocol::Tcp, 9090, 9092);
        assert_eq!(c.to_string(), "SCTP 7070,TCP 8080-8082,9090-9092,UDP 9090");
        assert_eq!(ConnSet::all().to_string(), "All Connections");
        let mut t = ConnSet::none();
        t.add_protocol(Protocol::Tcp);
        assert_eq!(t.to_string(), "TCP 1-65535");
        assert!(!t.is_all());
        assert_eq!(t.intersect(&c).to_string(), "TCP 8080-8082,9090-9092");
    }
}

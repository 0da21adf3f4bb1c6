//! IP ranges outside the cluster: ipBlock sets and their disjoint partition.

use ipnet::IpNet;
use range_set_blaze::RangeSetBlaze;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// An address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    fn max(self) -> u128 {
        match self {
            Family::V4 => u128::from(u32::MAX),
            Family::V6 => u128::MAX,
        }
    }
}

/// A contiguous range of addresses of one family, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpRange {
    pub family: Family,
    pub start: u128,
    pub end: u128,
}

impl IpRange {
    /// The whole address space of a family.
    pub fn full(family: Family) -> IpRange {
        IpRange {
            family,
            start: 0,
            end: family.max(),
        }
    }

    fn of_net(net: &IpNet) -> IpRange {
        match net.trunc() {
            IpNet::V4(n) => IpRange {
                family: Family::V4,
                start: u128::from(u32::from(n.network())),
                end: u128::from(u32::from(n.broadcast())),
            },
            IpNet::V6(n) => IpRange {
                family: Family::V6,
                start: u128::from(n.network()),
                end: u128::from(n.broadcast()),
            },
        }
    }

    fn addr(&self, v: u128) -> String {
        match self.family {
            Family::V4 => Ipv4Addr::from(u32::try_from(v).unwrap_or(u32::MAX)).to_string(),
            Family::V6 => Ipv6Addr::from(v).to_string(),
        }
    }

    /// Whether `ip` falls in this range.
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        match ip {
            std::net::IpAddr::V4(a) => {
                self.family == Family::V4
                    && (self.start..=self.end).contains(&u128::from(u32::from(a)))
            }
            std::net::IpAddr::V6(a) => {
                self.family == Family::V6 && (self.start..=self.end).contains(&u128::from(a))
            }
        }
    }
}

impl fmt::Display for IpRange {
    /// `start-end`, the way netpol-analyzer prints an IP range.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.addr(self.start), self.addr(self.end))
    }
}

/// The addresses of one ipBlock: `cidr` minus its `except` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpSet {
    pub family: Family,
    set: RangeSetBlaze<u128>,
}

impl IpSet {
    pub fn from_block(cidr: &IpNet, except: &[IpNet]) -> IpSet {
        let r = IpRange::of_net(cidr);
        let mut set = RangeSetBlaze::from_iter([r.start..=r.end]);
        for e in except {
            let x = IpRange::of_net(e);
            if x.family == r.family {
                set = &set - &RangeSetBlaze::from_iter([x.start..=x.end]);
            }
        }
        IpSet {
            family: r.family,
            set,
        }
    }

    pub fn is_everything(&self) -> bool {
        self.set.ranges_len() == 1
            && self.set.first() == Some(0)
            && self.set.last() == Some(self.family.max())
    }
}

/// Splits the address space into the coarsest ranges such that each given set either holds a
/// range whole or not at all (the IPv4 space always; the IPv6 space when a set is IPv6).
/// Each range comes with the indexes of the sets that hold it.
pub fn partition(sets: &[IpSet]) -> Vec<(IpRange, Vec<usize>)> {
    let mut out = Vec::new();
    for family in [Family::V4, Family::V6] {
        let of_family: Vec<(usize, &IpSet)> = sets
            .iter()
            .enumerate()
            .filter(|(_, s)| s.family == family)
            .collect();
        if family == Family::V6 && of_family.is_empty() {
            continue;
        }
        // Cut points: the start of every range and the address after its end.
        let mut cuts: Vec<u128> = vec![0];
        for (_, s) in &of_family {
            for r in s.set.ranges() {
                cuts.push(*r.start());
                if *r.end() < family.max() {
                    cuts.push(*r.end() + 1);
                }
            }
        }
        cuts.sort_unstable();
        cuts.dedup();
        let mut pieces: Vec<(IpRange, Vec<usize>)> = Vec::with_capacity(cuts.len());
        for (i, &start) in cuts.iter().enumerate() {
            let end = cuts.get(i + 1).map(|n| n - 1).unwrap_or(family.max());
            let members: Vec<usize> = of_family
                .iter()
                .filter(|(_, s)| s.set.contains(start))
                .map(|(idx, _)| *idx)
                .collect();
            match pieces.last_mut() {
                Some((prev, m)) if *m == members => prev.end = end,
                _ => pieces.push((IpRange { family, start, end }, members)),
            }
        }
        out.extend(pieces);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn partition_splits_at_cidr_and_except_edges() {
        let sets = vec![IpSet::from_block(
            &net("0.0.0.0/0"),
            &[net("10.0.0.0/8"), net("172.21.0.0/16")],
        )];
        let parts: Vec<String> = partition(&sets)
            .iter()
            .map(|(r, _)| r.to_string())
            .collect();
        assert_eq!(
            parts,
            [
                "0.0.0.0-9.255.255.255",
                "10.0.0.0-10.255.255.255",
                "11.0.0.0-172.20.255.255",
                "172.21.0.0-172.21.255.255",
                "172.22.0.0-255.255.255.255"
            ]
        );
        assert_eq!(partition(&[]).len(), 1);
        let v6 = partition(&[IpSet::from_block(&net("2001:db8::/32"), &[])]);
        assert_eq!(v6.len(), 4);
        assert_eq!(
            v6[2].0.to_string(),
            "2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"
        );
    }
}

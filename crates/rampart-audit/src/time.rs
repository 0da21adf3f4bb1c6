//! RFC 3339 timestamps of audit events, to and from nanoseconds since the epoch.

pub(crate) use rampart_core::civil::{format_ns, parse_rfc3339};

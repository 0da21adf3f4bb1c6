//! Audit-policy evaluation and Falco `k8s_audit` rule detection.
//!
//! - [`Ruleset`] loads Falco rules files for the `k8s_audit` source (Falco's own
//!   `k8s_audit_rules.yaml` unchanged, or rampart's [`falco::BUILTIN_RULES`]), compiles every
//!   condition once, and evaluates audit events to [`Alert`]s.
//! - [`Policy`] is an `audit.k8s.io/v1` Policy evaluated exactly as the API server does, and
//!   [`lint`] finds its gaps and leaks.
//!
//! ```
//! use rampart_audit::{Ruleset, RulesSource};
//! let rules = Ruleset::load(&[RulesSource {
//!     name: "r.yaml".into(),
//!     text: "- rule: Exec\n  desc: exec into a pod\n  condition: ka.target.subresource = exec\n  output: exec by %ka.user.name\n  priority: NOTICE\n  source: k8s_audit\n".into(),
//! }]).unwrap();
//! let event = serde_json::json!({"auditID": "1", "user": {"username": "jane"}, "objectRef": {"resource": "pods", "subresource": "exec"}});
//! let alerts = rules.evaluate(&event);
//! assert_eq!(alerts[0].output, "exec by jane");
//! ```

mod error;
mod events;
pub mod falco;
mod lint;
pub mod policy;
mod time;

pub use error::AuditError;
pub use events::{Events, detect_text, parse_events, read_input};
pub use falco::{Alert, Priority, RulesSource, Ruleset, Scratch};
pub use lint::{CHECKS, checks, lint};
pub use policy::{Decision, Level, Policy, Request, ResourceAttrs};

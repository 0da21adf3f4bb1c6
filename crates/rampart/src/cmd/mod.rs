//! One module per subcommand; each exposes `Args` and `run`.

pub mod audit;
pub mod certs;
pub mod kyverno;
pub mod netpol;
pub mod policy;
pub mod pss;
pub mod rbac;
pub mod scan;
pub mod serve;

//! One module per subcommand; each exposes `Args` and `run`.

pub mod audit;
pub mod certs;
pub mod cluster;
pub mod completion;
pub mod input;
pub mod netpol;
pub mod node;
pub mod policy;
pub mod pss;
pub mod rbac;
pub mod scan;
pub mod serve;

//! One module per subcommand; each exposes `Args` and `run`.

pub mod audit;
pub mod certs;
pub mod cluster;
pub mod completion;
pub mod images;
pub mod input;
pub mod jp;
pub mod kyverno;
pub mod netpol;
pub mod node;
pub mod paths;
pub mod policy;
pub mod pss;
pub mod rbac;
pub mod scan;
pub mod serve;

/// Exit status of commands that report findings.
pub const EXIT_FINDINGS: &str = "Exit status: 0 nothing at or above --fail-on; 1 findings at or above --fail-on (this \
     wins over input errors); 2 usage or input errors (each printed as file:line:col: message, the valid \
     objects still analyzed) and nothing at or above --fail-on.";
/// Exit status of commands that answer a question.
pub const EXIT_ANSWER: &str = "Exit status: 0 yes (allowed); 1 no (denied) — this wins over input errors; 2 usage or \
     input errors and the answer is yes.";
/// Exit status of commands that list or draw what the input holds.
pub const EXIT_LISTING: &str = "Exit status: 0 done; 2 usage or input errors (each printed as file:line:col: message; \
     what the valid objects show is still printed).";
/// Exit status of commands that find something or not (violations, alerts, paths).
pub const EXIT_FOUND: &str = "Exit status: 0 nothing found; 1 something found (this wins over input errors); 2 usage \
     or input errors and nothing found.";
/// Exit status of commands that run or write files.
pub const EXIT_RUN: &str = "Exit status: 0 success; 2 usage, input or runtime errors.";
/// Exit status of `policy test`.
pub const EXIT_TEST: &str = "Exit status: 0 every result as the test files expect; 1 a result differs; 2 usage or \
     input errors.";

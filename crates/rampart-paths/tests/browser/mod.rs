//! Headless Chromium for the tests that check an HTML page in a real browser (this crate's
//! attack-path page, the cluster report: included by path).

use std::path::Path;
use std::process::Command;

/// The installed Chromium, if any (Debian's `chromium` first).
pub fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

/// A headless, offline, sandbox-free run of `browser` with its own profile, bounded to two
/// minutes; the caller adds `--dump-dom` or `--screenshot` and the page.
pub fn headless(browser: &str, profile: &Path) -> Command {
    let mut c = Command::new("timeout");
    c.arg("120").arg(browser).args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
    ]);
    c.arg(format!("--user-data-dir={}", profile.display()));
    c
}

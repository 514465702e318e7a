//! Printing findings for people.

use crate::input::Checked;
use ecites_domain::Severity;
use std::io::Write;

/// Writes one line per finding under a heading naming the permit and its verdict.
pub fn human(out: &mut impl Write, source: &str, checked: &Checked) -> std::io::Result<()> {
    let count = |severity| {
        checked
            .findings()
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    };
    let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
    let verdict = if errors > 0 { "INVALID" } else { "valid" };
    writeln!(
        out,
        "{source}: {} {verdict} ({errors} error{}, {warnings} warning{})",
        checked.label(),
        plural(errors),
        plural(warnings)
    )?;
    for finding in checked.findings() {
        writeln!(out, "  {finding}")?;
    }
    Ok(())
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

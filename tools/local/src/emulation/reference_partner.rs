//! docs/examples/reference_partner.py, the partner MA written in Python from the docs, run as
//! the tests and the local tools run it: with the Python of the virtualenv moto runs from (it
//! has `cryptography`).

use anyhow::Context as _;
use std::path::PathBuf;
use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdout};

/// The Python of moto's virtualenv.
pub fn python() -> PathBuf {
    super::moto::moto_binary()
        .parent()
        .map(|bin| bin.join("python"))
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// `reference_partner.py` with `args` (`serve ...` or `send ...`), killed when dropped.
pub fn command(args: &[&str]) -> tokio::process::Command {
    let script = super::moto::repo_root().join("docs/examples/reference_partner.py");
    let mut command = tokio::process::Command::new(python());
    command.arg(script).args(args).kill_on_drop(true);
    command
}

/// A running `reference_partner.py serve`: the process (killed when dropped), the endpoint it
/// listens at, and the lines it prints, one JSON record per message taken.
pub struct Serving {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:<port>/`.
    pub endpoint: String,
    /// What it prints after its `listening` line.
    pub lines: Lines<BufReader<ChildStdout>>,
}

/// Starts the reference partner as `country`'s endpoint, accepting messages from `sender`
/// signed with the key `sender_public_key` (base64) of id `sender_key_id`. Errors: Python does
/// not start, or it prints no `listening` line within 30 seconds.
pub async fn serve(
    country: &str,
    sender: &str,
    sender_public_key: &str,
    sender_key_id: &str,
) -> anyhow::Result<Serving> {
    let mut child = command(&[
        "serve",
        "--country",
        country,
        "--sender",
        sender,
        "--sender-key",
        sender_public_key,
        "--sender-key-id",
        sender_key_id,
    ])
    .stdout(std::process::Stdio::piped())
    .spawn()
    .with_context(|| format!("starting {} reference_partner.py", python().display()))?;
    let stdout = child
        .stdout
        .take()
        .context("the partner's standard output")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
        .await
        .context("the reference partner printed nothing within 30 s")??
        .context("the reference partner ended before listening")?;
    let listening: serde_json::Value = serde_json::from_str(&line)
        .with_context(|| format!("the reference partner's first line: {line}"))?;
    let endpoint = listening["listening"]
        .as_str()
        .with_context(|| format!("no listening address in {line}"))?
        .to_owned();
    Ok(Serving {
        child,
        endpoint,
        lines,
    })
}

//! Starting and stopping moto server, the local AWS emulator.

use anyhow::{bail, Context as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The launcher that starts moto with DynamoDB writes serialised.
const LAUNCHER: &str = include_str!("../../moto_launcher.py");

/// A moto server child process on 127.0.0.1, killed when dropped.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    port: u16,
}

/// Where the moto server binary is: `ECITES_MOTO_SERVER`, else `<repo>/.venv/bin/moto_server`
/// (what `make .venv/bin/moto_server` installs).
pub fn moto_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("ECITES_MOTO_SERVER") {
        return PathBuf::from(path);
    }
    repo_root().join(".venv/bin/moto_server")
}

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding a free port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}

impl MotoServer {
    /// Starts moto server on a free port of 127.0.0.1 and waits until it accepts connections.
    pub fn start() -> anyhow::Result<Self> {
        let binary = moto_binary();
        if !binary.exists() {
            bail!(
                "moto server not found at {} (run `make .venv/bin/moto_server`, or set ECITES_MOTO_SERVER)",
                binary.display()
            );
        }
        let mut last_error = None;
        // The venv's python runs moto through the launcher that serialises DynamoDB writes
        // (see moto_launcher.py); when that python is missing or cannot run it, the binary runs
        // as is. A port can be taken between choosing it and binding it: try a few.
        let python = binary
            .parent()
            .map(|bin| bin.join("python"))
            .filter(|python| python.exists());
        for attempt in 0..6 {
            let port = free_port()?;
            let mut command = match &python {
                Some(python) if attempt < 3 => {
                    let mut command = Command::new(python);
                    command.args(["-c", LAUNCHER]);
                    command
                }
                _ => Command::new(&binary),
            };
            let child = command
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .with_context(|| format!("starting {}", binary.display()))?;
            let mut server = MotoServer { child, port };
            match server.wait_ready(Duration::from_secs(20)) {
                Ok(()) => return Ok(server),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("moto server did not start")))
    }

    fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!("moto server exited early with {status}");
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "moto server did not listen on port {} within {timeout:?}",
            self.port
        )
    }

    /// The endpoint URL, e.g. `http://127.0.0.1:5123`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

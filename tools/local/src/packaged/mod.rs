//! The packaged Lambda binaries (`make package`: `target/lambda/<binary>/bootstrap.zip`) run
//! as processes against a loopback Runtime API ([`crate::emulation::runtime_api`]), with the environment
//! the template gives them. A [`RunningFunction`] is a handler like the in-process ones, so the
//! same event sources (SQS, the ledger stream, the receive front door) can drive the real
//! binaries; it also measures start-up time and peak resident memory. [`smoke`] runs them all
//! through the exchange (`make smoke`) and measures them (`make bench-functions`).

pub mod cost;
pub mod smoke;

use crate::emulation::runtime_api::{Answer, RuntimeApi};
use anyhow::{anyhow, bail, Context as _};
use lambda_runtime::LambdaEvent;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// How long one invocation may take (the template's largest function timeout).
pub const INVOCATION_DEADLINE: Duration = Duration::from_secs(60);

/// One zip of `make package`.
#[derive(Clone, Debug)]
pub struct Package {
    /// The cargo binary (and the folder under `target/lambda/`).
    pub binary: String,
    /// `target/lambda/<binary>/bootstrap.zip`.
    pub zip: PathBuf,
    /// Its size in bytes: what Lambda stores and loads.
    pub zip_bytes: u64,
}

/// The zip of `binary` under `lambda_dir`, with a hint to build it when missing.
pub fn package(lambda_dir: &Path, binary: &str) -> anyhow::Result<Package> {
    let zip = lambda_dir.join(binary).join("bootstrap.zip");
    let zip_bytes = std::fs::metadata(&zip)
        .with_context(|| format!("{} is missing: run `make package` first", zip.display()))?
        .len();
    Ok(Package {
        binary: binary.to_owned(),
        zip,
        zip_bytes,
    })
}

/// Unpacks `bootstrap` from the zip into `into` (as Lambda unpacks it into /var/task).
pub fn unpack(package: &Package, into: &Path) -> anyhow::Result<PathBuf> {
    let file =
        File::open(&package.zip).with_context(|| format!("opening {}", package.zip.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .with_context(|| format!("{} is not a zip", package.zip.display()))?;
    let mut entry = archive
        .by_name("bootstrap")
        .with_context(|| format!("{} has no bootstrap", package.zip.display()))?;
    std::fs::create_dir_all(into)?;
    let path = into.join("bootstrap");
    let mut out = File::create(&path)?;
    std::io::copy(&mut entry, &mut out)?;
    drop(out);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(path)
}

/// The machine an ELF executable is built for (`x86_64` or `aarch64`, Rust's
/// `std::env::consts::ARCH` names), from its header's `e_machine`. Errors: not an ELF file, or
/// a machine Lambda does not run.
pub fn elf_machine(header: &[u8]) -> anyhow::Result<&'static str> {
    if header.len() < 20 || &header[..4] != b"\x7fELF" {
        bail!("not an ELF executable");
    }
    // e_machine: bytes 18..20, in the file's byte order (EI_DATA, byte 5: 1 little-endian).
    let machine = match header[5] {
        1 => u16::from_le_bytes([header[18], header[19]]),
        _ => u16::from_be_bytes([header[18], header[19]]),
    };
    match machine {
        0x3E => Ok("x86_64"),
        0xB7 => Ok("aarch64"),
        other => bail!("an ELF executable for machine {other:#x}, which Lambda does not run"),
    }
}

/// The machine the package's `bootstrap` is built for ([`elf_machine`]), read from the zip.
pub fn package_machine(package: &Package) -> anyhow::Result<&'static str> {
    use std::io::Read as _;
    let file =
        File::open(&package.zip).with_context(|| format!("opening {}", package.zip.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .with_context(|| format!("{} is not a zip", package.zip.display()))?;
    let mut header = [0u8; 20];
    archive
        .by_name("bootstrap")
        .with_context(|| format!("{} has no bootstrap", package.zip.display()))?
        .read_exact(&mut header)?;
    elf_machine(&header)
}

/// How this machine starts `bootstrap`: `None` directly (built for it); else the qemu-user
/// command that emulates its machine with that machine's C library (`qemu-aarch64 -L
/// /usr/aarch64-linux-gnu` for an arm64 zip on x86_64; Debian: `qemu-user` and
/// `libc6-arm64-cross`). Emulated, a bootstrap proves it starts and answers; its timings and
/// memory are the emulator's, not Lambda's. Errors: the emulator or the library is missing
/// (the message says what to install, or to package with `ARCH=host`).
pub fn launcher(bootstrap: &Path) -> anyhow::Result<Option<Vec<std::ffi::OsString>>> {
    use std::io::Read as _;
    let mut header = [0u8; 20];
    File::open(bootstrap)
        .and_then(|mut f| f.read_exact(&mut header))
        .with_context(|| format!("reading {}", bootstrap.display()))?;
    let machine =
        elf_machine(&header).with_context(|| format!("{} is not runnable", bootstrap.display()))?;
    let host = std::env::consts::ARCH;
    if machine == host {
        return Ok(None);
    }
    let qemu = format!("qemu-{machine}");
    let sysroot = PathBuf::from(format!("/usr/{machine}-linux-gnu"));
    let on_path = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(&qemu).is_file()));
    if !on_path || !sysroot.is_dir() {
        bail!(
            "{} is built for {machine} and this machine is {host}: package for this machine \
             (make package ARCH=host), or install {qemu} and the {machine} C library in {} \
             (Debian: qemu-user, libc6-arm64-cross) to run it emulated",
            bootstrap.display(),
            sysroot.display()
        );
    }
    Ok(Some(vec![
        qemu.into(),
        "-L".into(),
        sysroot.into_os_string(),
    ]))
}

/// A packaged function running as a process against its own Runtime API.
pub struct RunningFunction {
    /// The binary's name.
    pub binary: String,
    api: RuntimeApi,
    child: tokio::sync::Mutex<Child>,
    pid: Option<u32>,
    spawned_at: Instant,
    first_invoke: std::sync::OnceLock<Instant>,
    log: PathBuf,
    invocations: std::sync::atomic::AtomicU32,
}

impl RunningFunction {
    /// Unpacks the package into `work_dir` and starts it with `environment` plus what the
    /// Lambda service itself sets (runtime API address, function name, memory, credentials;
    /// `emulator` becomes `AWS_ENDPOINT_URL`). Its stdout and stderr go to a log file there.
    pub async fn start(
        package: &Package,
        work_dir: &Path,
        environment: &[(String, String)],
        emulator: &str,
    ) -> anyhow::Result<RunningFunction> {
        let task_root = work_dir.join(&package.binary);
        let bootstrap = unpack(package, &task_root)?;
        let api = RuntimeApi::start(&package.binary).await?;
        let log = task_root.join("output.log");
        let output = File::create(&log)?;
        let name = format!("ecites-local-{}", package.binary);
        let mut command = match launcher(&bootstrap)? {
            None => Command::new(&bootstrap),
            Some(emulator) => {
                let mut command = Command::new(&emulator[0]);
                command.args(&emulator[1..]).arg(&bootstrap);
                command
            }
        };
        command
            .env_clear()
            .current_dir(&task_root)
            .envs(environment.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .env("AWS_REGION", crate::REGION)
            .env("AWS_DEFAULT_REGION", crate::REGION)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_SESSION_TOKEN", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", emulator)
            .env("LAMBDA_TASK_ROOT", &task_root)
            .env("_HANDLER", "bootstrap")
            .env("TZ", ":UTC")
            .stdin(Stdio::null())
            .stdout(output.try_clone()?)
            .stderr(output)
            .kill_on_drop(true);
        let spawned_at = Instant::now();
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", bootstrap.display()))?;
        Ok(RunningFunction {
            binary: package.binary.clone(),
            pid: child.id(),
            api,
            child: tokio::sync::Mutex::new(child),
            spawned_at,
            first_invoke: std::sync::OnceLock::new(),
            log,
            invocations: std::sync::atomic::AtomicU32::new(0),
        })
    }

    /// The last lines the process printed, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Sends one event through the Runtime API and returns the raw answer; fails (with the
    /// process's last output) when the process exited or did not answer in time.
    pub async fn invoke_json(&self, event: serde_json::Value) -> anyhow::Result<Answer> {
        self.invocations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.first_invoke.get_or_init(Instant::now);
        let exited = async {
            loop {
                if let Ok(Some(status)) = self.child.lock().await.try_wait() {
                    return status;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::select! {
            answer = self.api.invoke(event, INVOCATION_DEADLINE) => answer.with_context(|| {
                format!("{}: {}", self.binary, self.log_tail())
            }),
            status = exited => bail!("{} exited ({status}):\n{}", self.binary, self.log_tail()),
        }
    }

    /// A handler for the local event sources: the payload goes to the process as JSON, its
    /// answer comes back typed; an `/error` answer is a handler error, as in Lambda.
    pub async fn invoke<E: Serialize, R: DeserializeOwned>(
        &self,
        event: LambdaEvent<E>,
    ) -> Result<R, lambda_runtime::Error> {
        let payload = serde_json::to_value(&event.payload)?;
        match self.invoke_json(payload).await? {
            Answer::Response(value) => Ok(serde_json::from_value(value)?),
            Answer::Error(error) => Err(anyhow!("{} failed: {error}", self.binary).into()),
        }
    }

    /// Process start to the first request for an event: configuration read, clients built.
    pub fn init_duration(&self) -> Option<Duration> {
        Some(self.api.first_poll()? - self.spawned_at)
    }

    /// The "cold start": process start to the first answer, as if the first event had
    /// been waiting when the process started. That is the initialisation plus the first
    /// invocation, counted from when both the event and the runtime were ready (the flow
    /// reaches later functions seconds after they started; that wait is not start-up).
    pub fn cold_start(&self) -> Option<Duration> {
        let first_poll = self.api.first_poll()?;
        let ready = first_poll.max(*self.first_invoke.get()?);
        Some((first_poll - self.spawned_at) + (self.api.first_answer()? - ready))
    }

    /// Process start to the first answer, however long the first event took to come.
    pub fn since_start_to_first_answer(&self) -> Option<Duration> {
        Some(self.api.first_answer()? - self.spawned_at)
    }

    /// Peak resident memory so far (`VmHWM`), in KiB; `None` off Linux or once exited.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid?)).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    }

    /// The invocations' billed duration so far ([`RuntimeApi::billed_ms`]: from the function
    /// taking the event to its answer, rounded up to the millisecond; initialisation not
    /// included).
    pub fn billed_ms(&self) -> u64 {
        self.api.billed_ms()
    }

    /// CPU time the process has used so far, user and system, every thread (`/proc/PID/stat`
    /// fields 14 and 15, in clock ticks of 10 ms); `None` off Linux or once exited.
    pub fn cpu_time(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid?)).ok()?;
        // The command name (field 2) is in parentheses and may hold spaces: count after it.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(Duration::from_millis(ticks * 10))
    }

    /// Invocations sent so far.
    pub fn invocations(&self) -> u32 {
        self.invocations.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether the process is still running.
    pub async fn is_running(&self) -> bool {
        matches!(self.child.lock().await.try_wait(), Ok(None))
    }

    /// Stops the process (Lambda freezes and eventually kills it the same way).
    pub async fn stop(&self) {
        let _ = self.child.lock().await.kill().await;
    }
}

#[async_trait::async_trait]
impl crate::emulation::front_door::FrontFunction for RunningFunction {
    async fn call(
        &self,
        event: serde_json::Value,
    ) -> Result<serde_json::Value, lambda_runtime::Error> {
        self.invoke(LambdaEvent::new(event, lambda_runtime::Context::default()))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(data: u8, machine: [u8; 2]) -> Vec<u8> {
        let mut header = b"\x7fELF".to_vec();
        header.extend([2, data, 1, 0]);
        header.resize(18, 0);
        header.extend(machine);
        header
    }

    #[test]
    fn an_elf_header_names_the_machine_the_bootstrap_is_built_for() {
        assert_eq!(elf_machine(&header(1, [0x3E, 0])).unwrap(), "x86_64");
        assert_eq!(elf_machine(&header(1, [0xB7, 0])).unwrap(), "aarch64");
        assert_eq!(elf_machine(&header(2, [0, 0xB7])).unwrap(), "aarch64");
        let riscv = elf_machine(&header(1, [0xF3, 0])).unwrap_err().to_string();
        assert!(riscv.contains("0xf3"), "{riscv}");
        let script = elf_machine(b"#!/bin/sh\nexec true\n")
            .unwrap_err()
            .to_string();
        assert!(script.contains("not an ELF"), "{script}");
    }

    #[test]
    fn a_bootstrap_built_for_this_machine_starts_directly_and_another_one_needs_its_emulator() {
        let dir = tempfile::tempdir().unwrap();
        let (own, other) = match std::env::consts::ARCH {
            "x86_64" => ([0x3E, 0], [0xB7, 0]),
            _ => ([0xB7, 0], [0x3E, 0]),
        };
        let native = dir.path().join("native");
        std::fs::write(&native, header(1, own)).unwrap();
        assert!(launcher(&native).unwrap().is_none());
        let foreign = dir.path().join("foreign");
        std::fs::write(&foreign, header(1, other)).unwrap();
        match launcher(&foreign) {
            // This machine has qemu-user and the other machine's C library.
            Ok(Some(command)) => {
                assert!(
                    command[0].to_string_lossy().starts_with("qemu-"),
                    "{command:?}"
                );
                assert_eq!(command[1], "-L");
            }
            Ok(None) => panic!("a foreign bootstrap started directly"),
            Err(error) => {
                let error = format!("{error:#}");
                assert!(error.contains("ARCH=host"), "{error}");
            }
        }
    }
}

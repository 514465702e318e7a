//! Running the `ecites` binary as a user runs it, for the CLI test files.

#![allow(dead_code)] // each test file uses its own part

use std::process::{Command, Output, Stdio};

/// Runs `ecites` with `args`.
pub fn ecites(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ecites"))
        .args(args)
        .output()
        .expect("the ecites binary runs")
}

/// Runs `ecites` with `args` and `input` on its standard input.
pub fn ecites_with_stdin(args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ecites"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the ecites binary runs");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Exit status, standard output and standard error, for assertion messages (and for
/// assertions on what the user reads).
pub fn described(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    )
}

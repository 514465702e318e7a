//! `ecites smoke` as an operator runs it after a deployment: the `ecites` binary with XA's
//! environment, against XA's stack on the local AWS emulator whose functions run here as Lambda
//! would run them (ingest and forward fed from their queues, receive behind its loopback front
//! door), and the reference partner (docs/examples/reference_partner.py) as the staging
//! partner XZ on loopback.

use ecites_exchange::directory::Partner;
use ecites_exchange::protocol::SigningIdentity;
use ecites_local::stack::exchange::{start_pair, Ma, PairOptions};
use ecites_local::{fixtures, REGION};
use std::process::Output;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

/// The Python of the virtualenv moto runs from (it has `cryptography`).
fn python() -> std::path::PathBuf {
    ecites_local::emulation::moto::moto_binary()
        .parent()
        .expect("moto_server lives in a bin folder")
        .join("python")
}

/// docs/examples/reference_partner.py with `args`.
fn reference_partner(args: &[&str]) -> tokio::process::Command {
    let script =
        ecites_local::emulation::moto::repo_root().join("docs/examples/reference_partner.py");
    let mut command = tokio::process::Command::new(python());
    command.arg(script).args(args).kill_on_drop(true);
    command
}

/// XZ's endpoint (the reference partner trusting XA's key), listed in XA's directory.
async fn staging_partner(xa: &Ma, xb: &Ma, xz_key: &SigningIdentity) -> tokio::process::Child {
    let mut serving = reference_partner(&[
        "serve",
        "--country",
        "XZ",
        "--sender",
        "XA",
        "--sender-key",
        &xa.key.public_key_base64(),
        "--sender-key-id",
        &xa.key.key_id,
    ])
    .stdout(std::process::Stdio::piped())
    .spawn()
    .expect("python runs the reference partner");
    let mut lines = tokio::io::BufReader::new(serving.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the reference partner starts within 30 s")
        .unwrap()
        .unwrap();
    let listening: serde_json::Value = serde_json::from_str(&line).unwrap();
    let mut xz = Partner::new(
        ecites_local::country("XZ"),
        listening["listening"].as_str().unwrap(),
    );
    xz.name = Some("MA of XZ (staging, reference partner)".into());
    xz.public_key = Some(xz_key.public_key_base64());
    xz.key_id = Some(xz_key.key_id.clone());
    xa.set_directory(vec![xb.as_partner(), xz]).await.unwrap();
    // Keep reading its lines so its pipe never fills.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    serving
}

/// `ecites smoke ...` with XA's deployment environment.
fn smoke(xa: &Ma, args: &[&str]) -> tokio::process::Command {
    let stack = &xa.local.stack;
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_ecites"));
    command
        .arg("smoke")
        .args(args)
        .env("AWS_ENDPOINT_URL", &xa.local.endpoint)
        .env("AWS_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("ECITES_STACK", "xa-staging")
        .env("ECITES_COUNTRY", "XA")
        .env("ECITES_BUCKET", &stack.bucket)
        .env("ECITES_TABLE", &stack.table)
        .env("ECITES_PARTNERS_KEY", &stack.partners_key)
        .kill_on_drop(true);
    command
}

/// Runs `work` while XA's ingest and forward functions consume their queues, as Lambda's
/// event-source mappings would.
async fn with_functions_running<T>(xa: &Ma, work: impl std::future::Future<Output = T>) -> T {
    let handler = |event| xa.forward.handle(event);
    let pump = async {
        loop {
            let _ = xa.local.poll_once().await;
            let _ = xa.forward_source.poll_once(&handler).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::select! {
        done = work => done,
        () = pump => unreachable!("the pump never ends"),
    }
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_passes_when_the_staging_partner_acknowledges_and_sends_back() {
    let (xa, xb) = start_pair(PairOptions::default()).await.unwrap();
    let xz_key = SigningIdentity::generate("XZ-1").unwrap();
    let mut partner = staging_partner(&xa, &xb, &xz_key).await;
    let xml = ecites_domain::xml::write_permit(&fixtures::export_permit("26XZ0001", "XZ", "XA", 1));
    let xml_path = std::env::temp_dir().join(format!("xz-smoke-{}.xml", std::process::id()));
    std::fs::write(&xml_path, xml).unwrap();

    let run = smoke(
        &xa,
        &[
            "--partner",
            "XZ",
            "--receive",
            "26XZ0001",
            "--timeout",
            "60",
        ],
    )
    .output();
    // The partner sends its permit while the smoke test waits.
    let send = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        reference_partner(&[
            "send",
            "--country",
            "XZ",
            "--seed",
            &xz_key.seed_base64(),
            "--key-id",
            &xz_key.key_id,
            "--to",
            "XA",
            "--url",
            &xa.server.url(),
            "--xml",
            xml_path.to_str().unwrap(),
            "--permit-number",
            "26XZ0001",
        ])
        .output()
        .await
        .unwrap()
    };
    let (output, sent) = with_functions_running(&xa, async { tokio::join!(run, send) }).await;
    let _ = std::fs::remove_file(&xml_path);
    assert!(sent.status.success(), "{}", text(&sent));
    let said = text(&output.unwrap());
    assert!(said.starts_with("exit Some(0)"), "{said}");
    assert!(
        said.contains("Smoke test of xa-staging with XZ: the synthetic test permit SMOKE-"),
        "{said}"
    );
    assert!(
        said.contains("passed") && said.contains("dropped s3://"),
        "{said}"
    );
    assert!(
        said.contains("ingest recorded version 1 and queued its delivery to XZ"),
        "{said}"
    );
    assert!(
        said.contains("XZ acknowledged it: DELIVERED, its tracking number XZ-"),
        "{said}"
    );
    assert!(
        said.contains("received XZ's permit 26XZ0001 (version 1), our tracking number"),
        "{said}"
    );
    assert!(said.contains("All 4 steps passed in"), "{said}");
    partner.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_fails_naming_the_delivery_step_and_the_reason_when_the_partner_is_down() {
    // Forward keeps retrying, as a deployment does for a day: the smoke test's bound ends it.
    let options = PairOptions {
        max_receives: 50,
        ..PairOptions::default()
    };
    let (xa, xb) = start_pair(options).await.unwrap();
    let xz_key = SigningIdentity::generate("XZ-1").unwrap();
    let mut partner = staging_partner(&xa, &xb, &xz_key).await;
    partner.kill().await.unwrap();
    partner.wait().await.unwrap();

    let run = smoke(&xa, &["--partner", "XZ", "--timeout", "6"]).output();
    let output = with_functions_running(&xa, run).await.unwrap();
    let said = text(&output);
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(said.contains("ingest recorded version 1"), "{said}");
    assert!(said.contains("FAILED"), "{said}");
    assert!(
        said.contains("Smoke test FAILED at step 3 of 3 (delivery)."),
        "{said}"
    );
    assert!(
        said.contains("XZ has not acknowledged it within 6 s: the delivery is still PENDING after"),
        "{said}"
    );
    assert!(
        said.contains("connection to http://127.0.0.1:"),
        "the reason: {said}"
    );
}

//! `ecites smoke` as an operator runs it after a deployment: the `ecites` binary with XA's
//! environment, against XA's stack on the local AWS emulator whose functions run here as Lambda
//! would run them (ingest and forward fed from their queues, receive behind its loopback front
//! door), and the reference partner (docs/examples/reference_partner.py) as the staging
//! partner XZ on loopback.

mod common;

use common::described;
use ecites_exchange::directory::Partner;
use ecites_exchange::protocol::SigningIdentity;
use ecites_local::emulation::reference_partner::command as reference_partner;
use ecites_local::fixtures;
use ecites_local::stack::exchange::{start_pair, Ma, PairOptions};
use std::time::Duration;

/// XZ's endpoint (the reference partner trusting XA's key), listed in XA's directory.
async fn staging_partner(xa: &Ma, xb: &Ma, xz_key: &SigningIdentity) -> tokio::process::Child {
    let ecites_local::emulation::reference_partner::Serving {
        child,
        endpoint,
        mut lines,
    } = ecites_local::emulation::reference_partner::serve(
        "XZ",
        "XA",
        &xa.key.public_key_base64(),
        &xa.key.key_id,
    )
    .await
    .expect("python runs the reference partner");
    let mut xz = Partner::new(ecites_local::country("XZ"), endpoint);
    xz.name = Some("MA of XZ (staging, reference partner)".into());
    xz.public_key = Some(xz_key.public_key_base64());
    xz.key_id = Some(xz_key.key_id.clone());
    xa.set_directory(vec![xb.as_partner(), xz]).await.unwrap();
    // Keep reading its lines so its pipe never fills.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    child
}

/// `ecites smoke ...` with XA's deployment environment.
fn smoke(xa: &Ma, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_ecites"));
    command
        .arg("smoke")
        .args(args)
        .envs(xa.local.operator_env())
        .env("ECITES_STACK", "xa-staging")
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
    assert!(sent.status.success(), "{}", described(&sent));
    let said = described(&output.unwrap());
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
    let said = described(&output);
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

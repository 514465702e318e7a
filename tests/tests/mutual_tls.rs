//! A partner whose endpoint requires mutual TLS (an MA running this project with
//! `ReceiveTruststoreUri` on its custom domain): XA's real forward function delivers to XB's real
//! receive function behind a loopback TLS server (rustls, `WebPkiClientVerifier`) that refuses
//! any client without a certificate from XB's client authority.
//!
//! One test in this binary: it points `SSL_CERT_FILE` (the native roots every partner client
//! loads) at the TLS server's authority, for the whole process.

use ecites_e2e::*;
use ecites_exchange::ledger::DeliveryKind;
use ecites_local::emulation::tls_front::{ClientAuthority, TlsFront};
use ecites_local::stack::exchange::{delivery_message, start_pair, Ma, PairOptions};
use std::time::Duration;

/// How long forward may retry the delivery in a test.
const QUIET: Duration = Duration::from_secs(30);

/// What XA's ledger holds of `delivery`.
async fn delivery_fields(
    xa: &Ma,
    delivery: &ecites_exchange::DeliveryMessage,
) -> std::collections::HashMap<String, String> {
    xa.store
        .delivery_fields(delivery)
        .await
        .unwrap()
        .expect("the delivery")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_reaches_a_partner_requiring_mutual_tls_only_with_the_client_certificate_its_entry_names(
) {
    let (xa, xb) = start_pair(PairOptions::default())
        .await
        .expect("two local MAs start (is moto installed? make .venv/bin/moto_server)");
    let dir = std::env::temp_dir().join(format!("ecites-mtls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let xb_clients = ClientAuthority::new().unwrap();
    let front = TlsFront::start_requiring_client_certificates(xb.server.addr(), &dir, &xb_clients)
        .await
        .unwrap();
    // Before XA's forward builds its clients (on its first delivery): it trusts XB's server
    // certificate as a deployment trusts a public one, so only the client certificate is
    // missing below.
    std::env::set_var("SSL_CERT_FILE", front.ca_pem());
    let mut xb_entry = xb.as_partner();
    xb_entry.endpoint = front.url();
    xa.set_directory(vec![xb_entry.clone()]).await.unwrap();

    // Without a client certificate the handshake is refused: a transient failure (the
    // delivery stays PENDING and is retried with backoff), since the operator can add the
    // certificate to the directory during the retry window and the next attempt goes through.
    xa.drop_permit(
        "26XA0810",
        &fixtures::export_permit("26XA0810", "XA", "XB", 2),
    )
    .await
    .unwrap();
    let handler = |event| xa.forward.handle(event);
    let polled = xa.forward_source.poll_once(&handler).await.unwrap();
    assert_eq!(polled.failed, 1, "{polled:?}");
    let delivery = delivery_message("XA", "26XA0810", 1, DeliveryKind::Permit, "XB");
    let fields = delivery_fields(&xa, &delivery).await;
    assert_eq!(fields["state"], "PENDING", "{fields:?}");
    // XB's front refused the handshake for the missing client certificate. XA's own words
    // vary with timing (under TLS 1.3 the refusal comes after XA's last handshake message:
    // an alert naming the certificate, or a connection closed before the request), but never
    // say that XA distrusted XB.
    let refusals = front.refusals();
    assert!(
        !refusals.is_empty() && refusals.iter().all(|r| r.contains("no certificates")),
        "XB's front refused XA for presenting no client certificate: {refusals:?}"
    );
    let reason = fields["last_error"].to_ascii_lowercase();
    assert!(
        reason.contains("https://localhost") && !reason.contains("unknownissuer"),
        "a failed connection to XB, not our trust in XB: {reason}"
    );

    // XB issued XA a client certificate; XA's operator keeps it in Secrets Manager and names
    // the secret in XB's directory entry. The retried delivery goes through.
    let (certificate, private_key) = xb_clients.issue("MA of XA").unwrap();
    let secret = "ecites/client-certificates/xb";
    let secrets = ecites_aws::AwsConfig::load(
        ecites_aws::ClientOptions {
            emulator_credentials: true,
            ..ecites_aws::ClientOptions::default()
        }
        .at(Some(&xa.local.endpoint), ecites_local::REGION),
    )
    .await
    .secrets_manager();
    secrets
        .create_secret()
        .name(secret)
        .secret_string(
            serde_json::json!({"certificate": certificate, "private_key": private_key}).to_string(),
        )
        .send()
        .await
        .unwrap();
    xb_entry.client_certificate_secret = Some(secret.into());
    xa.set_directory(vec![xb_entry]).await.unwrap();
    tokio::time::sleep(PairOptions::default().directory_ttl * 2).await;
    xa.forward_until_quiet(QUIET).await.unwrap();
    let fields = delivery_fields(&xa, &delivery).await;
    assert_eq!(fields["state"], "DELIVERED", "{fields:?}");
    let received = xb
        .store
        .received_fields(ecites_local::country("XA"), "26XA0810", 1, "issued")
        .await
        .unwrap()
        .expect("XB recorded XA's permit");
    assert_eq!(fields["tracking_number"], received["tracking_number"]);
    let _ = std::fs::remove_dir_all(&dir);
}

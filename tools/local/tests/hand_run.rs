//! The hand-run stack as a newcomer uses it: the `ecites-local` binary's `setup` against moto,
//! its printed exports as the environment of `ecites-local run`, a permit dropped into the
//! inbox, and subscribers on the topic and on a webhook.

use ecites_aws::notify::SubscriptionAdmin;
use ecites_aws::notify::{DynamoSubscriptions, NotifyClients, SnsTopic, SsmSecrets};
use ecites_aws::{ClientOptions, Clients, DynamoLedger};
use ecites_exchange::notify::{
    verify, Channel, EventType, Filters, Role, Secret, Subscription, SIGNATURE_HEADER,
};
use ecites_exchange::{DeliveryState, Ledger as _};
use ecites_local::emulation::webhook_receiver::WebhookReceiver;
use ecites_local::{fixtures, MotoServer, REGION};
use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ecites-local");

/// `export NAME='value'` lines into a map (comments and other lines ignored).
fn parse_exports(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("export "))
        .filter_map(|assignment| assignment.split_once('='))
        .map(|(name, value)| {
            let value = value.trim_matches('\'').replace(r"'\''", "'");
            (name.to_owned(), value)
        })
        .collect()
}

async fn queue_arn(clients: &Clients, url: &str) -> String {
    let name = aws_sdk_sqs::types::QueueAttributeName::QueueArn;
    clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(name.clone())
        .send()
        .await
        .unwrap()
        .attributes()
        .and_then(|a| a.get(&name).cloned())
        .expect("a queue ARN")
}

async fn take_all(clients: &Clients, url: &str) -> Vec<serde_json::Value> {
    let output = clients
        .sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    output
        .messages()
        .iter()
        .filter_map(|m| serde_json::from_str(m.body().unwrap_or_default()).ok())
        .collect()
}

/// POSTs a body that is no signed envelope to receive; returns the status line and body.
async fn post_garbage(url: &str) -> String {
    let address = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request =
        "POST / HTTP/1.1\r\nhost: localhost\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello";
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_then_run_ingests_a_dropped_permit_notifies_subscribers_through_the_stream_and_ends_when_quiet(
) {
    let moto = MotoServer::start().expect("moto starts (set ECITES_MOTO_SERVER)");
    let endpoint = moto.endpoint();

    // `ecites-local setup` prints the environment of every function.
    let setup = Command::new(BIN)
        .args(["setup", "--endpoint", &endpoint, "--prefix", "hand"])
        .output()
        .await
        .unwrap();
    let printed = String::from_utf8_lossy(&setup.stdout);
    assert!(
        setup.status.success(),
        "{}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let env = parse_exports(&printed);
    for name in [
        "AWS_ENDPOINT_URL",
        "ECITES_COUNTRY",
        "ECITES_BUCKET",
        "ECITES_TABLE",
        "ECITES_DELIVERIES_QUEUE_URL",
        "ECITES_DELIVERIES_DLQ_URL",
        "ECITES_INGEST_QUEUE_URL",
        "ECITES_SIGNING_KEY_SECRET",
        "ECITES_TOPIC_ARN",
        "ECITES_WEBHOOK_QUEUE_URL",
    ] {
        assert!(env.contains_key(name), "{name} missing from:\n{printed}");
    }
    assert_eq!(env["AWS_ENDPOINT_URL"], endpoint);

    // An agency's queue subscribed to the topic (issued permits for XB), and a webhook.
    let options = ClientOptions {
        emulator_credentials: true,
        ..ClientOptions::default()
    };
    let clients = Clients::new(Some(&endpoint), REGION, &options).await;
    let notify_clients = NotifyClients::new(Some(&endpoint), REGION, true).await;
    let admin = SubscriptionAdmin {
        registry: DynamoSubscriptions::new(
            clients.dynamodb.clone(),
            &env["ECITES_TABLE"],
            Duration::ZERO,
        ),
        topic: SnsTopic::new(notify_clients.sns.clone(), &env["ECITES_TOPIC_ARN"]),
        secrets: SsmSecrets::new(notify_clients.ssm.clone()),
        policy: ecites_exchange::notify::WebhookPolicy::local(),
    };
    let customs_url = clients
        .sqs
        .create_queue()
        .queue_name("customs-xb")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let customs = Subscription {
        id: "customs-xb".into(),
        agency: "Customs of XB".into(),
        country: "XB".into(),
        role: Role::Customs,
        events: vec![EventType::Issued],
        filters: Filters {
            importer: vec!["XB".into()],
            ..Filters::default()
        },
        channel: Channel::Sns {
            protocol: "sqs".into(),
            endpoint: queue_arn(&clients, &customs_url).await,
            subscription_arn: None,
        },
        include_xml: false,
    };
    admin.add(customs, None).await.unwrap();
    let receiver = WebhookReceiver::start(200).await.unwrap();
    let secret = Secret::new("hand-run-secret");
    let hook = Subscription {
        id: "ma-xa".into(),
        agency: "MA of XA".into(),
        country: "XA".into(),
        role: Role::ManagementAuthority,
        events: vec![EventType::Issued],
        filters: Filters::default(),
        channel: Channel::Webhook {
            url: receiver.url("/events"),
            secret_parameter: "/hand/webhooks/ma-xa".into(),
        },
        include_xml: false,
    };
    admin.add(hook, Some(&secret)).await.unwrap();

    // A permit dropped into the inbox, as an MA's permit system would.
    let permit = fixtures::export_permit("26XA0001", "XA", "XB", 10);
    clients
        .s3
        .put_object()
        .bucket(&env["ECITES_BUCKET"])
        .key("inbox/26XA0001.json")
        .body(fixtures::json(&permit).into())
        .send()
        .await
        .unwrap();

    // `ecites-local run` with exactly that environment.
    let port = ecites_local::emulation::moto::free_port().unwrap();
    let mut child = Command::new(BIN)
        .args(["run", "--timeout", "120", "--quiet-for", "2"])
        .args(["--receive-port", &port.to_string()])
        .envs(&env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let errors = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap_or_default();
    let receive_url = format!("http://127.0.0.1:{port}/");
    assert_eq!(first, format!("receive: {receive_url}"));
    // Receive is served while the run goes on: an unsigned body is refused, not stored.
    let answer = post_garbage(&receive_url).await;
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    assert!(answer.contains("refusal"), "{answer}");

    let mut report = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        report.push_str(&line);
        report.push('\n');
    }
    let status = tokio::time::timeout(Duration::from_secs(150), child.wait())
        .await
        .expect("the run ends")
        .unwrap();
    let errors = errors.await.unwrap();
    assert!(status.success(), "{report}\n{errors}");
    // The handlers' metric lines (EMF, as on Lambda) come first; the runner's report last.
    assert!(
        report.lines().any(|line| line.starts_with("ended: quiet")),
        "{report}"
    );

    // Ingested: one version, the canonical XML, a delivery to XB.
    let ledger = DynamoLedger::on_table(clients.dynamodb.clone(), &env["ECITES_TABLE"]);
    let id = ecites_domain::PermitId {
        issuer: ecites_local::country("XA"),
        number: "26XA0001".into(),
    };
    let status = ledger.status(&id).await.unwrap();
    assert_eq!(status.state.as_deref(), Some("ACTIVE"), "{report}");
    assert_eq!(status.versions.len(), 1);
    // Forwarded: XB's endpoint in setup's directory is a closed loopback port, so the forward
    // function retried until the queue's maxReceiveCount and recorded the failure.
    assert_eq!(status.deliveries.len(), 1);
    let delivery = &status.deliveries[0];
    assert_eq!(delivery.recipient, "XB");
    assert_eq!(delivery.state, DeliveryState::Failed, "{delivery:?}");
    assert!(delivery.attempts > 1, "{delivery:?}");

    // Notified through the stream: the customs queue got the issued event (its filter policy
    // passed it) and the webhook got it signed.
    let events = take_all(&clients, &customs_url).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["type"], "org.cites.epermit.issued");
    assert_eq!(events[0]["subject"], "XA/26XA0001");
    let requests = receiver.received();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let header = &requests[0].headers[&SIGNATURE_HEADER.to_ascii_lowercase()];
    let now = chrono::Utc::now().timestamp();
    assert_eq!(verify(&secret, header, &requests[0].body, now, 300), Ok(()));
    drop(moto);
}

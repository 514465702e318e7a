//! The options of `ecites subscriptions`, compiled on their own: how options become a
//! subscription.

#[allow(dead_code)]
#[path = "../src/subscriptions.rs"]
mod subscriptions;

use clap::Parser;
use ecites_exchange::notify::{Channel, EventType, Role};
use subscriptions::{subscription_of, SubscriptionsArgs, SubscriptionsCommand};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: SubscriptionsArgs,
}

fn add(argv: &[&str]) -> anyhow::Result<ecites_exchange::notify::Subscription> {
    let cli = Cli::try_parse_from(std::iter::once("ecites").chain(argv.iter().copied()))?;
    match cli.args.command {
        SubscriptionsCommand::Add(add) => subscription_of(&add),
        _ => anyhow::bail!("not add"),
    }
}

#[test]
fn customs_queue_options_become_an_sns_subscription_with_filters() {
    let s = add(&[
        "add",
        "--id",
        "customs-xb",
        "--agency",
        "Customs of XB",
        "--country",
        "xb",
        "--role",
        "customs",
        "--events",
        "issued,cancelled",
        "--importer",
        "XB",
        "--sqs-queue-arn",
        "arn:aws:sqs:us-east-1:123456789012:customs-xb",
    ])
    .unwrap();
    assert_eq!(s.country, "XB");
    assert_eq!(s.role, Role::Customs);
    assert_eq!(s.events, vec![EventType::Issued, EventType::Cancelled]);
    assert_eq!(s.filters.importer, vec!["XB"]);
    assert!(matches!(s.channel, Channel::Sns { ref protocol, .. } if protocol == "sqs"));
}

#[test]
fn webhooks_need_https_and_a_secret_parameter() {
    let base = [
        "add",
        "--id",
        "hook",
        "--agency",
        "A",
        "--country",
        "XB",
        "--role",
        "enforcement",
        "--events",
        "issued",
    ];
    let with = |extra: &[&str]| {
        let mut argv = base.to_vec();
        argv.extend_from_slice(extra);
        add(&argv)
    };
    assert!(
        with(&["--webhook-url", "https://a.example/h"]).is_err(),
        "no secret parameter"
    );
    assert!(with(&[
        "--webhook-url",
        "http://a.example/h",
        "--secret-parameter",
        "/p"
    ])
    .is_err());
    let ok = with(&[
        "--webhook-url",
        "https://a.example/h",
        "--secret-parameter",
        "/p",
    ])
    .unwrap();
    assert!(matches!(ok.channel, Channel::Webhook { .. }));
    assert!(
        with(&["--sqs-queue-arn", "arn", "--events", "sunk"]).is_err(),
        "unknown event"
    );
}

/// Against moto: add (SNS queue and webhook with a secret from the environment), list, remove.
/// The only test here that sets environment variables, so no other test races it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_list_remove_against_the_emulator() {
    use ecites_exchange::notify::{SecretStore as _, SubscriptionRegistry as _};
    use ecites_local::stack::notify::{LocalNotify, NotifyOptions};
    let local = ecites_local::Local::start(ecites_local::LocalOptions::new("cli"))
        .await
        .expect("moto starts (make .venv/bin/moto_server)");
    let notify = LocalNotify::start(&local, NotifyOptions::default())
        .await
        .unwrap();
    let (_, arn) = notify.agency_queue(&local, "customs-xb").await.unwrap();
    for (name, value) in [
        ("ECITES_TABLE", local.stack.table.as_str()),
        ("ECITES_TOPIC_ARN", notify.topic_arn.as_str()),
        ("AWS_ENDPOINT_URL", local.endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("HOOK_SECRET", "from-the-environment"),
    ] {
        std::env::set_var(name, value);
    }
    let run = |argv: Vec<&str>| {
        let cli = Cli::try_parse_from(std::iter::once("ecites").chain(argv)).unwrap();
        subscriptions::run(cli.args)
    };
    let ok = std::process::ExitCode::SUCCESS;
    assert_eq!(
        run(vec![
            "add",
            "--id",
            "customs-xb",
            "--agency",
            "Customs of XB",
            "--country",
            "XB",
            "--role",
            "customs",
            "--events",
            "issued",
            "--importer",
            "XB",
            "--sqs-queue-arn",
            &arn,
        ])
        .await
        .unwrap(),
        ok
    );
    assert_eq!(
        run(vec![
            "add",
            "--id",
            "hook",
            "--agency",
            "Enforcement",
            "--country",
            "XA",
            "--role",
            "enforcement",
            "--events",
            "rejected",
            "--webhook-url",
            "https://e.example/h",
            "--secret-parameter",
            "/ecites/webhooks/hook",
            "--secret-env",
            "HOOK_SECRET",
        ])
        .await
        .unwrap(),
        ok
    );
    assert_eq!(run(vec!["list", "--json"]).await.unwrap(), ok);
    let registry = &notify.admin.registry;
    let customs = registry.get("customs-xb").await.unwrap().expect("added");
    assert!(matches!(
        customs.channel,
        Channel::Sns {
            subscription_arn: Some(_),
            ..
        }
    ));
    let secret = notify
        .admin
        .secrets
        .secret("/ecites/webhooks/hook")
        .await
        .unwrap();
    assert_eq!(secret.expose(), "from-the-environment");
    assert_eq!(run(vec!["remove", "customs-xb"]).await.unwrap(), ok);
    assert_eq!(
        run(vec!["remove", "customs-xb"]).await.unwrap(),
        std::process::ExitCode::FAILURE
    );
    assert_eq!(registry.list().await.unwrap().len(), 1);
}

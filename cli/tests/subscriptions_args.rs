//! `cli/src/subscriptions.rs` is wired into `main.rs` by the CLI owner; until then this test
//! compiles it and checks how options become a subscription.

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

//! The first deployment as an operator scripts it, on the local AWS emulator (moto server):
//! the signing key created straight in Secrets Manager (`partners keygen --secret`), its
//! public half read back (`pubkey`), the partner card printed by one MA and imported by the
//! other only with the right fingerprint (`card`, `add --card --fingerprint`), and the
//! configuration read from a CloudFormation stack's outputs (`--stack NAME`, `env`).

use ecites_local::stack::exchange::{start_pair, Ma, PairOptions};
use ecites_local::{MotoServer, REGION};
use std::process::{Command, Output};

/// `ecites` against `endpoint` with emulator credentials and no deployment environment.
fn ecites_at(endpoint: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ecites"));
    command
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (name, _) in std::env::vars() {
        if name.starts_with("ECITES_") {
            command.env_remove(name);
        }
    }
    command
}

fn run(command: &mut Command, args: &[&str]) -> Output {
    command.args(args).output().expect("the ecites binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        stdout(output),
        stderr(output)
    );
    stdout(output)
}

/// The value of `label:` in `ecites partners keygen|pubkey` output.
fn field(text: &str, label: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(label))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no {label} in {text}"))
}

fn moto() -> MotoServer {
    MotoServer::start().expect("moto starts (is it installed? make .venv/bin/moto_server)")
}

async fn secrets(endpoint: &str) -> aws_sdk_secretsmanager::Client {
    ecites_aws::signing::secrets_client(
        Some(endpoint),
        REGION,
        &ecites_aws::ClientOptions {
            emulator_credentials: true,
            ..ecites_aws::ClientOptions::default()
        },
    )
    .await
}

/// keygen stores the key in the JSON shape forward reads, prints only the public half, refuses
/// to replace it without --rotate; --rotate makes a pending version with a new key id, which
/// forward's loader reads only after promote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keygen_creates_the_signing_secret_forward_reads_and_rotates_only_when_asked() {
    let moto = moto();
    let endpoint = moto.endpoint();
    let secret = "ecites/signing-key";
    let created = succeeded(&run(
        &mut ecites_at(&endpoint),
        &[
            "partners",
            "keygen",
            "--secret",
            secret,
            "--key-id",
            "KE-2026-1",
        ],
    ));
    let public_key = field(&created, "public key:");
    let fingerprint = field(&created, "fingerprint:");

    let secrets = secrets(&endpoint).await;
    let stored = secrets
        .get_secret_value()
        .secret_id(secret)
        .send()
        .await
        .unwrap();
    let text = stored.secret_string().unwrap();
    let json: serde_json::Value = serde_json::from_str(text).unwrap();
    let fields: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(fields, ["key_id", "private_key"], "{fields:?}");
    let seed = json["private_key"].as_str().unwrap();
    assert!(
        !created.contains(seed),
        "the seed is never printed: {created}"
    );
    let forward_reads =
        ecites_aws::signing::load_signing_identity_from_secret(&secrets, secret, None)
            .await
            .unwrap();
    assert_eq!(forward_reads.key_id, "KE-2026-1");
    assert_eq!(forward_reads.public_key_base64(), public_key);

    // pubkey reads it back: the same public half and fingerprint, never the seed.
    let shown = succeeded(&run(
        &mut ecites_at(&endpoint),
        &["partners", "pubkey", "--secret", secret],
    ));
    assert_eq!(field(&shown, "key id:"), "KE-2026-1");
    assert_eq!(field(&shown, "public key:"), public_key);
    assert_eq!(field(&shown, "fingerprint:"), fingerprint);
    assert!(!shown.contains(seed), "{shown}");

    // A second keygen is refused and leaves the key alone.
    let again = run(
        &mut ecites_at(&endpoint),
        &[
            "partners",
            "keygen",
            "--secret",
            secret,
            "--key-id",
            "KE-2027-1",
        ],
    );
    assert_eq!(again.status.code(), Some(2), "{}", stdout(&again));
    assert!(stderr(&again).contains("--rotate"), "{}", stderr(&again));
    // A rotation under the current key id is refused: partners could not overlap the keys.
    let same_id = run(
        &mut ecites_at(&endpoint),
        &[
            "partners",
            "keygen",
            "--secret",
            secret,
            "--key-id",
            "KE-2026-1",
            "--rotate",
        ],
    );
    assert!(!same_id.status.success());
    assert!(stderr(&same_id).contains("new id"), "{}", stderr(&same_id));
    let kept = ecites_aws::signing::load_signing_identity_from_secret(&secrets, secret, None)
        .await
        .unwrap();
    assert_eq!(kept.public_key_base64(), public_key, "the key stayed");

    // --rotate puts the new key as AWSPENDING: forward keeps signing with the current one
    // while partners accept the new one (pubkey --pending prints it), until promote.
    let rotated = succeeded(&run(
        &mut ecites_at(&endpoint),
        &[
            "partners",
            "keygen",
            "--secret",
            secret,
            "--key-id",
            "KE-2027-1",
            "--rotate",
        ],
    ));
    assert!(rotated.contains("AWSPENDING"), "{rotated}");
    let new_key = field(&rotated, "public key:");
    assert_ne!(new_key, public_key);
    let still = ecites_aws::signing::load_signing_identity_from_secret(&secrets, secret, None)
        .await
        .unwrap();
    assert_eq!(
        still.public_key_base64(),
        public_key,
        "forward still signs with the old key"
    );
    let pending = succeeded(&run(
        &mut ecites_at(&endpoint),
        &["partners", "pubkey", "--secret", secret, "--pending"],
    ));
    assert_eq!(field(&pending, "key id:"), "KE-2027-1");
    assert_eq!(field(&pending, "public key:"), new_key);

    let promoted = succeeded(&run(
        &mut ecites_at(&endpoint),
        &["partners", "promote", "--secret", secret],
    ));
    assert!(promoted.contains("KE-2027-1"), "{promoted}");
    let now = ecites_aws::signing::load_signing_identity_from_secret(&secrets, secret, None)
        .await
        .unwrap();
    assert_eq!(now.key_id, "KE-2027-1");
    assert_eq!(now.public_key_base64(), new_key);
    let previous = secrets
        .get_secret_value()
        .secret_id(secret)
        .version_stage("AWSPREVIOUS")
        .send()
        .await
        .unwrap();
    assert!(
        previous.secret_string().unwrap().contains("KE-2026-1"),
        "the old key is the AWSPREVIOUS version"
    );
    let nothing_pending = run(
        &mut ecites_at(&endpoint),
        &["partners", "promote", "--secret", secret],
    );
    assert_eq!(nothing_pending.status.code(), Some(2));
    assert!(
        stderr(&nothing_pending).contains("no AWSPENDING"),
        "{}",
        stderr(&nothing_pending)
    );
}

/// `pubkey --parameter` reads the SSM SecureString form (the bare seed) with its key id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubkey_reads_the_ssm_parameter_form() {
    let moto = moto();
    let endpoint = moto.endpoint();
    let created = succeeded(&run(
        &mut ecites_at(&endpoint),
        &[
            "partners",
            "keygen",
            "--parameter",
            "/ke/signing",
            "--key-id",
            "KE-9",
        ],
    ));
    let shown = succeeded(&run(
        &mut ecites_at(&endpoint),
        &[
            "partners",
            "pubkey",
            "--parameter",
            "/ke/signing",
            "--key-id",
            "KE-9",
        ],
    ));
    assert_eq!(field(&shown, "public key:"), field(&created, "public key:"));
    assert_eq!(field(&shown, "key id:"), "KE-9");
}

fn ecites_as(ma: &Ma) -> Command {
    let stack = &ma.local.stack;
    let mut command = ecites_at(&ma.local.endpoint);
    command
        .env("ECITES_COUNTRY", ma.local.config.country.to_string())
        .env("ECITES_BUCKET", &stack.bucket)
        .env("ECITES_TABLE", &stack.table)
        .env("ECITES_PARTNERS_KEY", &stack.partners_key);
    command
}

/// XC prints its card; XA imports it only with the fingerprint XC's operator read out: a
/// wrong fingerprint is refused naming both and leaves the directory as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_card_is_imported_only_with_the_fingerprint_read_out_of_band() {
    let (xa, _xb) = start_pair(PairOptions::default())
        .await
        .expect("two local MAs start (is moto installed? make .venv/bin/moto_server)");
    let endpoint = &xa.local.endpoint;
    // XC's operator: a key, then the card.
    let created = succeeded(&run(
        &mut ecites_at(endpoint),
        &[
            "partners",
            "keygen",
            "--secret",
            "xc/signing",
            "--key-id",
            "XC-2026-1",
        ],
    ));
    let card = succeeded(&run(
        &mut ecites_at(endpoint),
        &[
            "partners",
            "card",
            "--secret",
            "xc/signing",
            "--country",
            "xc",
            "--name",
            "MA of XC",
            "--endpoint",
            "https://ma.xc.example/cites",
        ],
    ));
    let parsed: serde_json::Value = serde_json::from_str(&card).unwrap();
    assert_eq!(parsed["country"], "XC");
    assert_eq!(parsed["key_id"], "XC-2026-1");
    assert_eq!(
        parsed["public_key"],
        field(&created, "public key:").as_str()
    );
    let fingerprint = field(&created, "fingerprint:");
    assert_eq!(parsed["fingerprint"], fingerprint.as_str());
    let dir = tempfile::tempdir().unwrap();
    let card_file = dir.path().join("xc.card.json");
    std::fs::write(&card_file, &card).unwrap();
    let card_path = card_file.to_str().unwrap();

    // The fingerprint of another key (a card swapped on its way) is refused, naming both.
    let other = ecites_exchange::protocol::SigningIdentity::generate("X").unwrap();
    let wrong = ecites_cli_fingerprint(&other.public_key_base64());
    let refused = run(
        &mut ecites_as(&xa),
        &[
            "partners",
            "add",
            "--card",
            card_path,
            "--fingerprint",
            &wrong,
        ],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", stdout(&refused));
    let why = stderr(&refused);
    assert!(why.contains("fingerprint mismatch"), "{why}");
    assert!(why.contains(&fingerprint) && why.contains(&wrong), "{why}");
    let listed = succeeded(&run(&mut ecites_as(&xa), &["partners", "list"]));
    assert!(!listed.lines().any(|l| l.starts_with("XC")), "{listed}");

    // Read aloud as typed (upper case, no spaces): imported.
    let typed = fingerprint.replace(' ', "").to_uppercase();
    succeeded(&run(
        &mut ecites_as(&xa),
        &[
            "partners",
            "add",
            "--card",
            card_path,
            "--fingerprint",
            &typed,
            "--accepts",
            "E",
        ],
    ));
    let listed = succeeded(&run(&mut ecites_as(&xa), &["partners", "list"]));
    let row = listed
        .lines()
        .find(|l| l.starts_with("XC"))
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(
        row.contains("XC-2026-1") && row.contains("https://ma.xc.example/cites"),
        "{row}"
    );

    // `partners init` leaves an existing directory alone, and creates a missing one empty.
    let kept = succeeded(&run(&mut ecites_as(&xa), &["partners", "init"]));
    assert!(
        kept.contains("already exists") && kept.contains("nothing written"),
        "{kept}"
    );
    let listed_after = succeeded(&run(&mut ecites_as(&xa), &["partners", "list"]));
    assert_eq!(listed_after, listed);
    let fresh = || {
        let mut command = ecites_as(&xa);
        command.env("ECITES_PARTNERS_KEY", "config/fresh-partners.json");
        command
    };
    let listing_missing = run(&mut fresh(), &["partners", "list"]);
    assert_eq!(listing_missing.status.code(), Some(2), "no directory yet");
    let created = succeeded(&run(&mut fresh(), &["partners", "init"]));
    assert!(created.contains("created"), "{created}");
    let empty = succeeded(&run(&mut fresh(), &["partners", "list"]));
    assert_eq!(empty.lines().count(), 1, "only the header: {empty}");
}

/// The fingerprint as `ecites` prints it, computed here independently: SHA-256 of the raw key.
fn ecites_cli_fingerprint(public_key_b64: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(public_key_b64)
        .unwrap();
    let hex = hex::encode(sha2::Sha256::digest(raw));
    hex.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `--stack NAME` reads the outputs of a stack (here one made in moto with the template's
/// output names and a single queue, since a stack needs a resource) into the environment the
/// commands read; `env` prints them as export lines; a stack without a required output is
/// refused naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stack_option_reads_the_configuration_from_the_stacks_outputs() {
    let moto = moto();
    let endpoint = moto.endpoint();
    let aws = ecites_aws::AwsConfig::load(ecites_aws::ClientOptions {
        emulator_credentials: true,
        ..ecites_aws::ClientOptions::default().at(Some(&endpoint), REGION)
    })
    .await;
    let cloudformation = aws_sdk_cloudformation::Client::new(aws.sdk_config());
    let template = |outputs: &str| {
        format!(
            "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Queue:\n    Type: AWS::SQS::Queue\nOutputs:\n{outputs}"
        )
    };
    let outputs = "  CountryCode:\n    Value: KE\n  BucketName:\n    Value: ecites-123-abc\n  LedgerTableName:\n    Value: ecites-ke-ledger\n  PartnerDirectoryKey:\n    Value: config/partners.json\n  DeliveriesQueueUrl:\n    Value: https://sqs.example/1/deliveries\n  DeliveriesDeadLetterQueueUrl:\n    Value: https://sqs.example/1/deliveries-dlq\n  NotificationTopicArn:\n    Value: arn:aws:sns:us-east-1:1:topic\n  WebhookQueueUrl:\n    Value: https://sqs.example/1/webhooks\n  SigningKeySecretName:\n    Value: ecites/signing-key\n  ReceiveEndpointUrl:\n    Value: https://abc.execute-api.us-east-1.amazonaws.com/v1/\n";
    cloudformation
        .create_stack()
        .stack_name("ecites-ke")
        .template_body(template(outputs))
        .send()
        .await
        .expect("moto creates the stack");
    let printed = succeeded(&run(
        ecites_at(&endpoint).env("ECITES_BUCKET", "not-this-one"),
        &["--stack", "ecites-ke", "env"],
    ));
    for line in [
        "export ECITES_STACK='ecites-ke'",
        "export AWS_REGION='us-east-1'",
        "export ECITES_COUNTRY='KE'",
        "export ECITES_BUCKET='ecites-123-abc'",
        "export ECITES_TABLE='ecites-ke-ledger'",
        "export ECITES_PARTNERS_KEY='config/partners.json'",
        "export ECITES_DELIVERIES_QUEUE_URL='https://sqs.example/1/deliveries'",
        "export ECITES_DELIVERIES_DLQ_URL='https://sqs.example/1/deliveries-dlq'",
        "export ECITES_TOPIC_ARN='arn:aws:sns:us-east-1:1:topic'",
        "export ECITES_WEBHOOK_QUEUE_URL='https://sqs.example/1/webhooks'",
        "export ECITES_SIGNING_KEY_SECRET='ecites/signing-key'",
        "export ECITES_RECEIVE_ENDPOINT_URL='https://abc.execute-api.us-east-1.amazonaws.com/v1/'",
    ] {
        assert!(
            printed.lines().any(|l| l == line),
            "{line} missing:\n{printed}"
        );
    }

    // The other commands read it: `partners card` takes country, endpoint and secret name
    // from the stack.
    succeeded(&run(
        &mut ecites_at(&endpoint),
        &[
            "partners",
            "keygen",
            "--secret",
            "ecites/signing-key",
            "--key-id",
            "KE-2026-1",
        ],
    ));
    let card = succeeded(&run(
        &mut ecites_at(&endpoint),
        &[
            "--stack",
            "ecites-ke",
            "partners",
            "card",
            "--secret",
            "ecites/signing-key",
        ],
    ));
    let card: serde_json::Value = serde_json::from_str(&card).unwrap();
    assert_eq!(card["country"], "KE");
    assert_eq!(
        card["endpoint"],
        "https://abc.execute-api.us-east-1.amazonaws.com/v1/"
    );

    // A stack without a required output is refused, naming it.
    cloudformation
        .create_stack()
        .stack_name("old-stack")
        .template_body(template("  BucketName:\n    Value: b\n"))
        .send()
        .await
        .unwrap();
    let refused = run(&mut ecites_at(&endpoint), &["--stack", "old-stack", "env"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("CountryCode"),
        "{}",
        stderr(&refused)
    );
    let missing = run(
        &mut ecites_at(&endpoint),
        &["--stack", "no-such-stack", "env"],
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("no-such-stack"),
        "{}",
        stderr(&missing)
    );
}

//! The operator commands as an operator runs them: the `ecites` binary with a deployment's
//! environment, against two MAs (XA and XB) on the local AWS emulator, each with its receive
//! function on a loopback Function URL. Covers `partners add|list|accept-key|retire-key`,
//! `replay --no-partner|--awaiting-pull`, `status`, `species import` and `sweep`.

use chrono::Utc;
use ecites_exchange::directory::{DocumentFormat, Partner};
use ecites_exchange::forward::build_message;
use ecites_exchange::http::HttpTransport as _;
use ecites_exchange::ledger::DeliveryKind;
use ecites_exchange::protocol::SigningIdentity;
use ecites_forward::HyperTransport;
use ecites_local::stack::exchange::{delivery_message, start_pair, Ma, PairOptions};
use ecites_local::{fixtures, REGION};
use std::process::Output;
use std::time::Duration;

/// Runs `ecites` with `ma`'s deployment environment (what an operator exports from the stack's
/// outputs).
fn ecites_as(ma: &Ma, args: &[&str]) -> Output {
    ecites_command(ma)
        .args(args)
        .output()
        .expect("the ecites binary runs")
}

/// The `ecites` command with `ma`'s deployment environment, to run as is or with changes.
fn ecites_command(ma: &Ma) -> std::process::Command {
    let stack = &ma.local.stack;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ecites"));
    command
        .env("AWS_ENDPOINT_URL", &ma.local.endpoint)
        .env("AWS_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("ECITES_COUNTRY", ma.local.config.country.to_string())
        .env("ECITES_BUCKET", &stack.bucket)
        .env("ECITES_TABLE", &stack.table)
        .env("ECITES_PARTNERS_KEY", &stack.partners_key)
        .env("ECITES_DELIVERIES_QUEUE_URL", &stack.deliveries_queue_url)
        .env("ECITES_DELIVERIES_DLQ_URL", &stack.deliveries_dlq_url);
    command
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

async fn pair() -> (Ma, Ma) {
    start_pair(PairOptions::default())
        .await
        .expect("two local MAs start (is moto installed? make .venv/bin/moto_server)")
}

/// POSTs XA's permit `number`, signed with `key` (its id in `X-Ecites-Key-Id`), to XB's
/// receive endpoint; returns the status and the answer.
async fn send_signed(xb: &Ma, number: &str, key: &SigningIdentity) -> (u16, String) {
    let xml = ecites_domain::xml::write_permit(&fixtures::export_permit(number, "XA", "XB", 2));
    let message_id = format!("{number}-{}", key.key_id);
    let (body, headers) = build_message(
        &delivery_message("XA", number, 1, DeliveryKind::Permit, "XB"),
        "E",
        xml.as_bytes(),
        &message_id,
        key,
        Utc::now(),
    );
    let transport = HyperTransport::for_partners(Duration::from_secs(10)).unwrap();
    let reply = transport
        .post(&xb.server.url(), &headers, body)
        .await
        .expect("XB's receive endpoint answers");
    (
        reply.status,
        String::from_utf8_lossy(&reply.body).into_owned(),
    )
}

/// `country`'s entry in `ma`'s partner directory, as `ecites partners add` saved it.
async fn directory_entry(ma: &Ma, country: &str) -> Partner {
    ecites_aws::s3::read_directory(
        &ma.local.clients.s3,
        &ma.local.stack.bucket,
        &ma.local.stack.partners_key,
    )
    .await
    .expect("the directory reads")
    .get(ecites_local::country(country))
    .cloned()
    .expect("the entry is in the directory")
}

/// Lets XB's warm receive function reload its directory (its cache lives 200 ms in tests).
async fn directory_cache_expires() {
    tokio::time::sleep(PairOptions::default().directory_ttl * 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_key_rotation_through_the_cli_accepts_both_keys_during_the_overlap_and_refuses_the_retired_key(
) {
    let (xa, xb) = pair().await;
    let listed = succeeded(&ecites_as(&xb, &["partners", "list"]));
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("XA") && l.contains("XA-1")),
        "{listed}"
    );

    // XA announces its next key; XB's operator accepts it beside the current one.
    let next = SigningIdentity::generate("XA-2").unwrap();
    let public_key = next.public_key_base64();
    let accepted = succeeded(&ecites_as(
        &xb,
        &[
            "partners",
            "accept-key",
            "xa",
            "--key-id",
            "XA-2",
            "--public-key",
            &public_key,
        ],
    ));
    assert!(accepted.contains("XA-1, XA-2"), "{accepted}");
    let listed = succeeded(&ecites_as(&xb, &["partners", "list"]));
    assert!(listed.contains("XA-1,+XA-2"), "{listed}");
    directory_cache_expires().await;

    // During the overlap, messages signed with either key are accepted.
    let (status, answer) = send_signed(&xb, "26XA0901", &xa.key).await;
    assert_eq!(status, 200, "old key: {answer}");
    let (status, answer) = send_signed(&xb, "26XA0902", &next).await;
    assert_eq!(status, 200, "new key: {answer}");

    // XA has moved to the new key; XB retires the old one, and the new one becomes current.
    let retired = succeeded(&ecites_as(
        &xb,
        &["partners", "retire-key", "XA", "--key-id", "XA-1"],
    ));
    assert!(retired.contains("keys accepted now XA-2"), "{retired}");
    let listed = succeeded(&ecites_as(&xb, &["partners", "list"]));
    let row = listed.lines().find(|l| l.starts_with("XA")).unwrap();
    assert!(row.contains("XA-2") && !row.contains("XA-1"), "{row}");
    directory_cache_expires().await;

    let (status, answer) = send_signed(&xb, "26XA0903", &xa.key).await;
    assert_eq!(status, 401, "the retired key is refused: {answer}");
    assert!(
        !answer.contains("XA-2") && !answer.contains("XA-1"),
        "the refusal names no key id on record: {answer}"
    );
    let (status, answer) = send_signed(&xb, "26XA0904", &next).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        xb.local
            .list("received/XA/26XA0903/")
            .await
            .unwrap()
            .is_empty(),
        "nothing from the refused message is stored"
    );

    // The last key cannot be retired, and a malformed key is refused naming the option.
    let last = ecites_as(&xb, &["partners", "retire-key", "XA", "--key-id", "XA-2"]);
    assert_eq!(last.status.code(), Some(1));
    assert!(stderr(&last).contains("only key"), "{}", stderr(&last));
    let malformed = ecites_as(
        &xb,
        &[
            "partners",
            "accept-key",
            "XA",
            "--key-id",
            "XA-3",
            "--public-key",
            "not-a-key",
        ],
    );
    assert!(!malformed.status.success());
    assert!(
        stderr(&malformed).contains("--public-key"),
        "{}",
        stderr(&malformed)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_no_partner_refuses_until_the_partner_is_added_then_queues_what_waited_and_status_shows_it_delivered(
) {
    let (xa, xb) = pair().await;
    xa.set_directory(Vec::new()).await.unwrap();
    xa.drop_permit(
        "26XA0950",
        &fixtures::export_permit("26XA0950", "XA", "XB", 4),
    )
    .await
    .unwrap();
    let waiting = succeeded(&ecites_as(&xa, &["status", "XA", "26XA0950"]));
    assert!(waiting.contains("NO_PARTNER"), "{waiting}");

    let refused = ecites_as(&xa, &["replay", "--no-partner", "XB"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stdout(&refused).contains("not an active partner"),
        "{}",
        stdout(&refused)
    );

    let plain_http = ecites_as(
        &xa,
        &[
            "partners",
            "add",
            "XB",
            "--endpoint",
            "http://ma.xb.example/cites",
            "--public-key",
            &xb.key.public_key_base64(),
        ],
    );
    assert!(!plain_http.status.success());
    assert!(
        stderr(&plain_http).contains("--endpoint must be https://"),
        "{}",
        stderr(&plain_http)
    );
    let endpoint = xb.server.url();
    succeeded(&ecites_as(
        &xa,
        &[
            "partners",
            "add",
            "XB",
            "--endpoint",
            &endpoint,
            "--public-key",
            &xb.key.public_key_base64(),
            "--key-id",
            &xb.key.key_id,
        ],
    ));
    let queued = succeeded(&ecites_as(&xa, &["replay", "--no-partner", "xb"]));
    assert!(queued.starts_with("queued 1 "), "{queued}");
    xa.forward_until_quiet(Duration::from_secs(90))
        .await
        .unwrap();

    let shown = succeeded(&ecites_as(&xa, &["status", "XA", "26XA0950"]));
    let row = shown
        .lines()
        .find(|l| l.contains("XB") && l.contains("DELIVERED"))
        .unwrap_or_else(|| panic!("no delivered row for XB in\n{shown}"));
    assert!(
        row.contains("XB-"),
        "the partner's tracking number is shown: {row}"
    );
    let again = succeeded(&ecites_as(&xa, &["replay", "--no-partner", "XB"]));
    assert!(again.starts_with("queued 0 "), "{again}");
}

/// `ecites partners keygen` never replaces a signing key silently: a second run on the same
/// parameter fails naming `--rotate` and leaves the key (what partners verify with) alone;
/// with `--force` (the older name of `--rotate`) it replaces it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keygen_refuses_to_replace_an_existing_key_unless_forced() {
    let (xa, _xb) = pair().await;
    let parameter = "/xa/keygen-test";
    let public_key = |text: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix("public key:"))
            .map(|k| k.trim().to_owned())
            .expect("the public key is printed")
    };
    let first = public_key(&succeeded(&ecites_as(
        &xa,
        &[
            "partners",
            "keygen",
            "--parameter",
            parameter,
            "--key-id",
            "XA-9",
        ],
    )));
    let again = ecites_as(
        &xa,
        &[
            "partners",
            "keygen",
            "--parameter",
            parameter,
            "--key-id",
            "XA-10",
        ],
    );
    assert!(!again.status.success(), "{}", stdout(&again));
    assert!(stderr(&again).contains("--rotate"), "{}", stderr(&again));
    let ssm = ecites_aws::signing::ssm_client(
        Some(&xa.local.endpoint),
        REGION,
        &ecites_aws::ClientOptions {
            emulator_credentials: true,
            ..ecites_aws::ClientOptions::default()
        },
    )
    .await;
    let kept = ecites_aws::signing::load_signing_identity(&ssm, parameter, "XA-9")
        .await
        .unwrap();
    assert_eq!(kept.public_key_base64(), first, "the key stayed");
    let forced = public_key(&succeeded(&ecites_as(
        &xa,
        &[
            "partners",
            "keygen",
            "--parameter",
            parameter,
            "--key-id",
            "XA-10",
            "--force",
        ],
    )));
    assert_ne!(forced, first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn species_import_loads_the_checklist_that_makes_ingest_refuse_a_wrong_appendix() {
    let (xa, _xb) = pair().await;
    let export = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/domain/tests/fixtures/species/Index_of_CITES_Species_2026-11-01_0930.csv"
    );
    // A dry run writes nothing.
    let dry = succeeded(&ecites_as(&xa, &["species", "import", "--dry-run", export]));
    assert!(
        dry.contains("CITES checklist of 2026-11-01: 15 taxa"),
        "{dry}"
    );
    assert!(xa
        .local
        .get_object("config/species.json")
        .await
        .unwrap()
        .is_none());
    let loaded = succeeded(&ecites_as(&xa, &["species", "import", export]));
    assert!(loaded.contains("config/species.json"), "{loaded}");
    // Hermann's tortoise is Appendix II: declared I, ingest refuses it now.
    let mut permit = fixtures::export_permit("26XA0901", "XA", "XB", 3);
    permit.blocks[0].appendix = Some(ecites_domain::Coded::parse("I"));
    xa.local
        .put_object("inbox/26XA0901.json", fixtures::json(&permit))
        .await
        .unwrap();
    xa.local.drain(Duration::from_secs(60)).await.unwrap();
    let report = xa
        .local
        .get_object("rejected/inbox/26XA0901.json.report.json")
        .await
        .unwrap()
        .expect("a rejection report");
    assert!(String::from_utf8_lossy(&report).contains("listing-appendix-mismatch"));
    // Not a checklist: refused, naming the missing column, exit 2.
    let refused = ecites_as(
        &xa,
        &[
            "species",
            "import",
            "--dry-run",
            concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
        ],
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("TaxonId"), "{}", stderr(&refused));
}

/// A direct ingest message carrying a use of XA's permit `number`, on 2026-02-10.
fn use_message(kind: &str, number: &str, by: &str, declaration: &str, quantity: i64) -> String {
    fixtures::use_message(kind, "XA", number, by, declaration, "2026-02-10", quantity)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_answers_customs_from_the_ledger_and_status_shows_the_balance_and_the_uses() {
    let (xa, xb) = pair().await;
    let permit = fixtures::export_permit("26XA0960", "XA", "XB", 10);
    xa.drop_permit("26XA0960", &permit).await.unwrap();
    xa.forward_until_quiet(Duration::from_secs(30))
        .await
        .unwrap();

    // Before export: usable, nothing used yet, 10 remaining.
    let before = ecites_as(
        &xa,
        &[
            "verify",
            "XA",
            "26XA0960",
            "--at",
            "export",
            "--on",
            "2026-02-10",
            "--block",
            "A=10",
        ],
    );
    let text = succeeded(&before);
    assert!(text.contains("usable for this shipment"), "{text}");
    assert!(
        text.contains("Issued by this Management Authority"),
        "{text}"
    );
    assert!(text.contains("No use recorded."), "{text}");

    // XA's customs endorse 8 of the 10.
    xa.local
        .send_direct(&use_message(
            "export_endorsement",
            "26XA0960",
            "XA",
            "XA-D-1",
            8,
        ))
        .await
        .unwrap();
    xa.local.drain(Duration::from_secs(30)).await.unwrap();
    let shown = succeeded(&ecites_as(&xa, &["status", "XA", "26XA0960"]));
    assert!(shown.contains("customs uses and balance:"), "{shown}");
    assert!(
        shown.contains("export endorsement by XA on 2026-02-10, declaration XA-D-1"),
        "{shown}"
    );
    let row = shown
        .lines()
        .find(|line| line.trim_start().starts_with("A ") && line.contains("Testudo hermanni"))
        .unwrap_or_else(|| panic!("a balance row for block A: {shown}"));
    let figures: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(figures[3..7], ["10", "8", "0", "2"], "{row}");

    // A second export would be a second consignment: not usable, exit 1, as JSON too.
    let again = ecites_as(
        &xa,
        &[
            "verify",
            "XA",
            "26XA0960",
            "--at",
            "export",
            "--on",
            "2026-02-11",
            "--format",
            "json",
        ],
    );
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
    let answer: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(answer["usable"], false);
    assert_eq!(answer["findings"][0]["rule"], "use-second-consignment");
    assert_eq!(answer["balance"][0]["remaining"], "2");

    // At XB: received from XA, and a paper permit XB never received is not usable.
    let at_xb = succeeded(&ecites_as(
        &xb,
        &[
            "verify",
            "XA",
            "26XA0960",
            "--on",
            "2026-02-12",
            "--block",
            "A=8",
        ],
    ));
    assert!(at_xb.contains("Received electronically from XA"), "{at_xb}");
    let forged = ecites_as(&xb, &["verify", "XA", "26XA0999", "--on", "2026-02-12"]);
    assert_eq!(forged.status.code(), Some(1));
    assert!(
        stdout(&forged).contains("use-permit-not-received"),
        "{}",
        stdout(&forged)
    );

    // A ledger that cannot be read is exit 2, not a verdict.
    let unreadable = std::process::Command::new(env!("CARGO_BIN_EXE_ecites"))
        .args(["verify", "XA", "26XA0960"])
        .env_clear()
        .env("ECITES_COUNTRY", "XA")
        .output()
        .unwrap();
    assert_eq!(unreadable.status.code(), Some(2), "{}", stderr(&unreadable));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agencies_added_through_the_cli_are_heard_at_the_receive_endpoint_until_removed() {
    let (_xa, xb) = pair().await;
    let customs = SigningIdentity::generate("xb-customs-1").unwrap();
    let added = succeeded(&ecites_as(
        &xb,
        &[
            "agencies",
            "add",
            "xb-customs",
            "--role",
            "customs",
            "--public-key",
            &customs.public_key_base64(),
            "--key-id",
            "xb-customs-1",
            "--name",
            "Customs of XB",
        ],
    ));
    assert!(
        added.contains("agency xb-customs (XB, customs) saved"),
        "{added}"
    );
    let listed = succeeded(&ecites_as(&xb, &["agencies", "list"]));
    assert!(
        listed.contains("xb-customs") && listed.contains("Customs of XB"),
        "{listed}"
    );
    let bad_role = ecites_as(
        &xb,
        &[
            "agencies",
            "add",
            "x",
            "--role",
            "smuggler",
            "--public-key",
            &customs.public_key_base64(),
        ],
    );
    assert!(!bad_role.status.success());
    assert!(
        stderr(&bad_role).contains("--role"),
        "{}",
        stderr(&bad_role)
    );

    let ask = |message_id: &str| {
        serde_json::to_vec(&serde_json::json!({
            "message_version": 1, "message_id": message_id, "from": "XB", "agency": "xb-customs",
            "to": "XB", "sent_at": Utc::now(),
            "permit": {"issuer": "XA", "number": "26XA0970"}, "at": "import", "on": "2026-02-12"
        }))
        .unwrap()
    };
    let post = |body: Vec<u8>| {
        let headers = vec![
            ("content-type", "application/json".to_owned()),
            ("x-ecites-signature", customs.sign(&body)),
            ("x-ecites-key-id", customs.key_id.clone()),
        ];
        let url = format!("{}/verify", xb.server.url().trim_end_matches('/'));
        async move {
            HyperTransport::for_partners(Duration::from_secs(10))
                .unwrap()
                .post(&url, &headers, body)
                .await
                .expect("XB answers")
        }
    };
    let reply = post(ask("v-1")).await;
    let answer: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(reply.status, 200, "{answer}");
    assert_eq!(
        answer["usable"], false,
        "XB never received 26XA0970: {answer}"
    );
    assert_eq!(answer["findings"][0]["rule"], "use-permit-not-received");

    succeeded(&ecites_as(&xb, &["agencies", "remove", "xb-customs"]));
    directory_cache_expires().await;
    let reply = post(ask("v-2")).await;
    assert_eq!(reply.status, 401, "a removed agency is not heard");
    let gone = ecites_as(&xb, &["agencies", "remove", "xb-customs"]);
    assert_eq!(gone.status.code(), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_at_the_border_runs_the_listing_tier_with_the_deployments_checklist() {
    let (xa, xb) = pair().await;
    // XA (no checklist) issues Hermann's tortoises declared Appendix I; they are Appendix II.
    let mut permit = fixtures::export_permit("26XA0980", "XA", "XB", 3);
    permit.blocks[0].appendix = Some(ecites_domain::Coded::parse("I"));
    xa.drop_permit("26XA0980", &permit).await.unwrap();
    xa.forward_until_quiet(Duration::from_secs(30))
        .await
        .unwrap();
    let before = succeeded(&ecites_as(
        &xb,
        &["verify", "XA", "26XA0980", "--on", "2026-02-12"],
    ));
    assert!(
        !before.contains("listing-"),
        "no checklist, no listing tier: {before}"
    );
    let export = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/domain/tests/fixtures/species/Index_of_CITES_Species_2026-11-01_0930.csv"
    );
    succeeded(&ecites_as(&xb, &["species", "import", export]));
    // XA is the authority on its permit: at XB the mismatch is a warning, the permit usable.
    let after = succeeded(&ecites_as(
        &xb,
        &[
            "verify",
            "XA",
            "26XA0980",
            "--on",
            "2026-02-12",
            "--format",
            "json",
        ],
    ));
    let answer: serde_json::Value = serde_json::from_str(&after).unwrap();
    assert_eq!(answer["usable"], true, "{answer}");
    let listing = answer["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "listing-appendix-mismatch")
        .unwrap_or_else(|| panic!("the listing finding: {answer}"));
    assert_eq!(listing["severity"], "warning");
    assert!(
        listing["message"].as_str().unwrap().contains("2026-11-01"),
        "{listing}"
    );
}

/// Runs `ecites report annual` as `ma`'s operator.
fn annual_report(ma: &Ma, extra: &[&str]) -> Output {
    let mut args = vec!["report", "annual", "--year", "2026"];
    args.extend_from_slice(extra);
    ecites_as(ma, &args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_annual_writes_the_rows_exits_1_on_a_primary_error_and_warns_with_the_checklist() {
    let (xa, _xb) = pair().await;
    // Two permits of 2026: Hermann's tortoises declared Appendix I (they are Appendix II), and
    // a clean one; both endorsed at export.
    let mut wrong_appendix = fixtures::export_permit("26XA0990", "XA", "XB", 5);
    wrong_appendix.blocks[0].appendix = Some(ecites_domain::Coded::parse("I"));
    xa.drop_permit("26XA0990", &wrong_appendix).await.unwrap();
    xa.drop_permit(
        "26XA0991",
        &fixtures::export_permit("26XA0991", "XA", "XB", 4),
    )
    .await
    .unwrap();
    xa.local.drain(Duration::from_secs(30)).await.unwrap();
    for (number, declaration, quantity) in [("26XA0990", "XA-D-90", 5), ("26XA0991", "XA-D-91", 4)]
    {
        xa.local
            .send_direct(&use_message(
                "export_endorsement",
                number,
                "XA",
                declaration,
                quantity,
            ))
            .await
            .unwrap();
    }
    xa.local.drain(Duration::from_secs(30)).await.unwrap();

    // Clean without a checklist: the rows, the summary with the basis, exit 0.
    let output = annual_report(&xa, &["--as", "exporter"]);
    let csv = succeeded(&output);
    assert_eq!(
        csv,
        "Appendix,SpeciesName,TermCode,Quantity,UnitCode,TradingPartner,CountryOfOrigin,ExportPermit,OriginPermit,IFSPermit,PurposeCode,SourceCode,Year\n\
         1,Testudo hermanni,LIV,5,NAR,XB,,26XA0990,,,T,C,2026\n\
         2,Testudo hermanni,LIV,4,NAR,XB,,26XA0991,,,T,C,2026\n"
    );
    let summary = stderr(&output);
    assert!(summary.contains("Basis: actual"), "{summary}");
    assert!(
        summary.contains("the taxon checks did not run"),
        "{summary}"
    );

    // With the deployment's checklist: the Appendix is a secondary check, a warning; exit 0.
    let export = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/domain/tests/fixtures/species/Index_of_CITES_Species_2026-11-01_0930.csv"
    );
    succeeded(&ecites_as(&xa, &["species", "import", export]));
    let output = annual_report(&xa, &["--as", "exporter"]);
    succeeded(&output);
    let warned = stderr(&output);
    assert!(
        warned
            .lines()
            .any(|line| line.starts_with("warning: permit XA/26XA0990 block A: Appendix:")),
        "{warned}"
    );

    // The permitted basis, for machines: the same columns as keys.
    let output = annual_report(
        &xa,
        &[
            "--as",
            "exporter",
            "--basis",
            "permitted",
            "--format",
            "json",
        ],
    );
    let document: serde_json::Value = serde_json::from_str(&succeeded(&output)).unwrap();
    assert_eq!(document["rows"][1]["Quantity"], "4", "{document}");
    assert_eq!(document["rows"][1]["ExportPermit"], "26XA0991");
    assert_eq!(document["summary"]["basis"], "permitted");

    // A use in UN/ECE Rec 20's kilograms (KGM, not a CITES unit) fails a primary check: the
    // row is still written, the error named on stderr, exit 1.
    xa.drop_permit(
        "26XA0992",
        &fixtures::export_permit("26XA0992", "XA", "XB", 6),
    )
    .await
    .unwrap();
    xa.local.drain(Duration::from_secs(30)).await.unwrap();
    let in_kilograms = use_message("export_endorsement", "26XA0992", "XA", "XA-D-92", 2)
        .replace(r#""value":"2""#, r#""value":"2","unit":"KGM""#);
    xa.local.send_direct(&in_kilograms).await.unwrap();
    xa.local.drain(Duration::from_secs(30)).await.unwrap();
    let output = annual_report(&xa, &["--as", "exporter"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stdout(&output).contains("26XA0992"), "{}", stdout(&output));
    assert!(
        stderr(&output)
            .lines()
            .any(|line| line.starts_with("error: permit XA/26XA0992 block A: UnitCode:")),
        "{}",
        stderr(&output)
    );

    // A ledger that cannot be read: exit 2.
    let unreachable = ecites_command(&xa)
        .args(["report", "annual", "--year", "2026", "--as", "importer"])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_MAX_ATTEMPTS", "1")
        .output()
        .unwrap();
    assert_eq!(
        unreachable.status.code(),
        Some(2),
        "{}",
        stderr(&unreachable)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partners_and_species_need_no_deliveries_queue_in_the_environment() {
    let (xa, _xb) = pair().await;
    let without_queue = |args: &[&str]| {
        ecites_command(&xa)
            .args(args)
            .env_remove("ECITES_DELIVERIES_QUEUE_URL")
            .output()
            .expect("the ecites binary runs")
    };
    let listed = succeeded(&without_queue(&["partners", "list"]));
    assert!(listed.contains("XB"), "{listed}");
    let export = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/domain/tests/fixtures/species/Index_of_CITES_Species_2026-11-01_0930.csv"
    );
    succeeded(&without_queue(&["species", "import", export]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partners_add_records_a_v1_document_format_lists_it_and_keeps_it_when_re_added() {
    let (xa, xb) = pair().await;
    let public_key = xb.key.public_key_base64();
    let add = |extra: &[&str]| {
        let mut args = vec![
            "partners",
            "add",
            "XB",
            "--endpoint",
            "https://ma.xb.example/cites",
            "--public-key",
            &public_key,
        ];
        args.extend_from_slice(extra);
        ecites_as(&xa, &args)
    };
    let format = || async { directory_entry(&xa, "XB").await.document_format };
    succeeded(&add(&["--document-format", "v1"]));
    assert_eq!(format().await, DocumentFormat::V1);
    let listed = succeeded(&ecites_as(&xa, &["partners", "list"]));
    assert!(
        listed.contains("document format v1: sent toolkit v1 (CBFShip) XML"),
        "{listed}"
    );
    // Re-added without the option (say, with a new endpoint): v1 stays.
    succeeded(&add(&[]));
    assert_eq!(format().await, DocumentFormat::V1);
    succeeded(&add(&["--document-format", "v2"]));
    assert_eq!(format().await, DocumentFormat::V2);
    let listed = succeeded(&ecites_as(&xa, &["partners", "list"]));
    assert!(!listed.contains("document format"), "{listed}");
    let refused = add(&["--document-format", "v3"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("\"v3\" is not a document format"),
        "{}",
        stderr(&refused)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_partner_needs_no_endpoint_its_permit_waits_and_replay_awaiting_pull_sends_it_once_it_takes_pushes(
) {
    let (xa, xb) = pair().await;
    let public_key = xb.key.public_key_base64();
    let add = |extra: &[&str]| {
        let mut args = vec!["partners", "add", "XB", "--public-key", &public_key];
        args.extend_from_slice(extra);
        ecites_as(&xa, &args)
    };
    // A partner we push to needs an endpoint.
    let refused = add(&[]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("--endpoint is required"),
        "{}",
        stderr(&refused)
    );
    // One that pulls our permits needs none, and is told what it cannot get.
    let saved = succeeded(&add(&["--delivery", "pull"]));
    assert!(saved.contains("XB has no endpoint"), "{saved}");
    let entry = directory_entry(&xa, "XB").await;
    assert_eq!(entry.endpoint, "");
    assert_eq!(
        entry.delivery,
        ecites_exchange::directory::DeliveryMode::Pull
    );
    let listed = succeeded(&ecites_as(&xa, &["partners", "list"]));
    assert!(listed.contains("(none: it pulls from us)"), "{listed}");
    // A pull partner's endpoint, when given, is still checked.
    let plain_http = add(&["--delivery", "pull", "--endpoint", "http://ma.xb.example/"]);
    assert!(
        stderr(&plain_http).contains("--endpoint must be https://"),
        "{}",
        stderr(&plain_http)
    );

    // Forward, reading the entry from the bucket, sends XB nothing and the delivery waits.
    directory_cache_expires().await;
    xa.drop_permit(
        "26XA0990",
        &fixtures::export_permit("26XA0990", "XA", "XB", 4),
    )
    .await
    .unwrap();
    xa.forward_until_quiet(Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(xb.server.requests(), 0, "nothing POSTed to a pull partner");
    let shown = succeeded(&ecites_as(&xa, &["status", "XA", "26XA0990"]));
    assert!(shown.contains("PENDING"), "{shown}");
    assert!(shown.contains("waiting for XB to fetch it"), "{shown}");

    // While XB still pulls, replaying what waits would only wait again: refused.
    let still_pulls = ecites_as(&xa, &["replay", "--awaiting-pull", "XB"]);
    assert_eq!(still_pulls.status.code(), Some(1));
    assert!(
        stdout(&still_pulls).contains("XB still pulls our permits"),
        "{}",
        stdout(&still_pulls)
    );
    // XB moves to push: what waited is queued once and delivered.
    let endpoint = xb.server.url();
    succeeded(&add(&["--endpoint", &endpoint, "--delivery", "push"]));
    let queued = succeeded(&ecites_as(&xa, &["replay", "--awaiting-pull", "XB"]));
    assert!(queued.contains("queued 1 deliveries to XB"), "{queued}");
    directory_cache_expires().await;
    xa.forward_until_quiet(Duration::from_secs(30))
        .await
        .unwrap();
    let shown = succeeded(&ecites_as(&xa, &["status", "XA", "26XA0990"]));
    assert!(shown.contains("DELIVERED"), "{shown}");
    assert_eq!(xb.server.requests(), 1, "sent once");
    // Nothing waits any more: a second replay queues nothing.
    let again = succeeded(&ecites_as(&xa, &["replay", "--awaiting-pull", "XB"]));
    assert!(again.contains("queued 0 deliveries to XB"), "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partners_add_names_the_client_certificate_forward_presents_and_keeps_it_until_removed() {
    let (xa, xb) = pair().await;
    let public_key = xb.key.public_key_base64();
    let add = |extra: &[&str]| {
        let mut args = vec![
            "partners",
            "add",
            "XB",
            "--endpoint",
            "https://ma.xb.example/cites",
            "--public-key",
            &public_key,
        ];
        args.extend_from_slice(extra);
        ecites_as(&xa, &args)
    };
    let secret = || async { directory_entry(&xa, "XB").await.client_certificate_secret };
    add(&[
        "--client-certificate-secret",
        "ecites/client-certificates/xb",
    ]);
    assert_eq!(
        secret().await.as_deref(),
        Some("ecites/client-certificates/xb")
    );
    let listed = succeeded(&ecites_as(&xa, &["partners", "list"]));
    assert!(
        listed.contains(
            "mutual TLS: presents the client certificate in secret ecites/client-certificates/xb"
        ),
        "{listed}"
    );
    // Re-added without the option (say, with a new key): the certificate stays.
    succeeded(&add(&[]));
    assert_eq!(
        secret().await.as_deref(),
        Some("ecites/client-certificates/xb")
    );
    succeeded(&add(&["--client-certificate-secret", ""]));
    assert_eq!(secret().await, None, "\"\" removes it");
    let refused = add(&["--client-certificate-secret", "two words"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("--client-certificate-secret \"two words\""),
        "{}",
        stderr(&refused)
    );
}

/// XB's operator registers XA as an EPIX-only partner (a loopback service answering EPIX's
/// recorded answer byte for byte) and pulls XA's permit with `ecites fetch`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_pulls_a_permit_from_an_epix_partner_and_status_shows_it_received() {
    use ecites_local::emulation::epix_partner::{EpixMode, EpixPartner, EPIX_PERMIT_NUMBER};
    let (_xa, xb) = pair().await;
    let partner = EpixPartner::start(EpixMode::Recorded).await.unwrap();
    // No Ed25519 key: an EPIX partner is known by its certificate. Without --protocol epix-soap
    // the key is required.
    let refused = ecites_as(
        &xb,
        &["partners", "add", "XA", "--endpoint", &partner.url()],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("--public-key is required"),
        "{}",
        stderr(&refused)
    );
    succeeded(&ecites_as(
        &xb,
        &[
            "partners",
            "add",
            "XA",
            "--endpoint",
            &partner.url(),
            "--protocol",
            "epix-soap",
        ],
    ));
    let listed = succeeded(&ecites_as(&xb, &["partners", "list"]));
    assert!(listed.contains("EPIX (SOAP, pull only)"), "{listed}");

    // Configured like receive: a pull sends nothing to the deliveries queue, so fetch runs
    // without its URL.
    let fetched = succeeded(
        &ecites_command(&xb)
            .env_remove("ECITES_DELIVERIES_QUEUE_URL")
            .args(["fetch", "XA", EPIX_PERMIT_NUMBER])
            .output()
            .expect("the ecites binary runs"),
    );
    assert!(
        fetched.contains(
            "XA's permit XA000000 is recorded as received (version 1, tracking number XB-"
        ),
        "{fetched}"
    );
    let status = succeeded(&ecites_as(&xb, &["status", "XA", EPIX_PERMIT_NUMBER]));
    assert!(status.to_lowercase().contains("received"), "{status}");

    partner.set_mode(EpixMode::Fault(
        "Client".into(),
        "CertificateNotFound".into(),
    ));
    let missing = ecites_as(&xb, &["fetch", "XA", "XA000001"]);
    assert_eq!(missing.status.code(), Some(1), "{}", stdout(&missing));
    assert!(
        stdout(&missing).contains("Could not fetch XA's permit XA000001")
            && stdout(&missing).contains("CertificateNotFound"),
        "{}",
        stdout(&missing)
    );
    assert_eq!(partner.requests().len(), 2);
    // The failed pull is on record: `ecites status` shows it in the permit's history.
    let history = succeeded(&ecites_as(&xb, &["status", "XA", "XA000001"]));
    assert!(
        history.contains("EPIX_FETCH_FAILED") && history.contains("CertificateNotFound"),
        "{history}"
    );
}

/// The value of the sweep's table row that starts with `label`.
fn sweep_row(printed: &str, label: &str) -> Option<usize> {
    printed
        .lines()
        .find(|line| line.trim_start().starts_with(label))
        .and_then(|line| line.split_whitespace().last()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_removes_only_received_objects_no_record_names_once_old_enough_and_a_dry_run_removes_nothing(
) {
    let (xa, xb) = pair().await;
    // XA's permit reaches XB and is recorded: its envelope and XML are named by the record.
    let (status, answer) = send_signed(&xb, "26XA0970", &xa.key).await;
    assert_eq!(status, 200, "{answer}");
    let recorded = [
        "received/XA/26XA0970/26XA0970-XA-1.json",
        "received/XA/26XA0970/26XA0970-XA-1.xml",
    ];
    // What a message leaves when its ledger write timed out and was never applied, a permit
    // the ledger has never heard of, an object receive never writes, and a fault answered to a
    // pull from an EPIX partner (kept on record by the pull, named by no record).
    let orphaned = [
        "received/XA/26XA0970/lost-answer.json",
        "received/XA/26XA0970/lost-answer.xml",
    ];
    let unknown_permit = "received/XA/26XA0971/m1.json";
    let foreign = "received/XA/README.txt";
    let pulled_fault = "received/XA/26XA0970/epix-nonfinal-0123456789abcdef0123456789abcdef.json";
    for key in orphaned
        .iter()
        .chain([&unknown_permit, &foreign, &pulled_fault])
    {
        xb.local.put_object(key, b"{}".to_vec()).await.unwrap();
    }
    let all: Vec<String> = {
        let mut all: Vec<String> = recorded
            .iter()
            .chain(&orphaned)
            .chain([&unknown_permit, &foreign, &pulled_fault])
            .map(|k| k.to_string())
            .collect();
        all.sort();
        all
    };
    assert_eq!(xb.local.list("received/").await.unwrap(), all);

    // By default only objects an hour old are looked at: these were just written.
    let young = succeeded(&ecites_as(&xb, &["sweep"]));
    assert_eq!(
        sweep_row(&young, "younger than the window"),
        Some(6),
        "{young}"
    );
    assert_eq!(
        sweep_row(&young, "named by no record, removed"),
        Some(0),
        "{young}"
    );
    assert_eq!(xb.local.list("received/").await.unwrap(), all);

    // A dry run names what it would remove and removes nothing.
    let dry = succeeded(&ecites_as(
        &xb,
        &["sweep", "--older-than", "0", "--dry-run"],
    ));
    assert_eq!(
        sweep_row(&dry, "named by no record (would be removed)"),
        Some(2),
        "{dry}"
    );
    for key in orphaned {
        assert!(dry.contains(&format!("\n  {key}\n")), "{dry}");
    }
    assert_eq!(xb.local.list("received/").await.unwrap(), all);

    // The sweep removes the two orphans; the recorded document's objects, the unknown permit's,
    // the foreign key and the pulled answer stay, and the unknown permit's and the foreign key
    // are named for the operator.
    let swept = succeeded(&ecites_as(&xb, &["sweep", "--older-than", "0"]));
    assert_eq!(
        sweep_row(&swept, "named by a received record"),
        Some(2),
        "{swept}"
    );
    assert_eq!(
        sweep_row(&swept, "named by no record, removed"),
        Some(2),
        "{swept}"
    );
    assert_eq!(
        sweep_row(&swept, "of permits the ledger does not know"),
        Some(1),
        "{swept}"
    );
    assert_eq!(
        sweep_row(&swept, "not of receive's layout"),
        Some(1),
        "{swept}"
    );
    assert_eq!(
        sweep_row(&swept, "answers pulled from EPIX partners"),
        Some(1),
        "{swept}"
    );
    assert!(
        swept.contains(&format!(
            "ECITES_TABLE the stack's table?):\n  {unknown_permit}"
        )),
        "{swept}"
    );
    let mut left: Vec<String> = recorded
        .iter()
        .chain([&unknown_permit, &foreign, &pulled_fault])
        .map(|k| k.to_string())
        .collect();
    left.sort();
    assert_eq!(xb.local.list("received/").await.unwrap(), left);
    let shown = succeeded(&ecites_as(&xb, &["status", "XA", "26XA0970"]));
    assert!(shown.contains("26XA0970-XA-1"), "{shown}");

    // A window reaching past a year is refused, naming the option.
    let too_long = ecites_as(&xb, &["sweep", "--within-days", "400"]);
    assert_eq!(too_long.status.code(), Some(2));
    assert!(
        stderr(&too_long).contains("--within-days 400 is more than 365"),
        "{}",
        stderr(&too_long)
    );
}

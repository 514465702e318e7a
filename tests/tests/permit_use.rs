//! Customs uses of permits end to end on moto: two MAs (XA issues, XB imports), customs at both
//! ends sending uses on their MA's ingest queue, the real ingest, forward and receive functions,
//! and the ledger's balance, findings and alerts.

use ecites_domain::usage::{Border, PermitOrigin, VerifyRequest};
use ecites_e2e::*;
use ecites_exchange::notify::{EventType, Filters, Role};
use ecites_exchange::usage::{record_use, verify_permit, UseLedger, UseServices};
use ecites_exchange::SystemClock;
use rust_decimal::Decimal;
use serde_json::json;
use std::time::Duration;

const QUIET: Duration = Duration::from_secs(30);

/// A direct ingest message carrying a use of XA's permit `number`.
fn use_message(
    kind: &str,
    number: &str,
    reported_by: &str,
    declaration: &str,
    date: &str,
    quantity: i64,
) -> String {
    fixtures::use_message(kind, "XA", number, reported_by, declaration, date, quantity)
}

/// What `ma`'s customs learn from its ledger about XA's permit `number` before clearing a
/// shipment `at` a border on `on`, declaring `declared` (block, quantity).
async fn verify_at(
    ma: &ecites_local::stack::exchange::Ma,
    number: &str,
    at: Border,
    on: &str,
    declared: Vec<(String, Decimal)>,
) -> ecites_domain::usage::Verification {
    let own = ma.local.config.country;
    verify_permit(
        UseServices {
            ledger: ma.local.function.ledger(),
            clock: &SystemClock,
            own_country: own,
        },
        &VerifyRequest {
            id: id("XA", number),
            at,
            by: own,
            on: on.parse().unwrap(),
            declared,
        },
    )
    .await
    .unwrap()
}

async fn send_use(local: &Local, body: &str) {
    local.send_direct(body).await.expect("use sent");
    local.drain(DRAIN).await.expect("ingest drained");
}

fn rules_of(findings: &[ecites_domain::Finding]) -> Vec<String> {
    findings.iter().map(|f| f.rule.clone()).collect()
}

async fn uses(local: &Local, number: &str) -> ecites_exchange::usage::PermitUses {
    local
        .function
        .ledger()
        .permit_uses(&id("XA", number))
        .await
        .expect("ledger read")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endorsed_at_xa_and_confirmed_at_xb_each_ledger_keeps_the_balance_and_a_second_consignment_is_an_alert(
) {
    let (xa, xb) = start_pair().await;
    let permit = fixtures::export_permit("26XA0100", "XA", "XB", 10);
    xa.drop_permit("26XA0100", &permit).await.unwrap();
    xa.forward_until_quiet(QUIET).await.unwrap();

    // XA's customs endorse the export (box 14): 8 of the 10 permitted.
    send_use(
        &xa.local,
        &use_message(
            "export_endorsement",
            "26XA0100",
            "XA",
            "XA-DEC-1",
            "2026-02-10",
            8,
        ),
    )
    .await;
    let at_xa = uses(&xa.local, "26XA0100").await;
    assert_eq!(at_xa.record.as_ref().unwrap().origin, PermitOrigin::Issued);
    assert_eq!(at_xa.uses.len(), 1);
    assert!(
        at_xa.uses[0].findings.is_empty(),
        "{:?}",
        at_xa.uses[0].findings
    );

    // The endorsed permit (box 14: 8 exported) is the permit's version 2, delivered to XB.
    xa.forward_until_quiet(QUIET).await.unwrap();
    let endorsed = status(&xa.local, "XA", "26XA0100").await;
    assert_eq!(endorsed.versions.len(), 2);
    let sent = endorsed
        .deliveries
        .iter()
        .find(|d| d.kind == ecites_exchange::DeliveryKind::Endorsement)
        .expect("the endorsed permit's delivery to XB");
    assert_eq!(
        sent.state,
        ecites_exchange::DeliveryState::Delivered,
        "{sent:?}"
    );
    let at_xb = uses(&xb.local, "26XA0100").await;
    let record = at_xb.record.as_ref().unwrap();
    assert_eq!(record.version, 2);
    assert_eq!(
        record.facts.blocks[0].endorsed.as_ref().unwrap().value,
        Decimal::from(8)
    );
    let xml = xb
        .local
        .get_object(at_xb.xml_key.as_deref().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&xml).contains("ExaminationTransportEvent"));
    // XB checks what arrives against what XA's customs endorsed, not only the permit.
    let more_than_exported = verify_at(
        &xb,
        "26XA0100",
        Border::Import,
        "2026-02-12",
        vec![("A".into(), Decimal::from(9))],
    )
    .await;
    assert_eq!(
        rules_of(&more_than_exported.findings),
        ["use-import-above-exported"]
    );

    // XB's customs confirm the import of the permit XB received electronically.
    let confirmation = use_message(
        "import_confirmation",
        "26XA0100",
        "XB",
        "XB-DEC-1",
        "2026-02-12",
        8,
    );
    send_use(&xb.local, &confirmation).await;
    let at_xb = uses(&xb.local, "26XA0100").await;
    assert!(matches!(
        at_xb.record.as_ref().unwrap().origin,
        PermitOrigin::Received { from, .. } if from.to_string() == "XA"
    ));
    assert_eq!(at_xb.uses.len(), 1);
    assert!(
        at_xb.uses[0].findings.is_empty(),
        "{:?}",
        at_xb.uses[0].findings
    );

    // The same confirmation delivered twice is one use.
    send_use(&xb.local, &confirmation).await;
    assert_eq!(uses(&xb.local, "26XA0100").await.uses.len(), 1);

    // XB tells XA, the issuer, signed and tracked: XA's ledger now shows the import too, and
    // XA's balance has both ends of the shipment.
    xb.forward_until_quiet(QUIET).await.unwrap();
    let at_xa = uses(&xa.local, "26XA0100").await;
    assert_eq!(at_xa.uses.len(), 2, "{:?}", at_xa.uses);
    let import = at_xa
        .uses
        .iter()
        .find(|u| u.key.starts_with("import_confirmation#"))
        .expect("XB's import confirmation recorded at XA");
    assert!(import.findings.is_empty(), "{:?}", import.findings);
    let at_xa_answer = verify_at(&xa, "26XA0100", Border::Export, "2026-02-12", vec![]).await;
    assert_eq!(at_xa_answer.balance[0].exported, Decimal::from(8));
    assert_eq!(at_xa_answer.balance[0].imported, Decimal::from(8));
    let xb_status = status(&xb.local, "XA", "26XA0100").await;
    let told = xb_status
        .deliveries
        .iter()
        .find(|d| d.kind == ecites_exchange::DeliveryKind::Use)
        .expect("XB's delivery of the use to XA");
    assert_eq!(
        told.state,
        ecites_exchange::DeliveryState::Delivered,
        "{told:?}"
    );
    assert!(told
        .tracking_number
        .as_deref()
        .is_some_and(|t| t.starts_with("XA-U-")));

    // Verification at XB: one read gives the balance.
    let answer = verify_at(&xb, "26XA0100", Border::Import, "2026-02-12", vec![]).await;
    assert_eq!(answer.balance[0].imported, Decimal::from(8));
    assert_eq!(answer.balance[0].permitted, Some(Decimal::from(10)));
    // Another import under the same permit would be a second consignment.
    assert!(!answer.usable);
    assert_eq!(rules_of(&answer.findings), ["use-second-consignment"]);

    // A second export under another declaration is recorded with its alert.
    send_use(
        &xa.local,
        &use_message(
            "export_endorsement",
            "26XA0100",
            "XA",
            "XA-DEC-2",
            "2026-02-20",
            2,
        ),
    )
    .await;
    let at_xa = uses(&xa.local, "26XA0100").await;
    assert_eq!(at_xa.uses.len(), 3, "export, import, second export");
    let second = at_xa
        .uses
        .iter()
        .find(|u| u.key.ends_with("XA-DEC-2"))
        .unwrap();
    assert_eq!(rules_of(&second.findings), ["use-second-consignment"]);
    let status = status(&xa.local, "XA", "26XA0100").await;
    assert!(
        status
            .history
            .iter()
            .any(|h| h.event == "USE_RECORDED" && h.detail.contains("use-second-consignment")),
        "{:?}",
        status.history
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_quantity_expired_and_never_received_permits_raise_their_alerts_and_a_late_permit_is_checked_again(
) {
    let (xa, xb) = start_pair().await;
    for number in ["26XA0201", "26XA0202"] {
        let permit = fixtures::export_permit(number, "XA", "XB", 10);
        xa.drop_permit(number, &permit).await.unwrap();
    }
    xa.forward_until_quiet(QUIET).await.unwrap();

    send_use(
        &xa.local,
        &use_message(
            "export_endorsement",
            "26XA0201",
            "XA",
            "D-1",
            "2026-02-10",
            11,
        ),
    )
    .await;
    assert_eq!(
        rules_of(&uses(&xa.local, "26XA0201").await.uses[0].findings),
        ["use-quantity-above-permitted"]
    );
    send_use(
        &xa.local,
        &use_message(
            "export_endorsement",
            "26XA0202",
            "XA",
            "D-2",
            "2026-07-01",
            5,
        ),
    )
    .await;
    assert_eq!(
        rules_of(&uses(&xa.local, "26XA0202").await.uses[0].findings),
        ["use-after-validity"]
    );

    // XB's customs are shown paper permit 26XA0299, which XB never received.
    send_use(
        &xb.local,
        &use_message(
            "import_confirmation",
            "26XA0299",
            "XB",
            "XB-D-9",
            "2026-02-12",
            3,
        ),
    )
    .await;
    let waiting = uses(&xb.local, "26XA0299").await;
    assert!(waiting.record.is_none());
    assert!(waiting.uses[0].waiting);
    assert_eq!(
        rules_of(&waiting.uses[0].findings),
        ["use-permit-not-received"]
    );

    // The permit was only late: when XA's delivery arrives, the use is checked again.
    let late = fixtures::export_permit("26XA0299", "XA", "XB", 10);
    xa.drop_permit("26XA0299", &late).await.unwrap();
    xa.forward_until_quiet(QUIET).await.unwrap();
    let rechecked = uses(&xb.local, "26XA0299").await;
    assert!(rechecked.record.is_some());
    assert!(!rechecked.uses[0].waiting);
    assert!(
        rechecked.uses[0].findings.is_empty(),
        "{:?}",
        rechecked.uses[0].findings
    );
    let xb_status = status(&xb.local, "XA", "26XA0299").await;
    assert!(xb_status.history.iter().any(|h| h.event == "USE_RECHECKED"));

    // A use of XA's own number XA never issued.
    send_use(
        &xa.local,
        &use_message(
            "export_endorsement",
            "26XA0404",
            "XA",
            "D-4",
            "2026-02-10",
            1,
        ),
    )
    .await;
    assert_eq!(
        rules_of(&uses(&xa.local, "26XA0404").await.uses[0].findings),
        ["use-permit-not-issued"]
    );
    // XA's system sends the permit late: recording it finds the waiting use (the version's
    // transaction fails on the mark) and checks it again.
    let late_own = fixtures::export_permit("26XA0404", "XA", "XB", 10);
    xa.drop_permit("26XA0404", &late_own).await.unwrap();
    let now_known = uses(&xa.local, "26XA0404").await;
    assert!(!now_known.uses[0].waiting);
    assert!(
        now_known.uses[0].findings.is_empty(),
        "{:?}",
        now_known.uses[0].findings
    );
    // A permit nothing waited for is recorded at the usual cost (the ingest cost test), and
    // once checked, the mark no longer makes its next version look again.
    let reissue = fixtures::export_permit("26XA0404", "XA", "XB", 9);
    xa.drop_permit("26XA0404-v2", &reissue).await.unwrap();
    assert_eq!(status(&xa.local, "XA", "26XA0404").await.versions.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_consignments_arriving_at_once_exactly_one_is_first() {
    let local = start().await;
    for round in 0..4 {
        let number = format!("26XA03{round:02}");
        issue(&local, &number, "XB").await;
        local.drain(DRAIN).await.unwrap();
        let ledger = local.function.ledger();
        let services = UseServices {
            ledger,
            clock: &SystemClock,
            own_country: ecites_local::country("XA"),
        };
        let one = |declaration: &str| {
            let body = use_message(
                "export_endorsement",
                &number,
                "XA",
                declaration,
                "2026-02-10",
                1,
            );
            let value: serde_json::Value = serde_json::from_str(&body).unwrap();
            ecites_domain::usage::PermitUse::from_json(value["use"].to_string().as_bytes()).unwrap()
        };
        let (a, b) = tokio::join!(
            record_use(services, one("RACE-A"), "test:a"),
            record_use(services, one("RACE-B"), "test:b"),
        );
        let seconds = [a.unwrap(), b.unwrap()]
            .iter()
            .filter(|outcome| outcome.alerts() == ["use-second-consignment"])
            .count();
        assert_eq!(
            seconds, 1,
            "round {round}: exactly one of the two is a second consignment"
        );
        assert_eq!(uses(&local, &number).await.uses.len(), 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_an_enforcement_subscriber_filtering_by_rule_and_a_broken_use_is_refused_with_a_report(
) {
    let (local, notify) = start_notify().await;
    let queue = subscribed_queue(
        &local,
        &notify,
        "enforcement-xa",
        Role::Enforcement,
        &[EventType::Alert],
        Filters {
            rule: vec!["use-second-consignment".into()],
            ..Filters::default()
        },
    )
    .await;
    let customs = subscribed_queue(
        &local,
        &notify,
        "customs-xa",
        Role::Customs,
        &[EventType::Used],
        Filters::default(),
    )
    .await;
    issue(&local, "26XA0500", "XB").await;
    issue(&local, "26XA0501", "XB").await;
    local.drain(DRAIN).await.unwrap();
    for (declaration, quantity) in [("D-1", 4), ("D-2", 4)] {
        local
            .send_direct(&use_message(
                "export_endorsement",
                "26XA0500",
                "XA",
                declaration,
                "2026-02-10",
                quantity,
            ))
            .await
            .unwrap();
    }
    // Over quantity but the first consignment: an alert of another rule.
    local
        .send_direct(&use_message(
            "export_endorsement",
            "26XA0501",
            "XA",
            "D-3",
            "2026-02-10",
            99,
        ))
        .await
        .unwrap();
    // A use that names no declaration and a negative quantity is refused, field by field.
    let broken = use_message("export_endorsement", "26XA0500", "XA", "", "2026-02-10", -1);
    let message_id = local.send_direct(&broken).await.unwrap();
    run_everything(&local, &notify).await;

    let alerts = take_events(&local, &queue).await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["type"], "org.cites.epermit.alert");
    assert_eq!(alerts[0]["data"]["permit_number"], "26XA0500");
    assert_eq!(
        alerts[0]["data"]["detail"]["alerts"],
        "use-second-consignment"
    );
    assert_eq!(alerts[0]["data"]["detail"]["declaration_number"], "D-2");
    let used = take_events(&local, &customs).await;
    assert_eq!(
        used.len(),
        1,
        "only the first endorsement raised no alert: {used:#?}"
    );
    assert_eq!(used[0]["data"]["detail"]["kind"], "export_endorsement");

    let report = rejection_report(&local, &format!("sqs/{message_id}"))
        .await
        .expect("a rejection report for the broken use");
    assert!(report.contains("declaration_number"), "{report}");
    assert!(report.contains("use-quantity-not-positive"), "{report}");
    assert_eq!(uses(&local, "26XA0500").await.uses.len(), 2);
}

/// POSTs `body` signed with `key` to XB's receive endpoint at `path`; the status and answer.
async fn post_signed(
    xb: &ecites_local::stack::exchange::Ma,
    path: &str,
    body: &serde_json::Value,
    key: &ecites_exchange::protocol::SigningIdentity,
) -> (u16, serde_json::Value) {
    use ecites_exchange::http::HttpTransport as _;
    let body = serde_json::to_vec(body).unwrap();
    let headers = vec![
        ("content-type", "application/json".to_owned()),
        ("x-ecites-signature", key.sign(&body)),
        ("x-ecites-key-id", key.key_id.clone()),
    ];
    let url = format!("{}{path}", xb.server.url().trim_end_matches('/'));
    let reply = ecites_forward::HyperTransport::for_partners(Duration::from_secs(10))
        .unwrap()
        .post(&url, &headers, body)
        .await
        .expect("XB's receive endpoint answers");
    (reply.status, json(&reply.body))
}

fn agency(
    id: &str,
    role: Role,
    key: &ecites_exchange::protocol::SigningIdentity,
) -> ecites_exchange::directory::Agency {
    ecites_exchange::directory::Agency {
        id: id.into(),
        country: ecites_local::country("XB"),
        role,
        name: Some(format!("{id} of XB")),
        active: true,
        public_key: Some(key.public_key_base64()),
        key_id: Some(key.key_id.clone()),
        rotation_keys: Vec::new(),
    }
}

fn use_body(
    message_id: &str,
    agency: Option<&str>,
    from: &str,
    used: serde_json::Value,
) -> serde_json::Value {
    let mut body = json!({
        "message_version": 1,
        "message_id": message_id,
        "from": from,
        "to": "XB",
        "sent_at": chrono::Utc::now(),
        "use": used,
    });
    if let Some(agency) = agency {
        body["agency"] = json!(agency);
    }
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_agency_posts_signed_uses_and_verifications_and_nobody_else_is_heard() {
    let (xa, xb) = start_pair().await;
    let permit = fixtures::export_permit("26XA0600", "XA", "XB", 10);
    xa.drop_permit("26XA0600", &permit).await.unwrap();
    xa.forward_until_quiet(QUIET).await.unwrap();
    let customs = ecites_exchange::protocol::SigningIdentity::generate("xb-customs-1").unwrap();
    let vet = ecites_exchange::protocol::SigningIdentity::generate("xb-vet-1").unwrap();
    xb.register_agency(agency("xb-customs", Role::Customs, &customs))
        .await
        .unwrap();
    xb.register_agency(agency("xb-vet", Role::Veterinary, &vet))
        .await
        .unwrap();
    let message: serde_json::Value = serde_json::from_str(&use_message(
        "import_confirmation",
        "26XA0600",
        "XB",
        "XB-DEC-600",
        "2026-02-12",
        4,
    ))
    .unwrap();
    let used = message["use"].clone();

    // Before clearance, customs verify the declared quantity.
    let ask = json!({
        "message_version": 1, "message_id": "v-1", "from": "XB", "agency": "xb-customs",
        "to": "XB", "sent_at": chrono::Utc::now(),
        "permit": {"issuer": "XA", "number": "26XA0600"}, "at": "import", "on": "2026-02-12",
        "blocks": [{"block": "A", "quantity": "4"}]
    });
    let openapi = OpenApi::load();
    openapi.check_schema("VerifyMessage", &ask).unwrap();
    let (status, answer) = post_signed(&xb, "/verify", &ask, &customs).await;
    assert_eq!(status, 200, "{answer}");
    openapi.check_schema("Verification", &answer).unwrap();
    assert_eq!(answer["usable"], true, "{answer}");
    assert_eq!(answer["record"]["origin"], "received");
    assert_eq!(answer["balance"][0]["remaining"], "10");

    // Then record the import.
    let first = use_body("u-1", Some("xb-customs"), "XB", used.clone());
    openapi.check_schema("UseMessage", &first).unwrap();
    let (status, ack) = post_signed(&xb, "/uses", &first, &customs).await;
    assert_eq!(status, 200, "{ack}");
    openapi.check_schema("Ack", &ack).unwrap();
    assert_eq!(ack["status"], "DELIVERED");
    let tracking = ack["tracking_number"].as_str().unwrap().to_owned();
    assert!(tracking.starts_with("XB-U-"), "{tracking}");
    // The same use again (a retry after a lost answer): the same tracking number, one use.
    let (status, again) = post_signed(
        &xb,
        "/uses",
        &use_body("u-2", Some("xb-customs"), "XB", used.clone()),
        &customs,
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["tracking_number"], tracking.as_str());
    assert_eq!(again["duplicate"], true);
    assert_eq!(uses(&xb.local, "26XA0600").await.uses.len(), 1);
    // XB tells XA, the issuer, of the use its customs posted, as of one sent on its queue.
    xb.forward_until_quiet(QUIET).await.unwrap();
    let at_xa = uses(&xa.local, "26XA0600").await;
    assert_eq!(at_xa.uses.len(), 1, "{:?}", at_xa.uses);
    assert_eq!(at_xa.uses[0].on_record.reported.reported_by, "XB");
    // The same message id again is a replay.
    let (status, replay) = post_signed(
        &xb,
        "/uses",
        &use_body("u-2", Some("xb-customs"), "XB", used.clone()),
        &customs,
    )
    .await;
    assert_eq!(status, 409, "{replay}");

    // Nobody else is heard: an unknown key, a veterinary agency, a partner telling XB of a
    // permit that is not XB's, a use reported for another country's border.
    let stranger = ecites_exchange::protocol::SigningIdentity::generate("xb-customs-1").unwrap();
    let (status, _) = post_signed(
        &xb,
        "/uses",
        &use_body("u-3", Some("xb-customs"), "XB", used.clone()),
        &stranger,
    )
    .await;
    assert_eq!(status, 401);
    let (status, answer) = post_signed(
        &xb,
        "/uses",
        &use_body("u-4", Some("xb-vet"), "XB", used.clone()),
        &vet,
    )
    .await;
    assert_eq!(status, 403, "{answer}");
    let mut xa_reports = used.clone();
    xa_reports["reported_by"] = json!("XA");
    let (status, answer) = post_signed(
        &xb,
        "/uses",
        &use_body("u-5", None, "XA", xa_reports.clone()),
        &xa.key,
    )
    .await;
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("use.permit.issuer"),
        "{answer}"
    );
    let (status, answer) = post_signed(
        &xb,
        "/uses",
        &use_body("u-6", Some("xb-customs"), "XB", xa_reports),
        &customs,
    )
    .await;
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("use.reported_by"),
        "{answer}"
    );
    // A broken use is refused naming the field.
    let mut broken = used;
    broken["blocks"][0]["quantity"]["value"] = json!("many");
    let (status, answer) = post_signed(
        &xb,
        "/uses",
        &use_body("u-7", Some("xb-customs"), "XB", broken),
        &customs,
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("use.blocks[0].quantity.value"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_use_costs_one_read_one_conditional_write_and_one_send_and_a_verification_one_read() {
    let (xa, xb) = start_pair().await;
    for number in ["26XA0700", "26XA0701"] {
        let permit = fixtures::export_permit(number, "XA", "XB", 10);
        xa.drop_permit(number, &permit).await.unwrap();
    }
    xa.forward_until_quiet(QUIET).await.unwrap();
    // Warm XB's partner directory cache, as a running function's is.
    send_use(
        &xb.local,
        &use_message(
            "import_confirmation",
            "26XA0700",
            "XB",
            "W-1",
            "2026-02-12",
            1,
        ),
    )
    .await;

    xb.local.counter.reset();
    send_use(
        &xb.local,
        &use_message(
            "import_confirmation",
            "26XA0701",
            "XB",
            "D-1",
            "2026-02-12",
            1,
        ),
    )
    .await;
    let counts = xb.local.counter.snapshot();
    let count = |op: &str| counts.get(op).copied().unwrap_or(0);
    assert_eq!(count("DynamoDB:Query"), 1, "{counts:?}");
    assert_eq!(count("DynamoDB:TransactWriteItems"), 1, "{counts:?}");
    assert_eq!(
        count("SQS:SendMessageBatch"),
        1,
        "the delivery to XA: {counts:?}"
    );
    assert_eq!(xb.local.counter.total(), 3, "{counts:?}");

    xb.local.counter.reset();
    verify_at(&xb, "26XA0701", Border::Import, "2026-02-12", vec![]).await;
    let counts = xb.local.counter.snapshot();
    assert_eq!(xb.local.counter.total(), 1, "{counts:?}");
    assert_eq!(counts.get("DynamoDB:Query").copied(), Some(1), "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permit_replaced_under_a_new_number_is_cancelled_at_its_partner_and_a_use_of_it_is_an_alert(
) {
    let (xa, xb) = start_pair().await;
    let first = fixtures::export_permit("26XA0800", "XA", "XB", 10);
    xa.drop_permit("26XA0800", &first).await.unwrap();
    xa.forward_until_quiet(QUIET).await.unwrap();
    // The replacement names the permit it replaces (EU Regulation 865/2006 Art. 12).
    let mut replacement = fixtures::export_permit("26XA0801", "XA", "XB", 10);
    replacement.references = vec![ecites_domain::model::DocumentReference {
        type_code: Some(ecites_domain::usage::REPLACES_TYPE_CODE.into()),
        id: Some("26XA0800".into()),
        issue_date: None,
    }];
    xa.drop_permit("26XA0801", &replacement).await.unwrap();
    xa.forward_until_quiet(QUIET).await.unwrap();

    // At XA: the replaced permit is cancelled (its partner told) and marked replaced.
    let old = status(&xa.local, "XA", "26XA0800").await;
    assert_eq!(old.state.as_deref(), Some("CANCELLED"), "{old:?}");
    assert!(old
        .deliveries
        .iter()
        .any(|d| d.kind == ecites_exchange::DeliveryKind::Cancellation
            && d.state == ecites_exchange::DeliveryState::Delivered));
    let at_xa = uses(&xa.local, "26XA0800").await;
    assert_eq!(
        at_xa.record.unwrap().state,
        ecites_domain::usage::PermitState::Replaced {
            by: "26XA0801".into()
        }
    );
    // At XB: both permits, the first one replaced.
    let at_xb = uses(&xb.local, "26XA0800").await;
    assert!(matches!(
        at_xb.record.unwrap().state,
        ecites_domain::usage::PermitState::Replaced { ref by } if by == "26XA0801"
    ));
    assert!(uses(&xb.local, "26XA0801").await.record.is_some());

    // A use of the replaced number is an alert; of the replacement, not.
    send_use(
        &xa.local,
        &use_message(
            "export_endorsement",
            "26XA0800",
            "XA",
            "D-OLD",
            "2026-02-10",
            1,
        ),
    )
    .await;
    let findings = &uses(&xa.local, "26XA0800").await.uses[0].findings;
    let rules = rules_of(findings);
    assert_eq!(rules, ["use-permit-replaced"], "{findings:?}");
    assert!(findings[0].message.contains("26XA0801"));
    send_use(
        &xa.local,
        &use_message(
            "export_endorsement",
            "26XA0801",
            "XA",
            "D-NEW",
            "2026-02-10",
            1,
        ),
    )
    .await;
    assert!(uses(&xa.local, "26XA0801").await.uses[0]
        .findings
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_other_check_raises_its_alert_end_to_end() {
    let (xa, _xb) = start_pair().await;
    for number in ["26XA0900", "26XA0901", "26XA0902", "26XA0903", "26XA0904"] {
        let permit = fixtures::export_permit(number, "XA", "XB", 10);
        xa.drop_permit(number, &permit).await.unwrap();
    }
    xa.local
        .send_direct(r#"{"type":"cancel","version":1,"issuer":"XA","permit_number":"26XA0901","reason":"specimens died"}"#)
        .await
        .unwrap();
    xa.local.drain(DRAIN).await.unwrap();
    let cases: [(&str, String, &str); 5] = [
        // Valid from 2026-01-05.
        (
            "26XA0900",
            use_message(
                "export_endorsement",
                "26XA0900",
                "XA",
                "D-0",
                "2026-01-04",
                1,
            ),
            "use-before-validity",
        ),
        (
            "26XA0901",
            use_message(
                "export_endorsement",
                "26XA0901",
                "XA",
                "D-1",
                "2026-02-10",
                1,
            ),
            "use-permit-cancelled",
        ),
        (
            "26XA0902",
            use_message(
                "export_endorsement",
                "26XA0902",
                "XA",
                "D-2",
                "2026-02-10",
                1,
            )
            .replace(r#""value":"1""#, r#""value":"1","unit":"KGM""#),
            "use-unit-differs",
        ),
        (
            "26XA0903",
            use_message(
                "export_endorsement",
                "26XA0903",
                "XA",
                "D-3",
                "2026-02-10",
                1,
            )
            .replace(r#""block":"A""#, r#""block":"Q""#),
            "use-block-unknown",
        ),
        (
            "26XA0904",
            use_message(
                "import_confirmation",
                "26XA0904",
                "XA",
                "D-4",
                "2026-02-10",
                1,
            ),
            "use-wrong-country",
        ),
    ];
    for (number, message, rule) in cases {
        send_use(&xa.local, &message).await;
        let recorded = uses(&xa.local, number).await;
        assert_eq!(recorded.uses.len(), 1, "{number}: {message}");
        assert_eq!(rules_of(&recorded.uses[0].findings), [rule], "{number}");
    }
}

use super::*;
use crate::directory::{Agency, DeliveryMode, Directory, Partner};
use crate::forward::{forward_delivery, ForwardOutcome, ForwardServices, RetryPolicy};
use crate::ledger::{DeliveryInfo, VersionInfo};
use crate::testing::{
    loopback_partner, FixedClock, MemoryBlobs, MemoryDirectory, MemoryInbound, MemoryPull,
    MemoryTracker, RecordingHttp,
};
use chrono::NaiveDate;
use ecites_domain::model::Timestamp;
use ecites_domain::Coded;

const XML_KEY: &str = "outbox/XA/26XA0001/v1.xml";
const XML_KEY_2: &str = "outbox/XA/26XA0001/v2.xml";

/// XA's permit 26XA0001: exported by XA to XB (importer), block A of origin XD, valid until
/// `valid_until`.
fn permit_xml(valid_until: &str) -> Vec<u8> {
    let mut permit = ecites_domain::testing::typical_permit(1);
    permit.permit_number = "26XA0001".into();
    for party in [permit.issuing_authority.as_mut(), permit.exporter.as_mut()]
        .into_iter()
        .flatten()
    {
        party.address.country = Some(Coded::parse("XA"));
    }
    if let Some(importer) = permit.importer.as_mut() {
        importer.address.country = Some(Coded::parse("XB"));
    }
    if let Some(origin) = permit.blocks[0].origin.as_mut() {
        origin.country = Some(Coded::parse("XD"));
    }
    permit.valid_until = Some(Timestamp::Date(valid_until.parse::<NaiveDate>().unwrap()));
    ecites_domain::xml::write_permit(&permit).into_bytes()
}

fn version(number: u32, state: VersionState, key: &str) -> VersionInfo {
    VersionInfo {
        version: number,
        state,
        content_sha256: "0".repeat(64),
        xml_key: key.into(),
        document_type: "E".into(),
        source: "test".into(),
        received_at: "2026-11-30T00:00:00.000000Z".into(),
    }
}

fn delivery(recipient: &str, state: DeliveryState, tracking: Option<&str>) -> DeliveryInfo {
    DeliveryInfo {
        version: 1,
        kind: DeliveryKind::Permit,
        recipient: recipient.into(),
        state,
        attempts: 1,
        last_error: None,
        tracking_number: tracking.map(str::to_owned),
        updated_at: "2026-11-30T00:00:01.000000Z".into(),
    }
}

fn id() -> PermitId {
    PermitId {
        issuer: "XA".parse().unwrap(),
        number: "26XA0001".into(),
    }
}

/// XA's receive endpoint: partners XB (importer), XD (origin), XE (a recipient of a delivery
/// only), XC (a third country); agencies `xa-customs` (ours) and `xc-customs` (XC's).
struct World {
    keys: Vec<(String, SigningIdentity)>,
    partners: MemoryDirectory,
    claims: MemoryInbound,
    ledger: MemoryPull,
    tracker: MemoryTracker,
    blobs: MemoryBlobs,
    clock: FixedClock,
}

fn world_with(status: PermitStatus, blobs: MemoryBlobs) -> World {
    let keys: Vec<(String, SigningIdentity)> = ["XB", "XC", "XD", "XE", "xa-customs", "xc-customs"]
        .into_iter()
        .map(|who| {
            (
                who.to_owned(),
                SigningIdentity::generate(&format!("{who}-1")).unwrap(),
            )
        })
        .collect();
    let key = |who: &str| &keys.iter().find(|(w, _)| w == who).unwrap().1;
    let agency = |id: &str, country: &str| Agency {
        id: id.into(),
        country: country.parse().unwrap(),
        role: crate::notify::Role::Customs,
        name: None,
        active: true,
        public_key: Some(key(id).public_key_base64()),
        key_id: Some(key(id).key_id.clone()),
        rotation_keys: vec![],
    };
    let partners = MemoryDirectory(Directory {
        partners: ["XB", "XC", "XD", "XE"]
            .into_iter()
            .map(|c| loopback_partner(c, key(c)))
            .collect(),
        agencies: vec![agency("xa-customs", "XA"), agency("xc-customs", "XC")],
        ..Directory::default()
    });
    World {
        partners,
        keys,
        claims: MemoryInbound::default(),
        ledger: MemoryPull::holding(id(), status),
        tracker: MemoryTracker::new(Some(DeliveryState::Pending)),
        blobs,
        clock: FixedClock::at("2026-11-30T12:00:00Z"),
    }
}

/// The permit active in one version, delivered to XB (tracking XB-T1) and pending to XE.
fn world() -> World {
    world_with(
        PermitStatus {
            state: Some("ACTIVE".into()),
            versions: vec![version(1, VersionState::Active, XML_KEY)],
            deliveries: vec![
                delivery("XB", DeliveryState::Delivered, Some("XB-T1")),
                delivery("XE", DeliveryState::Pending, None),
            ],
            ..PermitStatus::default()
        },
        MemoryBlobs::new("b").with(XML_KEY, permit_xml("2099-12-31")),
    )
}

impl World {
    fn services(&self) -> QueryServices<'_> {
        QueryServices {
            partners: &self.partners,
            claims: &self.claims,
            ledger: &self.ledger,
            tracker: &self.tracker,
            blobs: &self.blobs,
            clock: &self.clock,
        }
    }

    /// `who` (a country, or an agency id) POSTs `message` to `path`, signed with its key.
    async fn post<T: Serialize>(&self, who: &str, path: &str, message: &T) -> (u16, String) {
        let signer = &self.keys.iter().find(|(w, _)| w == who).unwrap().1;
        let (body, headers) = sign_json(message, signer).unwrap();
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        };
        let settings = ReceiveSettings {
            own_country: "XA".parse().unwrap(),
            max_body_bytes: 1 << 20,
        };
        let answer = match path {
            QUERY_PATH => receive_query(self.services(), &settings, "POST", &header, &body).await,
            HEADERS_PATH => {
                receive_headers(self.services(), &settings, "POST", &header, &body).await
            }
            _ => receive_acknowledge(self.services(), &settings, "POST", &header, &body).await,
        };
        (answer.status, answer.body)
    }

    async fn query(&self, who: &str, number: &str, version: Option<u32>) -> (u16, String) {
        let (from, agency) = match who {
            "xa-customs" => ("XA", Some(who.to_owned())),
            "xc-customs" => ("XC", Some(who.to_owned())),
            country => (country, None),
        };
        let message = QueryMessage {
            message_version: QUERY_MESSAGE_VERSION,
            message_id: format!("q-{who}-{number}-{version:?}"),
            from: from.into(),
            agency,
            to: "XA".into(),
            sent_at: self.clock.0,
            permit_number: number.into(),
            permit_version: version,
        };
        self.post(who, QUERY_PATH, &message).await
    }

    fn ack(
        &self,
        who: &str,
        id: &str,
        status: PullAckStatus,
        tracking: &str,
    ) -> AcknowledgeMessage {
        AcknowledgeMessage {
            message_version: QUERY_MESSAGE_VERSION,
            message_id: id.into(),
            from: who.into(),
            agency: None,
            to: "XA".into(),
            sent_at: self.clock.0,
            permit_number: "26XA0001".into(),
            permit_version: 1,
            kind: DeliveryKind::Permit,
            ack_status: status,
            tracking_number: tracking.into(),
            warnings: vec![],
        }
    }
}

fn answer(body: &str) -> PermitAnswer {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test]
async fn the_importer_the_country_of_origin_a_recipient_and_an_agency_of_ours_read_the_permit() {
    let w = world();
    for who in ["XB", "XD", "XE", "xa-customs"] {
        let (status, body) = w.query(who, "26XA0001", None).await;
        assert_eq!(status, 200, "{who}: {body}");
        let permit = answer(&body);
        assert_eq!(permit.status, QueriedStatus::Active, "{who}");
        assert_eq!((permit.version, permit.versions.clone()), (1, vec![1]));
        assert_eq!(permit.issuer, "XA");
        assert_eq!(permit.payload, b64(&permit_xml("2099-12-31")), "{who}");
        assert_eq!(permit.payload_namespace, PAYLOAD_NAMESPACE);
    }
}

#[tokio::test]
async fn a_third_country_another_countrys_agency_an_unknown_number_or_version_get_the_same_404_bytes(
) {
    let w = world();
    let expected = not_found();
    assert_eq!(expected.status, 404);
    for (who, number, version) in [
        ("XC", "26XA0001", None),
        ("xc-customs", "26XA0001", None),
        ("XB", "26XA9999", None),
        ("XB", "26XA0001", Some(7)),
    ] {
        let (status, body) = w.query(who, number, version).await;
        assert_eq!(
            (status, body.as_str()),
            (404, expected.body.as_str()),
            "{who} {number} {version:?}"
        );
    }
    assert!(expected.body.contains("NOT_FOUND"), "{}", expected.body);
}

#[tokio::test]
async fn a_partner_sees_only_its_own_deliveries_and_an_agency_of_ours_sees_all() {
    let w = world();
    let xb = answer(&w.query("XB", "26XA0001", None).await.1);
    assert_eq!(xb.tracking.len(), 1);
    assert_eq!(xb.tracking[0].recipient, "XB");
    assert_eq!(xb.tracking[0].tracking_number.as_deref(), Some("XB-T1"));
    let ours = answer(&w.query("xa-customs", "26XA0001", None).await.1);
    let mut recipients: Vec<&str> = ours.tracking.iter().map(|t| t.recipient.as_str()).collect();
    recipients.sort_unstable();
    assert_eq!(recipients, ["XB", "XE"]);
}

#[tokio::test]
async fn a_replaced_version_a_cancelled_permit_and_a_past_validity_each_say_so() {
    let blobs = || {
        MemoryBlobs::new("b")
            .with(XML_KEY, permit_xml("2099-12-31"))
            .with(XML_KEY_2, permit_xml("2099-12-31"))
    };
    let replaced = world_with(
        PermitStatus {
            state: Some("ACTIVE".into()),
            versions: vec![
                version(1, VersionState::Replaced, XML_KEY),
                version(2, VersionState::Active, XML_KEY_2),
            ],
            ..PermitStatus::default()
        },
        blobs(),
    );
    let v1 = answer(&replaced.query("XB", "26XA0001", Some(1)).await.1);
    assert_eq!((v1.version, v1.status), (1, QueriedStatus::Replaced));
    let current = answer(&replaced.query("XB", "26XA0001", None).await.1);
    assert_eq!(
        (current.version, current.status),
        (2, QueriedStatus::Active)
    );
    assert_eq!(current.versions, [1, 2]);

    let cancelled = world_with(
        PermitStatus {
            state: Some("CANCELLED".into()),
            versions: vec![version(1, VersionState::Cancelled, XML_KEY)],
            ..PermitStatus::default()
        },
        blobs(),
    );
    let permit = answer(&cancelled.query("XB", "26XA0001", None).await.1);
    assert_eq!(permit.status, QueriedStatus::Cancelled);

    let expired = world_with(
        PermitStatus {
            state: Some("ACTIVE".into()),
            versions: vec![version(1, VersionState::Active, XML_KEY)],
            ..PermitStatus::default()
        },
        // Valid until yesterday at the receiver's clock (2026-11-30).
        MemoryBlobs::new("b").with(XML_KEY, permit_xml("2026-11-29")),
    );
    let permit = answer(&expired.query("XB", "26XA0001", None).await.1);
    assert_eq!(permit.status, QueriedStatus::Expired);
    let last_day = world_with(
        PermitStatus {
            state: Some("ACTIVE".into()),
            versions: vec![version(1, VersionState::Active, XML_KEY)],
            ..PermitStatus::default()
        },
        MemoryBlobs::new("b").with(XML_KEY, permit_xml("2026-11-30")),
    );
    let permit = answer(&last_day.query("XB", "26XA0001", None).await.1);
    assert_eq!(
        permit.status,
        QueriedStatus::Active,
        "valid through its last day"
    );
}

#[tokio::test]
async fn each_query_of_a_permit_on_record_is_audited_with_the_asker_refused_or_not() {
    let w = world();
    w.query("XB", "26XA0001", None).await;
    w.query("XC", "26XA0001", None).await;
    w.query("xa-customs", "26XA0001", None).await;
    let audits = w.ledger.audits();
    let events: Vec<&str> = audits.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(events, ["QUERIED", "QUERY_REFUSED", "QUERIED"]);
    assert!(audits[0].1.contains("partner XB"), "{:?}", audits[0]);
    assert!(audits[1].1.contains("partner XC"), "{:?}", audits[1]);
    assert!(
        audits[2].1.contains("agency xa-customs of XA"),
        "{:?}",
        audits[2]
    );
}

#[tokio::test]
async fn an_acknowledgement_moves_the_pending_delivery_with_the_partners_tracking_number_once() {
    let w = world();
    let (status, body) = w
        .post(
            "XE",
            ACKNOWLEDGE_PATH,
            &w.ack("XE", "a-1", PullAckStatus::Delivered, "XE-77"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let acked: AcknowledgeAnswer = serde_json::from_str(&body).unwrap();
    assert_eq!(acked.delivery_id, "XA/26XA0001/v1/permit/XE");
    assert_eq!(
        (acked.state, acked.duplicate),
        (DeliveryState::Delivered, false)
    );
    assert_eq!(w.tracker.state(), Some(DeliveryState::Delivered));
    let attempts = w.tracker.attempts();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].tracking_number.as_deref(), Some("XE-77"));
}

#[tokio::test]
async fn acknowledging_a_final_delivery_again_is_a_duplicate_and_otherwise_a_conflict() {
    let mut w = world();
    w.tracker = MemoryTracker::new(Some(DeliveryState::Delivered));
    let (status, body) = w
        .post(
            "XB",
            ACKNOWLEDGE_PATH,
            &w.ack("XB", "a-1", PullAckStatus::Delivered, "XB-T1"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        serde_json::from_str::<AcknowledgeAnswer>(&body)
            .unwrap()
            .duplicate
    );
    let (status, body) = w
        .post(
            "XB",
            ACKNOWLEDGE_PATH,
            &w.ack("XB", "a-2", PullAckStatus::Delivered, "XB-OTHER"),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body.contains("tracking_number: the delivery is already DELIVERED"),
        "{body}"
    );
    assert!(w.tracker.attempts().is_empty(), "nothing moved");
}

#[tokio::test]
async fn a_partner_acknowledges_only_deliveries_addressed_to_it() {
    let mut w = world();
    w.tracker = MemoryTracker::new(None);
    let (status, body) = w
        .post(
            "XC",
            ACKNOWLEDGE_PATH,
            &w.ack("XC", "a-1", PullAckStatus::Delivered, "XC-1"),
        )
        .await;
    assert_eq!((status, body), (404, not_found().body));
}

#[tokio::test]
async fn an_agency_may_not_list_headers_or_acknowledge() {
    let w = world();
    let headers = HeadersMessage {
        message_version: QUERY_MESSAGE_VERSION,
        message_id: "h-1".into(),
        from: "XA".into(),
        agency: Some("xa-customs".into()),
        to: "XA".into(),
        sent_at: w.clock.0,
        since: w.clock.0,
        after: None,
        limit: None,
    };
    assert_eq!(w.post("xa-customs", HEADERS_PATH, &headers).await.0, 401);
    let mut ack = w.ack("XA", "a-1", PullAckStatus::Delivered, "XA-1");
    ack.agency = Some("xa-customs".into());
    assert_eq!(w.post("xa-customs", ACKNOWLEDGE_PATH, &ack).await.0, 401);
    assert_eq!(w.tracker.state(), Some(DeliveryState::Pending));
}

#[tokio::test]
async fn headers_refuse_a_page_size_above_the_bound_naming_the_field() {
    let w = world();
    let headers = HeadersMessage {
        message_version: QUERY_MESSAGE_VERSION,
        message_id: "h-1".into(),
        from: "XB".into(),
        agency: None,
        to: "XA".into(),
        sent_at: w.clock.0,
        since: w.clock.0,
        after: None,
        limit: Some(101),
    };
    let (status, body) = w.post("XB", HEADERS_PATH, &headers).await;
    assert_eq!(status, 400);
    assert!(body.contains("limit: 1 to 100"), "{body}");
}

#[tokio::test]
async fn forward_leaves_a_pull_partners_delivery_pending_and_posts_nothing() {
    let key = SigningIdentity::generate("XA-1").unwrap();
    let mut xb: Partner = loopback_partner("XB", &key);
    xb.delivery = DeliveryMode::Pull;
    let partners = MemoryDirectory::of([xb]);
    let tracker = MemoryTracker::new(Some(DeliveryState::Pending));
    let http = RecordingHttp::status(200);
    let blobs = MemoryBlobs::new("b").with(XML_KEY, permit_xml("2099-12-31"));
    let clock = FixedClock::at("2026-11-30T12:00:00Z");
    let message = DeliveryMessage {
        message_type: "delivery".into(),
        version: 1,
        delivery_id: "XA/26XA0001/v1/permit/XB".into(),
        kind: DeliveryKind::Permit,
        issuer: "XA".into(),
        permit_number: "26XA0001".into(),
        permit_version: 1,
        replaces_version: None,
        recipient: "XB".into(),
        endpoint: "http://127.0.0.1:9/".into(),
        xml_bucket: "b".into(),
        xml_key: XML_KEY.into(),
        content_sha256: "0".repeat(64),
        reason: None,
        use_key: None,
        sender: None,
        payload: None,
    };
    let outcome = forward_delivery(
        ForwardServices {
            blobs: &blobs,
            tracker: &tracker,
            partners: &partners,
            transport: &http,
            client_certificates: None,
            signer: &key,
            clock: &clock,
        },
        &RetryPolicy {
            max_receives: 3,
            base: std::time::Duration::from_millis(1),
            cap: std::time::Duration::from_millis(2),
        },
        &message,
        "m-1",
        1,
    )
    .await
    .unwrap();
    assert_eq!(outcome, ForwardOutcome::AwaitingPull);
    assert!(http.posts().is_empty(), "nothing sent to a pull partner");
    assert_eq!(tracker.state(), Some(DeliveryState::Pending));
    assert!(tracker.attempts().is_empty(), "no attempt counted");
}

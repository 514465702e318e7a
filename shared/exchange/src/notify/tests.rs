use super::*;
use serde_json::{json, Value};

fn image(pairs: &[(&str, &str)]) -> Image {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn version_insert(version: &str) -> Change {
    Change {
        event_name: "INSERT".into(),
        old: Image::new(),
        new: image(&[
            ("PK", "PERMIT#XA#26XA%2F1"),
            ("SK", "VERSION#000001"),
            ("type", "VERSION"),
            ("issuer", "XA"),
            ("permit_number", "26XA/1"),
            ("version", version),
            ("state", "ACTIVE"),
            ("xml_key", "outbox/XA/26XA%2F1/abc.xml"),
            ("received_at", "2026-01-05T10:00:00.000000Z"),
        ]),
    }
}

fn summary() -> PermitSummary {
    PermitSummary {
        document_type: Some("E".into()),
        valid_from: None,
        valid_until: Some("2026-06-30".into()),
        exporter: Some("XA".into()),
        importer: Some("XB".into()),
        blocks: vec![event::BlockSummary {
            id: "A".into(),
            taxon: Some("Crocodylus siamensis".into()),
            appendix: Some("I".into()),
            origin: Some("XC".into()),
            quantity: Some("5".into()),
            ..Default::default()
        }],
    }
}

fn subscription(role: Role, events: &[EventType], filters: Filters) -> Subscription {
    Subscription {
        id: "customs-xb".into(),
        agency: "Customs of XB".into(),
        country: "XB".into(),
        role,
        events: events.to_vec(),
        filters,
        channel: Channel::Webhook {
            url: "https://customs.xb.example/hook".into(),
            secret_parameter: "/ecites/webhooks/customs-xb".into(),
        },
        include_xml: false,
    }
}

#[test]
fn first_version_is_issued_and_later_ones_are_replacements_with_stable_ids() {
    let issued = state_change(&version_insert("1")).unwrap();
    assert_eq!(issued.event, EventType::Issued);
    assert_eq!(issued.id, "XA/26XA%2F1/v1/issued");
    assert_eq!(
        issued.xml_key.as_deref(),
        Some("outbox/XA/26XA%2F1/abc.xml")
    );
    let replaced = state_change(&version_insert("2")).unwrap();
    assert_eq!(replaced.event, EventType::Replaced);
    assert_eq!(replaced.detail["replaces_version"], "1");
    // The same record twice: the same id (what makes idempotency possible).
    assert_eq!(state_change(&version_insert("2")).unwrap().id, replaced.id);
}

#[test]
fn cancellation_is_the_head_turning_cancelled_once_with_the_reason() {
    let head = image(&[
        ("PK", "PERMIT#XA#26XA%2F1"),
        ("SK", "HEAD"),
        ("type", "HEAD"),
        ("issuer", "XA"),
        ("permit_number", "26XA/1"),
        ("latest_version", "2"),
        ("latest_sha256", "abc"),
        ("state", "ACTIVE"),
    ]);
    let mut cancelled = head.clone();
    cancelled.insert("state".into(), "CANCELLED".into());
    cancelled.insert("cancel_reason".into(), "specimens died".into());
    let change = Change {
        event_name: "MODIFY".into(),
        old: head,
        new: cancelled.clone(),
    };
    let sc = state_change(&change).unwrap();
    assert_eq!(sc.event, EventType::Cancelled);
    assert_eq!(sc.id, "XA/26XA%2F1/v2/cancelled");
    assert_eq!(sc.version, Some(2));
    assert_eq!(sc.detail["reason"], "specimens died");
    assert_eq!(sc.xml_key.as_deref(), Some("outbox/XA/26XA%2F1/abc.xml"));
    // A later modification of an already cancelled head is not a new cancellation.
    let again = Change {
        event_name: "MODIFY".into(),
        old: cancelled.clone(),
        new: cancelled,
    };
    assert_eq!(state_change(&again), None);
    // The version's own move to CANCELLED (same transaction) is not a second event, nor is a
    // version being replaced (the new version is the event).
    for state in ["CANCELLED", "REPLACED"] {
        let mut version = version_insert("1");
        version.event_name = "MODIFY".into();
        version.old = version.new.clone();
        version.new.insert("state".into(), state.into());
        assert_eq!(state_change(&version), None, "{state}");
    }
}

#[test]
fn delivery_transitions_become_delivered_or_delivery_failed() {
    let base = image(&[
        ("SK", "DELIVERY#000001#permit#XB"),
        ("type", "DELIVERY"),
        ("issuer", "XA"),
        ("permit_number", "26XA0001"),
        ("version", "1"),
        ("delivery_id", "XA/26XA0001/v1/permit/XB"),
        ("recipient", "XB"),
        ("state", "PENDING"),
        ("xml_key", "outbox/XA/26XA0001/abc.xml"),
    ]);
    let mut delivered = base.clone();
    delivered.insert("state".into(), "DELIVERED".into());
    let change = Change {
        event_name: "MODIFY".into(),
        old: base.clone(),
        new: delivered,
    };
    let sc = state_change(&change).unwrap();
    assert_eq!(sc.event, EventType::Delivered);
    assert_eq!(sc.id, "XA/26XA0001/v1/permit/XB/delivered");
    assert_eq!(sc.detail["recipient"], "XB");

    let mut failed = base.clone();
    failed.insert("state".into(), "FAILED".into());
    failed.insert("attempts".into(), "5".into());
    failed.insert("last_error".into(), "HTTP 503".into());
    let change = Change {
        event_name: "MODIFY".into(),
        old: base.clone(),
        new: failed.clone(),
    };
    let first_failure = state_change(&change).unwrap();
    assert_eq!(first_failure.event, EventType::DeliveryFailed);
    assert_eq!(
        first_failure.id,
        "XA/26XA0001/v1/permit/XB/delivery_failed/5"
    );
    // Replayed by an operator, failed again: a new event.
    let mut again = failed;
    again.insert("attempts".into(), "10".into());
    let change = Change {
        event_name: "MODIFY".into(),
        old: base.clone(),
        new: again,
    };
    assert_ne!(state_change(&change).unwrap().id, first_failure.id);

    let mut no_partner = base.clone();
    no_partner.insert("state".into(), "NO_PARTNER".into());
    let change = Change {
        event_name: "INSERT".into(),
        old: Image::new(),
        new: no_partner,
    };
    assert_eq!(
        state_change(&change).unwrap().event,
        EventType::DeliveryFailed
    );

    // A new pending delivery, an attempt counter bump: nothing to tell.
    let change = Change {
        event_name: "INSERT".into(),
        old: Image::new(),
        new: base,
    };
    assert_eq!(state_change(&change), None);
}

#[test]
fn a_delivery_the_partner_could_not_read_is_a_delivery_failure_with_the_reason() {
    let pending = image(&[
        ("SK", "DELIVERY#000001#permit#XB"),
        ("type", "DELIVERY"),
        ("issuer", "XA"),
        ("permit_number", "26XA0001"),
        ("version", "1"),
        ("delivery_id", "XA/26XA0001/v1/permit/XB"),
        ("recipient", "XB"),
        ("state", "PENDING"),
    ]);
    let mut refused = pending.clone();
    refused.insert("state".into(), "DELIVERED_NOT_READABLE".into());
    refused.insert("attempts".into(), "1".into());
    refused.insert("last_error".into(), "HTTP 400 NotReadable: not XML".into());
    let change = Change {
        event_name: "MODIFY".into(),
        old: pending,
        new: refused,
    };
    let sc = state_change(&change).unwrap();
    assert_eq!(sc.event, EventType::DeliveryFailed);
    assert_eq!(sc.detail["state"], "DELIVERED_NOT_READABLE");
    assert_eq!(sc.detail["last_error"], "HTTP 400 NotReadable: not XML");
}

#[test]
fn bookkeeping_items_and_removals_are_not_events() {
    for kind in ["HASH", "HEAD", "AUDIT", "NOTIFICATION", "SUBSCRIPTION"] {
        let change = Change {
            event_name: "INSERT".into(),
            old: Image::new(),
            new: image(&[("type", kind), ("issuer", "XA"), ("permit_number", "1")]),
        };
        assert_eq!(state_change(&change), None, "{kind}");
    }
    let mut removed = version_insert("1");
    removed.event_name = "REMOVE".into();
    assert_eq!(state_change(&removed), None);
}

#[test]
fn rejections_carry_the_reason_and_their_own_id() {
    let change = Change {
        event_name: "INSERT".into(),
        old: Image::new(),
        new: image(&[
            ("SK", "REJECTION#deadbeef"),
            ("type", "REJECTION"),
            ("issuer", "XA"),
            ("permit_number", "26XA0009"),
            ("reason", "the permit is invalid (2 errors)"),
            ("received_at", "2026-01-05T10:00:00Z"),
        ]),
    };
    let sc = state_change(&change).unwrap();
    assert_eq!(sc.event, EventType::Rejected);
    assert_eq!(sc.id, "XA/26XA0009/rejected/deadbeef");
    assert_eq!(sc.detail["reason"], "the permit is invalid (2 errors)");
}

#[test]
fn customs_of_the_importing_country_gets_only_permits_to_it() {
    let customs = subscription(
        Role::Customs,
        &[EventType::Issued, EventType::Rejected],
        Filters {
            importer: vec!["XB".into()],
            ..Filters::default()
        },
    );
    let s = summary();
    assert!(customs.wants(EventType::Issued, "XA", Some(&s)));
    let mut elsewhere = summary();
    elsewhere.importer = Some("XD".into());
    assert!(!customs.wants(EventType::Issued, "XA", Some(&elsewhere)));
    // Not subscribed to cancellations.
    assert!(!customs.wants(EventType::Cancelled, "XA", Some(&s)));
    // Rejections never concern customs, even when asked for.
    assert!(!customs.wants(EventType::Rejected, "XA", None));
}

#[test]
fn taxon_filters_cover_lower_ranks_only() {
    assert!(subscription::taxon_covers(
        "Crocodylus",
        "Crocodylus siamensis"
    ));
    assert!(subscription::taxon_covers(
        "crocodylus siamensis",
        "Crocodylus siamensis"
    ));
    assert!(!subscription::taxon_covers(
        "Crocodylus",
        "Crocodylusx niloticus"
    ));
    let vet = subscription(
        Role::Veterinary,
        &[EventType::Issued],
        Filters {
            taxon: vec!["Crocodylus".into()],
            appendix: vec!["I".into()],
            ..Filters::default()
        },
    );
    assert!(vet.wants(EventType::Issued, "XA", Some(&summary())));
    let mut other = summary();
    other.blocks[0].taxon = Some("Testudo hermanni".into());
    assert!(!vet.wants(EventType::Issued, "XA", Some(&other)));
}

#[test]
fn the_issuing_ma_subscribes_to_its_rejections_without_a_summary() {
    let ma = subscription(
        Role::ManagementAuthority,
        &[EventType::Rejected, EventType::DeliveryFailed],
        Filters {
            issuer: vec!["XA".into()],
            ..Filters::default()
        },
    );
    assert!(ma.wants(EventType::Rejected, "XA", None));
    assert!(!ma.wants(EventType::Rejected, "XB", None));
}

#[test]
fn filter_policy_mirrors_the_subscription() {
    let customs = subscription(
        Role::Customs,
        &[EventType::Issued, EventType::Received],
        Filters {
            exporter: vec!["XA".into()],
            taxon: vec!["Crocodylus".into()],
            ..Filters::default()
        },
    );
    assert_eq!(
        customs.filter_policy().unwrap(),
        json!({"event": ["issued", "received"], "role": ["customs"], "exporter": ["XA"],
               "taxon": [{"prefix": "Crocodylus"}]})
    );
    let too_many = subscription(
        Role::Customs,
        &[EventType::Issued],
        Filters {
            exporter: vec!["XA".into()],
            importer: vec!["XB".into()],
            origin: vec!["XC".into()],
            appendix: vec!["I".into()],
            ..Filters::default()
        },
    );
    assert!(too_many.filter_policy().is_err());
}

#[test]
fn subscriptions_refuse_plain_http_webhooks_and_odd_ids() {
    let mut s = subscription(Role::Customs, &[EventType::Issued], Filters::default());
    assert_eq!(s.check(), Ok(()));
    s.channel = Channel::Webhook {
        url: "http://customs.example/hook".into(),
        secret_parameter: "/x".into(),
    };
    assert!(s.check().is_err());
    s.channel = Channel::Webhook {
        url: "http://127.0.0.1:8080/hook".into(),
        secret_parameter: "/x".into(),
    };
    assert_eq!(s.check_with(WebhookPolicy::local()), Ok(()));
    assert!(
        s.check_with(WebhookPolicy::default()).is_err(),
        "loopback only in local runs"
    );
    for metadata in [
        "https://169.254.169.254/latest/meta-data/",
        "https://user@169.254.170.2/v2/credentials",
        "https://[fd00:ec2::254]/latest",
    ] {
        s.channel = Channel::Webhook {
            url: metadata.into(),
            secret_parameter: "/x".into(),
        };
        assert!(s.check().is_err(), "{metadata}");
    }
    s.id = "a/b".into();
    assert!(s.check().is_err());
}

#[test]
fn message_attributes_carry_what_filter_policies_match_on() {
    let sc = state_change(&version_insert("1")).unwrap();
    let attributes = message_attributes(&sc, Some(&summary()));
    let get = |name: &str| {
        attributes
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, t, v)| (*t, v.clone()))
    };
    assert_eq!(get("event"), Some(("String", "issued".to_owned())));
    assert_eq!(get("importer"), Some(("String", "XB".to_owned())));
    assert_eq!(
        get("origin"),
        Some(("String.Array", r#"["XC"]"#.to_owned()))
    );
    assert_eq!(
        get("taxon"),
        Some(("String.Array", r#"["Crocodylus siamensis"]"#.to_owned()))
    );
    let roles = get("role").unwrap().1;
    assert!(roles.contains("customs"), "{roles}");
    // Every attribute present at once stays within what SNS delivers to SQS.
    assert_eq!(attributes.len(), event::MAX_MESSAGE_ATTRIBUTES);
}

/// A small validator for the keywords `schema/notification.schema.json` uses: type, const,
/// enum, required, properties, additionalProperties, items, `$ref` to `$defs`.
fn validate(schema: &Value, root: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let schema = match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.trim_start_matches("#/$defs/");
            &root["$defs"][name]
        }
        None => schema,
    };
    if let Some(expected) = schema.get("const") {
        if expected != value {
            errors.push(format!("{path}: expected {expected}"));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(value) {
            errors.push(format!("{path}: {value} not in enum"));
        }
    }
    if let Some(kind) = schema.get("type").and_then(Value::as_str) {
        let ok = match kind {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_u64() || value.is_i64(),
            _ => true,
        };
        if !ok {
            errors.push(format!("{path}: not a {kind}"));
            return;
        }
    }
    if let Some(object) = value.as_object() {
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(name) {
                errors.push(format!("{path}: missing {name}"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, field) in object {
            let field_path = format!("{path}/{name}");
            match properties.and_then(|p| p.get(name)) {
                Some(s) => validate(s, root, field, &field_path, errors),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => errors.push(format!("{field_path}: not allowed")),
                    Some(s @ Value::Object(_)) => validate(s, root, field, &field_path, errors),
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            validate(items, root, item, &format!("{path}/{i}"), errors);
        }
    }
}

#[test]
fn produced_notifications_validate_against_the_published_schema() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../schema/notification.schema.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("schema file")).expect("JSON");
    let sc = state_change(&version_insert("1")).unwrap();
    let xml = XmlLocation {
        bucket: "b".into(),
        key: "outbox/k.xml".into(),
    };
    let full = cloud_event(
        &sc,
        "XA",
        Some(&summary()),
        Some(&xml),
        "2026-01-01T00:00:00Z",
    );
    let bare = cloud_event(&sc, "XA", None, None, "2026-01-01T00:00:00Z");
    for event in [full, bare] {
        let mut errors = Vec::new();
        validate(&schema, &schema, &event, "", &mut errors);
        assert!(errors.is_empty(), "{errors:?} in {event:#}");
    }
    // Every event type the code can produce is in the schema's enum.
    let types = schema["properties"]["type"]["enum"].as_array().unwrap();
    for event in EventType::ALL {
        assert!(types.contains(&json!(event.cloud_type())), "{event}");
    }
}

mod fakes {
    use super::super::*;
    use crate::ports::{BlobStore, Clock, Fetched};
    use async_trait::async_trait;
    use chrono::{DateTime, TimeZone, Utc};
    use std::collections::HashMap;
    use std::sync::Mutex;

    pub struct Registry(pub Vec<Subscription>);
    #[async_trait]
    impl SubscriptionRegistry for Registry {
        async fn list(&self) -> Result<Vec<Subscription>, Error> {
            Ok(self.0.clone())
        }
        async fn get(&self, id: &str) -> Result<Option<Subscription>, Error> {
            Ok(self.0.iter().find(|s| s.id == id).cloned())
        }
    }

    #[derive(Default)]
    pub struct Claims(pub Mutex<HashMap<(String, String), bool>>);
    #[async_trait]
    impl NotificationClaims for Claims {
        async fn claim(&self, event_id: &str, subscriber: &str) -> Result<Claim, Error> {
            let mut map = self.0.lock().unwrap();
            Ok(
                match map.get(&(event_id.to_owned(), subscriber.to_owned())) {
                    None => {
                        map.insert((event_id.to_owned(), subscriber.to_owned()), false);
                        Claim::New
                    }
                    Some(false) => Claim::Unfinished,
                    Some(true) => Claim::Done,
                },
            )
        }
        async fn complete(&self, event_id: &str, subscriber: &str) -> Result<(), Error> {
            self.0
                .lock()
                .unwrap()
                .insert((event_id.to_owned(), subscriber.to_owned()), true);
            Ok(())
        }
    }

    /// Records sends; fails the first `fail_first` of them transiently.
    #[derive(Default)]
    pub struct Sink {
        pub sent: Mutex<Vec<String>>,
        pub fail_first: Mutex<usize>,
    }
    impl Sink {
        fn take(&self, what: String) -> Result<(), Error> {
            let mut fail = self.fail_first.lock().unwrap();
            if *fail > 0 {
                *fail -= 1;
                return Err(Error::transient("send", "down"));
            }
            self.sent.lock().unwrap().push(what);
            Ok(())
        }
    }
    #[async_trait]
    impl TopicPublisher for Sink {
        async fn publish(
            &self,
            message: &str,
            _attributes: &[(&'static str, &'static str, String)],
        ) -> Result<(), Error> {
            self.take(message.to_owned())
        }
    }
    #[async_trait]
    impl WebhookQueue for Sink {
        async fn enqueue(&self, job: &WebhookJob) -> Result<(), Error> {
            self.take(job.subscription_id.clone())
        }
    }

    pub struct NoBlobs;
    #[async_trait]
    impl BlobStore for NoBlobs {
        async fn get(&self, _: &str, key: &str, _: Option<&str>, _: u64) -> Result<Fetched, Error> {
            Err(Error::NotFound(key.to_owned()))
        }
        async fn put(&self, _: &str, _: Vec<u8>, _: &str) -> Result<(), Error> {
            Ok(())
        }
        async fn delete(&self, _: &str) -> Result<(), Error> {
            Ok(())
        }
        fn bucket(&self) -> &str {
            "b"
        }
    }

    pub struct Fixed;
    impl Clock for Fixed {
        fn now(&self) -> DateTime<Utc> {
            Utc.timestamp_opt(1_767_607_200, 0).unwrap()
        }
    }

    pub struct Secrets;
    #[async_trait]
    impl SecretStore for Secrets {
        async fn secret(&self, _: &str) -> Result<Secret, Error> {
            Ok(Secret::new("k"))
        }
    }

    /// A POST as the fake transport saw it: URL, headers, body.
    pub type Post = (String, Vec<(String, String)>, Vec<u8>);

    pub struct Http {
        pub status: u16,
        pub seen: Mutex<Vec<Post>>,
    }
    #[async_trait]
    impl HttpTransport for Http {
        async fn post(
            &self,
            url: &str,
            headers: &[(&str, String)],
            body: Vec<u8>,
        ) -> Result<HttpReply, HttpError> {
            self.seen.lock().unwrap().push((
                url.to_owned(),
                headers
                    .iter()
                    .map(|(name, value)| (name.to_string(), value.clone()))
                    .collect(),
                body,
            ));
            Ok(HttpReply {
                status: self.status,
                retry_after: None,
                body: Vec::new(),
            })
        }
    }
}

fn services<'a>(
    registry: &'a fakes::Registry,
    claims: &'a fakes::Claims,
    topic: &'a fakes::Sink,
    webhooks: &'a fakes::Sink,
) -> NotifyServices<'a> {
    NotifyServices {
        blobs: &fakes::NoBlobs,
        registry,
        claims,
        topic,
        webhooks,
        clock: &fakes::Fixed,
    }
}

#[tokio::test]
async fn a_record_seen_twice_publishes_and_queues_once() {
    let registry = fakes::Registry(vec![subscription(
        Role::Customs,
        &[EventType::Issued],
        Filters::default(),
    )]);
    let (claims, topic, webhooks) = Default::default();
    let s = services(&registry, &claims, &topic, &webhooks);
    let first = notify_change(s, "XA", &version_insert("1")).await.unwrap();
    assert!(first.published);
    assert_eq!(first.webhooks_queued, 1);
    let again = notify_change(s, "XA", &version_insert("1")).await.unwrap();
    assert!(!again.published);
    assert_eq!((again.webhooks_queued, again.duplicates), (0, 1));
    assert_eq!(topic.sent.lock().unwrap().len(), 1);
    assert_eq!(webhooks.sent.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_send_that_failed_after_its_claim_is_sent_on_retry_not_lost() {
    let registry = fakes::Registry(vec![]);
    let (claims, topic, webhooks): (fakes::Claims, fakes::Sink, fakes::Sink) = Default::default();
    *topic.fail_first.lock().unwrap() = 1;
    let s = services(&registry, &claims, &topic, &webhooks);
    let error = notify_change(s, "XA", &version_insert("1"))
        .await
        .unwrap_err();
    assert!(error.is_transient());
    assert!(
        notify_change(s, "XA", &version_insert("1"))
            .await
            .unwrap()
            .published
    );
    assert_eq!(topic.sent.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn webhook_jobs_are_signed_and_non_2xx_answers_are_transient() {
    let sub = subscription(Role::Customs, &[EventType::Issued], Filters::default());
    let registry = fakes::Registry(vec![sub]);
    let job = WebhookJob {
        kind: "webhook".into(),
        version: 1,
        subscription_id: "customs-xb".into(),
        event: json!({"id": "e1", "type": "org.cites.epermit.issued"}),
    };
    let body = serde_json::to_string(&job).unwrap();
    for (status, ok) in [(204, true), (503, false)] {
        let http = fakes::Http {
            status,
            seen: Default::default(),
        };
        let s = WebhookServices {
            links: None,
            registry: &registry,
            secrets: &fakes::Secrets,
            transport: &http,
            clock: &fakes::Fixed,
            policy: WebhookPolicy::default(),
        };
        let result = deliver_webhook(s, &body).await;
        assert_eq!(result.is_ok(), ok, "{status}");
        if let Err(error) = result {
            assert!(error.is_transient());
        }
        let seen = http.seen.lock().unwrap();
        let (url, headers, sent) = &seen[0];
        assert_eq!(url, "https://customs.xb.example/hook");
        let signature = &headers
            .iter()
            .find(|(n, _)| n == SIGNATURE_HEADER)
            .unwrap()
            .1;
        assert_eq!(
            verify(&Secret::new("k"), signature, sent, 1_767_607_200, 300),
            Ok(())
        );
    }
}

#[tokio::test]
async fn webhook_jobs_of_removed_subscriptions_are_dropped_unsent() {
    let registry = fakes::Registry(vec![]);
    let http = fakes::Http {
        status: 200,
        seen: Default::default(),
    };
    let s = WebhookServices {
        links: None,
        registry: &registry,
        secrets: &fakes::Secrets,
        transport: &http,
        clock: &fakes::Fixed,
        policy: WebhookPolicy::default(),
    };
    let body = r#"{"type":"webhook","version":1,"subscription_id":"gone","event":{}}"#;
    assert_eq!(
        deliver_webhook(s, body).await.unwrap(),
        WebhookOutcome::Unsubscribed
    );
    assert!(http.seen.lock().unwrap().is_empty());
    assert!(matches!(
        deliver_webhook(s, "not json").await,
        Err(Error::InvalidMessage(_))
    ));
}

#[test]
fn a_permit_received_from_a_partner_is_received() {
    // As the receive function (branch exchange) writes it.
    let change = Change {
        event_name: "INSERT".into(),
        old: Image::new(),
        new: image(&[
            ("SK", "RECEIVED#000002#replacement"),
            ("type", "RECEIVED"),
            ("state", "RECEIVED"),
            ("issuer", "XB"),
            ("permit_number", "26XB0007"),
            ("version", "2"),
            ("document_status", "replacement"),
            ("body_key", "received/XB/26XB0007/m1.json"),
            ("xml_key", "received/XB/26XB0007/m1.xml"),
            ("received_at", "2026-01-05T10:00:00Z"),
        ]),
    };
    let sc = state_change(&change).unwrap();
    assert_eq!(sc.event, EventType::Received);
    assert_eq!(sc.id, "XB/26XB0007/v2/replacement/received");
    assert_eq!(sc.detail["sender"], "XB");
    assert_eq!(
        sc.xml_key.as_deref(),
        Some("received/XB/26XB0007/m1.xml"),
        "the verified payload XML, never the envelope"
    );
}

#[test]
fn a_received_row_without_verified_xml_is_never_summarised_from_its_envelope() {
    let change = Change {
        event_name: "INSERT".into(),
        old: Image::new(),
        new: image(&[
            ("type", "RECEIVED"),
            ("issuer", "XB"),
            ("permit_number", "26XB0008"),
            ("version", "1"),
            ("document_status", "issued"),
            ("body_key", "received/XB/26XB0008/m1.json"),
        ]),
    };
    assert_eq!(state_change(&change).unwrap().xml_key, None);
}

#[test]
fn the_subscription_examples_in_the_docs_are_valid_registry_documents() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/notifications.md");
    let doc = std::fs::read_to_string(path).expect("docs/notifications.md");
    let start = doc
        .find("A subscription (`doc`), JSON:")
        .expect("the examples' heading");
    let block = &doc[start..];
    let block = &block[block.find("```json\n").expect("a json block") + 8..];
    let block = &block[..block.find("```").expect("end of block")];
    let examples: Vec<Subscription> = block
        .split("\n\n")
        .map(|text| serde_json::from_str(text).expect("a subscription"))
        .collect();
    assert_eq!(examples.len(), 2);
    for example in &examples {
        assert_eq!(example.check(), Ok(()), "{}", example.id);
    }
    assert!(matches!(examples[1].channel, Channel::Webhook { .. }));
}

use super::*;
use crate::testing::{
    FixedClock, MemoryBlobs, MemoryClaims, MemoryRegistry, MemorySecrets, MemoryTopic,
    MemoryWebhookQueue, RecordingHttp,
};
use serde_json::{json, Value};

fn version_insert(version: &str) -> LedgerChange {
    LedgerChange::VersionRecorded {
        item: ChangedItem {
            issuer: "XA".into(),
            permit_number: "26XA/1".into(),
            version: version.parse().ok(),
            xml_key: Some("outbox/XA/26XA%2F1/abc.xml".into()),
        },
        received_at: Some("2026-01-05T10:00:00.000000Z".into()),
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
    assert_eq!(get("type").map(|(t, _)| t), Some("String"));
}

/// An alert with every summary dimension has one attribute more than SNS delivers to SQS; it
/// drops `type` (which no filter policy reads), never a filter dimension: an enforcement
/// agency filtering alerts by taxon still gets them.
#[test]
fn an_alert_with_every_dimension_keeps_its_rule_and_taxon_and_drops_type() {
    let mut sc = state_change(&version_insert("1")).unwrap();
    sc.event = EventType::Alert;
    sc.detail
        .insert("alerts".into(), "quantity_exceeded expired".into());
    let attributes = message_attributes(&sc, Some(&summary()));
    let names: Vec<&str> = attributes.iter().map(|(n, _, _)| *n).collect();
    assert_eq!(attributes.len(), event::MAX_MESSAGE_ATTRIBUTES, "{names:?}");
    assert!(!names.contains(&"type"), "{names:?}");
    for kept in [
        "event", "issuer", "role", "rule", "exporter", "importer", "taxon",
    ] {
        assert!(names.contains(&kept), "{kept} dropped: {names:?}");
    }
    let rule = attributes.iter().find(|(n, _, _)| *n == "rule").unwrap();
    assert_eq!(rule.2, r#"["quantity_exceeded","expired"]"#);
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

/// The time every test here runs at: 2026-01-05T10:00:00Z.
static NOW: std::sync::LazyLock<FixedClock> =
    std::sync::LazyLock::new(|| FixedClock::at("2026-01-05T10:00:00Z"));

fn services<'a>(
    blobs: &'a MemoryBlobs,
    registry: &'a MemoryRegistry,
    claims: &'a MemoryClaims,
    topic: &'a MemoryTopic,
    webhooks: &'a MemoryWebhookQueue,
) -> NotifyServices<'a> {
    NotifyServices {
        blobs,
        registry,
        claims,
        topic,
        webhooks,
        clock: &*NOW,
    }
}

/// The webhook secret of the test subscription ([`subscription`]).
fn secrets() -> MemorySecrets {
    MemorySecrets::one("/ecites/webhooks/customs-xb", "k")
}

#[tokio::test]
async fn a_record_seen_twice_publishes_and_queues_once() {
    let registry = MemoryRegistry(vec![subscription(
        Role::Customs,
        &[EventType::Issued],
        Filters::default(),
    )]);
    let (blobs, claims) = (MemoryBlobs::new("b"), MemoryClaims::default());
    let (topic, webhooks) = (MemoryTopic::default(), MemoryWebhookQueue::default());
    let s = services(&blobs, &registry, &claims, &topic, &webhooks);
    let first = notify_change(s, "XA", &version_insert("1")).await.unwrap();
    assert!(first.published);
    assert_eq!(first.webhooks_queued, 1);
    let again = notify_change(s, "XA", &version_insert("1")).await.unwrap();
    assert!(!again.published);
    assert_eq!((again.webhooks_queued, again.duplicates), (0, 1));
    assert_eq!(topic.published().len(), 1);
    assert_eq!(webhooks.jobs().len(), 1);
}

#[tokio::test]
async fn a_send_that_failed_after_its_claim_is_sent_on_retry_not_lost() {
    let registry = MemoryRegistry(vec![]);
    let (blobs, claims) = (MemoryBlobs::new("b"), MemoryClaims::default());
    let (topic, webhooks) = (MemoryTopic::failing_first(1), MemoryWebhookQueue::default());
    let s = services(&blobs, &registry, &claims, &topic, &webhooks);
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
    assert_eq!(topic.published().len(), 1);
}

#[tokio::test]
async fn webhook_jobs_are_signed_and_non_2xx_answers_are_transient() {
    let sub = subscription(Role::Customs, &[EventType::Issued], Filters::default());
    let registry = MemoryRegistry(vec![sub]);
    let job = WebhookJob {
        kind: "webhook".into(),
        version: 1,
        subscription_id: "customs-xb".into(),
        event: json!({"id": "e1", "type": "org.cites.epermit.issued"}),
    };
    let body = serde_json::to_string(&job).unwrap();
    for (status, ok) in [(204, true), (503, false)] {
        let http = RecordingHttp::status(status);
        let secrets = secrets();
        let s = WebhookServices {
            links: None,
            registry: &registry,
            secrets: &secrets,
            transport: &http,
            clock: &*NOW,
            policy: WebhookPolicy::default(),
        };
        let result = deliver_webhook(s, &body).await;
        assert_eq!(result.is_ok(), ok, "{status}");
        if let Err(error) = result {
            assert!(error.is_transient());
        }
        let seen = http.posts();
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
    let registry = MemoryRegistry(vec![]);
    let http = RecordingHttp::status(200);
    let secrets = secrets();
    let s = WebhookServices {
        links: None,
        registry: &registry,
        secrets: &secrets,
        transport: &http,
        clock: &*NOW,
        policy: WebhookPolicy::default(),
    };
    let body = r#"{"type":"webhook","version":1,"subscription_id":"gone","event":{}}"#;
    assert_eq!(
        deliver_webhook(s, body).await.unwrap(),
        WebhookOutcome::Unsubscribed
    );
    assert!(http.posts().is_empty());
    assert!(matches!(
        deliver_webhook(s, "not json").await,
        Err(Error::InvalidMessage(_))
    ));
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

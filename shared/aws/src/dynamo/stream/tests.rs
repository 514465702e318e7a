//! Stream images as the ledger writes them, decoded and turned into state changes: the table's
//! layout and the notify use case's reading of it, tested together.

use super::*;
use ecites_exchange::notify::{EventType, StateChange};
use std::collections::{BTreeMap, HashMap};

/// An item image as text, the way these tests write it.
type Image = BTreeMap<String, String>;

/// A stream record's images.
struct Change {
    event_name: String,
    old: Image,
    new: Image,
}

/// The item as the table holds it: the numbers the ledger writes as `N`, the rest `S`.
fn to_item(image: &Image) -> serde_dynamo::Item {
    image
        .iter()
        .map(|(name, value)| {
            let value = match name.as_str() {
                "version" | "latest_version" | "attempts" | "errors" | "ttl" => {
                    serde_dynamo::AttributeValue::N(value.clone())
                }
                _ => serde_dynamo::AttributeValue::S(value.clone()),
            };
            (name.clone(), value)
        })
        .collect::<HashMap<_, _>>()
        .into()
}

/// Decodes the record and derives its state change, as the notify function does.
fn state_change(change: &Change) -> Option<StateChange> {
    decode(
        &change.event_name,
        &read(&to_item(&change.old)),
        &read(&to_item(&change.new)),
    )
    .and_then(|decoded| ecites_exchange::notify::state_change(&decoded))
}

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

/// Found by the soak: a customs use's delivery to the issuer (written with an empty `xml_key`)
/// became a `delivered` event whose summary was read from S3 at the key "", an error the SDK
/// raises before sending; the notify stream retried that record for ever.
#[test]
fn a_use_delivery_with_an_empty_xml_key_is_delivered_without_an_xml_to_summarise() {
    let pending = image(&[
        ("SK", "DELIVERY#000001#use#XA#import_confirmation#XB-DEC-1"),
        ("type", "DELIVERY"),
        ("issuer", "XA"),
        ("permit_number", "26XA0001"),
        ("version", "1"),
        ("kind", "use"),
        ("use_key", "import_confirmation#XB-DEC-1"),
        (
            "delivery_id",
            "XA/26XA0001/v1/use/XA/import_confirmation#XB-DEC-1",
        ),
        ("recipient", "XA"),
        ("state", "PENDING"),
        ("xml_key", ""),
    ]);
    let mut delivered = pending.clone();
    delivered.insert("state".into(), "DELIVERED".into());
    let change = Change {
        event_name: "MODIFY".into(),
        old: pending,
        new: delivered,
    };
    let sc = state_change(&change).unwrap();
    assert_eq!(sc.event, EventType::Delivered);
    assert_eq!(sc.xml_key, None);
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
            // The ledger writes the count of error findings as a number.
            ("errors", "2"),
            ("received_at", "2026-01-05T10:00:00Z"),
        ]),
    };
    let sc = state_change(&change).unwrap();
    assert_eq!(sc.event, EventType::Rejected);
    assert_eq!(sc.id, "XA/26XA0009/rejected/deadbeef");
    assert_eq!(sc.detail["reason"], "the permit is invalid (2 errors)");
    assert_eq!(sc.detail["errors"], "2");
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

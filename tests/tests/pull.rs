//! Pull as well as push (#14), end to end on moto: XA's real receive function answers signed
//! queries, headers and acknowledgements over loopback HTTP; XB (and a third country, XC)
//! ask with the same client a partner would use ([`ecites_exchange::query::PullClient`]).

use chrono::{Duration as Days, Utc};
use ecites_domain::model::Timestamp;
use ecites_e2e::*;
use ecites_exchange::directory::DeliveryMode;
use ecites_exchange::protocol::SigningIdentity;
use ecites_exchange::query::{not_found, PullClient, QueriedStatus};
use ecites_exchange::{DeliveryState, SystemClock};
use ecites_forward::HyperTransport;
use std::time::Duration;

const QUIET: Duration = Duration::from_secs(30);

/// XA's export permit `number` to XB, valid from yesterday for 90 days (so `active` today).
fn current_permit(number: &str) -> ecites_domain::Permit {
    let mut permit = fixtures::export_permit(number, "XA", "XB", 4);
    let today = Utc::now().date_naive();
    permit.valid_from = Some(Timestamp::Date(today - Days::days(1)));
    permit.issue_date = permit.valid_from;
    permit.valid_until = Some(Timestamp::Date(today + Days::days(90)));
    permit
}

fn transport() -> HyperTransport {
    HyperTransport::for_partners(Duration::from_secs(10)).expect("an HTTP client")
}

/// `who`, signing with `key`, as a client of XA's receive endpoint at `endpoint`.
fn client<'a>(
    transport: &'a HyperTransport,
    who: &str,
    key: &'a SigningIdentity,
    endpoint: &'a str,
) -> PullClient<'a> {
    PullClient {
        transport,
        endpoint,
        own: ecites_local::country(who),
        issuer: ecites_local::country("XA"),
        signer: key,
        clock: &SystemClock,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xb_polls_xas_headers_and_fetches_its_permit_through_a_query() {
    let (xa, xb) = start_pair().await;
    let since = Utc::now() - Days::minutes(1);
    xa.drop_permit("26XA0901", &current_permit("26XA0901"))
        .await
        .unwrap();
    xa.forward_until_quiet(QUIET).await.unwrap();

    let http = transport();
    let endpoint = xa.server.url();
    let xb_client = client(&http, "XB", &xb.key, &endpoint);
    let headers = xb_client.headers(since, None).await.expect("headers");
    assert_eq!(headers.deliveries.len(), 1, "{headers:?}");
    let listed = &headers.deliveries[0];
    assert_eq!(listed.permit_number, "26XA0901");
    assert_eq!(listed.document_status, "issued");
    assert_eq!(
        listed.state,
        DeliveryState::Delivered,
        "XB is a push partner"
    );
    assert_eq!(listed.delivery_id, "XA/26XA0901/v1/permit/XB");
    assert!(headers.next_after.is_none());
    let contract = OpenApi::load();
    contract
        .check_schema("HeadersAnswer", &serde_json::to_value(&headers).unwrap())
        .unwrap();

    let permit = xb_client
        .query("26XA0901", None)
        .await
        .unwrap()
        .expect("XB, the importer, reads the permit");
    assert_eq!(permit.status, QueriedStatus::Active);
    contract
        .check_schema("PermitAnswer", &serde_json::to_value(&permit).unwrap())
        .unwrap();
    assert_eq!((permit.version, permit.versions.clone()), (1, vec![1]));
    assert_eq!(permit.document_type, "E");
    let xml_key = status(&xa.local, "XA", "26XA0901").await.versions[0]
        .xml_key
        .clone();
    let held = xa.local.get_object(&xml_key).await.unwrap().unwrap();
    assert_eq!(
        permit.payload,
        ecites_exchange::protocol::b64(&held),
        "the standard XML XA holds, byte for byte"
    );
    assert_eq!(permit.tracking.len(), 1);
    assert_eq!(permit.tracking[0].recipient, "XB");
    assert_eq!(permit.tracking[0].state, DeliveryState::Delivered);
    assert!(permit.tracking[0]
        .tracking_number
        .as_deref()
        .is_some_and(|t| t.starts_with("XB-")));

    // The query is on XA's record, naming the asker.
    let history = status(&xa.local, "XA", "26XA0901").await.history;
    assert!(
        history
            .iter()
            .any(|h| h.event == "QUERIED" && h.detail.contains("partner XB")),
        "{history:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unauthorised_third_country_gets_the_same_not_found_as_an_unknown_number() {
    let (xa, xb) = start_pair().await;
    xa.drop_permit("26XA0902", &current_permit("26XA0902"))
        .await
        .unwrap();
    // XC is a registered partner of XA with a valid key, but no counterpart of this permit.
    let xc_key = SigningIdentity::generate("XC-1").unwrap();
    let mut xc = xb.as_partner();
    xc.country = ecites_local::country("XC");
    xc.public_key = Some(xc_key.public_key_base64());
    xc.key_id = Some(xc_key.key_id.clone());
    xa.set_directory(vec![xb.as_partner(), xc]).await.unwrap();
    // The receive function caches the directory: a fresh one reads XC's entry.
    tokio::time::sleep(Duration::from_millis(250)).await;

    let http = transport();
    let endpoint = xa.server.url();
    let xc_client = client(&http, "XC", &xc_key, &endpoint);
    let refused = xc_client.query("26XA0902", None).await.unwrap();
    let unknown = xc_client.query("26XA9999", None).await.unwrap();
    let expected = (404, not_found().body);
    assert_eq!(refused.as_ref().unwrap_err(), &expected);
    assert_eq!(unknown.as_ref().unwrap_err(), &expected);
    OpenApi::load()
        .check_schema("Refusal", &serde_json::from_str(&expected.1).unwrap())
        .unwrap();
    // XB, the importer, is answered.
    let xb_client = client(&http, "XB", &xb.key, &endpoint);
    assert!(xb_client.query("26XA0902", None).await.unwrap().is_ok());

    // The refusal is on the permit's record (the unknown number has none to be filed under).
    let history = status(&xa.local, "XA", "26XA0902").await.history;
    assert!(
        history
            .iter()
            .any(|h| h.event == "QUERY_REFUSED" && h.detail.contains("partner XC")),
        "{history:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_partners_delivery_waits_unsent_until_it_fetches_and_acknowledges_it() {
    let (xa, xb) = start_pair().await;
    let mut pulling = xb.as_partner();
    pulling.delivery = DeliveryMode::Pull;
    xa.set_directory(vec![pulling]).await.unwrap();
    // Past the functions' directory cache (200 ms locally).
    tokio::time::sleep(Duration::from_millis(250)).await;
    let since = Utc::now() - Days::minutes(1);
    xa.drop_permit("26XA0903", &current_permit("26XA0903"))
        .await
        .unwrap();
    xa.forward_until_quiet(QUIET).await.unwrap();

    // Forward sent nothing, and the delivery waits, saying why.
    assert_eq!(xb.server.requests(), 0, "nothing POSTed to a pull partner");
    let waiting = status(&xa.local, "XA", "26XA0903").await;
    let delivery = &waiting.deliveries[0];
    assert_eq!(delivery.state, DeliveryState::Pending, "{delivery:?}");
    assert_eq!(delivery.attempts, 0);
    assert!(
        delivery
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("waiting for XB to fetch it")),
        "{delivery:?}"
    );
    // Nothing left on the queue to spin on, nothing in the DLQ.
    assert_eq!(
        xa.forward_until_quiet(Duration::from_secs(2))
            .await
            .unwrap()
            .received,
        0
    );

    // XB polls, fetches and acknowledges with its own tracking number.
    let http = transport();
    let endpoint = xa.server.url();
    let xb_client = client(&http, "XB", &xb.key, &endpoint);
    let pulled = xb_client
        .pull(since, &|header| format!("XB-PULL-{}", header.permit_number))
        .await
        .expect("pulled");
    assert_eq!(pulled.len(), 1, "{pulled:?}");
    assert_eq!(pulled[0].permit.permit_number, "26XA0903");
    assert_eq!(pulled[0].acknowledged.state, DeliveryState::Delivered);
    assert!(!pulled[0].acknowledged.duplicate);
    assert!(String::from_utf8_lossy(&pulled[0].xml).contains("26XA0903"));

    let delivered = status(&xa.local, "XA", "26XA0903").await;
    let delivery = &delivered.deliveries[0];
    assert_eq!(delivery.state, DeliveryState::Delivered, "{delivery:?}");
    assert_eq!(
        delivery.tracking_number.as_deref(),
        Some("XB-PULL-26XA0903")
    );
    assert!(delivery.last_error.is_none(), "{delivery:?}");
    let shown = ecites_exchange::render_status(&id("XA", "26XA0903"), &delivered);
    assert!(shown.contains("XB-PULL-26XA0903"), "{shown}");
    // The audit rows: the wait, the query, the acknowledgement.
    let events: Vec<(&str, &str)> = delivered
        .history
        .iter()
        .map(|h| (h.event.as_str(), h.detail.as_str()))
        .collect();
    for (event, detail) in [
        ("DELIVERY_STATE", "pull partner"),
        ("QUERIED", "partner XB"),
        ("DELIVERY_STATE", "DELIVERED tracking XB-PULL-26XA0903"),
    ] {
        assert!(
            events
                .iter()
                .any(|(e, d)| *e == event && d.contains(detail)),
            "{event} {detail:?} missing: {events:?}"
        );
    }

    // Polling again fetches nothing; the same acknowledgement again is a duplicate.
    assert!(xb_client
        .pull(since, &|_| "XB-OTHER".into())
        .await
        .unwrap()
        .is_empty());
    let again = xb_client
        .acknowledge(
            &pulled[0].header,
            ecites_exchange::query::PullAckStatus::Delivered,
            "XB-PULL-26XA0903",
        )
        .await
        .unwrap();
    assert!(again.duplicate);
    OpenApi::load()
        .check_schema("AcknowledgeAnswer", &serde_json::to_value(&again).unwrap())
        .unwrap();
    assert_eq!(xb.server.requests(), 0);
}

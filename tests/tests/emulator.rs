//! The local emulator as the tests rely on it: moto started through `tools/local/moto_launcher.py`,
//! whose table Query reads only the partition asked for and whose index Query keeps only the
//! items of the index partition before moto sorts them (moto's own sorts and scans the whole
//! table, which made the soak's notify drain time out on a ledger of 2,000 permits). These
//! tests pin that a Query still answers as DynamoDB does: one partition, in range-key order
//! either way, paged, with key and filter conditions, on tables with and without a range key,
//! and on global secondary indexes keyed by a string (sparse: an item without the key is not
//! in the index) or by a number (`1` and `1.0` are one number).

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, PutRequest, ScalarAttributeType, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use ecites_local::{Local, LocalOptions};
use std::collections::HashMap;

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

async fn create_table(client: &Client, name: &str, range: bool) {
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("PK", KeyType::Hash))
        .attribute_definitions(attribute("PK", ScalarAttributeType::S));
    if range {
        request = request
            .key_schema(key("SK", KeyType::Range))
            .attribute_definitions(attribute("SK", ScalarAttributeType::S));
    }
    request.send().await.expect("table created");
}

async fn put_all(client: &Client, table: &str, items: Vec<HashMap<String, AttributeValue>>) {
    for chunk in items.chunks(25) {
        let writes = chunk
            .iter()
            .map(|item| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(item.clone()))
                            .build()
                            .unwrap(),
                    )
                    .build()
            })
            .collect();
        client
            .batch_write_item()
            .request_items(table, writes)
            .send()
            .await
            .expect("items written");
    }
}

/// Each item as `<hash>/<range>`, from the string attributes named `hash` and `range`.
fn keys_by(items: &[HashMap<String, AttributeValue>], hash: &str, range: &str) -> Vec<String> {
    items
        .iter()
        .map(|item| {
            let part = |name: &str| {
                item.get(name)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default()
            };
            format!("{}/{}", part(hash), part(range))
        })
        .collect()
}

/// Each item as `<PK>/<SK>`.
fn keys(items: &[HashMap<String, AttributeValue>]) -> Vec<String> {
    keys_by(items, "PK", "SK")
}

/// Every page of `query` at `limit` items a page, each item as `listed` gives it, and how many
/// pages it took (the last without a key to go on from).
async fn all_pages(
    query: impl Fn() -> QueryFluentBuilder,
    limit: i32,
    listed: impl Fn(&[HashMap<String, AttributeValue>]) -> Vec<String>,
) -> (Vec<String>, usize) {
    let mut found = Vec::new();
    let mut start = None;
    let mut pages = 0;
    loop {
        let page = query()
            .limit(limit)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        pages += 1;
        found.extend(listed(page.items()));
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => return (found, pages),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_query_on_the_emulator_answers_one_partition_in_order_paged_and_filtered() {
    let local = Local::start(LocalOptions::new("emulator-"))
        .await
        .expect("the local stack starts (is moto installed? make .venv/bin/moto_server)");
    let client = &local.clients.dynamodb;
    create_table(client, "ranged", true).await;
    // Three partitions of 40 items, written out of order, and a partition that sorts between
    // them by name (a whole-table sort must not leak it into an answer).
    let mut items = Vec::new();
    for index in (0..40).rev() {
        for partition in ["P1", "P3", "P2"] {
            items.push(HashMap::from([
                ("PK".to_owned(), s(partition)),
                ("SK".to_owned(), s(&format!("S{index:03}"))),
                ("even".to_owned(), AttributeValue::Bool(index % 2 == 0)),
            ]));
        }
    }
    items.push(HashMap::from([
        ("PK".to_owned(), s("P10")),
        ("SK".to_owned(), s("S000")),
    ]));
    put_all(client, "ranged", items).await;

    let query = || {
        client
            .query()
            .table_name("ranged")
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s("P2"))
    };
    let all = query().consistent_read(true).send().await.unwrap();
    let expected: Vec<String> = (0..40).map(|i| format!("P2/S{i:03}")).collect();
    assert_eq!(keys(all.items()), expected);

    let backwards = query().scan_index_forward(false).send().await.unwrap();
    let reversed: Vec<String> = expected.iter().rev().cloned().collect();
    assert_eq!(keys(backwards.items()), reversed);

    // Paged by 15: three pages, the last without a key to go on from.
    let (paged, pages) = all_pages(query, 15, keys).await;
    assert_eq!(paged, expected);
    assert!((3..=4).contains(&pages), "{pages} pages");

    let ranged = client
        .query()
        .table_name("ranged")
        .key_condition_expression("PK = :pk AND SK BETWEEN :from AND :to")
        .expression_attribute_values(":pk", s("P3"))
        .expression_attribute_values(":from", s("S010"))
        .expression_attribute_values(":to", s("S013"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        keys(ranged.items()),
        ["P3/S010", "P3/S011", "P3/S012", "P3/S013"]
    );

    let filtered = client
        .query()
        .table_name("ranged")
        .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
        .filter_expression("even = :yes")
        .expression_attribute_values(":pk", s("P1"))
        .expression_attribute_values(":prefix", s("S00"))
        .expression_attribute_values(":yes", AttributeValue::Bool(true))
        .send()
        .await
        .unwrap();
    assert_eq!(
        keys(filtered.items()),
        ["P1/S000", "P1/S002", "P1/S004", "P1/S006", "P1/S008"]
    );
    assert_eq!(
        filtered.scanned_count(),
        10,
        "filtered after the key condition"
    );

    let none = client
        .query()
        .table_name("ranged")
        .key_condition_expression("PK = :pk")
        .expression_attribute_values(":pk", s("P4"))
        .send()
        .await
        .unwrap();
    assert!(none.items().is_empty());

    // A table without a range key: a Query answers the one item of its partition.
    create_table(client, "hashed", false).await;
    put_all(
        client,
        "hashed",
        ["K2", "K1", "K3"]
            .into_iter()
            .map(|key| HashMap::from([("PK".to_owned(), s(key))]))
            .collect(),
    )
    .await;
    let one = client
        .query()
        .table_name("hashed")
        .key_condition_expression("PK = :pk")
        .expression_attribute_values(":pk", s("K1"))
        .send()
        .await
        .unwrap();
    assert_eq!(keys(one.items()), ["K1/"]);
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .unwrap()
}

fn attribute(name: &str, kind: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(kind)
        .build()
        .unwrap()
}

fn index(name: &str, schema: Vec<KeySchemaElement>) -> GlobalSecondaryIndex {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .set_key_schema(Some(schema))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_query_on_the_emulator_answers_one_index_partition_in_order_paged_and_filtered() {
    let local = Local::start(LocalOptions::new("emulator-index-"))
        .await
        .expect("the local stack starts (is moto installed? make .venv/bin/moto_server)");
    let client = &local.clients.dynamodb;
    client
        .create_table()
        .table_name("indexed")
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("PK", KeyType::Hash))
        .key_schema(key("SK", KeyType::Range))
        .attribute_definitions(attribute("PK", ScalarAttributeType::S))
        .attribute_definitions(attribute("SK", ScalarAttributeType::S))
        .attribute_definitions(attribute("G", ScalarAttributeType::S))
        .attribute_definitions(attribute("GS", ScalarAttributeType::S))
        .attribute_definitions(attribute("N", ScalarAttributeType::N))
        .global_secondary_indexes(index(
            "by_g",
            vec![key("G", KeyType::Hash), key("GS", KeyType::Range)],
        ))
        .global_secondary_indexes(index("by_n", vec![key("N", KeyType::Hash)]))
        .send()
        .await
        .expect("table created");
    // Index partition G2 holds 30 items spread over the table's partitions, written out of
    // order; G20 sorts right after it by name; every third item is outside the index (no G).
    let mut items = Vec::new();
    for i in (0..90).rev() {
        let mut item = HashMap::from([
            ("PK".to_owned(), s(&format!("P{}", i % 7))),
            ("SK".to_owned(), s(&format!("S{i:03}"))),
            ("even".to_owned(), AttributeValue::Bool(i % 2 == 0)),
        ]);
        match i % 3 {
            0 => {
                item.insert("G".to_owned(), s("G2"));
                item.insert("GS".to_owned(), s(&format!("T{:03}", 89 - i)));
            }
            1 => {
                item.insert("G".to_owned(), s("G20"));
                item.insert("GS".to_owned(), s(&format!("T{i:03}")));
            }
            _ => {}
        }
        items.push(item);
    }
    // A number partition written two ways: DynamoDB takes 1 and 1.0 for one number.
    for (sk, number) in [("N1", "1"), ("N2", "1.0"), ("N3", "2")] {
        items.push(HashMap::from([
            ("PK".to_owned(), s("numbers")),
            ("SK".to_owned(), s(sk)),
            ("N".to_owned(), AttributeValue::N(number.to_owned())),
        ]));
    }
    put_all(client, "indexed", items).await;
    let index_keys = |items: &[HashMap<String, AttributeValue>]| keys_by(items, "G", "GS");

    // The partition's name through an expression attribute name, as the ledger asks.
    let query = || {
        client
            .query()
            .table_name("indexed")
            .index_name("by_g")
            .key_condition_expression("#g = :g")
            .expression_attribute_names("#g", "G")
            .expression_attribute_values(":g", s("G2"))
    };
    let expected: Vec<String> = (0..30)
        .map(|i| format!("G2/T{:03}", 89 - 3 * (29 - i)))
        .collect();
    let all = query().send().await.unwrap();
    assert_eq!(index_keys(all.items()), expected);
    let backwards = query().scan_index_forward(false).send().await.unwrap();
    let reversed: Vec<String> = expected.iter().rev().cloned().collect();
    assert_eq!(index_keys(backwards.items()), reversed);

    let (paged, _) = all_pages(query, 7, index_keys).await;
    assert_eq!(paged, expected);

    let ranged = client
        .query()
        .table_name("indexed")
        .index_name("by_g")
        .key_condition_expression("G = :g AND GS >= :from")
        .filter_expression("even = :yes")
        .expression_attribute_values(":g", s("G2"))
        .expression_attribute_values(":from", s("T080"))
        .expression_attribute_values(":yes", AttributeValue::Bool(true))
        .send()
        .await
        .unwrap();
    // GS T080, T083, T086, T089 are items 9, 6, 3, 0: the even ones are 6 and 0.
    assert_eq!(index_keys(ranged.items()), ["G2/T083", "G2/T089"]);

    let numbers = client
        .query()
        .table_name("indexed")
        .index_name("by_n")
        .key_condition_expression("N = :n")
        .expression_attribute_values(":n", AttributeValue::N("1".to_owned()))
        .send()
        .await
        .unwrap();
    let mut found: Vec<String> = numbers
        .items()
        .iter()
        .filter_map(|item| item.get("SK")?.as_s().ok().cloned())
        .collect();
    found.sort();
    assert_eq!(found, ["N1", "N2"]);

    let none = query()
        .expression_attribute_values(":g", s("G3"))
        .send()
        .await
        .unwrap();
    assert!(none.items().is_empty());
}

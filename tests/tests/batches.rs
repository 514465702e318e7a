//! The batch bench's harness (`make bench-batches`), run small so it cannot rot: the functions
//! behind the latency proxy, full batches gathered by the event-source mapping's batching
//! window, a figure for every SQS-triggered function. Timing is measured by the bench, never
//! asserted here.

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batch_bench_times_full_batches_of_one_and_ten_for_every_sqs_function() {
    ecites_aws::telemetry::init_tracing();
    let latency = Duration::from_millis(2);
    let figures = ecites_local::bench::batches::run(None, latency, 1)
        .await
        .expect("the bench runs");
    let functions: Vec<&str> = figures.iter().map(|f| f.function).collect();
    assert_eq!(functions, ["ingest", "forward", "webhooks"]);
    for figure in &figures {
        // Each batch made at least one AWS call through the proxy, so it lasted its latency.
        assert!(figure.one >= latency, "{figure:?}");
        assert!(figure.ten >= latency, "{figure:?}");
    }
    let table = ecites_local::bench::batches::table(&figures, &figures, latency);
    assert!(
        table.contains("ingest") && table.contains("under 2"),
        "{table}"
    );
}

//! The sample event of `events/sweep-schedule.json`: EventBridge's scheduled event, read as such
//! and as the function's request.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use ecites_sweep::SweepRequest;

fn sample() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/sweep-schedule.json"
    ))
    .unwrap()
}

#[test]
fn the_scheduled_event_sample_is_eventbridges_and_asks_for_a_sweep_that_removes() {
    let event: EventBridgeEvent<serde_json::Value> = serde_json::from_str(&sample()).unwrap();
    assert_eq!(event.detail_type, "Scheduled Event");
    assert_eq!(event.source, "aws.events");
    let request: SweepRequest = serde_json::from_str(&sample()).unwrap();
    assert!(!request.dry_run, "the schedule's run removes what it finds");
}

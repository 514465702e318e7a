//! The sample event of `events/report-schedule.json`: EventBridge's scheduled event, read as
//! such and as the function's request.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use ecites_report::{years_to_report, ReportRequest};

fn sample() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/report-schedule.json"
    ))
    .unwrap()
}

#[test]
fn the_scheduled_event_sample_is_eventbridges_and_asks_for_the_drafts_of_its_year() {
    let event: EventBridgeEvent<serde_json::Value> = serde_json::from_str(&sample()).unwrap();
    assert_eq!(event.detail_type, "Scheduled Event");
    assert_eq!(event.source, "aws.events");
    let request: ReportRequest = serde_json::from_str(&sample()).unwrap();
    assert_eq!(request.year, None);
    let day = request.time.expect("the event's time").date_naive();
    // 1 December: last year's report was due on 31 October, so only this year's draft.
    assert_eq!(years_to_report(day), [2026]);
}

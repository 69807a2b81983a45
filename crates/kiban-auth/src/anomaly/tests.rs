//! Tests for the anomaly rules: each kind fires at its threshold and not below, and a normal day is quiet.

use chrono::TimeZone;

use super::*;

/// A time on 2025-04-01, Japan time.
fn jst(hour: u32, minute: u32) -> DateTime<Utc> {
    FixedOffset::east_opt(JST_OFFSET_SECS)
        .expect("valid offset")
        .with_ymd_and_hms(2025, 4, 1, hour, minute, 0)
        .single()
        .expect("valid time")
        .with_timezone(&Utc)
}

fn event(at: DateTime<Utc>, action: &str, outcome: EventOutcome, rows: u64) -> ActivityEvent {
    ActivityEvent { at, user: "tanaka".to_owned(), action: action.to_owned(), outcome, rows }
}

fn kinds(recent: &[ActivityEvent], new_event: &ActivityEvent) -> Vec<AnomalyKind> {
    detect(&AnomalyPolicy::default(), recent, new_event).into_iter().map(|anomaly| anomaly.kind).collect()
}

#[test]
fn a_normal_working_day_raises_nothing() {
    use EventOutcome::{Failed, Success};
    let day = [
        event(jst(8, 55), "login", Failed, 0),
        event(jst(8, 56), "login", Success, 0),
        event(jst(9, 10), "ledger", Success, 0),
        event(jst(9, 30), "link", Success, 300_000),
        event(jst(11, 0), "release", Success, 120_000),
        event(jst(11, 20), "release", Failed, 0),
        event(jst(11, 40), "release", Success, 120_000),
        event(jst(13, 0), "login", Success, 0),
        event(jst(14, 0), "linkage-material-export", Success, 50_000),
        event(jst(15, 0), "anonymize", Success, 0),
        event(jst(17, 45), "release", Success, 200_000),
        event(jst(21, 59), "ledger", Success, 0),
    ];
    for (idx, new_event) in day.iter().enumerate() {
        assert_eq!(kinds(&day[..idx], new_event), [], "event {idx}");
    }
}

#[test]
fn the_sixth_export_in_an_hour_is_a_bulk_export() {
    let exports: Vec<ActivityEvent> =
        (0..5).map(|n| event(jst(10, 10 * n), "release-export", EventOutcome::Success, 10)).collect();
    let sixth = event(jst(10, 55), "linkage-material-export", EventOutcome::Success, 10);
    let found = detect(&AnomalyPolicy::default(), &exports, &sixth);
    assert_eq!(
        found,
        [Anomaly {
            kind: AnomalyKind::BulkExport,
            reason: "6 exports in the last hour; the limit is 5".to_owned()
        }]
    );
    // Five in the hour is fine; so are six spread over more than an hour.
    assert_eq!(kinds(&exports[..4], &sixth), []);
    assert_eq!(kinds(&exports, &event(jst(11, 1), "release-export", EventOutcome::Success, 10)), []);
    // Making a release is not an export: its files stay sealed at the producer.
    assert_eq!(kinds(&exports, &event(jst(10, 55), "release", EventOutcome::Success, 10)), []);
    // Another user's exports, failed exports and non-export actions do not count.
    let others: Vec<ActivityEvent> =
        exports.iter().map(|export| ActivityEvent { user: "sato".to_owned(), ..export.clone() }).collect();
    assert_eq!(kinds(&others, &sixth), []);
    let failed: Vec<ActivityEvent> = exports
        .iter()
        .map(|export| ActivityEvent { outcome: EventOutcome::Failed, ..export.clone() })
        .collect();
    assert_eq!(kinds(&failed, &sixth), []);
    assert_eq!(kinds(&exports, &event(jst(10, 55), "ledger", EventOutcome::Success, 0)), []);
}

#[test]
fn more_than_a_million_records_in_24_hours_is_a_bulk_export() {
    let yesterday = event(jst(9, 0) - TimeDelta::hours(12), "link", EventOutcome::Success, 900_000);
    let now = event(jst(9, 0), "release", EventOutcome::Success, 100_001);
    let found = detect(&AnomalyPolicy::default(), std::slice::from_ref(&yesterday), &now);
    assert_eq!(
        found,
        [Anomaly {
            kind: AnomalyKind::BulkExport,
            reason: "1000001 records read or sent out in the last 24 hours; the limit is 1000000".to_owned(),
        }]
    );
    assert_eq!(
        kinds(std::slice::from_ref(&yesterday), &event(jst(9, 0), "release", EventOutcome::Success, 100_000)),
        []
    );
    let day_before = ActivityEvent { at: jst(9, 0) - TimeDelta::hours(24), ..yesterday };
    assert_eq!(kinds(&[day_before], &now), []);
}

#[test]
fn activity_outside_07_to_22_japan_time_is_flagged() {
    let at = |time| event(time, "ledger", EventOutcome::Success, 0);
    assert_eq!(kinds(&[], &at(jst(6, 59))), [AnomalyKind::OutsideHours]);
    assert_eq!(kinds(&[], &at(jst(7, 0))), []);
    assert_eq!(kinds(&[], &at(jst(21, 59))), []);
    assert_eq!(kinds(&[], &at(jst(22, 0))), [AnomalyKind::OutsideHours]);
    // 23:30 Japan time is 14:30 UTC: the rule works in Japan time, not UTC.
    let late = at(jst(23, 30));
    assert_eq!(late.at, Utc.with_ymd_and_hms(2025, 4, 1, 14, 30, 0).single().expect("valid"));
    let found = detect(&AnomalyPolicy::default(), &[], &late);
    assert_eq!(found[0].reason, "`ledger` at 23:30 Japan time, outside the allowed hours 07:00–22:00");

    let time = |h| NaiveTime::from_hms_opt(h, 0, 0).expect("valid");
    let night = AllowedHours { start: time(22), end: time(6) };
    assert!(night.contains(time(23)) && night.contains(time(0)) && night.contains(time(5)));
    assert!(!night.contains(time(6)) && !night.contains(time(12)));
    let always = AllowedHours { start: time(0), end: time(0) };
    assert!(always.contains(time(3)) && always.contains(time(23)));
}

#[test]
fn the_sixth_failure_in_an_hour_is_flagged() {
    let failures: Vec<ActivityEvent> =
        (0..5).map(|n| event(jst(10, 10 * n), "login", EventOutcome::Failed, 0)).collect();
    let sixth = event(jst(10, 50), "login", EventOutcome::Failed, 0);
    let found = detect(&AnomalyPolicy::default(), &failures, &sixth);
    assert_eq!(
        found,
        [Anomaly {
            kind: AnomalyKind::RepeatedFailures,
            reason: "6 refused or failed operations in the last hour; the limit is 5".to_owned(),
        }]
    );
    assert_eq!(kinds(&failures[..4], &sixth), []);
    assert_eq!(kinds(&failures, &event(jst(11, 1), "login", EventOutcome::Failed, 0)), []);
    // A success after failures is not itself an anomaly.
    assert_eq!(kinds(&failures, &event(jst(10, 50), "login", EventOutcome::Success, 0)), []);
}

#[test]
fn an_action_outside_the_role_is_flagged_at_once() {
    let refused = event(jst(10, 0), "user-add", EventOutcome::Refused, 0);
    let found = detect(&AnomalyPolicy::default(), &[], &refused);
    assert_eq!(
        found,
        [Anomaly {
            kind: AnomalyKind::OutsideRole,
            reason: "`user-add` was refused: it is outside the user's roles".to_owned(),
        }]
    );
    // A refusal late at night after five failures breaks three rules at once.
    let failures: Vec<ActivityEvent> =
        (0..5).map(|n| event(jst(22, 10 * n), "login", EventOutcome::Failed, 0)).collect();
    let late = event(jst(22, 55), "release", EventOutcome::Refused, 0);
    assert_eq!(
        kinds(&failures, &late),
        [AnomalyKind::OutsideRole, AnomalyKind::RepeatedFailures, AnomalyKind::OutsideHours]
    );
}

#[test]
fn kind_names_are_stable() {
    let names = [
        AnomalyKind::BulkExport,
        AnomalyKind::OutsideHours,
        AnomalyKind::RepeatedFailures,
        AnomalyKind::OutsideRole,
    ]
    .map(AnomalyKind::name);
    assert_eq!(names, ["bulk-export", "outside-hours", "repeated-failures", "outside-role"]);
}

//! Anomaly rules over a user's recent activity (Rule 6-4-ロ: detect unusual access and stop it).
//!
//! [`detect`] looks at one new event against the same user's recent events and names every rule it
//! breaks. The caller locks the account when anything is found, records the reasons, and alerts; a
//! security administrator other than the user unlocks it ([`crate::check_unlock`]).
//!
//! The rules and their defaults ([`AnomalyPolicy::default`]), meant to stay silent on a normal working day
//! of a small producer and to be tuned per deployment:
//! - **bulk export**: more than 5 successful exports (`release-export`, `linkage-material-export`: a release itself stays sealed at the producer) by one user in
//!   a rolling hour, or more than 1,000,000 records read or sent out by one user in a rolling 24 hours;
//! - **outside hours**: any activity outside 07:00–22:00 Japan time (UTC+9, fixed: Japan has no DST);
//! - **repeated failures**: more than 5 refused or failed operations (sign-in steps included) by one user
//!   in a rolling hour;
//! - **outside role**: any operation refused because the user's roles do not allow it, at once.
//!
//! A rule fires only on an event that adds to what it counts (an export for the export count, an event
//! with records for the record count, a failure for the failure count), so one crossing is reported by the
//! event that crossed it. Once past a limit, every further event that adds to it fires again until the
//! window has moved on, so an unlocked user who goes on exporting is stopped again.
//!
//! Reasons give counts, limits and action names only: never patient data.

use chrono::{DateTime, FixedOffset, NaiveTime, TimeDelta, Utc};

use crate::roles::Action;

/// How an operation ended, as the anomaly rules see it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum EventOutcome {
    Success,
    /// Refused by authorization: the action is outside the user's roles ([`crate::is_allowed`] said no).
    Refused,
    /// Attempted and failed for any other reason: a wrong password or one-time code, invalid input, an
    /// error, or a legal check that said no.
    Failed,
}

/// One operation by one user, as recorded in the audit log.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ActivityEvent {
    /// When it happened, from the trusted clock.
    pub at: DateTime<Utc>,
    pub user: String,
    /// The action's stable name ([`Action::name`]), or `login`, `password-change` and the like.
    pub action: String,
    pub outcome: EventOutcome,
    /// Patient records the operation read from the vault or sent out (0 for operations that only write,
    /// manage users or keys, or read the legal records).
    pub rows: u64,
}

/// The hours of the day, Japan time, in which activity is expected: from `start` (inclusive) to `end`
/// (exclusive). When `start` is after `end` the span runs over midnight (`22:00`–`06:00` is a night shift);
/// when they are equal, every hour is allowed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AllowedHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl AllowedHours {
    /// Whether `time` (Japan time of day) is inside the span.
    pub fn contains(&self, time: NaiveTime) -> bool {
        if self.start <= self.end {
            self.start == self.end || (self.start <= time && time < self.end)
        } else {
            time >= self.start || time < self.end
        }
    }
}

/// The thresholds of the anomaly rules. See the module documentation for the defaults and why.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AnomalyPolicy {
    /// Actions that send data out of the producer: counted by `max_exports_per_hour`.
    pub export_actions: Vec<String>,
    /// Successful exports one user may make in a rolling hour.
    pub max_exports_per_hour: u32,
    /// Records one user may read or send out in a rolling 24 hours (sum of `rows` of successful events).
    pub max_rows_per_day: u64,
    /// When activity is expected, Japan time.
    pub allowed_hours_jst: AllowedHours,
    /// Refused or failed operations one user may have in a rolling hour.
    pub max_failures_per_hour: u32,
}

impl Default for AnomalyPolicy {
    fn default() -> AnomalyPolicy {
        AnomalyPolicy {
            export_actions: vec![
                Action::ReleaseExport.name().to_owned(),
                Action::LinkageMaterialExport.name().to_owned(),
            ],
            max_exports_per_hour: 5,
            max_rows_per_day: 1_000_000,
            allowed_hours_jst: AllowedHours {
                start: NaiveTime::from_hms_opt(7, 0, 0).expect("07:00 is a time of day"),
                end: NaiveTime::from_hms_opt(22, 0, 0).expect("22:00 is a time of day"),
            },
            max_failures_per_hour: 5,
        }
    }
}

/// Which rule an event broke.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum AnomalyKind {
    /// Too many exports, or too many records read or sent out.
    BulkExport,
    /// Activity outside the allowed hours.
    OutsideHours,
    /// Too many refused or failed operations.
    RepeatedFailures,
    /// An operation outside the user's roles.
    OutsideRole,
}

impl AnomalyKind {
    /// The stable name used in storage and alerts.
    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::BulkExport => "bulk-export",
            AnomalyKind::OutsideHours => "outside-hours",
            AnomalyKind::RepeatedFailures => "repeated-failures",
            AnomalyKind::OutsideRole => "outside-role",
        }
    }
}

/// A broken rule and why, in words with counts and limits, to record with the lock and send in the alert.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    pub reason: String,
}

/// Japan Standard Time, UTC+9. Japan has no daylight-saving time, so a fixed offset is exact.
const JST_OFFSET_SECS: i32 = 9 * 3600;

/// The rules `new_event` breaks, given the events before it (`recent_events`, at least the last 24 hours;
/// other users' events and events after `new_event` are ignored, and `new_event` itself must not be among
/// them). An empty list means nothing unusual.
///
/// Call it for every event about to be committed to the audit log. For an export the caller may also call
/// it before sending anything, with the rows it would send, and refuse the export when anything is found.
pub fn detect(
    policy: &AnomalyPolicy,
    recent_events: &[ActivityEvent],
    new_event: &ActivityEvent,
) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    let within = |window: TimeDelta| {
        recent_events.iter().filter(move |event| {
            event.user == new_event.user && event.at <= new_event.at && event.at > new_event.at - window
        })
    };

    if new_event.outcome == EventOutcome::Refused {
        anomalies.push(Anomaly {
            kind: AnomalyKind::OutsideRole,
            reason: format!("`{}` was refused: it is outside the user's roles", new_event.action),
        });
    }

    if new_event.outcome != EventOutcome::Success {
        let n_failures =
            1 + within(TimeDelta::hours(1)).filter(|event| event.outcome != EventOutcome::Success).count();
        if n_failures > policy.max_failures_per_hour as usize {
            anomalies.push(Anomaly {
                kind: AnomalyKind::RepeatedFailures,
                reason: format!(
                    "{n_failures} refused or failed operations in the last hour; the limit is {}",
                    policy.max_failures_per_hour
                ),
            });
        }
    }

    let is_export = |event: &ActivityEvent| {
        event.outcome == EventOutcome::Success && policy.export_actions.contains(&event.action)
    };
    if is_export(new_event) {
        let n_exports = 1 + within(TimeDelta::hours(1)).filter(|event| is_export(event)).count();
        if n_exports > policy.max_exports_per_hour as usize {
            anomalies.push(Anomaly {
                kind: AnomalyKind::BulkExport,
                reason: format!(
                    "{n_exports} exports in the last hour; the limit is {}",
                    policy.max_exports_per_hour
                ),
            });
        }
    }

    if new_event.outcome == EventOutcome::Success && new_event.rows > 0 {
        let n_rows = within(TimeDelta::hours(24))
            .filter(|event| event.outcome == EventOutcome::Success)
            .fold(new_event.rows, |sum, event| sum.saturating_add(event.rows));
        if n_rows > policy.max_rows_per_day {
            anomalies.push(Anomaly {
                kind: AnomalyKind::BulkExport,
                reason: format!(
                    "{n_rows} records read or sent out in the last 24 hours; the limit is {}",
                    policy.max_rows_per_day
                ),
            });
        }
    }

    let jst = FixedOffset::east_opt(JST_OFFSET_SECS).expect("UTC+9 is a valid offset");
    let local = new_event.at.with_timezone(&jst).time();
    if !policy.allowed_hours_jst.contains(local) {
        anomalies.push(Anomaly {
            kind: AnomalyKind::OutsideHours,
            reason: format!(
                "`{}` at {} Japan time, outside the allowed hours {}–{}",
                new_event.action,
                local.format("%H:%M"),
                policy.allowed_hours_jst.start.format("%H:%M"),
                policy.allowed_hours_jst.end.format("%H:%M"),
            ),
        });
    }

    anomalies
}

#[cfg(test)]
mod tests;

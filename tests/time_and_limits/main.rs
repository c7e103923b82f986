//! Time zones, label limits and custom sums, end to end through
//! `deskpulse replay -`:
//!
//! - the `today` window (SPEC §3, README "Behaviour where the spec is
//!   silent"): local midnight, previous-day events that arrive after it,
//!   and the 23- and 25-hour days of a DST change;
//! - cardinality limits (SPEC §5.3, config `[limits]`): values beyond the
//!   limit fold into `other` in every family with a `queue` label, are
//!   counted, and change no total;
//! - `[[custom_ratio]]` sums over a field that is missing or not a number.
//!
//! Instants are written as local wall time plus the zone's UTC offset,
//! converted with a civil-calendar formula of this file (not the program's
//! time-zone library), so that the expected windows follow from the
//! offsets stated in the comments.

#[path = "../common/mod.rs"]
mod common;
mod limits;
mod sums;
mod today;

use common::*;
use serde_json::json;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Epoch milliseconds of local wall time `y-m-d h:mi:s.ms` at UTC offset
/// `offset_min` minutes (east positive): local − offset = UTC.
pub(crate) fn local_ms(
    (y, m, d): (i64, i64, i64),
    (h, mi, s, ms): (i64, i64, i64, i64),
    offset_min: i64,
) -> i64 {
    days_from_civil(y, m, d) * 24 * HOUR + h * HOUR + mi * MIN + s * SEC + ms - offset_min * MIN
}

#[test]
pub(crate) fn civil_calendar_helper_matches_known_instants() {
    // T0 of tests/common is 2023-11-14T22:13:20Z.
    assert_eq!(local_ms((2023, 11, 14), (22, 13, 20, 0), 0), T0);
    // 2026-01-01T00:00:00Z = 1767225600 s.
    assert_eq!(local_ms((2026, 1, 1), (0, 0, 0, 0), 0), 1_767_225_600 * SEC);
    // Offsets: 01:00+01:00 is midnight UTC.
    assert_eq!(
        local_ms((2026, 1, 1), (1, 0, 0, 0), 60),
        1_767_225_600 * SEC
    );
}

/// An `interaction.completed` whose handle time is `talk_s` seconds
/// (no hold, no after-call work; §7.10): each event's handle time is a
/// distinct power of two times 100 s, so the `_sum` of a handle summary
/// says exactly which events a window holds.
pub(crate) fn completed(id: &str, ts: i64, talk_s: i64, queue: &str) -> String {
    event(
        id,
        "interaction.completed",
        ts,
        json!({"interaction_id": id, "queue": queue, "channel": "phone",
               "wait_s": 5, "talk_s": talk_s}),
    )
}

/// (`_sum`, `_count`) of `support_handle_window_seconds` for these labels;
/// a window without values may be left out (§7.13), which reads (0, 0).
pub(crate) fn handle_window(m: &Metrics, labels: &[(&str, &str)]) -> (f64, f64) {
    (
        m.get("support_handle_window_seconds_sum", labels)
            .unwrap_or(0.0),
        m.get("support_handle_window_seconds_count", labels)
            .unwrap_or(0.0),
    )
}

pub(crate) fn window(w: &str) -> [(&str, &str); 1] {
    [("window", w)]
}

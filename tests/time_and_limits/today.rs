//! The `today` window: local midnight, previous-day events that arrive
//! after it, and the 23- and 25-hour days of a DST change.

use serde_json::json;

use crate::common::*;
use crate::*;

/// Local midnight in Asia/Kolkata (UTC+05:30 all year, no DST; the half
/// hour keeps midnight off the UTC hour grid): only events of the current
/// local day count in `today`; rolling windows ignore midnight; a
/// previous-day event that arrives after midnight within the allowed
/// lateness skips `today` but lands in the rolling windows; a late one
/// lands in the cumulative histogram only.
#[test]
fn today_starts_at_local_midnight_and_previous_day_events_skip_it() {
    const IST: i64 = 5 * 60 + 30;
    let jan14 = |h, mi, s, ms| local_ms((2026, 1, 14), (h, mi, s, ms), IST);
    let jan15 = |h, mi, s, ms| local_ms((2026, 1, 15), (h, mi, s, ms), IST);

    // In the order read (replay's clock = largest ts so far):
    let before = jan14(23, 59, 59, 999); // 100 s, queue eve; clock 23:59:59.999
    let after = jan15(0, 0, 0, 0); //        200 s; clock 00:00:00.000
    let prev1 = jan14(23, 58, 0, 0); //      400 s: 2 min behind → on time
    let later = jan15(0, 3, 0, 0); //        800 s; clock 00:03:00
    let prev2 = jan14(23, 59, 0, 0); //     1600 s: 4 min behind → on time
    let too_late = jan14(23, 57, 59, 999); // 3200 s: 5 min 0.001 s behind → late (§7.4)
    let lines = [
        completed("before", before, 100, "eve"),
        completed("after", after, 200, "day"),
        completed("prev1", prev1, 400, "day"),
        completed("later", later, 800, "day"),
        completed("prev2", prev2, 1600, "day"),
        completed("too_late", too_late, 3200, "day"),
    ];
    let config = "[metrics]\ntimezone = \"Asia/Kolkata\"\ntoday = true\n";
    let run = replay_with_config(&lines, config);
    let m = &run.metrics;
    assert_eq!(run.rejected_all(), 0.0, "{}", run.stderr);
    assert_eq!(run.late(), 1.0, "only too_late is > 300 s behind");

    // today = events of 2026-01-15 local: after + later = 200 + 800.
    assert_eq!(handle_window(m, &window("today")), (1000.0, 2.0));
    // 1h and 24h ignore midnight: every on-time event,
    // 100 + 200 + 400 + 800 + 1600 = 3100 s over 5.
    assert_eq!(handle_window(m, &window("1h")), (3100.0, 5.0));
    assert_eq!(handle_window(m, &window("24h")), (3100.0, 5.0));
    // 5m: slots of 5 s aligned to the epoch; T = 00:03:00 local is a slot
    // start, so the window is [T − 59·5 s, T + 5 s) = [23:58:05, 00:03:05):
    // prev1 (23:58:00) is out: 3100 − 400 = 2700 over 4.
    assert_eq!(handle_window(m, &window("5m")), (2700.0, 4.0));
    // The late event still reaches the cumulative histogram (§7.4):
    // 3100 + 3200 = 6300 s over 6.
    assert_eq!(m.sum("support_handle_seconds_sum", &[]), 6300.0);
    assert_eq!(m.sum("support_handle_seconds_count", &[]), 6.0);

    // Per queue: `eve` had only the 23:59:59.999 event: nothing today,
    // one in 24h.
    assert_eq!(
        handle_window(m, &[("queue", "eve"), ("window", "today")]),
        (0.0, 0.0)
    );
    assert_eq!(
        handle_window(m, &[("queue", "eve"), ("window", "24h")]),
        (100.0, 1.0)
    );
    assert_eq!(
        handle_window(m, &[("queue", "day"), ("window", "today")]),
        (1000.0, 2.0)
    );

    // Exported as at the last millisecond of the day: the same `today`.
    let at_end = replay_with_args(
        &join(&lines),
        Some(config),
        &["--at", "2026-01-15T23:59:59.999+05:30"],
    );
    at_end.assert_ok();
    assert_eq!(
        handle_window(&at_end.metrics, &window("today")),
        (1000.0, 2.0)
    );
    // One millisecond later, at the next local midnight, `today` is a new,
    // empty day.
    let next_day = replay_with_args(
        &join(&lines),
        Some(config),
        &["--at", "2026-01-16T00:00:00+05:30"],
    );
    next_day.assert_ok();
    assert_eq!(
        handle_window(&next_day.metrics, &window("today")),
        (0.0, 0.0)
    );

    // CSAT in `today` (the ratio the brief names): an unsatisfied response
    // (score 1) just before midnight and a satisfied one (score 5) just
    // after: today 1 of 1 → 1.0, 24h 1 of 2 → 0.5; a previous-day
    // unsatisfied one arriving after midnight leaves today at 1.0 and
    // makes 24h 1 of 3.
    let csat =
        |id: &str, ts: i64, score: i64| event(id, "survey.csat", ts, json!({"score": score}));
    let lines = [
        csat("c1", before, 1),
        csat("c2", after, 5),
        csat("c3", prev1, 1),
    ];
    let run = replay_with_config(&lines, config);
    let m = &run.metrics;
    assert_close(
        m.value("support_csat_ratio", &window("today")),
        1.0,
        "today",
    );
    assert_close(
        m.value("support_csat_ratio", &window("24h")),
        1.0 / 3.0,
        "24h",
    );
}

/// Without `today = true` there is no `today` series at all; with the
/// default zone (UTC) midnight is 00:00Z.
#[test]
fn today_is_optional_and_defaults_to_utc() {
    let lines = [
        completed("a", local_ms((2026, 1, 14), (23, 59, 0, 0), 0), 100, "q"),
        completed("b", local_ms((2026, 1, 15), (0, 1, 0, 0), 0), 200, "q"),
    ];
    let run = replay(&lines);
    // UTC day of 2026-01-15: only b.
    assert_eq!(handle_window(&run.metrics, &window("today")), (200.0, 1.0));
    let off = replay_with_config(&lines, "[metrics]\ntoday = false\n");
    assert_eq!(
        off.metrics
            .series
            .keys()
            .filter(|(_, labels)| labels.get("window").map(String::as_str) == Some("today"))
            .count(),
        0
    );
}

/// Replays one `interaction.completed` per (ts, talk seconds) in queue
/// `q`, with `today` in Europe/Berlin, exported at `at`; nothing rejected.
fn berlin_handle_times(events: &[(i64, i64)], at: &str) -> Run {
    let config = "[metrics]\ntimezone = \"Europe/Berlin\"\ntoday = true\n";
    let mut s = Stream::new();
    for &(ts, talk) in events {
        s.add(
            "interaction.completed",
            ts,
            json!({"interaction_id": format!("i{ts}"), "queue": "q",
                   "wait_s": 5, "talk_s": talk}),
        );
    }
    let run = replay_with_args(&join(&s.lines()), Some(config), &["--at", at]);
    run.assert_ok();
    assert_eq!(run.rejected_all(), 0.0, "{}", run.stderr);
    run
}

/// Europe/Berlin: CET (UTC+1) in winter, CEST (UTC+2) from the last
/// Sunday of March at 02:00 local (01:00Z) to the last Sunday of October
/// at 03:00 local (01:00Z). 2026-03-29 has 23 hours, 2026-10-25 has 25.
/// On both, events at local 00:30 and 23:30 (and around the change) count
/// in `today` at 23:45 local, and one at 23:59 of the previous day does not.
#[test]
fn today_spans_the_23_and_25_hour_days_of_dst_changes() {
    const CET: i64 = 60;
    const CEST: i64 = 120;
    // 24h window: 60 slots of 24 min aligned to the epoch, covering
    // [(slot(T) − 59)·24 min, (slot(T) + 1)·24 min): it starts between
    // 24 h and 23 h 36 min before T.
    let slot = 24 * MIN;
    let window_24h_start = |t: i64| (t.div_euclid(slot) - 59) * slot;

    // --- 2026-03-29, 23 hours: midnight is 2026-03-28T23:00Z (CET).
    let prev = local_ms((2026, 3, 28), (23, 59, 0, 0), CET); //  100 s
    let early = local_ms((2026, 3, 29), (0, 30, 0, 0), CET); //  200 s
    let late = local_ms((2026, 3, 29), (23, 30, 0, 0), CEST); // 400 s

    // First instant after the gap: 03:00 CEST = 01:00Z, right after
    // 01:59:59.999 CET.
    let after_gap = local_ms((2026, 3, 29), (3, 0, 0, 0), CEST); // 800 s
    assert_eq!(
        after_gap - local_ms((2026, 3, 29), (1, 59, 59, 999), CET),
        1
    );
    let at = local_ms((2026, 3, 29), (23, 45, 0, 0), CEST);
    assert_eq!(
        local_ms((2026, 3, 30), (0, 0, 0, 0), CEST) - local_ms((2026, 3, 29), (0, 0, 0, 0), CET),
        23 * HOUR
    );
    let run = berlin_handle_times(
        &[(prev, 100), (early, 200), (after_gap, 800), (late, 400)],
        "2026-03-29T23:45:00+02:00",
    );
    let m = &run.metrics;
    // today: early + after_gap + late = 200 + 800 + 400 = 1400 s over 3.
    assert_eq!(handle_window(m, &window("today")), (1400.0, 3.0));
    // 24h at 23:45 CEST (21:45Z): prev (22:59Z the day before, 22 h 46 min
    // back) is inside, so 24h holds all four: 1500 s.
    assert!(window_24h_start(at) <= prev);
    assert_eq!(handle_window(m, &window("24h")), (1500.0, 4.0));

    // --- 2026-10-25, 25 hours: midnight is 2026-10-24T22:00Z (CEST).
    let prev = local_ms((2026, 10, 24), (23, 59, 0, 0), CEST); //  100 s
    let early = local_ms((2026, 10, 25), (0, 30, 0, 0), CEST); //  200 s
    let late = local_ms((2026, 10, 25), (23, 30, 0, 0), CET); //   400 s

    // 02:30 happens twice: first in CEST (00:30Z), then in CET (01:30Z).
    let first_0230 = local_ms((2026, 10, 25), (2, 30, 0, 0), CEST); //  800 s
    let second_0230 = local_ms((2026, 10, 25), (2, 30, 0, 0), CET); // 1600 s
    assert_eq!(second_0230 - first_0230, HOUR);
    let at = local_ms((2026, 10, 25), (23, 45, 0, 0), CET);
    assert_eq!(
        local_ms((2026, 10, 26), (0, 0, 0, 0), CET) - local_ms((2026, 10, 25), (0, 0, 0, 0), CEST),
        25 * HOUR
    );
    let run = berlin_handle_times(
        &[
            (prev, 100),
            (early, 200),
            (first_0230, 800),
            (second_0230, 1600),
            (late, 400),
        ],
        "2026-10-25T23:45:00+01:00",
    );
    let m = &run.metrics;
    // today: 200 + 800 + 1600 + 400 = 3000 s over 4.
    assert_eq!(handle_window(m, &window("today")), (3000.0, 4.0));
    assert_eq!(
        handle_window(m, &[("queue", "q"), ("window", "today")]),
        (3000.0, 4.0)
    );
    // 24h at 23:45 CET (22:45Z): a 25-hour day is longer than the window.
    // early (22:30Z the day before, 24 h 15 min back) and prev (21:59Z)
    // are outside; 800 + 1600 + 400 = 2800 s over 3 inside.
    assert!(window_24h_start(at) > early);
    assert!(window_24h_start(at) <= first_0230);
    assert_eq!(handle_window(m, &window("24h")), (2800.0, 3.0));
}

use super::*;
use chrono::Utc;
use proptest::prelude::*;

const MIN_MS: i64 = 60_000;

fn utc(s: &str) -> i64 {
    s.parse::<chrono::DateTime<Utc>>()
        .expect("test instant")
        .timestamp_millis()
}

fn local(zone: Tz, s: &str) -> i64 {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("test local time");
    zone.from_local_datetime(&naive)
        .earliest()
        .expect("an existing local time")
        .timestamp_millis()
}

/// Mon–Fri 09:00–18:00 in Berlin, the example of SPEC §4.3.
fn office() -> Calendar {
    let day = vec![(9 * 60, 18 * 60)];
    Calendar::new(Schedule {
        zone: chrono_tz::Europe::Berlin,
        week: [
            day.clone(),
            day.clone(),
            day.clone(),
            day.clone(),
            day,
            vec![],
            vec![],
        ],
        holidays: BTreeSet::new(),
    })
}

#[test]
fn spec_examples_friday_evening_and_saturday() {
    let berlin = chrono_tz::Europe::Berlin;
    let mut cal = office();
    // 2026-11-27 is a Friday: 5 min on Friday, 55 min on Monday.
    let friday = local(berlin, "2026-11-27 17:55");
    assert_eq!(
        cal.deadline(friday, 60 * MIN_MS),
        Some(local(berlin, "2026-11-30 09:55"))
    );
    // Saturday counts nothing; Monday 09:00 + 1 h.
    let saturday = local(berlin, "2026-11-28 10:00");
    assert_eq!(
        cal.deadline(saturday, 60 * MIN_MS),
        Some(local(berlin, "2026-11-30 10:00"))
    );
    assert_eq!(
        cal.counted(friday, local(berlin, "2026-11-30 09:55")),
        60 * MIN_MS
    );
}

#[test]
fn a_target_used_up_at_the_close_runs_until_counting_resumes() {
    let berlin = chrono_tz::Europe::Berlin;
    let mut cal = office();
    // Friday 17:00 + 1 h ends exactly at the 18:00 close: still within
    // target until Monday 09:00 begins counting again.
    assert_eq!(
        cal.deadline(local(berlin, "2026-11-27 17:00"), 60 * MIN_MS),
        Some(local(berlin, "2026-11-30 09:00"))
    );
    // Zero left inside open hours: the deadline is now.
    let now = local(berlin, "2026-11-26 12:00");
    assert_eq!(cal.deadline(now, 0), Some(now));
}

#[test]
fn holidays_close_whole_local_days() {
    let berlin = chrono_tz::Europe::Berlin;
    let mut cal = office();
    cal.schedule
        .holidays
        .insert(NaiveDate::from_ymd_opt(2026, 12, 24).expect("date"));
    cal.schedule
        .holidays
        .insert(NaiveDate::from_ymd_opt(2026, 12, 25).expect("date"));
    // Wednesday 23rd 17:30 + 1 h: 30 min on the 23rd; the 24th and 25th
    // (Thu, Fri) are holidays, the weekend is closed: Monday 28th 09:30.
    let mut fresh = cal.clone();
    assert_eq!(
        fresh.deadline(local(berlin, "2026-12-23 17:30"), 60 * MIN_MS),
        Some(local(berlin, "2026-12-28 09:30"))
    );
    assert_eq!(
        cal.counted(
            local(berlin, "2026-12-23 00:00"),
            local(berlin, "2026-12-29 00:00")
        ),
        // The 23rd and 28th, 9 h each.
        18 * 60 * MIN_MS
    );
}

#[test]
fn local_times_in_a_gap_or_a_fold() {
    let berlin = chrono_tz::Europe::Berlin;
    let at = |s: &str| {
        local_instant(
            berlin,
            NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("local time"),
        )
    };
    // 2026-03-29 02:00 CET jumps to 03:00 CEST at 01:00 UTC: 02:30 does
    // not exist and is the first instant after the gap.
    assert_eq!(at("2026-03-29 02:30"), utc("2026-03-29T01:00:00Z"));
    // 2026-10-25 03:00 CEST falls back to 02:00 CET: 02:30 happens twice,
    // first at 00:30 UTC.
    assert_eq!(at("2026-10-25 02:30"), utc("2026-10-25T00:30:00Z"));
    assert_eq!(at("2026-07-01 12:00"), utc("2026-07-01T10:00:00Z"));
}

#[test]
fn a_calendar_without_open_hours_never_breaches() {
    let mut cal = Calendar::new(Schedule {
        zone: chrono_tz::UTC,
        week: Default::default(),
        holidays: BTreeSet::new(),
    });
    assert_eq!(cal.deadline(utc("2026-01-01T00:00:00Z"), MIN_MS), None);
    assert_eq!(cal.counted(0, 10 * DAY_MS), 0);
}

#[test]
fn far_apart_queries_keep_the_table_bounded() {
    let mut cal = office();
    let week_ms = 45 * 60 * MIN_MS;
    // Far apart in both directions; each answer stays exact.
    for start in [
        "2026-11-30T00:00:00Z",
        "1990-01-01T00:00:00Z",
        "2200-01-06T00:00:00Z",
    ] {
        let monday = utc(start);
        let mut c = cal.clone();
        let expected = office().counted(monday, monday + 7 * DAY_MS);
        assert_eq!(c.counted(monday, monday + 7 * DAY_MS), expected);
        assert!(cal.counted(monday, monday + 7 * DAY_MS) > 0);
        assert!(bounded(&cal));
    }
    // A span of 30 years is counted piecewise: about 1,560 weeks of 45 h.
    let from = utc("2000-01-03T00:00:00Z");
    let total = cal.counted(from, from + 30 * 365 * DAY_MS);
    assert!((total - 1565 * week_ms).abs() < 10 * week_ms, "{total}");
    assert!(bounded(&cal));
}

fn bounded(cal: &Calendar) -> bool {
    cal.tables.len() <= TABLES && cal.tables.iter().all(|t| t.days <= MAX_TABLE_DAYS)
}

/// Late events of an old ticket amid today's: each date keeps its table,
/// rather than one table laid out anew at every jump.
#[test]
fn queries_jumping_between_distant_dates_keep_both_tables() {
    let mut cal = office();
    let (old, now) = (utc("1990-01-01T00:00:00Z"), utc("2026-11-30T00:00:00Z"));
    for _ in 0..3 {
        for at in [old, now] {
            assert!(cal.counted(at, at + 7 * DAY_MS) > 0);
        }
    }
    assert_eq!(cal.tables.len(), 2);
    let starts: Vec<i64> = cal.tables.iter().map(|t| t.start_ms).collect();
    assert!(starts[0] <= now && starts[1] <= old, "{starts:?}");
    assert!(bounded(&cal));
}

// ---- brute force against the definition, minute by minute ----

/// Whether the minute starting at `t` is open: `t` lies in an interval of
/// its local date or the date before, each turned into instants by
/// [`local_instant`] (the definition of SPEC §4.3, checked on its own in
/// `local_times_in_a_gap_or_a_fold`).
fn open_at(s: &Schedule, t: i64) -> bool {
    let date = s.local_date(t);
    [date.pred_opt().unwrap_or(date), date].iter().any(|d| {
        !s.holidays.contains(d)
            && s.week[d.weekday().num_days_from_monday() as usize]
                .iter()
                .any(|&(a, b)| s.minute_instant(*d, a) <= t && t < s.minute_instant(*d, b))
    })
}

fn zones() -> Vec<Tz> {
    use chrono_tz::*;
    vec![
        UTC,
        Europe::Berlin,
        America::New_York,
        America::Sao_Paulo,
        Australia::Lord_Howe,
        Asia::Kolkata,
        Pacific::Auckland,
    ]
}

/// Instants near the DST changes of 2018 (Sao Paulo still changed then,
/// at midnight) and 2026.
fn around() -> Vec<i64> {
    [
        "2018-03-11T00:00:00Z",
        "2018-04-01T00:00:00Z",
        "2018-10-07T00:00:00Z",
        "2018-11-04T00:00:00Z",
        "2026-03-29T00:00:00Z",
        "2026-10-25T00:00:00Z",
        "2026-04-05T00:00:00Z",
        "2026-09-27T00:00:00Z",
    ]
    .iter()
    .map(|s| utc(s))
    .collect()
}

fn schedule_strategy() -> impl Strategy<Value = Schedule> {
    // Up to three ordered, non-overlapping intervals a day, on 10-minute
    // steps so that DST gaps (always on whole 30 min here) cut through them.
    let day = proptest::collection::btree_set(0u16..=144, 0..=6).prop_map(|cuts| {
        let cuts: Vec<u16> = cuts.into_iter().map(|c| c * 10).collect();
        cuts.chunks(2)
            .filter(|p| p.len() == 2)
            .map(|p| (p[0], p[1]))
            .collect::<Vec<_>>()
    });
    (
        proptest::array::uniform7(day),
        0..zones().len(),
        proptest::collection::btree_set(0i64..40, 0..4),
        0..around().len(),
    )
        .prop_map(|(week, zone, holiday_offsets, near)| {
            let zone = zones()[zone];
            let base = Schedule {
                zone,
                week: week.clone(),
                holidays: BTreeSet::new(),
            }
            .local_date(around()[near] - 20 * DAY_MS);
            Schedule {
                zone,
                week,
                holidays: holiday_offsets
                    .into_iter()
                    .map(|d| base + chrono::Duration::days(d))
                    .collect(),
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn counted_and_deadline_match_a_minute_by_minute_walk(
        schedule in schedule_strategy(),
        near in 0..8usize,
        start_min in 0i64..(30 * 1440),
        len_min in 0i64..(6 * 1440),
        target_min in 0i64..(2 * 1440),
    ) {
        let from = around()[near] - 15 * DAY_MS + start_min * MIN_MS;
        let to = from + len_min * MIN_MS;
        let mut cal = Calendar::new(schedule.clone());

        let brute: i64 = (0..len_min).filter(|m| open_at(&schedule, from + m * MIN_MS)).count() as i64;
        prop_assert_eq!(cal.counted(from, to), brute * MIN_MS);

        // The deadline: walk until `target_min` open minutes have passed,
        // then on to the next open minute if the walk ended at a close.
        let mut t = from;
        let mut left = target_min;
        let limit = from + 120 * DAY_MS;
        let expected = loop {
            if left == 0 && open_at(&schedule, t) {
                break Some(t);
            }
            if t >= limit {
                break None;
            }
            if open_at(&schedule, t) {
                left -= 1;
            }
            t += MIN_MS;
        };
        // Reach: the end of the minute in which the last one was counted.
        let mut t = from;
        let mut left = target_min;
        while left > 0 && t < limit {
            if open_at(&schedule, t) {
                left -= 1;
            }
            t += MIN_MS;
        }
        if left == 0 {
            prop_assert_eq!(cal.reach(from, target_min * MIN_MS), Some(t));
        }
        if let Some(expected) = expected {
            prop_assert_eq!(cal.deadline(from, target_min * MIN_MS), Some(expected));
        } else if !schedule.has_open_hours() {
            prop_assert_eq!(cal.deadline(from, target_min * MIN_MS), None);
        }
    }
}

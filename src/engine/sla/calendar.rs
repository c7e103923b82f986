//! Business hours (SPEC §4.3): which instants a calendar counts, how much
//! open time lies between two instants, and when a remaining target runs
//! out. Time zones come from `chrono-tz`; the local-time rules for DST
//! gaps and folds are [`local_instant`].

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

/// Minutes in a day: the end of an interval written "24:00".
pub const DAY_MINUTES: u16 = 1440;
/// The open-time table never covers more than this many days at once, and
/// a deadline is searched this far ahead at most; beyond it a clock never
/// breaches. Bounds the table whatever instants the input carries.
const MAX_TABLE_DAYS: i64 = 4000;
/// Days added to the table at a time when a query runs past its end.
const EXTEND_DAYS: i64 = 64;
const DAY_MS: i64 = 86_400_000;
/// How far ahead a deadline is searched, and the longest span whose open
/// time a clock counts exactly: a longer one saturates its clock.
pub const CALENDAR_HORIZON_MS: i64 = MAX_TABLE_DAYS * DAY_MS;

/// A weekly schedule in local time, with holidays: the settings of one
/// `[sla.calendar.NAME]`, already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub zone: Tz,
    /// Open intervals per weekday (Monday first) as local minutes of the
    /// day, `[start, end)`, ordered and not overlapping; `end` ≤ 1440.
    pub week: [Vec<(u16, u16)>; 7],
    /// Local dates closed all day.
    pub holidays: BTreeSet<NaiveDate>,
}

/// The instant of a local date and time in `zone` (SPEC §4.3): a time that
/// does not exist (spring-forward gap) is the first instant after the gap;
/// one that exists twice (fall back) is its first occurrence.
pub fn local_instant(zone: Tz, local: NaiveDateTime) -> i64 {
    if let Some(t) = zone.from_local_datetime(&local).earliest() {
        return t.timestamp_millis();
    }
    // In a gap: the first instant whose local time is at or after `local`.
    // Offsets stay within ±15 h of UTC, and local time only moves forward
    // across a gap, so a binary search over that range finds it.
    let naive_utc = local.and_utc().timestamp_millis();
    let local_of = |t: i64| {
        chrono::DateTime::from_timestamp_millis(t).map(|d| d.with_timezone(&zone).naive_local())
    };
    let (mut lo, mut hi) = (naive_utc - 15 * 3_600_000, naive_utc + 15 * 3_600_000);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if local_of(mid).is_some_and(|l| l >= local) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

impl Schedule {
    /// Local midnight starting `date`, as an instant.
    fn midnight(&self, date: NaiveDate) -> i64 {
        local_instant(self.zone, date.and_time(NaiveTime::MIN))
    }

    /// The instant of `minute` (0..=1440) of local `date`.
    fn minute_instant(&self, date: NaiveDate, minute: u16) -> i64 {
        let time = date.and_time(NaiveTime::MIN) + chrono::Duration::minutes(minute.into());
        local_instant(self.zone, time)
    }

    fn local_date(&self, t: i64) -> NaiveDate {
        chrono::DateTime::from_timestamp_millis(t)
            .map(|d| d.with_timezone(&self.zone).date_naive())
            .unwrap_or_default()
    }

    /// The open spans of one local date, as instants, in order.
    fn day_spans(&self, date: NaiveDate, mut push: impl FnMut(i64, i64)) {
        if self.holidays.contains(&date) {
            return;
        }
        for &(start, end) in &self.week[date.weekday().num_days_from_monday() as usize] {
            let (from, to) = (
                self.minute_instant(date, start),
                self.minute_instant(date, end),
            );
            // An interval inside a DST gap is empty.
            if from < to {
                push(from, to);
            }
        }
    }

    fn has_open_hours(&self) -> bool {
        self.week.iter().any(|day| !day.is_empty())
    }
}

/// One open span of the table, with the open time before it.
#[derive(Debug, Clone, Copy)]
struct Open {
    start: i64,
    end: i64,
    counted_before: i64,
}

/// How many tables a calendar keeps, most recently used first: a stream
/// whose instants jump between distant dates (late events of an old
/// ticket amid today's) then finds each date's table still laid out
/// rather than laying out 64 days again on every jump.
const TABLES: usize = 4;

/// A schedule with its open spans laid out as instants over ranges of
/// local dates, built as queries need them, so that counting and finding a
/// deadline are binary searches rather than a walk over days.
#[derive(Debug, Clone)]
pub struct Calendar {
    schedule: Schedule,
    /// At most [`TABLES`], the most recently used first.
    tables: Vec<Table>,
}

/// Open spans over one range of local dates.
#[derive(Debug, Clone)]
struct Table {
    first_day: NaiveDate,
    /// Local dates covered: `first_day .. first_day + days`.
    days: i64,
    start_ms: i64,
    end_ms: i64,
    spans: Vec<Open>,
}

impl Calendar {
    pub fn new(schedule: Schedule) -> Calendar {
        Calendar {
            schedule,
            tables: Vec::new(),
        }
    }

    /// Open time in `[from, to)`, in milliseconds.
    pub fn counted(&mut self, mut from: i64, to: i64) -> i64 {
        let mut total = 0;
        while from < to {
            let (schedule, table) = self.table(from);
            table.cover(schedule, from);
            let upto = to.min(table.end_ms);
            if upto <= from {
                break;
            }
            total += table.open_before(upto) - table.open_before(from);
            from = upto;
        }
        total
    }

    /// The deadline of a clock that resumes counting at `from` with
    /// `remaining` ms of its target left: the last instant at which the
    /// counted time is still within the target, which is the instant
    /// counting resumes when the target runs out exactly at a close.
    /// `None` when no such instant lies within the search horizon.
    pub fn deadline(&mut self, from: i64, remaining: i64) -> Option<i64> {
        self.run_out(from, remaining, true)
    }

    /// The first instant at which `remaining` ms have been counted since
    /// `from` (where a clock becomes at risk).
    pub fn reach(&mut self, from: i64, remaining: i64) -> Option<i64> {
        self.run_out(from, remaining, false)
    }

    /// Where `remaining` ms of open time after `from` run out: inside the
    /// span where they do, or, if `last_within` and they run out at a
    /// span's end, at the start of the next span.
    fn run_out(&mut self, from: i64, remaining: i64, last_within: bool) -> Option<i64> {
        if !self.schedule.has_open_hours() {
            return None;
        }
        let (schedule, table) = self.table(from);
        table.cover(schedule, from);
        let horizon = from.saturating_add(CALENDAR_HORIZON_MS);
        let target = table.open_before(from) + remaining.max(0);
        loop {
            let i = table.spans.partition_point(|s| {
                let open_through = s.counted_before + (s.end - s.start);
                open_through < target || (last_within && open_through == target)
            });
            if let Some(span) = table.spans.get(i) {
                // Never before `from`: a target of 0 at a close is `from`.
                return Some((span.start + (target - span.counted_before).max(0)).max(from));
            }
            if table.end_ms >= horizon || !table.extend(schedule, EXTEND_DAYS) {
                return None;
            }
        }
    }

    /// The table for a query at `t`, moved to the front: one that covers
    /// it or can be extended forward to it, else a new one in place of
    /// the least recently used.
    fn table(&mut self, t: i64) -> (&Schedule, &mut Table) {
        let found = self
            .tables
            .iter()
            .position(|table| table.serves(&self.schedule, t));
        match found {
            Some(i) => self.tables[..=i].rotate_right(1),
            None => {
                if self.tables.len() == TABLES {
                    self.tables.pop();
                }
                self.tables.insert(0, Table::empty());
            }
        }
        (&self.schedule, &mut self.tables[0])
    }
}

impl Table {
    fn empty() -> Table {
        Table {
            first_day: NaiveDate::MIN,
            days: 0,
            start_ms: 0,
            end_ms: 0,
            spans: Vec::new(),
        }
    }

    /// Whether it covers `t`, or can be extended forward to it.
    fn serves(&self, schedule: &Schedule, t: i64) -> bool {
        if self.days == 0 || t < self.start_ms {
            return false;
        }
        t < self.end_ms || (schedule.local_date(t) - self.first_day).num_days() < MAX_TABLE_DAYS
    }

    /// Open time from the table's start to `t`, which it covers.
    fn open_before(&self, t: i64) -> i64 {
        let i = self.spans.partition_point(|s| s.end <= t);
        match self.spans.get(i) {
            Some(span) => span.counted_before + (t - span.start).max(0),
            None => self
                .spans
                .last()
                .map_or(0, |s| s.counted_before + (s.end - s.start)),
        }
    }

    /// Makes the table cover `t`: extended forward while that keeps it
    /// within bounds, else laid out anew from `t`'s date.
    fn cover(&mut self, schedule: &Schedule, t: i64) {
        if self.days > 0 && t >= self.start_ms && t < self.end_ms {
            return;
        }
        let day = schedule.local_date(t);
        let ahead = (day - self.first_day).num_days();
        // Extended forward when `t` is not far ahead, else laid out anew.
        if !(self.days > 0 && t >= self.end_ms && ahead < MAX_TABLE_DAYS) {
            // Start a day early: a local date's first instant can lie
            // before the date `t` falls on only at a DST fold, but the
            // margin is cheap.
            self.first_day = day.pred_opt().unwrap_or(day);
            self.days = 0;
            self.start_ms = schedule.midnight(self.first_day);
            self.end_ms = self.start_ms;
            self.spans.clear();
        }
        // Stops at chrono's last date rather than looping there.
        while t >= self.end_ms {
            if !self.extend(schedule, EXTEND_DAYS) {
                break;
            }
        }
    }

    /// Lays out `n` more days; false when the calendar ends (chrono's last date).
    fn extend(&mut self, schedule: &Schedule, n: i64) -> bool {
        let mut added = false;
        for _ in 0..n {
            let Some(date) = self
                .first_day
                .checked_add_signed(chrono::Duration::days(self.days))
            else {
                break;
            };
            let Some(next) = date.succ_opt() else { break };
            let spans = &mut self.spans;
            schedule.day_spans(date, |start, end| {
                let before = spans
                    .last()
                    .map_or(0, |s| s.counted_before + (s.end - s.start));
                match spans.last_mut() {
                    // Contiguous spans (a day open to 24:00 and the next
                    // from 00:00) are one.
                    Some(last) if last.end == start => last.end = end,
                    _ => spans.push(Open {
                        start,
                        end,
                        counted_before: before,
                    }),
                }
            });
            self.days += 1;
            self.end_ms = schedule.midnight(next);
            added = true;
        }
        if self.days > MAX_TABLE_DAYS {
            // Keep memory bounded: drop the oldest half; open time is
            // counted relative to the table, so only differences matter.
            let keep_from = self.days - MAX_TABLE_DAYS / 2;
            self.first_day += chrono::Duration::days(keep_from);
            self.days -= keep_from;
            self.start_ms = schedule.midnight(self.first_day);
            let cut = self.spans.partition_point(|s| s.end <= self.start_ms);
            self.spans.drain(..cut);
        }
        added
    }
}

#[cfg(test)]
mod tests;

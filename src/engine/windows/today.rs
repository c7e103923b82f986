//! The `today` window: from local midnight in the configured zone to now.

use chrono::{NaiveTime, TimeZone};
use serde::{Deserialize, Serialize};

use super::Tally;

/// The window from local midnight (in the configured zone) to now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Today {
    #[serde(with = "tz_name")]
    zone: chrono_tz::Tz,
    day_start_ms: i64,
    day_end_ms: i64,
    tally: Tally,
}

mod tz_name {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(tz: &chrono_tz::Tz, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(tz.name())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<chrono_tz::Tz, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

impl Today {
    pub fn new(zone: chrono_tz::Tz) -> Today {
        Today {
            zone,
            day_start_ms: i64::MIN,
            day_end_ms: i64::MIN,
            tally: Tally::default(),
        }
    }

    /// Local midnight of the day holding `ts_ms`, and of the next day.
    pub fn day_bounds(&self, ts_ms: i64) -> (i64, i64) {
        let Some(utc) = chrono::DateTime::from_timestamp_millis(ts_ms) else {
            return (ts_ms, ts_ms);
        };
        let date = utc.with_timezone(&self.zone).date_naive();
        let midnight = |d: chrono::NaiveDate| {
            // Where a zone skips midnight (DST at 00:00), the day starts at
            // its first existing instant.
            let local = d.and_time(NaiveTime::MIN);
            self.zone
                .from_local_datetime(&local)
                .earliest()
                .or_else(|| {
                    self.zone
                        .from_local_datetime(&(local + chrono::Duration::hours(1)))
                        .earliest()
                })
                .map_or(ts_ms, |t| t.timestamp_millis())
        };
        let next = date.succ_opt().unwrap_or(date);
        (midnight(date), midnight(next))
    }

    pub fn share(&mut self) -> Today {
        Today {
            zone: self.zone,
            day_start_ms: self.day_start_ms,
            day_end_ms: self.day_end_ms,
            tally: self.tally.share(),
        }
    }

    pub fn start_ms(&self, now_ms: i64) -> i64 {
        self.day_bounds(now_ms).0
    }

    pub fn tally_at(&mut self, ts_ms: i64) -> Option<&mut Tally> {
        if ts_ms >= self.day_end_ms {
            (self.day_start_ms, self.day_end_ms) = self.day_bounds(ts_ms);
            self.tally.clear();
        }
        (ts_ms >= self.day_start_ms).then_some(&mut self.tally)
    }

    pub fn aggregate(&self, now_ms: i64, into: &mut Tally) {
        if (self.day_start_ms..self.day_end_ms).contains(&now_ms) {
            into.merge(&self.tally);
        }
    }

    pub fn spread(&mut self, start_ms: i64, end_ms: i64, add: impl FnOnce(&mut Tally, u64)) {
        if end_ms <= start_ms {
            return;
        }
        if self.tally_at(end_ms - 1).is_some() {
            let from = start_ms.max(self.day_start_ms);
            add(&mut self.tally, (end_ms - from) as u64);
        }
    }
}

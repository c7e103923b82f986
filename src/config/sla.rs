//! `[sla]`, `[[sla.policy]]` and `[sla.calendar.NAME]` as SPEC §4.1 writes
//! them (operators and tests write this format), and their validation into
//! the engine's [`SlaRules`]. Only from the config file.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::Span;
use crate::decode::{Channel, Priority, TicketStatus};
use crate::engine::sla::calendar::{Schedule, DAY_MINUTES};
use crate::engine::sla::policy::{Kind, Policy, SlaRules};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlaConfig {
    /// A running clock is at risk from this fraction of its target.
    pub at_risk: f64,
    /// The first policy that matches a ticket applies.
    #[serde(rename = "policy")]
    pub policies: Vec<PolicyConfig>,
    #[serde(rename = "calendar")]
    pub calendars: BTreeMap<String, CalendarConfig>,
}

impl Default for SlaConfig {
    fn default() -> Self {
        SlaConfig {
            at_risk: 0.8,
            policies: Vec::new(),
            calendars: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    pub name: String,
    pub queues: Option<Vec<String>>,
    pub channels: Option<Vec<String>>,
    pub calendar: Option<String>,
    pub pause_on: Option<Vec<String>>,
    /// Per priority; an absent kind or priority runs no clock.
    #[serde(default)]
    pub targets: BTreeMap<String, TargetsConfig>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetsConfig {
    pub first_response: Option<Span>,
    pub next_reply: Option<Span>,
    pub resolution: Option<Span>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarConfig {
    pub timezone: String,
    /// Day names (mon..sun) to "HH:MM-HH:MM" intervals; days not named are closed.
    #[serde(default)]
    pub hours: BTreeMap<String, Vec<String>>,
    /// Local dates (YYYY-MM-DD) closed all day.
    #[serde(default)]
    pub holidays: Vec<String>,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The named value of `all` whose `as_str` is `name`.
fn named<T: Copy>(all: &[T], as_str: impl Fn(T) -> &'static str, name: &str) -> Option<T> {
    all.iter().copied().find(|v| as_str(*v) == name)
}

fn list<T: Copy>(all: &[T], as_str: impl Fn(T) -> &'static str) -> String {
    all.iter()
        .map(|v| as_str(*v))
        .collect::<Vec<_>>()
        .join(", ")
}

impl SlaConfig {
    /// Validates and compiles; the error names the key and the fix.
    pub fn rules(&self) -> Result<SlaRules, String> {
        if !(self.at_risk > 0.0 && self.at_risk <= 1.0) {
            return Err(format!(
                "sla.at_risk {} must be above 0 and at most 1, e.g. 0.8",
                self.at_risk
            ));
        }
        let names: Vec<&String> = self.calendars.keys().collect();
        let mut schedules = Vec::new();
        for (name, calendar) in &self.calendars {
            schedules.push(calendar.schedule(name)?);
        }
        let mut policies = Vec::new();
        for (i, policy) in self.policies.iter().enumerate() {
            policies.push(policy.compile(&format!("sla.policy[{i}] ({:?})", policy.name), &names)?);
        }
        Ok(SlaRules::new(self.at_risk, policies, schedules))
    }
}

impl PolicyConfig {
    fn compile(&self, at: &str, calendars: &[&String]) -> Result<Policy, String> {
        let channels = match &self.channels {
            None => None,
            Some(names) => Some(
                names
                    .iter()
                    .map(|n| {
                        named(&Channel::ALL, Channel::as_str, n).ok_or_else(|| {
                            format!(
                                "{at}.channels: {n:?} is not a channel; use {}",
                                list(&Channel::ALL, Channel::as_str)
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let calendar = match &self.calendar {
            None => None,
            Some(name) => Some(calendars.iter().position(|c| *c == name).ok_or_else(|| {
                format!(
                    "{at}.calendar: no [sla.calendar.{name}] is defined; define it or fix the name"
                )
            })?),
        };
        let default_pause = vec!["pending".to_owned(), "on_hold".to_owned()];
        let mut pause_on = Vec::new();
        for n in self.pause_on.as_ref().unwrap_or(&default_pause) {
            pause_on.push(
                named(&TicketStatus::ALL, TicketStatus::as_str, n).ok_or_else(|| {
                    format!(
                        "{at}.pause_on: {n:?} is not a ticket status; use {}",
                        list(&TicketStatus::ALL, TicketStatus::as_str)
                    )
                })?,
            );
        }
        let mut targets = [[None; Kind::ALL.len()]; Priority::ALL.len()];
        for (priority, kinds) in &self.targets {
            let p = named(&Priority::ALL, Priority::as_str, priority).ok_or_else(|| {
                format!(
                    "{at}.targets: {priority:?} is not a priority; use {}",
                    list(&Priority::ALL, Priority::as_str)
                )
            })?;
            for (kind, span) in [
                (Kind::FirstResponse, kinds.first_response),
                (Kind::NextReply, kinds.next_reply),
                (Kind::Resolution, kinds.resolution),
            ] {
                let Some(Span(d)) = span else { continue };
                let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
                if ms == 0 {
                    return Err(format!(
                        "{at}.targets.{priority}.{}: a target must be above zero, e.g. \"4h\"",
                        kind.as_str()
                    ));
                }
                targets[p as usize][kind as usize] = Some(ms);
            }
        }
        Ok(Policy {
            name: self.name.clone(),
            queues: self.queues.clone(),
            channels,
            calendar,
            pause_on,
            targets,
        })
    }
}

impl CalendarConfig {
    fn schedule(&self, name: &str) -> Result<Schedule, String> {
        let at = format!("sla.calendar.{name}");
        let zone = self.timezone.parse::<chrono_tz::Tz>().map_err(|_| {
            format!(
                "{at}.timezone {:?} is not an IANA time zone name, e.g. \"Europe/Berlin\"",
                self.timezone
            )
        })?;
        let mut week: [Vec<(u16, u16)>; 7] = Default::default();
        for (day, intervals) in &self.hours {
            let d = DAYS.iter().position(|n| n == day).ok_or_else(|| {
                format!("{at}.hours: {day:?} is not a day; use {}", DAYS.join(", "))
            })?;
            let mut previous_end = 0;
            for text in intervals {
                let (start, end) = interval(text).ok_or_else(|| {
                    format!("{at}.hours.{day}: {text:?} is not \"HH:MM-HH:MM\" with HH:MM from 00:00 to 24:00")
                })?;
                if end <= start {
                    return Err(format!(
                        "{at}.hours.{day}: {text:?} must end after it starts"
                    ));
                }
                if start < previous_end {
                    return Err(format!(
                        "{at}.hours.{day}: {text:?} overlaps or comes before the interval before it; list intervals in order without overlap"
                    ));
                }
                previous_end = end;
                week[d].push((start, end));
            }
        }
        let mut holidays = BTreeSet::new();
        for text in &self.holidays {
            holidays.insert(
                chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .map_err(|_| format!("{at}.holidays: {text:?} is not a date YYYY-MM-DD"))?,
            );
        }
        Ok(Schedule {
            zone,
            week,
            holidays,
        })
    }
}

/// "HH:MM-HH:MM" as minutes of the day; "24:00" only ends one.
fn interval(text: &str) -> Option<(u16, u16)> {
    let minute = |s: &str| -> Option<u16> {
        let (h, m) = s.trim().split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (m < 60 && h * 60 + m <= DAY_MINUTES).then_some(h * 60 + m)
    };
    let (start, end) = text.split_once('-')?;
    let start = minute(start).filter(|&s| s < DAY_MINUTES)?;
    Some((start, minute(end)?))
}

#[cfg(test)]
mod tests;

//! Service-level agreements (SPEC §4): business-hours calendars, policies,
//! and per-ticket clocks with the timer that fires their deadlines. Time
//! is always passed in. The engine calls into it from its ticket events;
//! its settings are rebuilt from the config, never restored.

pub mod calendar;
pub mod clocks;
pub mod hooks;
pub mod policy;

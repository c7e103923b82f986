//! Service-level agreements (SPEC §4): calendars of business hours, and
//! (to come) policies, per-ticket clocks and their deadlines.

pub mod calendar;

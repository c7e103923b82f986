//! Service-level agreements (SPEC §4): calendars of business hours and
//! policies; per-ticket clocks and their deadlines come next.

pub mod calendar;
pub mod policy;

//! deskpulse: customer-support events in, live KPIs out as Prometheus
//! metrics. Data flows source → decode → engine → kpi → export; `checkpoint`
//! saves and restores the engines' state; `serve` answers HTTP, `live` and
//! `demo` wire the parts together.

pub mod checkpoint;
pub mod config;
pub mod decode;
pub mod demo;
pub mod engine;
pub mod export;
pub mod generate;
pub mod kpi;
pub mod live;
pub mod produce;
pub mod serve;
pub mod source;

//! deskpulse: customer-support events in, live KPIs out as Prometheus
//! metrics. Data flows source → decode → engine → kpi → export.

pub mod config;
pub mod decode;
pub mod engine;
pub mod export;
pub mod generate;
pub mod kpi;
pub mod source;

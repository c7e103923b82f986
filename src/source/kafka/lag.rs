//! High watermarks, as librdkafka caches them from each fetch, and the
//! lag of a partition behind its own.

use std::ffi::CStr;
use std::sync::atomic::Ordering;

use rdkafka::consumer::{BaseConsumer, Consumer};

use super::context::LiveContext;
use crate::source::worker::Progress;

/// Messages behind the high watermark; 0 at a partition's end before any
/// message was applied there, unknown before either is known.
pub(super) fn lag(high_watermark: Option<i64>, progress: &Progress) -> Option<i64> {
    match (high_watermark, progress.applied_next()) {
        (Some(high), Some(next)) => Some((high - next).max(0)),
        (_, None) if progress.reached_end.load(Ordering::Acquire) => Some(0),
        _ => None,
    }
}

/// The high watermark that came with the last fetch of the partition, as
/// librdkafka caches it: no request to the broker.
pub(super) fn cached_high_watermark(
    consumer: &BaseConsumer<LiveContext>,
    topic: &CStr,
    partition: i32,
) -> Option<i64> {
    let (mut low, mut high) = (-1i64, -1i64);
    // SAFETY: the client handle is valid while `consumer` lives; the call
    // reads librdkafka's own cache and writes only the two out-parameters.
    let error = unsafe {
        rdkafka::bindings::rd_kafka_get_watermark_offsets(
            consumer.client().native_ptr(),
            topic.as_ptr(),
            partition,
            &mut low,
            &mut high,
        )
    };
    (error == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0)
        .then_some(high)
}

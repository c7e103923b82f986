//! Live input: a member of a Kafka consumer group with one engine shard per
//! assigned partition, so that each partition keeps its own clock (SPEC §3).
//!
//! One thread polls the consumer: it serves rebalances, copies messages
//! into batches for the worker threads that own the shards
//! (`../worker.rs`), tells them when a partition is caught up, stores the
//! offsets they have applied, and answers the HTTP side's requests
//! between messages.
//!
//! By job: the settings and startup checks every client shares
//! (`client.rs`); librdkafka's callbacks on the consumer, rebalances
//! among them, and storing the offsets applied (`context.rs`); whether
//! the brokers answer, from librdkafka's statistics (`brokers.rs`); the
//! polling loop (`consumer.rs`); handing messages to the workers and
//! telling them when a partition is caught up, and answering the HTTP
//! side (`router.rs`); high watermarks and lag (`lag.rs`); the
//! dead-letter producer (`dead_letters.rs`).

mod brokers;
mod client;
mod consumer;
mod context;
mod dead_letters;
mod lag;
mod router;

pub use client::{check_topics, client_config, send_waiting};
pub use consumer::LiveConsumer;
pub use dead_letters::{DeadLetters, DEAD_LETTER_HEADERS};

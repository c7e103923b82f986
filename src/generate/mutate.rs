//! Bad input on purpose: a seeded mutator that turns valid event lines
//! into the damage real streams carry (cut lines, flipped bytes, random
//! bytes, missing fields, fields of the wrong type or out of range,
//! extreme instants, huge labels, unknown and custom types), for the fuzz test and
//! the fuzz bench. The same seed gives the same lines.

use super::rng::Rng;
use serde_json::{json, Map, Value};

/// Values of every JSON type, at the edges that break careless code.
const ODD_VALUES: &[&str] = &[
    "null",
    "true",
    "0",
    "-1",
    "1.5",
    "-0.0",
    "1e308",
    "18446744073709551616",
    "-9223372036854775808",
    "9223372036854775807",
    "\"\"",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"2026-13-45T25:61:61Z\"",
    "\"9999-12-31T23:59:59.999+14:00\"",
    "\"0000-01-01T00:00:00Z\"",
    "[]",
    "[1,2]",
    "{}",
    "{\"a\":{\"b\":[null]}}",
];

/// Turns valid lines into damaged ones.
pub struct Mutator {
    rng: Rng,
}

impl Mutator {
    pub fn new(seed: u64) -> Mutator {
        Mutator {
            rng: Rng::new(seed),
        }
    }

    /// One damaged variant of `line` (an event line as the generator
    /// writes it), as bytes: some are not UTF-8.
    pub fn mutate(&mut self, line: &str) -> Vec<u8> {
        match self.rng.below(8) {
            0 => self.cut(line),
            1 => self.flip_bytes(line),
            2 => self.random_bytes(),
            _ => self.damage_fields(line),
        }
    }

    fn cut(&mut self, line: &str) -> Vec<u8> {
        let bytes = line.as_bytes();
        bytes[..self.rng.below(bytes.len() + 1)].to_vec()
    }

    fn flip_bytes(&mut self, line: &str) -> Vec<u8> {
        let mut bytes = line.as_bytes().to_vec();
        for _ in 0..=self.rng.below(4) {
            if bytes.is_empty() {
                break;
            }
            let at = self.rng.below(bytes.len());
            bytes[at] = self.rng.below(256) as u8;
        }
        bytes
    }

    fn random_bytes(&mut self) -> Vec<u8> {
        (0..self.rng.below(200))
            .map(|_| self.rng.below(256) as u8)
            .collect()
    }

    /// Parses the line and damages its fields: drops some, retypes
    /// some, stretches a label, moves the instant to an edge, renames the
    /// type. A line that does not parse is returned as it is.
    fn damage_fields(&mut self, line: &str) -> Vec<u8> {
        let Ok(Value::Object(mut fields)) = serde_json::from_str::<Value>(line) else {
            return line.as_bytes().to_vec();
        };
        for _ in 0..=self.rng.below(3) {
            let keys: Vec<String> = fields.keys().cloned().collect();
            let Some(key) = keys.get(self.rng.below(keys.len())).cloned() else {
                break;
            };
            match self.rng.below(6) {
                0 => {
                    fields.remove(&key);
                }
                1 | 2 => {
                    let odd = ODD_VALUES[self.rng.below(ODD_VALUES.len())];
                    if let Ok(value) = serde_json::from_str(odd) {
                        fields.insert(key, value);
                    }
                }
                3 => {
                    let long = "q".repeat(1 + self.rng.below(20_000));
                    fields.insert(key, Value::String(long));
                }
                4 => self.edge_instant(&mut fields),
                _ => self.odd_type(&mut fields),
            }
        }
        Value::Object(fields).to_string().into_bytes()
    }

    fn edge_instant(&mut self, fields: &mut Map<String, Value>) {
        let ts = match self.rng.below(4) {
            0 => json!(i64::MAX),
            1 => json!(i64::MIN),
            2 => json!(0),
            _ => json!("2262-04-11T23:47:16.854Z"),
        };
        fields.insert("ts".to_owned(), ts);
    }

    fn odd_type(&mut self, fields: &mut Map<String, Value>) {
        let kind = match self.rng.below(5) {
            0 => "ticket.",
            1 => "interaction.created",
            2 => "Ticket.Created",
            3 => "survey.nps.extra",
            // A custom type of the fuzz config, with whatever fields.
            _ => "cost.recorded",
        };
        fields.insert("type".to_owned(), json!(kind));
    }
}

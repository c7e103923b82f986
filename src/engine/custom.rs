//! Custom ratios from the config (SPEC §2): filters on event type and
//! fields that count, or sum a field, into a numerator and a denominator.

use super::{At, Engine};
use crate::decode::TypeId;
use serde::{Deserialize, Serialize};

/// One filter side of a custom ratio, from the config.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct CustomSide {
    pub(super) ratio: usize,
    /// 0 numerator, 1 denominator.
    pub(super) side: usize,
    pub(super) sum: Option<String>,
    pub(super) matching: Vec<(String, String)>,
}

impl Engine {
    /// Feeds the custom ratios whose filters match this accepted event.
    pub(super) fn apply_custom(&mut self, type_id: TypeId, at: At, line: &str) {
        if self.custom_by_type.is_empty() {
            return;
        }
        let type_name = self.decoder.type_name(type_id);
        let Some(sides) = self.custom_by_type.get(type_name) else {
            return;
        };
        if !at.in_windows {
            return;
        }
        let needs_fields = sides
            .iter()
            .any(|s| s.sum.is_some() || !s.matching.is_empty());
        // Only custom filters that read fields pay for a second, generic parse.
        let fields: serde_json::Map<String, serde_json::Value> = if needs_fields {
            serde_json::from_str(line).unwrap_or_default()
        } else {
            serde_json::Map::new()
        };
        let mut hits: Vec<(usize, usize, f64)> = Vec::with_capacity(sides.len());
        for side in sides {
            let matches = side
                .matching
                .iter()
                .all(|(k, v)| fields.get(k).and_then(|f| f.as_str()) == Some(v.as_str()));
            if !matches {
                continue;
            }
            let amount = match &side.sum {
                None => 1.0,
                Some(field) => match fields.get(field).and_then(|f| f.as_f64()) {
                    Some(v) => v,
                    None => continue,
                },
            };
            hits.push((side.ratio, side.side, amount));
        }
        self.record(at, None, None, |tally| {
            for &(ratio, side, amount) in &hits {
                tally.custom(ratio, side, amount);
            }
        });
    }
}

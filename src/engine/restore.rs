//! An engine from a checkpoint's [`State`]: the state as saved, under
//! settings built from the config, with this process's counters at 0.
//! A checkpoint is usable only under a config that gives its state the
//! same shape, which [`Engine::state_fingerprint`] stands for.

use super::{Engine, Sla, State};
use crate::config::Config;

impl Engine {
    /// What a checkpoint saves.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// A copy of what a checkpoint saves, taken on the partition's worker
    /// in microseconds: the large parts are shared copy-on-write (`cow`), and of
    /// the SLA part only the saved clocks are copied, not the timer.
    pub fn checkpoint_copy(&mut self) -> State {
        self.end_batch();
        let s = &mut self.state;
        State {
            clock_ms: s.clock_ms,
            next_sweep_ms: s.next_sweep_ms,
            dedup: s.dedup.share(),
            queues: s.queues.clone(),
            categories: s.categories.clone(),
            agent_labels: s.agent_labels.clone(),
            tickets: s.tickets.share(),
            interactions: s.interactions.share(),
            agents: s.agents.share(),
            customers: s.customers.share(),
            scopes: s.scopes.share(),
            sla: s.sla.saved_copy(),
        }
    }

    /// An engine built from `config` holding the saved `state`. The caller
    /// has checked that `state` was saved under the same fingerprint.
    pub fn restore(config: &Config, mut state: State) -> Engine {
        let mut engine = Engine::new(config);
        let fresh = std::mem::take(&mut engine.state.sla);
        let fresh_state = &engine.state;
        state.dedup.limit_as(&fresh_state.dedup);
        state.queues.limit_as(&fresh_state.queues);
        state.categories.limit_as(&fresh_state.categories);
        state.agent_labels.limit_as(&fresh_state.agent_labels);
        let saved = std::mem::take(&mut state.sla);
        let clocks = state
            .tickets
            .iter()
            .filter_map(|(&id, t)| t.sla.map(|slot| (id, slot)));
        state.sla = Sla::restored(fresh, saved, clocks);
        engine.state = state;
        engine
    }

    /// Starts this process's counters afresh (see [`Engine::restore`]'s
    /// caller: what it read again was counted already).
    pub fn reset_counts(&mut self) {
        self.cumulative = Default::default();
        self.health = Default::default();
    }

    /// Stands for the settings that give the state its shape: the window
    /// lengths, per-queue windows, the zone of `today`, the custom ratios
    /// and the SLA policies in order (a clock holds its policy's place).
    /// Anything else (targets, calendars, limits, lateness, retention) may
    /// change between a checkpoint and its restore.
    pub fn state_fingerprint(&self) -> u64 {
        let s = &self.settings;
        let policies: Vec<&str> = self
            .state
            .sla
            .rules()
            .policies
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        let shape = format!(
            "windows {:?} by queue {} today {:?} custom {:?} sla {:?}",
            s.window_lengths_ms,
            s.windows_by_queue,
            s.today_zone.map(|z| z.name()),
            self.custom_names,
            policies
        );
        xxhash_rust::xxh3::xxh3_64(shape.as_bytes())
    }
}

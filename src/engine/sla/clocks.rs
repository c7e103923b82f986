//! Per-ticket SLA clocks (SPEC §4.2, §4.4) and the timer that fires their
//! deadlines. A ticket's clocks share one "last change" instant: every
//! change settles all of them there, so each clock needs only its counted
//! time and two flags. The timer holds one live entry per ticket, at the
//! earliest instant something of it falls due (at risk, or a breach), so
//! nothing scans the tickets.

use serde::{Deserialize, Serialize};

use super::calendar::{Calendar, CALENDAR_HORIZON_MS};
use super::policy::{Kind, Policy, SlaRules};
use crate::decode::{Channel, Priority, TicketStatus};
use crate::engine::cumulative::TicketDims;
use crate::engine::IdMap;
pub use slots::Slot;
use slots::Slots;
pub use ticket_id::TicketId;
use timer::Timer;

mod saved;
mod slots;
mod ticket_id;
mod timer;

const NONE: i64 = i64::MAX;
/// The low three bits of a clock's state byte; the five above them are
/// bits 32..37 of its counted time.
const RUNNING: u8 = 1;
const BREACHED: u8 = 2;
const AT_RISK: u8 = 4;
const FLAGS: u8 = 7;
/// Counted time is kept in 37 bits (4.3 years): a clock saturates there,
/// which only a breached clock left running that long can reach, as
/// longer targets count as this long (see [`Sla::target`]).
const MAX_COUNTED_MS: i64 = (1 << 37) - 1;
const NO_POLICY: u8 = u8::MAX;

/// The SLA part of a ticket's state: 48 bytes in a slot of [`Sla`]'s
/// (SPEC §4.5 allows about 100 bytes). It holds the terms and channel its
/// clocks run under, so that a deadline fires without the ticket: the
/// engine runs the SLA work of a batch of events after the batch (see
/// `hooks`), when the ticket may have changed again or be gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketClocks {
    /// The last change: every running clock is settled up to here, and
    /// time never runs backwards before it.
    since_ms: i64,
    /// The instant of this ticket's live entry in the timer; `NONE`
    /// without one.
    scheduled_ms: i64,
    /// Counted time of each kind, low 32 bits; the high ones are in `state`.
    counted_lo: [u32; 3],
    /// Per kind: flags, and counted time above 32 bits.
    state: [u8; 3],
    policy: u8,
    channel: Channel,
    terms: Terms,
    ticket: TicketId,
}

/// A ticket being created: its hash and id as sent (inline, or in
/// `long_name` when it does not fit), and what chooses its policy.
#[derive(Debug, Clone)]
pub struct NewTicket<'a> {
    pub id: u64,
    pub name: TicketId,
    pub long_name: Option<Box<str>>,
    pub queue: &'a str,
    pub channel: Channel,
}

/// What a ticket's clocks are judged by at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terms {
    pub priority: Priority,
    pub status: TicketStatus,
    /// The ticket's queue label id, for the gauges.
    pub queue: u16,
}

/// What a call decided, for the engine to count. `business_ms` is the
/// counted time of a clock that stopped under a calendar (the
/// `*_business_seconds` histograms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Stopped within target, at the stopping event's `ts`.
    Met {
        kind: Kind,
        at_ms: i64,
        business_ms: Option<i64>,
    },
    /// Its deadline passed while it ran; counted at the deadline.
    Breached { kind: Kind, at_ms: i64 },
    /// A breached clock stopped: its breach is already counted.
    StoppedLate {
        kind: Kind,
        business_ms: Option<i64>,
    },
}

/// The engine's SLA part: rules, calendars, timer and gauges.
#[derive(Debug, Clone)]
pub struct Sla {
    rules: SlaRules,
    calendars: Vec<Calendar>,
    timer: Timer,
    /// Open tickets breached, and at risk, per queue id and kind.
    breached: Vec<[u64; 3]>,
    at_risk: Vec<[u64; 3]>,
    /// Added to by each call; the caller takes them.
    pub verdicts: Vec<Verdict>,
    /// Ids of tickets with clocks that do not fit inline, by ticket hash.
    long_ids: IdMap<Box<str>>,
    /// Every ticket's clocks.
    slots: Slots,
}

impl Default for TicketClocks {
    /// No policy, no clock: a ticket of an engine without `[sla]`.
    fn default() -> Self {
        TicketClocks {
            since_ms: 0,
            scheduled_ms: NONE,
            counted_lo: [0; 3],
            state: [0; 3],
            policy: NO_POLICY,
            channel: Channel::Other,
            terms: Terms {
                priority: Priority::Normal,
                status: TicketStatus::Open,
                queue: 0,
            },
            ticket: TicketId::default(),
        }
    }
}

impl Default for Sla {
    fn default() -> Self {
        Sla::new(SlaRules::default())
    }
}

impl TicketClocks {
    /// The ticket's id if it is short enough to be kept inline.
    pub fn ticket_id(&self) -> TicketId {
        self.ticket
    }

    /// The ticket's labels as its clocks last saw them.
    pub fn dims(&self) -> TicketDims {
        TicketDims {
            channel: self.channel,
            priority: self.terms.priority,
            queue: self.terms.queue,
        }
    }

    fn running(&self, kind: Kind) -> bool {
        self.flag(kind, RUNNING)
    }
    fn flag(&self, kind: Kind, f: u8) -> bool {
        self.state[kind as usize] & f != 0
    }
    fn counted(&self, kind: Kind) -> i64 {
        let k = kind as usize;
        (i64::from(self.state[k] >> 3) << 32) | i64::from(self.counted_lo[k])
    }
    fn set_counted(&mut self, kind: Kind, ms: i64) {
        let ms = ms.clamp(0, MAX_COUNTED_MS);
        let k = kind as usize;
        self.counted_lo[k] = ms as u32;
        self.state[k] = (self.state[k] & FLAGS) | (((ms >> 32) as u8) << 3);
    }
    /// Starts a clock of `kind` with nothing counted.
    fn begin(&mut self, kind: Kind) {
        self.state[kind as usize] = RUNNING;
        self.counted_lo[kind as usize] = 0;
    }
}

// The operations marked `#[inline(never)]` stay out of line: inlined into
// every ticket event's handler they doubled the instruction-cache misses
// of the engine's hot loop (callgrind over 200k events: 14.4M misses
// inlined, 11.2M out of line, 6.0M without SLA), for no fewer instructions.
impl Sla {
    pub fn new(rules: SlaRules) -> Sla {
        let calendars = rules.schedules.iter().cloned().map(Calendar::new).collect();
        Sla {
            rules,
            calendars,
            timer: Timer::default(),
            breached: Vec::new(),
            at_risk: Vec::new(),
            verdicts: Vec::new(),
            long_ids: IdMap::default(),
            slots: Slots::default(),
        }
    }

    pub fn rules(&self) -> &SlaRules {
        &self.rules
    }

    /// Keeps a new ticket's clocks (from [`Sla::create`]) in a slot.
    pub fn hold(&mut self, c: TicketClocks) -> Option<Slot> {
        self.slots.hold(c)
    }

    /// Runs `op` on the clocks in `slot`, beside the rest of the SLA state.
    pub fn with_clocks<R>(
        &mut self,
        slot: Slot,
        op: impl FnOnce(&mut Sla, &mut TicketClocks) -> R,
    ) -> R {
        let mut c = self.slots.get(slot);
        let result = op(self, &mut c);
        self.slots.put(slot, c);
        result
    }

    /// Drops the clocks of ticket `id` (see [`Sla::drop_all`]) and frees
    /// their slot.
    pub fn release(&mut self, id: u64, slot: Slot) {
        self.with_clocks(slot, |sla, c| sla.drop_all(id, c));
        self.slots.release(slot);
    }

    /// Timer entries held, stale ones included.
    pub fn timer_len(&self) -> usize {
        self.timer.len()
    }

    /// Open tickets with a breached running clock, by queue id and kind.
    pub fn breached_gauge(&self) -> &[[u64; 3]] {
        &self.breached
    }

    pub fn at_risk_gauge(&self) -> &[[u64; 3]] {
        &self.at_risk
    }

    fn policy(&self, c: &TicketClocks) -> Option<&Policy> {
        self.rules.policies.get(c.policy as usize)
    }

    /// The clock's target; one beyond what counted time holds counts as
    /// that long (4.3 years), so that counting and target stay in step.
    fn target(&self, c: &TicketClocks, kind: Kind) -> Option<i64> {
        self.policy(c)
            .and_then(|p| p.target(c.terms.priority, kind))
            .map(|ms| ms.min(MAX_COUNTED_MS))
    }

    fn counting(&self, c: &TicketClocks) -> bool {
        self.policy(c).is_some_and(|p| !p.pauses(c.terms.status))
    }

    /// Open time in `[from, to)` under the ticket's policy.
    fn count(&mut self, c: &TicketClocks, from: i64, to: i64) -> i64 {
        match self.policy(c).and_then(|p| p.calendar) {
            // A span beyond the calendar's horizon (an event stamped
            // decades before the next) would lay those decades out:
            // such a clock saturates at once instead.
            Some(_) if to.saturating_sub(from) > CALENDAR_HORIZON_MS => MAX_COUNTED_MS,
            Some(i) => self.calendars[i].counted(from, to),
            None => to.saturating_sub(from).max(0),
        }
    }

    /// Where `remaining` more counted ms run out from `from`: the last
    /// instant within them (`deadline`) or the first at them (`reach`).
    fn run_out(&mut self, c: &TicketClocks, from: i64, remaining: i64, deadline: bool) -> i64 {
        match self.policy(c).and_then(|p| p.calendar) {
            Some(i) if deadline => self.calendars[i].deadline(from, remaining),
            Some(i) => self.calendars[i].reach(from, remaining),
            None => Some(from.saturating_add(remaining.max(0))),
        }
        .unwrap_or(NONE)
    }

    fn gauge(gauge: &mut Vec<[u64; 3]>, queue: u16, kind: Kind, up: bool) {
        let q = queue as usize;
        if gauge.len() <= q {
            gauge.resize(q + 1, [0; 3]);
        }
        let slot = &mut gauge[q][kind as usize];
        *slot = if up {
            *slot + 1
        } else {
            slot.saturating_sub(1)
        };
    }

    /// Sets or clears flag `f` of a clock, keeping the gauges in step.
    fn set(&mut self, c: &mut TicketClocks, kind: Kind, f: u8, on: bool) {
        if c.flag(kind, f) == on {
            return;
        }
        c.state[kind as usize] ^= f;
        let queue = c.terms.queue;
        match f {
            BREACHED => Self::gauge(&mut self.breached, queue, kind, on),
            AT_RISK => Self::gauge(&mut self.at_risk, queue, kind, on),
            _ => {}
        }
    }

    /// Brings every running clock's counted time up to `now` (never
    /// before the last change) under the terms in force until now.
    #[inline(never)]
    fn settle(&mut self, c: &mut TicketClocks, now: i64) -> i64 {
        let now = now.max(c.since_ms);
        if self.counting(c) {
            let counted = self.count(c, c.since_ms, now);
            for kind in Kind::ALL {
                if c.running(kind) {
                    c.set_counted(kind, c.counted(kind).saturating_add(counted));
                }
            }
        }
        c.since_ms = now;
        now
    }

    /// A new ticket under `terms`: chooses its policy and starts the
    /// first-response and resolution clocks its target sets.
    #[inline(never)]
    pub fn create(&mut self, ticket: NewTicket, terms: Terms, now: i64) -> TicketClocks {
        let mut c = TicketClocks {
            since_ms: now,
            policy: self
                .rules
                .choose(ticket.queue, ticket.channel)
                .map_or(NO_POLICY, |p| p as u8),
            channel: ticket.channel,
            terms,
            ticket: ticket.name,
            ..TicketClocks::default()
        };
        if let Some(long) = ticket.long_name {
            self.long_ids.insert(ticket.id, long);
        }
        for kind in [Kind::FirstResponse, Kind::Resolution] {
            if self.target(&c, kind).is_some() {
                c.begin(kind);
            }
        }
        self.review(ticket.id, &mut c, now);
        c
    }

    /// Starts a clock of `kind` now if it has a target and is not running
    /// (a customer reply awaiting an answer starts a next-reply clock).
    #[inline(never)]
    pub fn start(&mut self, id: u64, c: &mut TicketClocks, kind: Kind, now: i64) {
        let now = self.settle(c, now);
        if !c.running(kind) && self.target(c, kind).is_some() {
            c.begin(kind);
        }
        self.review(id, c, now);
    }

    /// Stops a clock with a verdict: met, or late after its breach.
    #[inline(never)]
    pub fn stop(&mut self, id: u64, c: &mut TicketClocks, kind: Kind, now: i64) {
        let now = self.settle(c, now);
        self.end(c, kind, true, now);
        self.review(id, c, now);
    }

    /// A resolution: ends the reply clocks without a verdict and judges
    /// the resolution clock (SPEC §4.2).
    #[inline(never)]
    pub fn resolve(&mut self, id: u64, c: &mut TicketClocks, now: i64) {
        let now = self.settle(c, now);
        self.end(c, Kind::FirstResponse, false, now);
        self.end(c, Kind::NextReply, false, now);
        self.end(c, Kind::Resolution, true, now);
        self.review(id, c, now);
    }

    #[inline(never)]
    fn end(&mut self, c: &mut TicketClocks, kind: Kind, judged: bool, now: i64) {
        if !c.running(kind) {
            return;
        }
        let counted = c.counted(kind);
        let breached = c.flag(kind, BREACHED);
        if judged {
            let business_ms = self.policy(c).and_then(|p| p.calendar).map(|_| counted);
            let target = self.target(c, kind).unwrap_or(i64::MAX);
            self.verdicts.push(if breached || counted > target {
                Verdict::StoppedLate { kind, business_ms }
            } else {
                Verdict::Met {
                    kind,
                    at_ms: now,
                    business_ms,
                }
            });
        }
        self.set(c, kind, BREACHED, false);
        self.set(c, kind, AT_RISK, false);
        c.state[kind as usize] = 0;
        c.counted_lo[kind as usize] = 0;
    }

    /// Every clock of ticket `id` dropped without a verdict
    /// (`ticket.closed`, or the ticket released), its timer entry and
    /// long id with them.
    pub fn drop_all(&mut self, id: u64, c: &mut TicketClocks) {
        for kind in Kind::ALL {
            self.end(c, kind, false, c.since_ms);
        }
        if c.scheduled_ms != NONE {
            self.timer.cancel(c.scheduled_ms, id);
            c.scheduled_ms = NONE;
        }
        self.long_ids.remove(&id);
    }

    /// The id of ticket `id` as it was sent, for the exemplar of a breach.
    pub fn ticket_name<'a>(&'a self, id: u64, c: &'a TicketClocks) -> Option<&'a str> {
        c.ticket
            .as_str()
            .or_else(|| self.long_ids.get(&id).map(|name| &**name))
    }

    /// The ticket's status, priority or queue changes to `after`; with
    /// `reselect` (the ticket's queue name), the policy is chosen again
    /// (SPEC §4.2), and `awaits` says which kinds the ticket still awaits,
    /// for clocks the new policy starts.
    #[inline(never)]
    pub fn change(
        &mut self,
        id: u64,
        c: &mut TicketClocks,
        after: Terms,
        reselect: Option<&str>,
        awaits: [bool; 3],
        now: i64,
    ) {
        let now = self.settle(c, now);
        let before = std::mem::replace(&mut c.terms, after);
        // Gauges follow the ticket to its new queue.
        if before.queue != after.queue {
            for kind in Kind::ALL {
                for (f, gauge) in [(BREACHED, &mut self.breached), (AT_RISK, &mut self.at_risk)] {
                    if c.flag(kind, f) {
                        Self::gauge(gauge, before.queue, kind, false);
                        Self::gauge(gauge, after.queue, kind, true);
                    }
                }
            }
        }
        if let Some(queue) = reselect {
            c.policy = self
                .rules
                .choose(queue, c.channel)
                .map_or(NO_POLICY, |p| p as u8);
            for kind in Kind::ALL {
                match (c.running(kind), self.target(c, kind)) {
                    (true, None) => self.end(c, kind, false, now),
                    (true, Some(target)) => {
                        if !c.flag(kind, BREACHED) && c.counted(kind) > target {
                            self.breach(c, kind, now);
                        }
                    }
                    (false, Some(_)) if awaits[kind as usize] => c.begin(kind),
                    (false, _) => {}
                }
            }
        }
        self.review(id, c, now);
    }

    fn breach(&mut self, c: &mut TicketClocks, kind: Kind, at_ms: i64) {
        self.set(c, kind, AT_RISK, false);
        self.set(c, kind, BREACHED, true);
        self.verdicts.push(Verdict::Breached { kind, at_ms });
    }

    /// Fires what is due at `now` for the ticket (at risk, breaches, each
    /// at its own instant) and schedules its next entry.
    #[inline(never)]
    fn review(&mut self, id: u64, c: &mut TicketClocks, now: i64) {
        let mut next = NONE;
        let counting = self.counting(c);
        for kind in Kind::ALL {
            if !c.running(kind) || c.flag(kind, BREACHED) {
                continue;
            }
            let Some(target) = self.target(c, kind) else {
                continue;
            };
            let counted = c.counted(kind);
            let threshold = self.rules.at_risk_ms(target);
            // At risk from the first instant the threshold is counted;
            // a new, longer target can take a clock out of risk.
            // A calendar only delays an instant, never brings it forward:
            // while even the earliest it could be is still to come, the
            // ticket wakes then rather than searching its calendar now.
            // Most clocks stop before that, and are never searched.
            let risk_floor = c.since_ms.saturating_add(threshold - counted);
            let deadline_floor = c.since_ms.saturating_add(target - counted);
            let risk_at = if counted >= threshold {
                c.since_ms
            } else if !counting {
                NONE
            } else if risk_floor > now {
                self.set(c, kind, AT_RISK, false);
                next = next.min(risk_floor);
                continue;
            } else {
                self.run_out(c, c.since_ms, threshold - counted, false)
            };
            self.set(c, kind, AT_RISK, risk_at <= now);
            if !counting {
                continue;
            }
            if risk_at > now {
                next = next.min(risk_at);
                continue;
            }
            if deadline_floor > now {
                next = next.min(deadline_floor.saturating_add(1));
                continue;
            }
            let deadline = self.run_out(c, c.since_ms, target - counted, true);
            if deadline < now {
                self.breach(c, kind, deadline);
            } else {
                next = next.min(deadline.saturating_add(1));
            }
        }
        // An entry still to come at or before `next` stays: it comes up,
        // finds nothing due and schedules again. So a pause, or a later
        // deadline, cancels nothing; only an earlier one replaces it.
        let kept = c.scheduled_ms;
        if next < kept || (kept <= now && kept != NONE) {
            if kept != NONE {
                self.timer.cancel(kept, id);
            }
            if next != NONE {
                self.timer.push(next, id);
            }
            c.scheduled_ms = next;
        }
    }

    /// The next ticket whose timer entry is due by `now` (its instant
    /// ≤ `now`), removed from the timer; the caller finds its clocks and
    /// calls [`Sla::fire`].
    pub fn pop_due(&mut self, now: i64) -> Option<(i64, u64)> {
        self.timer.pop_due(now)
    }

    /// Whether any ticket may have something due by `now`: when not, no
    /// ticket needs [`Sla::catch_up`].
    pub fn any_due(&self, now: i64) -> bool {
        self.timer.any_due(now)
    }

    /// Fires what of this ticket fell due by `now`, before an event of it
    /// is applied at `now`: its clocks are judged in the order of events.
    #[inline(never)]
    pub fn catch_up(&mut self, id: u64, c: &mut TicketClocks, now: i64) {
        while c.scheduled_ms <= now {
            let at = c.scheduled_ms;
            // Fired here, not popped: the entry must not come up again.
            self.timer.cancel(at, id);
            self.fire(id, c, at);
        }
    }

    /// Fires a ticket's entry that came due at `at`; one that is not the
    /// ticket's (its schedule moved since) does nothing.
    #[inline(never)]
    pub fn fire(&mut self, id: u64, c: &mut TicketClocks, at: i64) {
        if c.scheduled_ms != at {
            return;
        }
        c.scheduled_ms = NONE;
        // Firing is not a change: counted time stays settled at `since`.
        self.review(id, c, at);
    }
}

#[cfg(test)]
mod tests;

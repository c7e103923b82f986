//! A deterministic, seeded generator of a realistic support centre: the
//! JSON lines of SPEC §1, for the demo, benchmarks and tests.
//!
//! It is a small discrete-event simulation. Every ticket, interaction,
//! survey and agent is a flow that emits one event per step and schedules
//! its next step some realistic delay later. Event time advances in
//! exponential gaps averaging `1 / events_per_sec`; at each tick the
//! earliest due step is emitted, or, when none is due, a new flow starts.
//! So the rate is exact on average, the output is in `ts` order, and the
//! mix of event types settles to that of a steady centre. A step that
//! falls due while others are still waiting is emitted a few ticks late,
//! never early, which keeps every flow in order.
//!
//! The random numbers come from an inline SplitMix64, so a seed gives the
//! same lines on every platform and with every version of dependencies.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt::Write;

/// Appends formatted text; writing into a `String` cannot fail.
macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    pub seed: u64,
    /// Event time of the stream's start, epoch milliseconds.
    pub start_ms: i64,
    /// Mean rate of events, per second of event time.
    pub events_per_sec: f64,
    pub queues: usize,
    pub agents: usize,
    /// Customers known at the start; sign-ups add more.
    pub customers: usize,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            seed: 1,
            // 2026-01-05T08:00:00Z, a Monday morning.
            start_ms: 1_767_600_000_000,
            events_per_sec: 50.0,
            queues: 8,
            agents: 40,
            customers: 5000,
        }
    }
}

/// An endless stream of events, one JSON object per item.
pub struct Generator {
    rng: Rng,
    /// Event time of the last tick; fractional so the mean rate is exact.
    clock_ms: f64,
    mean_gap_ms: f64,
    events: u64,
    tickets: u64,
    interactions: u64,
    /// Customer ids in use: the initial ones plus every sign-up.
    customers: u32,
    initial_customers: u32,
    /// Sign-ups that churned since: the first ones after the initial customers.
    churned: u32,
    /// The first tenth of the customers write far more often.
    regulars: u32,
    agents: usize,
    queue_names: Vec<Box<str>>,
    /// Cumulative popularity of the queues, for a skewed pick.
    queue_weights: Vec<f64>,
    pending: BinaryHeap<Pending>,
    scheduled: u64,
}

/// The Kafka message key producers use (SPEC §1): the ticket, else the
/// interaction or agent the event is about; else its customer or own id.
pub fn partition_key(line: &str) -> String {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
        return String::new();
    };
    [
        "ticket_id",
        "interaction_id",
        "agent_id",
        "customer_id",
        "event_id",
    ]
    .iter()
    .find_map(|k| value.get(k).and_then(|v| v.as_str()).map(str::to_owned))
    .unwrap_or_default()
}

impl Generator {
    /// Event time of the last event made, epoch milliseconds.
    pub fn clock_ms(&self) -> i64 {
        self.clock_ms as i64
    }

    /// Counts are taken as at least 1 (and agents, queues at most 65,535).
    ///
    /// # Panics
    /// When `events_per_sec` is not a positive finite number.
    pub fn new(config: GeneratorConfig) -> Generator {
        assert!(
            config.events_per_sec.is_finite() && config.events_per_sec > 0.0,
            "events_per_sec must be positive, got {}",
            config.events_per_sec
        );
        let queues = config.queues.clamp(1, u16::MAX as usize);
        let agents = config.agents.clamp(1, u16::MAX as usize);
        let customers = config.customers.clamp(1, u32::MAX as usize / 2) as u32;
        let queue_names = (0..queues)
            .map(|i| match QUEUE_NAMES.get(i) {
                Some(name) => (*name).into(),
                None => format!("queue-{i:03}").into(),
            })
            .collect();
        // Zipf-like: the first queues carry most of the work, as in real centres.
        let mut total = 0.0;
        let queue_weights = (0..queues)
            .map(|i| {
                total += 1.0 / ((i + 1) as f64).powf(0.7);
                total
            })
            .collect();
        let mut generator = Generator {
            rng: Rng::new(config.seed),
            clock_ms: config.start_ms as f64,
            mean_gap_ms: 1000.0 / config.events_per_sec,
            events: 0,
            tickets: 0,
            interactions: 0,
            customers,
            initial_customers: customers,
            churned: 0,
            regulars: (customers / 10).max(1),
            agents,
            queue_names,
            queue_weights,
            pending: BinaryHeap::new(),
            scheduled: 0,
        };
        generator.staff_the_shifts(config.start_ms);
        generator
    }

    /// Most agents start on shift; the others come in during the first
    /// eight hours. Each reports its status within the first minutes.
    fn staff_the_shifts(&mut self, start_ms: i64) {
        for index in 0..self.agents {
            let first_ms = start_ms + self.rng.below(300_000) as i64;
            let agent = if self.rng.chance(0.75) {
                Agent {
                    index: index as u16,
                    status: AgentStatus::Available,
                    until_ms: first_ms + HOUR + self.rng.below(7 * HOUR as usize) as i64,
                }
            } else {
                Agent {
                    index: index as u16,
                    status: AgentStatus::Offline,
                    until_ms: first_ms + self.rng.below(8 * HOUR as usize) as i64,
                }
            };
            self.schedule(first_ms, Flow::Agent(agent));
        }
    }

    fn schedule(&mut self, due_ms: i64, flow: Flow) {
        self.scheduled += 1;
        self.pending.push(Pending {
            due_ms,
            order: self.scheduled,
            flow,
        });
    }

    /// Starts a flow whose first event is emitted now.
    fn start(&mut self, now: i64, out: &mut String) {
        match self.rng.pick(&START_WEIGHTS) {
            0 => {
                self.tickets += 1;
                let queue = self.queue();
                let mut ticket = Ticket {
                    id: self.tickets,
                    customer: self.customer(),
                    queue,
                    agent: self.agent_for(queue),
                    channel: self.rng.pick(&CHANNEL_WEIGHTS) as u8,
                    priority: self.rng.pick(&PRIORITY_WEIGHTS) as u8,
                    status: TicketStatus::Open,
                    step: TicketStep::Created,
                    rounds: 0,
                    replied: false,
                    noted: false,
                    reopened: false,
                    stale: self.rng.chance(0.01),
                };
                self.advance_ticket(&mut ticket, now, out);
            }
            1 => {
                self.interactions += 1;
                let queue = self.queue();
                let mut interaction = Interaction {
                    id: self.interactions,
                    customer: self.customer(),
                    queue,
                    agent: self.agent_for(queue),
                    phone: self.rng.chance(0.7),
                    step: InteractionStep::Queued,
                };
                self.advance_interaction(&mut interaction, now, out);
            }
            2 => self.completed(now, out),
            3 => {
                let customer = self.customer();
                self.survey(
                    Survey {
                        kind: SurveyKind::Nps,
                        ticket: None,
                        customer,
                        agent: None,
                    },
                    now,
                    out,
                );
            }
            4 => self.sign_up(now, out),
            // Only customers the stream saw sign up churn, each once, so that
            // retention and churn (SPEC §7.9) stay meaningful; the oldest go first.
            _ if self.churned < self.customers - self.initial_customers => {
                let customer = self.initial_customers + self.churned;
                self.churned += 1;
                self.begin(out, "customer.churned", now);
                customer_field(out, customer);
            }
            _ => self.sign_up(now, out),
        }
    }

    fn sign_up(&mut self, now: i64, out: &mut String) {
        let customer = self.customers;
        self.customers = self.customers.saturating_add(1);
        self.begin(out, "customer.signed_up", now);
        customer_field(out, customer);
    }

    /// Emits the step a scheduled flow is at.
    fn resume(&mut self, flow: Flow, now: i64, out: &mut String) {
        match flow {
            Flow::Ticket(mut t) => self.advance_ticket(&mut t, now, out),
            Flow::Interaction(mut i) => self.advance_interaction(&mut i, now, out),
            Flow::Survey(s) => self.survey(s, now, out),
            Flow::Agent(mut a) => self.advance_agent(&mut a, now, out),
        }
    }

    fn advance_ticket(&mut self, t: &mut Ticket, now: i64, out: &mut String) {
        if let Some(delay) = self.ticket_step(t, now, out) {
            self.schedule(now + delay, Flow::Ticket(*t));
        }
    }

    /// Writes the ticket's current step and moves it to the next one;
    /// the delay until then, or `None` when the ticket has no more events.
    fn ticket_step(&mut self, t: &mut Ticket, now: i64, out: &mut String) -> Option<i64> {
        let (step, delay) = match t.step {
            TicketStep::Created => {
                self.begin(out, "ticket.created", now);
                ticket_field(out, t.id);
                // A few producers leave optional fields out (SPEC §7.3 defaults).
                if !self.rng.chance(0.02) {
                    put!(out, r#","channel":"{}""#, CHANNELS[t.channel as usize]);
                }
                if !self.rng.chance(0.1) {
                    put!(out, r#","priority":"{}""#, PRIORITIES[t.priority as usize]);
                }
                put!(out, r#","queue":"{}""#, self.queue_names[t.queue as usize]);
                if !self.rng.chance(0.03) {
                    let category = CATEGORIES[self.rng.below(CATEGORIES.len())];
                    put!(out, r#","category":"{category}""#);
                }
                customer_field(out, t.customer);
                let mean = [600.0, 180.0, 90.0, 30.0][t.priority as usize] * SECOND;
                (TicketStep::Assigned, self.rng.exp(mean))
            }
            TicketStep::Assigned => {
                self.begin(out, "ticket.assigned", now);
                ticket_field(out, t.id);
                agent_field(out, t.agent);
                let rng = &mut self.rng;
                match rng.pick(&[6, 4, 6, 84]) {
                    0 => (TicketStep::Transfer, rng.exp(5.0 * MINUTE)),
                    1 => (TicketStep::Escalate, rng.exp(10.0 * MINUTE)),
                    // The customer chases before anyone answered: starts no clock.
                    2 => (TicketStep::CustomerReply, rng.exp(15.0 * MINUTE)),
                    _ => (TicketStep::AgentReply, reply_delay(rng, t)),
                }
            }
            TicketStep::Transfer => {
                t.queue = self.queue();
                t.agent = self.agent_for(t.queue);
                self.begin(out, "ticket.assigned", now);
                ticket_field(out, t.id);
                agent_field(out, t.agent);
                put!(out, r#","queue":"{}""#, self.queue_names[t.queue as usize]);
                (TicketStep::AgentReply, reply_delay(&mut self.rng, t))
            }
            TicketStep::Escalate => {
                t.priority = (t.priority + 1).min(PRIORITIES.len() as u8 - 1);
                self.begin(out, "ticket.updated", now);
                ticket_field(out, t.id);
                put!(out, r#","priority":"{}""#, PRIORITIES[t.priority as usize]);
                if self.rng.chance(0.3) {
                    let category = CATEGORIES[self.rng.below(CATEGORIES.len())];
                    put!(out, r#","category":"{category}""#);
                }
                (TicketStep::AgentReply, reply_delay(&mut self.rng, t))
            }
            TicketStep::AgentReply => {
                self.begin(out, "ticket.agent_replied", now);
                ticket_field(out, t.id);
                agent_field(out, t.agent);
                if self.rng.chance(0.2) {
                    out.push_str(r#","public":true"#);
                }
                t.replied = true;
                t.rounds += 1;
                self.after_reply(t)?
            }
            TicketStep::PrivateNote => {
                self.begin(out, "ticket.agent_replied", now);
                ticket_field(out, t.id);
                agent_field(out, t.agent);
                out.push_str(r#","public":false"#);
                self.after_reply(t)?
            }
            TicketStep::Pending | TicketStep::OnHold | TicketStep::Open => {
                let (status, next) = match t.step {
                    TicketStep::Pending => (TicketStatus::Pending, TicketStep::CustomerReply),
                    TicketStep::OnHold => (TicketStatus::OnHold, TicketStep::Open),
                    _ => (TicketStatus::Open, TicketStep::AgentReply),
                };
                t.status = status;
                self.begin(out, "ticket.status_changed", now);
                ticket_field(out, t.id);
                put!(out, r#","status":"{}""#, status.as_str());
                let rng = &mut self.rng;
                let delay = match next {
                    TicketStep::CustomerReply => customer_delay(rng, t),
                    // Waiting on a third party: hours.
                    TicketStep::Open => rng.exp(2.0 * HOUR as f64),
                    _ => reply_delay(rng, t),
                };
                (next, delay)
            }
            TicketStep::CustomerReply => {
                self.begin(out, "ticket.customer_replied", now);
                ticket_field(out, t.id);
                let rng = &mut self.rng;
                if t.status == TicketStatus::Open {
                    (TicketStep::AgentReply, reply_delay(rng, t))
                } else {
                    // The help desk reopens a pending ticket when the customer writes.
                    (TicketStep::Open, rng.exp(5.0 * SECOND))
                }
            }
            TicketStep::Resolve => {
                self.begin(out, "ticket.resolved", now);
                ticket_field(out, t.id);
                if self.rng.chance(0.9) {
                    agent_field(out, t.agent);
                }
                if self.rng.chance(0.35) {
                    let outcome = if self.rng.chance(0.88) {
                        "success"
                    } else {
                        "failure"
                    };
                    put!(out, r#","outcome":"{outcome}""#);
                }
                self.ask_for_feedback(t, now);
                let rng = &mut self.rng;
                if !t.reopened && rng.chance(0.07) {
                    // Well within the engine's retention of resolved tickets.
                    let delay = rng.exp(8.0 * HOUR as f64).min(2 * DAY);
                    (TicketStep::Reopen, delay)
                } else if rng.chance(0.9) {
                    (TicketStep::Close, rng.exp(4.0 * HOUR as f64).min(3 * DAY))
                } else {
                    return None;
                }
            }
            TicketStep::Reopen => {
                self.begin(out, "ticket.reopened", now);
                ticket_field(out, t.id);
                t.reopened = true;
                t.status = TicketStatus::Open;
                (TicketStep::CustomerReply, self.rng.exp(MINUTE))
            }
            TicketStep::Close => {
                self.begin(out, "ticket.closed", now);
                ticket_field(out, t.id);
                return None;
            }
        };
        t.step = step;
        Some(delay.max(0))
    }

    /// What follows an agent's reply: a private note, another round with
    /// the customer, a wait on a third party, or the resolution.
    fn after_reply(&mut self, t: &mut Ticket) -> Option<(TicketStep, i64)> {
        let rng = &mut self.rng;
        if !t.noted && rng.chance(0.12) {
            t.noted = true;
            return Some((TicketStep::PrivateNote, rng.exp(3.0 * MINUTE)));
        }
        let more = [0.0, 0.42, 0.3, 0.2, 0.1][(t.rounds as usize).min(4)];
        if t.rounds < 8 && rng.chance(more) {
            return Some(match rng.pick(&[45, 8, 47]) {
                0 => (TicketStep::Pending, rng.exp(20.0 * SECOND)),
                1 => (TicketStep::OnHold, rng.exp(MINUTE)),
                _ => (TicketStep::CustomerReply, customer_delay(rng, t)),
            });
        }
        // A stale ticket is never resolved and stays in the backlog.
        if t.stale {
            return None;
        }
        Some((TicketStep::Resolve, rng.exp(20.0 * MINUTE)))
    }

    /// Surveys and reviews about a resolved ticket, sent some time later.
    fn ask_for_feedback(&mut self, t: &Ticket, now: i64) {
        for (kind, chance, mean_delay) in [
            (SurveyKind::Csat, 0.3, HOUR),
            (SurveyKind::Ces, 0.1, HOUR),
            (SurveyKind::Iqs, 0.08, 4 * HOUR),
        ] {
            if self.rng.chance(chance) {
                let survey = Survey {
                    kind,
                    ticket: Some(t.id),
                    customer: t.customer,
                    agent: Some(t.agent),
                };
                let due = now + self.rng.exp(mean_delay as f64);
                self.schedule(due, Flow::Survey(survey));
            }
        }
    }

    fn survey(&mut self, s: Survey, now: i64, out: &mut String) {
        let (kind, score) = match s.kind {
            SurveyKind::Csat => ("survey.csat", 1 + self.rng.pick(&[6, 5, 9, 28, 52])),
            SurveyKind::Nps => (
                "survey.nps",
                self.rng.pick(&[2, 1, 1, 2, 2, 4, 6, 10, 14, 26, 32]),
            ),
            SurveyKind::Ces => ("survey.ces", 1 + self.rng.pick(&[3, 4, 6, 10, 20, 30, 27])),
            SurveyKind::Iqs => (
                "review.iqs",
                (84.0 + 9.0 * self.rng.normal()).round().clamp(0.0, 100.0) as usize,
            ),
        };
        self.begin(out, kind, now);
        put!(out, r#","score":{score}"#);
        if let Some(ticket) = s.ticket {
            ticket_field(out, ticket);
        }
        // Reviews are about the agent, not the customer.
        if s.kind != SurveyKind::Iqs {
            customer_field(out, s.customer);
        }
        let names_agent = match s.kind {
            SurveyKind::Csat => self.rng.chance(0.5),
            SurveyKind::Iqs => true,
            _ => false,
        };
        if let (true, Some(agent)) = (names_agent, s.agent) {
            agent_field(out, agent);
        }
    }

    fn advance_interaction(&mut self, i: &mut Interaction, now: i64, out: &mut String) {
        let id = i.id;
        let rng = &mut self.rng;
        let (kind, next) = match i.step {
            InteractionStep::Queued => {
                let next = match rng.pick(&[3, 11, 86]) {
                    0 => Some((InteractionStep::Blocked, rng.exp(2.0 * SECOND))),
                    1 => Some((InteractionStep::Abandoned, rng.exp(70.0 * SECOND))),
                    _ => {
                        // Most answered within the 20 s service level, as centres aim for.
                        let mean = if i.phone { 12.0 } else { 18.0 };
                        Some((InteractionStep::Answered, rng.exp(mean * SECOND)))
                    }
                };
                ("interaction.queued", next)
            }
            InteractionStep::Answered => {
                let next = if rng.chance(0.2) {
                    (InteractionStep::HoldStarted, rng.exp(2.0 * MINUTE))
                } else {
                    (InteractionStep::Ended, talk_time(rng, i.phone))
                };
                ("interaction.answered", Some(next))
            }
            InteractionStep::HoldStarted => (
                "interaction.hold_started",
                Some((InteractionStep::HoldEnded, rng.exp(MINUTE))),
            ),
            InteractionStep::HoldEnded => (
                "interaction.hold_ended",
                Some((InteractionStep::Ended, rng.exp(2.0 * MINUTE))),
            ),
            InteractionStep::Ended => (
                "interaction.ended",
                Some((InteractionStep::WrapupEnded, rng.exp(45.0 * SECOND))),
            ),
            InteractionStep::WrapupEnded => ("interaction.wrapup_ended", None),
            InteractionStep::Abandoned => ("interaction.abandoned", None),
            InteractionStep::Blocked => ("interaction.blocked", None),
        };
        self.begin(out, kind, now);
        put!(out, r#","interaction_id":"I{id}""#);
        match i.step {
            InteractionStep::Queued => {
                put!(out, r#","queue":"{}""#, self.queue_names[i.queue as usize]);
                // Phone is the default channel; half the producers say so anyway.
                if !i.phone {
                    out.push_str(r#","channel":"chat""#);
                } else if self.rng.chance(0.5) {
                    out.push_str(r#","channel":"phone""#);
                }
                customer_field(out, i.customer);
            }
            InteractionStep::Answered => agent_field(out, i.agent),
            _ => {}
        }
        if let Some((step, delay)) = next {
            i.step = step;
            self.schedule(now + delay.max(0), Flow::Interaction(*i));
        }
    }

    /// A one-record summary of a finished interaction, as some telephony
    /// systems send instead of the individual steps.
    fn completed(&mut self, now: i64, out: &mut String) {
        self.interactions += 1;
        let id = self.interactions;
        let queue = self.queue();
        let agent = self.agent_for(queue);
        let phone = self.rng.chance(0.7);
        self.begin(out, "interaction.completed", now);
        put!(out, r#","interaction_id":"I{id}""#);
        put!(out, r#","queue":"{}""#, self.queue_names[queue as usize]);
        put!(
            out,
            r#","channel":"{}""#,
            if phone { "phone" } else { "chat" }
        );
        agent_field(out, agent);
        let hold = if self.rng.chance(0.25) {
            self.rng.exp(MINUTE)
        } else {
            0
        };
        let talk = talk_time(&mut self.rng, phone);
        let (wait, acw) = (self.rng.exp(12.0 * SECOND), self.rng.exp(45.0 * SECOND));
        // Some sources report whole seconds, others tenths.
        let tenths = self.rng.chance(0.3);
        for (name, ms) in [
            ("wait_s", wait),
            ("talk_s", talk),
            ("hold_s", hold),
            ("acw_s", acw),
        ] {
            if tenths {
                put!(out, r#","{name}":{:.1}"#, ms as f64 / 1000.0);
            } else {
                put!(out, r#","{name}":{}"#, ms / 1000);
            }
        }
    }

    /// Agents work eight-hour shifts, mostly busy with short breaks
    /// between contacts, and go offline for sixteen hours between shifts.
    fn advance_agent(&mut self, a: &mut Agent, now: i64, out: &mut String) {
        self.begin(out, "agent.status_changed", now);
        agent_field(out, a.index);
        put!(out, r#","status":"{}""#, a.status.as_str());
        let rng = &mut self.rng;
        let (next, delay) = match a.status {
            AgentStatus::Offline => {
                let delay = (a.until_ms - now).max(0);
                a.until_ms = now + delay + 8 * HOUR;
                (AgentStatus::Available, delay)
            }
            _ if now >= a.until_ms => {
                let delay = rng.exp(MINUTE);
                a.until_ms = now + delay + 16 * HOUR;
                (AgentStatus::Offline, delay)
            }
            AgentStatus::Available if rng.chance(0.85) => {
                (AgentStatus::Busy, rng.exp(90.0 * SECOND))
            }
            AgentStatus::Available => (AgentStatus::Away, rng.exp(3.0 * MINUTE)),
            AgentStatus::Busy => (AgentStatus::Available, rng.exp(6.0 * MINUTE)),
            AgentStatus::Away => (AgentStatus::Available, rng.exp(10.0 * MINUTE)),
        };
        a.status = next;
        self.schedule(now + delay, Flow::Agent(*a));
    }

    /// Writes the envelope; the caller appends the other fields.
    fn begin(&mut self, out: &mut String, kind: &str, now: i64) {
        self.events += 1;
        put!(
            out,
            r#"{{"event_id":"e{}","type":"{kind}","ts":"#,
            self.events
        );
        // Mostly UTC strings; some producers send epoch milliseconds, some
        // their local time with an offset.
        match self.rng.pick(&[85, 10, 5]) {
            0 => write_rfc3339(out, now, 0),
            1 => put!(out, "{now}"),
            _ => write_rfc3339(out, now, 2),
        }
    }

    fn queue(&mut self) -> u16 {
        let total = self.queue_weights.last().copied().unwrap_or(1.0);
        let x = self.rng.unit() * total;
        let index = self.queue_weights.partition_point(|&w| w <= x);
        index.min(self.queue_weights.len() - 1) as u16
    }

    /// One of the agents who serve `queue`.
    fn agent_for(&mut self, queue: u16) -> u16 {
        let queues = self.queue_names.len();
        let per_queue = self.agents.div_ceil(queues);
        let k = self.rng.below(per_queue);
        ((queue as usize + k * queues) % self.agents) as u16
    }

    fn customer(&mut self) -> u32 {
        let pool = if self.rng.chance(0.3) {
            self.regulars
        } else {
            self.customers
        };
        self.rng.below(pool as usize) as u32
    }
}

impl Iterator for Generator {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        self.clock_ms += self.rng.exp_f64(self.mean_gap_ms);
        let now = self.clock_ms as i64;
        let mut out = String::with_capacity(256);
        match self.pending.peek() {
            Some(p) if p.due_ms <= now => {
                if let Some(p) = self.pending.pop() {
                    self.resume(p.flow, now, &mut out);
                }
            }
            _ => self.start(now, &mut out),
        }
        out.push('}');
        Some(out)
    }
}

const SECOND: f64 = 1000.0;
const MINUTE: f64 = 60.0 * SECOND;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

const QUEUE_NAMES: [&str; 8] = [
    "general",
    "billing",
    "technical",
    "onboarding",
    "returns",
    "shipping",
    "accounts",
    "enterprise",
];
const CATEGORIES: [&str; 10] = [
    "installation",
    "billing_question",
    "bug",
    "how_to",
    "refund",
    "outage",
    "feature_request",
    "account_access",
    "delivery",
    "cancellation",
];
const CHANNELS: [&str; 6] = ["email", "chat", "phone", "web", "social", "other"];
const CHANNEL_WEIGHTS: [u32; 6] = [34, 24, 14, 16, 8, 4];
const PRIORITIES: [&str; 4] = ["low", "normal", "high", "urgent"];
const PRIORITY_WEIGHTS: [u32; 4] = [20, 55, 18, 7];
/// New flows: ticket, interaction, completed summary, NPS, sign-up, churn.
const START_WEIGHTS: [u32; 6] = [45, 34, 6, 6, 6, 1];

/// Median first and next reply by channel, in minutes: chat is answered
/// in a minute or two, email within the hour.
const REPLY_MEDIAN_MIN: [f64; 6] = [60.0, 1.5, 5.0, 40.0, 20.0, 45.0];
const PRIORITY_FACTOR: [f64; 4] = [1.6, 1.0, 0.5, 0.25];

fn reply_delay(rng: &mut Rng, t: &Ticket) -> i64 {
    let median = REPLY_MEDIAN_MIN[t.channel as usize] * PRIORITY_FACTOR[t.priority as usize];
    // Later replies in a conversation come quicker than the first.
    let median = if t.replied { median * 0.6 } else { median };
    rng.lognormal(median * MINUTE, 0.9)
}

fn customer_delay(rng: &mut Rng, t: &Ticket) -> i64 {
    let median = if CHANNELS[t.channel as usize] == "chat" {
        MINUTE
    } else {
        30.0 * MINUTE
    };
    rng.lognormal(median, 1.0)
}

fn talk_time(rng: &mut Rng, phone: bool) -> i64 {
    let median = if phone { 4.0 } else { 7.0 };
    rng.lognormal(median * MINUTE, 0.6)
}

fn ticket_field(out: &mut String, id: u64) {
    put!(out, r#","ticket_id":"T{id}""#);
}

fn agent_field(out: &mut String, agent: u16) {
    put!(out, r#","agent_id":"agent-{agent:03}""#);
}

fn customer_field(out: &mut String, customer: u32) {
    put!(out, r#","customer_id":"cust-{customer:05}""#);
}

/// Writes `"YYYY-MM-DDTHH:MM:SS.mmm"` and `Z` or `+HH:00`, in the local
/// time of that offset, without going through a date library.
fn write_rfc3339(out: &mut String, utc_ms: i64, offset_hours: i64) {
    let ms = utc_ms + offset_hours * HOUR;
    let (days, ms_of_day) = (ms.div_euclid(DAY), ms.rem_euclid(DAY));
    let (year, month, day) = civil_from_days(days);
    let secs = ms_of_day / 1000;
    put!(
        out,
        r#""{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}"#,
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        ms_of_day % 1000
    );
    if offset_hours == 0 {
        out.push_str("Z\"");
    } else {
        put!(out, "+{offset_hours:02}:00\"");
    }
}

/// Proleptic Gregorian date of a day count since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + (month <= 2) as i64;
    (year, month, day)
}

/// A scheduled step, ordered so that the heap pops the earliest first
/// (and, at equal times, the one scheduled first).
struct Pending {
    due_ms: i64,
    order: u64,
    flow: Flow,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.due_ms, other.order).cmp(&(self.due_ms, self.order))
    }
}

#[derive(Clone, Copy)]
enum Flow {
    Ticket(Ticket),
    Interaction(Interaction),
    Survey(Survey),
    Agent(Agent),
}

#[derive(Clone, Copy)]
struct Ticket {
    id: u64,
    customer: u32,
    queue: u16,
    agent: u16,
    /// Index into [`CHANNELS`].
    channel: u8,
    /// Index into [`PRIORITIES`].
    priority: u8,
    status: TicketStatus,
    step: TicketStep,
    /// Public agent replies so far.
    rounds: u8,
    replied: bool,
    /// Whether an agent already left a private note.
    noted: bool,
    reopened: bool,
    stale: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TicketStatus {
    Open,
    Pending,
    OnHold,
}

impl TicketStatus {
    fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Open => "open",
            TicketStatus::Pending => "pending",
            TicketStatus::OnHold => "on_hold",
        }
    }
}

#[derive(Clone, Copy)]
enum TicketStep {
    Created,
    Assigned,
    Transfer,
    Escalate,
    AgentReply,
    PrivateNote,
    Pending,
    OnHold,
    Open,
    CustomerReply,
    Resolve,
    Reopen,
    Close,
}

#[derive(Clone, Copy)]
struct Interaction {
    id: u64,
    customer: u32,
    queue: u16,
    agent: u16,
    /// Phone, or else chat.
    phone: bool,
    step: InteractionStep,
}

#[derive(Clone, Copy)]
enum InteractionStep {
    Queued,
    Answered,
    HoldStarted,
    HoldEnded,
    Ended,
    WrapupEnded,
    Abandoned,
    Blocked,
}

#[derive(Clone, Copy)]
struct Survey {
    kind: SurveyKind,
    ticket: Option<u64>,
    customer: u32,
    agent: Option<u16>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SurveyKind {
    Csat,
    Nps,
    Ces,
    Iqs,
}

#[derive(Clone, Copy)]
struct Agent {
    index: u16,
    status: AgentStatus,
    /// On shift: when it ends. Offline: when the next one starts.
    until_ms: i64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum AgentStatus {
    Available,
    Busy,
    Away,
    Offline,
}

impl AgentStatus {
    fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Available => "available",
            AgentStatus::Busy => "busy",
            AgentStatus::Away => "away",
            AgentStatus::Offline => "offline",
        }
    }
}

/// SplitMix64: tiny, fast, and good enough for a simulation.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in 0..n (0 when n is 0).
    fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// An index drawn with the given relative weights.
    fn pick(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut x = self.below(total as usize) as u32;
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    /// Exponentially distributed with this mean.
    fn exp_f64(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }

    /// An exponential delay in whole milliseconds.
    fn exp(&mut self, mean_ms: f64) -> i64 {
        self.exp_f64(mean_ms) as i64
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (1.0 - self.unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Log-normal delay in milliseconds: long-tailed, like real response times.
    fn lognormal(&mut self, median_ms: f64, sigma: f64) -> i64 {
        (median_ms * (sigma * self.normal()).exp()) as i64
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::config::Config;
    use crate::decode::{self, Field};
    use crate::engine::{Applied, Engine};

    fn lines(config: GeneratorConfig, n: usize) -> Vec<String> {
        Generator::new(config).take(n).collect()
    }

    fn raw(line: &str) -> decode::RawEvent<'_> {
        let mut raw = decode::RawEvent::default();
        decode::parse(line, &mut raw).expect("generated line is JSON");
        raw
    }

    fn ts_of(line: &str) -> i64 {
        decode::parse_ts(raw(line).get(Field::Ts)).expect("generated ts parses")
    }

    #[test]
    fn a_long_stream_is_accepted_whole_in_order_with_every_type() {
        let n = 200_000;
        let config = GeneratorConfig::default();
        let start = config.start_ms;
        let mut engine = Engine::new(&Config::default());
        let wall = i64::MAX / 2;
        let mut previous = i64::MIN;
        let mut ids = HashSet::with_capacity(n);
        let mut ts_forms = [0usize; 3];
        for line in Generator::new(config).take(n) {
            let ts = ts_of(&line);
            assert_eq!(
                engine.apply(line.as_bytes(), wall),
                Ok(Applied::Accepted {
                    late: false,
                    ts_ms: ts
                }),
                "{line}"
            );
            assert!(ts >= previous, "ts went back: {line}");
            previous = ts;
            let raw = raw(&line);
            assert!(ids.insert(raw.event_id().expect("event_id").to_owned()));
            let form = if line.contains(r#""ts":""#) {
                line.contains("+02:00\"") as usize
            } else {
                2
            };
            ts_forms[form] += 1;
            if line.contains(r#""type":"interaction."#) {
                assert!(!line.contains("ticket_id"), "{line}");
            }
        }
        let by_type = &engine.health().accepted_by_type;
        let missing: Vec<&str> = decode::EventType::ALL
            .iter()
            .map(|t| t.as_str())
            .filter(|t| !by_type.contains_key(*t))
            .collect();
        assert!(missing.is_empty(), "never generated: {missing:?}");
        assert!(ts_forms.iter().all(|&k| k > n / 50), "{ts_forms:?}");
        // 50 events per second of event time, on average.
        let mean_gap = (previous - start) as f64 / n as f64;
        assert!((mean_gap - 20.0).abs() < 0.5, "mean gap {mean_gap} ms");
    }

    #[test]
    fn lifecycles_settle_to_a_realistic_mix() {
        let mut counts: HashMap<String, usize> = HashMap::new();
        // Two days of a small centre, so that most lifecycles have ended.
        let config = GeneratorConfig {
            events_per_sec: 1.0,
            agents: 10,
            ..GeneratorConfig::default()
        };
        for line in lines(config, 150_000) {
            let raw = raw(&line);
            if let decode::Raw::Str(t) = raw.get(Field::Type) {
                *counts.entry(t.to_string()).or_default() += 1;
            }
        }
        let n = |t: &str| counts.get(t).copied().unwrap_or(0) as f64;
        let created = n("ticket.created");
        // Nearly every ticket is resolved, most are closed, a few reopen.
        assert!(n("ticket.resolved") > 0.9 * created, "{counts:?}");
        assert!(n("ticket.closed") > 0.75 * created, "{counts:?}");
        let reopen = n("ticket.reopened") / n("ticket.resolved");
        assert!((0.03..0.12).contains(&reopen), "{counts:?}");
        // Most calls are answered, some abandoned, few blocked.
        let queued = n("interaction.queued");
        assert!(n("interaction.answered") > 0.8 * queued, "{counts:?}");
        assert!(n("interaction.abandoned") > 0.05 * queued, "{counts:?}");
        assert!(n("interaction.blocked") < 0.06 * queued, "{counts:?}");
    }

    #[test]
    fn same_seed_same_lines_other_seed_other_lines() {
        let a = lines(GeneratorConfig::default(), 5_000);
        let b = lines(GeneratorConfig::default(), 5_000);
        assert_eq!(a, b);
        let c = lines(
            GeneratorConfig {
                seed: 2,
                ..GeneratorConfig::default()
            },
            5_000,
        );
        let same = a.iter().zip(&c).filter(|(x, y)| x == y).count();
        assert!(same < 50, "{same} of 5000 lines equal across seeds");
    }

    #[test]
    fn timestamps_are_valid_rfc3339_in_every_form() {
        for (utc_ms, offset, text) in [
            (0, 0, r#""1970-01-01T00:00:00.000Z""#),
            (1_767_600_000_123, 0, r#""2026-01-05T08:00:00.123Z""#),
            (1_767_600_000_123, 2, r#""2026-01-05T10:00:00.123+02:00""#),
            // Leap day, and an offset that crosses midnight.
            (1_709_245_800_005, 2, r#""2024-03-01T00:30:00.005+02:00""#),
        ] {
            let mut out = String::new();
            write_rfc3339(&mut out, utc_ms, offset);
            assert_eq!(out, text);
            let parsed = decode::parse_ts(&decode::Raw::Str(text.trim_matches('"').into()));
            assert_eq!(parsed, Some(utc_ms), "{text}");
        }
    }

    #[test]
    fn many_queues_and_few_agents_still_make_a_valid_stream() {
        let config = GeneratorConfig {
            queues: 300,
            agents: 3,
            customers: 1,
            events_per_sec: 1000.0,
            ..GeneratorConfig::default()
        };
        let mut engine = Engine::new(&Config::default());
        for line in Generator::new(config).take(20_000) {
            assert!(
                engine.apply(line.as_bytes(), i64::MAX / 2).is_ok(),
                "{line}"
            );
        }
        assert!(engine.health().rejected.is_empty());
    }
}

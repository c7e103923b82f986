//! The enumerated values of event fields: channel, priority, ticket and
//! agent status, outcome; what input text each is read from.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Channel {
    Email,
    Chat,
    Phone,
    Web,
    Social,
    Other,
    Unknown,
}

impl Channel {
    pub const ALL: [Channel; 7] = [
        Channel::Email,
        Channel::Chat,
        Channel::Phone,
        Channel::Web,
        Channel::Social,
        Channel::Other,
        Channel::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Chat => "chat",
            Channel::Phone => "phone",
            Channel::Web => "web",
            Channel::Social => "social",
            Channel::Other => "other",
            Channel::Unknown => "unknown",
        }
    }

    /// Values outside the spec's list are `other`: the list has that
    /// catch-all, so a new channel keeps its tickets rather than losing them.
    pub(super) fn from_input(s: &str) -> Channel {
        match s {
            "email" => Channel::Email,
            "chat" => Channel::Chat,
            "phone" => Channel::Phone,
            "web" => Channel::Web,
            "social" => Channel::Social,
            _ => Channel::Other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Urgent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TicketStatus {
    Open,
    Pending,
    OnHold,
}

impl TicketStatus {
    pub const ALL: [TicketStatus; 3] = [
        TicketStatus::Open,
        TicketStatus::Pending,
        TicketStatus::OnHold,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Open => "open",
            TicketStatus::Pending => "pending",
            TicketStatus::OnHold => "on_hold",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AgentStatus {
    Available,
    Busy,
    Away,
    Offline,
}

impl AgentStatus {
    pub const ALL: [AgentStatus; 4] = [
        AgentStatus::Available,
        AgentStatus::Busy,
        AgentStatus::Away,
        AgentStatus::Offline,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Available => "available",
            AgentStatus::Busy => "busy",
            AgentStatus::Away => "away",
            AgentStatus::Offline => "offline",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

pub(super) fn priority(s: &str) -> Option<Priority> {
    Priority::ALL.into_iter().find(|p| p.as_str() == s)
}
pub(super) fn ticket_status(s: &str) -> Option<TicketStatus> {
    TicketStatus::ALL.into_iter().find(|p| p.as_str() == s)
}
pub(super) fn agent_status(s: &str) -> Option<AgentStatus> {
    AgentStatus::ALL.into_iter().find(|p| p.as_str() == s)
}
pub(super) fn outcome(s: &str) -> Option<Outcome> {
    match s {
        "success" => Some(Outcome::Success),
        "failure" => Some(Outcome::Failure),
        _ => None,
    }
}

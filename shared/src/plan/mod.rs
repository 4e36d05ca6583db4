//! A plan: what a run of a file would do to each row, read from the live instance and org with nothing written.
//! Each side of a row gets a [`Change`]; the row's [`Verdict`] is the strongest of its sides'.

mod csv_out;

use std::fmt;
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::domain::Action;

pub use self::csv_out::{PLAN_COLUMNS, PlanWriter};

/// What a run would do to one side (Amazon Connect or Salesforce) of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Create,
    /// An existing user, these fields of which differ from the row.
    Update(Vec<&'static str>),
    NoChange,
    Remove,
    /// The row would fail on this side, for this reason.
    Fail(String),
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Create => f.write_str("create"),
            Change::Update(fields) => write!(f, "update ({})", fields.join(", ")),
            Change::NoChange => f.write_str("no change"),
            Change::Remove => f.write_str("remove"),
            Change::Fail(reason) => write!(f, "fail: {reason}"),
        }
    }
}

/// What a run would do to a row, all sides taken together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    Create,
    Update,
    NoChange,
    Remove,
    Fail,
}

impl Verdict {
    pub const ALL: [Verdict; 5] = [Verdict::Create, Verdict::Update, Verdict::NoChange, Verdict::Remove, Verdict::Fail];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Create => "create",
            Verdict::Update => "update",
            Verdict::NoChange => "no change",
            Verdict::Remove => "remove",
            Verdict::Fail => "fail",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == text)
    }
}

/// One row's plan: a change per side the row has (`None`: the row has no such side), and what the admin should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowPlan {
    pub row: u64,
    pub action: Action,
    pub connect: Option<Change>,
    pub salesforce: Option<Change>,
    pub notes: Vec<String>,
}

impl RowPlan {
    pub fn new(row: u64, action: Action) -> Self {
        Self { row, action, connect: None, salesforce: None, notes: Vec::new() }
    }

    /// A row that would fail before either side: it does not validate, or nothing is there to take it.
    pub fn failed(row: u64, action: Action, reason: String) -> Self {
        Self { connect: Some(Change::Fail(reason)), ..Self::new(row, action) }
    }

    fn sides(&self) -> impl Iterator<Item = &Change> {
        self.connect.iter().chain(&self.salesforce)
    }

    /// The row's verdict: it fails if a side fails; otherwise it creates if a side creates, updates if a side
    /// updates, removes if a side removes; else it changes nothing.
    pub fn verdict(&self) -> Verdict {
        let any = |wanted: fn(&Change) -> bool| self.sides().any(wanted);
        if any(|c| matches!(c, Change::Fail(_))) {
            Verdict::Fail
        } else if any(|c| *c == Change::Create) {
            Verdict::Create
        } else if any(|c| matches!(c, Change::Update(_))) {
            Verdict::Update
        } else if any(|c| *c == Change::Remove) {
            Verdict::Remove
        } else {
            Verdict::NoChange
        }
    }

    /// Why the row would fail, each failing side's reason; `None` for a row that would not.
    pub fn reason(&self) -> Option<String> {
        let reasons: Vec<String> = [("Amazon Connect", &self.connect), ("Salesforce", &self.salesforce)]
            .into_iter()
            .filter_map(|(side, change)| match change {
                Some(Change::Fail(reason)) => Some(format!("{side}: {reason}")),
                _ => None,
            })
            .collect();
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }
}

/// A count of something a plan's rows use up as they go, in the file's order (the instance's room for users, the
/// org's Voice seats): read once, then taken one a row. Unknown (never read, or not readable), it holds no row back.
#[derive(Debug, Default)]
pub struct Allowance {
    left: OnceLock<Option<Mutex<u64>>>,
}

impl Allowance {
    pub fn is_read(&self) -> bool {
        self.left.get().is_some()
    }

    /// The count as read; a second reading (another chunk's, at once) is dropped.
    pub fn set(&self, left: Option<u64>) {
        let _ = self.left.set(left.map(Mutex::new));
    }

    /// Gives one back (a remove makes room for the rows below it).
    pub fn give(&self) {
        if let Some(Some(left)) = self.left.get() {
            *left.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        }
    }

    /// Takes one: `false` once none is left.
    pub fn take(&self) -> bool {
        match self.left.get() {
            Some(Some(left)) => {
                let mut left = left.lock().unwrap_or_else(PoisonError::into_inner);
                let some = *left > 0;
                *left = left.saturating_sub(1);
                some
            }
            _ => true,
        }
    }
}

/// Rows per verdict, for the plan's summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanCounts {
    pub create: u64,
    pub update: u64,
    pub no_change: u64,
    pub remove: u64,
    pub fail: u64,
}

impl PlanCounts {
    pub fn add(&mut self, verdict: Verdict) {
        *match verdict {
            Verdict::Create => &mut self.create,
            Verdict::Update => &mut self.update,
            Verdict::NoChange => &mut self.no_change,
            Verdict::Remove => &mut self.remove,
            Verdict::Fail => &mut self.fail,
        } += 1;
    }

    pub fn total(&self) -> u64 {
        self.create + self.update + self.no_change + self.remove + self.fail
    }
}

impl fmt::Display for PlanCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} to create, {} to update, {} unchanged, {} to remove, {} would fail",
            self.create, self.update, self.no_change, self.remove, self.fail
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_takes_its_strongest_sides_verdict() {
        let mut plan = RowPlan::new(2, Action::Add);
        assert_eq!(plan.verdict(), Verdict::NoChange);
        plan.salesforce = Some(Change::Update(vec!["email"]));
        assert_eq!(plan.verdict(), Verdict::Update);
        plan.connect = Some(Change::Create);
        assert_eq!(plan.verdict(), Verdict::Create);
        assert_eq!(plan.reason(), None);
        plan.salesforce = Some(Change::Fail("the org has no contact center \"X\"".into()));
        assert_eq!(plan.verdict(), Verdict::Fail);
        assert_eq!(plan.reason().as_deref(), Some("Salesforce: the org has no contact center \"X\""));
        let mut removal = RowPlan::new(3, Action::Remove);
        removal.connect = Some(Change::Remove);
        removal.salesforce = Some(Change::NoChange);
        assert_eq!(removal.verdict(), Verdict::Remove);
        assert_eq!(Change::Update(vec!["routing profile", "tags"]).to_string(), "update (routing profile, tags)");
        let seats = Allowance::default();
        assert!(seats.take(), "unknown: no row is held back");
        seats.set(Some(1));
        seats.set(Some(5));
        assert!(seats.take());
        assert!(!seats.take());
        seats.give();
        assert!(seats.take());
        for verdict in Verdict::ALL {
            assert_eq!(Verdict::parse(verdict.as_str()), Some(verdict));
        }
    }
}

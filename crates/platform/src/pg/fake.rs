//! A scripted Postgres backend that records statements, for native tests.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use super::{Backend, Param, PgFailure};

/// One recorded call: `(sql, params)`.
pub type Call = (String, Vec<Param>);

type Answer = Result<Option<String>, PgFailure>;

/// Answers queries from a queue (`Ok(json)` or a failure), executes with
/// `Ok(1)` unless a failure is queued for the statement starting with a
/// given prefix. Clones share state, so a test keeps one to inspect.
#[derive(Clone, Default)]
pub struct FakeBackend {
    calls: Rc<RefCell<Vec<Call>>>,
    answers: Rc<RefCell<VecDeque<Answer>>>,
    failing: Rc<RefCell<Vec<(String, PgFailure)>>>,
    counts: Rc<RefCell<VecDeque<(String, u64)>>>,
}

impl FakeBackend {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues the JSON text the next query returns.
    pub fn answer(&self, json: &str) -> &Self {
        self.answers
            .borrow_mut()
            .push_back(Ok(Some(json.to_owned())));
        self
    }

    /// Queues a failure for the next query.
    pub fn answer_err(&self, failure: PgFailure) -> &Self {
        self.answers.borrow_mut().push_back(Err(failure));
        self
    }

    /// Makes every `execute` whose SQL starts with `prefix` fail.
    pub fn fail_execute(&self, prefix: &str, failure: PgFailure) -> &Self {
        self.failing.borrow_mut().push((prefix.to_owned(), failure));
        self
    }

    /// Makes the next `execute` whose SQL starts with `prefix` report
    /// `rows` affected rows (instead of 1).
    pub fn execute_rows(&self, prefix: &str, rows: u64) -> &Self {
        self.counts
            .borrow_mut()
            .push_back((prefix.to_owned(), rows));
        self
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.borrow().clone()
    }

    /// The SQL of every call so far.
    pub fn statements(&self) -> Vec<String> {
        self.calls
            .borrow()
            .iter()
            .map(|(sql, _)| sql.clone())
            .collect()
    }
}

impl Backend for FakeBackend {
    fn query_cell(&self, sql: &str, params: &[Param]) -> Result<Option<String>, PgFailure> {
        self.calls
            .borrow_mut()
            .push((sql.to_owned(), params.to_vec()));
        self.answers
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| Ok(Some("[]".into())))
    }

    fn execute(&self, sql: &str, params: &[Param]) -> Result<u64, PgFailure> {
        self.calls
            .borrow_mut()
            .push((sql.to_owned(), params.to_vec()));
        match self
            .failing
            .borrow()
            .iter()
            .find(|(p, _)| sql.starts_with(p.as_str()))
        {
            Some((_, failure)) => Err(failure.clone()),
            None => {
                let mut counts = self.counts.borrow_mut();
                match counts.iter().position(|(p, _)| sql.starts_with(p.as_str())) {
                    Some(at) => Ok(counts.remove(at).map_or(1, |(_, rows)| rows)),
                    None => Ok(1),
                }
            }
        }
    }
}

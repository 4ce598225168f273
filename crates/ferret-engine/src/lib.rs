//! ferret's engine: turns an EQL AST into an executable plan and runs it over
//! events — predicate evaluation, sequences, samples and pipes, for one
//! query or many rules at once. It never sees rule files.

// Expression layer (owned by the expression work): values, compiled
// predicates and keys, functions, string matching, field types.
pub mod expr;
pub mod functions;
pub mod matching;
pub mod necessary;
pub mod screen;
pub mod types;
pub mod value;

pub use expr::{EvalInput, Guard, KeyExpr, PlanContext, PlanError, Predicate, Verdicts};
pub use necessary::{Necessary, Needle};
pub use screen::{RawText, Screen};
pub use types::FieldTypes;
pub use value::{FloatKey, KeyValue};

// Planning and execution (owned by the execution work).
pub mod exec;
pub mod plan;

pub use exec::order::OrderFields;
pub use exec::{
    run, Aggregate, Entry, Hit, Output, QueryRunner, RunConfig, StandIn, Stats,
    DEFAULT_MAX_LIVE_PARTIALS,
};
pub use plan::{plan, Plan, PlanOptions};

//! ferret's scan pipeline, the main job: compile many rules, run them all in
//! one pass over event files, and return Kibana-shaped alerts in a
//! deterministic order. Rule scoping (index patterns, behavior-rule OS
//! lists) lives here too. Output formatting is the caller's.

pub mod alerts;
pub mod compile;
mod dispatch;
pub mod index;
pub mod originals;
mod pool;
pub mod prefilter;
pub mod scan;
pub mod screen;

pub use alerts::Alerts;
pub use compile::{compile, CompileOptions, Compiled, FailedRule, ScanRule};
pub use scan::{scan, Alert, RuleStats, ScanOptions, ScanOutcome, ScreenUse};

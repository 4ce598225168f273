//! Turning loaded rules into runnable ones: parse, validate, lint and plan
//! each query, and fix what each rule sees (its index patterns, the OS list
//! of a behavior rule, its timestamp and category fields).

use std::sync::{Arc, OnceLock};

use ferret_engine::necessary::per_value_paths;
use ferret_engine::{plan, FieldTypes, Plan, PlanOptions, RunConfig, Verdicts};
use ferret_eql::{Diagnostic, Severity};
use ferret_event::{Event, FieldPath, FieldValue};
use ferret_rules::{Rule, RuleSet, SourceKind};

use crate::index::{event_index, IndexPatterns};

/// A rule ready to run.
#[derive(Debug)]
pub struct ScanRule {
    pub rule: Rule,
    pub plan: Arc<Plan>,
    pub config: RunConfig,
    /// Lint warnings from analysis, to be shown once.
    pub warnings: Vec<Diagnostic>,
    pub scope: Scope,
    /// The rule's alert members ([`ferret_rules::alert::rule_members`]) as
    /// JSON text without braces, encoded on first use for every alert.
    pub alert_members: OnceLock<String>,
    /// The ids [`Compiled::verdicts`] gave the rule's conditions: numbered
    /// rule by rule, so one rule's bits sit together in an event's verdicts.
    pub verdict_ids: std::ops::Range<u32>,
}

/// A rule whose query does not parse, validate or plan.
#[derive(Debug)]
pub struct FailedRule {
    pub rule: Rule,
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Debug, Default)]
pub struct Compiled {
    pub rules: Vec<ScanRule>,
    pub failed: Vec<FailedRule>,
    /// The rules' one-field conditions on fields worked out per distinct
    /// value ([`ferret_engine::necessary::per_value_paths`]), numbered
    /// across all rules: a scan works them out once per distinct value
    /// (see the `dispatch` module).
    pub verdicts: Verdicts,
}

#[derive(Clone, Debug)]
pub struct CompileOptions {
    /// Ignore rules' index patterns: every rule sees every event.
    pub ignore_index: bool,
    /// Cap on live partial sequences per rule.
    pub max_live_partials: usize,
    pub field_types: Option<Arc<FieldTypes>>,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            ignore_index: false,
            max_live_partials: ferret_engine::DEFAULT_MAX_LIVE_PARTIALS,
            field_types: None,
        }
    }
}

/// Which events a rule sees.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Scope {
    /// Index patterns (empty: all events).
    pub index: IndexPatterns,
    /// Behavior rules: the `host.os.type` values they run on (empty: all).
    pub os_list: Vec<String>,
}

/// Per-event facts that scoping needs, computed once per event for all rules.
#[derive(Clone, Debug, Default)]
pub struct EventScope {
    pub index: Option<String>,
    pub os_type: Option<String>,
}

impl EventScope {
    pub fn of(ev: &Event) -> EventScope {
        EventScope {
            index: event_index(ev),
            os_type: os_type(ev).map(str::to_ascii_lowercase),
        }
    }
}

/// The event's `host.os.type`, as written (behavior rules' OS lists compare
/// it case-insensitively).
pub(crate) fn os_type(ev: &Event) -> Option<&str> {
    static OS: std::sync::OnceLock<FieldPath> = std::sync::OnceLock::new();
    let os = OS.get_or_init(|| FieldPath::dotted("host.os.type"));
    match ev.first(os) {
        Some(FieldValue::Str(s)) => Some(s),
        _ => None,
    }
}

impl Scope {
    /// Whether the rule sees an event. An event that names no index is seen
    /// by every rule (there is nothing to scope it by); likewise an event
    /// without `host.os.type` for a behavior rule's OS list.
    pub fn admits(&self, ev: &EventScope) -> bool {
        let index_ok = match &ev.index {
            Some(ix) => self.index.matches(ix),
            None => true,
        };
        let os_ok = self.os_list.is_empty()
            || match &ev.os_type {
                Some(os) => self.os_list.iter().any(|o| o.eq_ignore_ascii_case(os)),
                None => true,
            };
        index_ok && os_ok
    }
}

/// Elastic Defend behavior rules run on the endpoint, over its own events.
const ENDPOINT_INDEX: &str = "logs-endpoint.events.*";

/// Analyses and plans every rule of `set`, in parallel (rule order kept).
/// Rules that fail go to [`Compiled::failed`] with their diagnostics; the
/// rest run.
pub fn compile(set: RuleSet, opts: &CompileOptions) -> Compiled {
    use rayon::prelude::*;
    let results: Vec<Result<ScanRule, Box<FailedRule>>> = set
        .rules
        .into_par_iter()
        .map(|rule| compile_one(rule, opts))
        .collect();
    let mut out = Compiled::default();
    out.rules.reserve_exact(results.len());
    let per_value = per_value_paths();
    let usable = |p: &FieldPath| per_value.contains(p);
    for r in results {
        match r {
            Ok(mut rule) => {
                let first = out.verdicts.len();
                Arc::get_mut(&mut rule.plan)
                    .expect("a plan is not shared before compile returns")
                    .number_verdicts(&usable, &mut out.verdicts);
                // Ids are u32 (`number_verdicts` stops numbering past that).
                let id = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
                rule.verdict_ids = id(first)..id(out.verdicts.len());
                out.rules.push(rule)
            }
            Err(failed) => out.failed.push(*failed),
        }
    }
    out
}

// Boxed: a failed rule carries the whole rule and its diagnostics.
fn compile_one(rule: Rule, opts: &CompileOptions) -> Result<ScanRule, Box<FailedRule>> {
    let analysis = rule.analyze();
    let (errors, warnings): (Vec<_>, Vec<_>) = analysis
        .diagnostics
        .into_iter()
        .partition(|d| d.severity == Severity::Error);
    let query = match analysis.query {
        Some(q) if errors.is_empty() => q,
        _ => {
            return Err(Box::new(FailedRule {
                rule,
                diagnostics: errors,
            }));
        }
    };
    let plan_opts = PlanOptions {
        category_field: rule
            .meta
            .event_category_override
            .clone()
            .unwrap_or_else(|| "event.category".to_string()),
        field_types: opts.field_types.clone(),
    };
    let plan = match plan(&query, &plan_opts) {
        Ok(p) => p,
        Err(e) => {
            return Err(Box::new(FailedRule {
                rule,
                diagnostics: vec![Diagnostic {
                    severity: Severity::Error,
                    code: "E900",
                    message: e.message,
                    span: e.span,
                    label: None,
                    help: None,
                }],
            }));
        }
    };
    // Kibana reads `timestamp_override` and falls back to `@timestamp`
    // for events that lack the overriding field.
    let config = RunConfig {
        timestamp_field: rule
            .meta
            .timestamp_override
            .clone()
            .unwrap_or_else(|| "@timestamp".to_string()),
        timestamp_fallback: rule
            .meta
            .timestamp_override
            .as_ref()
            .map(|_| "@timestamp".to_string()),
        tiebreaker_field: rule.meta.tiebreaker_field.clone(),
        max_live_partials: opts.max_live_partials,
        ..RunConfig::default()
    };
    let behavior = rule.source.kind == SourceKind::Behavior;
    let scope = Scope {
        index: if opts.ignore_index {
            IndexPatterns::default()
        } else if behavior && rule.meta.index.is_empty() {
            IndexPatterns::new(&[ENDPOINT_INDEX])
        } else {
            IndexPatterns::new(&rule.meta.index)
        },
        os_list: if behavior {
            rule.meta.os_list.clone()
        } else {
            Vec::new()
        },
    };
    Ok(ScanRule {
        rule,
        plan: Arc::new(plan),
        config,
        warnings,
        scope,
        alert_members: OnceLock::new(),
        verdict_ids: 0..0,
    })
}

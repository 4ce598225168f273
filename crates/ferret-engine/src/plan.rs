//! The planner: turns a parsed [`ast::Query`] into an executable [`Plan`].
//!
//! Planning compiles every condition and key once (through the expression
//! layer's [`Predicate`] / [`KeyExpr`]), resolves the event category into a
//! cheap check against the configured category field, expands `with runs=N`
//! into N consecutive stages, numbers the endpoint-dialect stage aliases
//! (`[…] as event0`) and validates the shape Elasticsearch requires (equal
//! numbers of join keys across stages, at least one positive stage, …).
//! Every error carries the span of the offending AST node.

use std::sync::Arc;

use ferret_eql::ast::{self, Span};
use ferret_event::{Event, FieldPath, FieldValue};

use crate::expr::{KeyExpr, PlanContext, PlanError, Predicate};
use crate::types::FieldTypes;

/// Settings that change how a query is compiled.
#[derive(Clone, Debug)]
pub struct PlanOptions {
    /// The event-category field (`process where …` reads it); ECS default
    /// `event.category`. Rules override it with `event_category_override`.
    pub category_field: String,
    /// Optional field types (ECS schema) for typed comparisons.
    pub field_types: Option<Arc<FieldTypes>>,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            category_field: "event.category".to_string(),
            field_types: None,
        }
    }
}

/// An executable query.
#[derive(Clone, Debug)]
pub struct Plan {
    pub body: Body,
    pub pipes: Vec<PipePlan>,
    /// The resolved event-category field.
    pub category_path: FieldPath,
}

#[derive(Clone, Debug)]
pub enum Body {
    Event(Filter),
    Sequence(SequencePlan),
    Sample(SamplePlan),
}

/// The category check of a stage or event query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CategoryFilter {
    /// `any where`: every event, with or without a category.
    Any,
    /// The category field (or any element of it, when it is an array) equals
    /// this string exactly. Elasticsearch compiles `process where` to an exact
    /// term query on the keyword field, so the comparison is case-sensitive.
    Named(String),
}

/// `<category> where <condition>`, compiled.
#[derive(Clone, Debug)]
pub struct Filter {
    pub category: CategoryFilter,
    pub condition: Predicate,
    /// True when the condition reads a stage alias (`event0.process.pid`), so
    /// it can only be evaluated against a specific partial sequence.
    pub uses_aliases: bool,
    /// The named category's bit ([`ferret_event::category::category_bit`]),
    /// 0 for `any` and for categories ECS does not define.
    pub category_bit: u64,
}

impl Filter {
    /// Whether the event's category matches (the condition is not checked).
    #[inline]
    pub fn category_matches(&self, category_path: &FieldPath, event: &Event) -> bool {
        match &self.category {
            CategoryFilter::Any => true,
            // An ECS category: one AND with the event's categories, read
            // once for all rules.
            CategoryFilter::Named(_) if self.category_bit != 0 => {
                event.category_bits(category_path) & self.category_bit != 0
            }
            CategoryFilter::Named(name) => {
                let mut hit = false;
                event.for_each(category_path, &mut |v| {
                    if let FieldValue::Str(s) = v {
                        if s == name {
                            hit = true;
                        }
                    }
                });
                hit
            }
        }
    }
}

/// A join key with the one property execution needs from its source: a key
/// written as an optional field (`?field`) may join on null; any other key
/// with a null value excludes the event from the stage (as Elasticsearch).
#[derive(Clone, Debug)]
pub struct KeyPlan {
    pub expr: KeyExpr,
    pub nullable: bool,
}

/// One stage of a sequence or sample (after `runs` expansion).
#[derive(Clone, Debug)]
pub struct StagePlan {
    pub filter: Filter,
    /// Sequence/sample-level keys followed by the stage's own keys.
    pub keys: Vec<KeyPlan>,
    /// `![…]`: a missing-event stage.
    pub missing: bool,
    /// The alias index (into [`SequencePlan::aliases`]) this stage binds.
    pub alias: Option<usize>,
    /// For a repetition of `with runs=N`, the index of the group's first
    /// stage: the same filter and keys, so what an event makes of that
    /// stage holds for this one too.
    pub repeat_of: Option<usize>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct SequencePlan {
    pub stages: Vec<StagePlan>,
    pub until: Option<StagePlan>,
    /// `with maxspan=…` in nanoseconds.
    pub maxspan_nanos: Option<i128>,
    /// Declared stage aliases, in declaration order.
    pub aliases: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct SamplePlan {
    pub stages: Vec<StagePlan>,
}

/// A compiled pipe.
#[derive(Clone, Debug)]
pub enum PipePlan {
    Head(usize),
    Tail(usize),
    /// Legacy pipes (Python `eql`), evaluated against the first event of a hit.
    Filter(Predicate),
    Unique(Vec<KeyExpr>),
    UniqueCount(Vec<KeyExpr>),
    Count(Vec<KeyExpr>),
    Sort(Vec<KeyExpr>),
}

impl Plan {
    /// Every filter of the query (the event query, or each stage and `until`).
    pub fn filters(&self) -> Vec<&Filter> {
        match &self.body {
            Body::Event(f) => vec![f],
            Body::Sequence(seq) => seq
                .stages
                .iter()
                .chain(seq.until.as_ref())
                .map(|s| &s.filter)
                .collect(),
            Body::Sample(sample) => sample.stages.iter().map(|s| &s.filter).collect(),
        }
    }

    /// Numbers the one-field conditions of every filter on fields `usable`
    /// accepts as verdicts of `verdicts` (see [`crate::Verdicts`]); results are the
    /// same with or without verdicts on the events.
    pub fn number_verdicts(
        &mut self,
        usable: &dyn Fn(&FieldPath) -> bool,
        verdicts: &mut crate::Verdicts,
    ) {
        let filters: Vec<&mut Filter> = match &mut self.body {
            Body::Event(f) => vec![f],
            Body::Sequence(seq) => seq
                .stages
                .iter_mut()
                .chain(seq.until.as_mut())
                .map(|s| &mut s.filter)
                .collect(),
            Body::Sample(sample) => sample.stages.iter_mut().map(|s| &mut s.filter).collect(),
        };
        for f in filters {
            f.condition.number_verdicts(usable, verdicts);
        }
    }

    /// Text an event must hold to match some filter of the query (see
    /// [`crate::necessary`]); events without it cannot change the query's
    /// result and need not be pushed.
    pub fn necessary(&self) -> crate::Necessary {
        self.filters()
            .iter()
            .fold(crate::Necessary::never(), |acc, f| {
                acc.or(f.condition.necessary())
            })
    }

    /// What a record's JSON text must hold to match some filter of the
    /// query (see [`crate::screen`]): a named category's name, quoted (the
    /// category field holds it exactly), and what the condition needs.
    pub fn screen(&self) -> crate::Screen {
        self.filters().iter().fold(crate::Screen::Never, |acc, f| {
            let category = match &f.category {
                CategoryFilter::Any => crate::Screen::Always,
                CategoryFilter::Named(name) => crate::Screen::literal(name, true, true, false),
            };
            acc.or(category.and(f.condition.screen()))
        })
    }

    /// The event categories this query can use, sorted and deduplicated, or
    /// `None` when some filter is `any where` (every event may matter). An
    /// event whose category field holds none of these can be skipped without
    /// pushing it: a cheap dispatch for running many rules at once.
    pub fn categories(&self) -> Option<Vec<&str>> {
        let mut out = Vec::new();
        for f in self.filters() {
            match &f.category {
                CategoryFilter::Any => return None,
                CategoryFilter::Named(n) => out.push(n.as_str()),
            }
        }
        out.sort_unstable();
        out.dedup();
        Some(out)
    }
}

impl Plan {
    /// Every field path the query reads from an event: conditions (alias
    /// prefixes removed), join keys, pipe expressions and the category
    /// field. A decoder that keeps these paths (see
    /// `ferret_event::Projection`) gives the query the same results as the
    /// full event; the run's timestamp and tiebreaker fields are the
    /// caller's to add.
    pub fn field_paths(&self) -> Vec<FieldPath> {
        let mut out = vec![self.category_path.clone()];
        for f in self.filters() {
            out.extend(f.condition.field_paths());
        }
        let stages: Vec<&StagePlan> = match &self.body {
            Body::Event(_) => Vec::new(),
            Body::Sequence(seq) => seq.stages.iter().chain(seq.until.as_ref()).collect(),
            Body::Sample(sample) => sample.stages.iter().collect(),
        };
        for st in stages {
            for k in &st.keys {
                out.extend(k.expr.field_paths());
            }
        }
        for pipe in &self.pipes {
            match pipe {
                PipePlan::Head(_) | PipePlan::Tail(_) => {}
                PipePlan::Filter(p) => out.extend(p.field_paths()),
                PipePlan::Unique(ks)
                | PipePlan::UniqueCount(ks)
                | PipePlan::Count(ks)
                | PipePlan::Sort(ks) => ks.iter().for_each(|k| out.extend(k.field_paths())),
            }
        }
        out
    }
}

/// Compiles a parsed query.
pub fn plan(query: &ast::Query, opts: &PlanOptions) -> Result<Plan, PlanError> {
    let base = PlanContext {
        aliases: Vec::new(),
        field_types: opts.field_types.clone(),
    };
    let body = match &query.body {
        ast::QueryBody::Event(eq) => Body::Event(plan_filter(eq, &base)?),
        ast::QueryBody::Sequence(seq) => Body::Sequence(plan_sequence(seq, &base)?),
        ast::QueryBody::Sample(sample) => Body::Sample(plan_sample(sample, &base)?),
    };
    let mut pipes = Vec::with_capacity(query.pipes.len());
    for pipe in &query.pipes {
        pipes.push(plan_pipe(pipe, &base)?);
    }
    Ok(Plan {
        body,
        pipes,
        category_path: FieldPath::dotted(&opts.category_field),
    })
}

fn plan_filter(eq: &ast::EventQuery, cx: &PlanContext) -> Result<Filter, PlanError> {
    let category = match &eq.category {
        ast::Category::Any(_) => CategoryFilter::Any,
        ast::Category::Named(id) => {
            if id.name.eq_ignore_ascii_case("any") {
                CategoryFilter::Any
            } else {
                CategoryFilter::Named(id.name.clone())
            }
        }
    };
    let category_bit = match &category {
        CategoryFilter::Named(name) => ferret_event::category::category_bit(name).unwrap_or(0),
        CategoryFilter::Any => 0,
    };
    Ok(Filter {
        category,
        category_bit,
        condition: Predicate::compile(&eq.condition, cx)?,
        uses_aliases: reads_alias(&eq.condition, &cx.aliases),
    })
}

/// Whether `expr` reads a field whose first key is one of `aliases`.
fn reads_alias(expr: &ast::Expr, aliases: &[String]) -> bool {
    use ast::ExprKind as K;
    if aliases.is_empty() {
        return false;
    }
    match &expr.kind {
        K::Literal(_) => false,
        K::Field(f) => {
            matches!(f.path.first(), Some(ast::PathSegment::Key(k)) if aliases.iter().any(|a| a == k))
        }
        K::Not(e) | K::Neg(e) => reads_alias(e, aliases),
        K::Logic { lhs, rhs, .. } | K::Compare { lhs, rhs, .. } | K::Arith { lhs, rhs, .. } => {
            reads_alias(lhs, aliases) || reads_alias(rhs, aliases)
        }
        K::Match {
            value, patterns, ..
        } => reads_alias(value, aliases) || patterns.iter().any(|p| reads_alias(p, aliases)),
        K::In { value, list, .. } => {
            reads_alias(value, aliases) || list.iter().any(|p| reads_alias(p, aliases))
        }
        K::Call { args, .. } => args.iter().any(|a| reads_alias(a, aliases)),
    }
}

fn plan_keys(
    shared: &[ast::Expr],
    own: &[ast::Expr],
    cx: &PlanContext,
) -> Result<Vec<KeyPlan>, PlanError> {
    shared
        .iter()
        .chain(own)
        .map(|e| {
            Ok(KeyPlan {
                expr: KeyExpr::compile(e, cx)?,
                nullable: matches!(&e.kind, ast::ExprKind::Field(f) if f.optional),
            })
        })
        .collect()
}

fn check_key_counts(stages: &[&ast::Stage], shared: usize) -> Result<(), PlanError> {
    let Some(first) = stages.first() else {
        return Ok(());
    };
    let want = first.by.len();
    for st in stages.iter().skip(1) {
        if st.by.len() != want {
            return Err(PlanError {
                message: format!(
                    "inconsistent number of join keys: the first stage has {}, this stage has {}",
                    shared + want,
                    shared + st.by.len()
                ),
                span: st.span,
            });
        }
    }
    Ok(())
}

fn plan_sequence(seq: &ast::Sequence, base: &PlanContext) -> Result<SequencePlan, PlanError> {
    let mut all: Vec<&ast::Stage> = seq.stages.iter().collect();
    if let Some(u) = &seq.until {
        all.push(u);
    }
    check_key_counts(&all, seq.by.len())?;

    let mut aliases: Vec<String> = Vec::new();
    let mut stages = Vec::new();
    let mut expanded = 0usize;
    for st in &seq.stages {
        let runs = match &st.runs {
            None => 1,
            Some(r) if r.count >= 1 && r.count <= 100 => r.count as usize,
            Some(r) => {
                return Err(PlanError {
                    message: format!("runs must be between 1 and 100, found {}", r.count),
                    span: r.span,
                })
            }
        };
        if runs > 1 && st.alias.is_some() {
            return Err(PlanError {
                message: "a stage with `runs` cannot also be named with `as`".into(),
                span: st.span,
            });
        }
        if st.missing && runs > 1 {
            return Err(PlanError {
                message: "a missing-event stage cannot repeat with `runs`".into(),
                span: st.span,
            });
        }
        // Aliases visible to this stage: those declared by earlier stages.
        let cx = PlanContext {
            aliases: aliases.clone(),
            field_types: base.field_types.clone(),
        };
        let filter = plan_filter(&st.query, &cx)?;
        if st.missing && filter.uses_aliases {
            return Err(PlanError {
                message: "a missing-event stage cannot read a stage alias".into(),
                span: st.span,
            });
        }
        let keys = plan_keys(&seq.by, &st.by, base)?;
        let alias = match &st.alias {
            Some(id) => {
                if aliases.iter().any(|a| a == &id.name) {
                    return Err(PlanError {
                        message: format!("duplicate stage alias `{}`", id.name),
                        span: id.span,
                    });
                }
                if st.missing {
                    return Err(PlanError {
                        message: "a missing-event stage cannot be named with `as`".into(),
                        span: id.span,
                    });
                }
                aliases.push(id.name.clone());
                Some(aliases.len() - 1)
            }
            None => None,
        };
        let first = stages.len();
        for run in 0..runs {
            stages.push(StagePlan {
                filter: filter.clone(),
                keys: keys.clone(),
                missing: st.missing,
                alias,
                repeat_of: (run > 0).then_some(first),
                span: st.span,
            });
            expanded += 1;
        }
    }
    if expanded < 2 {
        return Err(PlanError {
            message: "a sequence needs at least two stages".into(),
            span: seq.span,
        });
    }
    if stages.iter().all(|s| s.missing) {
        return Err(PlanError {
            message: "a sequence needs at least one stage that is not a missing-event stage".into(),
            span: seq.span,
        });
    }
    let until = match &seq.until {
        Some(u) => {
            if u.missing || u.runs.is_some() || u.alias.is_some() {
                return Err(PlanError {
                    message: "the `until` stage cannot be missing, repeated or named".into(),
                    span: u.span,
                });
            }
            Some(StagePlan {
                filter: plan_filter(&u.query, base)?,
                keys: plan_keys(&seq.by, &u.by, base)?,
                missing: false,
                alias: None,
                repeat_of: None,
                span: u.span,
            })
        }
        None => None,
    };
    let maxspan_nanos = match &seq.maxspan {
        Some(ts) if ts.value <= 0 => {
            return Err(PlanError {
                message: format!("maxspan must be positive, found {ts}"),
                span: ts.span,
            })
        }
        Some(ts) => Some(ts.millis() as i128 * 1_000_000),
        None => None,
    };
    Ok(SequencePlan {
        stages,
        until,
        maxspan_nanos,
        aliases,
    })
}

fn plan_sample(sample: &ast::Sample, base: &PlanContext) -> Result<SamplePlan, PlanError> {
    let all: Vec<&ast::Stage> = sample.stages.iter().collect();
    check_key_counts(&all, sample.by.len())?;
    let mut stages = Vec::new();
    for st in &sample.stages {
        if st.missing || st.runs.is_some() || st.alias.is_some() {
            return Err(PlanError {
                message:
                    "sample stages cannot be missing-event stages, repeat with `runs` or be named"
                        .into(),
                span: st.span,
            });
        }
        let keys = plan_keys(&sample.by, &st.by, base)?;
        if keys.is_empty() {
            return Err(PlanError {
                message: "a sample needs join keys (`sample by …` or per-stage `by`)".into(),
                span: st.span,
            });
        }
        stages.push(StagePlan {
            filter: plan_filter(&st.query, base)?,
            keys,
            missing: false,
            alias: None,
            repeat_of: None,
            span: st.span,
        });
    }
    if stages.is_empty() {
        return Err(PlanError {
            message: "a sample needs at least one stage".into(),
            span: sample.span,
        });
    }
    Ok(SamplePlan { stages })
}

fn plan_pipe(pipe: &ast::Pipe, cx: &PlanContext) -> Result<PipePlan, PlanError> {
    use ast::PipeKind as P;
    let count = |n: i64| -> Result<usize, PlanError> {
        usize::try_from(n).map_err(|_| PlanError {
            message: format!("the pipe count must not be negative, found {n}"),
            span: pipe.span,
        })
    };
    let keys = |exprs: &[ast::Expr]| -> Result<Vec<KeyExpr>, PlanError> {
        exprs.iter().map(|e| KeyExpr::compile(e, cx)).collect()
    };
    Ok(match &pipe.kind {
        P::Head(n) => PipePlan::Head(count(*n)?),
        P::Tail(n) => PipePlan::Tail(count(*n)?),
        P::Filter(e) => PipePlan::Filter(Predicate::compile(e, cx)?),
        P::Unique(es) => PipePlan::Unique(keys(es)?),
        P::UniqueCount(es) => PipePlan::UniqueCount(keys(es)?),
        P::Count(es) => PipePlan::Count(keys(es)?),
        P::Sort(es) => PipePlan::Sort(keys(es)?),
    })
}

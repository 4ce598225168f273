//! Which rules an event can concern, by cheap facts read off the event: the
//! index it names, its `host.os.type` (behavior rules' OS lists), the
//! string values of each category field the rules use, and the values of
//! the fields worked out per distinct value
//! ([`per_value_paths`](ferret_engine::necessary::per_value_paths): fields
//! with few distinct values such as `event.type`, and process names, which
//! repeat) that rules test in their top-level `and`.
//!
//! Events with the same facts concern the same rules, and a file has few
//! distinct combinations, so the rule list is computed once per
//! combination and cached. The lookup key is the facts written as bytes
//! into a reused buffer; the rules are worked out from the event only the
//! first time its key is seen.
//!
//! A rule's filter (`process where event.type == "start" and …`) cannot
//! hold for an event whose `event.type` fails `event.type == "start"`: such
//! one-field operands of a top-level `and` on one of those fields are the
//! filter's guards ([`ferret_engine::Guard`]). Each guard field sorts
//! its distinct values into classes by which guards they pass (worked out
//! on first sight of the values); the class is the key's part for that
//! field. A rule is kept for an event when one of its filters has the
//! event's category and all its guards pass. Per class, a guard field
//! keeps which filters it leaves (a bit per filter), so a new combination
//! of classes costs a few bitset `and`s, not a pass over every rule.
//!
//! The rules' verdicts ([`Compiled::verdicts`]: one-field conditions on
//! those fields anywhere in a filter) are sorted into the same classes, so
//! an event's verdicts come with its rule list, worked out once per class.

use std::collections::HashMap;
use std::sync::Arc;

use ferret_engine::necessary::per_value_paths;
use ferret_engine::plan::CategoryFilter;
use ferret_engine::{Guard, Verdicts};
use ferret_event::{Event, FieldPath, FieldValue};
use rayon::prelude::*;

use crate::compile::{os_type, Compiled, EventScope};
use crate::index::index_name;
use crate::prefilter::Prefilter;

/// The caches' maps: their keys are an event's facts (a hundred bytes or
/// more), looked up once or twice per event; SipHash, the standard map's,
/// was 1.5% of a scan with all rules. foldhash is seeded per process.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The facts of an event as bytes (see [`DispatchKeys::write`]): what a
/// decoding thread works out for [`Dispatch::route`].
pub(crate) struct DispatchKeys {
    /// The distinct category fields of the rules.
    fields: Vec<FieldPath>,
    /// The fields the rules' guards read.
    guard_paths: Vec<FieldPath>,
}

/// Rule lists per combination of facts, computed on first sight.
pub(crate) struct Dispatch {
    keys: Arc<DispatchKeys>,
    /// Per rule, what each of its filters (stages, `until`) requires.
    rules: Vec<Vec<FilterFacts>>,
    /// Per guard field (as `keys.guard_paths`), its guards and classes.
    guards: Vec<GuardField>,
    /// Words of an event's verdicts ([`Compiled::verdicts`]).
    verdict_words: usize,
    /// By key, as written.
    by_key: Map<Box<[u8]>, Route>,
    /// By key with each guard field's values replaced by their class:
    /// fewer combinations, for keys not seen lately.
    by_class: Map<Box<[u8]>, Route>,
    /// Per filter, its rule. Filters are numbered across rules, in order:
    /// bit `f` of a filter bitset is filter `f`.
    rule_of_filter: Vec<u32>,
    /// By the key's category parts: which filters' categories the event
    /// has (or `any`).
    by_category: Map<Box<[u8]>, Arc<[u64]>>,
    /// By the key's scope part (index and OS type): which rules' scopes
    /// admit it, bit `i` for rule `i` (index patterns are globs, costly to
    /// match a thousand times for every new key).
    admitted: Map<Box<[u8]>, Arc<[u64]>>,
    /// The rules grouped by scope (most rules share theirs with others):
    /// a scope is matched once for its group.
    same_scope: Vec<Vec<u32>>,
    /// Scratch: the classes of one key, and the key written with them.
    classes: Vec<u32>,
    class_key: Vec<u8>,
    /// The prefilter of the fields keys hold the values of
    /// ([`DispatchKeys::exact_paths`]), for [`Route::keyed`].
    keyed: Option<Prefilter>,
}

/// Where an event goes: the rules it can concern, bit `i` (of word
/// `i / 64`) for rule `i`, and its verdicts (the results of the rules'
/// conditions on few-valued fields, bit `i` for verdict `i` of
/// [`Compiled::verdicts`], to attach to it).
#[derive(Clone)]
pub(crate) struct Route {
    /// A set, like the prefilter's [`crate::prefilter::Candidates`], so the
    /// two meet a word at a time: looking up each of the route's rules (some
    /// fifty) in the candidates was a branch each, mispredicted often.
    pub(crate) rules: Arc<[u64]>,
    pub(crate) verdicts: Arc<[u64]>,
    /// Of `rules`, those the prefilter of the fields the key holds
    /// ([`Dispatch::set_keyed_prefilter`]) finds a needle of: an event's
    /// rules are these and those of `rules` among the candidates of the
    /// rest of its fields.
    pub(crate) keyed: Arc<[u64]>,
}

#[cfg(test)]
impl Route {
    /// The route's rules, in rule order.
    pub(crate) fn rule_ids(&self) -> Vec<u32> {
        let mut out = Vec::new();
        for_each_bit(self.rules.iter().copied(), |r| out.push(r));
        out
    }
}

/// Calls `f` with the number of each set bit of `words` (bit `i` of word
/// `i / 64` is number `i`), in ascending order.
#[inline]
pub(crate) fn for_each_bit(words: impl IntoIterator<Item = u64>, mut f: impl FnMut(u32)) {
    for (w, mut word) in (0u32..).zip(words) {
        while word != 0 {
            f(w * 64 + word.trailing_zeros());
            word &= word - 1;
        }
    }
}

/// What one filter of a rule requires of an event.
struct FilterFacts {
    /// Its category field (index into `DispatchKeys::fields`).
    field: usize,
    /// Its category; `None` for `any`.
    category: Option<String>,
    /// Its guards: (guard field, guard within it).
    guards: Vec<(usize, usize)>,
}

/// The guards and verdicts on one field, and the classes its values fall
/// into.
#[derive(Default)]
struct GuardField {
    guards: Vec<Guard>,
    /// The verdicts ([`Compiled::verdicts`]) on this field, by id.
    verdicts: Vec<u32>,
    /// The field's values (as [`write_values`] writes them) -> class.
    class_of: Map<Box<[u8]>, u32>,
    /// Classes by what they pass: which guards (bit `i` of word `i / 64`),
    /// then which verdicts hold (bit `guards.len() + j` for `verdicts[j]`).
    class_by_passes: Map<Box<[u64]>, u32>,
    /// The filters with guards on this field (by number), with those
    /// guards.
    guarded: Vec<(u32, Vec<usize>)>,
    /// Words of a filter bitset.
    filter_words: usize,
    /// Per class, which filters its values do not rule out: those without
    /// guards here and those whose guards here all pass.
    filters_passing: Vec<Box<[u64]>>,
    /// Words of an event's verdicts.
    verdict_words: usize,
    /// Per class, the verdicts on this field that hold (bit per verdict
    /// id, as an event's verdicts).
    verdicts_holding: Vec<Box<[u64]>>,
}

/// Distinct keys cached before a cache is emptied (adversarial input with
/// a new `_index` on every line must not grow memory).
const CACHE_CAP: usize = 4096;

/// [`CACHE_CAP`] of the caches by whole dispatch key and by guard value,
/// whose keys are many more: the standard corpus has about 4,900 distinct
/// dispatch keys, and a cache emptied at 4,096 of them sent one event in
/// five down the slow path. (A key is a few hundred bytes: at most about
/// 10 MB.)
const KEY_CACHE_CAP: usize = 32 << 10;

/// [`CACHE_CAP`] of the cache by class combination, whose entries hold a
/// verdict set each (about a kilobyte with the corpus rules).
const CLASS_CACHE_CAP: usize = 16 << 10;

/// Ends a part of a key; separates values within a part; marks a value
/// that is not a string. None of these bytes occurs in UTF-8 text, so a
/// key decodes one way only.
const END: u8 = 0xff;
const NEXT: u8 = 0xfe;
const NOT_STRING: u8 = 0xfd;

impl DispatchKeys {
    /// The fields whose values a key holds exactly (in the order written,
    /// strings and others told apart), so events of one key have the same
    /// values there.
    pub(crate) fn exact_paths(&self) -> &[FieldPath] {
        &self.guard_paths
    }

    /// Writes the facts of `ev` into `key`: the index name as
    /// [`crate::index::event_index`] gives it, the OS type lowercased, per
    /// category field its distinct string values, sorted, and per guard
    /// field its values as [`write_values`] writes them; each part ends
    /// with [`END`]. Events with equal keys concern the same rules.
    pub(crate) fn write(&self, ev: &Event, key: &mut Vec<u8>) {
        key.clear();
        match index_name(ev) {
            Some(name) => {
                key.push(1);
                name.pieces(|p| key.extend_from_slice(p.as_bytes()));
            }
            None => key.push(0),
        }
        key.push(END);
        match os_type(ev) {
            Some(os) => {
                key.push(1);
                key.extend(os.bytes().map(|b| b.to_ascii_lowercase()));
            }
            None => key.push(0),
        }
        key.push(END);
        // An event's categories, a handful at most, gathered on the stack
        // (a vector here was an allocation per event); more go to the heap.
        let mut few: [&str; 8] = [""; 8];
        let mut more: Vec<&str> = Vec::new();
        for f in &self.fields {
            let mut n = 0;
            each_value(ev, f, |v| {
                if let FieldValue::Str(s) = v {
                    if few[..n].contains(&s) || more.contains(&s) {
                        return;
                    }
                    if n < few.len() {
                        few[n] = s;
                        n += 1;
                    } else {
                        more.push(s);
                    }
                }
            });
            let values = if more.is_empty() {
                &mut few[..n]
            } else {
                more.extend_from_slice(&few[..n]);
                &mut more[..]
            };
            values.sort_unstable();
            for v in values.iter() {
                key.extend_from_slice(v.as_bytes());
                key.push(NEXT);
            }
            more.clear();
            key.push(END);
        }
        for path in &self.guard_paths {
            write_values(ev, path, key);
            key.push(END);
        }
    }
}

impl Dispatch {
    pub(crate) fn new(compiled: &Compiled) -> Self {
        let mut fields: Vec<FieldPath> = Vec::new();
        let mut guard_paths: Vec<FieldPath> = Vec::new();
        let mut guards: Vec<GuardField> = Vec::new();
        let usable = per_value_paths();
        let usable = |p: &FieldPath| usable.contains(p);
        let rules: Vec<Vec<FilterFacts>> = compiled
            .rules
            .iter()
            .map(|r| {
                let path = &r.plan.category_path;
                let field = match fields.iter().position(|f| f == path) {
                    Some(i) => i,
                    None => {
                        fields.push(path.clone());
                        fields.len() - 1
                    }
                };
                r.plan
                    .filters()
                    .into_iter()
                    .map(|f| {
                        let category = match &f.category {
                            CategoryFilter::Any => None,
                            CategoryFilter::Named(name) => Some(name.clone()),
                        };
                        // A condition reading stage aliases is checked
                        // against a partial, with another event's fields.
                        let found = if f.uses_aliases {
                            Vec::new()
                        } else {
                            f.condition.guards(&usable)
                        };
                        let guards = found
                            .into_iter()
                            .map(|g| {
                                let at = guard_field(&mut guard_paths, &mut guards, g.path());
                                guards[at].guards.push(g);
                                (at, guards[at].guards.len() - 1)
                            })
                            .collect();
                        FilterFacts {
                            field,
                            category,
                            guards,
                        }
                    })
                    .collect()
            })
            .collect();
        // Verdicts are worked out per class too, so their fields are
        // written into keys like guard fields.
        for id in 0..compiled.verdicts.len() as u32 {
            let at = guard_field(&mut guard_paths, &mut guards, compiled.verdicts.path(id));
            guards[at].verdicts.push(id);
        }
        // Filters numbered across rules, and per guard field the filters
        // it guards.
        let mut rule_of_filter: Vec<u32> = Vec::new();
        for (rule, filters) in rules.iter().enumerate() {
            for f in filters {
                let mut on: Vec<(usize, Vec<usize>)> = Vec::new();
                for &(field, guard) in &f.guards {
                    match on.iter_mut().find(|(g, _)| *g == field) {
                        Some((_, gs)) => gs.push(guard),
                        None => on.push((field, vec![guard])),
                    }
                }
                for (field, gs) in on {
                    guards[field]
                        .guarded
                        .push((rule_of_filter.len() as u32, gs));
                }
                rule_of_filter.push(rule as u32);
            }
        }
        let filter_words = rule_of_filter.len().div_ceil(64);
        let verdict_words = compiled.verdicts.len().div_ceil(64);
        for g in &mut guards {
            g.filter_words = filter_words;
            g.verdict_words = verdict_words;
        }
        let mut same_scope: Vec<Vec<u32>> = Vec::new();
        let mut group_of: Map<&crate::compile::Scope, usize> = Map::default();
        for (i, rule) in compiled.rules.iter().enumerate() {
            let g = *group_of.entry(&rule.scope).or_insert_with(|| {
                same_scope.push(Vec::new());
                same_scope.len() - 1
            });
            same_scope[g].push(i as u32);
        }
        Dispatch {
            same_scope,
            rule_of_filter,
            by_category: Map::default(),
            keys: Arc::new(DispatchKeys {
                fields,
                guard_paths,
            }),
            rules,
            guards,
            verdict_words,
            by_key: Map::default(),
            by_class: Map::default(),
            admitted: Map::default(),
            classes: Vec::new(),
            class_key: Vec::new(),
            keyed: None,
        }
    }

    /// Gives routes the candidates of `keyed`, a prefilter of fields among
    /// [`DispatchKeys::exact_paths`] (see [`Route::keyed`]).
    pub(crate) fn set_keyed_prefilter(&mut self, keyed: Prefilter) {
        self.by_key.clear();
        self.keyed = Some(keyed);
    }

    /// What decoding threads need to write keys.
    pub(crate) fn keys(&self) -> &Arc<DispatchKeys> {
        &self.keys
    }

    /// Where `ev` goes; `key` is its facts as [`DispatchKeys::write`] wrote
    /// them.
    pub(crate) fn route(&mut self, compiled: &Compiled, ev: &Event, key: &[u8]) -> Route {
        if let Some(route) = self.by_key.get(key) {
            return route.clone();
        }
        // The key's parts: index, OS type, the category fields, then the
        // guard fields.
        let mut parts = key.split(|&b| b == END);
        let fixed = 2 + self.keys.fields.len();
        // Where the scope parts (index, OS type) and the category parts end.
        let mut ends = key
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == END)
            .map(|(i, _)| i + 1);
        let scope_len = ends.nth(1).unwrap_or(key.len());
        let fixed_len = if fixed > 2 {
            ends.nth(fixed - 3).unwrap_or(key.len())
        } else {
            scope_len
        };
        let mut class_key = std::mem::take(&mut self.class_key);
        class_key.clear();
        for part in parts.by_ref().take(fixed) {
            class_key.extend_from_slice(part);
            class_key.push(END);
        }
        self.classes.clear();
        for (g, values) in self.guards.iter_mut().zip(parts) {
            let class = g.class(values, ev, &compiled.verdicts);
            self.classes.push(class);
            class_key.extend_from_slice(&class.to_le_bytes());
        }
        let route = match self.by_class.get(&class_key[..]) {
            Some(route) => route.clone(),
            None => {
                let scope_key = &key[..scope_len];
                let admitted = match self.admitted.get(scope_key) {
                    Some(a) => a.clone(),
                    None => {
                        let scope = EventScope::of(ev);
                        let mut bits = vec![0u64; compiled.rules.len().div_ceil(64)];
                        for rules in &self.same_scope {
                            if compiled.rules[rules[0] as usize].scope.admits(&scope) {
                                for &i in rules {
                                    bits[i as usize / 64] |= 1 << (i % 64);
                                }
                            }
                        }
                        let bits: Arc<[u64]> = bits.into();
                        remember(
                            &mut self.admitted,
                            scope_key.into(),
                            bits.clone(),
                            CACHE_CAP,
                        );
                        bits
                    }
                };
                let category_key = &key[scope_len..fixed_len];
                let categories = match self.by_category.get(category_key) {
                    Some(c) => c.clone(),
                    None => {
                        let c = self.filters_with_categories(ev);
                        remember(
                            &mut self.by_category,
                            category_key.into(),
                            c.clone(),
                            CACHE_CAP,
                        );
                        c
                    }
                };
                let route = Route {
                    rules: self.work_out(&admitted, &categories),
                    verdicts: self.verdicts_of_classes(),
                    keyed: Arc::from([]),
                };
                remember(
                    &mut self.by_class,
                    class_key.as_slice().into(),
                    route.clone(),
                    CLASS_CACHE_CAP,
                );
                route
            }
        };
        self.class_key = class_key;
        // Keys of one class differ in the values of their guard fields,
        // so the prefilter's answer is the key's, not the class's.
        let keyed = match &self.keyed {
            Some(keyed) => {
                let found = keyed.candidates(ev);
                let both = route.rules.iter().zip(found.words());
                both.map(|(r, c)| r & c).collect()
            }
            None => vec![0; route.rules.len()].into(),
        };
        let route = Route { keyed, ..route };
        remember(&mut self.by_key, key.into(), route.clone(), KEY_CACHE_CAP);
        route
    }

    /// Works out, on `pool`, what the guard-field values of `batch`'s events
    /// (event and key, as [`Dispatch::route`] takes them) pass when no event
    /// before had them, so that `route` then finds their classes. On first
    /// sight of a process name every guard and verdict on its field is
    /// evaluated (two thousand for `process.name`): at start-up, when most
    /// values are new, that was most of the dispatch of a thousand events,
    /// all on the thread that routes.
    ///
    /// Gives each event's route if its key is known already (`None` for
    /// the others, which `route` works out): looking each key up here and
    /// again in `route` was a fifth of the routing thread's time.
    pub(crate) fn learn<'e>(
        &mut self,
        compiled: &Compiled,
        pool: &crate::pool::Pool,
        batch: &[(&'e Event, &'e [u8])],
    ) -> Vec<Option<Route>> {
        let fixed = 2 + self.keys.fields.len();
        let mut known = Vec::with_capacity(batch.len());
        let mut new: Vec<(usize, &[u8], &Event)> = Vec::new();
        let mut queued: foldhash::HashSet<(usize, &[u8])> = Default::default();
        for (i, &(ev, key)) in batch.iter().enumerate() {
            // Keys were written on the decoding threads: hashing and
            // comparing them waited for their lines.
            if let Some((_, ahead)) = batch.get(i + 8) {
                ferret_event::prefetch_bytes(ahead, 4);
            }
            let route = self.by_key.get(key).cloned();
            let is_known = route.is_some();
            known.push(route);
            if is_known {
                continue;
            }
            let parts = key.split(|&b| b == END).skip(fixed);
            for ((g, field), values) in self.guards.iter().enumerate().zip(parts) {
                if !field.class_of.contains_key(values) && queued.insert((g, values)) {
                    new.push((g, values, ev));
                }
            }
        }
        // One is as quickly worked out by `route`.
        if new.len() < 2 {
            return known;
        }
        let guards = &self.guards;
        let passes: Vec<Box<[u64]>> = pool.install(|| {
            new.par_iter()
                .map(|&(g, _, ev)| guards[g].passes(ev, &compiled.verdicts))
                .collect()
        });
        for ((g, values, _), bits) in new.iter().zip(&passes) {
            self.guards[*g].classify(values, bits);
        }
        known
    }

    /// The verdicts of an event whose guard fields fall into
    /// `self.classes`.
    fn verdicts_of_classes(&self) -> Arc<[u64]> {
        let mut bits = vec![0u64; self.verdict_words];
        for (g, &class) in self.guards.iter().zip(&self.classes) {
            if g.verdicts.is_empty() {
                continue;
            }
            for (w, holds) in bits
                .iter_mut()
                .zip(g.verdicts_holding[class as usize].iter())
            {
                *w |= holds;
            }
        }
        bits.into()
    }

    /// The filters (bit per filter number) whose category `ev` has, or that
    /// take any category.
    fn filters_with_categories(&self, ev: &Event) -> Arc<[u64]> {
        let categories: Vec<Vec<&str>> = self
            .keys
            .fields
            .iter()
            .map(|f| {
                ev.values(f)
                    .into_iter()
                    .filter_map(FieldValue::as_str)
                    .collect()
            })
            .collect();
        let mut bits = vec![0u64; self.rule_of_filter.len().div_ceil(64)];
        for (n, f) in self.rules.iter().flatten().enumerate() {
            let has = f
                .category
                .as_ref()
                .is_none_or(|c| categories[f.field].contains(&c.as_str()));
            if has {
                bits[n / 64] |= 1 << (n % 64);
            }
        }
        bits.into()
    }

    /// The rules an event concerns, worked out from its facts: the rules
    /// its scope admits (`admitted`, a bit per rule) with a filter that has
    /// its category (`categories`, a bit per filter) and whose guards pass
    /// (the classes [`Dispatch::route`] found).
    fn work_out(&self, admitted: &[u64], categories: &[u64]) -> Arc<[u64]> {
        let mut ok = categories.to_vec();
        for (g, &class) in self.guards.iter().zip(&self.classes) {
            if g.guarded.is_empty() {
                continue;
            }
            for (w, pass) in ok.iter_mut().zip(g.filters_passing[class as usize].iter()) {
                *w &= pass;
            }
        }
        // The rules of the filters left that the scope admits.
        let mut rules = vec![0u64; admitted.len()];
        for_each_bit(ok.iter().copied(), |filter| {
            if let Some(&rule) = self.rule_of_filter.get(filter as usize) {
                rules[rule as usize / 64] |= 1 << (rule % 64);
            }
        });
        for (r, a) in rules.iter_mut().zip(admitted) {
            *r &= a;
        }
        rules.into()
    }
}

impl GuardField {
    /// The class of a field's values (`values`, as written into a key, of
    /// `ev`): the guards they pass, worked out on the first event with
    /// these values.
    fn class(&mut self, values: &[u8], ev: &Event, verdicts: &Verdicts) -> u32 {
        match self.class_of.get(values) {
            Some(&c) => c,
            None => self.classify(values, &self.passes(ev, verdicts)),
        }
    }

    /// What the field's values in `ev` pass: bit `i` for guard `i`, then
    /// bit `guards.len() + j` for verdict `verdicts[j]`.
    fn passes(&self, ev: &Event, verdicts: &Verdicts) -> Box<[u64]> {
        let n = self.guards.len();
        let mut bits = vec![0u64; (n + self.verdicts.len()).div_ceil(64)];
        // Verdicts first: most guards are one of them (or its negation) and
        // are read from these rather than evaluated again.
        let mut holding = vec![0u64; self.verdict_words];
        for (j, &id) in self.verdicts.iter().enumerate() {
            if verdicts.holds(id, ev) {
                holding[id as usize / 64] |= 1 << (id % 64);
                let i = n + j;
                bits[i / 64] |= 1 << (i % 64);
            }
        }
        for (i, g) in self.guards.iter().enumerate() {
            if g.holds_given(ev, &holding) {
                bits[i / 64] |= 1 << (i % 64);
            }
        }
        bits.into()
    }

    /// Files `values` under the class of values passing `bits` (as
    /// [`GuardField::passes`] gives them), a new class if no values passed
    /// the same before.
    fn classify(&mut self, values: &[u8], bits: &[u64]) -> u32 {
        let n = self.guards.len();
        let next = self.filters_passing.len() as u32;
        let c = *self.class_by_passes.entry(bits.into()).or_insert(next);
        if c == next {
            let mut passing = vec![u64::MAX; self.filter_words];
            for (filter, guards) in &self.guarded {
                if !guards.iter().all(|&i| bits[i / 64] & (1 << (i % 64)) != 0) {
                    passing[*filter as usize / 64] &= !(1 << (filter % 64));
                }
            }
            self.filters_passing.push(passing.into());
            let mut holding = vec![0u64; self.verdict_words];
            for (j, &id) in self.verdicts.iter().enumerate() {
                let bit = n + j;
                if bits[bit / 64] & (1 << (bit % 64)) != 0 {
                    holding[id as usize / 64] |= 1 << (id % 64);
                }
            }
            self.verdicts_holding.push(holding.into());
        }
        // Classes stay (there are as many as guard outcomes differ); the
        // values seen are forgotten now and then.
        remember(&mut self.class_of, values.into(), c, KEY_CACHE_CAP);
        c
    }
}

/// Caches `value` under `key`, emptying the cache first when it holds
/// `cap` keys.
fn remember<K: std::hash::Hash + Eq, V>(cache: &mut Map<K, V>, key: K, value: V, cap: usize) {
    if cache.len() >= cap {
        cache.clear();
    }
    cache.insert(key, value);
}

/// The index of `path` among the guard fields, added (with an empty
/// [`GuardField`]) if new.
fn guard_field(
    paths: &mut Vec<FieldPath>,
    fields: &mut Vec<GuardField>,
    path: &FieldPath,
) -> usize {
    match paths.iter().position(|p| p == path) {
        Some(i) => i,
        None => {
            paths.push(path.clone());
            fields.push(GuardField::default());
            fields.len() - 1
        }
    }
}

/// Appends every value of `path` in `ev`, in order, each followed by
/// [`NEXT`]: strings as their bytes, anything else as [`NOT_STRING`] and
/// its JSON text.
fn write_values(ev: &Event, path: &FieldPath, out: &mut Vec<u8>) {
    each_value(ev, path, |v| {
        match v {
            FieldValue::Str(s) => out.extend_from_slice(s.as_bytes()),
            other => {
                out.push(NOT_STRING);
                out.extend_from_slice(other.to_json().to_string().as_bytes());
            }
        }
        out.push(NEXT);
    });
}

/// [`Event::for_each`], without a call through a pointer per value where
/// the event's table has the field: keys are written for every event, two
/// dozen fields each.
fn each_value<'e>(ev: &'e Event, path: &FieldPath, mut f: impl FnMut(FieldValue<'e>)) {
    match ev.table_values(path) {
        Some(values) => values.for_each(f),
        None => ev.for_each(path, &mut f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{compile, CompileOptions};
    use ferret_event::Origin;
    use ferret_rules::{RuleFilter, RuleSet};
    use serde_json::json;

    fn rule(id: &str, query: &str, index: &str) -> String {
        format!(
            "[metadata]\nmaturity = \"production\"\n\n[rule]\nname = \"{id}\"\nrule_id = \"{id}\"\n\
             risk_score = 21\nseverity = \"low\"\ntype = \"eql\"\nlanguage = \"eql\"\n{index}\n\
             query = '''\n{query}\n'''\n"
        )
    }

    fn compiled() -> Compiled {
        let dir = tempfile::tempdir().unwrap();
        let files = [
            rule(
                "net-endpoint",
                "network where true",
                "index = [\"logs-endpoint.events.*\"]",
            ),
            rule("proc-any-index", "process where true", ""),
            rule(
                "any-system",
                "any where true",
                "index = [\"logs-system.*\"]",
            ),
            rule(
                "file-then-proc",
                "sequence [file where true] [process where true]",
                "",
            ),
            // Guards: one-field operands of the top-level `and`.
            rule(
                "proc-start",
                "process where event.type == \"start\" and process.name != null",
                "",
            ),
            rule(
                "exec-then-net",
                "sequence by h [process where event.action : \"EXEC\"] \
                 [network where event.type in (\"start\", \"info\") and not event.outcome == \"failure\"]",
                "",
            ),
            rule(
                "until-failure",
                "sequence by h [file where true] [process where true] \
                 until [network where event.outcome == \"failure\"]",
                "",
            ),
            rule("logon-code", "any where event.code == 4624 and h != null", ""),
            // Not a guard: the `or` spans two fields.
            rule(
                "either",
                "process where event.type == \"end\" or event.action == \"exec\"",
                "",
            ),
            // Guards and verdicts on process names, which repeat.
            rule(
                "shell-start",
                "process where process.name in (\"bash\", \"zsh\") and event.type == \"start\"",
                "",
            ),
            // Two guards on one field: both must pass.
            rule(
                "shell-not-zsh",
                "process where process.name : \"*sh\" and process.name != \"zsh\"",
                "",
            ),
            rule(
                "from-python",
                "sequence by h [process where process.parent.name : \"python*\" and \
                 not process.name == \"pip\"] [network where true]",
                "",
            ),
        ];
        let mut paths = Vec::new();
        for (i, text) in files.iter().enumerate() {
            let p = dir.path().join(format!("r{i}.toml"));
            std::fs::write(&p, text).unwrap();
            paths.push(p);
        }
        // A behavior rule: scoped to Windows hosts.
        let p = dir.path().join("behavior.toml");
        std::fs::write(
            &p,
            "[rule]\nid = \"win-proc\"\nname = \"win-proc\"\ndescription = \"d\"\n\
             os_list = [\"windows\"]\nversion = \"1.0.0\"\nquery = '''\nprocess where true\n'''\n",
        )
        .unwrap();
        paths.push(p);
        let c = compile(
            RuleSet::load(&paths, &RuleFilter::default()),
            &CompileOptions::default(),
        );
        assert_eq!(c.rules.len(), 13, "{:?}", c.failed);
        c
    }

    /// The rules an event concerns, worked out directly: scope, and a
    /// filter whose category the event has and whose guards hold.
    fn expected(c: &Compiled, ev: &Event) -> Vec<u32> {
        let scope = EventScope::of(ev);
        let cats: Vec<FieldValue> = ev.values(&FieldPath::dotted("event.category"));
        let usable = per_value_paths();
        (0..c.rules.len() as u32)
            .filter(|&i| {
                let r = &c.rules[i as usize];
                r.scope.admits(&scope)
                    && r.plan.filters().iter().any(|f| {
                        let cat_ok = match &f.category {
                            CategoryFilter::Any => true,
                            CategoryFilter::Named(n) => cats.iter().any(|v| v.as_str() == Some(n)),
                        };
                        cat_ok
                            && f.condition
                                .guards(&|p| usable.contains(p))
                                .iter()
                                .all(|g| g.holds(ev))
                    })
            })
            .collect()
    }

    /// The rules whose condition holds for the event: a dispatch that
    /// left one out would lose its alerts.
    fn matching(c: &Compiled, ev: &Event) -> Vec<u32> {
        let scope = EventScope::of(ev);
        (0..c.rules.len() as u32)
            .filter(|&i| {
                let r = &c.rules[i as usize];
                r.scope.admits(&scope)
                    && r.plan.filters().iter().any(|f| {
                        f.category_matches(&r.plan.category_path, ev)
                            && f.condition.matches(&ferret_engine::EvalInput::event(ev))
                    })
            })
            .collect()
    }

    fn events() -> Vec<Event> {
        let ds = |t: &str, d: &str, n: &str| json!({"type": t, "dataset": d, "namespace": n});
        [
            json!({"event": {"category": "network"}, "_index": "logs-endpoint.events.network-default"}),
            json!({"event": {"category": ["process", "network"]}, "data_stream": ds("logs", "endpoint.events.process", "default")}),
            json!({"event": {"category": ["network", "process", "network"]}, "data_stream": ds("logs", "endpoint.events.process", "default")}),
            json!({"event": {"category": "process"}, "data_stream": ds("logs", "system.auth", "default")}),
            // Joined alike ("logs-system-x-default"): one index name.
            json!({"event": {"category": "file"}, "data_stream": ds("logs-system", "x", "default")}),
            json!({"event": {"category": "file"}, "data_stream": ds("logs", "system-x", "default")}),
            // Part of the data-stream triple only: no index.
            json!({"event": {"category": "process"}, "data_stream": {"type": "logs"}}),
            json!({"event": {"category": "process"}, "host": {"os": {"type": "Windows"}}}),
            json!({"event": {"category": "process"}, "host": {"os": {"type": "windows"}}}),
            json!({"event": {"category": "process"}, "host": {"os": {"type": "linux"}}}),
            json!({"event": {"category": 7}}),
            json!({}),
            // Guard fields: types, actions (case), outcomes, codes.
            json!({"h": 1, "event": {"category": "process", "type": "start", "action": "exec"}, "process": {"name": "a"}}),
            json!({"h": 1, "event": {"category": "process", "type": "start", "action": "Exec"}, "process": {"name": "a"}}),
            json!({"h": 1, "event": {"category": "process", "type": "end", "action": "end"}}),
            json!({"h": 1, "event": {"category": "process", "type": ["end"], "action": "fork"}}),
            json!({"h": 1, "event": {"category": "network", "type": ["protocol", "info"]}}),
            json!({"h": 1, "event": {"category": "network", "type": ["info", "protocol"]}}),
            json!({"h": 1, "event": {"category": "network", "type": "start", "outcome": "failure"}}),
            json!({"h": 1, "event": {"category": "network", "type": "end", "outcome": "success"}}),
            json!({"h": 1, "event": {"category": "authentication", "code": 4624}}),
            json!({"h": 1, "event": {"category": "authentication", "code": "4624"}}),
            json!({"h": 1, "event": {"category": "authentication", "code": 4625}}),
            json!({"h": 1, "event": {"category": "authentication", "code": [4625, 4624]}}),
            // Process names: guards, verdicts, and names no rule names.
            json!({"h": 1, "event": {"category": "process", "type": "start"}, "process": {"name": "bash", "parent": {"name": "Python3"}}}),
            json!({"h": 1, "event": {"category": "process", "type": "start"}, "process": {"name": "vim", "parent": {"name": "python"}}}),
            json!({"h": 1, "event": {"category": "process", "type": "start"}, "process": {"name": "pip", "parent": {"name": "python"}}}),
            json!({"h": 1, "event": {"category": "process", "type": "start"}, "process": {"name": ["zsh", "x"], "parent": {"name": "init"}}}),
        ]
        .into_iter()
        .map(|d| Event::new(d, Origin::default()))
        .collect()
    }

    fn key_of(dispatch: &Dispatch, ev: &Event) -> Vec<u8> {
        let mut key = Vec::new();
        dispatch.keys().write(ev, &mut key);
        key
    }

    #[test]
    fn cached_lists_equal_the_direct_answer_and_keep_every_matching_rule() {
        check_routes(false);
    }

    /// The same when each batch's new values are learned first, in
    /// parallel ([`Dispatch::learn`]).
    #[test]
    fn learned_classes_give_the_same_routes() {
        check_routes(true);
    }

    fn check_routes(learn: bool) {
        let c = compiled();
        let mut dispatch = Dispatch::new(&c);
        let events = events();
        let pool = crate::pool::Pool::new(2);
        // Twice: first computed, then from the caches.
        for round in 0..2 {
            if learn {
                let keys: Vec<Vec<u8>> = events.iter().map(|ev| key_of(&dispatch, ev)).collect();
                let batch: Vec<(&Event, &[u8])> =
                    events.iter().zip(keys.iter().map(|k| &k[..])).collect();
                dispatch.learn(&c, &pool, &batch);
                if round == 0 {
                    // Every value of the batch was worked out by `learn`:
                    // routing adds no class.
                    let known: Vec<usize> =
                        dispatch.guards.iter().map(|g| g.class_of.len()).collect();
                    for (ev, key) in events.iter().zip(&keys) {
                        dispatch.route(&c, ev, key);
                    }
                    let after: Vec<usize> =
                        dispatch.guards.iter().map(|g| g.class_of.len()).collect();
                    assert_eq!(known, after);
                    assert!(known.iter().sum::<usize>() > 10, "{known:?}");
                    dispatch = Dispatch::new(&c);
                    dispatch.learn(&c, &pool, &batch);
                }
            }
            for (n, ev) in events.iter().enumerate() {
                let key = key_of(&dispatch, ev);
                let route = dispatch.route(&c, ev, &key);
                let got = route.rule_ids();
                assert_eq!(
                    &got[..],
                    &expected(&c, ev)[..],
                    "round {round}, event {n}: {}",
                    ev.doc
                );
                // Verdicts, cached per class, are what the event's fields say.
                assert!(!c.verdicts.is_empty());
                for id in 0..c.verdicts.len() as u32 {
                    let bit = route.verdicts[id as usize / 64] >> (id % 64) & 1 != 0;
                    assert_eq!(bit, c.verdicts.holds(id, ev), "verdict {id}: {}", ev.doc);
                }
                for r in matching(&c, ev) {
                    assert!(got.contains(&r), "event {n} lost rule {r}: {}", ev.doc);
                }
            }
        }
        // Joined-alike indexes, reordered categories, OS case, and no
        // string category at all share keys.
        assert_eq!(dispatch.by_key.len(), events.len() - 4);
    }

    #[test]
    fn guards_skip_rules_whose_filters_cannot_hold() {
        let c = compiled();
        let mut dispatch = Dispatch::new(&c);
        let mut names = |ev: serde_json::Value| -> Vec<String> {
            let ev = Event::new(ev, Origin::default());
            let key = key_of(&dispatch, &ev);
            dispatch
                .route(&c, &ev, &key)
                .rule_ids()
                .into_iter()
                .map(|r| c.rules[r as usize].rule.meta.name.clone())
                .collect()
        };
        let end = names(json!({"event": {"category": "process", "type": "end", "action": "end"}}));
        assert!(!end.contains(&"proc-start".to_string()), "{end:?}");
        assert!(!end.contains(&"exec-then-net".to_string()), "{end:?}");
        assert!(end.contains(&"either".to_string()), "{end:?}");
        let exec = names(
            json!({"event": {"category": "process", "type": "start", "action": "EXEC"},
                                "process": {"name": "a"}}),
        );
        assert!(exec.contains(&"proc-start".to_string()), "{exec:?}");
        // `process.name != null` is a guard too.
        let nameless =
            names(json!({"event": {"category": "process", "type": "start", "action": "EXEC"}}));
        assert!(
            !nameless.contains(&"proc-start".to_string()),
            "{nameless:?}"
        );
        assert!(
            exec.contains(&"exec-then-net".to_string()),
            "`:` folds case: {exec:?}"
        );
        // An until event matters to its rule whatever the stages say.
        let fail =
            names(json!({"event": {"category": "network", "type": "end", "outcome": "failure"}}));
        assert!(fail.contains(&"until-failure".to_string()), "{fail:?}");
        assert!(!fail.contains(&"exec-then-net".to_string()), "{fail:?}");
        let ok =
            names(json!({"event": {"category": "network", "type": "end", "outcome": "success"}}));
        assert!(!ok.contains(&"until-failure".to_string()), "{ok:?}");
        // Process names guard rules: only names a rule can match reach it.
        let proc = |name: &str, parent: &str| {
            json!({"event": {"category": "process", "type": "start"},
                   "process": {"name": name, "parent": {"name": parent}}})
        };
        let bash = names(proc("bash", "init"));
        assert!(bash.contains(&"shell-start".to_string()), "{bash:?}");
        assert!(!bash.contains(&"from-python".to_string()), "{bash:?}");
        let vim = names(proc("vim", "python3.11"));
        assert!(!vim.contains(&"shell-start".to_string()), "{vim:?}");
        assert!(
            vim.contains(&"from-python".to_string()),
            "`:` folds: {vim:?}"
        );
        let pip = names(proc("pip", "python3.11"));
        assert!(!pip.contains(&"from-python".to_string()), "{pip:?}");
        // Numbers are compared as numbers: "4624" is a string.
        let code = names(json!({"event": {"category": "x", "code": 4624}}));
        assert!(code.contains(&"logon-code".to_string()), "{code:?}");
        let text = names(json!({"event": {"category": "x", "code": 4625}}));
        assert!(!text.contains(&"logon-code".to_string()), "{text:?}");
    }

    #[test]
    fn values_with_the_same_guard_results_share_a_class() {
        let c = compiled();
        let mut dispatch = Dispatch::new(&c);
        for ty in ["change", "deletion", "creation", "change"] {
            let ev = Event::new(
                json!({"event": {"category": "process", "type": ty}}),
                Origin::default(),
            );
            let key = key_of(&dispatch, &ev);
            dispatch.route(&c, &ev, &key);
        }
        let at = dispatch
            .keys
            .guard_paths
            .iter()
            .position(|p| *p == FieldPath::dotted("event.type"))
            .expect("event.type has guards");
        // Three distinct values, all failing every event.type guard and
        // verdict (`event.type == "end"` is one: "end" would differ).
        assert_eq!(dispatch.guards[at].class_of.len(), 3);
        assert_eq!(dispatch.guards[at].filters_passing.len(), 1);
        assert_eq!(dispatch.by_class.len(), 1);
    }

    /// Past the eight category values a key gathers on the stack, values
    /// are still sorted and repeats dropped, wherever they stand.
    #[test]
    fn keys_of_many_categories_ignore_order_and_repeats() {
        let c = compiled();
        let dispatch = Dispatch::new(&c);
        let names: Vec<String> = (0..11).map(|i| format!("c{i:02}")).collect();
        let key = |order: &[usize]| {
            let values: Vec<&str> = order.iter().map(|&i| names[i].as_str()).collect();
            key_of(
                &dispatch,
                &Event::new(json!({"event": {"category": values}}), Origin::default()),
            )
        };
        let forward: Vec<usize> = (0..11).collect();
        let reversed: Vec<usize> = (0..11).rev().collect();
        let repeated: Vec<usize> = [10, 0, 9, 1, 10, 8, 2, 7, 3, 6, 0, 4, 5, 9, 6, 4].into();
        assert_eq!(key(&forward), key(&reversed));
        assert_eq!(key(&forward), key(&repeated));
        assert_ne!(key(&forward), key(&forward[..10]));
        assert_ne!(key(&forward[1..]), key(&forward[..10]));
    }

    #[test]
    fn keys_are_equal_exactly_when_the_facts_are() {
        let c = compiled();
        let dispatch = Dispatch::new(&c);
        let keys: Vec<Vec<u8>> = events().iter().map(|ev| key_of(&dispatch, ev)).collect();
        let same = |i: usize, j: usize| keys[i] == keys[j];
        assert!(same(1, 2), "category order and repeats");
        assert!(same(4, 5), "joined index names");
        assert!(same(7, 8), "OS type case");
        assert!(same(10, 11), "no string category at all");
        let shared = [(1, 2), (4, 5), (7, 8), (10, 11)];
        for i in 0..keys.len() {
            for j in 0..keys.len() {
                if i != j && !shared.contains(&(i.min(j), i.max(j))) {
                    assert!(!same(i, j), "{i} {j}");
                }
            }
        }
    }
}

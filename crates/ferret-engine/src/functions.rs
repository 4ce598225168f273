//! The EQL function library as Elasticsearch defines it ("EQL function
//! reference"): `add`, `between`, `cidrMatch`, `concat`, `divide`,
//! `endsWith`, `indexOf`, `length`, `modulo`, `multiply`, `number`,
//! `startsWith`, `string`, `stringContains`, `substring`, `subtract`, the
//! string ones with `~` (case-insensitive) variants.
//!
//! Names resolve case-insensitively (`stringcontains` appears in rules in the
//! wild). Null handling follows Elasticsearch's function processors: a null
//! source string gives null; `concat` is null if any argument is; `indexOf`
//! and `between` give null / `""` when nothing is found (see each function).
//! Where Elasticsearch would fail the whole search at run time (a string
//! that is not a number in `number`, a long overflow), ferret cannot fail
//! one event, so the result is null. Positions and lengths count Unicode
//! characters (Java counts UTF-16 units; the two differ only outside the
//! Basic Multilingual Plane).
//!
//! A multi-valued argument contributes its first value, except the
//! predicate functions (`startsWith`, `endsWith`, `stringContains`,
//! `cidrMatch`) which hold if they hold for any value, like Elasticsearch's
//! query translation of them.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};

use crate::matching::fold_char;
use crate::value::{format_float, parse_num, scalar_to_string, Num, Scalar, Val};
use ferret_eql::ast::ArithOp;

/// A library function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    Add,
    Between,
    CidrMatch,
    Concat,
    Divide,
    EndsWith,
    IndexOf,
    Length,
    Modulo,
    Multiply,
    Number,
    StartsWith,
    String,
    StringContains,
    Substring,
    Subtract,
}

/// What a function expects of one argument (checked against literals at
/// plan time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    Any,
    Str,
    Num,
    Int,
    Bool,
}

impl Func {
    /// Resolves a function name, ignoring case.
    pub fn lookup(name: &str) -> Option<Func> {
        let f = match name.to_ascii_lowercase().as_str() {
            "add" => Func::Add,
            "between" => Func::Between,
            "cidrmatch" => Func::CidrMatch,
            "concat" => Func::Concat,
            "divide" => Func::Divide,
            "endswith" => Func::EndsWith,
            "indexof" => Func::IndexOf,
            "length" => Func::Length,
            "modulo" => Func::Modulo,
            "multiply" => Func::Multiply,
            "number" => Func::Number,
            "startswith" => Func::StartsWith,
            "string" => Func::String,
            "stringcontains" => Func::StringContains,
            "substring" => Func::Substring,
            "subtract" => Func::Subtract,
            _ => return None,
        };
        Some(f)
    }

    pub fn name(self) -> &'static str {
        match self {
            Func::Add => "add",
            Func::Between => "between",
            Func::CidrMatch => "cidrMatch",
            Func::Concat => "concat",
            Func::Divide => "divide",
            Func::EndsWith => "endsWith",
            Func::IndexOf => "indexOf",
            Func::Length => "length",
            Func::Modulo => "modulo",
            Func::Multiply => "multiply",
            Func::Number => "number",
            Func::StartsWith => "startsWith",
            Func::String => "string",
            Func::StringContains => "stringContains",
            Func::Substring => "substring",
            Func::Subtract => "subtract",
        }
    }

    /// Minimum and maximum (None = unbounded) number of arguments.
    pub fn arity(self) -> (usize, Option<usize>) {
        match self {
            Func::Add | Func::Divide | Func::Modulo | Func::Multiply | Func::Subtract => {
                (2, Some(2))
            }
            Func::Between => (3, Some(4)),
            Func::CidrMatch => (2, None),
            Func::Concat => (1, None),
            Func::EndsWith | Func::StartsWith | Func::StringContains => (2, Some(2)),
            Func::IndexOf => (2, Some(3)),
            Func::Length | Func::String => (1, Some(1)),
            Func::Number => (1, Some(2)),
            Func::Substring => (2, Some(3)),
        }
    }

    /// Whether the function has a `~` (case-insensitive) variant.
    pub fn has_insensitive_variant(self) -> bool {
        matches!(
            self,
            Func::Between
                | Func::EndsWith
                | Func::IndexOf
                | Func::StartsWith
                | Func::StringContains
        )
    }

    /// The expected kind of argument `i`.
    pub fn arg_kind(self, i: usize) -> ArgKind {
        match (self, i) {
            (Func::Add | Func::Divide | Func::Modulo | Func::Multiply | Func::Subtract, _) => {
                ArgKind::Num
            }
            (Func::Between, 3) => ArgKind::Bool,
            (Func::Between, _) => ArgKind::Str,
            (Func::CidrMatch, _) => ArgKind::Str,
            (Func::Concat | Func::String, _) => ArgKind::Any,
            (Func::EndsWith | Func::StartsWith | Func::StringContains, _) => ArgKind::Str,
            (Func::IndexOf, 2) => ArgKind::Num,
            (Func::IndexOf, _) => ArgKind::Str,
            (Func::Length, _) => ArgKind::Str,
            (Func::Number, 1) => ArgKind::Int,
            (Func::Number, _) => ArgKind::Str,
            (Func::Substring, 0) => ArgKind::Str,
            (Func::Substring, _) => ArgKind::Num,
        }
    }

    /// True for the functions that return a boolean.
    pub fn is_predicate(self) -> bool {
        matches!(
            self,
            Func::CidrMatch | Func::EndsWith | Func::StartsWith | Func::StringContains
        )
    }
}

/// An IPv4 or IPv6 network (`10.0.0.0/8`, `fe80::/10`) or a single address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `addr/len` or a bare address (a /32 or /128). Host bits
    /// may be set (`10.6.48.157/8` is `10.0.0.0/8`), as Elasticsearch allows.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not a valid IP address or CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => match p.trim().parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(format!("`{s}` has an invalid prefix length")),
            },
        };
        Ok(Cidr { addr, prefix })
    }

    /// True if `ip` lies in the network. IPv4-mapped IPv6 addresses
    /// (`::ffff:1.2.3.4`) match IPv4 networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        // The addresses as integers: rules list dozens of networks, and a
        // byte-wise compare per network was 1% of a scan with all rules.
        let v4 = |net: Ipv4Addr, a: Ipv4Addr| {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(self.prefix))
                .unwrap_or(0);
            (u32::from(net) ^ u32::from(a)) & mask == 0
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(a)) => v4(net, a),
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                (u128::from(net) ^ u128::from(a)) & mask == 0
            }
            (IpAddr::V4(net), IpAddr::V6(a)) => a.to_ipv4_mapped().is_some_and(|a4| v4(net, a4)),
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

/// Parses an IP address from event text (trimmed).
#[inline]
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    s.trim().parse().ok()
}

/// Applies an arithmetic operator. Integer arithmetic is checked: overflow
/// and integer division or remainder by zero give null (Elasticsearch fails
/// the search). Float division follows IEEE (Java) semantics. Numeric strings
/// are coerced like numeric field values.
pub fn arith<'a>(op: ArithOp, a: &Val, b: &Val) -> Val<'a> {
    let (Some(x), Some(y)) = (num_of(a), num_of(b)) else {
        return Val::Null;
    };
    match (x, y) {
        (Num::Int(x), Num::Int(y)) => {
            let r = match op {
                ArithOp::Add => x.checked_add(y),
                ArithOp::Sub => x.checked_sub(y),
                ArithOp::Mul => x.checked_mul(y),
                ArithOp::Div => x.checked_div(y),
                ArithOp::Mod => x.checked_rem(y),
            };
            r.map_or(Val::Null, Val::Int)
        }
        (x, y) => {
            let (x, y) = (x.as_f64(), y.as_f64());
            Val::Float(match op {
                ArithOp::Add => x + y,
                ArithOp::Sub => x - y,
                ArithOp::Mul => x * y,
                ArithOp::Div => x / y,
                ArithOp::Mod => x % y,
            })
        }
    }
}

/// Unary minus.
pub fn negate<'a>(v: &Val) -> Val<'a> {
    match num_of(v) {
        Some(Num::Int(i)) => i.checked_neg().map_or(Val::Null, Val::Int),
        Some(Num::Float(f)) => Val::Float(-f),
        None => Val::Null,
    }
}

fn num_of(v: &Val) -> Option<Num> {
    v.first()?.as_number()
}

fn str_of<'v>(v: &'v Val) -> Option<Cow<'v, str>> {
    match v.first()? {
        Scalar::Str(s) => Some(Cow::Borrowed(s)),
        _ => None,
    }
}

fn int_of(v: &Val) -> Option<i64> {
    match v.first()? {
        Scalar::Int(i) => Some(i),
        Scalar::Float(f) if f.is_finite() => Some(f as i64),
        _ => None,
    }
}

fn bool_of(v: &Val) -> Option<bool> {
    match v.first()? {
        Scalar::Bool(b) => Some(b),
        _ => None,
    }
}

fn chars(s: &str, ci: bool) -> Vec<char> {
    if ci {
        s.chars().map(fold_char).collect()
    } else {
        s.chars().collect()
    }
}

/// First char index `>= from` where `needle` occurs in `hay`.
fn find_chars(hay: &[char], needle: &[char], from: usize) -> Option<usize> {
    if needle.len() > hay.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|&i| hay[i..i + needle.len()] == *needle)
}

fn rfind_chars(hay: &[char], needle: &[char]) -> Option<usize> {
    if needle.len() > hay.len() {
        return None;
    }
    (0..=hay.len() - needle.len())
        .rev()
        .find(|&i| hay[i..i + needle.len()] == *needle)
}

/// `startsWith` / `endsWith` / `stringContains` on one pair of strings.
pub fn affix(func: Func, ci: bool, text: &str, pat: &str) -> bool {
    let apply = |t: &str, p: &str| match func {
        Func::StartsWith => t.starts_with(p),
        Func::EndsWith => t.ends_with(p),
        _ => t.contains(p),
    };
    if ci {
        apply(&crate::matching::fold(text), &crate::matching::fold(pat))
    } else {
        apply(text, pat)
    }
}

/// Evaluates a call on already evaluated arguments. `cidrs` are the
/// pre-parsed networks of `cidrMatch`.
pub fn apply<'a>(func: Func, ci: bool, args: &[Val], cidrs: &[Cidr]) -> Val<'a> {
    let arg = |i: usize| args.get(i).unwrap_or(&Val::Null);
    match func {
        Func::Add => arith(ArithOp::Add, arg(0), arg(1)),
        Func::Subtract => arith(ArithOp::Sub, arg(0), arg(1)),
        Func::Multiply => arith(ArithOp::Mul, arg(0), arg(1)),
        Func::Divide => arith(ArithOp::Div, arg(0), arg(1)),
        Func::Modulo => arith(ArithOp::Mod, arg(0), arg(1)),
        Func::StartsWith | Func::EndsWith | Func::StringContains => {
            let Some(pat) = str_of(arg(1)) else {
                return Val::Null;
            };
            let src = arg(0);
            if src.is_null() {
                return Val::Null;
            }
            Val::Bool(src.any(|s| match s {
                Scalar::Str(t) => affix(func, ci, t, &pat),
                _ => false,
            }))
        }
        Func::CidrMatch => {
            let src = arg(0);
            if src.is_null() {
                return Val::Null;
            }
            Val::Bool(src.any(|s| match s {
                Scalar::Str(t) => {
                    parse_ip(t).is_some_and(|ip| cidrs.iter().any(|c| c.contains(ip)))
                }
                _ => false,
            }))
        }
        Func::Concat => {
            let mut out = String::new();
            for a in args {
                match a.first() {
                    None => return Val::Null,
                    Some(s) => out.push_str(&scalar_to_string(s)),
                }
            }
            Val::Str(Cow::Owned(out))
        }
        Func::String => match arg(0).first() {
            None => Val::Null,
            Some(s) => Val::Str(Cow::Owned(scalar_to_string(s).into_owned())),
        },
        Func::Length => match str_of(arg(0)) {
            Some(s) => Val::Int(s.chars().count() as i64),
            None => Val::Null,
        },
        Func::Between => between(args, ci),
        Func::IndexOf => index_of(args, ci),
        Func::Substring => substring(args),
        Func::Number => number(args),
    }
}

/// `between(source, left, right[, greedy])`: the text between the first
/// `left` and the next (or, greedy, the last) `right`. Empty `left` or
/// `right` returns the source unchanged; a bound that is not found gives
/// `""` (Elasticsearch's `StringUtils.between`).
fn between<'a>(args: &[Val], ci: bool) -> Val<'a> {
    let get = |i: usize| args.get(i).unwrap_or(&Val::Null);
    let Some(src) = str_of(get(0)) else {
        return Val::Null;
    };
    let (Some(left), Some(right)) = (str_of(get(1)), str_of(get(2))) else {
        return Val::Null;
    };
    let greedy = match args.get(3) {
        None => false,
        Some(v) => match bool_of(v) {
            Some(b) => b,
            None => return Val::Null,
        },
    };
    if src.is_empty() || left.is_empty() || right.is_empty() {
        return Val::Str(Cow::Owned(src.into_owned()));
    }
    let orig: Vec<char> = src.chars().collect();
    let hay = chars(&src, ci);
    let (l, r) = (chars(&left, ci), chars(&right, ci));
    let Some(li) = find_chars(&hay, &l, 0) else {
        return Val::Str(Cow::Borrowed(""));
    };
    let start = li + l.len();
    let end = if greedy {
        rfind_chars(&hay, &r)
    } else {
        find_chars(&hay, &r, start)
    };
    match end {
        // A greedy `right` found before the end of `left` would make Java
        // throw; an empty result is the closest sane answer.
        Some(end) if end >= start => Val::Str(Cow::Owned(orig[start..end].iter().collect())),
        _ => Val::Str(Cow::Borrowed("")),
    }
}

/// `indexOf(source, substring[, start])`: the first position at or after
/// `start` (null start = 0, negative = 0), or null when not found.
fn index_of<'a>(args: &[Val], ci: bool) -> Val<'a> {
    let get = |i: usize| args.get(i).unwrap_or(&Val::Null);
    let (Some(src), Some(sub)) = (str_of(get(0)), str_of(get(1))) else {
        return Val::Null;
    };
    let start = match args.get(2) {
        None | Some(Val::Null) => 0,
        Some(v) => match int_of(v) {
            Some(i) => i.max(0) as usize,
            None => return Val::Null,
        },
    };
    let hay = chars(&src, ci);
    let needle = chars(&sub, ci);
    if start > hay.len() {
        return Val::Null;
    }
    find_chars(&hay, &needle, start).map_or(Val::Null, |i| Val::Int(i as i64))
}

/// `substring(source, start[, end])` with Python slice semantics (negative
/// positions count from the end, out-of-range positions are clamped).
fn substring<'a>(args: &[Val]) -> Val<'a> {
    let get = |i: usize| args.get(i).unwrap_or(&Val::Null);
    let Some(src) = str_of(get(0)) else {
        return Val::Null;
    };
    let start = match get(1) {
        Val::Null => return Val::Str(Cow::Owned(src.into_owned())),
        v => match int_of(v) {
            Some(i) => i,
            None => return Val::Null,
        },
    };
    let cs: Vec<char> = src.chars().collect();
    let len = cs.len() as i64;
    let end = match get(2) {
        Val::Null => len,
        v => match int_of(v) {
            Some(i) => i,
            None => return Val::Null,
        },
    };
    let norm = |p: i64| {
        let p = if p < 0 { p + len } else { p };
        p.clamp(0, len) as usize
    };
    let (s, e) = (norm(start), norm(end));
    if s >= e {
        return Val::Str(Cow::Borrowed(""));
    }
    Val::Str(Cow::Owned(cs[s..e].iter().collect()))
}

/// `number(string[, base])`: base 10 (default) accepts decimals and
/// exponents; a `0x` prefix means base 16 when no base is given; other bases
/// take integers of Java `int` range. Unparseable text gives null.
fn number<'a>(args: &[Val]) -> Val<'a> {
    let get = |i: usize| args.get(i).unwrap_or(&Val::Null);
    let Some(src) = str_of(get(0)) else {
        return Val::Null;
    };
    let hex = src.starts_with("0x");
    let base = match get(1) {
        Val::Null => {
            if hex {
                16
            } else {
                10
            }
        }
        v => match int_of(v) {
            Some(b) => b,
            None => return Val::Null,
        },
    };
    if base == 10 {
        return match parse_num(&src) {
            Some(Num::Int(i)) => Val::Int(i),
            // A decimal with an integral value is a long, as Java's
            // DecimalFormat.parse returns it.
            Some(Num::Float(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => Val::Int(f as i64),
            Some(Num::Float(f)) => Val::Float(f),
            None => Val::Null,
        };
    }
    if !(2..=36).contains(&base) {
        return Val::Null;
    }
    let digits: &str = if hex && base == 16 { &src[2..] } else { &src };
    match i32::from_str_radix(digits, base as u32) {
        Ok(i) => Val::Int(i as i64),
        Err(_) => Val::Null,
    }
}

/// Renders a value as `string()` does (used in diagnostics and tests).
pub fn display_val(v: &Val) -> String {
    match v {
        Val::Null => "null".into(),
        Val::Float(f) => format_float(*f),
        other => other
            .first()
            .map(|s| scalar_to_string(s).into_owned())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Val<'static> {
        Val::Str(Cow::Owned(x.to_string()))
    }

    fn call(f: &str, args: &[Val]) -> Val<'static> {
        apply(Func::lookup(f).unwrap(), false, args, &[])
    }

    fn call_ci(f: &str, args: &[Val]) -> Val<'static> {
        apply(Func::lookup(f).unwrap(), true, args, &[])
    }

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(Func::lookup("stringcontains"), Some(Func::StringContains));
        assert_eq!(Func::lookup("CIDRMATCH"), Some(Func::CidrMatch));
        assert_eq!(Func::lookup("wildcard"), None);
    }

    #[test]
    fn between_examples() {
        let src = s("welcome to the planet");
        assert_eq!(
            call("between", &[src.clone(), s("welcome"), s("planet")]),
            s(" to the ")
        );
        assert_eq!(
            call(
                "between",
                &[src.clone(), s("welcome"), s("e"), Val::Bool(false)]
            ),
            s(" to th")
        );
        assert_eq!(
            call(
                "between",
                &[src.clone(), s("welcome"), s("e"), Val::Bool(true)]
            ),
            s(" to the plan")
        );
        assert_eq!(call("between", &[src.clone(), s("welcome"), s("x")]), s(""));
        assert_eq!(
            call("between", &[src.clone(), s("goodbye"), s("planet")]),
            s("")
        );
        assert_eq!(call("between", &[src.clone(), s(""), s("x")]), src);
        assert_eq!(call("between", &[Val::Null, s("a"), s("b")]), Val::Null);
        assert_eq!(
            call("between", &[src.clone(), Val::Null, s("b")]),
            Val::Null
        );
        // Case rules: the source keeps its case, bounds fold only with `~`.
        let sys = s("System Idle Process");
        assert_eq!(call("between", &[sys.clone(), s("s"), s("e")]), s("t"));
        assert_eq!(call_ci("between", &[sys.clone(), s("s"), s("E")]), s("yst"));
        assert_eq!(
            call("between", &[sys.clone(), s("S"), s("e"), Val::Bool(true)]),
            s("ystem Idle Proc")
        );
        // Greedy `right` before `left` ends.
        assert_eq!(
            call("between", &[s("bxa"), s("a"), s("b"), Val::Bool(true)]),
            s("")
        );
    }

    #[test]
    fn concat_examples() {
        assert_eq!(
            call(
                "concat",
                &[s("a"), s("||"), Val::Int(1), s("||"), Val::Bool(true)]
            ),
            s("a||1||true")
        );
        assert_eq!(call("concat", &[s("a"), Val::Null]), Val::Null);
        assert_eq!(
            call("concat", &[Val::Float(2.5), Val::Float(1.0)]),
            s("2.51.0")
        );
    }

    #[test]
    fn affix_functions() {
        assert_eq!(
            call("startsWith", &[s("FooBarBaz"), s("Foo")]),
            Val::Bool(true)
        );
        assert_eq!(
            call("startsWith", &[s("FooBarBaz"), s("foo")]),
            Val::Bool(false)
        );
        assert_eq!(
            call_ci("startsWith", &[s("FooBarBaz"), s("foo")]),
            Val::Bool(true)
        );
        assert_eq!(
            call("startsWith", &[s("FooBarBaz"), s("")]),
            Val::Bool(true)
        );
        assert_eq!(call("startsWith", &[Val::Null, s("Foo")]), Val::Null);
        assert_eq!(call("startsWith", &[s("Foo"), Val::Null]), Val::Null);
        assert_eq!(
            call("endsWith", &[s("FooBarBaz"), s("baz")]),
            Val::Bool(false)
        );
        assert_eq!(
            call_ci("endsWith", &[s("FooBarBaz"), s("baz")]),
            Val::Bool(true)
        );
        assert_eq!(
            call("stringContains", &[s("FooBarBaz"), s("Bar")]),
            Val::Bool(true)
        );
        assert_eq!(
            call_ci("stringContains", &[s("FooBarBaz"), s("bAR")]),
            Val::Bool(true)
        );
        let many = Val::Many(vec![Scalar::Str("-x"), Scalar::Str("-c")]);
        assert_eq!(call("startsWith", &[many, s("-c")]), Val::Bool(true));
    }

    #[test]
    fn index_of_examples() {
        let src = s("foobarbaz");
        assert_eq!(call("indexOf", &[src.clone(), s("o")]), Val::Int(1));
        assert_eq!(
            call("indexOf", &[src.clone(), s("o"), Val::Null]),
            Val::Int(1)
        );
        assert_eq!(
            call("indexOf", &[src.clone(), s("o"), Val::Int(2)]),
            Val::Int(2)
        );
        assert_eq!(
            call("indexOf", &[src.clone(), s("r"), Val::Int(2)]),
            Val::Int(5)
        );
        assert_eq!(call("indexOf", &[src.clone(), s("L")]), Val::Null);
        assert_eq!(
            call("indexOf", &[src.clone(), s("o"), Val::Int(100)]),
            Val::Null
        );
        assert_eq!(call("indexOf", &[Val::Null, s("o")]), Val::Null);
        assert_eq!(call("indexOf", &[src.clone(), Val::Null]), Val::Null);
        assert_eq!(call_ci("indexOf", &[src.clone(), s("BAR")]), Val::Int(3));
        assert_eq!(call("indexOf", &[src.clone(), s("BAR")]), Val::Null);
    }

    #[test]
    fn length_and_string() {
        assert_eq!(call("length", &[s("")]), Val::Int(0));
        assert_eq!(call("length", &[s("foo")]), Val::Int(3));
        assert_eq!(call("length", &[s("héllo")]), Val::Int(5));
        assert_eq!(call("length", &[Val::Null]), Val::Null);
        assert_eq!(call("string", &[Val::Int(1)]), s("1"));
        assert_eq!(call("string", &[Val::Bool(true)]), s("true"));
        assert_eq!(call("string", &[Val::Float(2.1828)]), s("2.1828"));
        assert_eq!(call("string", &[Val::Null]), Val::Null);
    }

    #[test]
    fn number_examples() {
        assert_eq!(call("number", &[s("314")]), Val::Int(314));
        assert_eq!(call("number", &[s("3.25")]), Val::Float(3.25));
        assert_eq!(
            call("number", &[s("-3.25"), Val::Int(10)]),
            Val::Float(-3.25)
        );
        assert_eq!(call("number", &[s("+314"), Val::Int(10)]), Val::Int(314));
        assert_eq!(call("number", &[s("0x1337")]), Val::Int(4919));
        assert_eq!(call("number", &[s("0x1337"), Val::Int(16)]), Val::Int(4919));
        assert_eq!(call("number", &[s("052403"), Val::Int(8)]), Val::Int(21763));
        assert_eq!(call("number", &[s("52403"), Val::Int(7)]), Val::Int(12890));
        assert_eq!(call("number", &[s("32"), Val::Int(16)]), Val::Int(50));
        assert_eq!(call("number", &[s("17"), Val::Null]), Val::Int(17));
        assert_eq!(call("number", &[s("abc")]), Val::Null);
        assert_eq!(call("number", &[Val::Null]), Val::Null);
    }

    #[test]
    fn substring_examples() {
        let hw = s("hello world");
        let sub = |a: Val<'static>, b: Val<'static>| call("substring", &[hw.clone(), a, b]);
        assert_eq!(sub(Val::Null, Val::Null), hw);
        assert_eq!(sub(Val::Int(6), Val::Null), s("world"));
        assert_eq!(sub(Val::Int(0), Val::Int(5)), s("hello"));
        assert_eq!(sub(Val::Int(0), Val::Int(500)), s("hello world"));
        assert_eq!(sub(Val::Int(5), Val::Int(-1)), s(" worl"));
        assert_eq!(sub(Val::Int(-5), Val::Int(11)), s("world"));
        assert_eq!(sub(Val::Int(-60), Val::Int(5)), s("hello"));
        assert_eq!(sub(Val::Int(-5), Val::Int(-1)), s("worl"));
        assert_eq!(call("substring", &[hw.clone(), Val::Int(-5)]), s("world"));
        assert_eq!(call("substring", &[Val::Null, Val::Int(5)]), Val::Null);
    }

    #[test]
    fn arithmetic_rules() {
        assert_eq!(
            arith(ArithOp::Div, &Val::Int(83), &Val::Int(2)),
            Val::Int(41)
        );
        assert_eq!(
            arith(ArithOp::Div, &Val::Float(66.0), &Val::Int(66)),
            Val::Float(1.0)
        );
        assert_eq!(
            arith(ArithOp::Mod, &Val::Int(-7), &Val::Int(3)),
            Val::Int(-1)
        );
        assert_eq!(arith(ArithOp::Div, &Val::Int(1), &Val::Int(0)), Val::Null);
        assert_eq!(arith(ArithOp::Mod, &Val::Int(1), &Val::Int(0)), Val::Null);
        assert_eq!(
            arith(ArithOp::Add, &Val::Int(i64::MAX), &Val::Int(1)),
            Val::Null
        );
        assert_eq!(arith(ArithOp::Add, &Val::Int(1), &Val::Null), Val::Null);
        assert_eq!(arith(ArithOp::Mul, &s("6"), &Val::Int(5)), Val::Int(30));
        assert_eq!(
            arith(ArithOp::Div, &Val::Int(30), &Val::Float(4.0)),
            Val::Float(7.5)
        );
        assert_eq!(negate(&Val::Int(i64::MIN)), Val::Null);
        assert_eq!(negate(&Val::Int(5)), Val::Int(-5));
    }

    #[test]
    fn cidr_matching() {
        let c = Cidr::parse("10.6.48.157/8").unwrap();
        assert!(c.contains("10.1.2.3".parse().unwrap()));
        assert!(!c.contains("11.1.2.3".parse().unwrap()));
        assert!(c.contains("::ffff:10.0.0.1".parse().unwrap()));
        let all = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("192.168.1.1".parse().unwrap()));
        assert!(!all.contains("::1".parse().unwrap()));
        let v6 = Cidr::parse("fe80::/10").unwrap();
        assert!(v6.contains("fe80::1".parse().unwrap()));
        assert!(v6.contains("febf::1".parse().unwrap()));
        assert!(!v6.contains("fec0::1".parse().unwrap()));
        let host = Cidr::parse("192.168.0.1").unwrap();
        assert!(host.contains("192.168.0.1".parse().unwrap()));
        assert!(!host.contains("192.168.0.2".parse().unwrap()));
        let private = Cidr::parse("172.16.0.0/12").unwrap();
        assert!(private.contains("172.31.255.255".parse().unwrap()));
        assert!(!private.contains("172.32.0.0".parse().unwrap()));
        assert!(!private.contains("172.15.255.255".parse().unwrap()));
        let any6 = Cidr::parse("::/0").unwrap();
        assert!(any6.contains("2001:db8::1".parse().unwrap()));
        let host6 = Cidr::parse("2001:db8::1").unwrap();
        assert!(host6.contains("2001:db8::1".parse().unwrap()));
        assert!(!host6.contains("2001:db8::2".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("not-an-ip").is_err());
        let cidrs = [Cidr::parse("192.168.0.0/16").unwrap(), c];
        assert_eq!(
            apply(Func::CidrMatch, false, &[s("10.6.48.157")], &cidrs),
            Val::Bool(true)
        );
        assert_eq!(
            apply(Func::CidrMatch, false, &[s("garbage")], &cidrs),
            Val::Bool(false)
        );
        assert_eq!(
            apply(Func::CidrMatch, false, &[Val::Null], &cidrs),
            Val::Null
        );
    }
}

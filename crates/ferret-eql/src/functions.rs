//! The EQL function signatures (Elasticsearch's function reference): name,
//! arity, argument kinds and whether a case-insensitive `name~` variant
//! exists. Used by validation here and shared with the engine.
//!
//! Names are matched case-insensitively ([`lookup`]), because rules in the
//! wild write `stringcontains` and `endswith`.

/// What an argument must be, as far as a literal can show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// Anything.
    Any,
    /// A string (a numeric or boolean literal here is an error).
    String,
    /// A number (a string or boolean literal here is an error).
    Number,
    /// A whole number.
    Integer,
    /// A boolean.
    Bool,
    /// A string literal: Elasticsearch requires a constant (e.g. the CIDR
    /// blocks of `cidrMatch`).
    StringConstant,
}

/// One function's signature.
#[derive(Clone, Copy, Debug)]
pub struct FunctionSig {
    /// The canonical spelling (`stringContains`).
    pub name: &'static str,
    pub min_args: usize,
    /// `None`: variadic.
    pub max_args: Option<usize>,
    /// Whether `name~(…)` is accepted.
    pub case_insensitive_variant: bool,
    /// Kinds of the leading arguments; arguments past the end take
    /// `rest`.
    pub args: &'static [ArgKind],
    pub rest: ArgKind,
}

impl FunctionSig {
    /// The expected kind of argument `i` (0-based).
    pub fn arg_kind(&self, i: usize) -> ArgKind {
        self.args.get(i).copied().unwrap_or(self.rest)
    }

    /// "2 arguments", "2 or 3 arguments", "at least 2 arguments".
    pub fn arity_text(&self) -> std::string::String {
        let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
        match self.max_args {
            Some(max) if max == self.min_args => format!("{} {}", max, plural(max)),
            Some(max) if max == self.min_args + 1 => {
                format!("{} or {} arguments", self.min_args, max)
            }
            Some(max) => format!("{} to {} arguments", self.min_args, max),
            None => format!("at least {} {}", self.min_args, plural(self.min_args)),
        }
    }
}

use ArgKind::*;

/// Every function Elasticsearch EQL defines.
pub static FUNCTIONS: &[FunctionSig] = &[
    sig("add", 2, Some(2), false, &[Number, Number], Number),
    // between(source, left, right[, greedy])
    sig(
        "between",
        3,
        Some(4),
        true,
        &[String, String, String, Bool],
        Any,
    ),
    // cidrMatch(ip, cidr, …)
    sig("cidrMatch", 2, None, false, &[Any], StringConstant),
    sig("concat", 1, None, false, &[], Any),
    sig("divide", 2, Some(2), false, &[Number, Number], Number),
    sig("endsWith", 2, Some(2), true, &[String, String], Any),
    // indexOf(source, substring[, start])
    sig("indexOf", 2, Some(3), true, &[String, String, Integer], Any),
    sig("length", 1, Some(1), false, &[String], Any),
    sig("modulo", 2, Some(2), false, &[Number, Number], Number),
    sig("multiply", 2, Some(2), false, &[Number, Number], Number),
    // number(string[, base])
    sig("number", 1, Some(2), false, &[String, Integer], Any),
    sig("startsWith", 2, Some(2), true, &[String, String], Any),
    sig("string", 1, Some(1), false, &[Any], Any),
    sig("stringContains", 2, Some(2), true, &[String, String], Any),
    // substring(source, start[, end]): in Elasticsearch's reference and
    // used by 13 corpus rules.
    sig(
        "substring",
        2,
        Some(3),
        false,
        &[String, Integer, Integer],
        Any,
    ),
    sig("subtract", 2, Some(2), false, &[Number, Number], Number),
];

const fn sig(
    name: &'static str,
    min_args: usize,
    max_args: Option<usize>,
    case_insensitive_variant: bool,
    args: &'static [ArgKind],
    rest: ArgKind,
) -> FunctionSig {
    FunctionSig {
        name,
        min_args,
        max_args,
        case_insensitive_variant,
        args,
        rest,
    }
}

/// The signature of `name`, ignoring ASCII case.
pub fn lookup(name: &str) -> Option<&'static FunctionSig> {
    FUNCTIONS.iter().find(|f| f.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(lookup("STRINGCONTAINS").unwrap().name, "stringContains");
        assert_eq!(lookup("cidrmatch").unwrap().name, "cidrMatch");
        assert!(lookup("substr").is_none());
        assert_eq!(lookup("SubString").unwrap().name, "substring");
        assert_eq!(FUNCTIONS.len(), 16);
    }

    #[test]
    fn arity_text() {
        assert_eq!(lookup("length").unwrap().arity_text(), "1 argument");
        assert_eq!(lookup("add").unwrap().arity_text(), "2 arguments");
        assert_eq!(lookup("between").unwrap().arity_text(), "3 or 4 arguments");
        assert_eq!(
            lookup("cidrMatch").unwrap().arity_text(),
            "at least 2 arguments"
        );
        assert_eq!(
            lookup("concat").unwrap().arity_text(),
            "at least 1 argument"
        );
    }
}

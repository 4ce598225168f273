//! Snapshot tests pinning the rendered messages of typical mistakes: what
//! a user sees (`error[E…]`, position, source line, caret, help).
//! Review changes with `cargo insta review` (or `INSTA_UPDATE=always`).

mod common;

use ferret_eql::{analyze, render};

/// Everything `analyze` reports for `query`, rendered as for a bare query.
fn rendered(query: &str) -> String {
    let a = analyze(query);
    assert!(!a.diagnostics.is_empty(), "no diagnostic for {query:?}");
    render(&a.diagnostics, "query.eql", query, 0, false)
}

macro_rules! snap {
    ($name:ident, $query:expr) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(stringify!($name), rendered($query), $query);
        }
    };
}

snap!(
    unclosed_bracket,
    "sequence by host.id\n  [process where process.name == \"bash\"\n  [network where true]"
);
snap!(
    unclosed_paren,
    "process where (process.name == \"a\" or process.name == \"b\""
);
snap!(missing_where, "process process.name == \"bash\"");
snap!(missing_category, "process.name == \"bash\"");
snap!(
    unknown_function,
    "process where substr(process.name, 1) == \"x\""
);
snap!(single_quoted_string, "process where process.name == 'bash'");
snap!(
    bad_maxspan_unit,
    "sequence by host.id with maxspan=5sec [process where true] [network where true]"
);
snap!(
    maxspan_without_unit,
    "sequence by host.id with maxspan=5 [process where true] [network where true]"
);
snap!(wrong_arity, "process where startsWith(process.name)");
snap!(wrong_argument_type, "process where length(42) > 3");
snap!(
    tilde_without_variant,
    "process where length~(process.name) > 3"
);
snap!(
    unequal_join_keys,
    "sequence by host.id\n  [process where true] by process.entity_id\n  [network where true]"
);
snap!(
    runs_zero,
    "sequence\n  [authentication where event.outcome == \"failure\"] with runs=0\n  [authentication where event.outcome == \"success\"]"
);
snap!(
    one_stage_sequence,
    "sequence by host.id [process where true]"
);
snap!(unterminated_string, "process where process.name == \"bash");
snap!(
    invalid_escape,
    "file where file.path == \"C:\\Windows\\System32\""
);
snap!(stray_operator, "process where == \"bash\"");
snap!(
    assign_instead_of_equals,
    "process where process.name = \"bash\""
);
snap!(chained_comparison, "process where 1 < process.pid < 10");
snap!(keyword_as_field, "process where sequence == 1");
snap!(unknown_pipe, "process where true | haed 5");
snap!(negative_head, "process where true | head -1");
snap!(
    wildcard_in_exact_match,
    "process where process.name in (\"python*\", \"php*\", \"bash\")"
);
snap!(
    like_without_wildcard,
    "process where process.name like~ \"bash\""
);
snap!(
    duplicate_list_value,
    "process where process.name in (\"sh\", \"bash\", \"sh\")"
);
snap!(
    missing_event_in_until,
    "sequence [process where true] [file where true] until ![network where true]"
);

/// Positions are those of the rule file, not of the query string.
#[test]
fn seed_rule_in_file_coordinates() {
    let path = common::shared_dir().join("seed/persistence_systemd_netcon.toml");
    let text = std::fs::read_to_string(&path).expect("read seed rule");
    let query = common::load_rule(&text).expect("EQL rule");
    let offset = text
        .find(query.as_str())
        .expect("query text appears verbatim in the file");
    let a = analyze(&query);
    let w001: Vec<_> = a
        .diagnostics
        .iter()
        .filter(|d| d.code == "W001")
        .cloned()
        .collect();
    insta::assert_snapshot!(
        "seed_rule_in_file_coordinates",
        render(
            &w001,
            "persistence_systemd_netcon.toml",
            &text,
            offset,
            false
        )
    );
}

//! Rule files for ferret: the detection-rules TOML layout, Elastic Defend
//! behavior rules and Kibana's NDJSON rule export, loaded into
//! `Rule { meta, query }`; and the Kibana-shaped alert documents built from
//! matches. The engine never sees TOML.

//! ferret's engine: turns an EQL AST into an executable plan and runs it over
//! events — predicate evaluation, sequences, samples and pipes, for one
//! query or many rules at once. It never sees rule files.

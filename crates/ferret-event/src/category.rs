//! ECS event categories as bits, so that an event's categories are read
//! once and every rule's category check is one AND.
//!
//! A thousand rules each asking whether `event.category` holds `process`
//! re-read the same field a thousand times; [`crate::Event::category_bits`]
//! reads it once per event and answers with a set of the categories ECS
//! defines. A category outside that list has no bit: its checks compare
//! the field's strings as before.

/// The values ECS allows for `event.category`; bit `i` stands for entry `i`.
pub const ECS_CATEGORIES: [&str; 20] = [
    "api",
    "authentication",
    "configuration",
    "database",
    "driver",
    "email",
    "file",
    "host",
    "iam",
    "intrusion_detection",
    "library",
    "malware",
    "network",
    "package",
    "process",
    "registry",
    "session",
    "threat",
    "vulnerability",
    "web",
];

/// The bit of an ECS category (exact, case-sensitive: categories are
/// keywords), `None` for any other text.
pub fn category_bit(name: &str) -> Option<u64> {
    ECS_CATEGORIES
        .iter()
        .position(|c| *c == name)
        .map(|i| 1u64 << i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_has_its_own_bit_and_others_none() {
        let mut seen = 0u64;
        for c in ECS_CATEGORIES {
            let bit = category_bit(c).expect("listed");
            assert_eq!(seen & bit, 0, "{c}");
            seen |= bit;
        }
        assert_eq!(category_bit("Process"), None);
        assert_eq!(category_bit("dns"), None);
        assert_eq!(category_bit(""), None);
    }

    #[test]
    fn event_bits_cover_array_elements_and_each_path_answers_for_itself() {
        use crate::{Event, FieldPath};
        let ev = Event::new(
            serde_json::json!({
                "event": {"category": ["network", "dns", "Process", 7]},
                "custom": {"category": "file"},
            }),
            Default::default(),
        );
        let network = category_bit("network").unwrap();
        let path = FieldPath::dotted("event.category");
        assert_eq!(ev.category_bits(&path), network);
        // Remembered for the first path; another path is read afresh.
        let custom = FieldPath::dotted("custom.category");
        assert_eq!(ev.category_bits(&custom), category_bit("file").unwrap());
        assert_eq!(ev.category_bits(&path), network);
        assert_eq!(ev.category_bits(&FieldPath::dotted("missing")), 0);
    }
}

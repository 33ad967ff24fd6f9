//! Bybit v5 order vocabulary.

use crate::model::OrderStatus;

/// Maps Bybit's `orderStatus`. `None` for a word we do not know (see the Binance twin).
pub fn order_status(word: &str) -> Option<OrderStatus> {
    Some(match word {
        "Created" => OrderStatus::PendingNew,
        "New" => OrderStatus::New,
        "PartiallyFilled" => OrderStatus::PartiallyFilled,
        "Untriggered" => OrderStatus::Untriggered,
        "Triggered" => OrderStatus::Triggered,
        "Filled" => OrderStatus::Filled,
        "Cancelled" => OrderStatus::Canceled,
        "PartiallyFilledCanceled" => OrderStatus::PartiallyFilledCanceled,
        "Rejected" => OrderStatus::Rejected,
        "Deactivated" => OrderStatus::Deactivated,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_status_maps_to_a_distinct_status() {
        // PROTOCOLS.md 6.3 `orderStatus`, plus `Created` (accepted, not yet matched).
        let words = [
            "Created",
            "New",
            "PartiallyFilled",
            "Untriggered",
            "Triggered",
            "Filled",
            "Cancelled",
            "PartiallyFilledCanceled",
            "Rejected",
            "Deactivated",
        ];
        let mapped: std::collections::HashSet<_> =
            words.iter().map(|w| order_status(w).unwrap()).collect();
        assert_eq!(mapped.len(), words.len());
        assert!(order_status("Cancelled").unwrap().is_terminal());
        assert!(!order_status("Untriggered").unwrap().is_terminal());
    }
}

//! Binance order vocabulary.

use crate::model::OrderStatus;

/// Maps Binance's `status` / `X` words (spot and USD-M share them). `None` for a word we do not
/// know: the caller counts it and keeps the order UNKNOWN until a query resolves it.
pub fn order_status(word: &str) -> Option<OrderStatus> {
    Some(match word {
        "NEW" => OrderStatus::New,
        "PENDING_NEW" => OrderStatus::PendingNew,
        "PARTIALLY_FILLED" => OrderStatus::PartiallyFilled,
        "FILLED" => OrderStatus::Filled,
        "CANCELED" => OrderStatus::Canceled,
        "PENDING_CANCEL" => OrderStatus::PendingCancel,
        "REJECTED" => OrderStatus::Rejected,
        "EXPIRED" => OrderStatus::Expired,
        "EXPIRED_IN_MATCH" => OrderStatus::ExpiredInMatch,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_status_maps() {
        // PROTOCOLS.md 6.1 (spot) and 6.2 (USD-M).
        let words = [
            "NEW",
            "PENDING_NEW",
            "PARTIALLY_FILLED",
            "FILLED",
            "CANCELED",
            "PENDING_CANCEL",
            "REJECTED",
            "EXPIRED",
            "EXPIRED_IN_MATCH",
        ];
        for word in words {
            assert_eq!(order_status(word).map(|s| s.as_str()), Some(word));
        }
        assert_eq!(order_status("SOMETHING_NEW"), None);
    }
}

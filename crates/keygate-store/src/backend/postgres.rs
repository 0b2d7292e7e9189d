//! PostgreSQL: numbered placeholders (`$1`, `$2`, …) and SQLSTATE error codes.

use super::ErrorClass;
use sqlx::error::DatabaseError;

/// Nothing to set per connection: the defaults suit keygate.
pub(super) const AFTER_CONNECT: &[&str] = &[];

pub(super) const TABLE_EXISTS: &str = "SELECT COUNT(*) FROM information_schema.tables \
     WHERE table_schema = current_schema() AND table_name = ?";

/// Rewrites `?` placeholders to `$1`, `$2`, … outside quoted literals and identifiers.
pub(super) fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0u32;
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match (quote, c) {
            (None, '?') => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
                continue;
            }
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
        out.push(c);
    }
    out
}

/// SQLSTATE 23505 `unique_violation`, 23503 `foreign_key_violation`, 40001
/// `serialization_failure`, 40P01 `deadlock_detected`, 55P03 `lock_not_available`.
pub(super) fn classify(error: &dyn DatabaseError) -> ErrorClass {
    match error.code().as_deref() {
        Some("23505") => ErrorClass::UniqueViolation,
        Some("23503") => ErrorClass::ForeignKeyViolation,
        Some("40001" | "40P01" | "55P03") => ErrorClass::Transient,
        _ => ErrorClass::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::numbered_placeholders;

    proptest::proptest! {
        #[test]
        fn every_bare_placeholder_is_numbered_in_order(
            parts in proptest::collection::vec("[a-z =,()]{0,8}", 1..12),
        ) {
            let sql = parts.join("?");
            let rewritten = numbered_placeholders(&sql);
            let expected: String = parts
                .iter()
                .enumerate()
                .map(|(i, part)| if i == 0 { part.clone() } else { format!("${i}{part}") })
                .collect();
            proptest::prop_assert_eq!(rewritten, expected);
        }
    }

    #[test]
    fn placeholders_in_literals_stay() {
        assert_eq!(
            numbered_placeholders("UPDATE t SET a = ?, b = '?' WHERE \"c?\" = ? AND d IN (?, ?)"),
            "UPDATE t SET a = $1, b = '?' WHERE \"c?\" = $2 AND d IN ($3, $4)"
        );
        assert_eq!(numbered_placeholders("SELECT 1"), "SELECT 1");
    }
}

//! `PendingWrite`: the effect of one or more writes to a call's session, composable so that the
//! outage buffer keeps only the newest merged state per call.

use crate::SessionFields;

/// What a write (or a sequence of writes) does to one session.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PendingWrite {
    /// Top-level fields replace the stored ones; the others stay (`update_session`).
    Merge(SessionFields),
    /// The whole session becomes these fields (`set_session`; empty means deleted).
    Replace(SessionFields),
    /// The session is removed (`delete_session`).
    Delete,
}

impl PendingWrite {
    /// The single write with the same effect as `self` followed by `next`.
    ///
    /// Applying the result after `self` already landed gives the same state too, which is what
    /// lets the flusher write a snapshot while newer writes merge into the buffered entry.
    #[cfg(feature = "redis")]
    pub(crate) fn then(self, next: PendingWrite) -> PendingWrite {
        match (self, next) {
            (_, next @ (PendingWrite::Replace(_) | PendingWrite::Delete)) => next,
            (PendingWrite::Merge(mut fields), PendingWrite::Merge(newer)) => {
                fields.extend(newer);
                PendingWrite::Merge(fields)
            }
            (PendingWrite::Replace(mut fields), PendingWrite::Merge(newer)) => {
                fields.extend(newer);
                PendingWrite::Replace(fields)
            }
            (PendingWrite::Delete, PendingWrite::Merge(newer)) => PendingWrite::Replace(newer),
        }
    }

    /// Applies the write to a session as stored (`None`: no session). Returns the new session,
    /// `None` when it ends up without fields.
    pub(crate) fn apply_to(&self, stored: Option<SessionFields>) -> Option<SessionFields> {
        let res = match self {
            PendingWrite::Merge(fields) => {
                let mut res = stored.unwrap_or_default();
                res.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
                res
            }
            PendingWrite::Replace(fields) => fields.clone(),
            PendingWrite::Delete => return None,
        };
        (!res.is_empty()).then_some(res)
    }

    /// The session after this write if it does not depend on what is stored.
    #[cfg(feature = "redis")]
    pub(crate) fn known_result(&self) -> Option<Option<SessionFields>> {
        match self {
            PendingWrite::Merge(_) => None,
            PendingWrite::Replace(_) | PendingWrite::Delete => Some(self.apply_to(None)),
        }
    }
}

#[cfg(all(test, feature = "redis"))]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn fields(value: Value) -> SessionFields {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn merge(value: Value) -> PendingWrite {
        PendingWrite::Merge(fields(value))
    }

    fn replace(value: Value) -> PendingWrite {
        PendingWrite::Replace(fields(value))
    }

    /// Every pair of writes, composed, must have the same effect as applying them in turn, on an
    /// empty and on a non-empty stored session; and re-applying the composition after the first
    /// write landed must give the same state (the flusher's snapshot case).
    #[test]
    fn composition_matches_sequential_application() {
        let writes = [
            merge(json!({"a": 1, "b": [1, 2]})),
            merge(json!({"b": {"nested": true}, "c": null})),
            merge(json!({})),
            replace(json!({"a": "x", "d": 4})),
            replace(json!({})),
            PendingWrite::Delete,
        ];
        let stored_cases = [None, Some(fields(json!({"a": 0, "z": "kept?"})))];
        for first in &writes {
            for second in &writes {
                for stored in &stored_cases {
                    let sequential = second.apply_to(first.apply_to(stored.clone()));
                    let composed = first.clone().then(second.clone());
                    assert_eq!(
                        composed.apply_to(stored.clone()),
                        sequential,
                        "{first:?} then {second:?} on {stored:?}"
                    );
                    assert_eq!(
                        composed.apply_to(first.apply_to(stored.clone())),
                        sequential,
                        "replay of {first:?} then {second:?} on {stored:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn known_result_only_without_dependence_on_stored() {
        assert_eq!(merge(json!({"a": 1})).known_result(), None);
        assert_eq!(
            replace(json!({"a": 1})).known_result(),
            Some(Some(fields(json!({"a": 1}))))
        );
        assert_eq!(replace(json!({})).known_result(), Some(None));
        assert_eq!(PendingWrite::Delete.known_result(), Some(None));
    }
}

//! The value of the previous key, kept for the next: a national file lists a reference's 180
//! depots one line after the other, all of one date, so the same text is parsed and the same
//! reference looked up line after line unless the last answer is reused.

/// The last key looked up and its value.
#[derive(Debug)]
pub(crate) struct LastSeen<K, V>(Option<(K, V)>);

impl<K, V> Default for LastSeen<K, V> {
    fn default() -> Self {
        Self(None)
    }
}

impl<K: Copy + PartialEq, V: Copy> LastSeen<K, V> {
    /// The value of `key`: the last one when `key` is the last key, else `compute(key)`,
    /// kept for the next call when it is `Some` (a key whose value is `None` is computed again).
    pub(crate) fn get(&mut self, key: K, compute: impl FnOnce(K) -> Option<V>) -> Option<V> {
        match self.0 {
            Some((last, value)) if last == key => Some(value),
            _ => {
                let value = compute(key)?;
                self.0 = Some((key, value));
                Some(value)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LastSeen;

    #[test]
    fn the_last_value_is_reused_for_the_same_key_only() {
        let mut calls = 0;
        let mut parse = |text: &str| {
            calls += 1;
            text.parse::<u32>().ok()
        };
        let mut last = LastSeen::default();
        let seen: Vec<Option<u32>> = ["7", "7", "x", "7", "8", "8", "x", "x"]
            .into_iter()
            .map(|text| last.get(text, &mut parse))
            .collect();
        assert_eq!(
            seen,
            [
                Some(7),
                Some(7),
                None,
                Some(7),
                Some(8),
                Some(8),
                None,
                None
            ]
        );
        // "7" once (an "x" between does not replace it), "8" once, "x" each time (not kept).
        assert_eq!(calls, 5);
    }
}

//! A Lambda function's configuration from its environment variables, and how its failures are
//! reported: whether a retry can help.

/// Why a function's configuration cannot be read: the variable is named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is absent or empty.
    #[error("variable d'environnement {0} absente")]
    Missing(&'static str),
    /// A variable does not hold a usable value.
    #[error("variable d'environnement {name} invalide : {reason}")]
    Invalid {
        /// The variable (or the variables, when only their combination is invalid).
        name: &'static str,
        /// Why.
        reason: String,
    },
}

/// The values of the required variables `names`, read through `var` (an empty value counts as
/// missing); the error names the first one missing.
pub fn required<const N: usize>(
    var: impl Fn(&str) -> Option<String>,
    names: [&'static str; N],
) -> Result<[String; N], ConfigError> {
    let values = names.map(|name| var(name).filter(|v| !v.is_empty()));
    if let Some(missing) = values.iter().position(Option::is_none) {
        return Err(ConfigError::Missing(names[missing]));
    }
    Ok(values.map(Option::unwrap_or_default))
}

/// Whether retrying a failed invocation can help: the first word of the error type every
/// function reports to Lambda (`Medistock.Retryable.Storage`, `Medistock.Poison.Request`), so
/// that logs, alarms and the on-failure destination tell poison input from infrastructure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// An infrastructure failure (storage, network, a lease held by another run): a retry may
    /// succeed.
    Helps,
    /// The input or the configuration is wrong: the same invocation fails again.
    Useless,
}

impl Retry {
    /// The error type reported for a failure of `kind` (a short English word, e.g. `Storage`).
    pub fn error_type(self, kind: &str) -> String {
        let class = match self {
            Retry::Helps => "Retryable",
            Retry::Useless => "Poison",
        };
        format!("Medistock.{class}.{kind}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variable_is_required_and_the_first_missing_is_named() {
        let var = |name: &str| match name {
            "A" => Some("a".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        assert_eq!(required(var, ["A"]), Ok(["a".to_owned()]));
        assert_eq!(
            required(var, ["A", "EMPTY", "B"]),
            Err(ConfigError::Missing("EMPTY"))
        );
        assert_eq!(
            required(var, ["B", "A"]).unwrap_err().to_string(),
            "variable d'environnement B absente"
        );
    }

    #[test]
    fn error_types_say_whether_a_retry_helps() {
        assert_eq!(
            Retry::Helps.error_type("Storage"),
            "Medistock.Retryable.Storage"
        );
        assert_eq!(
            Retry::Useless.error_type("Request"),
            "Medistock.Poison.Request"
        );
    }
}

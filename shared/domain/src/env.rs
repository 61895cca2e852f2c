//! A Lambda function's configuration from its environment variables.

/// The values of the required variables `names`, read through `var` (an empty value counts as
/// missing); the error, in French, names the first one missing.
pub fn required<const N: usize>(
    var: impl Fn(&str) -> Option<String>,
    names: [&'static str; N],
) -> Result<[String; N], String> {
    let values = names.map(|name| var(name).filter(|v| !v.is_empty()));
    if let Some(missing) = values.iter().position(Option::is_none) {
        return Err(format!(
            "variable d'environnement {} absente",
            names[missing]
        ));
    }
    Ok(values.map(Option::unwrap_or_default))
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
            Err("variable d'environnement EMPTY absente".to_owned())
        );
        assert_eq!(
            required(var, ["B", "A"]),
            Err("variable d'environnement B absente".to_owned())
        );
    }
}

//! CIP13: the 13-digit code of a medicine presentation in France (an EAN-13 with the `34009`
//! prefix). This is the one place where a CIP is checked.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The French prefix of every CIP13 (GS1 country code 340 + the CIP club's 09).
pub const CIP13_PREFIX: &str = "34009";

/// Why a text is not a CIP13.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CipError {
    /// Neither 13 nor 7 digits.
    #[error("13 chiffres (CIP13) ou 7 chiffres (CIP7) attendus")]
    Format,
    /// 13 digits that do not start with `34009`.
    #[error("un CIP13 commence par 34009")]
    Prefix,
    /// 13 digits whose last digit is not the EAN-13 check digit of the first twelve.
    #[error("clé de contrôle incorrecte")]
    CheckDigit,
}

/// A valid CIP13, stored as its 13 ASCII digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cip13([u8; 13]);

impl Cip13 {
    /// Parses a CIP13, or a CIP7 which becomes `34009` + CIP7 + computed check digit.
    ///
    /// Spaces (including no-break spaces) between digit groups are ignored, since ERP exports
    /// often print `3 400 930 000 000`. A CIP7 carries no reliable check digit of its own, so it
    /// is converted, not checked.
    ///
    /// ```
    /// use medistock_domain::{Cip13, CipError};
    /// assert_eq!(Cip13::parse("4949729")?.as_str(), "3400949497294");
    /// assert_eq!(Cip13::parse("3400949497295"), Err(CipError::CheckDigit));
    /// # Ok::<(), CipError>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self, CipError> {
        let mut digits = [0u8; 13];
        let mut len = 0usize;
        let bytes = text.trim().as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                d @ b'0'..=b'9' => {
                    if len == 13 {
                        return Err(CipError::Format);
                    }
                    digits[len] = d;
                    len += 1;
                }
                b' ' => {}
                // U+00A0 and U+202F (no-break spaces) in UTF-8.
                0xC2 if bytes.get(i + 1) == Some(&0xA0) => i += 1,
                0xE2 if bytes.get(i + 1..i + 3) == Some(&[0x80, 0xAF]) => i += 2,
                _ => return Err(CipError::Format),
            }
            i += 1;
        }
        match len {
            13 => {
                if &digits[..5] != CIP13_PREFIX.as_bytes() {
                    return Err(CipError::Prefix);
                }
                if check_digit(&digits[..12]) != digits[12] {
                    return Err(CipError::CheckDigit);
                }
                Ok(Self(digits))
            }
            7 => {
                let mut out = [0u8; 13];
                out[..5].copy_from_slice(CIP13_PREFIX.as_bytes());
                out[5..12].copy_from_slice(&digits[..7]);
                out[12] = check_digit(&out[..12]);
                Ok(Self(out))
            }
            _ => Err(CipError::Format),
        }
    }

    /// The 13 digits.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The reference's number in CIP13 order: its eight digits after `34009`, below 10⁸ (27
    /// bits). Orders and packs references where a string would cost a copy and a hash.
    pub fn rank(&self) -> u32 {
        self.0[5..]
            .iter()
            .fold(0u32, |n, b| n * 10 + u32::from(b.saturating_sub(b'0')))
    }

    /// The CIP7 embedded in the CIP13 (digits 6 to 12).
    pub fn cip7(&self) -> &str {
        &self.as_str()[5..12]
    }
}

/// EAN-13 check digit (as an ASCII digit) of twelve ASCII digits: weights 1,3,1,3… from the left.
fn check_digit(first12: &[u8]) -> u8 {
    let sum: u32 = first12
        .iter()
        .enumerate()
        .map(|(i, d)| u32::from(d - b'0') * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    b'0' + ((10 - sum % 10) % 10) as u8
}

impl fmt::Display for Cip13 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Cip13 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cip13({})", self.as_str())
    }
}

impl std::str::FromStr for Cip13 {
    type Err = CipError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Cip13 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Cip13 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_real_cip13() {
        // Anastrozole 1 mg, 30 tablets (BDPM snapshot).
        let cip = Cip13::parse("3400949497294").unwrap();
        assert_eq!(cip.as_str(), "3400949497294");
        assert_eq!(cip.cip7(), "4949729");
    }

    #[test]
    fn converts_a_cip7_with_the_computed_check_digit() {
        assert_eq!(Cip13::parse("4949729").unwrap().as_str(), "3400949497294");
    }

    #[test]
    fn ignores_spaces_between_digit_groups() {
        assert_eq!(
            Cip13::parse(" 3 400 949\u{a0}497 294 ").unwrap().as_str(),
            "3400949497294"
        );
    }

    #[test]
    fn rejects_a_wrong_check_digit() {
        assert_eq!(Cip13::parse("3400949497295"), Err(CipError::CheckDigit));
    }

    #[test]
    fn rejects_another_prefix() {
        // A valid EAN-13 from another country.
        assert_eq!(Cip13::parse("4006381333931"), Err(CipError::Prefix));
    }

    #[test]
    fn rejects_other_lengths_and_characters() {
        for text in [
            "",
            "340094949729",
            "34009494972941",
            "340094949729X",
            "12345678",
            "-4949729",
        ] {
            assert_eq!(Cip13::parse(text), Err(CipError::Format), "{text:?}");
        }
    }

    #[test]
    fn serde_round_trip_checks_on_the_way_in() {
        let cip = Cip13::parse("3400949497294").unwrap();
        let json = serde_json::to_string(&cip).unwrap();
        assert_eq!(json, "\"3400949497294\"");
        assert_eq!(serde_json::from_str::<Cip13>(&json).unwrap(), cip);
        assert!(serde_json::from_str::<Cip13>("\"3400949497295\"").is_err());
    }
}

//! Domain values that cannot be built invalid: a [`Cip13`] always has its `34009` prefix and a
//! correct check digit, a [`DeclarantId`] is always safe to use as an S3 prefix.

mod calendar;
mod cip13;
mod declarant;

pub use calendar::{paris_date, paris_today};
pub use cip13::{Cip13, CipError};
pub use declarant::{DeclarantError, DeclarantId, DeclarantType};

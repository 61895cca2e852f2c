//! Medistock's domain: the values, records and ports every other crate speaks in, with no
//! polars, no AWS SDK and no database, so that the smallest Lambda links only what it uses.
//!
//! - Values that cannot be built invalid: a [`Cip13`] always has its `34009` prefix and a
//!   correct check digit, a [`DeclarantId`] is always safe to use as an S3 prefix.
//! - [`calendar`]: Paris dates;.
//! - [`account`]: the declarant's account; [`position`]: a declarant's figures per reference.
//! - [`store`]: the storage ports and the records they hold; [`relay`]: the outbox relay.
//! - [`env`]: a function's configuration from its environment.

pub mod account;
pub mod calendar;
mod cip13;
mod declarant;
mod digest;
pub mod env;
pub mod french;
pub mod lake;
mod level;
pub mod lifecycle;
pub mod measure;
pub mod position;
pub mod relay;
pub mod store;

pub use calendar::{paris_date, paris_instant, paris_time, paris_today};
pub use cip13::{Cip13, CipError};
pub use declarant::{DeclarantError, DeclarantId, DeclarantType};
pub use digest::{sha256_hex, sha256_hex_reader};
pub use level::Level;

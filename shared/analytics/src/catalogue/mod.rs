//! The reference catalogue: which presentations exist, which are marketed, which are MITM,
//! which are substitutable (generic groups), ANSM's current shortage statuses, and the
//! monitoring settings of the references ANSM follows (groups, MITM, thresholds, safety
//! stock). Loaded from the public BDPM files plus ANSM's settings CSV, stored as JSON in the
//! data directory and in the lake: the one source of reference settings for validation (the
//! `hors_catalogue` warning), the risk run and the weekly synthesis.

mod bdpm;
mod model;
mod settings;
pub(crate) mod store;

pub use bdpm::{BDPM_FILES, load_bdpm};
pub use model::{
    Catalogue, CatalogueSummary, GenericGroup, GenericRole, MonitoringSettings, Presentation,
    ShortageStatus, Specialty, Substance,
};
pub use settings::{ParsedSettings, SettingsError, load_settings, parse_settings};
pub use store::{
    CATALOGUE_FILE, CATALOGUE_PREFIX, MAX_CATALOGUE_BYTES, load_catalogue, load_catalogue_object,
    save_catalogue_object,
};

/// Failures while loading or storing a catalogue.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// A file could not be read or written.
    #[error("fichier {path} : {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A required BDPM file is missing from the folder.
    #[error("fichier BDPM absent : {0}")]
    MissingFile(std::path::PathBuf),
    /// The settings CSV has no usable header.
    #[error("fichier de paramètres {path} : {source}")]
    Settings {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        source: SettingsError,
    },
    /// The stored catalogue is larger than [`MAX_CATALOGUE_BYTES`].
    #[error("catalogue stocké de {0} octets, au-delà de la limite")]
    TooLarge(u64),
    /// The object store failed.
    #[error("catalogue : {0}")]
    Store(#[from] medistock_domain::store::StoreError),
    /// The stored catalogue cannot be decoded.
    #[error("catalogue stocké illisible ({path}) : {source}")]
    Stored {
        /// The file.
        path: std::path::PathBuf,
        /// The JSON error.
        source: serde_json::Error,
    },
}

//! Declaration format v1: the columns, their aliases, and the limits a file must respect.
//! `docs/format-declaration.md` is the French rendering of this module for declarants.

use serde::{Deserialize, Serialize};

/// A column of the declaration format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    /// Presentation code (CIP13, or CIP7 converted).
    Cip13,
    /// Date the stock figure is valid for.
    DateStock,
    /// Units on hand, available for sale.
    Stock,
    /// Units shipped or dispensed over the period.
    Sorties,
    /// Length of that period in days (default 7).
    PeriodeJours,
    /// Units held (quarantine, not released).
    StockBloque,
    /// Next expected supply, in units.
    ApproQuantite,
    /// Date of that supply.
    ApproDate,
    /// Depot of a wholesaler.
    Site,
    /// Declarant id, when the file names it.
    Declarant,
    /// Free text, never interpreted.
    Commentaire,
}

/// What a cell of a column holds, which decides how it is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// A CIP13 or CIP7.
    Cip,
    /// A calendar date.
    Date,
    /// A whole number of units.
    Quantity,
    /// Free text with a maximum length in characters.
    Text {
        /// Maximum number of characters.
        max_chars: usize,
    },
}

impl Column {
    /// Every column, in the order of the format's table.
    pub const ALL: [Column; 11] = [
        Column::Cip13,
        Column::DateStock,
        Column::Stock,
        Column::Sorties,
        Column::PeriodeJours,
        Column::StockBloque,
        Column::ApproQuantite,
        Column::ApproDate,
        Column::Site,
        Column::Declarant,
        Column::Commentaire,
    ];

    /// The canonical header name, as written in the format and in receipts.
    pub fn name(self) -> &'static str {
        match self {
            Column::Cip13 => "cip13",
            Column::DateStock => "date_stock",
            Column::Stock => "stock",
            Column::Sorties => "sorties",
            Column::PeriodeJours => "periode_jours",
            Column::StockBloque => "stock_bloque",
            Column::ApproQuantite => "appro_quantite",
            Column::ApproDate => "appro_date",
            Column::Site => "site",
            Column::Declarant => "declarant",
            Column::Commentaire => "commentaire",
        }
    }

    /// Header names accepted for this column, already folded (see [`fold_header`]).
    fn folded_aliases(self) -> &'static [&'static str] {
        match self {
            Column::Cip13 => &["cip13", "codecip", "cip", "codecip13"],
            Column::DateStock => &["datestock", "date", "datedeclaration"],
            Column::Stock => &["stock", "stockunites", "quantitestock"],
            Column::Sorties => &["sorties", "ventes", "sortiesunites"],
            Column::PeriodeJours => &["periodejours"],
            Column::StockBloque => &["stockbloque"],
            Column::ApproQuantite => &["approquantite"],
            Column::ApproDate => &["approdate"],
            Column::Site => &["site", "etablissement", "depot"],
            Column::Declarant => &["declarant"],
            Column::Commentaire => &["commentaire"],
        }
    }

    /// Whether a file without this column is rejected.
    pub fn is_required(self) -> bool {
        matches!(self, Column::Cip13 | Column::DateStock | Column::Stock)
    }

    /// How cells of this column are parsed.
    pub fn kind(self) -> ColumnKind {
        match self {
            Column::Cip13 => ColumnKind::Cip,
            Column::DateStock | Column::ApproDate => ColumnKind::Date,
            Column::Stock
            | Column::Sorties
            | Column::PeriodeJours
            | Column::StockBloque
            | Column::ApproQuantite => ColumnKind::Quantity,
            Column::Site => ColumnKind::Text { max_chars: 64 },
            Column::Declarant => ColumnKind::Text { max_chars: 64 },
            Column::Commentaire => ColumnKind::Text { max_chars: 500 },
        }
    }

    /// The column a header cell names, if any (case-, accent-, space- and underscore-insensitive).
    /// Allocates nothing and stops early: a header cell of megabytes costs a few characters.
    pub fn from_header(header: &str) -> Option<Column> {
        let mut folded = [0u8; MAX_FOLDED_ALIAS];
        let mut len = 0;
        for c in header
            .chars()
            .flat_map(char::to_lowercase)
            .map(strip_accent)
        {
            if c.is_ascii_alphanumeric() {
                *folded.get_mut(len)? = c as u8;
                len += 1;
            }
        }
        let folded = &folded[..len];
        Column::ALL
            .into_iter()
            .find(|c| c.folded_aliases().iter().any(|a| a.as_bytes() == folded))
    }
}

/// Longest folded alias, in bytes.
const MAX_FOLDED_ALIAS: usize = 16;

/// Folds a header name for matching: lower case, accents removed, and everything that is not a
/// letter or a digit dropped (`Date de stock` and `date_stock` differ, `DATE_STOCK` and
/// `Date Stock` do not).
pub fn fold_header(header: &str) -> String {
    header
        .chars()
        .flat_map(char::to_lowercase)
        .map(strip_accent)
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// The base letter of the accented letters of French (and the ligatures' first letter).
pub(crate) fn strip_accent(c: char) -> char {
    match c {
        'à' | 'â' | 'ä' | 'á' | 'ã' | 'å' => 'a',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'î' | 'ï' | 'í' | 'ì' => 'i',
        'ô' | 'ö' | 'ó' | 'ò' | 'õ' => 'o',
        'ù' | 'û' | 'ü' | 'ú' => 'u',
        'ç' => 'c',
        'ÿ' => 'y',
        'ñ' => 'n',
        'æ' => 'a',
        'œ' => 'o',
        other => other,
    }
}

/// Bounds a declaration must respect; the defaults are the format's.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Largest file accepted, in bytes.
    pub max_file_bytes: u64,
    /// Largest total uncompressed size of an XLSX (zip) archive, in bytes.
    pub max_xlsx_uncompressed_bytes: u64,
    /// Largest ratio of uncompressed to compressed size of one XLSX entry, or of the whole
    /// archive (zip bomb).
    pub max_xlsx_compression_ratio: u64,
    /// Largest uncompressed size of one part of an XLSX archive (the sheet's XML, the shared
    /// strings), in bytes: what one sheet may cost to parse.
    pub max_xlsx_part_bytes: u64,
    /// Most cells read from an XLSX sheet (empty cells written in the sheet count).
    pub max_xlsx_cells: u64,
    /// Most columns in the header, up to its last non-empty cell.
    pub max_columns: usize,
    /// Most values on one CSV line, empty ones included: a line beyond it is not a
    /// declaration's, and tokenising it would cost memory for every value.
    pub max_line_values: usize,
    /// Most data lines: a national file is about 3.6 million (20,000 references × 180
    /// depots); what a file costs to validate grows with its lines.
    pub max_rows: usize,
    /// Most distinct references (CIP13) among a file's valid lines: France markets about
    /// 17,000 presentations, and each reference of a file is a position stored, merged and
    /// assessed every day for as long as it is held.
    pub max_references: usize,
    /// Share of rejected lines above which the whole file is rejected.
    pub max_error_rate: f64,
    /// A `date_stock` older than this many days gets a warning.
    pub stale_after_days: i64,
    /// Largest quantity accepted in any quantity column.
    pub max_quantity: i64,
    /// Bytes of a quote-free CSV validated at a time (about 170,000 lines of a national file
    /// for 8 MB): what its raw cells, or its columns being typed, cost at once; read by one
    /// thread per 4 MB of it at most. Not a bound on the file.
    pub csv_piece_bytes: usize,
    /// Rows of an XLSX sheet validated at a time, the same way. Not a bound on the file.
    pub xlsx_piece_rows: usize,
    /// Quote-free CSV lines are typed in one pass over their bytes while they are all valid
    /// (the usual case, about twice as fast); `false` sends every line through the general
    /// reader (tokenised, then typed), the reference the one pass is tested against.
    pub direct_read: bool,
}

impl Limits {
    /// The first day (days since 1970-01-01) that is not stale for a file read on `today`;
    /// an absurd `stale_after_days` saturates instead of wrapping.
    pub(crate) fn stale_before(&self, today: i32) -> i32 {
        i32::try_from(self.stale_after_days).map_or(
            if self.stale_after_days > 0 {
                i32::MIN
            } else {
                i32::MAX
            },
            |days| today.saturating_sub(days),
        )
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: 200 * 1024 * 1024,
            max_xlsx_uncompressed_bytes: 500 * 1024 * 1024,
            max_xlsx_compression_ratio: 200,
            max_xlsx_part_bytes: 250_000_000,
            max_xlsx_cells: 20_000_000,
            max_columns: 256,
            max_line_values: 100_000,
            max_rows: 5_000_000,
            max_references: 50_000,
            max_error_rate: 0.10,
            stale_after_days: 14,
            max_quantity: 1_000_000_000_000,
            csv_piece_bytes: 8 << 20,
            xlsx_piece_rows: 1 << 18,
            direct_read: true,
        }
    }
}

/// Default period of the `sorties` figure, in days, when `periode_jours` is absent.
pub const DEFAULT_PERIOD_DAYS: i64 = 7;
/// Bounds of `periode_jours`.
pub const PERIOD_DAYS_RANGE: std::ops::RangeInclusive<i64> = 1..=92;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_whatever_the_case_accents_and_spaces() {
        assert_eq!(Column::from_header("CIP13"), Some(Column::Cip13));
        assert_eq!(Column::from_header(" Code CIP "), Some(Column::Cip13));
        assert_eq!(
            Column::from_header("Date déclaration"),
            Some(Column::DateStock)
        );
        assert_eq!(Column::from_header("Quantité_Stock"), Some(Column::Stock));
        assert_eq!(
            Column::from_header("Stock bloqué"),
            Some(Column::StockBloque)
        );
        assert_eq!(Column::from_header("ÉTABLISSEMENT"), Some(Column::Site));
        assert_eq!(Column::from_header("Dépôt"), Some(Column::Site));
        assert_eq!(
            Column::from_header("Période (jours)"),
            Some(Column::PeriodeJours)
        );
        assert_eq!(Column::from_header("lot"), None);
        assert_eq!(Column::from_header("\"cip13\""), Some(Column::Cip13));
        assert_eq!(Column::from_header(&"x".repeat(1 << 20)), None);
        assert_eq!(Column::from_header("date de déclaration x"), None);
    }

    #[test]
    fn every_alias_is_already_folded_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for column in Column::ALL {
            assert!(
                column
                    .folded_aliases()
                    .contains(&fold_header(column.name()).as_str())
            );
            for alias in column.folded_aliases() {
                assert_eq!(&fold_header(alias), alias);
                assert!(alias.len() <= MAX_FOLDED_ALIAS, "{alias}");
                assert!(seen.insert(*alias), "alias {alias} used twice");
            }
        }
    }
}

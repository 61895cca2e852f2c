//! What can be wrong with a declaration, as data: a stable code (what programs match on) and a
//! French message (what declarants read). Codes never change once published; messages may be
//! reworded.

use serde::Serialize;

use super::format::Column;

/// A problem found on one line (an error rejects the line, a warning does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineCode {
    /// A required value is empty.
    ValeurManquante,
    /// Not 13 or 7 digits.
    CipFormat,
    /// 13 digits without the `34009` prefix.
    CipPrefixe,
    /// Wrong EAN-13 check digit.
    CipCle,
    /// Not a date in a known form.
    DateFormat,
    /// `date_stock` after the day of reception.
    DateFuture,
    /// Not a number.
    NombreInvalide,
    /// A negative number.
    NombreNegatif,
    /// A number with a non-zero fractional part.
    NombreNonEntier,
    /// A number above the plausible bound.
    NombreTropGrand,
    /// `periode_jours` outside 1–92.
    PeriodeHorsBornes,
    /// Only one of `appro_quantite` and `appro_date`.
    ApproIncomplet,
    /// `appro_date` before `date_stock`.
    ApproDateAnterieure,
    /// Text longer than the column allows.
    TexteTropLong,
    /// More non-empty cells than header columns.
    ColonnesEnTrop,
    /// Fewer cells than header columns (often a truncated line).
    ColonnesManquantes,
    /// Two lines for the same reference, site and date with different figures.
    DoublonConflictuel,
    /// Warning: an exact duplicate of an earlier line, ignored.
    DoublonIdentique,
    /// Warning: `date_stock` older than the staleness bound.
    DateAncienne,
    /// Warning: a reference outside the monitored catalogue.
    HorsCatalogue,
    /// Warning: a header column the format does not know, ignored.
    ColonneInconnue,
}

impl LineCode {
    /// The stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            LineCode::ValeurManquante => "valeur_manquante",
            LineCode::CipFormat => "cip_format",
            LineCode::CipPrefixe => "cip_prefixe",
            LineCode::CipCle => "cip_cle",
            LineCode::DateFormat => "date_format",
            LineCode::DateFuture => "date_future",
            LineCode::NombreInvalide => "nombre_invalide",
            LineCode::NombreNegatif => "nombre_negatif",
            LineCode::NombreNonEntier => "nombre_non_entier",
            LineCode::NombreTropGrand => "nombre_trop_grand",
            LineCode::PeriodeHorsBornes => "periode_hors_bornes",
            LineCode::ApproIncomplet => "appro_incomplet",
            LineCode::ApproDateAnterieure => "appro_date_anterieure",
            LineCode::TexteTropLong => "texte_trop_long",
            LineCode::ColonnesEnTrop => "colonnes_en_trop",
            LineCode::ColonnesManquantes => "colonnes_manquantes",
            LineCode::DoublonConflictuel => "doublon_conflictuel",
            LineCode::DoublonIdentique => "doublon_identique",
            LineCode::DateAncienne => "date_ancienne",
            LineCode::HorsCatalogue => "hors_catalogue",
            LineCode::ColonneInconnue => "colonne_inconnue",
        }
    }

    /// Whether the code rejects the line.
    pub fn is_error(self) -> bool {
        !matches!(
            self,
            LineCode::DoublonIdentique
                | LineCode::DateAncienne
                | LineCode::HorsCatalogue
                | LineCode::ColonneInconnue
        )
    }

    /// The French explanation for a declarant.
    pub fn message(self, column: &str) -> String {
        match self {
            LineCode::ValeurManquante => {
                format!("la colonne « {column} » est obligatoire et vide sur cette ligne")
            }
            LineCode::CipFormat => {
                "code CIP illisible : 13 chiffres (CIP13) ou 7 chiffres (CIP7) attendus".into()
            }
            LineCode::CipPrefixe => "un CIP13 de médicament commence par 34009".into(),
            LineCode::CipCle => {
                "la clé de contrôle du CIP13 (dernier chiffre) est fausse : vérifiez le code".into()
            }
            LineCode::DateFormat => {
                format!("date illisible dans « {column} » : AAAA-MM-JJ ou JJ/MM/AAAA attendu")
            }
            LineCode::DateFuture => {
                "la date du stock est postérieure à la date de réception".into()
            }
            LineCode::NombreInvalide => format!("« {column} » doit être un nombre entier d'unités"),
            LineCode::NombreNegatif => format!("« {column} » ne peut pas être négatif"),
            LineCode::NombreNonEntier => {
                format!("« {column} » doit être un nombre entier d'unités (pas de décimales)")
            }
            LineCode::NombreTropGrand => {
                format!("« {column} » dépasse la valeur plausible maximale")
            }
            LineCode::PeriodeHorsBornes => "la période doit compter entre 1 et 92 jours".into(),
            LineCode::ApproIncomplet => {
                "appro_quantite et appro_date se renseignent ensemble (les deux ou aucune)".into()
            }
            LineCode::ApproDateAnterieure => {
                "la date d'approvisionnement précède la date du stock".into()
            }
            LineCode::TexteTropLong => format!("le texte de « {column} » est trop long"),
            LineCode::ColonnesEnTrop => {
                "la ligne compte plus de valeurs que l'en-tête n'a de colonnes".into()
            }
            LineCode::ColonnesManquantes => {
                "la ligne compte moins de valeurs que l'en-tête n'a de colonnes (ligne tronquée ?)"
                    .into()
            }
            LineCode::DoublonConflictuel => {
                "une autre ligne porte le même CIP13, site et date avec des chiffres différents : \
                 les deux sont rejetées"
                    .into()
            }
            LineCode::DoublonIdentique => "ligne identique à une ligne précédente : ignorée".into(),
            LineCode::DateAncienne => {
                "stock daté de plus de 14 jours : pensez à déclarer plus souvent".into()
            }
            LineCode::HorsCatalogue => {
                "référence absente du catalogue suivi : conservée dans l'historique, sans alerte"
                    .into()
            }
            LineCode::ColonneInconnue => format!("colonne « {column} » inconnue : ignorée"),
        }
    }
}

/// Longest value (and column name) a line issue keeps, in characters: a whole 25 MB line
/// reported as `colonnes_en_trop` must not make a 25 MB receipt.
pub const MAX_VALUE_CHARS: usize = 200;

/// `text` cut to [`MAX_VALUE_CHARS`] characters, with `…` when something was cut.
pub fn bounded(text: &str) -> String {
    match text.char_indices().nth(MAX_VALUE_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// A problem found on a line: where, what value, which code, and the French explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineIssue {
    /// Physical line of the file (header = 1), or sheet row for XLSX.
    pub line: u32,
    /// Canonical column name, or the header as written for unknown columns.
    pub column: String,
    /// The offending value as read (trimmed), cut to [`MAX_VALUE_CHARS`] characters.
    pub value: String,
    /// Stable code.
    pub code: LineCode,
    /// French explanation.
    pub message: String,
}

impl LineIssue {
    /// An issue on a known column, with the code's standard message.
    pub fn new(line: u32, column: Column, value: impl AsRef<str>, code: LineCode) -> Self {
        Self::named(line, column.name(), value, code)
    }

    /// An issue on a column given by name; the name and the value are cut to
    /// [`MAX_VALUE_CHARS`] characters.
    pub fn named(line: u32, column: &str, value: impl AsRef<str>, code: LineCode) -> Self {
        let column = bounded(column);
        Self {
            line,
            message: code.message(&column),
            column,
            value: bounded(value.as_ref()),
            code,
        }
    }
}

/// A reason to reject a whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileCode {
    /// Zero bytes, or only blank lines.
    FichierVide,
    /// Above the size bound.
    FichierTropVolumineux,
    /// An XLSX whose uncompressed size or compression ratio is beyond the bound, or whose parts
    /// inflate beyond the size the archive announces.
    ArchiveSuspecte,
    /// An XLSX with a part (the sheet's XML…) larger than the bound once uncompressed.
    ClasseurTropVolumineux,
    /// An XLSX sheet with more cells than the bound.
    TropDeCellules,
    /// More data lines than the bound.
    TropDeLignes,
    /// More distinct references than the bound: more than any declarant markets or
    /// distributes, and as many positions to store and assess every day.
    TropDeReferences,
    /// An XLSX citing a cell or range outside Excel's grid (columns A–XFD, rows 1–1,048,576).
    ReferenceCelluleInvalide,
    /// Neither CSV nor XLSX (binary content).
    FormatInconnu,
    /// A spreadsheet format other than XLSX (XLS, ODS…).
    FormatNonPrisEnCharge,
    /// The XLSX archive or sheet cannot be read.
    ClasseurIllisible,
    /// No header line.
    EnteteAbsente,
    /// A required column is missing from the header.
    ColonneObligatoireAbsente,
    /// Two header cells name the same column.
    ColonneDupliquee,
    /// A header wider than the bound, or a line with far more values than any declaration's.
    TropDeColonnes,
    /// A header but no data line.
    AucuneLigne,
    /// The file names another declarant than the folder it was dropped in.
    DeclarantDifferent,
    /// Too many rejected lines.
    TauxErreurExcessif,
}

impl FileCode {
    /// The stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            FileCode::FichierVide => "fichier_vide",
            FileCode::FichierTropVolumineux => "fichier_trop_volumineux",
            FileCode::ArchiveSuspecte => "archive_suspecte",
            FileCode::ClasseurTropVolumineux => "classeur_trop_volumineux",
            FileCode::TropDeCellules => "trop_de_cellules",
            FileCode::TropDeLignes => "trop_de_lignes",
            FileCode::TropDeReferences => "trop_de_references",
            FileCode::ReferenceCelluleInvalide => "reference_cellule_invalide",
            FileCode::FormatInconnu => "format_inconnu",
            FileCode::FormatNonPrisEnCharge => "format_non_pris_en_charge",
            FileCode::ClasseurIllisible => "classeur_illisible",
            FileCode::EnteteAbsente => "entete_absente",
            FileCode::ColonneObligatoireAbsente => "colonne_obligatoire_absente",
            FileCode::ColonneDupliquee => "colonne_dupliquee",
            FileCode::TropDeColonnes => "trop_de_colonnes",
            FileCode::AucuneLigne => "aucune_ligne",
            FileCode::DeclarantDifferent => "declarant_different",
            FileCode::TauxErreurExcessif => "taux_erreur_excessif",
        }
    }
}

/// A reason why the whole file is rejected, with a French message that names the specifics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileIssue {
    /// Stable code.
    pub code: FileCode,
    /// French explanation.
    pub message: String,
}

impl FileIssue {
    /// Builds a file issue.
    pub fn new(code: FileCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_column_names_are_cut_at_the_bound() {
        let long = "é".repeat(MAX_VALUE_CHARS + 1);
        let issue = LineIssue::named(3, &long, &long, LineCode::ColonneInconnue);
        let cut = format!("{}…", "é".repeat(MAX_VALUE_CHARS));
        assert_eq!(
            (issue.column.as_str(), issue.value.as_str()),
            (cut.as_str(), cut.as_str())
        );
        assert_eq!(
            issue.message,
            format!("colonne « {cut} » inconnue : ignorée")
        );
        let exact = "x".repeat(MAX_VALUE_CHARS);
        assert_eq!(bounded(&exact), exact);
    }
}

//! From bytes to something parseable: recognises the container (XLSX or text) and decodes text
//! whatever the encoding declarants' tools produce (UTF-8 with or without BOM, UTF-16 from
//! Excel's "Unicode text", Windows-1252 from older ERPs). Detected, never assumed.

use std::borrow::Cow;

use super::issues::{FileCode, FileIssue};

/// The text encoding a CSV was read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8 without BOM.
    Utf8,
    /// UTF-8 with a byte-order mark.
    Utf8Bom,
    /// UTF-16 little endian, with BOM.
    Utf16Le,
    /// UTF-16 big endian, with BOM.
    Utf16Be,
    /// Windows-1252 (what "Latin-1" exports really are).
    Windows1252,
}

impl TextEncoding {
    /// A French label for receipts.
    pub fn label(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Utf8Bom => "UTF-8 (avec BOM)",
            TextEncoding::Utf16Le | TextEncoding::Utf16Be => "UTF-16",
            TextEncoding::Windows1252 => "Windows-1252",
        }
    }
}

/// What a file holds.
#[derive(Debug)]
pub enum Container<'a> {
    /// Delimited text, decoded.
    Text {
        /// The decoded text, BOM removed.
        text: Cow<'a, str>,
        /// How it was decoded.
        encoding: TextEncoding,
    },
    /// An XLSX workbook (a zip archive).
    Xlsx,
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const OLE_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";

/// Recognises the container and decodes text. Rejects what is neither text nor XLSX.
pub fn sniff(bytes: &[u8]) -> Result<Container<'_>, FileIssue> {
    if bytes.is_empty() {
        return Err(FileIssue::new(
            FileCode::FichierVide,
            "le fichier est vide (0 octet)",
        ));
    }
    if bytes.starts_with(ZIP_MAGIC) {
        return Ok(Container::Xlsx);
    }
    if bytes.starts_with(OLE_MAGIC) {
        return Err(FileIssue::new(
            FileCode::FormatNonPrisEnCharge,
            "classeur Excel 97-2003 (.xls) non pris en charge : enregistrez-le au format .xlsx ou CSV",
        ));
    }
    if let Some(label) = known_binary(bytes) {
        return Err(FileIssue::new(
            FileCode::FormatInconnu,
            format!("le fichier est un {label}, pas un CSV ni un classeur .xlsx"),
        ));
    }
    let (text, encoding) = decode_text(bytes);
    if text.contains('\0') {
        return Err(FileIssue::new(
            FileCode::FormatInconnu,
            "le fichier contient des données binaires : ce n'est ni un CSV ni un classeur .xlsx",
        ));
    }
    if text.trim().is_empty() {
        return Err(FileIssue::new(
            FileCode::FichierVide,
            "le fichier ne contient que des lignes vides",
        ));
    }
    Ok(Container::Text { text, encoding })
}

/// Decodes text: BOM first, then UTF-8 if the bytes are valid UTF-8, else Windows-1252 (which
/// maps every byte, so decoding never fails; binary content is caught by the caller).
pub fn decode_text(bytes: &[u8]) -> (Cow<'_, str>, TextEncoding) {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        if let Ok(text) = std::str::from_utf8(rest) {
            return (Cow::Borrowed(text), TextEncoding::Utf8Bom);
        }
        let (text, _) = encoding_rs::UTF_8.decode_without_bom_handling(rest);
        return (text, TextEncoding::Utf8Bom);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        let (text, _) = encoding_rs::UTF_16LE.decode_without_bom_handling(rest);
        return (text, TextEncoding::Utf16Le);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        let (text, _) = encoding_rs::UTF_16BE.decode_without_bom_handling(rest);
        return (text, TextEncoding::Utf16Be);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => (Cow::Borrowed(text), TextEncoding::Utf8),
        Err(_) => {
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
            (text, TextEncoding::Windows1252)
        }
    }
}

/// Names a few binary formats declarants drop by mistake, for a clearer message.
fn known_binary(bytes: &[u8]) -> Option<&'static str> {
    const MAGICS: [(&[u8], &str); 5] = [
        (b"%PDF", "document PDF"),
        (b"\x1F\x8B", "fichier compressé gzip"),
        (b"\x89PNG", "image PNG"),
        (b"\xFF\xD8\xFF", "image JPEG"),
        (b"Rar!", "archive RAR"),
    ];
    MAGICS
        .iter()
        .find(|(magic, _)| bytes.starts_with(magic))
        .map(|(_, label)| *label)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(bytes: &[u8]) -> (String, TextEncoding) {
        match sniff(bytes).unwrap() {
            Container::Text { text, encoding } => (text.into_owned(), encoding),
            Container::Xlsx => panic!("not text"),
        }
    }

    #[test]
    fn detects_windows_1252_from_invalid_utf8() {
        let (text, enc) = text_of(b"d\xe9p\xf4t;\x80");
        assert_eq!(text, "dépôt;€");
        assert_eq!(enc, TextEncoding::Windows1252);
    }

    #[test]
    fn strips_a_utf8_bom() {
        assert_eq!(
            text_of("\u{feff}cip13;stock".as_bytes()),
            ("cip13;stock".into(), TextEncoding::Utf8Bom)
        );
    }

    #[test]
    fn decodes_utf16_le_with_bom() {
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend("dépôt".encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(text_of(&bytes), ("dépôt".into(), TextEncoding::Utf16Le));
    }

    #[test]
    fn rejects_binary_and_empty_content() {
        assert_eq!(sniff(b"").unwrap_err().code, FileCode::FichierVide);
        assert_eq!(sniff(b"\r\n \n").unwrap_err().code, FileCode::FichierVide);
        assert_eq!(
            sniff(b"%PDF-1.7 ...").unwrap_err().code,
            FileCode::FormatInconnu
        );
        assert_eq!(
            sniff(b"abc\0def").unwrap_err().code,
            FileCode::FormatInconnu
        );
        assert_eq!(
            sniff(OLE_MAGIC).unwrap_err().code,
            FileCode::FormatNonPrisEnCharge
        );
        assert!(matches!(sniff(b"PK\x03\x04rest").unwrap(), Container::Xlsx));
    }
}

//! Reading the public BDPM files: tab-separated, no header, no quoting, an encoding that differs
//! per file (detected like declarations: UTF-8 when valid, else Windows-1252), CRLF in places,
//! fields with stray spaces. A line with the wrong number of fields or an invalid code is
//! counted as rejected, never guessed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::CatalogueError;
use super::model::{
    Catalogue, GenericGroup, GenericRole, Presentation, ShortageStatus, Specialty, Substance,
};
use crate::declaration::cells::parse_date;
use crate::declaration::decode::decode_text;
use medistock_domain::Cip13;

/// The BDPM files read, in the order they are needed.
pub const BDPM_FILES: [&str; 6] = [
    "CIS_bdpm.txt",
    "CIS_CIP_bdpm.txt",
    "CIS_COMPO_bdpm.txt",
    "CIS_GENER_bdpm.txt",
    "CIS_MITM.txt",
    "CIS_CIP_Dispo_Spec.txt",
];

/// Loads a catalogue from a folder holding the six BDPM files.
pub fn load_bdpm(dir: &Path) -> Result<Catalogue, CatalogueError> {
    let mut files = Vec::with_capacity(BDPM_FILES.len());
    for name in BDPM_FILES {
        let path = dir.join(name);
        if !path.is_file() {
            return Err(CatalogueError::MissingFile(path));
        }
        let bytes = std::fs::read(&path).map_err(|source| CatalogueError::Io {
            path: path.clone(),
            source,
        })?;
        files.push(decode_text(&bytes).0.into_owned());
    }
    Ok(parse_bdpm(
        &files[0], &files[1], &files[2], &files[3], &files[4], &files[5],
    ))
}

/// Rows of a BDPM file with exactly `width` fields (trimmed); other lines are counted.
fn rows<'t>(text: &'t str, width: usize, rejected: &mut usize) -> Vec<Vec<&'t str>> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
    {
        let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
        if fields.len() == width {
            out.push(fields);
        } else {
            *rejected += 1;
        }
    }
    out
}

fn is_cis(text: &str) -> bool {
    text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Builds the catalogue from the six files' decoded texts.
pub fn parse_bdpm(
    cis: &str,
    cip: &str,
    compo: &str,
    gener: &str,
    mitm: &str,
    dispo: &str,
) -> Catalogue {
    let mut cat = Catalogue::default();
    let mut rejected = 0usize;

    for f in rows(cis, 12, &mut rejected) {
        if !is_cis(f[0]) {
            rejected += 1;
            continue;
        }
        cat.specialties.insert(
            f[0].to_owned(),
            Specialty {
                cis: f[0].to_owned(),
                name: f[1].to_owned(),
                form: f[2].to_owned(),
                routes: f[3].to_owned(),
                holder: f[10].to_owned(),
                marketed: f[6] == "Commercialisée",
                substances: Vec::new(),
                mitm: false,
                atc: None,
                generic_group: None,
                generic_role: None,
            },
        );
    }

    for f in rows(cip, 13, &mut rejected) {
        match (is_cis(f[0]), Cip13::parse(f[6])) {
            (true, Ok(cip13)) => {
                cat.presentations.insert(
                    cip13,
                    Presentation {
                        cip13,
                        cis: f[0].to_owned(),
                        label: f[2].to_owned(),
                        marketed: f[4] == "Déclaration de commercialisation",
                        shortage: None,
                    },
                );
            }
            _ => rejected += 1,
        }
    }

    for f in rows(compo, 8, &mut rejected) {
        // Only active substances ("SA"); "FT" lines name the therapeutic fraction of the same
        // substance and would count it twice.
        if f[6] != "SA" {
            continue;
        }
        match cat.specialties.get_mut(f[0]) {
            Some(s) => s.substances.push(Substance {
                code: f[2].to_owned(),
                name: f[3].to_owned(),
                dosage: f[4].to_owned(),
            }),
            None => rejected += 1,
        }
    }

    for f in rows(gener, 5, &mut rejected) {
        let role = match f[3] {
            "0" => GenericRole::Princeps,
            "1" => GenericRole::Generique,
            "2" => GenericRole::Complementaire,
            "4" => GenericRole::Substituable,
            _ => {
                rejected += 1;
                continue;
            }
        };
        cat.generic_groups
            .entry(f[0].to_owned())
            .or_insert_with(|| GenericGroup {
                id: f[0].to_owned(),
                label: f[1].to_owned(),
            });
        if let Some(s) = cat.specialties.get_mut(f[2]) {
            s.generic_group = Some(f[0].to_owned());
            s.generic_role = Some(role);
        }
    }

    for f in rows(mitm, 4, &mut rejected) {
        if !is_cis(f[0]) {
            rejected += 1;
            continue;
        }
        cat.mitm_cis.insert(f[0].to_owned());
        if let Some(s) = cat.specialties.get_mut(f[0]) {
            s.mitm = true;
            s.atc = Some(f[1].to_owned()).filter(|a| !a.is_empty());
        }
    }

    let mut statuses = BTreeSet::new();
    let mut by_target: BTreeMap<(String, Option<Cip13>), ShortageStatus> = BTreeMap::new();
    for f in rows(dispo, 8, &mut rejected) {
        let code = match f[2].parse::<u8>() {
            Ok(c @ 1..=4) if is_cis(f[0]) => c,
            _ => {
                rejected += 1;
                continue;
            }
        };
        let cip13 = if f[1].is_empty() {
            None
        } else if let Ok(c) = Cip13::parse(f[1]) {
            Some(c)
        } else {
            rejected += 1;
            continue;
        };
        statuses.insert(f.join("\t"));
        let status = ShortageStatus {
            code,
            label: capitalise(f[3]),
            since: parse_date(f[4]),
            updated: parse_date(f[5]),
        };
        let key = (f[0].to_owned(), cip13);
        let newer = by_target
            .get(&key)
            .is_none_or(|old| status.updated >= old.updated);
        if newer {
            by_target.insert(key, status);
        }
    }
    cat.shortage_statuses = statuses.len();
    // A status without CIP13 applies to every presentation of the specialty; one given for a
    // presentation wins over it.
    for ((cis, cip13), status) in by_target {
        match cip13 {
            Some(c) => {
                if let Some(p) = cat.presentations.get_mut(&c) {
                    p.shortage = Some(status);
                }
            }
            None => {
                for p in cat
                    .presentations
                    .values_mut()
                    .filter(|p| p.cis == cis && p.shortage.is_none())
                {
                    p.shortage = Some(status.clone());
                }
            }
        }
    }
    cat.rejected_lines = rejected;
    cat
}

/// `remise à disposition` → `Remise à disposition` (one label is published in lower case).
fn capitalise(label: &str) -> String {
    let mut chars = label.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CIS: &str = "60002283\tANASTROZOLE ACCORD 1 mg, comprimé pelliculé\tcomprimé pelliculé\torale\tAutorisation active\tProcédure décentralisée\tCommercialisée\t16/03/2011\t\t\t ACCORD HEALTHCARE\tNon\r\n\
                       60009999\tAUTRE 5 mg, gélule\tgélule\torale\tAutorisation active\tProcédure nationale\tNon commercialisée\t01/01/2000\t\t\t LABO\tNon\r\n\
                       bad line\n";
    const CIP: &str = "60002283\t4949729\tplaquette de 30\tPrésentation active\tDéclaration de commercialisation\t16/03/2011\t3400949497294\toui\t100%\t24,34\t25,36\t1,02\t\n\
                       60002283\t4949770\tplaquette de 90\tPrésentation active\tDéclaration d'arrêt de commercialisation\t19/09/2011\t3400949497706\toui\t100%\t68,68\t71,44\t2,76\t\n\
                       60009999\t1234567\tflacon\tPrésentation active\tDéclaration de commercialisation\t01/01/2000\t3400912345679\tnon\t\t\t\t\t\n";
    const COMPO: &str = "60002283\tcomprimé\t42215\tANASTROZOLE\t1,00 mg\tun comprimé\tSA\t1\r\n\
                         60002283\tcomprimé\t42216\tANASTROZOLE BASE\t1,00 mg\tun comprimé\tFT\t1\r\n";
    const GENER: &str = "12\tANASTROZOLE 1 mg - ARIMIDEX 1 mg, comprimé\t60002283\t1\t2\r\n";
    const MITM: &str =
        "60002283\tL02BG03\tANASTROZOLE ACCORD 1 mg\thttp://x\r\n70000000\tX\tABSENT\thttp://y";
    const DISPO: &str = "60002283\t\t2\tTension d'approvisionnement\t01/04/2026\t18/05/2026\t\thttp://a\r\n\
                         60002283\t3400949497706\t4\tremise à disposition\t02/04/2026\t19/05/2026\t19/05/2026\thttp://b\r\n\
                         60002283\t3400949497706\t4\tremise à disposition\t02/04/2026\t19/05/2026\t19/05/2026\thttp://b\r\n";

    #[test]
    fn builds_the_catalogue_from_the_six_files() {
        let cat = parse_bdpm(CIS, CIP, COMPO, GENER, MITM, DISPO);
        let summary = cat.summary();
        assert_eq!(summary.cis, 2);
        assert_eq!(summary.presentations, 2);
        assert_eq!(summary.marketed_presentations, 1);
        assert_eq!(summary.mitm_cis, 2);
        assert_eq!(summary.generic_groups, 1);
        assert_eq!(
            summary.shortage_statuses, 2,
            "the duplicate line counts once"
        );
        // "bad line" in CIS, a CIP13 with a wrong check digit.
        assert_eq!(summary.rejected_lines, 2);

        let cip = Cip13::parse("3400949497294").unwrap();
        let spec = cat.specialty_of(&cip).unwrap();
        assert_eq!(spec.holder, "ACCORD HEALTHCARE");
        assert!(spec.mitm && spec.marketed);
        assert_eq!(spec.substances.len(), 1);
        assert_eq!(spec.generic_role, Some(GenericRole::Generique));
        assert_eq!(cat.presentations[&cip].shortage.as_ref().unwrap().code, 2);
        let stopped = &cat.presentations[&Cip13::parse("3400949497706").unwrap()];
        let status = stopped.shortage.as_ref().unwrap();
        assert_eq!(
            (status.code, status.label.as_str()),
            (4, "Remise à disposition")
        );
    }
}

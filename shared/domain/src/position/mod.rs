//! A declarant's position on a reference: per site, the newest figures it declared, and their
//! sum. What the state store holds per (reference, declarant), and the one rule that combines
//! a file's figures with those held ([`merge`]): newer figures or a correction of the same date
//! win, older ones never do.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{Cip13, DeclarantId};

pub mod site_columns;

/// An expected supply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Supply {
    /// Expected date.
    pub date: NaiveDate,
    /// Units expected.
    pub quantity: i64,
}

/// Most sites one position holds: a wholesaler has a few dozen depots; the bound keeps a
/// stored position far below DynamoDB's 400 KB item limit (each site carries at most one
/// supply, its line's).
pub const MAX_SITES_PER_POSITION: usize = 300;

/// One site's newest figures within a declarant's position (`site` is empty when the file
/// names no site).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteFigures {
    /// The site (depot), as declared; empty for a file without a `site` column.
    pub site: String,
    /// Date the figures are valid for.
    pub as_of: NaiveDate,
    /// Units available.
    pub stock: i64,
    /// Units held.
    pub stock_bloque: i64,
    /// Units out per day, when declared.
    pub daily_outflow: Option<f64>,
    /// Expected supplies.
    pub supplies: Vec<Supply>,
    /// SHA-256 of the file the figures come from.
    pub source_sha256: String,
    /// When that file was dropped: of two files with figures of the same date for a site, the
    /// later one is a correction and wins.
    pub uploaded_at: DateTime<Utc>,
}

/// A declarant's figures for a reference: per site, the newest figures declared, and their sum.
/// What the state store holds per (reference, declarant).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// The reference.
    pub cip13: Cip13,
    /// Who declared it.
    pub declarant: DeclarantId,
    /// Date of the newest site figures.
    pub as_of: NaiveDate,
    /// Units available (sum over sites).
    pub stock: i64,
    /// Units held (sum over sites).
    pub stock_bloque: i64,
    /// Units out per day (sum over the sites that declared it).
    pub daily_outflow: Option<f64>,
    /// Sites summed.
    pub sites: u32,
    /// Expected supplies, summed by date.
    pub supplies: Vec<Supply>,
    /// SHA-256 of the newest file that changed it.
    pub source_sha256: String,
    /// The figures of each site (empty for a position stored before sites were kept), stored
    /// as columns (see [`site_columns`]).
    #[serde(default, with = "site_columns", skip_serializing_if = "Vec::is_empty")]
    pub site_figures: Vec<SiteFigures>,
}

impl Position {
    /// The position of `sites` (at least one), their figures summed: quantities saturate
    /// rather than wrap.
    pub fn from_sites(
        cip13: Cip13,
        declarant: DeclarantId,
        mut sites: Vec<SiteFigures>,
    ) -> Option<Self> {
        sites.sort_by(|a, b| a.site.cmp(&b.site));
        let newest = sites.iter().max_by_key(|s| (s.as_of, s.uploaded_at))?;
        let as_of = newest.as_of;
        let source_sha256 = newest.source_sha256.clone();
        let outflows: Vec<f64> = sites.iter().filter_map(|s| s.daily_outflow).collect();
        let mut supplies: std::collections::BTreeMap<NaiveDate, i64> = Default::default();
        for supply in sites.iter().flat_map(|s| &s.supplies) {
            let sum = supplies.entry(supply.date).or_default();
            *sum = sum.saturating_add(supply.quantity);
        }
        Some(Self {
            cip13,
            declarant,
            as_of,
            stock: sites.iter().fold(0i64, |a, s| a.saturating_add(s.stock)),
            stock_bloque: sites
                .iter()
                .fold(0i64, |a, s| a.saturating_add(s.stock_bloque)),
            daily_outflow: (!outflows.is_empty()).then(|| outflows.iter().sum()),
            sites: sites.len() as u32,
            supplies: supplies
                .into_iter()
                .map(|(date, quantity)| Supply { date, quantity })
                .collect(),
            source_sha256,
            site_figures: sites,
        })
    }
}

/// A stored position's totals: every field of [`Position`] but its per-site figures, which
/// are skipped as they are read, never built (see [`Position::deserialize_totals`]).
#[derive(Deserialize)]
struct Totals {
    cip13: Cip13,
    declarant: DeclarantId,
    as_of: NaiveDate,
    stock: i64,
    stock_bloque: i64,
    daily_outflow: Option<f64>,
    sites: u32,
    supplies: Vec<Supply>,
    source_sha256: String,
}

impl Position {
    /// Reads a stored position without its per-site figures (`site_figures` empty): what the
    /// risk run and the synthesis need of every position, at a cost that does not grow with
    /// the declarant's depots.
    pub fn deserialize_totals<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Self, D::Error> {
        let t = Totals::deserialize(deserializer)?;
        Ok(Self {
            cip13: t.cip13,
            declarant: t.declarant,
            as_of: t.as_of,
            stock: t.stock,
            stock_bloque: t.stock_bloque,
            daily_outflow: t.daily_outflow,
            sites: t.sites,
            supplies: t.supplies,
            source_sha256: t.source_sha256,
            site_figures: Vec::new(),
        })
    }
}

/// What writing a file's position for one reference did, site by site.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PositionWrite {
    /// How many sites were written: new, newer, a correction, or the same file again.
    pub applied: usize,
    /// Among them, sites whose figures of the same date, from an earlier file, were replaced,
    /// or that complete that date (a line refused before and sent again).
    pub corrected: Vec<String>,
    /// Sites not written, with the date held: the position holds newer figures for them (a
    /// later date, or the same date from a later file).
    pub stale: Vec<(String, NaiveDate)>,
    /// Sites not written because the position already holds [`MAX_SITES_PER_POSITION`] sites.
    pub over_limit: Vec<String>,
}

impl PositionWrite {
    /// Whether anything was written.
    pub fn changed(&self) -> bool {
        self.applied > 0
    }
}

/// Merges a file's position into the one held: for each site of the file, its figures replace
/// the site's figures held when they are of a later date, or of the same date and from a
/// later file (a correction, e.g. a refused line sent again), or from the same file (a retry);
/// sites the file does not list keep their figures. Returns the position to store (`None`:
/// nothing to write) and what happened to each site.
///
/// A file without sites (the declarant's whole stock) and a file with sites are not added
/// together: when one form follows the other, the newer replaces the whole position. A
/// position stored before sites were kept (no site figures) is replaced whole by a strictly
/// newer file, as it was then.
pub fn merge(held: Option<&Position>, incoming: &Position) -> (Option<Position>, PositionWrite) {
    let Some(held) = held else {
        return replace_whole(incoming);
    };
    if held.site_figures.is_empty() {
        return if incoming.as_of > held.as_of || incoming.source_sha256 == held.source_sha256 {
            replace_whole(incoming)
        } else {
            keep_whole(incoming, held.as_of)
        };
    }
    // A file without sites declares the declarant's whole stock: it cannot be added to figures
    // per site. When one form follows the other, the newer file replaces the whole position.
    let is_total = |p: &Position| p.site_figures.iter().any(|s| s.site.is_empty());
    if is_total(held) != is_total(incoming) {
        let newest = |p: &Position| {
            p.site_figures
                .iter()
                .map(|s| (s.as_of, s.uploaded_at, s.source_sha256.clone()))
                .max()
        };
        return if newest(incoming) > newest(held) {
            replace_whole(incoming)
        } else {
            keep_whole(incoming, held.as_of)
        };
    }
    let mut write = PositionWrite::default();
    let mut sites = SitesByName::of(&held.site_figures);
    for new in &incoming.site_figures {
        match sites.find(&new.site) {
            Err(_) if sites.len() >= MAX_SITES_PER_POSITION => {
                write.over_limit.push(new.site.clone());
            }
            Err(at) => {
                // A site that completes a date already declared (its line refused, then sent
                // again) is reported with the corrections.
                if new.as_of == held.as_of && new.source_sha256 != held.source_sha256 {
                    write.corrected.push(new.site.clone());
                }
                sites.insert(at, new);
                write.applied += 1;
            }
            Ok(at) => {
                let old = sites.get(at);
                if replaces(new, old) {
                    if corrects(new, old) {
                        write.corrected.push(new.site.clone());
                    }
                    sites.replace(at, new);
                    write.applied += 1;
                } else {
                    write.stale.push((new.site.clone(), old.as_of));
                }
            }
        }
    }
    if write.applied == 0 {
        return (None, write);
    }
    let merged = Position::from_sites(held.cip13, held.declarant.clone(), sites.into_figures());
    (merged, write)
}

/// Whether a site's incoming figures replace those held: of a later date, of the same date
/// from a later drop (a correction), or from the same file (a retry).
fn replaces(new: &SiteFigures, old: &SiteFigures) -> bool {
    new.source_sha256 == old.source_sha256
        || new.as_of > old.as_of
        || (new.as_of == old.as_of
            && (new.uploaded_at, &new.source_sha256) > (old.uploaded_at, &old.source_sha256))
}

/// Whether figures that replace those held correct them: the same date, another file.
fn corrects(new: &SiteFigures, old: &SiteFigures) -> bool {
    new.as_of == old.as_of && new.source_sha256 != old.source_sha256
}

/// A position's sites by name, in order, one per name (the last one listed, where a name
/// repeats): what [`merge`] reads and replaces. A stored position lists its sites in that
/// order already, and a file's position names them in that order too, so a site is most
/// often found where the one before it left off, without a search.
struct SitesByName<'p> {
    sites: Vec<&'p SiteFigures>,
    /// Where the next site is looked for first.
    next: usize,
}

impl<'p> SitesByName<'p> {
    fn of(figures: &'p [SiteFigures]) -> Self {
        let mut sites: Vec<&SiteFigures> = figures.iter().collect();
        if !sites.windows(2).all(|w| w[0].site < w[1].site) {
            // Stable: of the sites of one name, the last one listed is kept, as it would be
            // by inserting them in turn.
            sites.sort_by(|a, b| a.site.cmp(&b.site));
            let mut unique: Vec<&SiteFigures> = Vec::with_capacity(sites.len());
            for site in sites {
                match unique.last_mut() {
                    Some(last) if last.site == site.site => *last = site,
                    _ => unique.push(site),
                }
            }
            sites = unique;
        }
        Self { sites, next: 0 }
    }

    fn len(&self) -> usize {
        self.sites.len()
    }

    /// The index of the site named `name`, or where it would be inserted.
    fn find(&mut self, name: &str) -> Result<usize, usize> {
        let found = match self.sites.get(self.next) {
            Some(s) if s.site == name => Ok(self.next),
            _ => self.sites.binary_search_by(|s| s.site.as_str().cmp(name)),
        };
        self.next = match found {
            Ok(at) => at + 1,
            Err(at) => at,
        };
        found
    }

    fn get(&self, at: usize) -> &'p SiteFigures {
        self.sites[at]
    }

    fn insert(&mut self, at: usize, site: &'p SiteFigures) {
        self.sites.insert(at, site);
        self.next = at + 1;
    }

    fn replace(&mut self, at: usize, site: &'p SiteFigures) {
        self.sites[at] = site;
    }

    fn into_figures(self) -> Vec<SiteFigures> {
        self.sites.into_iter().cloned().collect()
    }
}

/// The incoming position replaces the one held (or is the first), with at most
/// [`MAX_SITES_PER_POSITION`] sites: the others are reported, not stored.
fn replace_whole(incoming: &Position) -> (Option<Position>, PositionWrite) {
    let mut write = PositionWrite {
        applied: incoming.site_figures.len().min(MAX_SITES_PER_POSITION),
        ..PositionWrite::default()
    };
    if incoming.site_figures.len() <= MAX_SITES_PER_POSITION {
        return (Some(incoming.clone()), write);
    }
    write.over_limit = incoming.site_figures[MAX_SITES_PER_POSITION..]
        .iter()
        .map(|s| s.site.clone())
        .collect();
    let kept = incoming.site_figures[..MAX_SITES_PER_POSITION].to_vec();
    let position = Position::from_sites(incoming.cip13, incoming.declarant.clone(), kept);
    (position, write)
}

/// The position held stays: every site of the incoming one is older.
fn keep_whole(incoming: &Position, held_as_of: NaiveDate) -> (Option<Position>, PositionWrite) {
    let write = PositionWrite {
        stale: incoming
            .site_figures
            .iter()
            .map(|s| (s.site.clone(), held_as_of))
            .collect(),
        ..PositionWrite::default()
    };
    (None, write)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn site(name: &str, d: u32, stock: i64, sha: &str) -> SiteFigures {
        SiteFigures {
            site: name.to_owned(),
            as_of: day(d),
            stock,
            stock_bloque: 0,
            daily_outflow: None,
            supplies: Vec::new(),
            source_sha256: sha.to_owned(),
            uploaded_at: DateTime::from_timestamp(1_800_000_000 + i64::from(d), 0).unwrap(),
        }
    }

    fn position(sites: Vec<SiteFigures>) -> Position {
        Position::from_sites(
            Cip13::parse("3400949497294").unwrap(),
            DeclarantId::parse("gr-a").unwrap(),
            sites,
        )
        .unwrap()
    }

    #[test]
    fn a_total_and_figures_per_site_are_never_added_together() {
        let per_site = position(vec![
            site("Lyon", 20, 100, "a"),
            site("Lille", 20, 200, "a"),
        ]);
        let older_total = position(vec![site("", 19, 5000, "b")]);
        let (merged, write) = merge(Some(&per_site), &older_total);
        assert_eq!((merged, write.stale.len()), (None, 1));
        let newer_total = position(vec![site("", 21, 250, "c")]);
        let (merged, _) = merge(Some(&per_site), &newer_total);
        let merged = merged.unwrap();
        assert_eq!((merged.stock, merged.sites), (250, 1));
        let (back, _) = merge(Some(&merged), &per_site);
        assert_eq!(
            back, None,
            "older figures per site do not replace a newer total"
        );
    }

    #[test]
    fn a_position_stored_without_sites_is_replaced_whole_by_a_newer_file() {
        let mut legacy = position(vec![site("", 20, 900, "old")]);
        legacy.site_figures.clear();
        let newer = position(vec![site("Lyon", 21, 100, "new")]);
        let (merged, write) = merge(Some(&legacy), &newer);
        assert_eq!((merged.unwrap().stock, write.applied), (100, 1));
        let older = position(vec![site("Lyon", 19, 100, "older")]);
        assert_eq!(merge(Some(&legacy), &older).0, None);
    }

    #[test]
    fn a_first_file_with_more_sites_than_the_bound_stores_the_bound() {
        let sites: Vec<SiteFigures> = (0..MAX_SITES_PER_POSITION + 5)
            .map(|i| site(&format!("dépôt {i:04}"), 20, 1, "a"))
            .collect();
        let (stored, write) = merge(None, &position(sites));
        let stored = stored.unwrap();
        assert_eq!(stored.site_figures.len(), MAX_SITES_PER_POSITION);
        assert_eq!(stored.stock, MAX_SITES_PER_POSITION as i64);
        assert_eq!(
            (write.applied, write.over_limit.len()),
            (MAX_SITES_PER_POSITION, 5)
        );
    }

    /// The merge as first written, sites kept in an ordered map (the rule of one site shared):
    /// [`merge`] must do the same.
    fn merge_by_map(held: &Position, incoming: &Position) -> (Option<Position>, PositionWrite) {
        let mut write = PositionWrite::default();
        let mut sites: std::collections::BTreeMap<&str, &SiteFigures> = held
            .site_figures
            .iter()
            .map(|s| (s.site.as_str(), s))
            .collect();
        for new in &incoming.site_figures {
            match sites.get(new.site.as_str()) {
                None if sites.len() >= MAX_SITES_PER_POSITION => {
                    write.over_limit.push(new.site.clone());
                }
                None => {
                    if new.as_of == held.as_of && new.source_sha256 != held.source_sha256 {
                        write.corrected.push(new.site.clone());
                    }
                    sites.insert(&new.site, new);
                    write.applied += 1;
                }
                Some(old) => {
                    if replaces(new, old) {
                        if corrects(new, old) {
                            write.corrected.push(new.site.clone());
                        }
                        sites.insert(&new.site, new);
                        write.applied += 1;
                    } else {
                        write.stale.push((new.site.clone(), old.as_of));
                    }
                }
            }
        }
        if write.applied == 0 {
            return (None, write);
        }
        let merged = Position::from_sites(
            held.cip13,
            held.declarant.clone(),
            sites.into_values().cloned().collect(),
        );
        (merged, write)
    }

    #[test]
    fn the_merge_does_what_an_ordered_map_of_sites_does() {
        // Positions as stored (sites in order) and as no store writes them (out of order,
        // a name twice), sites shared or not, older, newer, same date from another file,
        // near the bound of sites.
        struct Draw(u64);
        impl Draw {
            fn below(&mut self, n: u64) -> u64 {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                self.0 % n
            }
            fn sites(&mut self, count: u64, names: u64, files: &[&str]) -> Vec<SiteFigures> {
                (0..count)
                    .map(|_| {
                        let file = files[self.below(files.len() as u64) as usize];
                        let mut s = site(
                            &format!("D{:03}", self.below(names)),
                            18 + self.below(4) as u32,
                            self.below(100) as i64,
                            file,
                        );
                        s.uploaded_at += chrono::Duration::seconds(self.below(3) as i64);
                        s
                    })
                    .collect()
            }
        }
        let mut draw = Draw(0x9e37_79b9_7f4a_7c15);
        // Cases that refused a site past the bound, kept a newer one, took a correction,
        // wrote nothing.
        let mut seen = [0usize; 4];
        for case in 0..3_000 {
            let near_bound = case % 50 == 0;
            let names = if near_bound { 320 } else { 12 };
            let held_count = if near_bound {
                290 + draw.below(20)
            } else {
                draw.below(10)
            }
            .max(1);
            let mut held = position(draw.sites(held_count, names, &["a", "b"]));
            if near_bound {
                // Every name once: the bound is reached.
                held = position(
                    (0..held_count)
                        .map(|i| site(&format!("D{i:03}"), 19, 1, "a"))
                        .collect(),
                );
            } else if case % 3 == 0 {
                // Stored out of order, names repeated: a store's bytes, not the merge's.
                held.site_figures = draw.sites(held_count, names, &["a", "b"]);
            }
            let incoming_count = draw.below(if near_bound { 40 } else { 10 }).max(1);
            let mut incoming = position(draw.sites(incoming_count, names, &["b", "c"]));
            if case % 4 == 0 {
                incoming.site_figures.reverse();
            }
            let (merged, write) = merge(Some(&held), &incoming);
            let (expected, expected_write) = merge_by_map(&held, &incoming);
            assert_eq!((merged, &write), (expected, &expected_write), "case {case}");
            seen[0] += usize::from(!write.over_limit.is_empty());
            seen[1] += usize::from(!write.stale.is_empty());
            seen[2] += usize::from(!write.corrected.is_empty());
            seen[3] += usize::from(write.applied == 0);
        }
        assert!(seen.iter().all(|n| *n > 10), "{seen:?}");
    }

    #[test]
    fn sums_saturate() {
        let p = position(vec![site("A", 20, i64::MAX, "a"), site("B", 20, 10, "a")]);
        assert_eq!(p.stock, i64::MAX);
    }
}

//! How a position's per-site figures are stored: one array per field and a table of the files
//! they come from, instead of one object per site repeating its file's 64-character hash and
//! reception time. A national wholesaler's position holds 180 sites: stored as objects that
//! is about 230 bytes a site, as columns about 45, which is what the ingest writes and the
//! merge reads back for every reference of every file.
//!
//! Reading accepts both forms: positions stored as a list of objects stay readable.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{SiteFigures, Supply};

/// The stored form: `source[i]` indexes `sources`, every other array has one entry per site.
/// The date, the blocked stock and the source, the same for every site of most positions (a
/// file declares its sites of one date), are stored once when they are ([`Column::All`]).
#[derive(Serialize, Deserialize)]
struct Columns<'a> {
    #[serde(borrow)]
    sources: Vec<Source<'a>>,
    site: Vec<std::borrow::Cow<'a, str>>,
    as_of: Column<IsoDate>,
    stock: Vec<i64>,
    stock_bloque: Column<i64>,
    daily_outflow: Vec<Option<f64>>,
    supplies: Vec<Vec<Supply>>,
    source: Column<u32>,
}

/// A column of per-site values: one value for every site (stored as that value), or one per
/// site (stored as an array, the only form before).
enum Column<T> {
    All(T),
    Each(Vec<T>),
}

impl<T: PartialEq> Column<T> {
    /// The column of `values`, stored once when there are several and all are equal.
    fn of(mut values: Vec<T>) -> Self {
        match values.split_first() {
            Some((first, rest)) if !rest.is_empty() && rest.iter().all(|v| v == first) => {
                Column::All(values.swap_remove(0))
            }
            _ => Column::Each(values),
        }
    }
}

impl<T> Column<T> {
    /// Whether it holds a value for each of `n` sites.
    fn fits(&self, n: usize) -> bool {
        match self {
            Column::All(_) => true,
            Column::Each(values) => values.len() == n,
        }
    }
}

impl<T: Clone> Column<T> {
    /// One value per site, for `n` sites (the length checked by [`Column::fits`]).
    fn spread(self, n: usize) -> Vec<T> {
        match self {
            Column::All(value) => vec![value; n],
            Column::Each(values) => values,
        }
    }

    /// The first value that fails `check`.
    fn failing(&self, check: impl Fn(&T) -> bool) -> Option<&T> {
        match self {
            Column::All(value) => Some(value).filter(|v| !check(v)),
            Column::Each(values) => values.iter().find(|v| !check(v)),
        }
    }
}

impl<T: Serialize> Serialize for Column<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Column::All(value) => value.serialize(serializer),
            Column::Each(values) => values.serialize(serializer),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Column<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ColumnVisitor(std::marker::PhantomData))
    }
}

struct ColumnVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ColumnVisitor<T> {
    type Value = Column<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("une valeur, ou une valeur par site")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Column<T>, A::Error> {
        let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(value) = seq.next_element()? {
            values.push(value);
        }
        Ok(Column::Each(values))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Column<T>, E> {
        T::deserialize(de::value::StrDeserializer::new(v)).map(Column::All)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Column<T>, E> {
        T::deserialize(de::value::U64Deserializer::new(v)).map(Column::All)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Column<T>, E> {
        T::deserialize(de::value::I64Deserializer::new(v)).map(Column::All)
    }
}

/// A date as chrono writes and reads it (`2026-11-20`), written without going through `fmt`
/// and read without chrono's general parser: a national position writes and reads 180 of them
/// at every merge.
#[derive(Clone, Copy, PartialEq)]
struct IsoDate(NaiveDate);

impl<'de> Deserialize<'de> for IsoDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(IsoDateVisitor)
    }
}

struct IsoDateVisitor;

impl Visitor<'_> for IsoDateVisitor {
    type Value = IsoDate;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("une date AAAA-MM-JJ")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<IsoDate, E> {
        let b = text.as_bytes();
        let digits = |range: std::ops::Range<usize>| {
            b[range].iter().try_fold(0u32, |n, d| {
                d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
            })
        };
        // The common form, four-digit year: any other (a sign, more digits, a date that does
        // not exist) is left to chrono, which reads or refuses it as it always did.
        if b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10))
            && let Some(date) = i32::try_from(y)
                .ok()
                .and_then(|y| NaiveDate::from_ymd_opt(y, m, d))
        {
            return Ok(IsoDate(date));
        }
        text.parse().map(IsoDate).map_err(E::custom)
    }
}

impl Serialize for IsoDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Chrono writes years outside 0..=9999 with a sign and more digits.
        let Some(year) = u32::try_from(self.0.year()).ok().filter(|y| *y <= 9999) else {
            return self.0.serialize(serializer);
        };
        let digits = |out: &mut [u8], mut value: u32| {
            for slot in out.iter_mut().rev() {
                *slot = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        let mut text = *b"0000-00-00";
        digits(&mut text[..4], year);
        digits(&mut text[5..7], self.0.month());
        digits(&mut text[8..], self.0.day());
        // Digits and dashes only.
        serializer.serialize_str(std::str::from_utf8(&text).map_err(serde::ser::Error::custom)?)
    }
}

/// A file some sites' figures come from.
#[derive(Serialize, Deserialize)]
struct Source<'a> {
    #[serde(borrow)]
    sha256: std::borrow::Cow<'a, str>,
    uploaded_at: DateTime<Utc>,
}

/// Serializes per-site figures as columns (for `#[serde(with)]`).
pub fn serialize<S: Serializer>(sites: &[SiteFigures], serializer: S) -> Result<S::Ok, S::Error> {
    let mut index: HashMap<(&str, DateTime<Utc>), u32> = HashMap::new();
    let mut sources = Vec::new();
    let mut source = Vec::with_capacity(sites.len());
    // Consecutive sites mostly come from one file: the last one found is tried first.
    let mut last: Option<((&str, DateTime<Utc>), u32)> = None;
    for s in sites {
        let key = (s.source_sha256.as_str(), s.uploaded_at);
        let i = match last {
            Some((seen, i)) if seen == key => i,
            _ => {
                let next = sources.len() as u32;
                *index.entry(key).or_insert_with(|| {
                    sources.push(Source {
                        sha256: s.source_sha256.as_str().into(),
                        uploaded_at: s.uploaded_at,
                    });
                    next
                })
            }
        };
        last = Some((key, i));
        source.push(i);
    }
    Columns {
        sources,
        site: sites.iter().map(|s| s.site.as_str().into()).collect(),
        as_of: Column::of(sites.iter().map(|s| IsoDate(s.as_of)).collect()),
        stock: sites.iter().map(|s| s.stock).collect(),
        stock_bloque: Column::of(sites.iter().map(|s| s.stock_bloque).collect()),
        daily_outflow: sites.iter().map(|s| s.daily_outflow).collect(),
        supplies: sites.iter().map(|s| s.supplies.clone()).collect(),
        source: Column::of(source),
    }
    .serialize(serializer)
}

/// Reads per-site figures stored as columns, or as a list of objects (the earlier form).
pub fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<SiteFigures>, D::Error> {
    deserializer.deserialize_any(SitesVisitor)
}

/// The per-site figures as the JSON text stored apart (DynamoDB's `site_figures` attribute).
pub fn to_json(sites: &[SiteFigures]) -> Result<String, serde_json::Error> {
    let mut out = Vec::with_capacity(64 + sites.len() * 48);
    serialize(sites, &mut serde_json::Serializer::new(&mut out))?;
    // serde_json writes UTF-8 only.
    String::from_utf8(out).map_err(|e| serde::ser::Error::custom(e.to_string()))
}

/// Reads the JSON text written by [`to_json`], or a list of objects (the earlier form).
pub fn from_json(text: &str) -> Result<Vec<SiteFigures>, serde_json::Error> {
    deserialize(&mut serde_json::Deserializer::from_str(text))
}

struct SitesVisitor;

impl<'de> Visitor<'de> for SitesVisitor {
    type Value = Vec<SiteFigures>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("les chiffres par site, en colonnes ou en liste")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(site) = seq.next_element::<SiteFigures>()? {
            out.push(site);
        }
        Ok(out)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let c = Columns::deserialize(de::value::MapAccessDeserializer::new(map))?;
        let n = c.site.len();
        let lengths = [c.stock.len(), c.daily_outflow.len(), c.supplies.len()];
        if lengths.iter().any(|len| *len != n)
            || !(c.as_of.fits(n) && c.stock_bloque.fits(n) && c.source.fits(n))
        {
            return Err(de::Error::custom(
                "chiffres par site : colonnes de longueurs différentes",
            ));
        }
        // Every source named exists in the table, even a shared one with no site.
        let sources = c.sources;
        if let Some(source) = c.source.failing(|i| (*i as usize) < sources.len()) {
            return Err(de::Error::custom(format!(
                "chiffres par site : fichier source {source} absent de la table"
            )));
        }
        let columns = c
            .site
            .into_iter()
            .zip(c.stock)
            .zip(c.daily_outflow)
            .zip(c.supplies)
            .zip(c.as_of.spread(n))
            .zip(c.stock_bloque.spread(n))
            .zip(c.source.spread(n));
        let mut out = Vec::with_capacity(n);
        for ((((((site, stock), daily_outflow), supplies), as_of), stock_bloque), source) in columns
        {
            // Within the table: checked above.
            let from = &sources[source as usize];
            out.push(SiteFigures {
                site: site.into_owned(),
                as_of: as_of.0,
                stock,
                stock_bloque,
                daily_outflow,
                supplies,
                source_sha256: from.sha256.to_string(),
                uploaded_at: from.uploaded_at,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(site: &str, sha: &str, second: i64, supplies: Vec<Supply>) -> SiteFigures {
        SiteFigures {
            site: site.to_owned(),
            as_of: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            stock: 120,
            stock_bloque: 3,
            daily_outflow: Some(4.5),
            supplies,
            source_sha256: sha.to_owned(),
            uploaded_at: DateTime::from_timestamp(1_800_000_000 + second, 0).unwrap(),
        }
    }

    fn sample() -> Vec<SiteFigures> {
        let supply = Supply {
            date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            quantity: 500,
        };
        vec![
            figures("Lyon « nord »", &"a".repeat(64), 0, vec![supply]),
            figures("Lille", &"a".repeat(64), 0, Vec::new()),
            SiteFigures {
                daily_outflow: None,
                ..figures("Rennes", &"b".repeat(64), 60, Vec::new())
            },
        ]
    }

    #[test]
    fn columns_round_trip_with_one_entry_per_source() {
        let sites = sample();
        let json = to_json(&sites).unwrap();
        assert_eq!(json.matches(&"a".repeat(64)).count(), 1, "{json}");
        assert_eq!(from_json(&json).unwrap(), sites);
    }

    /// A file's 180 depots of one date: the date, the blocked stock and the source stored
    /// once; a position whose sites differ keeps one value per site; both read back the same.
    #[test]
    fn values_shared_by_every_site_are_stored_once() {
        let national: Vec<SiteFigures> = (0..180)
            .map(|i| figures(&format!("Dépôt {i:03}"), &"a".repeat(64), 0, Vec::new()))
            .collect();
        let json = to_json(&national).unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["as_of"], "2026-11-20");
        assert_eq!(value["stock_bloque"], 3);
        assert_eq!(value["source"], 0);
        assert_eq!(value["stock"].as_array().map(Vec::len), Some(180));
        assert_eq!(from_json(&json).unwrap(), national);
        let mut mixed = national.clone();
        mixed[7].as_of = NaiveDate::from_ymd_opt(2026, 11, 19).unwrap();
        mixed[9].stock_bloque = 0;
        mixed[11].source_sha256 = "b".repeat(64);
        let json = to_json(&mixed).unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        for column in ["as_of", "stock_bloque", "source"] {
            assert_eq!(
                value[column].as_array().map(Vec::len),
                Some(180),
                "{column}"
            );
        }
        assert_eq!(from_json(&json).unwrap(), mixed);
        // Stored before: every column an array, still read.
        let mut before =
            serde_json::from_str::<serde_json::Value>(&to_json(&national).unwrap()).unwrap();
        before["as_of"] = serde_json::json!(vec!["2026-11-20"; 180]);
        before["stock_bloque"] = serde_json::json!(vec![3; 180]);
        before["source"] = serde_json::json!(vec![0; 180]);
        assert_eq!(from_json(&before.to_string()).unwrap(), national);
        // A value of the wrong kind is refused, not misread.
        // Shared values at the ends of their ranges, dates chrono writes with a sign.
        for (stock_bloque, year) in [(i64::MIN, 10_000), (i64::MAX, -1), (-5, 0)] {
            let extreme: Vec<SiteFigures> = national
                .iter()
                .take(3)
                .map(|s| SiteFigures {
                    stock_bloque,
                    as_of: NaiveDate::from_ymd_opt(year, 6, 15).unwrap(),
                    ..s.clone()
                })
                .collect();
            let json = to_json(&extreme).unwrap();
            assert!(!json.contains("\"as_of\":["), "{json}");
            assert_eq!(from_json(&json).unwrap(), extreme, "{json}");
        }
        let nowhere = r#"{"sources":[],"site":[],"as_of":"2026-11-20","stock":[],"stock_bloque":0,"daily_outflow":[],"supplies":[],"source":7}"#;
        assert!(from_json(nowhere).is_err());
        for (column, wrong) in [
            ("as_of", serde_json::json!(20261120)),
            ("stock_bloque", serde_json::json!("3")),
            ("source", serde_json::json!(-1)),
            ("source", serde_json::json!(3)),
        ] {
            let mut bad = before.clone();
            bad[column] = wrong;
            assert!(from_json(&bad.to_string()).is_err(), "{column} {bad}");
        }
    }

    #[test]
    fn the_earlier_list_of_objects_is_still_read() {
        let sites = sample();
        let listed = serde_json::to_string(&sites).unwrap();
        assert!(listed.starts_with('['));
        assert_eq!(from_json(&listed).unwrap(), sites);
    }

    #[test]
    fn columns_are_several_times_smaller_than_objects() {
        let sites: Vec<SiteFigures> = (0..180)
            .map(|i| figures(&format!("DEPOT-{i:03}"), &"c".repeat(64), 0, Vec::new()))
            .collect();
        let columns = to_json(&sites).unwrap().len();
        let objects = serde_json::to_string(&sites).unwrap().len();
        assert!(columns * 4 < objects, "{columns} vs {objects}");
    }

    #[test]
    fn dates_are_written_as_chrono_writes_them() {
        let mut dates: Vec<NaiveDate> = [
            (0, 1, 1),
            (1, 2, 3),
            (999, 12, 31),
            (2026, 11, 20),
            (9999, 12, 31),
            (10_000, 1, 1),
            (-1, 6, 15),
            (-10_000, 1, 1),
        ]
        .into_iter()
        .filter_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d))
        .collect();
        dates.extend([NaiveDate::MIN, NaiveDate::MAX]);
        dates.extend((0..800).filter_map(|i| {
            NaiveDate::from_ymd_opt(2024, 1, 1)?.checked_add_days(chrono::Days::new(i))
        }));
        for date in dates {
            let ours = serde_json::to_string(&IsoDate(date)).unwrap();
            assert_eq!(ours, serde_json::to_string(&date).unwrap(), "{date:?}");
            let back: IsoDate = serde_json::from_str(&ours).unwrap();
            assert_eq!(back.0, date);
        }
    }

    #[test]
    fn dates_are_read_as_chrono_reads_them() {
        let texts = [
            "2026-11-20",
            "0000-01-01",
            "9999-12-31",
            "2024-02-29",
            "2026-02-29",
            "2026-02-30",
            "2026-13-01",
            "2026-00-10",
            "2026-11-00",
            "2026-1-05",
            "2026-11-5",
            "+2026-11-20",
            "-0001-06-15",
            "+10000-01-01",
            "2026/11/20",
            "2026-11-2x",
            " 026-11-20",
            "２０２６-11-20",
            "",
            "20261120",
        ];
        for text in texts {
            let json = serde_json::to_string(text).unwrap();
            let ours = serde_json::from_str::<IsoDate>(&json).map(|d| d.0).ok();
            let chrono = serde_json::from_str::<NaiveDate>(&json).ok();
            assert_eq!(ours, chrono, "{text:?}");
        }
        assert!(serde_json::from_str::<IsoDate>("20261120").is_err());
    }

    #[test]
    fn sites_from_alternating_files_keep_their_source() {
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        let sites: Vec<SiteFigures> = (0..6)
            .map(|i| {
                let sha = if i % 2 == 0 { &a } else { &b };
                figures(
                    &format!("DEPOT-{i}"),
                    sha,
                    i64::from(i % 2) * 60,
                    Vec::new(),
                )
            })
            .collect();
        let json = to_json(&sites).unwrap();
        assert_eq!(json.matches(&a).count(), 1, "{json}");
        assert_eq!(json.matches(&b).count(), 1, "{json}");
        assert_eq!(from_json(&json).unwrap(), sites);
    }

    #[test]
    fn inconsistent_columns_are_refused_not_misread() {
        let mut value: serde_json::Value =
            serde_json::from_str(&to_json(&sample()).unwrap()).unwrap();
        value["stock"].as_array_mut().unwrap().pop();
        assert!(from_json(&value.to_string()).is_err());
        let mut value: serde_json::Value =
            serde_json::from_str(&to_json(&sample()).unwrap()).unwrap();
        value["source"][0] = serde_json::json!(7);
        let err = from_json(&value.to_string()).unwrap_err().to_string();
        assert!(err.contains("fichier source 7"), "{err}");
    }
}

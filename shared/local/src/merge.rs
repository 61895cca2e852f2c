//! The merge of a batch of positions with what the database holds, on the machine's cores:
//! decoding a held position, merging and encoding the result are pure and cost about 4.4 KB
//! of JSON each way for a national wholesaler's position of 180 depots. The reads and the writes
//! stay in the caller's one transaction; only the work between them is spread.

use medistock_domain::position::{Position, PositionWrite, merge};
use medistock_domain::store::StoreError;

use crate::state::corrupt;

/// Threads a batch is merged on at most (the caller's included).
const MAX_THREADS: usize = 4;

/// Positions under which a batch is merged on the caller's thread alone: a thread costs more
/// than a small file's merge.
const PARALLEL_FROM: usize = 64;

/// What to write for one position of the batch: the merged position's JSON and that of its
/// totals (the position without its sites) when the merge changed it, and what it did.
pub(crate) struct Merged {
    pub(crate) row: Option<(String, String)>,
    pub(crate) write: PositionWrite,
}

/// Merges each incoming position with the JSON held for it (`held[i]` for `incoming[i]`);
/// the results come in the order of `incoming`. Each is merged with what was held before the
/// batch: a caller whose batch names one (reference, declarant) twice merges them one at a
/// time instead. A held JSON that does not decode fails the batch, as it does read alone.
pub(crate) fn merge_batch(
    held: Vec<Option<String>>,
    incoming: &[Position],
) -> Result<Vec<Merged>, StoreError> {
    debug_assert_eq!(held.len(), incoming.len());
    // Read once per process: the standard library reads the cgroup files at every call.
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let threads = *THREADS.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_THREADS)
    });
    merge_on(held, incoming, threads)
}

fn merge_on(
    mut held: Vec<Option<String>>,
    incoming: &[Position],
    threads: usize,
) -> Result<Vec<Merged>, StoreError> {
    if threads < 2 || incoming.len() < PARALLEL_FROM {
        return merge_chunk(&mut held, incoming);
    }
    let chunk = incoming.len().div_ceil(threads);
    let mut parts: Vec<(&mut [Option<String>], &[Position])> =
        held.chunks_mut(chunk).zip(incoming.chunks(chunk)).collect();
    // The caller's thread takes the first part while the others are merged beside it.
    let (first_held, first_incoming) = parts.remove(0);
    let chunks = std::thread::scope(|scope| {
        let others: Vec<_> = parts
            .into_iter()
            .map(|(held, incoming)| {
                std::thread::Builder::new().spawn_scoped(scope, move || merge_chunk(held, incoming))
            })
            .collect();
        let mut chunks = vec![merge_chunk(first_held, first_incoming)];
        for other in others {
            chunks.push(match other {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                // The system refused a thread: the batch fails (its transaction is not
                // committed) rather than the process, and its write is retried.
                Err(e) => Err(StoreError::Local(format!(
                    "fusion des positions : fil d'exécution refusé par le système : {e}"
                ))),
            });
        }
        chunks
    });
    let mut out = Vec::with_capacity(incoming.len());
    for chunk in chunks {
        out.extend(chunk?);
    }
    Ok(out)
}

fn merge_chunk(
    held: &mut [Option<String>],
    incoming: &[Position],
) -> Result<Vec<Merged>, StoreError> {
    held.iter_mut()
        .zip(incoming)
        .map(|(held, incoming)| merge_one(held.take(), incoming))
        .collect()
}

/// Merges one incoming position with the JSON held for it.
pub(crate) fn merge_one(held: Option<String>, incoming: &Position) -> Result<Merged, StoreError> {
    let held: Option<Position> = held
        .map(|json| serde_json::from_str(&json).map_err(corrupt))
        .transpose()?;
    let (merged, write) = merge(held.as_ref(), incoming);
    drop(held);
    let row = merged
        .map(|merged| {
            let json = serde_json::to_string(&merged).map_err(corrupt)?;
            let totals = serde_json::to_string(&Position {
                site_figures: Vec::new(),
                ..merged
            })
            .map_err(corrupt)?;
            Ok::<_, StoreError>((json, totals))
        })
        .transpose()?;
    Ok(Merged { row, write })
}

#[cfg(test)]
mod tests {
    use super::*;
    use medistock_domain::Cip13;
    use medistock_domain::position::{SiteFigures, Supply};

    /// The position of reference number `n` (a valid CIP13 each) with `sites` depots dated
    /// `day` of November 2026, from file `sha`.
    fn position(n: usize, sites: usize, day: u32, sha: &str) -> Position {
        // A CIP7 becomes 34009 + CIP7 + its computed check digit.
        let cip13 = Cip13::parse(&format!("{:07}", 3_000_000 + n)).unwrap();
        let figures = (0..sites)
            .map(|s| SiteFigures {
                site: format!("D{s:03}"),
                as_of: chrono::NaiveDate::from_ymd_opt(2026, 11, day).unwrap(),
                stock: (n * 7 + s) as i64,
                stock_bloque: (s % 3) as i64,
                daily_outflow: (s % 4 != 0).then_some(1.5 * s as f64),
                supplies: vec![Supply {
                    date: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
                    quantity: s as i64,
                }],
                source_sha256: sha.to_owned(),
                uploaded_at: format!("2026-11-{day:02}T08:00:00Z").parse().unwrap(),
            })
            .collect();
        Position::from_sites(cip13, "gr-a".parse().unwrap(), figures).unwrap()
    }

    /// A batch where some positions are new, some held older (merged), some held newer
    /// (refused as stale), some held with other depots (completed).
    fn batch() -> (Vec<Option<String>>, Vec<Position>) {
        let incoming: Vec<Position> = (0..150).map(|n| position(n, 6, 20, "new")).collect();
        let held = (0..150)
            .map(|n| match n % 4 {
                0 => None,
                1 => Some(position(n, 6, 19, "old")),
                2 => Some(position(n, 6, 21, "later")),
                _ => Some(position(n, 9, 18, "other")),
            })
            .map(|p| p.map(|p| serde_json::to_string(&p).unwrap()))
            .collect();
        (held, incoming)
    }

    /// Spread over threads or not, the batch gives the same rows and writes, in order, as the
    /// merge of each position on its own.
    #[test]
    fn a_batch_merges_alike_on_any_number_of_threads() {
        let (held, incoming) = batch();
        let expected: Vec<(Option<Position>, PositionWrite)> = held
            .iter()
            .zip(&incoming)
            .map(|(h, p)| {
                let h: Option<Position> = h.as_deref().map(|j| serde_json::from_str(j).unwrap());
                merge(h.as_ref(), p)
            })
            .collect();
        assert!(expected.iter().any(|(m, _)| m.is_none()), "a stale one");
        assert!(expected.iter().any(|(_, w)| !w.stale.is_empty()));
        for threads in [1, 2, 3, 4] {
            let merged = merge_on(held.clone(), &incoming, threads).unwrap();
            assert_eq!(merged.len(), incoming.len());
            for (got, (position, write)) in merged.iter().zip(&expected) {
                assert_eq!(&got.write, write, "{threads} threads");
                let decoded = got
                    .row
                    .as_ref()
                    .map(|(json, _)| serde_json::from_str::<Position>(json).unwrap());
                assert_eq!(&decoded, position, "{threads} threads");
                if let (Some((_, totals)), Some(position)) = (&got.row, position) {
                    let totals: Position = serde_json::from_str(totals).unwrap();
                    assert!(totals.site_figures.is_empty());
                    assert_eq!(totals.stock, position.stock);
                    assert_eq!(totals.sites, position.sites);
                }
            }
        }
    }

    /// A held position that does not decode fails the whole batch, whichever thread met it.
    #[test]
    fn a_corrupt_held_position_fails_the_batch_on_any_thread() {
        for at in [0, 75, 149] {
            let (mut held, incoming) = batch();
            held[at] = Some("{pas du json".to_owned());
            for threads in [1, 2, 4] {
                let result = merge_on(held.clone(), &incoming, threads);
                assert!(
                    matches!(result, Err(StoreError::Corrupt(_))),
                    "position {at}, {threads} threads"
                );
            }
        }
    }

    /// Under the bound a batch stays on the caller's thread, at the bound it is spread: both
    /// give the merge of each position.
    #[test]
    fn batches_at_the_parallel_bound_merge_alike() {
        for len in [PARALLEL_FROM - 1, PARALLEL_FROM, PARALLEL_FROM + 1] {
            let (held, incoming) = batch();
            let (held, incoming) = (held[..len].to_vec(), incoming[..len].to_vec());
            let one = merge_on(held.clone(), &incoming, 1).unwrap();
            let spread = merge_on(held, &incoming, 3).unwrap();
            assert_eq!(one.len(), len);
            for (a, b) in one.iter().zip(&spread) {
                assert_eq!(a.row, b.row);
                assert_eq!(a.write, b.write);
            }
        }
    }
}

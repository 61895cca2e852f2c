//! State in an embedded SQLite database, with the guarantees of the DynamoDB adapter expressed
//! as transactions and conditional upserts.

use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use medistock_domain::account::Account;
use rusqlite::{Connection, OptionalExtension, params};

use medistock_domain::Cip13;
use medistock_domain::lifecycle::AlertState;
use medistock_domain::measure::Measure;
use medistock_domain::position::{Position, PositionWrite};

use crate::merge::{Merged, merge_batch, merge_one};
use medistock_domain::store::{
    AccountStore, AlertOutbox, AlertRecord, AlertStateStore, AlertStatus, Claim, FileLedger,
    FileStatus, LedgerEntry, MeasureStore, PositionStore, RiskItem, RiskStore, StoreError,
};

/// Bytes of a page of a database created here. A national wholesaler's position (180 depots)
/// is about 4.4 KB of JSON (7.3 KB before a value shared by its sites was stored once): in
/// SQLite's default 4 KB pages each row spills into a chain of overflow pages, and every page
/// is a write of its own to the log, then to the database. In 16 KB pages the row fits in
/// one: the 20,000 positions of a national file of 7.3 KB each were written in about half the
/// time (0.87 s → 0.48 s inserted, 0.84–1.09 s → 0.45–0.53 s updated, in batches of 250 as the
/// ingest writes them). A database created with other pages keeps them
/// (the size of a database in WAL mode cannot change).
const PAGE_SIZE: u32 = 16_384;

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS declarant_positions (
    cip13 TEXT NOT NULL,
    declarant TEXT NOT NULL,
    position TEXT NOT NULL,
    totals TEXT,
    PRIMARY KEY (cip13, declarant)
);
CREATE TABLE IF NOT EXISTS ledger (
    declarant TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    entry TEXT NOT NULL,
    PRIMARY KEY (declarant, sha256)
);
CREATE TABLE IF NOT EXISTS risks (
    cip13 TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    item TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    key TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS measures (
    id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_states (
    subject TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    record TEXT NOT NULL
);
";

/// State in one SQLite file (or in memory for tests).
#[derive(Debug)]
pub struct LocalState {
    conn: Mutex<Connection>,
}

/// Whether no (reference, declarant) comes twice in `positions`.
fn distinct_keys(positions: &[Position]) -> bool {
    let mut keys = std::collections::HashSet::with_capacity(positions.len());
    positions
        .iter()
        .all(|p| keys.insert((p.cip13.as_str(), p.declarant.as_str())))
}

/// An SQLite failure, as the ports report it.
fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Local(e.to_string())
}

pub(crate) fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl LocalState {
    /// Opens (and creates) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
                path: parent.to_owned(),
                source,
            })?;
        }
        Self::with(Connection::open(path).map_err(db)?)
    }

    /// A database in memory.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::with(Connection::open_in_memory().map_err(db)?)
    }

    /// Writes the write-ahead log back into the database file and empties it, as SQLite does
    /// by itself every 1,000 pages: a benchmark calls it after its set-up, so that the run it
    /// measures does not pay for the set-up's writes.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(db)
    }

    fn with(conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(db)?;
        // Before the log is switched on: a page size is set only while the database is empty.
        conn.pragma_update(None, "page_size", PAGE_SIZE)
            .map_err(db)?;
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        // A database created before the positions' totals were kept apart: the column is
        // added, and rows without totals are read from their whole position until rewritten.
        let has_totals = conn
            .prepare("SELECT 1 FROM pragma_table_info('declarant_positions') WHERE name = 'totals'")
            .and_then(|mut stmt| stmt.exists([]))
            .map_err(db)?;
        if !has_totals {
            match conn.execute_batch("ALTER TABLE declarant_positions ADD COLUMN totals TEXT") {
                // Another process opening the same database added it first.
                Err(e) if e.to_string().contains("duplicate column") => {}
                other => other.map_err(db)?,
            }
        }
        // A program that does not know the totals column (an older version) rewrites the
        // position alone: its totals are then cleared, and read from the whole position.
        conn.execute_batch(
            "CREATE TRIGGER IF NOT EXISTS positions_totals_follow
             AFTER UPDATE OF position ON declarant_positions
             WHEN NEW.totals IS OLD.totals AND NEW.position IS NOT OLD.position
             BEGIN
                 UPDATE declarant_positions SET totals = NULL
                 WHERE cip13 = NEW.cip13 AND declarant = NEW.declarant;
             END;",
        )
        .map_err(db)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every position held with its per-site figures, for commands that list them.
    pub fn all_positions(&self) -> Result<Vec<Position>, StoreError> {
        read_positions(
            &self.conn(),
            "SELECT position FROM declarant_positions ORDER BY cip13, declarant",
            [],
        )
    }
}

fn read_positions(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Position>, StoreError> {
    let mut stmt = conn.prepare(sql).map_err(db)?;
    let rows = stmt
        .query_map(params, |r| r.get::<_, String>(0))
        .map_err(db)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(serde_json::from_str(&row.map_err(db)?).map_err(corrupt)?);
    }
    Ok(out)
}

fn read_entry(
    conn: &Connection,
    declarant: &str,
    sha256: &str,
) -> Result<Option<LedgerEntry>, StoreError> {
    let json: Option<String> = conn
        .query_row(
            "SELECT entry FROM ledger WHERE declarant = ?1 AND sha256 = ?2",
            [declarant, sha256],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?;
    json.map(|j| serde_json::from_str(&j).map_err(corrupt))
        .transpose()
}

fn write_entry(conn: &Connection, entry: &LedgerEntry) -> Result<(), StoreError> {
    let json = serde_json::to_string(entry).map_err(corrupt)?;
    conn.execute(
        "INSERT INTO ledger (declarant, sha256, entry) VALUES (?1, ?2, ?3)
         ON CONFLICT(declarant, sha256) DO UPDATE SET entry = excluded.entry",
        params![entry.declarant, entry.sha256, json],
    )
    .map_err(db)?;
    Ok(())
}

impl FileLedger for LocalState {
    async fn claim_file(&self, entry: &LedgerEntry) -> Result<Claim, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        let claim = match read_entry(&tx, &entry.declarant, &entry.sha256)? {
            Some(held) if held.status == FileStatus::Applied => Claim::Done(held),
            // A live claim under another run's token; this run's own (a claim repeated) is
            // this run's still.
            Some(held)
                if held.status == FileStatus::Processing
                    && held.lease_until > entry.received_at
                    && !held.claimed_by(&entry.owner) =>
            {
                Claim::InProgress(held)
            }
            _ => {
                write_entry(&tx, entry)?;
                Claim::Acquired
            }
        };
        tx.commit().map_err(db)?;
        Ok(claim)
    }

    async fn finish_file(&self, entry: &LedgerEntry) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        // This run's claim, or this very end already written (a finish repeated).
        let ours = read_entry(&tx, &entry.declarant, &entry.sha256)?
            .is_some_and(|held| held.claimed_by(&entry.owner) || held.is_end_of(entry));
        if ours {
            write_entry(&tx, entry)?;
        }
        tx.commit().map_err(db)?;
        Ok(ours)
    }

    async fn release_file(
        &self,
        declarant: &str,
        sha256: &str,
        owner: &str,
    ) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "DELETE FROM ledger WHERE declarant = ?1 AND sha256 = ?2
               AND json_extract(entry, '$.status') = 'processing'
               AND json_extract(entry, '$.owner') = ?3",
                [declarant, sha256, owner],
            )
            .map_err(db)?;
        Ok(())
    }

    async fn file(&self, declarant: &str, sha256: &str) -> Result<Option<LedgerEntry>, StoreError> {
        read_entry(&self.conn(), declarant, sha256)
    }

    async fn files_received(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT entry FROM ledger").map_err(db)?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(db)?;
        let mut entries = Vec::new();
        for row in rows {
            entries.push(serde_json::from_str::<LedgerEntry>(&row.map_err(db)?).map_err(corrupt)?);
        }
        Ok(LedgerEntry::received_between(entries, from, to))
    }
}

impl AccountStore for LocalState {
    async fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        let json: Option<String> = self
            .conn()
            .query_row("SELECT account FROM accounts WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db)?;
        json.map(|j| serde_json::from_str(&j).map_err(corrupt))
            .transpose()
    }

    async fn put_account(&self, account: &Account) -> Result<(), StoreError> {
        let json = serde_json::to_string(account).map_err(corrupt)?;
        self.conn().execute(
            "INSERT INTO accounts (id, account) VALUES (?1, ?2) ON CONFLICT(id) DO UPDATE SET account = excluded.account",
            params![account.id.as_str(), json],
        ).map_err(db)?;
        Ok(())
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT account FROM accounts ORDER BY id")
            .map_err(db)?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(db)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(serde_json::from_str(&row.map_err(db)?).map_err(corrupt)?);
        }
        Ok(out)
    }
}

impl PositionStore for LocalState {
    async fn apply_positions(
        &self,
        positions: &[Position],
    ) -> Result<Vec<PositionWrite>, StoreError> {
        let mut conn = self.conn();
        // One immediate transaction: the read, the merge and the write of every position are
        // atomic with respect to any other writer of the database.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        let mut out = Vec::with_capacity(positions.len());
        {
            let mut read = tx
                .prepare(
                    "SELECT position FROM declarant_positions WHERE cip13 = ?1 AND declarant = ?2",
                )
                .map_err(db)?;
            // The totals apart (the position without its sites): the daily sweep reads them
            // at a cost that does not grow with the declarant's depots.
            let mut upsert = tx
                .prepare(
                    "INSERT INTO declarant_positions (cip13, declarant, position, totals)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(cip13, declarant) DO UPDATE
                 SET position = excluded.position, totals = excluded.totals",
                )
                .map_err(db)?;
            let mut read_held = |p: &Position| {
                read.query_row(params![p.cip13.as_str(), p.declarant.as_str()], |r| {
                    r.get::<_, String>(0)
                })
                .optional()
                .map_err(db)
            };
            let mut write = |p: &Position, merged: Merged| {
                if let Some((json, totals)) = merged.row {
                    upsert
                        .execute(params![
                            p.cip13.as_str(),
                            p.declarant.as_str(),
                            json,
                            totals
                        ])
                        .map_err(db)?;
                }
                out.push(merged.write);
                Ok::<_, StoreError>(())
            };
            if distinct_keys(positions) {
                // Read in the transaction, merged and encoded on the machine's cores, written
                // in the same transaction.
                let held = positions
                    .iter()
                    .map(&mut read_held)
                    .collect::<Result<Vec<_>, _>>()?;
                for (p, merged) in positions.iter().zip(merge_batch(held, positions)?) {
                    write(p, merged)?;
                }
            } else {
                // A position twice in the batch: each is merged with what the one before
                // wrote, one after the other.
                for p in positions {
                    write(p, merge_one(read_held(p)?, p)?)?;
                }
            }
        }
        tx.commit().map_err(db)?;
        Ok(out)
    }

    async fn positions(&self, cip13: &Cip13) -> Result<Vec<Position>, StoreError> {
        read_positions(
            &self.conn(),
            "SELECT position FROM declarant_positions WHERE cip13 = ?1 ORDER BY declarant",
            [cip13.as_str()],
        )
    }

    async fn all_positions(&self) -> Result<Vec<Position>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT COALESCE(totals, position) FROM declarant_positions ORDER BY cip13, declarant",
            )
            .map_err(db)?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(db)?;
        let mut out = Vec::new();
        for row in rows {
            let json = row.map_err(db)?;
            let mut reader = serde_json::Deserializer::from_str(&json);
            out.push(Position::deserialize_totals(&mut reader).map_err(corrupt)?);
        }
        Ok(out)
    }
}

impl RiskStore for LocalState {
    async fn risk_items(&self) -> Result<Vec<RiskItem>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT item FROM risks ORDER BY cip13")
            .map_err(db)?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(db)?;
        rows.map(|r| {
            r.map_err(db)
                .and_then(|j| serde_json::from_str(&j).map_err(corrupt))
        })
        .collect()
    }

    async fn put_risk(
        &self,
        item: &RiskItem,
        expected_version: Option<u64>,
    ) -> Result<bool, StoreError> {
        let written = self.put_risks(&[(item.clone(), expected_version)]).await?;
        Ok(written.first().copied().unwrap_or(false))
    }

    async fn put_risks(&self, items: &[(RiskItem, Option<u64>)]) -> Result<Vec<bool>, StoreError> {
        // One transaction: one sync to disk for the day's 20,000 subjects, not one each.
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        let mut out = Vec::with_capacity(items.len());
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO risks (cip13, version, item) VALUES (?1, ?2, ?3) ON CONFLICT(cip13) DO NOTHING",
                )
                .map_err(db)?;
            let mut update = tx
                .prepare(
                    "UPDATE risks SET version = ?2, item = ?3 WHERE cip13 = ?1 AND version = ?4",
                )
                .map_err(db)?;
            for (item, expected) in items {
                let json = serde_json::to_string(item).map_err(corrupt)?;
                let changed = match expected {
                    None => insert.execute(params![item.subject, item.version, json]),
                    Some(expected) => {
                        update.execute(params![item.subject, item.version, json, expected])
                    }
                }
                .map_err(db)?;
                out.push(changed == 1);
            }
        }
        tx.commit().map_err(db)?;
        Ok(out)
    }
}

impl AlertOutbox for LocalState {
    async fn put_alert_once(&self, alert: &AlertRecord) -> Result<bool, StoreError> {
        let json = serde_json::to_string(alert).map_err(corrupt)?;
        let created = self.conn().execute(
            "INSERT INTO alerts (key, created_at, status, record) VALUES (?1, ?2, ?3, ?4) ON CONFLICT(key) DO NOTHING",
            params![alert.key, alert.created_at.to_rfc3339(), alert.status.as_str(), json],
        ).map_err(db)?;
        Ok(created == 1)
    }

    async fn alert(&self, key: &str) -> Result<Option<AlertRecord>, StoreError> {
        let json: Option<String> = self
            .conn()
            .query_row("SELECT record FROM alerts WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db)?;
        json.map(|j| serde_json::from_str(&j).map_err(corrupt))
            .transpose()
    }

    async fn alerts_with_status(
        &self,
        status: AlertStatus,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT record FROM alerts WHERE status = ?1 ORDER BY created_at, key")
            .map_err(db)?;
        let rows = stmt
            .query_map([status.as_str()], |r| r.get::<_, String>(0))
            .map_err(db)?;
        rows.map(|r| {
            r.map_err(db)
                .and_then(|j| serde_json::from_str(&j).map_err(corrupt))
        })
        .collect()
    }

    async fn update_alert(
        &self,
        record: &AlertRecord,
        from: AlertStatus,
    ) -> Result<bool, StoreError> {
        let changed = self
            .conn()
            .execute(
                "UPDATE alerts SET status = ?2, record = ?3 WHERE key = ?1 AND status = ?4",
                params![
                    record.key,
                    record.status.as_str(),
                    serde_json::to_string(record).map_err(corrupt)?,
                    from.as_str()
                ],
            )
            .map_err(db)?;
        Ok(changed == 1)
    }
}

/// Reads every versioned record of a table (`measures`, `alert_states`).
fn versioned<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    table: &str,
    key_column: &str,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn
        .prepare(&format!("SELECT record FROM {table} ORDER BY {key_column}"))
        .map_err(db)?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(db)?;
    rows.map(|r| {
        r.map_err(db)
            .and_then(|j| serde_json::from_str(&j).map_err(corrupt))
    })
    .collect()
}

/// Writes a versioned record if the stored one still has `expected` (`None`: none stored).
fn put_versioned(
    conn: &Connection,
    table: &str,
    key_column: &str,
    key: &str,
    version: u64,
    json: String,
    expected: Option<u64>,
) -> Result<bool, StoreError> {
    let changed = match expected {
        None => conn.execute(
            &format!(
                "INSERT INTO {table} ({key_column}, version, record) VALUES (?1, ?2, ?3) \
                 ON CONFLICT({key_column}) DO NOTHING"
            ),
            params![key, version, json],
        ),
        Some(v) => conn.execute(
            &format!(
                "UPDATE {table} SET version = ?2, record = ?3 WHERE {key_column} = ?1 AND version = ?4"
            ),
            params![key, version, json, v],
        ),
    }
    .map_err(db)?;
    Ok(changed == 1)
}

impl MeasureStore for LocalState {
    async fn measures(&self) -> Result<Vec<Measure>, StoreError> {
        versioned(&self.conn(), "measures", "id")
    }

    async fn put_measure(
        &self,
        measure: &Measure,
        expected_version: Option<u64>,
    ) -> Result<bool, StoreError> {
        let json = serde_json::to_string(measure).map_err(corrupt)?;
        put_versioned(
            &self.conn(),
            "measures",
            "id",
            &measure.id,
            measure.version,
            json,
            expected_version,
        )
    }
}

impl AlertStateStore for LocalState {
    async fn alert_states(&self) -> Result<Vec<AlertState>, StoreError> {
        versioned(&self.conn(), "alert_states", "subject")
    }

    async fn alert_state(&self, subject: &str) -> Result<Option<AlertState>, StoreError> {
        let json: Option<String> = self
            .conn()
            .query_row(
                "SELECT record FROM alert_states WHERE subject = ?1",
                [subject],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        json.map(|j| serde_json::from_str(&j).map_err(corrupt))
            .transpose()
    }

    async fn put_alert_state(
        &self,
        state: &AlertState,
        expected_version: Option<u64>,
    ) -> Result<bool, StoreError> {
        let json = serde_json::to_string(state).map_err(corrupt)?;
        put_versioned(
            &self.conn(),
            "alert_states",
            "subject",
            &state.subject,
            state.version,
            json,
            expected_version,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medistock_domain::position::SiteFigures;
    use medistock_domain::store::PositionStore;

    fn position(stock: i64) -> Position {
        let site = |name: &str| SiteFigures {
            site: name.to_owned(),
            as_of: "2026-11-20".parse().unwrap(),
            stock,
            stock_bloque: 0,
            daily_outflow: Some(10.0),
            supplies: Vec::new(),
            source_sha256: "abc".into(),
            uploaded_at: "2026-11-20T08:00:00Z".parse().unwrap(),
        };
        Position::from_sites(
            Cip13::parse("3400949497294").unwrap(),
            "gr-a".parse().unwrap(),
            vec![site("Lyon"), site("Lille")],
        )
        .unwrap()
    }

    /// A new database has pages of [`PAGE_SIZE`]; one created with 4 KB pages (and without
    /// the log, as a database of another program would be) keeps them, opens and takes
    /// positions.
    #[tokio::test]
    async fn a_new_database_has_large_pages_and_an_older_one_keeps_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let page_size = |path: &Path| {
            Connection::open(path)
                .unwrap()
                .query_row("PRAGMA page_size", [], |r| r.get::<_, u32>(0))
                .unwrap()
        };
        let new = dir.path().join("new.sqlite");
        LocalState::open(&new)
            .unwrap()
            .apply_positions(&[position(100)])
            .await
            .unwrap();
        assert_eq!(page_size(&new), PAGE_SIZE);
        let older = dir.path().join("older.sqlite");
        {
            let conn = Connection::open(&older).unwrap();
            conn.execute_batch(
                "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE t (x);",
            )
            .unwrap();
        }
        let state = LocalState::open(&older).unwrap();
        state.apply_positions(&[position(100)]).await.unwrap();
        assert_eq!(state.all_positions().unwrap(), [position(100)]);
        drop(state);
        assert_eq!(page_size(&older), 4096);
    }

    /// A database written before the totals were kept apart opens, reads its positions (from
    /// the whole position), and keeps the totals of every position written afterwards.
    #[tokio::test]
    async fn a_database_without_totals_is_read_then_completed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let old = position(100);
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE declarant_positions (cip13 TEXT NOT NULL, declarant TEXT NOT NULL,
                 position TEXT NOT NULL, PRIMARY KEY (cip13, declarant));",
            )
            .unwrap();
            conn.execute(
                "INSERT INTO declarant_positions VALUES (?1, ?2, ?3)",
                params![
                    old.cip13.as_str(),
                    old.declarant.as_str(),
                    serde_json::to_string(&old).unwrap()
                ],
            )
            .unwrap();
        }
        let state = LocalState::open(&path).unwrap();
        let totals = |p: &Position| Position {
            site_figures: Vec::new(),
            ..p.clone()
        };
        assert_eq!(
            PositionStore::all_positions(&state).await.unwrap(),
            [totals(&old)]
        );
        assert_eq!(
            LocalState::all_positions(&state).unwrap(),
            std::slice::from_ref(&old)
        );
        let mut newer = position(70);
        for site in &mut newer.site_figures {
            site.as_of = "2026-11-21".parse().unwrap();
        }
        let newer =
            Position::from_sites(newer.cip13, newer.declarant.clone(), newer.site_figures).unwrap();
        state
            .apply_positions(std::slice::from_ref(&newer))
            .await
            .unwrap();
        let stored: Option<String> = state
            .conn()
            .query_row("SELECT totals FROM declarant_positions", [], |r| r.get(0))
            .unwrap();
        assert!(
            stored.is_some_and(|t| !t.contains("Lyon")),
            "the totals hold no site"
        );
        assert_eq!(
            PositionStore::all_positions(&state).await.unwrap(),
            [totals(&newer)]
        );
        assert_eq!(
            state.positions(&newer.cip13).await.unwrap(),
            std::slice::from_ref(&newer)
        );
        // An older program rewrites the position alone: the stale totals are not read.
        state
            .conn()
            .execute(
                "UPDATE declarant_positions SET position = ?1",
                params![serde_json::to_string(&old).unwrap()],
            )
            .unwrap();
        assert_eq!(
            PositionStore::all_positions(&state).await.unwrap(),
            [totals(&old)]
        );
    }
}

//! State in an embedded SQLite database, with the guarantees of the DynamoDB adapter expressed
//! as transactions and conditional upserts.

use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, Utc};

use crate::sftp::Account;
use rusqlite::{Connection, OptionalExtension, params};

use crate::domain::{Cip13, DeclarantId};
use crate::positions::{Position, Supply};
use crate::store::{
    AlertRecord, AlertStatus, Claim, FileStatus, LedgerEntry, PositionWrite, RiskItem, StateStore,
    StoreError,
};

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS positions (
    cip13 TEXT NOT NULL,
    declarant TEXT NOT NULL,
    as_of TEXT NOT NULL,
    stock INTEGER NOT NULL,
    stock_bloque INTEGER NOT NULL,
    daily_outflow REAL,
    sites INTEGER NOT NULL,
    supplies TEXT NOT NULL,
    source_sha256 TEXT NOT NULL,
    PRIMARY KEY (cip13, declarant)
);
CREATE TABLE IF NOT EXISTS files (
    sha256 TEXT PRIMARY KEY,
    entry TEXT NOT NULL
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
";

/// State in one SQLite file (or in memory for tests).
#[derive(Debug)]
pub struct LocalState {
    conn: Mutex<Connection>,
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
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
        Self::with(Connection::open(path)?)
    }

    /// A database in memory.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::with(Connection::open_in_memory()?)
    }

    fn with(conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every position held, for commands that list them.
    pub fn all_positions(&self) -> Result<Vec<Position>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {POSITION_COLUMNS} FROM positions ORDER BY cip13, declarant"
        ))?;
        let rows = stmt.query_map([], row_to_raw)?;
        rows.map(|r| r.map_err(StoreError::from).and_then(raw_to_position))
            .collect()
    }
}

const POSITION_COLUMNS: &str =
    "cip13, declarant, as_of, stock, stock_bloque, daily_outflow, sites, supplies, source_sha256";

type RawPosition = (
    String,
    String,
    String,
    i64,
    i64,
    Option<f64>,
    u32,
    String,
    String,
);

fn row_to_raw(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawPosition> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
    ))
}

fn raw_to_position(raw: RawPosition) -> Result<Position, StoreError> {
    let (
        cip13,
        declarant,
        as_of,
        stock,
        stock_bloque,
        daily_outflow,
        sites,
        supplies,
        source_sha256,
    ) = raw;
    Ok(Position {
        cip13: Cip13::parse(&cip13).map_err(corrupt)?,
        declarant: DeclarantId::parse(&declarant).map_err(corrupt)?,
        as_of: as_of.parse::<NaiveDate>().map_err(corrupt)?,
        stock,
        stock_bloque,
        daily_outflow,
        sites,
        supplies: serde_json::from_str::<Vec<Supply>>(&supplies).map_err(corrupt)?,
        source_sha256,
    })
}

fn read_entry(conn: &Connection, sha256: &str) -> Result<Option<LedgerEntry>, StoreError> {
    let json: Option<String> = conn
        .query_row("SELECT entry FROM files WHERE sha256 = ?1", [sha256], |r| {
            r.get(0)
        })
        .optional()?;
    json.map(|j| serde_json::from_str(&j).map_err(corrupt))
        .transpose()
}

fn write_entry(conn: &Connection, entry: &LedgerEntry) -> Result<(), StoreError> {
    let json = serde_json::to_string(entry).map_err(corrupt)?;
    conn.execute(
        "INSERT INTO files (sha256, entry) VALUES (?1, ?2) ON CONFLICT(sha256) DO UPDATE SET entry = excluded.entry",
        params![entry.sha256, json],
    )?;
    Ok(())
}

impl StateStore for LocalState {
    async fn claim_file(&self, entry: &LedgerEntry) -> Result<Claim, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let claim = match read_entry(&tx, &entry.sha256)? {
            Some(held) if held.status != FileStatus::Processing => Claim::Done(held),
            Some(held) if held.lease_until > entry.received_at => Claim::InProgress(held),
            _ => {
                write_entry(&tx, entry)?;
                Claim::Acquired
            }
        };
        tx.commit()?;
        Ok(claim)
    }

    async fn finish_file(&self, entry: &LedgerEntry) -> Result<(), StoreError> {
        write_entry(&self.conn(), entry)
    }

    async fn release_file(&self, sha256: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "DELETE FROM files WHERE sha256 = ?1 AND json_extract(entry, '$.status') = 'processing'",
            [sha256],
        )?;
        Ok(())
    }

    async fn file(&self, sha256: &str) -> Result<Option<LedgerEntry>, StoreError> {
        read_entry(&self.conn(), sha256)
    }

    async fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        let json: Option<String> = self
            .conn()
            .query_row("SELECT account FROM accounts WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        json.map(|j| serde_json::from_str(&j).map_err(corrupt))
            .transpose()
    }

    async fn put_account(&self, account: &Account) -> Result<(), StoreError> {
        let json = serde_json::to_string(account).map_err(corrupt)?;
        self.conn().execute(
            "INSERT INTO accounts (id, account) VALUES (?1, ?2) ON CONFLICT(id) DO UPDATE SET account = excluded.account",
            params![account.id.as_str(), json],
        )?;
        Ok(())
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT account FROM accounts ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(serde_json::from_str(&row?).map_err(corrupt)?);
        }
        Ok(out)
    }

    async fn files_received(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT entry FROM files")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut entries = Vec::new();
        for row in rows {
            entries.push(serde_json::from_str::<LedgerEntry>(&row?).map_err(corrupt)?);
        }
        Ok(LedgerEntry::received_between(entries, from, to))
    }

    async fn apply_positions(
        &self,
        positions: &[Position],
    ) -> Result<Vec<PositionWrite>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut out = Vec::with_capacity(positions.len());
        {
            let mut upsert = tx.prepare(&format!(
                "INSERT INTO positions ({POSITION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT(cip13, declarant) DO UPDATE SET
                    as_of = excluded.as_of, stock = excluded.stock, stock_bloque = excluded.stock_bloque,
                    daily_outflow = excluded.daily_outflow, sites = excluded.sites,
                    supplies = excluded.supplies, source_sha256 = excluded.source_sha256
                 WHERE excluded.as_of > positions.as_of
                    OR (excluded.as_of = positions.as_of AND excluded.source_sha256 = positions.source_sha256)"
            ))?;
            let mut held =
                tx.prepare("SELECT as_of FROM positions WHERE cip13 = ?1 AND declarant = ?2")?;
            for p in positions {
                let supplies = serde_json::to_string(&p.supplies).map_err(corrupt)?;
                let changed = upsert.execute(params![
                    p.cip13.as_str(),
                    p.declarant.as_str(),
                    p.as_of.to_string(),
                    p.stock,
                    p.stock_bloque,
                    p.daily_outflow,
                    p.sites,
                    supplies,
                    p.source_sha256,
                ])?;
                if changed == 1 {
                    out.push(PositionWrite::Applied);
                } else {
                    let as_of: String = held
                        .query_row(params![p.cip13.as_str(), p.declarant.as_str()], |r| {
                            r.get(0)
                        })?;
                    out.push(PositionWrite::NotNewer {
                        held_as_of: as_of.parse().map_err(corrupt)?,
                    });
                }
            }
        }
        tx.commit()?;
        Ok(out)
    }

    async fn positions(&self, cip13: &Cip13) -> Result<Vec<Position>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {POSITION_COLUMNS} FROM positions WHERE cip13 = ?1 ORDER BY declarant"
        ))?;
        let rows = stmt.query_map([cip13.as_str()], row_to_raw)?;
        rows.map(|r| r.map_err(StoreError::from).and_then(raw_to_position))
            .collect()
    }

    async fn all_positions(&self) -> Result<Vec<Position>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {POSITION_COLUMNS} FROM positions ORDER BY cip13, declarant"
        ))?;
        let rows = stmt.query_map([], row_to_raw)?;
        rows.map(|r| r.map_err(StoreError::from).and_then(raw_to_position))
            .collect()
    }

    async fn risk_items(&self) -> Result<Vec<RiskItem>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT item FROM risks ORDER BY cip13")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|r| {
            r.map_err(StoreError::from)
                .and_then(|j| serde_json::from_str(&j).map_err(corrupt))
        })
        .collect()
    }

    async fn put_risk(
        &self,
        item: &RiskItem,
        expected_version: Option<u64>,
    ) -> Result<bool, StoreError> {
        let json = serde_json::to_string(item).map_err(corrupt)?;
        let conn = self.conn();
        let changed = match expected_version {
            None => conn.execute(
                "INSERT INTO risks (cip13, version, item) VALUES (?1, ?2, ?3) ON CONFLICT(cip13) DO NOTHING",
                params![item.subject, item.version, json],
            )?,
            Some(expected) => conn.execute(
                "UPDATE risks SET version = ?2, item = ?3 WHERE cip13 = ?1 AND version = ?4",
                params![item.subject, item.version, json, expected],
            )?,
        };
        Ok(changed == 1)
    }

    async fn put_alert_once(&self, alert: &AlertRecord) -> Result<bool, StoreError> {
        let json = serde_json::to_string(alert).map_err(corrupt)?;
        let created = self.conn().execute(
            "INSERT INTO alerts (key, created_at, status, record) VALUES (?1, ?2, 'pending', ?3) ON CONFLICT(key) DO NOTHING",
            params![alert.key, alert.created_at.to_rfc3339(), json],
        )?;
        Ok(created == 1)
    }

    async fn alert(&self, key: &str) -> Result<Option<AlertRecord>, StoreError> {
        let json: Option<String> = self
            .conn()
            .query_row("SELECT record FROM alerts WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?;
        json.map(|j| serde_json::from_str(&j).map_err(corrupt))
            .transpose()
    }

    async fn pending_alerts(&self) -> Result<Vec<AlertRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT record FROM alerts WHERE status = 'pending' ORDER BY created_at, key",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|r| {
            r.map_err(StoreError::from)
                .and_then(|j| serde_json::from_str(&j).map_err(corrupt))
        })
        .collect()
    }

    async fn mark_alert_sent(&self, key: &str, message_id: &str) -> Result<(), StoreError> {
        let conn = self.conn();
        let json: Option<String> = conn
            .query_row("SELECT record FROM alerts WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(json) = json else {
            return Err(StoreError::Corrupt(format!("alerte inconnue : {key}")));
        };
        let mut record: AlertRecord = serde_json::from_str(&json).map_err(corrupt)?;
        record.status = AlertStatus::Sent;
        record.message_id = Some(message_id.to_owned());
        conn.execute(
            "UPDATE alerts SET status = 'sent', record = ?2 WHERE key = ?1",
            params![key, serde_json::to_string(&record).map_err(corrupt)?],
        )?;
        Ok(())
    }
}

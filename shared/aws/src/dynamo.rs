//! State in one DynamoDB table (single-table design, see `docs/architecture.md`). The key
//! layout is spelled once, in [`keys`]:
//!
//! | pk | sk | item |
//! |---|---|---|
//! | `REF#<cip13>` | `POS#<declarant>` | latest position |
//! | `REF#<cip13>` | `RISK` | a reference's risk item |
//! | `GROUPE#<group>` | `RISK` | a group's risk item (the pk is the subject) |
//! | `FILE#<declarant>#<sha256>` | `META` | file ledger (per declarant: the same bytes from two declarants are two files) |
//! | `DECLARANT#<id>` | `ACCOUNT` | declarant's account |
//! | `ALERT#<first segment of the key>` | `<key>` | alert outbox record |
//! | `MEASURE` | `<measure id>` | one of ANSM's measures |
//! | `ALERTSTATE` | `<subject>` | a subject's acknowledgement and silence |
//!
//! Every guarantee is a condition expression evaluated by DynamoDB, so concurrent Lambdas
//! cannot break it. Positions are conditional `PutItem`s, one per (reference, declarant), sent
//! concurrently: `BatchWriteItem` cannot carry a condition.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, NaiveDate, Utc};

use crate::{aws_error, conditional};
use medistock_domain::account::Account;
use medistock_domain::lifecycle::AlertState;
use medistock_domain::measure::Measure;
use medistock_domain::position::{Position, PositionWrite, Supply, merge, site_columns};
use medistock_domain::store::{
    AccountStore, AlertOutbox, AlertRecord, AlertStateStore, AlertStatus, Claim, FileLedger,
    FileStatus, LedgerEntry, MeasureStore, PositionStore, RiskItem, RiskStore, StoreError,
};
use medistock_domain::{Cip13, DeclarantId};

/// Conditional position writes in flight at once.
const WRITE_CONCURRENCY: usize = 16;
/// Read-merge-write attempts on one position before giving up (each lost race means another
/// file of the same declarant wrote the same reference in between). Between two attempts the
/// writer waits a random few milliseconds, more after each loss, so that racing writers spread
/// out instead of colliding again.
const MERGE_ATTEMPTS: u32 = 25;

type Item = HashMap<String, AttributeValue>;

/// State in a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoState {
    client: Client,
    table: Arc<str>,
}

impl DynamoState {
    /// Wraps a client built once at start-up, for `table`.
    pub fn new(client: Client, table: impl Into<Arc<str>>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&*self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| aws_error("DynamoDB.GetItem", e))?;
        Ok(out.item)
    }

    /// The alert records of one partition of the sparse index (`keys::HELD`, `keys::PENDING`
    /// or `keys::PENDING_REFUSED`) whose time is at or before `until`, oldest first, the `limit` first
    /// only when given: the scheduled pass runs every quarter of an hour, one query each, the
    /// sort key (RFC 3339 in UTC, which sorts as time) bounded.
    async fn scheduled(
        &self,
        partition: &str,
        until: DateTime<Utc>,
        limit: Option<usize>,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        if limit == Some(0) {
            // DynamoDB refuses a limit of 0.
            return Ok(Vec::new());
        }
        let request = self
            .client
            .query()
            .table_name(&*self.table)
            .index_name(keys::HELD_INDEX)
            .key_condition_expression("#held = :held AND #at <= :until")
            .expression_attribute_names("#held", keys::HELD_PK)
            .expression_attribute_names("#at", keys::HELD_AT)
            .expression_attribute_values(":held", s(partition))
            .expression_attribute_values(":until", s(until.to_rfc3339()));
        let items = match limit {
            // One page of the oldest (the index reads its sort key ascending).
            Some(limit) => request
                .limit(i32::try_from(limit).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(|e| aws_error("DynamoDB.Query", e))?
                .items
                .unwrap_or_default(),
            None => query_all(request).await?,
        };
        let mut out = items.iter().map(alert_of).collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| (a.created_at, &a.key).cmp(&(b.created_at, &b.key)));
        Ok(out)
    }

    /// Items whose keys start with these prefixes (a daily sweep: a scan, paginated).
    async fn scan_prefix(&self, pk: &str, sk: &str) -> Result<Vec<Item>, StoreError> {
        self.scan(
            "begins_with(pk, :pk) AND begins_with(sk, :sk)",
            &[],
            &[(":pk", pk), (":sk", sk)],
        )
        .await
    }

    /// Every item matching a filter, all pages (daily sweeps only: a scan reads the table).
    async fn scan(
        &self,
        filter: &str,
        names: &[(&str, &str)],
        values: &[(&str, &str)],
    ) -> Result<Vec<Item>, StoreError> {
        self.scan_projected(filter, names, values, None).await
    }

    /// [`Self::scan`], returning only the attributes of `projection` when given.
    async fn scan_projected(
        &self,
        filter: &str,
        names: &[(&str, &str)],
        values: &[(&str, &str)],
        projection: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut request = self
            .client
            .scan()
            .table_name(&*self.table)
            .filter_expression(filter)
            .set_projection_expression(projection.map(str::to_owned))
            .consistent_read(true);
        for (name, attribute) in names {
            request = request.expression_attribute_names(*name, *attribute);
        }
        for (name, value) in values {
            request = request.expression_attribute_values(*name, s(*value));
        }
        let mut pages = request.into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("DynamoDB.Scan", e))?;
            out.extend(page.items().iter().cloned());
        }
        Ok(out)
    }

    /// Reads the position held, merges the file's into it and writes the result on condition
    /// that nobody wrote it in between (its `revision`); on a race, reads and merges again.
    async fn write_position(&self, p: &Position) -> Result<PositionWrite, StoreError> {
        for attempt in 0..MERGE_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let held_item = self
                .get(keys::reference(&p.cip13), &keys::position(&p.declarant))
                .await?;
            let held = held_item.as_ref().map(position_of).transpose()?;
            let revision: Option<u64> = match &held_item {
                Some(item) if item.contains_key("revision") => Some(number(item, "revision")?),
                _ => None,
            };
            let (merged, write) = merge(held.as_ref(), p);
            let Some(merged) = merged else {
                return Ok(write);
            };
            let mut item = position_item(&merged)?;
            item.insert("updated_at".into(), s(Utc::now().to_rfc3339()));
            item.insert("revision".into(), n(revision.unwrap_or(0) + 1));
            let request = self
                .client
                .put_item()
                .table_name(&*self.table)
                .set_item(Some(item));
            let request = match (&held_item, revision) {
                (None, _) => request.condition_expression("attribute_not_exists(pk)"),
                (Some(_), None) => request.condition_expression("attribute_not_exists(revision)"),
                (Some(_), Some(r)) => request
                    .condition_expression("revision = :rev")
                    .expression_attribute_values(":rev", n(r)),
            };
            if conditional("DynamoDB.PutItem", request.send().await)? {
                return Ok(write);
            }
        }
        Err(StoreError::Aws {
            operation: "DynamoDB.PutItem",
            message: format!(
                "position {}/{} modifiée par d'autres écritures {MERGE_ATTEMPTS} fois de suite",
                p.cip13, p.declarant
            ),
        })
    }
}

/// Every item a query returns, all pages.
async fn query_all(
    request: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
) -> Result<Vec<Item>, StoreError> {
    let mut pages = request.into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("DynamoDB.Query", e))?;
        out.extend(page.items().iter().cloned());
    }
    Ok(out)
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The table's key layout: every pk and sk Medistock writes or reads is built here.
pub mod keys {
    use medistock_domain::{Cip13, DeclarantId};

    /// Prefix of a reference's partition.
    pub const REF: &str = "REF#";
    /// Prefix of a position's sort key.
    pub const POS: &str = "POS#";
    /// Prefix of a file ledger entry's partition.
    pub const FILE: &str = "FILE#";
    /// Sort key of a file ledger entry.
    pub const META: &str = "META";
    /// Prefix of a declarant's partition.
    pub const DECLARANT: &str = "DECLARANT#";
    /// Sort key of a declarant's account.
    pub const ACCOUNT: &str = "ACCOUNT";
    /// Sort key of a risk item.
    pub const RISK: &str = "RISK";
    /// Prefix of an alert record's partition.
    pub const ALERT: &str = "ALERT#";
    /// Sparse index of the alert records a scheduled pass looks at: the held SMS, and the
    /// records still pending. Only such records carry its keys. (Named when it held SMS
    /// only: an index is not renamed in place.)
    pub const HELD_INDEX: &str = "HeldSms";
    /// Its partition key attribute: [`HELD`], [`PENDING`] or [`PENDING_REFUSED`].
    pub const HELD_PK: &str = "held";
    /// The value of [`HELD_PK`] for a held SMS.
    pub const HELD: &str = "SMS";
    /// The value of [`HELD_PK`] for a record not yet relayed, never refused by SNS.
    pub const PENDING: &str = "PENDING";
    /// The value of [`HELD_PK`] for a record not yet relayed that the scheduled pass failed
    /// to publish: apart, so that the records refused every time cannot fill a pass.
    pub const PENDING_REFUSED: &str = "PENDING_REFUSED";
    /// Its sort key attribute: when the SMS goes out; for a pending record, when the scheduled
    /// pass relays it (`AlertRecord::relay_due_at`).
    pub const HELD_AT: &str = "held_at";
    /// Partition of ANSM's measures (sort key: the measure's id).
    pub const MEASURE: &str = "MEASURE";
    /// Partition of acknowledgements and silences (sort key: the subject).
    pub const ALERT_STATE: &str = "ALERTSTATE";
    /// Former prefix of a group's risk item (before groups were keyed by their subject,
    /// `GROUPE#<id>`): read once and moved.
    pub const LEGACY_GROUP: &str = "GROUP#";

    /// Partition of a reference.
    pub fn reference(cip13: &Cip13) -> String {
        format!("{REF}{cip13}")
    }

    /// Sort key of a declarant's position.
    pub fn position(declarant: &DeclarantId) -> String {
        format!("{POS}{declarant}")
    }

    /// Partition of a declarant's file.
    pub fn file(declarant: &str, sha256: &str) -> String {
        format!("{FILE}{declarant}#{sha256}")
    }

    /// Partition of a declarant's account.
    pub fn declarant(id: &str) -> String {
        format!("{DECLARANT}{id}")
    }

    /// Partition of an alert record: the first segment of its key (a CIP13, `GROUPE`,
    /// `VIGILANCE`), so that a record is found again from its key alone.
    pub fn alert(key: &str) -> String {
        format!("{ALERT}{}", key.split('#').next().unwrap_or_default())
    }

    /// The alert key of an item's (pk, sk), `None` for any other item: what the `notify`
    /// function reads from a stream record.
    pub fn alert_key<'a>(pk: &str, sk: &'a str) -> Option<&'a str> {
        pk.starts_with(ALERT).then_some(sk)
    }
}

/// A random wait in `[0, 10 ms × attempt]` (full jitter), capped at 200 ms.
fn backoff(attempt: u32) -> std::time::Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(attempt);
    let ceiling = u64::from(attempt.min(20)) * 10;
    std::time::Duration::from_millis(hasher.finish() % (ceiling + 1))
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("attribut DynamoDB {what}"))
}

fn text(item: &Item, name: &str) -> Result<String, StoreError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .ok_or_else(|| corrupt(name))
}

fn number<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, StoreError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| corrupt(name))
}

fn parse<T: std::str::FromStr>(value: &str) -> Result<T, StoreError> {
    value.parse().map_err(|_| corrupt(value))
}

fn position_item(p: &Position) -> Result<Item, StoreError> {
    let supplies =
        serde_json::to_string(&p.supplies).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut item = Item::from([
        ("pk".into(), s(keys::reference(&p.cip13))),
        ("sk".into(), s(keys::position(&p.declarant))),
        ("cip13".into(), s(p.cip13.as_str())),
        ("declarant".into(), s(p.declarant.as_str())),
        ("as_of".into(), s(p.as_of.to_string())),
        ("stock".into(), n(p.stock)),
        ("stock_bloque".into(), n(p.stock_bloque)),
        ("sites".into(), n(p.sites)),
        ("supplies".into(), s(supplies)),
        ("source_sha256".into(), s(&p.source_sha256)),
        (
            "site_figures".into(),
            s(site_columns::to_json(&p.site_figures)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?),
        ),
    ]);
    if let Some(outflow) = p.daily_outflow {
        item.insert("daily_outflow".into(), n(outflow));
    }
    Ok(item)
}

/// The attributes of a position item but its per-site figures (the daily sweep's projection).
const POSITION_TOTALS: [&str; 11] = [
    "pk",
    "sk",
    "cip13",
    "declarant",
    "as_of",
    "stock",
    "stock_bloque",
    "sites",
    "supplies",
    "source_sha256",
    "daily_outflow",
];

fn position_of(item: &Item) -> Result<Position, StoreError> {
    position_with(item, true)
}

/// A position from its item; its per-site figures only when `sites` (they may be absent
/// from the item: projected out, or written before sites were kept).
fn position_with(item: &Item, sites: bool) -> Result<Position, StoreError> {
    Ok(Position {
        cip13: Cip13::parse(&text(item, "cip13")?).map_err(|_| corrupt("cip13"))?,
        declarant: DeclarantId::parse(&text(item, "declarant")?)
            .map_err(|_| corrupt("declarant"))?,
        as_of: parse::<NaiveDate>(&text(item, "as_of")?)?,
        stock: number(item, "stock")?,
        stock_bloque: number(item, "stock_bloque")?,
        daily_outflow: item
            .get("daily_outflow")
            .map(|_| number(item, "daily_outflow"))
            .transpose()?,
        sites: number(item, "sites")?,
        supplies: serde_json::from_str::<Vec<Supply>>(&text(item, "supplies")?)
            .map_err(|_| corrupt("supplies"))?,
        source_sha256: text(item, "source_sha256")?,
        site_figures: item
            .get("site_figures")
            .filter(|_| sites)
            .map(|_| {
                site_columns::from_json(&text(item, "site_figures")?)
                    .map_err(|_| corrupt("site_figures"))
            })
            .transpose()?
            .unwrap_or_default(),
    })
}

fn ledger_item(e: &LedgerEntry) -> Item {
    let mut item = Item::from([
        ("pk".into(), s(keys::file(&e.declarant, &e.sha256))),
        ("sk".into(), s(keys::META)),
        ("sha256".into(), s(&e.sha256)),
        ("status".into(), s(e.status.as_str())),
        ("object_key".into(), s(&e.key)),
        ("declarant".into(), s(&e.declarant)),
        ("owner".into(), s(&e.owner)),
        ("lines_total".into(), n(e.lines[0])),
        ("lines_accepted".into(), n(e.lines[1])),
        ("lines_rejected".into(), n(e.lines[2])),
        ("received_at".into(), s(e.received_at.to_rfc3339())),
        ("lease_until_ms".into(), n(e.lease_until.timestamp_millis())),
    ]);
    if let Some(finished) = e.finished_at {
        item.insert("finished_at".into(), s(finished.to_rfc3339()));
    }
    if let Some(version) = &e.version {
        item.insert("object_version".into(), s(version));
    }
    item
}

fn time(value: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| corrupt(value))
}

/// What a claim refused by its condition answers, from the entry read just after: the file
/// applied, or claimed by a live run; `None` when the entry changed since the refusal (the
/// run ended rejected, or gave its claim up): the claim is tried again. A claim held under
/// this run's own token is this run's: the SDK retries a `PutItem` whose answer was lost,
/// and the retry, refused by the write it repeats, must not take its own run for another
/// (which would leave the file claimed, unarchived and unanswered until the lease ends).
fn refused_claim(held: Option<LedgerEntry>, owner: &str) -> Option<Claim> {
    let held = held?;
    match held.status {
        FileStatus::Applied => Some(Claim::Done(held)),
        FileStatus::Processing if held.claimed_by(owner) => Some(Claim::Acquired),
        FileStatus::Processing => Some(Claim::InProgress(held)),
        FileStatus::Rejected => None,
    }
}

fn ledger_of(item: &Item) -> Result<LedgerEntry, StoreError> {
    Ok(LedgerEntry {
        sha256: text(item, "sha256")?,
        status: FileStatus::parse(&text(item, "status")?).ok_or_else(|| corrupt("status"))?,
        key: text(item, "object_key")?,
        version: item
            .get("object_version")
            .map(|_| text(item, "object_version"))
            .transpose()?,
        declarant: text(item, "declarant")?,
        owner: item
            .get("owner")
            .map(|_| text(item, "owner"))
            .transpose()?
            .unwrap_or_default(),
        lines: [
            number(item, "lines_total")?,
            number(item, "lines_accepted")?,
            number(item, "lines_rejected")?,
        ],
        received_at: time(&text(item, "received_at")?)?,
        lease_until: DateTime::from_timestamp_millis(number(item, "lease_until_ms")?)
            .ok_or_else(|| corrupt("lease"))?,
        finished_at: item
            .get("finished_at")
            .map(|_| text(item, "finished_at").and_then(|t| time(&t)))
            .transpose()?,
    })
}

fn alert_item(a: &AlertRecord) -> Result<Item, StoreError> {
    let record = serde_json::to_string(a).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut item = Item::from([
        ("pk".into(), s(keys::alert(&a.key))),
        ("sk".into(), s(&a.key)),
        ("status".into(), s(a.status.as_str())),
        ("created_at".into(), s(a.created_at.to_rfc3339())),
        ("record".into(), s(record)),
    ]);
    // Held SMS and pending records are found through a sparse index (`keys::HELD_INDEX`),
    // not a scan: only they carry its keys, and a record leaves it when its status changes.
    match a.status {
        AlertStatus::SmsHeld | AlertStatus::SmsReleasing => {
            item.insert(keys::HELD_PK.into(), s(keys::HELD));
            item.insert(
                keys::HELD_AT.into(),
                s(a.sms_release_at.unwrap_or(a.created_at).to_rfc3339()),
            );
        }
        AlertStatus::Pending => {
            // By when the scheduled pass relays it: a record it failed to publish moves
            // behind the others until its retry time.
            let partition = if a.relay_failures > 0 {
                keys::PENDING_REFUSED
            } else {
                keys::PENDING
            };
            item.insert(keys::HELD_PK.into(), s(partition));
            item.insert(keys::HELD_AT.into(), s(a.relay_due_at().to_rfc3339()));
        }
        _ => {}
    }
    Ok(item)
}

fn alert_of(item: &Item) -> Result<AlertRecord, StoreError> {
    serde_json::from_str(&text(item, "record")?).map_err(|_| corrupt("record"))
}

impl FileLedger for DynamoState {
    async fn claim_file(&self, entry: &LedgerEntry) -> Result<Claim, StoreError> {
        // Between the refused write and the read, the entry may change: a claim may end
        // (rejected: claimable again) or be given up (gone). A few rounds settle it.
        for _ in 0..3 {
            let result = self
                .client
                .put_item()
                .table_name(&*self.table)
                .set_item(Some(ledger_item(entry)))
                .condition_expression(
                    "attribute_not_exists(pk) OR #status = :rejected \
                     OR (#status = :processing AND lease_until_ms < :now)",
                )
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":processing", s("processing"))
                .expression_attribute_values(":rejected", s(FileStatus::Rejected.as_str()))
                .expression_attribute_values(":now", n(entry.received_at.timestamp_millis()))
                .send()
                .await;
            if conditional("DynamoDB.PutItem", result)? {
                return Ok(Claim::Acquired);
            }
            let held = self
                .get(keys::file(&entry.declarant, &entry.sha256), keys::META)
                .await?
                .map(|item| ledger_of(&item))
                .transpose()?;
            if let Some(claim) = refused_claim(held, &entry.owner) {
                return Ok(claim);
            }
        }
        Err(StoreError::Aws {
            operation: "DynamoDB.PutItem",
            message: "registre du fichier modifié pendant la prise en charge : à réessayer".into(),
        })
    }

    async fn finish_file(&self, entry: &LedgerEntry) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(ledger_item(entry)))
            .condition_expression("#status = :processing AND #owner = :owner")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":processing", s("processing"))
            .expression_attribute_values(":owner", s(&entry.owner))
            .send()
            .await;
        if conditional("DynamoDB.PutItem", result)? {
            return Ok(true);
        }
        // Refused: this run's own end written by an attempt whose answer was lost, or another
        // run's claim. A failed read says neither; the caller logs the end as not written.
        match self.file(&entry.declarant, &entry.sha256).await {
            Ok(held) => Ok(held.is_some_and(|held| held.is_end_of(entry))),
            Err(e) => {
                tracing::warn!(error = %e, "fin de traitement refusée, registre illisible");
                Ok(false)
            }
        }
    }

    async fn release_file(
        &self,
        declarant: &str,
        sha256: &str,
        owner: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&*self.table)
            .key("pk", s(keys::file(declarant, sha256)))
            .key("sk", s(keys::META))
            .condition_expression("#status = :processing AND #owner = :owner")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":processing", s("processing"))
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        // Not held, or held by another run: nothing to release.
        conditional("DynamoDB.DeleteItem", result)?;
        Ok(())
    }

    async fn file(&self, declarant: &str, sha256: &str) -> Result<Option<LedgerEntry>, StoreError> {
        self.get(keys::file(declarant, sha256), keys::META)
            .await?
            .as_ref()
            .map(ledger_of)
            .transpose()
    }

    async fn files_received(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        let items = self
            .scan(
                "begins_with(pk, :file) AND sk = :meta",
                &[],
                &[(":file", keys::FILE), (":meta", keys::META)],
            )
            .await?;
        let entries = items.iter().map(ledger_of).collect::<Result<Vec<_>, _>>()?;
        Ok(LedgerEntry::received_between(entries, from, to))
    }
}

impl AccountStore for DynamoState {
    async fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        self.get(keys::declarant(id), keys::ACCOUNT)
            .await?
            .as_ref()
            .map(|item| {
                serde_json::from_str(&text(item, "account")?).map_err(|_| corrupt("account"))
            })
            .transpose()
    }

    async fn put_account(&self, account: &Account) -> Result<(), StoreError> {
        let json =
            serde_json::to_string(account).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.client
            .put_item()
            .table_name(&*self.table)
            .item("pk", s(keys::declarant(account.id.as_str())))
            .item("sk", s(keys::ACCOUNT))
            .item("enabled", AttributeValue::Bool(account.enabled))
            .item("account", s(json))
            .send()
            .await
            .map_err(|e| aws_error("DynamoDB.PutItem", e))?;
        Ok(())
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let items = self.scan_prefix(keys::DECLARANT, keys::ACCOUNT).await?;
        let mut out = items
            .iter()
            .map(|item| {
                serde_json::from_str::<Account>(&text(item, "account")?)
                    .map_err(|_| corrupt("account"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }
}

impl PositionStore for DynamoState {
    async fn apply_positions(
        &self,
        positions: &[Position],
    ) -> Result<Vec<PositionWrite>, StoreError> {
        use futures::stream::{self, StreamExt, TryStreamExt};
        // A loop, not a closure: a closure here defeats the compiler's proof that the future is Send.
        let mut writes = Vec::with_capacity(positions.len());
        for p in positions {
            writes.push(self.write_position(p));
        }
        stream::iter(writes)
            .buffered(WRITE_CONCURRENCY)
            .try_collect()
            .await
    }

    async fn positions(&self, cip13: &Cip13) -> Result<Vec<Position>, StoreError> {
        let request = self
            .client
            .query()
            .table_name(&*self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :pos)")
            .expression_attribute_values(":pk", s(keys::reference(cip13)))
            .expression_attribute_values(":pos", s(keys::POS))
            .consistent_read(true);
        query_all(request).await?.iter().map(position_of).collect()
    }

    async fn all_positions(&self) -> Result<Vec<Position>, StoreError> {
        let names: Vec<(String, &str)> = POSITION_TOTALS
            .iter()
            .enumerate()
            .map(|(i, attribute)| (format!("#a{i}"), *attribute))
            .collect();
        let projection: Vec<&str> = names.iter().map(|(name, _)| name.as_str()).collect();
        let names: Vec<(&str, &str)> = names.iter().map(|(n, a)| (n.as_str(), *a)).collect();
        let items = self
            .scan_projected(
                "begins_with(pk, :pk) AND begins_with(sk, :sk)",
                &names,
                &[(":pk", keys::REF), (":sk", keys::POS)],
                Some(&projection.join(", ")),
            )
            .await?;
        // The per-site figures are left unread: the sweep's cost does not follow the depots.
        let mut out = items
            .iter()
            .map(|item| position_with(item, false))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| (a.cip13, &a.declarant).cmp(&(b.cip13, &b.declarant)));
        Ok(out)
    }
}

impl RiskStore for DynamoState {
    async fn risk_items(&self) -> Result<Vec<RiskItem>, StoreError> {
        // References' (`REF#…`) and groups' (`GROUPE#…`) items.
        let items = self.scan("sk = :sk", &[], &[(":sk", keys::RISK)]).await?;
        // A group's item written under the former key (`GROUP#<id>`) counts until the risk
        // run writes the group under its subject's key (see `put_risk`).
        let mut by_subject: std::collections::BTreeMap<String, RiskItem> = Default::default();
        let mut legacy = Vec::new();
        for item in &items {
            let risk: RiskItem =
                serde_json::from_str(&text(item, "item")?).map_err(|_| corrupt("item"))?;
            if text(item, "pk")?.starts_with(keys::LEGACY_GROUP) {
                legacy.push(risk);
            } else {
                by_subject.insert(risk.subject.clone(), risk);
            }
        }
        for risk in legacy {
            by_subject.entry(risk.subject.clone()).or_insert(risk);
        }
        Ok(by_subject.into_values().collect())
    }

    async fn put_risks(&self, items: &[(RiskItem, Option<u64>)]) -> Result<Vec<bool>, StoreError> {
        use futures::stream::{StreamExt, TryStreamExt};
        // One PutItem per subject (each has its own condition), many in flight.
        let mut puts = Vec::with_capacity(items.len());
        for (item, expected) in items {
            puts.push(self.put_risk(item, *expected));
        }
        futures::stream::iter(puts)
            .buffered(WRITE_CONCURRENCY)
            .try_collect()
            .await
    }

    async fn put_risk(
        &self,
        item: &RiskItem,
        expected_version: Option<u64>,
    ) -> Result<bool, StoreError> {
        let json = serde_json::to_string(item).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let pk = match item.group() {
            Some(_) => item.subject.clone(),
            None => keys::reference(&Cip13::parse(&item.subject).map_err(|_| corrupt("cip13"))?),
        };
        let mut request = self
            .client
            .put_item()
            .table_name(&*self.table)
            .item("pk", s(pk))
            .item("sk", s(keys::RISK))
            .item("level", s(item.level.as_str()))
            .item("as_of", s(item.as_of.to_string()))
            .item("version", n(item.version))
            .item("item", s(&json));
        request = match expected_version {
            None => request.condition_expression("attribute_not_exists(pk)"),
            Some(v) => request
                .condition_expression("version = :v")
                .expression_attribute_values(":v", n(v)),
        };
        if conditional("DynamoDB.PutItem", request.send().await)? {
            return Ok(true);
        }
        // A group last written under the former key (`GROUP#<id>`) with this version: the
        // item moves to the subject's key, and the former one is deleted.
        let (Some(group), Some(version)) = (item.group(), expected_version) else {
            return Ok(false);
        };
        let legacy_pk = format!("{}{group}", keys::LEGACY_GROUP);
        let held = self.get(legacy_pk.clone(), keys::RISK).await?;
        if held.is_none_or(|h| number(&h, "version").ok() != Some(version)) {
            return Ok(false);
        }
        let moved = self
            .client
            .put_item()
            .table_name(&*self.table)
            .item("pk", s(&item.subject))
            .item("sk", s(keys::RISK))
            .item("level", s(item.level.as_str()))
            .item("as_of", s(item.as_of.to_string()))
            .item("version", n(item.version))
            .item("item", s(json))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        if !conditional("DynamoDB.PutItem", moved)? {
            return Ok(false);
        }
        self.client
            .delete_item()
            .table_name(&*self.table)
            .key("pk", s(legacy_pk))
            .key("sk", s(keys::RISK))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(version))
            .send()
            .await
            .map_err(|e| aws_error("DynamoDB.DeleteItem", e))?;
        tracing::info!(
            subject = item.subject,
            "élément de risque du groupe déplacé vers sa clé"
        );
        Ok(true)
    }
}

impl AlertOutbox for DynamoState {
    async fn put_alert_once(&self, alert: &AlertRecord) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(alert_item(alert)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        conditional("DynamoDB.PutItem", result)
    }

    async fn alert(&self, key: &str) -> Result<Option<AlertRecord>, StoreError> {
        self.get(keys::alert(key), key)
            .await?
            .as_ref()
            .map(alert_of)
            .transpose()
    }

    async fn alerts_with_status(
        &self,
        status: AlertStatus,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        // A sweep, not the hot path (the stream delivers new records; held SMS are found
        // through their index, see `held_sms_due`).
        let items = self
            .scan(
                "begins_with(pk, :alert) AND #status = :status",
                &[("#status", "status")],
                &[(":alert", keys::ALERT), (":status", status.as_str())],
            )
            .await?;
        let mut out = items.iter().map(alert_of).collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| (a.created_at, &a.key).cmp(&(b.created_at, &b.key)));
        Ok(out)
    }

    async fn pending_alerts_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        refused: bool,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        let partition = if refused {
            keys::PENDING_REFUSED
        } else {
            keys::PENDING
        };
        let mut due = self.scheduled(partition, now, Some(limit)).await?;
        // An item written before pending records were indexed by their due time is indexed by
        // its creation: read then, kept only once due.
        due.retain(|a| a.relay_due_at() <= now);
        due.sort_by(|a, b| (a.relay_due_at(), &a.key).cmp(&(b.relay_due_at(), &b.key)));
        Ok(due)
    }

    async fn held_sms_due(&self, now: DateTime<Utc>) -> Result<Vec<AlertRecord>, StoreError> {
        self.scheduled(keys::HELD, now, None).await
    }

    async fn update_alert(
        &self,
        record: &AlertRecord,
        from: AlertStatus,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(alert_item(record)?))
            .condition_expression("#status = :from")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":from", s(from.as_str()))
            .send()
            .await;
        conditional("DynamoDB.PutItem", result)
    }
}

impl DynamoState {
    /// The items of one partition (`MEASURE`, `ALERTSTATE`: a few hundred records), all pages.
    async fn partition(&self, pk: &str) -> Result<Vec<Item>, StoreError> {
        query_all(
            self.client
                .query()
                .table_name(&*self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(pk))
                .consistent_read(true),
        )
        .await
    }

    /// Writes a versioned record as JSON under (`pk`, `sk`) if the stored one still has
    /// `expected` (`None`: none stored).
    async fn put_versioned(
        &self,
        pk: &str,
        sk: &str,
        version: u64,
        json: String,
        expected: Option<u64>,
    ) -> Result<bool, StoreError> {
        let mut request = self
            .client
            .put_item()
            .table_name(&*self.table)
            .item("pk", s(pk))
            .item("sk", s(sk))
            .item("version", n(version))
            .item("record", s(json));
        request = match expected {
            None => request.condition_expression("attribute_not_exists(pk)"),
            Some(v) => request
                .condition_expression("version = :v")
                .expression_attribute_values(":v", n(v)),
        };
        conditional("DynamoDB.PutItem", request.send().await)
    }

    fn records<T: serde::de::DeserializeOwned>(items: &[Item]) -> Result<Vec<T>, StoreError> {
        items
            .iter()
            .map(|item| serde_json::from_str(&text(item, "record")?).map_err(|_| corrupt("record")))
            .collect()
    }
}

impl MeasureStore for DynamoState {
    async fn measures(&self) -> Result<Vec<Measure>, StoreError> {
        Self::records(&self.partition(keys::MEASURE).await?)
    }

    async fn put_measure(
        &self,
        measure: &Measure,
        expected_version: Option<u64>,
    ) -> Result<bool, StoreError> {
        let json =
            serde_json::to_string(measure).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.put_versioned(
            keys::MEASURE,
            &measure.id,
            measure.version,
            json,
            expected_version,
        )
        .await
    }
}

impl AlertStateStore for DynamoState {
    async fn alert_states(&self) -> Result<Vec<AlertState>, StoreError> {
        Self::records(&self.partition(keys::ALERT_STATE).await?)
    }

    async fn alert_state(&self, subject: &str) -> Result<Option<AlertState>, StoreError> {
        self.get(keys::ALERT_STATE.to_owned(), subject)
            .await?
            .map(|item| {
                serde_json::from_str(&text(&item, "record")?).map_err(|_| corrupt("record"))
            })
            .transpose()
    }

    async fn put_alert_state(
        &self,
        state: &AlertState,
        expected_version: Option<u64>,
    ) -> Result<bool, StoreError> {
        let json = serde_json::to_string(state).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.put_versioned(
            keys::ALERT_STATE,
            &state.subject,
            state.version,
            json,
            expected_version,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A claim refused, then the entry read: a file applied is done, one claimed is in
    /// progress; one that ended rejected, or whose claim was given up, is claimed again.
    #[test]
    fn a_refused_claim_answers_from_the_entry_read_after() {
        let at: DateTime<Utc> = "2026-11-23T09:00:00Z".parse().unwrap();
        let entry = |status: FileStatus| LedgerEntry {
            sha256: "f1".into(),
            status,
            key: "inbox/gr-a/f.csv".into(),
            version: None,
            declarant: "gr-a".into(),
            owner: "owner".into(),
            lines: [0; 3],
            received_at: at,
            lease_until: at,
            finished_at: None,
        };
        assert!(matches!(
            refused_claim(Some(entry(FileStatus::Applied)), "other"),
            Some(Claim::Done(_))
        ));
        assert!(matches!(
            refused_claim(Some(entry(FileStatus::Processing)), "other"),
            Some(Claim::InProgress(_))
        ));
        // Refused by its own earlier attempt (an answer lost, the request retried).
        assert_eq!(
            refused_claim(Some(entry(FileStatus::Processing)), "owner"),
            Some(Claim::Acquired)
        );
        assert!(matches!(
            refused_claim(Some(entry(FileStatus::Applied)), "owner"),
            Some(Claim::Done(_))
        ));
        assert!(refused_claim(Some(entry(FileStatus::Rejected)), "other").is_none());
        assert!(refused_claim(None, "owner").is_none());
    }
}

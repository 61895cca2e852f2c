//! The ingest core end to end, on the local backend and on moto (S3 + DynamoDB): what a dropped
//! file does to positions, ledger, archive, history and receipts, and that retries, duplicates,
//! older files, concurrency and failures mid-way never double-count nor lose a line.

use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, Utc};
use medistock_analytics::declaration::Limits;
use medistock_analytics::ingest::{
    Dropped, IngestError, IngestOutcome, IngestSettings, ingest_dropped, ingest_object,
    ingest_version,
};
use medistock_domain::Cip13;
use medistock_domain::position::{Position, PositionWrite};
use medistock_domain::store::{
    Claim, FileLedger, FileStatus, LedgerEntry, ObjectStore, PositionStore, StoreError,
};
use medistock_local::{LocalObjects, LocalState};
use medistock_testkit::objects::{Op, SpyObjects};

const INBOX: &str = "depot";

fn now() -> DateTime<Utc> {
    "2026-11-23T09:30:00Z".parse().unwrap()
}

fn settings(lake: &str) -> IngestSettings {
    // The small files below have one bad line in four: above the default 10 % bound.
    let limits = Limits {
        max_error_rate: 0.5,
        ..Limits::default()
    };
    IngestSettings {
        lake_bucket: lake.to_owned(),
        limits,
        lease: Duration::minutes(5),
        catalogue: None,
    }
}

const WEEK_47: &str = "cip13;date_stock;stock;sorties;site\n\
                       3400949497294;2026-11-20;1000;70;Lyon\n\
                       3400949497294;2026-11-20;500;70;Lille\n\
                       3400949497706;2026-11-20;40;7;Lyon\n\
                       3400936963504;2026-11-20;-1;7;Lyon\n";

const WEEK_46: &str = "cip13;date_stock;stock;sorties\n\
                       3400949497294;2026-11-13;9999;70\n\
                       3400936963504;2026-11-13;300;7\n";

fn cip(text: &str) -> Cip13 {
    Cip13::parse(text).unwrap()
}

/// Drops a file into the (versioned) inbox and returns the version written.
async fn drop_file(objects: &impl ObjectStore, key: &str, text: &str) -> Option<String> {
    objects
        .put(
            INBOX,
            key,
            text.as_bytes().to_vec(),
            "text/csv",
            &Default::default(),
        )
        .await
        .unwrap()
}

/// Ingests the version `version` of inbox `key` (as its event names it) at `at`.
async fn ingest_at(
    objects: &impl ObjectStore,
    state: &impl crate::State,
    settings: &IngestSettings,
    key: &str,
    version: Option<&str>,
    at: DateTime<Utc>,
) -> IngestOutcome {
    ingest_version(objects, state, settings, INBOX, key, version, at)
        .await
        .unwrap()
}

async fn text_of(objects: &impl ObjectStore, bucket: &str, key: &str) -> String {
    let object = objects
        .get(bucket, key)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{key} is missing"));
    String::from_utf8(object.bytes).unwrap()
}

async fn stocks(state: &impl crate::State, reference: &str) -> Vec<(String, String, i64)> {
    state
        .positions(&cip(reference))
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.declarant.to_string(), p.as_of.to_string(), p.stock))
        .collect()
}

async fn a_file_updates_positions_archive_history_receipt_and_ledger(
    objects: &impl ObjectStore,
    state: &impl crate::State,
    lake: &str,
) {
    let key = "inbox/grossiste-a/stocks semaine 47 é.csv";
    drop_file(objects, key, WEEK_47).await;
    let outcome = ingest_object(objects, state, &settings(lake), INBOX, key, now())
        .await
        .unwrap();
    let IngestOutcome::Applied { report, summary } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        (
            report.lines.total,
            report.lines.accepted,
            report.lines.rejected
        ),
        (4, 3, 1)
    );
    assert_eq!((summary.applied, summary.not_newer.len()), (2, 0));

    assert_eq!(
        stocks(state, "3400949497294").await,
        [("grossiste-a".into(), "2026-11-20".into(), 1500)]
    );
    let p = &state.positions(&cip("3400949497294")).await.unwrap()[0];
    assert_eq!(
        (p.daily_outflow, p.sites, p.source_sha256.as_str()),
        (Some(20.0), 2, report.sha256.as_str())
    );
    assert_eq!(
        stocks(state, "3400936963504").await,
        [],
        "the rejected line is not applied"
    );

    let sha = &report.sha256;
    let raw = objects
        .get(lake, &format!("raw/grossiste-a/2026/11/23/{sha}.csv"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        raw.bytes,
        WEEK_47.as_bytes(),
        "the original bytes are archived"
    );
    assert_eq!(raw.metadata.get("sha256"), Some(sha));
    let history = objects.list(lake, "normalized/").await.unwrap();
    assert_eq!(
        history,
        [format!(
            "normalized/as_of=2026-11-20/declarant=grossiste-a/{sha}.parquet"
        )]
    );
    // Beside the lines, their daily totals per reference, which the risk run reads.
    assert_eq!(
        objects.list(lake, "daily/").await.unwrap(),
        [format!(
            "daily/as_of=2026-11-20/declarant=grossiste-a/{sha}.parquet"
        )]
    );

    let receipt = text_of(
        objects,
        INBOX,
        "receipts/grossiste-a/stocks semaine 47 é.csv.accuse.txt",
    )
    .await;
    assert!(receipt.contains("ACCEPTÉ AVEC ERREURS"), "{receipt}");
    assert!(
        receipt.contains("ligne 5, colonne stock, valeur « -1 »"),
        "{receipt}"
    );
    let errors = text_of(
        objects,
        INBOX,
        "receipts/grossiste-a/stocks semaine 47 é.csv.erreurs.csv",
    )
    .await;
    assert_eq!(errors.lines().count(), 2);

    let entry = state.file("grossiste-a", sha).await.unwrap().unwrap();
    assert_eq!(
        (entry.status, entry.lines, entry.key.as_str()),
        (FileStatus::Applied, [4, 3, 1], key)
    );
}

async fn the_same_event_twice_and_the_same_bytes_under_another_name_count_once(
    objects: &impl ObjectStore,
    state: &impl crate::State,
    lake: &str,
) {
    let key = "inbox/grossiste-a/s47.csv";
    drop_file(objects, key, WEEK_47).await;
    let first = ingest_object(objects, state, &settings(lake), INBOX, key, now())
        .await
        .unwrap();
    assert!(matches!(first, IngestOutcome::Applied { .. }));
    let later = now() + Duration::hours(1);
    let again = ingest_object(objects, state, &settings(lake), INBOX, key, later)
        .await
        .unwrap();
    assert!(
        matches!(again, IngestOutcome::Duplicate { .. }),
        "{again:?}"
    );
    drop_file(objects, "inbox/grossiste-a/copie de s47.csv", WEEK_47).await;
    let copy = ingest_object(
        objects,
        state,
        &settings(lake),
        INBOX,
        "inbox/grossiste-a/copie de s47.csv",
        later,
    )
    .await
    .unwrap();
    let IngestOutcome::Duplicate { first, .. } = copy else {
        panic!("{copy:?}")
    };
    assert_eq!(first.key, key);
    let receipt = text_of(
        objects,
        INBOX,
        "receipts/grossiste-a/copie de s47.csv.accuse.txt",
    )
    .await;
    assert!(
        receipt.contains("DÉJÀ REÇU") && receipt.contains("« s47.csv »"),
        "{receipt}"
    );
    assert_eq!(
        stocks(state, "3400949497294").await,
        [("grossiste-a".into(), "2026-11-20".into(), 1500)]
    );
    assert_eq!(objects.list(lake, "normalized/").await.unwrap().len(), 1);
}

/// A file and its correction dropped within one second, as S3 dates them (`Last-Modified`
/// to the second), the correction's hash below the file's: the events' times, to the
/// millisecond, say which came last, and the correction stands.
async fn a_correction_dropped_in_the_same_second_wins(
    objects: &impl ObjectStore,
    state: &impl crate::State,
    lake: &str,
) {
    let line = |stock: u32| {
        format!("cip13;date_stock;stock;sorties;site\n3400949497294;2026-11-20;{stock};70;Lyon\n")
    };
    let original = line(1000);
    // A correction whose hash sorts below the original's: the order the hashes would give.
    let correction = (900..1000)
        .map(line)
        .find(|text| {
            medistock_domain::sha256_hex(text.as_bytes())
                < medistock_domain::sha256_hex(original.as_bytes())
        })
        .unwrap();
    let second: DateTime<Utc> = "2026-11-23T09:29:58Z".parse().unwrap();
    let objects = SpyObjects::new(objects).modified_at(second);
    let key = "inbox/grossiste-a/stock.csv";
    for (text, millis) in [(&original, 120), (&correction, 870)] {
        let version = drop_file(&objects, key, text).await;
        let dropped = Dropped {
            key,
            version: version.as_deref(),
            at: Some(second + Duration::milliseconds(millis)),
        };
        let outcome = ingest_dropped(&objects, state, &settings(lake), INBOX, &dropped, now())
            .await
            .unwrap();
        assert!(
            matches!(outcome, IngestOutcome::Applied { .. }),
            "{outcome:?}"
        );
    }
    let corrected: i64 = correction
        .lines()
        .nth(1)
        .unwrap()
        .split(';')
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        stocks(state, "3400949497294").await,
        [("grossiste-a".into(), "2026-11-20".into(), corrected)]
    );
}

/// A file whose stock is dated tomorrow in Paris (a declarant a time zone ahead, say) is
/// rejected today; the same bytes dropped again tomorrow are judged again, and applied.
async fn a_rejected_file_dropped_again_is_judged_again(
    objects: &impl ObjectStore,
    state: &impl crate::State,
    lake: &str,
) {
    let text = "cip13;date_stock;stock;sorties\n\
                3400949497294;2026-11-24;800;70\n\
                3400936963504;2026-11-24;300;7\n";
    let key = "inbox/grossiste-a/s48.csv";
    let ingest = |version: Option<String>, at: DateTime<Utc>| async move {
        ingest_at(objects, state, &settings(lake), key, version.as_deref(), at).await
    };
    let version = drop_file(objects, key, text).await;
    let today = ingest(version.clone(), now()).await;
    assert!(matches!(today, IngestOutcome::Rejected { .. }), "{today:?}");
    // The same event delivered again the same day: judged again, rejected again.
    let redelivered = ingest(version, now() + Duration::minutes(5)).await;
    assert!(
        matches!(redelivered, IngestOutcome::Rejected { .. }),
        "{redelivered:?}"
    );
    assert_eq!(stocks(state, "3400949497294").await, []);
    let tomorrow = now() + Duration::days(1);
    let again = ingest(drop_file(objects, key, text).await, tomorrow).await;
    assert!(matches!(again, IngestOutcome::Applied { .. }), "{again:?}");
    // A receipt per drop: the first says rejected, the second accepted, none "already
    // received".
    let mut receipts = Vec::new();
    for key in objects
        .list(INBOX, "receipts/grossiste-a/s48.csv")
        .await
        .unwrap()
    {
        if key.ends_with(".accuse.txt") {
            receipts.push(text_of(objects, INBOX, &key).await);
        }
    }
    let says = |word: &str| receipts.iter().filter(|r| r.contains(word)).count();
    assert_eq!(
        (
            receipts.len(),
            says("REJETÉ"),
            says("ACCEPTÉ"),
            says("DÉJÀ REÇU")
        ),
        (2, 1, 1, 0),
        "{receipts:?}"
    );
    assert_eq!(
        stocks(state, "3400949497294").await,
        [("grossiste-a".into(), "2026-11-24".into(), 800)]
    );
    // Applied: now a new drop of the bytes is a duplicate.
    let third = ingest(drop_file(objects, key, text).await, tomorrow).await;
    assert!(
        matches!(third, IngestOutcome::Duplicate { .. }),
        "{third:?}"
    );
}

async fn an_older_file_never_overwrites_a_newer_state(
    objects: &impl ObjectStore,
    state: &impl crate::State,
    lake: &str,
) {
    drop_file(objects, "inbox/grossiste-a/s47.csv", WEEK_47).await;
    ingest_object(
        objects,
        state,
        &settings(lake),
        INBOX,
        "inbox/grossiste-a/s47.csv",
        now(),
    )
    .await
    .unwrap();
    drop_file(objects, "inbox/grossiste-a/s46.csv", WEEK_46).await;
    let outcome = ingest_object(
        objects,
        state,
        &settings(lake),
        INBOX,
        "inbox/grossiste-a/s46.csv",
        now(),
    )
    .await
    .unwrap();
    let IngestOutcome::Applied { summary, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        summary.applied, 1,
        "3400936963504 had no position: its week-46 figures apply"
    );
    assert_eq!(
        summary.not_newer,
        [("3400949497294".to_owned(), "2026-11-20".parse().unwrap())]
    );
    assert_eq!(
        stocks(state, "3400949497294").await,
        [("grossiste-a".into(), "2026-11-20".into(), 1500)]
    );
    assert_eq!(
        stocks(state, "3400936963504").await,
        [("grossiste-a".into(), "2026-11-13".into(), 300)]
    );
    let receipt = text_of(objects, INBOX, "receipts/grossiste-a/s46.csv.accuse.txt").await;
    assert!(
        receipt.contains("3400949497294 : stock connu au 20/11/2026"),
        "{receipt}"
    );
    assert_eq!(
        objects.list(lake, "normalized/").await.unwrap().len(),
        2,
        "the older lines go to history"
    );
}

async fn two_declarants_for_the_same_reference_concurrently(
    objects: &impl ObjectStore,
    state: &impl crate::State,
    lake: &str,
) {
    let lab = "cip13;date_stock;stock\n3400949497294;2026-11-21;20000\n";
    drop_file(objects, "inbox/grossiste-a/s47.csv", WEEK_47).await;
    drop_file(objects, "inbox/lab-b/stock.csv", lab).await;
    let s = settings(lake);
    let (a, b) = tokio::join!(
        ingest_object(
            objects,
            state,
            &s,
            INBOX,
            "inbox/grossiste-a/s47.csv",
            now()
        ),
        ingest_object(objects, state, &s, INBOX, "inbox/lab-b/stock.csv", now()),
    );
    assert!(matches!(a.unwrap(), IngestOutcome::Applied { .. }));
    assert!(matches!(b.unwrap(), IngestOutcome::Applied { .. }));
    assert_eq!(
        stocks(state, "3400949497294").await,
        [
            ("grossiste-a".into(), "2026-11-20".into(), 1500),
            ("lab-b".into(), "2026-11-21".into(), 20000)
        ]
    );
}

async fn a_rejected_file_is_quarantined_with_its_receipt(
    objects: &impl ObjectStore,
    state: &impl crate::State,
    lake: &str,
) {
    let key = "inbox/grossiste-a/mauvais.csv";
    drop_file(objects, key, "produit;quantite\nx;1\n").await;
    let outcome = ingest_object(objects, state, &settings(lake), INBOX, key, now())
        .await
        .unwrap();
    let IngestOutcome::Rejected { report } = outcome else {
        panic!("{outcome:?}")
    };
    let sha = &report.sha256;
    assert!(
        objects
            .get(lake, &format!("quarantine/grossiste-a/{sha}.csv"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        objects
            .get(lake, &format!("raw/grossiste-a/2026/11/23/{sha}.csv"))
            .await
            .unwrap()
            .is_some()
    );
    let receipt = text_of(
        objects,
        INBOX,
        "receipts/grossiste-a/mauvais.csv.accuse.txt",
    )
    .await;
    assert!(
        receipt.contains("REJETÉ") && receipt.contains("entete_absente"),
        "{receipt}"
    );
    assert_eq!(
        state
            .file("grossiste-a", sha)
            .await
            .unwrap()
            .unwrap()
            .status,
        FileStatus::Rejected
    );
    assert_eq!(
        objects.list(lake, "normalized/").await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        objects.list(lake, "daily/").await.unwrap(),
        Vec::<String>::new(),
        "a rejected file adds nothing to the history"
    );
}

async fn keys_outside_a_declarant_folder_are_ignored(
    objects: &impl ObjectStore,
    state: &impl crate::State,
    lake: &str,
) {
    for key in [
        "receipts/grossiste-a/x.csv",
        "inbox/x.csv",
        "inbox/Grossiste-A/x.csv",
        "inbox/grossiste-a/sous/x.csv",
    ] {
        drop_file(objects, key, WEEK_47).await;
        let outcome = ingest_object(objects, state, &settings(lake), INBOX, key, now())
            .await
            .unwrap();
        assert!(
            matches!(outcome, IngestOutcome::Ignored { .. }),
            "{key}: {outcome:?}"
        );
    }
    assert_eq!(stocks(state, "3400949497294").await, []);
    assert_eq!(objects.list(lake, "").await.unwrap(), Vec::<String>::new());
}

/// The same drop ingested again a minute later, as Lambda retries a failed event.
async fn retry_a_minute_later(
    objects: &impl ObjectStore,
    state: &impl crate::State,
    lake: &str,
    key: &str,
) -> Result<IngestOutcome, IngestError> {
    ingest_object(
        objects,
        state,
        &settings(lake),
        INBOX,
        key,
        now() + Duration::minutes(1),
    )
    .await
}

/// A state store that fails after `budget` position writes, as a crash would: with an error,
/// or with a panic (a bug met half way) when `panics`.
struct FailingState<'a, S> {
    inner: &'a S,
    budget: AtomicUsize,
    panics: bool,
    /// The claim is written, and its answer lost (an error returned).
    claim_lost: bool,
}

impl<S: FileLedger> FileLedger for FailingState<'_, S> {
    async fn claim_file(&self, entry: &LedgerEntry) -> Result<Claim, StoreError> {
        let claim = self.inner.claim_file(entry).await?;
        if self.claim_lost {
            return Err(StoreError::Aws {
                operation: "DynamoDB.PutItem",
                message: "injected: answer lost".into(),
            });
        }
        Ok(claim)
    }
    async fn finish_file(&self, entry: &LedgerEntry) -> Result<bool, StoreError> {
        self.inner.finish_file(entry).await
    }
    async fn release_file(
        &self,
        declarant: &str,
        sha256: &str,
        owner: &str,
    ) -> Result<(), StoreError> {
        self.inner.release_file(declarant, sha256, owner).await
    }
    async fn file(&self, declarant: &str, sha256: &str) -> Result<Option<LedgerEntry>, StoreError> {
        self.inner.file(declarant, sha256).await
    }
    async fn files_received(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        self.inner.files_received(from, to).await
    }
}

impl<S: PositionStore> PositionStore for FailingState<'_, S> {
    async fn apply_positions(
        &self,
        positions: &[Position],
    ) -> Result<Vec<PositionWrite>, StoreError> {
        // The budget is spent across calls: the ingest writes a file's positions in batches.
        let budget = self.budget.load(Ordering::SeqCst);
        let done = positions.len().min(budget);
        self.budget.fetch_sub(done, Ordering::SeqCst);
        let writes = self.inner.apply_positions(&positions[..done]).await?;
        if done < positions.len() && self.panics {
            panic!("injected panic after {done} positions");
        }
        if done < positions.len() {
            return Err(StoreError::Aws {
                operation: "DynamoDB.PutItem",
                message: "injected failure".into(),
            });
        }
        Ok(writes)
    }
    async fn positions(&self, cip13: &Cip13) -> Result<Vec<Position>, StoreError> {
        self.inner.positions(cip13).await
    }
    async fn all_positions(&self) -> Result<Vec<Position>, StoreError> {
        self.inner.all_positions().await
    }
}

async fn a_failure_after_half_the_writes_then_a_retry_ends_as_one_clean_run(
    objects: &impl ObjectStore,
    state: &impl crate::State,
    lake: &str,
) {
    let key = "inbox/grossiste-a/s47.csv";
    drop_file(objects, key, WEEK_47).await;
    let failing = FailingState {
        inner: state,
        budget: AtomicUsize::new(1),
        panics: false,
        claim_lost: false,
    };
    let crashed = ingest_object(objects, &failing, &settings(lake), INBOX, key, now()).await;
    assert!(matches!(crashed, Err(IngestError::Store(_))), "{crashed:?}");
    assert_eq!(
        stocks(state, "3400949497294").await.len(),
        1,
        "half the positions were written"
    );
    let receipt_key = "receipts/grossiste-a/s47.csv.accuse.txt";
    assert_eq!(
        objects.get(INBOX, receipt_key).await.unwrap(),
        None,
        "no receipt before the file is applied"
    );

    let retry = retry_a_minute_later(objects, state, lake, key)
        .await
        .unwrap();
    let IngestOutcome::Applied { report, summary } = retry else {
        panic!("{retry:?}")
    };
    assert_eq!(
        (summary.applied, summary.not_newer.len()),
        (2, 0),
        "the position written before the crash counts as applied"
    );
    assert_eq!(report.lines.accepted, 3);
    assert_eq!(
        stocks(state, "3400949497294").await,
        [("grossiste-a".into(), "2026-11-20".into(), 1500)]
    );
    assert_eq!(
        stocks(state, "3400949497706").await,
        [("grossiste-a".into(), "2026-11-20".into(), 40)]
    );
    assert_eq!(
        state
            .file("grossiste-a", &report.sha256)
            .await
            .unwrap()
            .unwrap()
            .status,
        FileStatus::Applied
    );
    assert!(objects.get(INBOX, receipt_key).await.unwrap().is_some());
}

/// A run that fails as `failing` makes it fail (a panic half way, a claim whose answer is
/// lost) gives its claim up: the retry, a minute later and well within the lease, applies the
/// file instead of finding it claimed. Returns the panic, if the run panicked.
async fn a_failed_run_gives_the_claim_up(
    objects: &impl ObjectStore,
    state: &impl crate::State,
    lake: &str,
    panics: bool,
    claim_lost: bool,
) -> Option<Box<dyn std::any::Any + Send>> {
    use futures::FutureExt;
    let key = "inbox/grossiste-a/s47.csv";
    drop_file(objects, key, WEEK_47).await;
    let sha = medistock_domain::sha256_hex(WEEK_47.as_bytes());
    let failing = FailingState {
        inner: state,
        budget: AtomicUsize::new(1),
        panics,
        claim_lost,
    };
    let run = std::panic::AssertUnwindSafe(ingest_object(
        objects,
        &failing,
        &settings(lake),
        INBOX,
        key,
        now(),
    ))
    .catch_unwind()
    .await;
    let panic = match run {
        Ok(failed) => {
            assert!(matches!(failed, Err(IngestError::Store(_))), "{failed:?}");
            None
        }
        Err(panic) => Some(panic),
    };
    assert_eq!(
        state.file("grossiste-a", &sha).await.unwrap(),
        None,
        "the claim was given up"
    );
    let retry = retry_a_minute_later(objects, state, lake, key)
        .await
        .unwrap();
    assert!(matches!(retry, IngestOutcome::Applied { .. }), "{retry:?}");
    assert_eq!(
        state
            .file("grossiste-a", &sha)
            .await
            .unwrap()
            .unwrap()
            .status,
        FileStatus::Applied
    );
    assert!(
        objects
            .get(INBOX, "receipts/grossiste-a/s47.csv.accuse.txt")
            .await
            .unwrap()
            .is_some()
    );
    panic
}

/// A panic half way (a bug) goes on to the runtime, the claim given up first.
async fn a_panic_half_way_gives_the_claim_up(
    objects: &impl ObjectStore,
    state: &impl crate::State,
    lake: &str,
) {
    let panic = a_failed_run_gives_the_claim_up(objects, state, lake, true, false)
        .await
        .expect("the panic goes on to the runtime");
    assert_eq!(
        panic.downcast_ref::<String>().map(String::as_str),
        Some("injected panic after 1 positions")
    );
}

/// A claim written whose answer is lost (the run fails on it) is given up.
async fn a_claim_whose_answer_is_lost_is_given_up(
    objects: &impl ObjectStore,
    state: &impl crate::State,
    lake: &str,
) {
    let panic = a_failed_run_gives_the_claim_up(objects, state, lake, false, true).await;
    assert!(panic.is_none());
}

async fn a_file_claimed_by_a_live_run_is_retried_later(
    objects: &impl ObjectStore,
    state: &impl crate::State,
    lake: &str,
) {
    let key = "inbox/grossiste-a/s47.csv";
    drop_file(objects, key, WEEK_47).await;
    let sha = medistock_domain::sha256_hex(WEEK_47.as_bytes());
    let other_run = LedgerEntry {
        sha256: sha.clone(),
        status: FileStatus::Processing,
        key: key.into(),
        version: None,
        declarant: "grossiste-a".into(),
        owner: medistock_domain::store::lease_token(),
        lines: [0; 3],
        received_at: now(),
        lease_until: now() + Duration::minutes(5),
        finished_at: None,
    };
    assert_eq!(state.claim_file(&other_run).await.unwrap(), Claim::Acquired);
    let busy = retry_a_minute_later(objects, state, lake, key).await;
    assert!(
        matches!(busy, Err(IngestError::InProgress { .. })),
        "{busy:?}"
    );
    assert_eq!(stocks(state, "3400949497294").await, []);
    let after_lease = ingest_object(
        objects,
        state,
        &settings(lake),
        INBOX,
        key,
        now() + Duration::minutes(6),
    )
    .await;
    assert!(matches!(
        after_lease.unwrap(),
        IngestOutcome::Applied { .. }
    ));
}

async fn a_file_above_the_size_bound_is_quarantined_unread(
    objects: &impl ObjectStore,
    state: &impl crate::State,
    lake: &str,
) {
    let key = "inbox/grossiste-a/énorme.csv";
    drop_file(objects, key, WEEK_47).await;
    let mut small = settings(lake);
    small.limits.max_file_bytes = 100;
    let outcome = ingest_object(objects, state, &small, INBOX, key, now())
        .await
        .unwrap();
    let IngestOutcome::Rejected { report } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        report.file_errors[0].code.as_str(),
        "fichier_trop_volumineux"
    );
    let quarantined = objects.list(lake, "quarantine/grossiste-a/").await.unwrap();
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert!(
        quarantined[0].starts_with("quarantine/grossiste-a/trop-volumineux-20261123T093000-")
            && quarantined[0].ends_with(".csv"),
        "{quarantined:?}"
    );
    assert_eq!(
        objects
            .get(lake, &quarantined[0])
            .await
            .unwrap()
            .unwrap()
            .bytes,
        WEEK_47.as_bytes()
    );
    // Two more drops under that name within the same second, each read as the version its
    // event names: each kept, none overwriting another.
    let mut kept = vec![WEEK_47.to_owned()];
    for text in [format!("{WEEK_47}\n"), format!("{WEEK_47}\n\n")] {
        let version = drop_file(objects, key, &text).await;
        ingest_at(objects, state, &small, key, version.as_deref(), now()).await;
        kept.push(text);
    }
    let mut copies = Vec::new();
    for key in objects.list(lake, "quarantine/grossiste-a/").await.unwrap() {
        let bytes = objects.get(lake, &key).await.unwrap().unwrap().bytes;
        copies.push(String::from_utf8(bytes.to_vec()).unwrap());
    }
    copies.sort();
    kept.sort();
    assert_eq!(copies, kept);
    let receipt = text_of(objects, INBOX, "receipts/grossiste-a/énorme.csv.accuse.txt").await;
    assert!(
        receipt.contains("REJETÉ") && receipt.contains("fichier_trop_volumineux"),
        "{receipt}"
    );
    assert_eq!(stocks(state, "3400949497294").await, []);
}

async fn the_same_bytes_from_two_declarants_are_two_files_and_neither_learns_of_the_other(
    objects: &impl ObjectStore,
    state: &impl crate::State,
    lake: &str,
) {
    drop_file(objects, "inbox/grossiste-a/secret-a.csv", WEEK_47).await;
    ingest_object(
        objects,
        state,
        &settings(lake),
        INBOX,
        "inbox/grossiste-a/secret-a.csv",
        now(),
    )
    .await
    .unwrap();
    drop_file(objects, "inbox/gr-b/stock.csv", WEEK_47).await;
    let outcome = ingest_object(
        objects,
        state,
        &settings(lake),
        INBOX,
        "inbox/gr-b/stock.csv",
        now(),
    )
    .await
    .unwrap();
    assert!(
        matches!(outcome, IngestOutcome::Applied { .. }),
        "{outcome:?}"
    );
    let receipt = text_of(objects, INBOX, "receipts/gr-b/stock.csv.accuse.txt").await;
    assert!(!receipt.contains("grossiste-a"), "{receipt}");
    assert!(!receipt.contains("secret-a"), "{receipt}");
    assert!(!receipt.contains("DÉJÀ REÇU"), "{receipt}");
    let mut held = stocks(state, "3400949497294").await;
    held.sort();
    assert_eq!(
        held,
        [
            ("gr-b".into(), "2026-11-20".into(), 1500),
            ("grossiste-a".into(), "2026-11-20".into(), 1500)
        ]
    );
    let sha = medistock_domain::sha256_hex(WEEK_47.as_bytes());
    assert_eq!(
        objects.list(lake, "normalized/").await.unwrap(),
        [
            format!("normalized/as_of=2026-11-20/declarant=gr-b/{sha}.parquet"),
            format!("normalized/as_of=2026-11-20/declarant=grossiste-a/{sha}.parquet"),
        ]
    );
    assert_eq!(
        objects.list(lake, "daily/").await.unwrap(),
        [
            format!("daily/as_of=2026-11-20/declarant=gr-b/{sha}.parquet"),
            format!("daily/as_of=2026-11-20/declarant=grossiste-a/{sha}.parquet"),
        ],
        "the same bytes from two declarants: each its own totals"
    );
}

async fn a_correction_for_the_same_date_replaces_only_the_sites_it_lists(
    objects: &impl ObjectStore,
    state: &impl crate::State,
    lake: &str,
) {
    // Lyon 1000; the Lille line is refused (a negative stock).
    let first = "cip13;date_stock;stock;site\n\
                 3400949497294;2026-11-20;1000;Lyon\n\
                 3400949497294;2026-11-20;-800;Lille\n\
                 3400949497706;2026-11-20;40;Lyon\n";
    drop_file(objects, "inbox/grossiste-a/s47.csv", first).await;
    ingest_object(
        objects,
        state,
        &settings(lake),
        INBOX,
        "inbox/grossiste-a/s47.csv",
        now(),
    )
    .await
    .unwrap();
    assert_eq!(
        stocks(state, "3400949497294").await,
        [("grossiste-a".into(), "2026-11-20".into(), 1000)]
    );
    // The corrected Lille line alone, as the receipt asked.
    let fixed = "cip13;date_stock;stock;site\n3400949497294;2026-11-20;800;Lille\n";
    drop_file(objects, "inbox/grossiste-a/s47-correctif.csv", fixed).await;
    let outcome = ingest_object(
        objects,
        state,
        &settings(lake),
        INBOX,
        "inbox/grossiste-a/s47-correctif.csv",
        now() + Duration::hours(1),
    )
    .await
    .unwrap();
    let IngestOutcome::Applied { summary, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        summary.corrected,
        [("3400949497294".to_owned(), "Lille".to_owned())]
    );
    assert_eq!(
        stocks(state, "3400949497294").await,
        [("grossiste-a".into(), "2026-11-20".into(), 1800)]
    );
    let receipt = text_of(
        objects,
        INBOX,
        "receipts/grossiste-a/s47-correctif.csv.accuse.txt",
    )
    .await;
    assert!(
        receipt.contains("Corrections appliquées (1)")
            && receipt.contains("3400949497294, site « Lille »"),
        "{receipt}"
    );
    // A second correction of Lyon replaces Lyon only.
    let lyon = "cip13;date_stock;stock;site\n3400949497294;2026-11-20;900;Lyon\n";
    drop_file(objects, "inbox/grossiste-a/s47-lyon.csv", lyon).await;
    ingest_object(
        objects,
        state,
        &settings(lake),
        INBOX,
        "inbox/grossiste-a/s47-lyon.csv",
        now() + Duration::hours(2),
    )
    .await
    .unwrap();
    assert_eq!(
        stocks(state, "3400949497294").await,
        [("grossiste-a".into(), "2026-11-20".into(), 1700)]
    );
    assert_eq!(
        stocks(state, "3400949497706").await,
        [("grossiste-a".into(), "2026-11-20".into(), 40)]
    );
}

async fn sites_declared_at_different_dates_in_one_file_are_summed(
    objects: &impl ObjectStore,
    state: &impl crate::State,
    lake: &str,
) {
    let text = "cip13;date_stock;stock;site\n\
                3400949497294;2026-11-21;100;Dépôt A\n\
                3400949497294;2026-11-20;900;Dépôt B\n";
    drop_file(objects, "inbox/grossiste-a/depots.csv", text).await;
    let outcome = ingest_object(
        objects,
        state,
        &settings(lake),
        INBOX,
        "inbox/grossiste-a/depots.csv",
        now(),
    )
    .await
    .unwrap();
    let IngestOutcome::Applied { summary, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!((summary.applied, summary.not_newer.len()), (1, 0));
    let held = state.positions(&cip("3400949497294")).await.unwrap();
    assert_eq!(
        (held[0].stock, held[0].as_of.to_string(), held[0].sites),
        (1000, "2026-11-21".to_owned(), 2)
    );
}

async fn a_file_overwritten_before_it_is_read_is_ingested_as_dropped(
    objects: &impl ObjectStore,
    state: &impl crate::State,
    lake: &str,
) {
    let key = "inbox/grossiste-a/stock.csv";
    let v1 = drop_file(objects, key, WEEK_47).await;
    let v2 = drop_file(objects, key, WEEK_46).await;
    assert!(v1.is_some() && v1 != v2, "the inbox is versioned");
    // The events arrive after both uploads: each names its own version.
    let mut receipts = Vec::new();
    for (version, text) in [(&v1, WEEK_47), (&v2, WEEK_46)] {
        let outcome = ingest_at(
            objects,
            state,
            &settings(lake),
            key,
            version.as_deref(),
            now(),
        )
        .await;
        let IngestOutcome::Applied { report, .. } = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(report.sha256, medistock_domain::sha256_hex(text.as_bytes()));
        let raw = objects
            .get(
                lake,
                &format!("raw/grossiste-a/2026/11/23/{}.csv", report.sha256),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(raw.bytes, text.as_bytes(), "each version is archived");
        assert_eq!(
            (
                raw.metadata.get("declarant").map(String::as_str),
                raw.metadata.get("sha256"),
                raw.metadata.get("original-name").map(String::as_str),
            ),
            (Some("grossiste-a"), Some(&report.sha256), Some("stock.csv")),
            "the archive of a version carries its own metadata"
        );
        let inbox = medistock_analytics::ingest::InboxKey::parse(key)
            .unwrap()
            .with_version(version.as_deref());
        receipts.push(text_of(objects, INBOX, &inbox.receipt_key("accuse.txt")).await);
    }
    assert_ne!(receipts[0], receipts[1], "one receipt per version");
    assert!(receipts[0].contains(&medistock_domain::sha256_hex(WEEK_47.as_bytes())));
}

async fn a_temporary_upload_name_is_never_ingested(
    objects: &impl ObjectStore,
    state: &impl crate::State,
    lake: &str,
) {
    for key in [
        "inbox/grossiste-a/stock.csv.filepart",
        "inbox/grossiste-a/.stock.csv.swp",
    ] {
        drop_file(objects, key, WEEK_47).await;
        let outcome = ingest_object(objects, state, &settings(lake), INBOX, key, now())
            .await
            .unwrap();
        assert!(
            matches!(outcome, IngestOutcome::Ignored { .. }),
            "{key}: {outcome:?}"
        );
    }
    assert_eq!(stocks(state, "3400949497294").await, []);
    assert_eq!(objects.list(lake, "").await.unwrap(), Vec::<String>::new());
}

async fn a_very_long_file_name_gets_a_bounded_receipt(
    objects: &impl ObjectStore,
    state: &impl crate::State,
    lake: &str,
) {
    // 240 bytes: a name a file system still holds, whose receipt name would not.
    let name = format!(
        "{}{}.csv",
        "déclaration-très-longue-".repeat(8),
        "x".repeat(28)
    );
    assert_eq!(name.len(), 240);
    let key = format!("inbox/grossiste-a/{name}");
    drop_file(objects, &key, WEEK_47).await;
    let outcome = ingest_object(objects, state, &settings(lake), INBOX, &key, now())
        .await
        .unwrap();
    assert!(
        matches!(outcome, IngestOutcome::Applied { .. }),
        "{outcome:?}"
    );
    let receipts = objects.list(INBOX, "receipts/grossiste-a/").await.unwrap();
    assert_eq!(receipts.len(), 2, "{receipts:?}");
    for receipt in &receipts {
        let file_name = receipt.rsplit('/').next().unwrap();
        assert!(file_name.len() <= 255, "{file_name}");
    }
    let sha = medistock_domain::sha256_hex(WEEK_47.as_bytes());
    assert_eq!(
        state
            .file("grossiste-a", &sha)
            .await
            .unwrap()
            .map(|e| e.status),
        Some(FileStatus::Applied)
    );
}

async fn two_files_under_one_name_at_once_each_apply_their_own_bytes(
    objects: &impl ObjectStore,
    state: &impl crate::State,
    lake: &str,
) {
    let key = "inbox/grossiste-a/stock.csv";
    let one = "cip13;date_stock;stock\n3400949497294;2026-11-20;111\n";
    let two = "cip13;date_stock;stock\n3400949497706;2026-11-20;222\n";
    let drop_and_ingest = |text: &'static str| async move {
        let version = drop_file(objects, key, text).await;
        ingest_at(
            objects,
            state,
            &settings(lake),
            key,
            version.as_deref(),
            now(),
        )
        .await
    };
    let (a, b) = tokio::join!(drop_and_ingest(one), drop_and_ingest(two));
    for (outcome, text) in [(a, one), (b, two)] {
        let IngestOutcome::Applied { report, .. } = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(report.sha256, medistock_domain::sha256_hex(text.as_bytes()));
    }
    assert_eq!(
        stocks(state, "3400949497294").await,
        [("grossiste-a".into(), "2026-11-20".into(), 111)]
    );
    assert_eq!(
        stocks(state, "3400949497706").await,
        [("grossiste-a".into(), "2026-11-20".into(), 222)]
    );
    assert_eq!(objects.list(lake, "raw/").await.unwrap().len(), 2);
}

macro_rules! pipeline_tests {
    ($setup:path) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_file_updates_positions_archive_history_receipt_and_ledger() {
            let Some((objects, state, lake, _guard)) = $setup().await else {
                return;
            };
            super::a_file_updates_positions_archive_history_receipt_and_ledger(
                &objects, &state, &lake,
            )
            .await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn the_same_event_twice_and_the_same_bytes_under_another_name_count_once() {
            let Some((objects, state, lake, _guard)) = $setup().await else {
                return;
            };
            super::the_same_event_twice_and_the_same_bytes_under_another_name_count_once(
                &objects, &state, &lake,
            )
            .await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_correction_dropped_in_the_same_second_wins() {
            let Some((objects, state, lake, _guard)) = $setup().await else {
                return;
            };
            super::a_correction_dropped_in_the_same_second_wins(&objects, &state, &lake).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_rejected_file_dropped_again_is_judged_again() {
            let Some((objects, state, lake, _guard)) = $setup().await else {
                return;
            };
            super::a_rejected_file_dropped_again_is_judged_again(&objects, &state, &lake).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn an_older_file_never_overwrites_a_newer_state() {
            let Some((objects, state, lake, _guard)) = $setup().await else {
                return;
            };
            super::an_older_file_never_overwrites_a_newer_state(&objects, &state, &lake).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn two_declarants_for_the_same_reference_concurrently() {
            let Some((objects, state, lake, _guard)) = $setup().await else {
                return;
            };
            super::two_declarants_for_the_same_reference_concurrently(&objects, &state, &lake)
                .await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_rejected_file_is_quarantined_with_its_receipt() {
            let Some((objects, state, lake, _guard)) = $setup().await else {
                return;
            };
            super::a_rejected_file_is_quarantined_with_its_receipt(&objects, &state, &lake).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn keys_outside_a_declarant_folder_are_ignored() {
            let Some((objects, state, lake, _guard)) = $setup().await else {
                return;
            };
            super::keys_outside_a_declarant_folder_are_ignored(&objects, &state, &lake).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_failure_after_half_the_writes_then_a_retry_ends_as_one_clean_run() {
            let Some((objects, state, lake, _guard)) = $setup().await else {
                return;
            };
            super::a_failure_after_half_the_writes_then_a_retry_ends_as_one_clean_run(
                &objects, &state, &lake,
            )
            .await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_claim_whose_answer_is_lost_is_given_up() {
            let Some((objects, state, lake, _guard)) = $setup().await else {
                return;
            };
            super::a_claim_whose_answer_is_lost_is_given_up(&objects, &state, &lake).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_panic_half_way_gives_the_claim_up() {
            let Some((objects, state, lake, _guard)) = $setup().await else {
                return;
            };
            super::a_panic_half_way_gives_the_claim_up(&objects, &state, &lake).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_file_above_the_size_bound_is_quarantined_unread() {
            let Some((objects, state, lake, _guard)) = $setup().await else {
                return;
            };
            super::a_file_above_the_size_bound_is_quarantined_unread(&objects, &state, &lake).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_file_claimed_by_a_live_run_is_retried_later() {
            let Some((objects, state, lake, _guard)) = $setup().await else {
                return;
            };
            super::a_file_claimed_by_a_live_run_is_retried_later(&objects, &state, &lake).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn the_same_bytes_from_two_declarants_are_two_files_and_neither_learns_of_the_other() {
            let Some((objects, state, lake, _guard)) = $setup().await else {
                return;
            };
            super::the_same_bytes_from_two_declarants_are_two_files_and_neither_learns_of_the_other(&objects, &state, &lake).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_correction_for_the_same_date_replaces_only_the_sites_it_lists() {
            let Some((objects, state, lake, _guard)) = $setup().await else {
                return;
            };
            super::a_correction_for_the_same_date_replaces_only_the_sites_it_lists(&objects, &state, &lake).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn sites_declared_at_different_dates_in_one_file_are_summed() {
            let Some((objects, state, lake, _guard)) = $setup().await else {
                return;
            };
            super::sites_declared_at_different_dates_in_one_file_are_summed(&objects, &state, &lake).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_file_overwritten_before_it_is_read_is_ingested_as_dropped() {
            let Some((objects, state, lake, _guard)) = $setup().await else {
                return;
            };
            super::a_file_overwritten_before_it_is_read_is_ingested_as_dropped(&objects, &state, &lake).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_temporary_upload_name_is_never_ingested() {
            let Some((objects, state, lake, _guard)) = $setup().await else {
                return;
            };
            super::a_temporary_upload_name_is_never_ingested(&objects, &state, &lake).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_very_long_file_name_gets_a_bounded_receipt() {
            let Some((objects, state, lake, _guard)) = $setup().await else {
                return;
            };
            super::a_very_long_file_name_gets_a_bounded_receipt(&objects, &state, &lake).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn two_files_under_one_name_at_once_each_apply_their_own_bytes() {
            let Some((objects, state, lake, _guard)) = $setup().await else {
                return;
            };
            super::two_files_under_one_name_at_once_each_apply_their_own_bytes(&objects, &state, &lake).await;
        }
    };
}

mod local {
    use super::*;

    async fn setup() -> Option<(LocalObjects, LocalState, String, tempfile::TempDir)> {
        let dir = tempfile::tempdir().unwrap();
        let objects = LocalObjects::new(dir.path()).with_versioning(INBOX);
        let state = LocalState::open(&dir.path().join("state.sqlite")).unwrap();
        Some((objects, state, "lac".to_owned(), dir))
    }

    pipeline_tests!(setup);

    /// A file of 1,200 references is written 250 positions at a time: a failure in a later
    /// batch leaves the first written and the file claimed by nobody, and the retry
    /// ends as one clean run (every position once, the same figures).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failure_between_batches_of_positions_then_a_retry() {
        let (objects, state, lake, _guard) = setup().await.unwrap();
        let references: Vec<Cip13> = (0..1_200)
            .map(|i| cip(&format!("{}", 4_000_000 + i)))
            .collect();
        let mut text = String::from("cip13;date_stock;stock;sorties;site\n");
        for (i, r) in references.iter().enumerate() {
            for site in ["Lyon", "Lille"] {
                text.push_str(&format!("{r};2026-11-20;{};7;{site}\n", 10 + i));
            }
        }
        let key = "inbox/grossiste-a/national.csv";
        drop_file(&objects, key, &text).await;
        let failing = FailingState {
            inner: &state,
            budget: AtomicUsize::new(700),
            panics: false,
            claim_lost: false,
        };
        let crashed = ingest_object(&objects, &failing, &settings(&lake), INBOX, key, now()).await;
        assert!(matches!(crashed, Err(IngestError::Store(_))), "{crashed:?}");
        assert_eq!(
            PositionStore::all_positions(&state).await.unwrap().len(),
            700
        );

        let retry = ingest_object(
            &objects,
            &state,
            &settings(&lake),
            INBOX,
            key,
            now() + Duration::minutes(1),
        )
        .await
        .unwrap();
        let IngestOutcome::Applied { summary, report } = retry else {
            panic!("{retry:?}")
        };
        assert_eq!((report.lines.accepted, summary.applied), (2_400, 1_200));
        let positions = PositionStore::all_positions(&state).await.unwrap();
        assert_eq!(positions.len(), 1_200);
        for (i, p) in positions.iter().enumerate() {
            assert_eq!(p.cip13, references[i]);
            assert_eq!((p.stock, p.sites), (2 * (10 + i as i64), 2));
        }
    }

    /// A failure of one of the effects run together (the archive while the file is validated,
    /// the history — its lines, or its daily totals — while the positions merge) fails the
    /// run: no receipt, the claim released at once, the other effect finished, and the retry
    /// ends as one clean run.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_archive_or_history_then_a_retry() {
        let cases = [("raw/", Some(0)), ("normalized/", None), ("daily/", None)];
        for (prefix, positions_before_retry) in cases {
            let (objects, state, lake, _guard) = setup().await.unwrap();
            let key = "inbox/grossiste-a/stock.csv";
            let version = drop_file(&objects, key, WEEK_47).await;
            let failing = SpyObjects::new(&objects).refusing_writes_under(prefix);
            let settings = settings(&lake);
            let crashed = ingest_version(
                &failing,
                &state,
                &settings,
                INBOX,
                key,
                version.as_deref(),
                now(),
            )
            .await;
            assert!(
                matches!(crashed, Err(IngestError::Store(_))),
                "{prefix}: {crashed:?}"
            );
            let inbox = medistock_analytics::ingest::InboxKey::parse(key)
                .unwrap()
                .with_version(version.as_deref());
            let receipt = objects
                .get(INBOX, &inbox.receipt_key("accuse.txt"))
                .await
                .unwrap();
            assert_eq!(receipt, None, "{prefix}: no receipt for a failed run");
            if let Some(expected) = positions_before_retry {
                // The archive comes before any other effect.
                assert_eq!(
                    PositionStore::all_positions(&state).await.unwrap().len(),
                    expected,
                    "{prefix}"
                );
                assert!(objects.list(&lake, "normalized/").await.unwrap().is_empty());
                assert!(objects.list(&lake, "daily/").await.unwrap().is_empty());
            } else {
                // The daily totals never stand without the lines the risk run may read.
                assert!(
                    objects.list(&lake, "daily/").await.unwrap().is_empty(),
                    "{prefix}: daily totals written without their lines"
                );
                if prefix == "daily/" {
                    // The lines are written first; the retry writes them again in place.
                    assert_eq!(
                        objects.list(&lake, "normalized/").await.unwrap().len(),
                        1,
                        "{prefix}"
                    );
                }
            }
            // Within the lease: only a released claim lets the retry in.
            let retry = ingest_at(
                &objects,
                &state,
                &settings,
                key,
                version.as_deref(),
                now() + Duration::seconds(1),
            )
            .await;
            let IngestOutcome::Applied { report, .. } = retry else {
                panic!("{prefix}: {retry:?}")
            };
            let raw = objects.list(&lake, "raw/grossiste-a/").await.unwrap();
            assert_eq!(raw.len(), 1, "{prefix}: {raw:?}");
            assert_eq!(objects.list(&lake, "normalized/").await.unwrap().len(), 1);
            assert_eq!(objects.list(&lake, "daily/").await.unwrap().len(), 1);
            let receipt = text_of(&objects, INBOX, &inbox.receipt_key("accuse.txt")).await;
            assert!(receipt.contains(&report.sha256), "{prefix}: {receipt}");
            let entry = state
                .file("grossiste-a", &report.sha256)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(entry.status, FileStatus::Applied, "{prefix}");
        }
    }

    /// S3 names `"null"` the version of an object written while the bucket's versioning was
    /// off or suspended: the next write under its key replaces it, so a copy of it made after
    /// the hash could archive other bytes. The bytes hashed are archived instead.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_null_version_is_archived_from_the_bytes_read() {
        let (objects, state, lake, _guard) = setup().await.unwrap();
        let key = "inbox/grossiste-a/stock.csv";
        let version = drop_file(&objects, key, WEEK_47).await;
        let spy = SpyObjects::new(&objects).reading_version_as("null", version);
        let outcome = ingest_at(&spy, &state, &settings(&lake), key, Some("null"), now()).await;
        let IngestOutcome::Applied { report, .. } = outcome else {
            panic!("{outcome:?}")
        };
        let raw_key = format!("raw/grossiste-a/2026/11/23/{}.csv", report.sha256);
        assert_eq!(
            spy.calls(Op::Put).iter().filter(|k| **k == raw_key).count(),
            1
        );
        assert!(spy.calls(Op::Copy).is_empty(), "{:?}", spy.calls(Op::Copy));
        let raw = objects.get(&lake, &raw_key).await.unwrap().unwrap();
        assert_eq!(raw.bytes, WEEK_47.as_bytes());
        assert_eq!(raw.metadata.get("sha256"), Some(&report.sha256));
        // With the version itself named, the archive is a copy.
        let (objects, state, lake, _guard) = setup().await.unwrap();
        let version = drop_file(&objects, key, WEEK_47).await;
        let spy = SpyObjects::new(&objects);
        ingest_at(
            &spy,
            &state,
            &settings(&lake),
            key,
            version.as_deref(),
            now(),
        )
        .await;
        assert_eq!(spy.calls(Op::Copy), std::slice::from_ref(&raw_key));
        assert!(!spy.calls(Op::Put).contains(&raw_key));
    }
}

mod on_moto {
    use medistock_aws::{DynamoState, S3Objects};

    use super::INBOX;
    use medistock_testkit::aws;
    use medistock_testkit::objects::SpyObjects;

    /// Two buckets on one client: the inbox is named `depot` in the tests, so each test gets
    /// its own S3 "account" by prefixing keys is not possible; instead the inbox bucket is
    /// created once per test under a unique name and named so through `SpyObjects`.
    async fn setup() -> Option<(SpyObjects<Box<S3Objects>>, DynamoState, String, ())> {
        let endpoint = medistock_testkit::emulator()?;
        let config = aws::config(&endpoint).await;
        let inbox = medistock_testkit::unique("depot");
        let lake = medistock_testkit::unique("lac");
        let client = aws::bucket(&config, &inbox).await;
        aws::enable_versioning(&client, &inbox).await;
        aws::bucket(&config, &lake).await;
        let table = medistock_testkit::unique("etat");
        let state = DynamoState::new(aws::table(&config, &table).await, table);
        let objects = SpyObjects::new(Box::new(S3Objects::new(client))).naming_bucket(INBOX, inbox);
        Some((objects, state, lake, ()))
    }

    pipeline_tests!(setup);
}

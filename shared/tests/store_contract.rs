//! One contract for the storage ports, run against the local adapters and against the AWS
//! adapters on the moto emulator: newest wins, a file is claimed once, an alert is created once,
//! many positions at once, objects with metadata and awkward keys.

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use medistock_core::domain::{Cip13, DeclarantId};
use medistock_core::positions::{Position, Supply};
use medistock_core::store::local::{LocalObjects, LocalState};
use medistock_core::store::{
    AlertRecord, AlertStatus, Claim, FileStatus, LedgerEntry, Notification, ObjectStore,
    PositionWrite, RiskItem, StateStore,
};

fn date(d: &str) -> NaiveDate {
    d.parse().unwrap()
}

fn position(cip: &str, declarant: &str, as_of: &str, stock: i64, sha: &str) -> Position {
    Position {
        cip13: Cip13::parse(cip).unwrap(),
        declarant: DeclarantId::parse(declarant).unwrap(),
        as_of: date(as_of),
        stock,
        stock_bloque: 3,
        daily_outflow: Some(12.5),
        sites: 2,
        supplies: vec![Supply {
            date: date("2026-12-01"),
            quantity: 500,
        }],
        source_sha256: sha.to_owned(),
    }
}

fn ledger(sha: &str, now: DateTime<Utc>) -> LedgerEntry {
    LedgerEntry {
        sha256: sha.to_owned(),
        status: FileStatus::Processing,
        key: "inbox/grossiste-a/f.csv".into(),
        declarant: "grossiste-a".into(),
        lines: [0; 3],
        received_at: now,
        lease_until: now + Duration::minutes(5),
        finished_at: None,
    }
}

fn t0() -> DateTime<Utc> {
    "2026-11-23T09:00:00Z".parse().unwrap()
}

async fn newest_wins(state: &impl StateStore) {
    let cip = "3400949497294";
    let first = position(cip, "grossiste-a", "2026-11-20", 100, "aaa");
    assert_eq!(
        state
            .apply_positions(std::slice::from_ref(&first))
            .await
            .unwrap(),
        [PositionWrite::Applied]
    );
    let older = position(cip, "grossiste-a", "2026-11-19", 999, "bbb");
    let same_day_other_file = position(cip, "grossiste-a", "2026-11-20", 555, "ccc");
    let same_file_again = first.clone();
    assert_eq!(
        state
            .apply_positions(&[older, same_day_other_file, same_file_again])
            .await
            .unwrap(),
        [
            PositionWrite::NotNewer {
                held_as_of: date("2026-11-20")
            },
            PositionWrite::NotNewer {
                held_as_of: date("2026-11-20")
            },
            PositionWrite::Applied,
        ]
    );
    assert_eq!(
        state.positions(&first.cip13).await.unwrap(),
        std::slice::from_ref(&first)
    );
    let newer = position(cip, "grossiste-a", "2026-11-21", 80, "ddd");
    let other_declarant = position(cip, "lab-b", "2026-11-01", 7000, "eee");
    state
        .apply_positions(&[newer.clone(), other_declarant.clone()])
        .await
        .unwrap();
    assert_eq!(
        state.positions(&first.cip13).await.unwrap(),
        [newer, other_declarant]
    );
}

async fn ledger_once_only(state: &impl StateStore) {
    let now = t0();
    let entry = ledger("f1", now);
    assert_eq!(state.claim_file(&entry).await.unwrap(), Claim::Acquired);
    let again = ledger("f1", now + Duration::minutes(1));
    assert!(
        matches!(state.claim_file(&again).await.unwrap(), Claim::InProgress(held) if held.lease_until == entry.lease_until)
    );
    // A crashed run's claim expires with its lease.
    let later = ledger("f1", now + Duration::minutes(6));
    assert_eq!(state.claim_file(&later).await.unwrap(), Claim::Acquired);
    let mut done = later.clone();
    done.status = FileStatus::Applied;
    done.lines = [10, 9, 1];
    done.finished_at = Some(now + Duration::minutes(7));
    state.finish_file(&done).await.unwrap();
    let much_later = ledger("f1", now + Duration::days(3));
    assert_eq!(
        state.claim_file(&much_later).await.unwrap(),
        Claim::Done(done.clone())
    );
    assert_eq!(state.file("f1").await.unwrap(), Some(done));
    // Releasing an applied file does nothing; releasing a claim frees it at once.
    state.release_file("f1").await.unwrap();
    assert!(matches!(
        state.claim_file(&much_later).await.unwrap(),
        Claim::Done(_)
    ));
    assert_eq!(
        state.claim_file(&ledger("f2", now)).await.unwrap(),
        Claim::Acquired
    );
    state.release_file("f2").await.unwrap();
    assert_eq!(state.file("f2").await.unwrap(), None);
    assert_eq!(
        state.claim_file(&ledger("f2", now)).await.unwrap(),
        Claim::Acquired
    );
    // The week's files: received in [from, to), oldest first.
    let received = |from, to| async move {
        state
            .files_received(from, to)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.sha256)
            .collect::<Vec<_>>()
    };
    assert_eq!(received(now, now + Duration::days(1)).await, ["f2", "f1"]);
    assert_eq!(
        received(now, now + Duration::minutes(6)).await,
        ["f2"],
        "f1 was claimed again at +6 min: its entry says so"
    );
    assert_eq!(
        received(now - Duration::days(1), now + Duration::days(7)).await,
        ["f2", "f1"]
    );
    assert!(
        received(now + Duration::days(7), now + Duration::days(14))
            .await
            .is_empty()
    );
}

async fn outbox_once_only(state: &impl StateStore) {
    let alert = AlertRecord {
        key: "3400949497294#2026-11-23#TENSION".into(),
        cip13: "3400949497294".into(),
        notification: Notification {
            topic: "critique".into(),
            subject: "TENSION".into(),
            body: "corps".into(),
            sms: None,
            attributes: BTreeMap::from([("level".into(), "TENSION".into())]),
        },
        status: AlertStatus::Pending,
        message_id: None,
        created_at: t0(),
    };
    assert!(state.put_alert_once(&alert).await.unwrap());
    assert!(
        !state.put_alert_once(&alert).await.unwrap(),
        "the same transition is recorded once"
    );
    assert_eq!(
        state.pending_alerts().await.unwrap(),
        std::slice::from_ref(&alert)
    );
    assert_eq!(
        state.alert(&alert.key).await.unwrap().as_ref(),
        Some(&alert)
    );
    state.mark_alert_sent(&alert.key, "msg-1").await.unwrap();
    let sent = state.alert(&alert.key).await.unwrap().unwrap();
    assert_eq!(
        (sent.status, sent.message_id.as_deref()),
        (AlertStatus::Sent, Some("msg-1"))
    );
    assert_eq!(state.pending_alerts().await.unwrap(), []);
    assert!(
        !state.put_alert_once(&alert).await.unwrap(),
        "a sent alert is not recreated"
    );
}

async fn many_positions_at_once(state: &impl StateStore) {
    // More than a DynamoDB batch (25) and than the write concurrency (16).
    let positions: Vec<Position> = (0..60u64)
        .map(|i| {
            // A CIP7 becomes 34009 + CIP7 + its computed check digit.
            let cip13 = Cip13::parse(&format!("{:07}", 3_000_000 + i)).unwrap();
            position(
                cip13.as_str(),
                "grossiste-a",
                "2026-11-20",
                i as i64,
                "batch",
            )
        })
        .collect();
    let writes = state.apply_positions(&positions).await.unwrap();
    assert_eq!(writes, vec![PositionWrite::Applied; 60]);
    for p in [&positions[0], &positions[31], &positions[59]] {
        assert_eq!(
            state.positions(&p.cip13).await.unwrap(),
            std::slice::from_ref(p)
        );
    }
}

async fn sftp_accounts(state: &impl StateStore) {
    use medistock_core::domain::{DeclarantId, DeclarantType};
    use medistock_core::sftp::Account;
    let account = |id: &str, enabled: bool| Account {
        id: DeclarantId::parse(id).unwrap(),
        name: format!("Déclarant {id}"),
        kind: DeclarantType::Grossiste,
        public_keys: vec![format!("ssh-ed25519 AAAA {id}")],
        enabled,
    };
    assert_eq!(state.account("gr-b").await.unwrap(), None);
    state.put_account(&account("gr-b", true)).await.unwrap();
    state.put_account(&account("gr-a", true)).await.unwrap();
    assert_eq!(
        state.account("gr-b").await.unwrap(),
        Some(account("gr-b", true))
    );
    // Disabling replaces the account; the list is by id.
    state.put_account(&account("gr-b", false)).await.unwrap();
    assert_eq!(
        state.accounts().await.unwrap(),
        [account("gr-a", true), account("gr-b", false)]
    );
}

async fn risk_items_are_versioned(state: &impl StateStore) {
    use medistock_core::risk::Level;
    let item = |version: u64, level: Level| RiskItem {
        subject: "3400949497294".into(),
        level,
        as_of: date("2026-11-23"),
        computed_at: t0(),
        version,
        figures: "{}".into(),
    };
    assert!(
        state
            .put_risk(&item(1, Level::Tension), None)
            .await
            .unwrap()
    );
    assert!(
        !state
            .put_risk(&item(1, Level::Critique), None)
            .await
            .unwrap(),
        "a second first write loses"
    );
    assert!(
        state
            .put_risk(&item(2, Level::Critique), Some(1))
            .await
            .unwrap()
    );
    assert!(
        !state
            .put_risk(&item(2, Level::Normal), Some(1))
            .await
            .unwrap(),
        "a stale version loses"
    );
    assert_eq!(
        state.risk_items().await.unwrap(),
        [item(2, Level::Critique)]
    );
    // A group's item lives beside the references' and is versioned the same way.
    let group = RiskItem {
        subject: RiskItem::group_subject("1234"),
        ..item(1, Level::Vigilance)
    };
    assert!(state.put_risk(&group, None).await.unwrap());
    assert!(!state.put_risk(&group, None).await.unwrap());
    let items = state.risk_items().await.unwrap();
    assert_eq!(items, [item(2, Level::Critique), group.clone()]);
    assert_eq!(items[1].group(), Some("1234"));
    let p = position("3400949497294", "grossiste-a", "2026-11-20", 100, "aaa");
    let q = position("3400949497706", "lab-b", "2026-11-20", 5, "bbb");
    state
        .apply_positions(&[q.clone(), p.clone()])
        .await
        .unwrap();
    assert_eq!(state.all_positions().await.unwrap(), [p, q]);
}

async fn objects_with_metadata(objects: &impl ObjectStore, bucket: &str) {
    let key = "inbox/grossiste-a/stock du 20 11 dépôt+1.csv";
    let meta = BTreeMap::from([("sha256".to_owned(), "abc".to_owned())]);
    assert_eq!(objects.get(bucket, key).await.unwrap(), None);
    assert_eq!(objects.size(bucket, key).await.unwrap(), None);
    objects
        .put(bucket, key, b"cip13;stock\n".to_vec(), "text/csv", &meta)
        .await
        .unwrap();
    assert_eq!(objects.size(bucket, key).await.unwrap(), Some(12));
    let got = objects.get(bucket, key).await.unwrap().unwrap();
    assert_eq!(
        (got.bytes.as_slice(), &got.metadata),
        (b"cip13;stock\n".as_slice(), &meta)
    );
    objects
        .copy(bucket, key, bucket, "quarantine/grossiste-a/copie é.csv")
        .await
        .unwrap();
    let copied = objects
        .get(bucket, "quarantine/grossiste-a/copie é.csv")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(copied, got);
    objects
        .put(
            bucket,
            "inbox/lab-b/x.csv",
            b"1".to_vec(),
            "text/csv",
            &BTreeMap::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        objects.list(bucket, "inbox/").await.unwrap(),
        [key, "inbox/lab-b/x.csv"]
    );
    assert_eq!(
        objects.list(bucket, "quarantine/").await.unwrap(),
        ["quarantine/grossiste-a/copie é.csv"]
    );
}

mod local {
    use super::*;

    #[tokio::test]
    async fn newest_wins() {
        super::newest_wins(&LocalState::in_memory().unwrap()).await;
    }

    #[tokio::test]
    async fn ledger_once_only() {
        super::ledger_once_only(&LocalState::in_memory().unwrap()).await;
    }

    #[tokio::test]
    async fn outbox_once_only() {
        super::outbox_once_only(&LocalState::in_memory().unwrap()).await;
    }

    #[tokio::test]
    async fn many_positions_at_once() {
        super::many_positions_at_once(&LocalState::in_memory().unwrap()).await;
    }

    #[tokio::test]
    async fn risk_items_are_versioned() {
        super::risk_items_are_versioned(&LocalState::in_memory().unwrap()).await;
    }

    #[tokio::test]
    async fn sftp_accounts() {
        super::sftp_accounts(&LocalState::in_memory().unwrap()).await;
    }

    #[tokio::test]
    async fn objects_with_metadata() {
        let dir = tempfile::tempdir().unwrap();
        super::objects_with_metadata(&LocalObjects::new(dir.path()), "depot").await;
    }

    #[tokio::test]
    async fn keys_cannot_leave_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let objects = LocalObjects::new(dir.path());
        for key in ["../x", "a/../../x", "/etc/passwd", "a//b", "a\\b"] {
            assert!(
                objects
                    .put("depot", key, vec![], "", &BTreeMap::new())
                    .await
                    .is_err(),
                "{key}"
            );
        }
    }

    #[tokio::test]
    async fn state_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/medistock.sqlite");
        let p = position("3400949497294", "grossiste-a", "2026-11-20", 100, "aaa");
        LocalState::open(&path)
            .unwrap()
            .apply_positions(std::slice::from_ref(&p))
            .await
            .unwrap();
        assert_eq!(
            LocalState::open(&path)
                .unwrap()
                .positions(&p.cip13)
                .await
                .unwrap(),
            [p]
        );
    }
}

#[cfg(feature = "aws")]
mod on_moto {
    use medistock_core::store::aws::{DynamoState, S3Objects};

    use super::common::{self, aws};

    async fn state() -> Option<DynamoState> {
        let endpoint = common::emulator()?;
        let config = aws::config(&endpoint).await;
        let table = common::unique("contrat");
        let client = aws::table(&config, &table).await;
        Some(DynamoState::new(client, table))
    }

    #[tokio::test]
    async fn newest_wins() {
        let Some(state) = state().await else { return };
        super::newest_wins(&state).await;
    }

    #[tokio::test]
    async fn ledger_once_only() {
        let Some(state) = state().await else { return };
        super::ledger_once_only(&state).await;
    }

    #[tokio::test]
    async fn outbox_once_only() {
        let Some(state) = state().await else { return };
        super::outbox_once_only(&state).await;
    }

    #[tokio::test]
    async fn many_positions_at_once() {
        let Some(state) = state().await else { return };
        super::many_positions_at_once(&state).await;
    }

    #[tokio::test]
    async fn risk_items_are_versioned() {
        let Some(state) = state().await else { return };
        super::risk_items_are_versioned(&state).await;
    }

    #[tokio::test]
    async fn sftp_accounts() {
        let Some(state) = state().await else { return };
        super::sftp_accounts(&state).await;
    }

    #[tokio::test]
    async fn objects_with_metadata() {
        let Some(endpoint) = common::emulator() else {
            return;
        };
        let config = aws::config(&endpoint).await;
        let bucket = common::unique("contrat");
        let client = aws::bucket(&config, &bucket).await;
        super::objects_with_metadata(&S3Objects::new(client), &bucket).await;
    }
}

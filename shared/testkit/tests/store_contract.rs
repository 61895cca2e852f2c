//! One contract for the storage ports, run against the local adapters and against the AWS
//! adapters on the moto emulator: newest wins, a file is claimed once, an alert is created once,
//! many positions at once, measures and alert states versioned, objects with metadata and awkward keys.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use medistock_domain::position::{
    MAX_SITES_PER_POSITION, Position, PositionWrite, SiteFigures, Supply,
};
use medistock_domain::store::{
    AccountStore, AlertOutbox, AlertRecord, AlertStateStore, AlertStatus, Claim, FileLedger,
    FileStatus, LedgerEntry, MeasureStore, Notification, ObjectStore, PositionStore, RiskItem,
    RiskStore, StoreError, StoredObject, lease_token,
};
use medistock_domain::{Cip13, DeclarantId};
use medistock_local::{LocalObjects, LocalState};

fn date(d: &str) -> NaiveDate {
    d.parse().unwrap()
}

/// One site's figures, from file `sha`, dropped `minutes` after t0.
fn site(name: &str, as_of: &str, stock: i64, sha: &str, minutes: i64) -> SiteFigures {
    SiteFigures {
        site: name.to_owned(),
        as_of: date(as_of),
        stock,
        stock_bloque: 3,
        daily_outflow: Some(12.5),
        supplies: vec![Supply {
            date: date("2026-12-01"),
            quantity: 500,
        }],
        source_sha256: sha.to_owned(),
        uploaded_at: t0() + Duration::minutes(minutes),
    }
}

fn position_of(cip: &str, declarant: &str, sites: Vec<SiteFigures>) -> Position {
    Position::from_sites(
        Cip13::parse(cip).unwrap(),
        DeclarantId::parse(declarant).unwrap(),
        sites,
    )
    .unwrap()
}

/// A position of one site (`Lyon`) from file `sha`.
fn position(cip: &str, declarant: &str, as_of: &str, stock: i64, sha: &str) -> Position {
    position_of(cip, declarant, vec![site("Lyon", as_of, stock, sha, 0)])
}

fn ledger(sha: &str, now: DateTime<Utc>) -> LedgerEntry {
    ledger_of("grossiste-a", sha, now)
}

fn ledger_of(declarant: &str, sha: &str, now: DateTime<Utc>) -> LedgerEntry {
    LedgerEntry {
        sha256: sha.to_owned(),
        status: FileStatus::Processing,
        key: format!("inbox/{declarant}/f.csv"),
        version: None,
        declarant: declarant.into(),
        owner: lease_token(),
        lines: [0; 3],
        received_at: now,
        lease_until: now + Duration::minutes(5),
        finished_at: None,
    }
}

fn t0() -> DateTime<Utc> {
    "2026-11-23T09:00:00Z".parse().unwrap()
}

fn applied(sites: &[&str]) -> PositionWrite {
    PositionWrite {
        applied: sites.len(),
        ..PositionWrite::default()
    }
}

async fn stock_of(state: &impl PositionStore, cip: &str, declarant: &str) -> (i64, NaiveDate, u32) {
    let held = state.positions(&Cip13::parse(cip).unwrap()).await.unwrap();
    let p = held
        .iter()
        .find(|p| p.declarant.as_str() == declarant)
        .unwrap();
    (p.stock, p.as_of, p.sites)
}

async fn sites_newest_wins_and_corrections_apply(state: &impl PositionStore) {
    let cip = "3400949497294";
    let write = |sites: Vec<SiteFigures>| {
        let p = position_of(cip, "grossiste-a", sites);
        async move { state.apply_positions(&[p]).await.unwrap().remove(0) }
    };
    // Lyon 1000 on 20/11; the Lille line of that file was refused.
    assert_eq!(
        write(vec![site("Lyon", "2026-11-20", 1000, "aaa", 0)]).await,
        applied(&["Lyon"])
    );
    // The corrected Lille line alone, same date, a later file: summed with Lyon.
    assert_eq!(
        write(vec![site("Lille", "2026-11-20", 800, "bbb", 60)]).await,
        PositionWrite {
            applied: 1,
            corrected: vec!["Lille".into()],
            ..PositionWrite::default()
        }
    );
    assert_eq!(
        stock_of(state, cip, "grossiste-a").await,
        (1800, date("2026-11-20"), 2)
    );
    // A later file with Lyon's figure of the same date corrects it.
    assert_eq!(
        write(vec![site("Lyon", "2026-11-20", 1100, "ccc", 120)]).await,
        PositionWrite {
            applied: 1,
            corrected: vec!["Lyon".into()],
            ..PositionWrite::default()
        }
    );
    assert_eq!(stock_of(state, cip, "grossiste-a").await.0, 1900);
    // An older date never overwrites, whenever it arrives.
    assert_eq!(
        write(vec![site("Lyon", "2026-11-19", 5, "ddd", 180)]).await,
        PositionWrite {
            stale: vec![("Lyon".into(), date("2026-11-20"))],
            ..PositionWrite::default()
        }
    );
    // Nor does a retry of a file dropped before the correction (same date, earlier drop).
    assert_eq!(
        write(vec![site("Lyon", "2026-11-20", 1000, "aaa", 0)]).await,
        PositionWrite {
            stale: vec![("Lyon".into(), date("2026-11-20"))],
            ..PositionWrite::default()
        }
    );
    // The same file again is a no-op that counts as applied.
    assert_eq!(
        write(vec![site("Lyon", "2026-11-20", 1100, "ccc", 120)]).await,
        applied(&["Lyon"])
    );
    assert_eq!(stock_of(state, cip, "grossiste-a").await.0, 1900);
    // Sites at different dates are summed: the position is dated by its newest site.
    assert_eq!(
        write(vec![site("Lyon", "2026-11-21", 100, "eee", 240)]).await,
        applied(&["Lyon"])
    );
    assert_eq!(
        stock_of(state, cip, "grossiste-a").await,
        (900, date("2026-11-21"), 2)
    );
    // Another declarant's position is its own.
    let other = position(cip, "lab-b", "2026-11-01", 7000, "fff");
    state
        .apply_positions(std::slice::from_ref(&other))
        .await
        .unwrap();
    assert_eq!(stock_of(state, cip, "lab-b").await.0, 7000);
    assert_eq!(stock_of(state, cip, "grossiste-a").await.0, 900);
}

/// Files of one declarant for one reference written at once, each with its own sites: no
/// write loses another's sites (DynamoDB re-reads and merges again when it loses a race).
async fn concurrent_writes_of_one_position_keep_every_site(state: &impl PositionStore) {
    let cip = "3400949497294";
    let one = |i: usize| {
        let p = position_of(
            cip,
            "grossiste-a",
            vec![site(
                &format!("dépôt {i:02}"),
                "2026-11-20",
                10,
                &format!("f{i}"),
                i as i64,
            )],
        );
        async move { state.apply_positions(&[p]).await.unwrap().remove(0) }
    };
    let writes = futures::future::join_all((0..12).map(one)).await;
    assert!(writes.iter().all(|w| w.applied == 1), "{writes:?}");
    assert_eq!(
        stock_of(state, cip, "grossiste-a").await,
        (120, date("2026-11-20"), 12)
    );
}

async fn sites_are_bounded(state: &impl PositionStore) {
    let cip = "3400949497294";
    let many: Vec<SiteFigures> = (0..MAX_SITES_PER_POSITION)
        .map(|i| site(&format!("dépôt {i:03}"), "2026-11-20", 1, "aaa", 0))
        .collect();
    let first = state
        .apply_positions(&[position_of(cip, "grossiste-a", many)])
        .await
        .unwrap();
    assert_eq!(first[0].applied, MAX_SITES_PER_POSITION);
    // One more site is not recorded, and says so; a known site is still updated.
    let write = state
        .apply_positions(&[position_of(
            cip,
            "grossiste-a",
            vec![
                site("dépôt 000", "2026-11-21", 5, "bbb", 10),
                site("dépôt en trop", "2026-11-21", 1_000_000, "bbb", 10),
            ],
        )])
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        (write.applied, write.over_limit),
        (1, vec!["dépôt en trop".to_owned()])
    );
    assert_eq!(
        stock_of(state, cip, "grossiste-a").await,
        (
            MAX_SITES_PER_POSITION as i64 - 1 + 5,
            date("2026-11-21"),
            MAX_SITES_PER_POSITION as u32
        )
    );
}

async fn ledger_once_only(state: &impl FileLedger) {
    let now = t0();
    let entry = ledger("f1", now);
    assert_eq!(state.claim_file(&entry).await.unwrap(), Claim::Acquired);
    // The same claim repeated (a request retried after its answer was lost) is still this
    // run's, not another run's in progress.
    assert_eq!(state.claim_file(&entry).await.unwrap(), Claim::Acquired);
    let again = ledger("f1", now + Duration::minutes(1));
    assert!(
        matches!(state.claim_file(&again).await.unwrap(), Claim::InProgress(held) if held.lease_until == entry.lease_until)
    );
    // A crashed run's claim expires with its lease.
    let later = ledger("f1", now + Duration::minutes(6));
    assert_eq!(state.claim_file(&later).await.unwrap(), Claim::Acquired);
    // The expired run can neither finish nor release its successor's claim.
    let mut stale = entry.clone();
    stale.status = FileStatus::Applied;
    assert!(!state.finish_file(&stale).await.unwrap());
    state
        .release_file("grossiste-a", "f1", &entry.owner)
        .await
        .unwrap();
    assert_eq!(
        state.file("grossiste-a", "f1").await.unwrap().as_ref(),
        Some(&later),
        "the successor's claim is untouched"
    );
    let mut done = later.clone();
    done.status = FileStatus::Applied;
    done.lines = [10, 9, 1];
    done.finished_at = Some(now + Duration::minutes(7));
    assert!(state.finish_file(&done).await.unwrap());
    // The same end written again (a retry) is this run's; another end under the same token
    // is not, nor another run's.
    assert!(state.finish_file(&done).await.unwrap());
    let mut other_end = done.clone();
    other_end.status = FileStatus::Rejected;
    assert!(!state.finish_file(&other_end).await.unwrap());
    assert!(!state.finish_file(&stale).await.unwrap());
    let much_later = ledger("f1", now + Duration::days(3));
    assert_eq!(
        state.claim_file(&much_later).await.unwrap(),
        Claim::Done(done.clone())
    );
    assert_eq!(state.file("grossiste-a", "f1").await.unwrap(), Some(done));
    // Releasing an applied file does nothing; releasing a claim frees it at once.
    state
        .release_file("grossiste-a", "f1", &later.owner)
        .await
        .unwrap();
    assert!(matches!(
        state.claim_file(&much_later).await.unwrap(),
        Claim::Done(_)
    ));
    let f2 = ledger("f2", now);
    assert_eq!(state.claim_file(&f2).await.unwrap(), Claim::Acquired);
    state
        .release_file("grossiste-a", "f2", &f2.owner)
        .await
        .unwrap();
    assert_eq!(state.file("grossiste-a", "f2").await.unwrap(), None);
    assert_eq!(
        state.claim_file(&ledger("f2", now)).await.unwrap(),
        Claim::Acquired
    );
    // The same bytes from another declarant are another file: claimed for it, and the first
    // declarant's entry is neither returned nor touched.
    let theirs = ledger_of("lab-b", "f1", now + Duration::days(3));
    assert_eq!(state.claim_file(&theirs).await.unwrap(), Claim::Acquired);
    assert_eq!(
        state
            .file("lab-b", "f1")
            .await
            .unwrap()
            .map(|e| e.declarant),
        Some("lab-b".to_owned())
    );
    assert_eq!(
        state
            .file("grossiste-a", "f1")
            .await
            .unwrap()
            .map(|e| e.status),
        Some(FileStatus::Applied)
    );
    state
        .release_file("lab-b", "f1", &theirs.owner)
        .await
        .unwrap();
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
    // A file rejected whole is judged again when its bytes come again.
    let f3 = ledger("f3", now);
    assert_eq!(state.claim_file(&f3).await.unwrap(), Claim::Acquired);
    let mut rejected = f3.clone();
    rejected.status = FileStatus::Rejected;
    rejected.finished_at = Some(now + Duration::minutes(1));
    assert!(state.finish_file(&rejected).await.unwrap());
    let next_day = ledger("f3", now + Duration::days(1));
    assert_eq!(state.claim_file(&next_day).await.unwrap(), Claim::Acquired);
    assert!(
        matches!(state.claim_file(&ledger("f3", now + Duration::days(1))).await.unwrap(), Claim::InProgress(held) if held.owner == next_day.owner),
        "claimed again, then held like any claim"
    );
}

/// A pending alert record created `minute` minutes after [`t0`], keyed by that minute.
fn alert_at(minute: i64) -> AlertRecord {
    AlertRecord::pending(
        format!("3400949497294#2026-11-23#M{minute:02}"),
        "3400949497294".into(),
        Notification {
            topic: "information".into(),
            subject: "TENSION".into(),
            body: "corps".into(),
            sms: None,
            email: true,
            attributes: BTreeMap::new(),
        },
        t0() + Duration::minutes(minute),
    )
}

/// The scheduled pass reads the records due first, a bounded number: records written in any
/// order, one of them relayed already, one refused and postponed.
async fn overdue_alerts_oldest_first_and_bounded(state: &impl AlertOutbox) {
    let record = alert_at;
    for minute in [3, 0, 4, 1, 2] {
        assert!(state.put_alert_once(&record(minute)).await.unwrap());
    }
    let sent = AlertRecord {
        status: AlertStatus::Sent,
        ..record(0)
    };
    assert!(
        state
            .update_alert(&sent, AlertStatus::Pending)
            .await
            .unwrap()
    );
    let keys = |records: Vec<AlertRecord>| -> Vec<String> {
        records
            .into_iter()
            .map(|r| r.key[25..].to_owned())
            .collect()
    };
    // Due half an hour after their creation; those SNS refused apart.
    let due = |minute: i64, limit: usize, refused: bool| async move {
        keys(
            state
                .pending_alerts_due(t0() + Duration::minutes(30 + minute), limit, refused)
                .await
                .unwrap(),
        )
    };
    let overdue = |minute: i64, limit: usize| due(minute, limit, false);
    assert_eq!(overdue(10, 2).await, ["M01", "M02"]);
    assert_eq!(overdue(3, 10).await, ["M01", "M02", "M03"]);
    assert_eq!(overdue(10, 10).await, ["M01", "M02", "M03", "M04"]);
    assert_eq!(overdue(0, 10).await, Vec::<String>::new());
    assert_eq!(overdue(10, 0).await, Vec::<String>::new(), "a page of none");
    assert_eq!(due(10, 10, true).await, Vec::<String>::new());
    // Refused: among the refused ones, retried at 50 minutes.
    let postponed = AlertRecord {
        relay_failures: 1,
        retry_at: Some(t0() + Duration::minutes(50)),
        ..record(1)
    };
    assert!(
        state
            .update_alert(&postponed, AlertStatus::Pending)
            .await
            .unwrap()
    );
    assert_eq!(overdue(10, 2).await, ["M02", "M03"]);
    assert_eq!(overdue(30, 10).await, ["M02", "M03", "M04"]);
    assert_eq!(due(19, 10, true).await, Vec::<String>::new());
    assert_eq!(due(20, 10, true).await, ["M01"]);
    assert_eq!(
        state.alert(&postponed.key).await.unwrap().as_ref(),
        Some(&postponed),
        "its retry kept"
    );
}

async fn outbox_once_only(state: &impl AlertOutbox) {
    let mut alert = AlertRecord::pending(
        "3400949497294#2026-11-23#TENSION".into(),
        "3400949497294".into(),
        Notification {
            topic: "critique".into(),
            subject: "TENSION".into(),
            body: "corps".into(),
            sms: Some("sms".into()),
            email: true,
            attributes: BTreeMap::from([("level".into(), "TENSION".into())]),
        },
        t0(),
    );
    alert.silence_scope = vec![vec!["3400949497294".into(), "GROUPE#12".into()]];
    assert!(state.put_alert_once(&alert).await.unwrap());
    assert!(
        !state.put_alert_once(&alert).await.unwrap(),
        "the same transition is recorded once"
    );
    assert_eq!(
        state.pending_alerts().await.unwrap(),
        std::slice::from_ref(&alert)
    );
    // The scheduled pass finds a pending record once it is due, and only then.
    let due = t0() + Duration::minutes(30);
    assert_eq!(
        state
            .pending_alerts_due(due - Duration::seconds(1), 10, false)
            .await
            .unwrap(),
        []
    );
    for by in [due, t0() + Duration::hours(30)] {
        assert_eq!(
            state.pending_alerts_due(by, 10, false).await.unwrap(),
            std::slice::from_ref(&alert),
            "{by}"
        );
    }
    assert_eq!(
        state.alert(&alert.key).await.unwrap().as_ref(),
        Some(&alert)
    );
    // Held: the email went, the SMS waits; a second relay that read it pending loses.
    let held = AlertRecord {
        status: AlertStatus::SmsHeld,
        message_id: Some("msg-1".into()),
        sms_release_at: Some(t0() + Duration::hours(2)),
        ..alert.clone()
    };
    assert!(
        state
            .update_alert(&held, AlertStatus::Pending)
            .await
            .unwrap()
    );
    assert!(
        !state
            .update_alert(&held, AlertStatus::Pending)
            .await
            .unwrap(),
        "a status changes once from the one read"
    );
    assert_eq!(state.pending_alerts().await.unwrap(), []);
    assert_eq!(
        state
            .pending_alerts_due(t0() + Duration::hours(30), 10, false)
            .await
            .unwrap(),
        [],
        "a record relayed leaves the pending ones"
    );
    assert_eq!(
        state
            .alerts_with_status(AlertStatus::SmsHeld)
            .await
            .unwrap(),
        std::slice::from_ref(&held)
    );
    // The release pass finds it once due, and only then.
    assert_eq!(
        state.held_sms_due(t0() + Duration::hours(1)).await.unwrap(),
        []
    );
    for at in [t0() + Duration::hours(2), t0() + Duration::hours(3)] {
        assert_eq!(
            state.held_sms_due(at).await.unwrap(),
            std::slice::from_ref(&held),
            "{at}"
        );
    }
    let sent = AlertRecord {
        status: AlertStatus::Sent,
        message_id: Some("msg-1;sms:msg-2".into()),
        ..held.clone()
    };
    assert!(
        state
            .update_alert(&sent, AlertStatus::SmsHeld)
            .await
            .unwrap()
    );
    assert_eq!(state.alert(&alert.key).await.unwrap(), Some(sent));
    assert_eq!(
        state.held_sms_due(t0() + Duration::hours(3)).await.unwrap(),
        [],
        "a sent record leaves the held ones"
    );
    assert!(
        !state.put_alert_once(&alert).await.unwrap(),
        "a sent alert is not recreated"
    );
    // A muted record is created as such and never listed as pending.
    let muted = AlertRecord {
        key: "3400949497294#2026-11-24#TENSION-CRITIQUE".into(),
        status: AlertStatus::Muted,
        muted: Some("silence".into()),
        ..alert.clone()
    };
    assert!(state.put_alert_once(&muted).await.unwrap());
    assert_eq!(state.pending_alerts().await.unwrap(), []);
    assert_eq!(
        state.alerts_with_status(AlertStatus::Muted).await.unwrap(),
        [muted]
    );
}

async fn measures_and_alert_states_are_versioned(state: &(impl MeasureStore + AlertStateStore)) {
    use medistock_domain::Level;
    use medistock_domain::lifecycle::AlertState;
    use medistock_domain::measure::{Measure, MeasureKind};
    assert_eq!(state.measures().await.unwrap(), []);
    let measure = Measure::new(
        "MES-20261120-0a1b2c3d".into(),
        "GROUPE#12",
        MeasureKind::Contingentement,
        date("2026-11-20"),
        None,
        "quotas de 80 % aux grossistes",
        "Jeanne Martin",
        t0(),
    )
    .unwrap();
    assert!(state.put_measure(&measure, None).await.unwrap());
    assert!(
        !state.put_measure(&measure, None).await.unwrap(),
        "an id is recorded once"
    );
    let ended = measure.ended(date("2026-12-15")).unwrap();
    assert!(state.put_measure(&ended, Some(1)).await.unwrap());
    assert!(
        !state.put_measure(&ended, Some(1)).await.unwrap(),
        "a write that read an older version loses"
    );
    assert_eq!(state.measures().await.unwrap(), [ended]);

    assert_eq!(state.alert_state("3400949497294").await.unwrap(), None);
    let fresh = AlertState::new("3400949497294").unwrap();
    let acked = fresh
        .acknowledge(
            "Paul",
            "vu",
            t0(),
            Level::Critique,
            Some(date("2026-11-20")),
        )
        .unwrap();
    assert!(state.put_alert_state(&acked, None).await.unwrap());
    let silenced = acked
        .silenced(date("2026-11-30"), "Paul", "import en cours", t0())
        .unwrap();
    assert!(state.put_alert_state(&silenced, Some(1)).await.unwrap());
    assert!(!state.put_alert_state(&acked, None).await.unwrap());
    assert_eq!(
        state.alert_state("3400949497294").await.unwrap().as_ref(),
        Some(&silenced)
    );
    let group = AlertState::new("GROUPE#12").unwrap().unsilenced();
    assert!(state.put_alert_state(&group, None).await.unwrap());
    assert_eq!(state.alert_states().await.unwrap(), [silenced, group]);
}

async fn many_positions_at_once(state: &impl PositionStore) {
    // More than a DynamoDB batch (25), than the write concurrency (16), and than the batch the
    // local store merges on one thread alone (64).
    let positions: Vec<Position> = (0..150u64)
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
    assert_eq!(writes, vec![applied(&["Lyon"]); 150]);
    for p in [
        &positions[0],
        &positions[74],
        &positions[75],
        &positions[149],
    ] {
        assert_eq!(
            state.positions(&p.cip13).await.unwrap(),
            std::slice::from_ref(p)
        );
    }
}

/// One (reference, declarant) twice in a batch, among others: each of its positions is
/// merged with what the other wrote, whatever order the store takes them in — no site is
/// lost, and older figures never replace newer ones.
async fn one_position_twice_in_a_batch(state: &impl PositionStore) {
    let cip = "3400949497294";
    let others = |from: u64| {
        (from..from + 80).map(|i| {
            let cip13 = Cip13::parse(&format!("{:07}", 3_100_000 + i)).unwrap();
            position(cip13.as_str(), "grossiste-a", "2026-11-20", 5, "others")
        })
    };
    // One site of the reference, from file `sha` dropped `minutes` after t0.
    let one = |name: &str, as_of: &str, stock: i64, sha: &str, minutes: i64| {
        position_of(
            cip,
            "grossiste-a",
            vec![site(name, as_of, stock, sha, minutes)],
        )
    };
    let (lille, lyon) = (
        one("Lille", "2026-11-20", 10, "f1", 0),
        one("Lyon", "2026-11-20", 20, "f2", 1),
    );
    let batch: Vec<Position> = others(0)
        .chain([lille])
        .chain(others(80))
        .chain([lyon])
        .collect();
    let writes = state.apply_positions(&batch).await.unwrap();
    assert_eq!((writes[80].applied, writes[161].applied), (1, 1));
    assert_eq!(
        stock_of(state, cip, "grossiste-a").await,
        (30, date("2026-11-20"), 2)
    );
    // Lyon newer, then Lyon older in the same batch: the newer figures stay.
    let newer = one("Lyon", "2026-11-22", 7, "f3", 2);
    let older = one("Lyon", "2026-11-21", 99, "f4", 3);
    let batch: Vec<Position> = others(0).chain([newer, older]).collect();
    state.apply_positions(&batch).await.unwrap();
    assert_eq!(
        stock_of(state, cip, "grossiste-a").await,
        (17, date("2026-11-22"), 2)
    );
}

async fn sftp_accounts(state: &impl AccountStore) {
    use medistock_domain::account::Account;
    use medistock_domain::{DeclarantId, DeclarantType};
    let account = |id: &str, enabled: bool| Account {
        cadence: None,
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

async fn risk_items_are_versioned(state: &(impl RiskStore + PositionStore)) {
    use medistock_domain::Level;
    let item = |version: u64, level: Level| RiskItem {
        open_since: None,
        recalled_on: None,
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
        open_since: None,
        recalled_on: None,
        subject: RiskItem::group_subject("1234"),
        ..item(1, Level::Vigilance)
    };
    assert!(state.put_risk(&group, None).await.unwrap());
    assert!(!state.put_risk(&group, None).await.unwrap());
    let items = state.risk_items().await.unwrap();
    assert_eq!(items, [item(2, Level::Critique), group.clone()]);
    // Written together, each item keeps its own condition: the stale one alone loses.
    let other = RiskItem {
        subject: "3400949497706".into(),
        ..item(1, Level::Normal)
    };
    assert_eq!(
        state
            .put_risks(&[
                (item(3, Level::Rupture), Some(2)),
                (item(3, Level::Normal), Some(1)),
                (other.clone(), None),
            ])
            .await
            .unwrap(),
        [true, false, true]
    );
    let mut items = state.risk_items().await.unwrap();
    items.sort_by(|a, b| a.subject.cmp(&b.subject));
    assert_eq!(items, [item(3, Level::Rupture), other, group.clone()]);
    assert_eq!(items[2].group(), Some("1234"));
    let p = position("3400949497294", "grossiste-a", "2026-11-20", 100, "aaa");
    let q = position("3400949497706", "lab-b", "2026-11-20", 5, "bbb");
    state
        .apply_positions(&[q.clone(), p.clone()])
        .await
        .unwrap();
    // The sweep reads every position's totals, never a site's figures; a reference's
    // positions keep them.
    let totals = |p: &Position| Position {
        site_figures: Vec::new(),
        ..p.clone()
    };
    assert_eq!(
        state.all_positions().await.unwrap(),
        [totals(&p), totals(&q)]
    );
    assert_eq!(state.positions(&p.cip13).await.unwrap(), [p]);
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
    let copied = copied(
        objects,
        bucket,
        (key, None),
        "quarantine/grossiste-a/copie é.csv",
        None,
    )
    .await;
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
    // A prefix is a prefix of keys, not of folders: it may end inside a name.
    for prefix in ["inbox/lab", "inbox/lab-b/", "inbox/lab-b/x"] {
        assert_eq!(
            objects.list(bucket, prefix).await.unwrap(),
            ["inbox/lab-b/x.csv"],
            "{prefix}"
        );
    }
    assert!(
        objects
            .list(bucket, "inbox/lab-c/")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        objects
            .list(bucket, "inbox/lab-b/y")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        objects
            .list(bucket, "inbox/lab-b/x.csv/")
            .await
            .unwrap()
            .is_empty(),
        "a prefix through an object lists nothing"
    );
    // A copy given metadata carries those instead of the source's; either way it keeps its
    // bytes when the source is written again.
    let archived = BTreeMap::from([
        ("declarant".to_owned(), "grossiste-a".to_owned()),
        ("sha256".to_owned(), "def".to_owned()),
    ]);
    objects
        .copy(
            bucket,
            key,
            None,
            bucket,
            "raw/grossiste-a/def.csv",
            Some(&archived),
        )
        .await
        .unwrap();
    objects
        .put(bucket, key, b"autre".to_vec(), "text/csv", &BTreeMap::new())
        .await
        .unwrap();
    let raw = objects
        .get(bucket, "raw/grossiste-a/def.csv")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (raw.bytes.as_slice(), &raw.metadata),
        (b"cip13;stock\n".as_slice(), &archived)
    );
    assert_eq!(
        objects
            .get(bucket, "quarantine/grossiste-a/copie é.csv")
            .await
            .unwrap()
            .unwrap(),
        copied
    );
    assert_eq!(
        objects.get(bucket, key).await.unwrap().unwrap().bytes,
        b"autre"
    );
    let missing = objects
        .copy(
            bucket,
            "inbox/absent.csv",
            None,
            bucket,
            "raw/absent.csv",
            None,
        )
        .await;
    assert!(missing.is_err(), "copying nothing is an error: {missing:?}");
    assert_eq!(objects.get(bucket, "raw/absent.csv").await.unwrap(), None);
}

/// Copies `from` (a key, and a version or the current one) to `to` in one bucket, with
/// `metadata` or the source's, and reads the copy back.
async fn copied(
    objects: &impl ObjectStore,
    bucket: &str,
    (key, version): (&str, Option<&str>),
    to: &str,
    metadata: Option<&BTreeMap<String, String>>,
) -> StoredObject {
    objects
        .copy(bucket, key, version, bucket, to, metadata)
        .await
        .unwrap();
    objects.get(bucket, to).await.unwrap().unwrap()
}

/// Two versions written under one key are each read as written, whatever the current one.
async fn versions_read_as_written(objects: &impl ObjectStore, bucket: &str) {
    let key = "inbox/grossiste-a/stock.csv";
    let v1 = objects
        .put(
            bucket,
            key,
            b"premier".to_vec(),
            "text/csv",
            &BTreeMap::new(),
        )
        .await
        .unwrap()
        .expect("a versioned bucket names the version written");
    let v2 = objects
        .put(
            bucket,
            key,
            b"second!!".to_vec(),
            "text/csv",
            &BTreeMap::new(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_ne!(v1, v2);
    let read = |version: Option<String>| async move {
        objects
            .get_version(bucket, key, version.as_deref())
            .await
            .unwrap()
            .map(|o| o.bytes)
    };
    assert_eq!(read(Some(v1.clone())).await, Some(b"premier".to_vec()));
    assert_eq!(read(Some(v2.clone())).await, Some(b"second!!".to_vec()));
    assert_eq!(read(None).await, Some(b"second!!".to_vec()));
    let head = objects.head(bucket, key, Some(&v1)).await.unwrap().unwrap();
    assert_eq!((head.size, head.version.as_deref()), (7, Some(v1.as_str())));
    assert_eq!(
        copied(
            objects,
            bucket,
            (key, Some(&v1)),
            "quarantine/grossiste-a/v1.csv",
            None
        )
        .await
        .bytes,
        b"premier"
    );
    // An older version copied with new metadata: its own bytes, the metadata given.
    let archived = BTreeMap::from([("sha256".to_owned(), "v1".to_owned())]);
    let raw = copied(
        objects,
        bucket,
        (key, Some(&v1)),
        "raw/grossiste-a/v1.csv",
        Some(&archived),
    )
    .await;
    assert_eq!(
        (raw.bytes.as_slice(), &raw.metadata),
        (b"premier".as_slice(), &archived)
    );
}

mod local {
    use super::*;

    #[tokio::test]
    async fn sites_newest_wins_and_corrections_apply() {
        super::sites_newest_wins_and_corrections_apply(&LocalState::in_memory().unwrap()).await;
    }

    #[tokio::test]
    async fn sites_are_bounded() {
        super::sites_are_bounded(&LocalState::in_memory().unwrap()).await;
    }

    #[tokio::test]
    async fn concurrent_writes_of_one_position_keep_every_site() {
        super::concurrent_writes_of_one_position_keep_every_site(&LocalState::in_memory().unwrap())
            .await;
    }

    #[tokio::test]
    async fn versions_read_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let objects = LocalObjects::new(dir.path()).with_versioning("depot");
        super::versions_read_as_written(&objects, "depot").await;
        // An unversioned bucket has no versions to name.
        let plain = LocalObjects::new(dir.path());
        assert_eq!(
            plain
                .put("lac", "a.csv", b"x".to_vec(), "", &BTreeMap::new())
                .await
                .unwrap(),
            None
        );
    }

    /// A file dropped from disk (`medistock ingest`) is the object `put` of its bytes would
    /// be: its own version, read-only, the current object; a file that cannot be read is
    /// named and writes nothing.
    #[tokio::test]
    async fn a_file_put_from_disk_is_a_version_like_any_other() {
        let dir = tempfile::tempdir().unwrap();
        let objects = LocalObjects::new(dir.path().join("store")).with_versioning("depot");
        let source = dir.path().join("stock.csv");
        std::fs::write(&source, b"cip13;stock\n").unwrap();
        let key = "inbox/grossiste-a/stock.csv";
        let meta = BTreeMap::from([("origine".to_owned(), "disque".to_owned())]);
        let v1 = objects
            .put_file("depot", key, &source, &meta)
            .await
            .unwrap()
            .expect("a versioned bucket names the version written");
        std::fs::write(&source, b"autre contenu").unwrap();
        let v2 = objects
            .put_file("depot", key, &source, &BTreeMap::new())
            .await
            .unwrap()
            .unwrap();
        assert_ne!(v1, v2);
        let first = objects
            .get_version("depot", key, Some(&v1))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (first.bytes.as_slice(), first.metadata),
            (b"cip13;stock\n".as_slice(), meta)
        );
        let current = objects.get("depot", key).await.unwrap().unwrap();
        assert_eq!(current.bytes, b"autre contenu");
        let head = objects
            .head("depot", key, Some(&v1))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(head.size, 12);
        // The version's file is not the source: a later write of the source leaves it.
        std::fs::write(&source, b"modifie").unwrap();
        let again = objects
            .get_version("depot", key, Some(&v1))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.bytes, b"cip13;stock\n");

        // Missing, or a folder: named, and nothing written.
        let empty = LocalObjects::new(dir.path().join("vide")).with_versioning("depot");
        for bad in [dir.path().join("absent.csv"), dir.path().to_path_buf()] {
            match empty
                .put_file("depot", "inbox/grossiste-a/x.csv", &bad, &BTreeMap::new())
                .await
            {
                Err(StoreError::Io { path, .. }) => assert_eq!(path, bad),
                other => panic!("{other:?}"),
            }
        }
        assert!(empty.list("depot", "").await.unwrap().is_empty());
        assert!(!dir.path().join("vide").exists(), "nothing written");
        // Not a regular file (a device here, a pipe as well): read and put as its bytes.
        let device = empty
            .put_file(
                "depot",
                "inbox/grossiste-a/rien.csv",
                std::path::Path::new("/dev/null"),
                &BTreeMap::new(),
            )
            .await
            .unwrap();
        assert_eq!(
            empty
                .get_version("depot", "inbox/grossiste-a/rien.csv", device.as_deref())
                .await
                .unwrap()
                .map(|o| o.bytes),
            Some(Vec::new())
        );
        // The object has the store's own permissions, not the source's (an executable source
        // gives no executable object).
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&source, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        // An unversioned bucket: the current object only.
        let plain = LocalObjects::new(dir.path().join("plain"));
        assert_eq!(
            plain
                .put_file("lac", "a.csv", &source, &BTreeMap::new())
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            plain.get("lac", "a.csv").await.unwrap().unwrap().bytes,
            b"modifie"
        );
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(plain.path("lac", "a.csv").unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o111, 0, "{mode:o}");
        }
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
    async fn overdue_alerts_oldest_first_and_bounded() {
        super::overdue_alerts_oldest_first_and_bounded(&LocalState::in_memory().unwrap()).await;
    }

    #[tokio::test]
    async fn measures_and_alert_states_are_versioned() {
        super::measures_and_alert_states_are_versioned(&LocalState::in_memory().unwrap()).await;
    }

    #[tokio::test]
    async fn many_positions_at_once() {
        super::many_positions_at_once(&LocalState::in_memory().unwrap()).await;
    }

    #[tokio::test]
    async fn one_position_twice_in_a_batch() {
        super::one_position_twice_in_a_batch(&LocalState::in_memory().unwrap()).await;
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

    /// A version copied into an unversioned bucket (the archive of a dropped file) is one file
    /// under two names: read-only, with the metadata given, and a second copy leaves no
    /// temporary name behind.
    #[tokio::test]
    async fn a_version_copied_is_linked_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let objects = LocalObjects::new(dir.path()).with_versioning("depot");
        let key = "inbox/grossiste-a/stock.csv";
        let meta = BTreeMap::from([("sha256".to_owned(), "abc".to_owned())]);
        let v1 = objects
            .put(
                "depot",
                key,
                b"premier".to_vec(),
                "text/csv",
                &BTreeMap::new(),
            )
            .await
            .unwrap()
            .unwrap();
        for _ in 0..2 {
            objects
                .copy(
                    "depot",
                    key,
                    Some(&v1),
                    "lac",
                    "raw/grossiste-a/abc.csv",
                    Some(&meta),
                )
                .await
                .unwrap();
        }
        objects
            .put(
                "depot",
                key,
                b"second".to_vec(),
                "text/csv",
                &BTreeMap::new(),
            )
            .await
            .unwrap();
        let raw = objects
            .get("lac", "raw/grossiste-a/abc.csv")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (raw.bytes.as_slice(), &raw.metadata),
            (b"premier".as_slice(), &meta)
        );
        let path = objects.path("lac", "raw/grossiste-a/abc.csv").unwrap();
        assert!(std::fs::metadata(&path).unwrap().permissions().readonly());
        let names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["abc.csv"], "no temporary name left");
        assert_eq!(
            objects.get("depot", key).await.unwrap().unwrap().bytes,
            b"second"
        );
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

mod on_moto {
    use std::collections::BTreeMap;

    use medistock_aws::{DynamoState, S3Objects};
    use medistock_domain::store::ObjectStore;

    use medistock_testkit::aws;

    async fn state() -> Option<DynamoState> {
        Some(table("contrat").await?.2)
    }

    /// A new table on moto named after `name`: its client, its name and the adapter over it.
    async fn table(name: &str) -> Option<(aws_sdk_dynamodb::Client, String, DynamoState)> {
        let endpoint = medistock_testkit::emulator()?;
        let config = aws::config(&endpoint).await;
        let table = medistock_testkit::unique(name);
        let client = aws::table(&config, &table).await;
        let state = DynamoState::new(client.clone(), table.clone());
        Some((client, table, state))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_group_item_under_the_former_key_counts_then_moves_to_its_subjects_key() {
        use aws_sdk_dynamodb::types::AttributeValue;
        use medistock_domain::Level;
        use medistock_domain::store::{RiskItem, RiskStore};

        let Some((client, table, state)) = table("ancien-groupe").await else {
            return;
        };
        let item = |version: u64, level: Level| RiskItem {
            open_since: None,
            recalled_on: None,
            subject: "GROUPE#12".into(),
            level,
            as_of: super::date("2026-11-23"),
            computed_at: super::t0(),
            version,
            figures: "{}".into(),
        };
        // As a deployment before the change of key wrote it.
        let old = item(3, Level::Tension);
        let old_json = serde_json::to_string(&old).unwrap();
        client
            .put_item()
            .table_name(&table)
            .item("pk", AttributeValue::S("GROUP#12".into()))
            .item("sk", AttributeValue::S("RISK".into()))
            .item("version", AttributeValue::N("3".into()))
            .item("item", AttributeValue::S(old_json))
            .send()
            .await
            .unwrap();
        assert_eq!(
            state.risk_items().await.unwrap(),
            vec![old],
            "it still counts"
        );

        let next = item(4, Level::Critique);
        assert!(
            state.put_risk(&next, Some(3)).await.unwrap(),
            "written, not lost"
        );
        assert_eq!(
            state.risk_items().await.unwrap(),
            vec![next],
            "once, under its subject"
        );
        let legacy = client
            .get_item()
            .table_name(&table)
            .key("pk", AttributeValue::S("GROUP#12".into()))
            .key("sk", AttributeValue::S("RISK".into()))
            .send()
            .await
            .unwrap();
        assert!(legacy.item.is_none(), "the former item is gone");
        assert!(
            !state
                .put_risk(&item(5, Level::Normal), Some(3))
                .await
                .unwrap(),
            "a stale version still loses"
        );
    }

    #[tokio::test]
    async fn sites_newest_wins_and_corrections_apply() {
        let Some(state) = state().await else { return };
        super::sites_newest_wins_and_corrections_apply(&state).await;
    }

    #[tokio::test]
    async fn sites_are_bounded() {
        let Some(state) = state().await else { return };
        super::sites_are_bounded(&state).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_writes_of_one_position_keep_every_site() {
        let Some(state) = state().await else { return };
        super::concurrent_writes_of_one_position_keep_every_site(&state).await;
    }

    #[tokio::test]
    async fn versions_read_as_written() {
        let Some(endpoint) = medistock_testkit::emulator() else {
            return;
        };
        let config = aws::config(&endpoint).await;
        let bucket = medistock_testkit::unique("versions");
        let client = aws::bucket(&config, &bucket).await;
        aws::enable_versioning(&client, &bucket).await;
        super::versions_read_as_written(&S3Objects::new(client), &bucket).await;
    }

    #[tokio::test]
    async fn objects_above_the_single_copy_limit_are_copied_in_parts() {
        let Some(endpoint) = medistock_testkit::emulator() else {
            return;
        };
        let config = aws::config(&endpoint).await;
        let bucket = medistock_testkit::unique("parts");
        let client = aws::bucket(&config, &bucket).await;
        // 11 MiB in parts of 5 MiB: three parts, the last one short (S3's minimum part size
        // is 5 MiB but for the last).
        const MIB: u64 = 1024 * 1024;
        let objects = S3Objects::new(client).with_multipart_copy(5 * MIB, 5 * MIB);
        let bytes: Vec<u8> = (0..11 * MIB).map(|i| (i % 251) as u8).collect();
        let meta = BTreeMap::from([("sha256".to_owned(), "abc".to_owned())]);
        objects
            .put(
                &bucket,
                "inbox/a1/gros.csv",
                bytes.clone(),
                "text/csv",
                &meta,
            )
            .await
            .unwrap();
        let copied = super::copied(
            &objects,
            &bucket,
            ("inbox/a1/gros.csv", None),
            "raw/a1/gros.csv",
            None,
        )
        .await;
        assert!(copied.bytes == bytes, "the copy has the same bytes");
        assert_eq!(copied.metadata, meta);
        // In parts too, metadata given replace the source's.
        let archived = BTreeMap::from([("sha256".to_owned(), "def".to_owned())]);
        let copied = super::copied(
            &objects,
            &bucket,
            ("inbox/a1/gros.csv", None),
            "raw/a1/gros-2.csv",
            Some(&archived),
        )
        .await;
        assert!(copied.bytes == bytes, "the copy has the same bytes");
        assert_eq!(copied.metadata, archived);
    }

    #[tokio::test]
    async fn ledger_once_only() {
        let Some(state) = state().await else { return };
        super::ledger_once_only(&state).await;
    }

    /// An end refused by its condition is read back to tell this run's own end (an attempt
    /// whose answer was lost) from another run's claim; when that read fails (here an entry
    /// that does not decode), the end is said not written, neither an error nor a success.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_end_refused_then_unreadable_is_not_written() {
        use aws_sdk_dynamodb::types::AttributeValue;
        use medistock_domain::store::{Claim, FileLedger, FileStatus};
        let Some((client, table, state)) = table("fin-illisible").await else {
            return;
        };
        let claim = super::ledger("fff", super::t0());
        assert_eq!(state.claim_file(&claim).await.unwrap(), Claim::Acquired);
        // Another writer ended it, and left an entry this version cannot read.
        client
            .update_item()
            .table_name(&table)
            .key(
                "pk",
                AttributeValue::S(medistock_aws::keys::file(&claim.declarant, "fff")),
            )
            .key("sk", AttributeValue::S(medistock_aws::keys::META.into()))
            .update_expression("SET #status = :applied, received_at = :bad")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":applied", AttributeValue::S("applied".into()))
            .expression_attribute_values(":bad", AttributeValue::S("pas une date".into()))
            .send()
            .await
            .unwrap();
        assert!(state.file(&claim.declarant, "fff").await.is_err());
        let mut end = claim.clone();
        end.status = FileStatus::Applied;
        end.finished_at = Some(super::t0());
        assert!(
            !state.finish_file(&end).await.unwrap(),
            "refused, and the read that would tell why failed: not written"
        );
    }

    /// A pending record written by an earlier version is indexed by its creation, not by
    /// when it is due: the pass reads it and relays it once due, no earlier, and in the order
    /// of the others.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_pending_record_indexed_by_its_creation_is_relayed_once_due() {
        use aws_sdk_dynamodb::types::AttributeValue;
        use chrono::Duration;
        use medistock_domain::store::AlertOutbox;
        let Some((client, table, state)) = table("relance-ancienne").await else {
            return;
        };
        let (old, new) = (super::alert_at(0), super::alert_at(5));
        for r in [&old, &new] {
            assert!(state.put_alert_once(r).await.unwrap());
        }
        // The earlier form of the index: the creation time.
        client
            .update_item()
            .table_name(&table)
            .key(
                "pk",
                AttributeValue::S(medistock_aws::keys::alert(&old.key)),
            )
            .key("sk", AttributeValue::S(old.key.clone()))
            .update_expression("SET held_at = created_at")
            .send()
            .await
            .unwrap();
        let due = |minute: i64| {
            let state = &state;
            async move {
                state
                    .pending_alerts_due(super::t0() + Duration::minutes(minute), 10, false)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|a| a.key[25..].to_owned())
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(due(29).await, Vec::<String>::new(), "read, not yet due");
        assert_eq!(due(30).await, ["M00"]);
        assert_eq!(due(35).await, ["M00", "M05"]);
    }

    #[tokio::test]
    async fn outbox_once_only() {
        let Some(state) = state().await else { return };
        super::outbox_once_only(&state).await;
    }

    #[tokio::test]
    async fn overdue_alerts_oldest_first_and_bounded() {
        let Some(state) = state().await else { return };
        super::overdue_alerts_oldest_first_and_bounded(&state).await;
    }

    #[tokio::test]
    async fn measures_and_alert_states_are_versioned() {
        let Some(state) = state().await else { return };
        super::measures_and_alert_states_are_versioned(&state).await;
    }

    #[tokio::test]
    async fn many_positions_at_once() {
        let Some(state) = state().await else { return };
        super::many_positions_at_once(&state).await;
    }

    #[tokio::test]
    async fn one_position_twice_in_a_batch() {
        let Some(state) = state().await else { return };
        super::one_position_twice_in_a_batch(&state).await;
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
        let Some(endpoint) = medistock_testkit::emulator() else {
            return;
        };
        let config = aws::config(&endpoint).await;
        let bucket = medistock_testkit::unique("contrat");
        let client = aws::bucket(&config, &bucket).await;
        super::objects_with_metadata(&S3Objects::new(client), &bucket).await;
    }
}

//! The outbox relay, once for every caller: the `notify` function (one record per stream
//! event, and the held SMS on a schedule) and the local pipeline (every pending record). A
//! record is published only while the store still holds it as pending, then its new status is
//! written conditionally on the one read; a failed publish leaves it pending for the next
//! attempt: never dropped. Before publishing, the relay applies the alert lifecycle
//! ([`crate::lifecycle`]): a record every part of which a silence covers is muted (kept, with
//! why); an SMS in the quiet hours is held (the email goes at once) and released by
//! [`release_held`] when they end. The one window left is a publish that succeeds followed by
//! a failed status write: the next attempt sends it again (SNS standard topics, the only ones
//! that reach email and SMS, have no deduplication).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::lifecycle::{AlertPolicy, Silences};
use crate::store::{AlertOutbox, AlertRecord, AlertStateStore, AlertStatus, Notifier, StoreError};

/// Why an alert was not relayed; it stays in its status in both cases.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The record could not be read, or the message could not be published.
    #[error("alerte {key} non publiée : {source}")]
    NotPublished {
        /// The alert's key.
        key: String,
        /// The store's or the notifier's error.
        source: StoreError,
    },
    /// Published, but its new status not written: the next attempt publishes it again.
    #[error("alerte {key} publiée ({message_id}) mais son état non enregistré : {source}")]
    NotMarked {
        /// The alert's key.
        key: String,
        /// The message id the notifier returned.
        message_id: String,
        /// The store's error.
        source: StoreError,
    },
}

impl RelayError {
    /// Logs the failure at its level: a record left pending is retried (a warning), one
    /// published but not marked will be sent again (an error).
    pub fn log(&self) {
        match self {
            RelayError::NotPublished { key, .. } => {
                tracing::warn!(key, error = %self, "publication échouée : l'alerte reste en attente")
            }
            RelayError::NotMarked { key, .. } => {
                tracing::error!(key, error = %self, "alerte publiée mais son état non enregistré")
            }
        }
    }
}

/// When and under which policy a relay delivers.
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    /// Quiet hours, urgent SMS.
    pub policy: AlertPolicy,
    /// Now.
    pub now: DateTime<Utc>,
}

/// What relaying one record did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relayed {
    /// Published and marked sent, with the notifier's message id.
    Sent(String),
    /// Published by email; the SMS waits for the end of the quiet hours.
    SmsHeld(String),
    /// Not published: a silence covers it (why).
    Muted(String),
    /// Already relayed, or no such record: nothing to do.
    NotPending,
}

fn not_published(key: &str) -> impl FnOnce(StoreError) -> RelayError + '_ {
    move |source| RelayError::NotPublished {
        key: key.to_owned(),
        source,
    }
}

/// Relays the record stored under `key`, if it is still pending.
pub async fn relay_key<S: AlertOutbox + AlertStateStore, N: Notifier>(
    state: &S,
    notifier: &N,
    key: &str,
    delivery: &Delivery,
) -> Result<Relayed, RelayError> {
    match state.alert(key).await.map_err(not_published(key))? {
        Some(alert) if alert.status == AlertStatus::Pending => {
            let silences = silences_for(state, &alert, delivery).await?;
            relay(state, notifier, alert, &silences, delivery).await
        }
        _ => Ok(Relayed::NotPending),
    }
}

async fn silences<S: AlertStateStore>(
    state: &S,
    delivery: &Delivery,
    key: &str,
) -> Result<Silences, RelayError> {
    let states = state.alert_states().await.map_err(not_published(key))?;
    Ok(Silences::on(
        &states,
        crate::calendar::paris_date(delivery.now),
    ))
}

/// What publishing the outbox did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PublishSummary {
    /// Published and marked sent.
    pub sent: usize,
    /// Published by email, the SMS held for the end of the quiet hours.
    pub sms_held: usize,
    /// Held SMS sent now that the quiet hours are over.
    pub sms_released: usize,
    /// Muted by a silence (kept, with why).
    pub muted: usize,
    /// Left for another attempt: not published (still pending), or published without their
    /// new status written (published again then; logged as an error).
    pub failed: usize,
}

/// Relays every pending record, then releases the held SMS whose time has come. A failed
/// publish leaves the record as it was and is counted; a failure to list or to write a status
/// is an error.
pub async fn publish_pending<S: AlertOutbox + AlertStateStore, N: Notifier>(
    state: &S,
    notifier: &N,
    delivery: &Delivery,
) -> Result<PublishSummary, RelayError> {
    let pending = state.pending_alerts().await.map_err(not_published("*"))?;
    let mut summary = relay_all(state, notifier, pending, delivery).await?;
    summary.add(release_held(state, notifier, delivery).await?);
    Ok(summary)
}

/// How long a record stays pending before the scheduled pass relays it (see
/// [`crate::store::RELAY_AFTER_MINUTES`]).
pub const OVERDUE_AFTER_MINUTES: i64 = crate::store::RELAY_AFTER_MINUTES;

/// Most overdue records one scheduled pass relays: a pass fits its function's minute even
/// when each publish exhausts its retries; the rest wait a quarter of an hour.
pub const OVERDUE_PER_PASS: usize = 20;

/// How many of a pass's records go to records SNS refused before, when records never refused
/// are due as well: half. Each kind fills what the other leaves.
pub const REFUSED_PER_PASS: usize = OVERDUE_PER_PASS / 2;

/// How long the scheduled pass waits before trying again a record whose publication it saw
/// refused for the `failures`-th time: a quarter of an hour, then twice as long at each
/// refusal, an hour at most.
pub fn retry_delay(failures: u32) -> chrono::Duration {
    let quarters = 1_i64 << failures.saturating_sub(1).min(2);
    chrono::Duration::minutes(15 * quarters)
}

/// How much earlier than [`retry_delay`] a refused record is due: a pass that starts a little
/// before its quarter of an hour (the schedule's own jitter) still finds it due.
const RETRY_MARGIN_SECONDS: i64 = 60;

/// The records a pass relays, of the records due read apart: those never refused (`fresh`)
/// and those SNS refused before (`refused`), each the due first. At most [`OVERDUE_PER_PASS`]:
/// up to [`REFUSED_PER_PASS`] refused ones when both kinds wait, and either kind fills the
/// places the other leaves. However many records SNS keeps refusing, a record the stream gave
/// up on waits at most one pass per ten records due before it, and the refused ones are
/// tried in turn, ten a pass or more.
pub fn overdue_to_relay(
    mut fresh: Vec<AlertRecord>,
    refused: Vec<AlertRecord>,
) -> Vec<AlertRecord> {
    let refused_taken = refused
        .len()
        .min(REFUSED_PER_PASS.max(OVERDUE_PER_PASS.saturating_sub(fresh.len())));
    fresh.truncate(OVERDUE_PER_PASS - refused_taken);
    fresh.extend(refused.into_iter().take(refused_taken));
    fresh
}

/// The scheduled pass (every quarter of an hour on AWS): releases the held SMS whose time has
/// come, then relays the pending records whose relay is due ([`AlertRecord::relay_due_at`]:
/// [`OVERDUE_AFTER_MINUTES`] after their creation), at most [`OVERDUE_PER_PASS`] chosen by
/// [`overdue_to_relay`]. With the stream, a record is thus retried until it is sent, whatever
/// the stream's own limits. A record whose publication fails is left pending with a retry
/// time ([`retry_delay`]) among the refused ones: records refused every time neither hold the
/// others nor are left untried, and none is dropped. A record the stream retries at the same
/// moment may be published twice, never lost. The others go on after a failure.
pub async fn scheduled_pass<S: AlertOutbox + AlertStateStore, N: Notifier>(
    state: &S,
    notifier: &N,
    delivery: &Delivery,
) -> Result<PublishSummary, RelayError> {
    // The held SMS first: an overdue record whose publishes keep failing must not hold them.
    let mut summary = release_held(state, notifier, delivery).await?;
    let due = |refused| state.pending_alerts_due(delivery.now, OVERDUE_PER_PASS, refused);
    let fresh = due(false).await.map_err(not_published("*"))?;
    let refused = due(true).await.map_err(not_published("*"))?;
    let refused_waiting = refused.len();
    let overdue = overdue_to_relay(fresh, refused);
    let mut relayed = PublishSummary::default();
    for alert in &overdue {
        // Read again from the record itself (an index may lag behind it): relayed only if
        // it is still pending.
        match relay_key(state, notifier, &alert.key, delivery).await {
            Ok(done) => relayed.count(&done),
            Err(e) => {
                e.log();
                relayed.failed += 1;
                if matches!(e, RelayError::NotPublished { .. }) {
                    postpone(state, alert, delivery.now).await;
                }
            }
        }
    }
    if relayed.failed >= OVERDUE_PER_PASS / 2 || refused_waiting >= OVERDUE_PER_PASS {
        tracing::error!(
            failed = relayed.failed,
            tried = overdue.len(),
            refused_waiting,
            "{} alertes en attente refusées à ce passage, au moins {refused_waiting} déjà refusées dues : elles restent en attente et seront réessayées",
            relayed.failed
        );
    }
    if !overdue.is_empty() {
        tracing::warn!(
            overdue = overdue.len(),
            sent = relayed.sent,
            sms_held = relayed.sms_held,
            muted = relayed.muted,
            failed = relayed.failed,
            "alertes en attente depuis plus de {OVERDUE_AFTER_MINUTES} minutes relayées par le passage programmé"
        );
    }
    summary.add(relayed);
    Ok(summary)
}

/// Writes a later retry time on a record the pass failed to publish, if it is still pending
/// (the copy the index gave: nothing but this pass rewrites a pending record). A failure to
/// write it is logged: the record stays pending, due as before.
async fn postpone<S: AlertOutbox>(state: &S, alert: &AlertRecord, now: DateTime<Utc>) {
    let mut later = alert.clone();
    later.relay_failures = later.relay_failures.saturating_add(1);
    later.retry_at = Some(
        now + retry_delay(later.relay_failures) - chrono::Duration::seconds(RETRY_MARGIN_SECONDS),
    );
    match state.update_alert(&later, AlertStatus::Pending).await {
        Ok(true) => tracing::info!(
            key = later.key,
            failures = later.relay_failures,
            retry_at = %later.relay_due_at(),
            "alerte réessayée plus tard"
        ),
        Ok(false) => tracing::info!(
            key = later.key,
            "alerte relayée entre-temps : heure du prochain essai sans objet"
        ),
        Err(e) => tracing::warn!(
            key = later.key,
            error = %e,
            "heure du prochain essai non enregistrée : l'alerte reste en attente"
        ),
    }
}

/// Relays these pending records, oldest first.
async fn relay_all<S: AlertOutbox + AlertStateStore, N: Notifier>(
    state: &S,
    notifier: &N,
    pending: Vec<AlertRecord>,
    delivery: &Delivery,
) -> Result<PublishSummary, RelayError> {
    let mut summary = PublishSummary::default();
    if pending.is_empty() {
        return Ok(summary);
    }
    let silences = silences(state, delivery, "*").await?;
    for alert in pending {
        match relay(state, notifier, alert, &silences, delivery).await {
            Ok(relayed) => summary.count(&relayed),
            Err(e @ RelayError::NotPublished { .. }) => {
                e.log();
                summary.failed += 1;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(summary)
}

impl PublishSummary {
    fn count(&mut self, relayed: &Relayed) {
        match relayed {
            Relayed::Sent(_) => self.sent += 1,
            Relayed::SmsHeld(_) => self.sms_held += 1,
            Relayed::Muted(_) => self.muted += 1,
            Relayed::NotPending => {}
        }
    }

    fn add(&mut self, other: PublishSummary) {
        self.sent += other.sent;
        self.sms_held += other.sms_held;
        self.sms_released += other.sms_released;
        self.muted += other.muted;
        self.failed += other.failed;
    }
}

/// How long a release pass holds its claim on a held SMS before another may take it over.
const RELEASE_LEASE_MINUTES: i64 = 5;

/// Sends the held SMS whose quiet hours are over (a schedule calls it on AWS: no Lambda
/// sleeps through the night). Each is claimed first (conditional on the status read), so that
/// two passes never both send it; a claim left by a pass that crashed is taken over when its
/// lease runs out. An SMS whose subject was silenced meanwhile stays unsent, recorded as
/// muted. A failure is counted and left for the next pass; the others go on.
pub async fn release_held<S: AlertOutbox + AlertStateStore, N: Notifier>(
    state: &S,
    notifier: &N,
    delivery: &Delivery,
) -> Result<PublishSummary, RelayError> {
    let mut summary = PublishSummary::default();
    let due = state
        .held_sms_due(delivery.now)
        .await
        .map_err(not_published("*"))?;
    for alert in due {
        match release_one(state, notifier, alert, delivery).await {
            Ok(Some(Relayed::Sent(_))) => summary.sms_released += 1,
            Ok(Some(Relayed::Muted(_))) => summary.muted += 1,
            Ok(_) => {}
            Err(e) => {
                e.log();
                summary.failed += 1;
            }
        }
    }
    Ok(summary)
}

/// Releases one held SMS: muted if a silence covers it now, else claimed, sent, marked sent.
/// `None` when another pass has it.
async fn release_one<S: AlertOutbox + AlertStateStore, N: Notifier>(
    state: &S,
    notifier: &N,
    mut alert: AlertRecord,
    delivery: &Delivery,
) -> Result<Option<Relayed>, RelayError> {
    let key = alert.key.clone();
    let read = alert.status;
    let silences = silences_for(state, &alert, delivery).await?;
    if let Some(reason) = silences.mutes(&alert.silence_scope, alert.escalates_to_rupture) {
        alert.status = AlertStatus::Muted;
        alert.muted = Some(format!("SMS retenu non envoyé : {reason}"));
        return Ok(changed(state, &alert, read, "-")
            .await?
            .then_some(Relayed::Muted(reason)));
    }
    let Some(sms) = alert.notification.sms_only() else {
        alert.status = AlertStatus::Sent;
        changed(state, &alert, read, "-").await?;
        return Ok(None);
    };
    // The claim: a lease, conditional on the status read.
    alert.status = AlertStatus::SmsReleasing;
    alert.sms_release_at = Some(delivery.now + chrono::Duration::minutes(RELEASE_LEASE_MINUTES));
    if !changed(state, &alert, read, "-").await? {
        return Ok(None);
    }
    let id = notifier.publish(&sms).await.map_err(not_published(&key))?;
    alert.status = AlertStatus::Sent;
    alert.message_id = Some(format!(
        "{};sms:{id}",
        alert.message_id.as_deref().unwrap_or_default()
    ));
    if !changed(state, &alert, AlertStatus::SmsReleasing, &id).await? {
        tracing::warn!(key, "SMS envoyé après la fin du bail de son passage");
    }
    tracing::info!(key, message_id = id, "SMS retenu envoyé");
    Ok(Some(Relayed::Sent(id)))
}

/// Writes a record's new status if the stored one is still `from`; whether it was written.
async fn changed<S: AlertOutbox>(
    state: &S,
    alert: &AlertRecord,
    from: AlertStatus,
    message_id: &str,
) -> Result<bool, RelayError> {
    state
        .update_alert(alert, from)
        .await
        .map_err(|source| RelayError::NotMarked {
            key: alert.key.clone(),
            message_id: message_id.to_owned(),
            source,
        })
}

/// Subjects read one by one at most for one record; beyond, every state is read at once.
const SUBJECTS_READ_ONE_BY_ONE: usize = 32;

/// The silences that may cover `alert`: only the states of the subjects of its scope.
async fn silences_for<S: AlertStateStore>(
    state: &S,
    alert: &AlertRecord,
    delivery: &Delivery,
) -> Result<Silences, RelayError> {
    let mut subjects: Vec<&String> = alert.silence_scope.iter().flatten().collect();
    subjects.sort();
    subjects.dedup();
    if subjects.is_empty() {
        return Ok(Silences::default());
    }
    if subjects.len() > SUBJECTS_READ_ONE_BY_ONE {
        return silences(state, delivery, &alert.key).await;
    }
    let mut states = Vec::with_capacity(subjects.len());
    for subject in subjects {
        if let Some(s) = state
            .alert_state(subject)
            .await
            .map_err(not_published(&alert.key))?
        {
            states.push(s);
        }
    }
    Ok(Silences::on(
        &states,
        crate::calendar::paris_date(delivery.now),
    ))
}

async fn relay<S: AlertOutbox, N: Notifier>(
    state: &S,
    notifier: &N,
    mut alert: AlertRecord,
    silences: &Silences,
    delivery: &Delivery,
) -> Result<Relayed, RelayError> {
    let key = alert.key.clone();
    if let Some(reason) = silences.mutes(&alert.silence_scope, alert.escalates_to_rupture) {
        alert.status = AlertStatus::Muted;
        alert.muted = Some(reason.clone());
        write(state, &alert, AlertStatus::Pending, "-").await?;
        tracing::info!(
            key,
            reason,
            "alerte mise en silence (enregistrée, non publiée)"
        );
        return Ok(Relayed::Muted(reason));
    }
    let policy = &delivery.policy;
    let hold = alert.notification.sms.is_some()
        && policy.quiet_hours.contains(delivery.now)
        && !(alert.urgent && policy.urgent_sms_in_quiet_hours);
    let message = if hold {
        alert.notification.email_only()
    } else {
        alert.notification.clone()
    };
    let message_id = notifier
        .publish(&message)
        .await
        .map_err(not_published(&key))?;
    alert.message_id = Some(message_id.clone());
    if hold {
        alert.status = AlertStatus::SmsHeld;
        alert.sms_release_at = Some(policy.quiet_hours.end_after(delivery.now));
    } else {
        alert.status = AlertStatus::Sent;
    }
    write(state, &alert, AlertStatus::Pending, &message_id).await?;
    tracing::info!(
        key,
        message_id,
        level = alert.notification.attributes.get("level"),
        sms_held = hold,
        "alerte publiée"
    );
    Ok(if hold {
        Relayed::SmsHeld(message_id)
    } else {
        Relayed::Sent(message_id)
    })
}

/// Writes the record's new status if the stored one is still `from`. Another relay that
/// changed it first did the same work: logged, not an error.
async fn write<S: AlertOutbox>(
    state: &S,
    alert: &AlertRecord,
    from: AlertStatus,
    message_id: &str,
) -> Result<(), RelayError> {
    match state.update_alert(alert, from).await {
        Ok(true) => Ok(()),
        Ok(false) => {
            tracing::warn!(
                key = alert.key,
                "alerte déjà traitée par un autre relais (état inchangé)"
            );
            Ok(())
        }
        Err(source) => Err(RelayError::NotMarked {
            key: alert.key.clone(),
            message_id: message_id.to_owned(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::lifecycle::AlertState;
    use crate::store::Notification;

    /// An outbox in memory whose status writes fail `mark_failures` times.
    #[derive(Default)]
    struct Outbox {
        records: Mutex<BTreeMap<String, AlertRecord>>,
        states: Mutex<Vec<AlertState>>,
        mark_failures: AtomicUsize,
    }

    impl AlertOutbox for Outbox {
        async fn put_alert_once(&self, alert: &AlertRecord) -> Result<bool, StoreError> {
            let mut records = self.records.lock().unwrap();
            Ok(records.insert(alert.key.clone(), alert.clone()).is_none())
        }
        async fn alert(&self, key: &str) -> Result<Option<AlertRecord>, StoreError> {
            Ok(self.records.lock().unwrap().get(key).cloned())
        }
        async fn alerts_with_status(
            &self,
            status: AlertStatus,
        ) -> Result<Vec<AlertRecord>, StoreError> {
            let records = self.records.lock().unwrap();
            Ok(records
                .values()
                .filter(|a| a.status == status)
                .cloned()
                .collect())
        }
        async fn update_alert(
            &self,
            record: &AlertRecord,
            from: AlertStatus,
        ) -> Result<bool, StoreError> {
            if self.mark_failures.load(Ordering::SeqCst) > 0 {
                self.mark_failures.fetch_sub(1, Ordering::SeqCst);
                return Err(StoreError::Aws {
                    operation: "DynamoDB.PutItem",
                    message: "injected".into(),
                });
            }
            let mut records = self.records.lock().unwrap();
            match records.get_mut(&record.key) {
                Some(held) if held.status == from => {
                    *held = record.clone();
                    Ok(true)
                }
                _ => Ok(false),
            }
        }
    }

    impl AlertStateStore for Outbox {
        async fn alert_states(&self) -> Result<Vec<AlertState>, StoreError> {
            Ok(self.states.lock().unwrap().clone())
        }
        async fn put_alert_state(
            &self,
            state: &AlertState,
            _: Option<u64>,
        ) -> Result<bool, StoreError> {
            self.states.lock().unwrap().push(state.clone());
            Ok(true)
        }
    }

    /// A notifier that fails `failures` times, then keeps what it sends.
    #[derive(Default)]
    struct Counting {
        failures: AtomicUsize,
        sent: Mutex<Vec<Notification>>,
    }

    impl Notifier for Counting {
        async fn publish(&self, n: &Notification) -> Result<String, StoreError> {
            if self.failures.load(Ordering::SeqCst) > 0 {
                self.failures.fetch_sub(1, Ordering::SeqCst);
                return Err(StoreError::Aws {
                    operation: "SNS.Publish",
                    message: "injected".into(),
                });
            }
            let mut sent = self.sent.lock().unwrap();
            sent.push(n.clone());
            Ok(format!("m-{}", sent.len()))
        }
    }

    fn record(key: &str) -> AlertRecord {
        AlertRecord::pending(
            key.into(),
            "3400949497294".into(),
            Notification {
                topic: "information".into(),
                subject: "[Medistock] TENSION".into(),
                body: "corps".into(),
                sms: None,
                email: true,
                attributes: BTreeMap::new(),
            },
            "2026-11-23T05:00:00Z".parse().unwrap(),
        )
    }

    async fn pending_keys(outbox: &Outbox) -> Vec<String> {
        outbox
            .pending_alerts()
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.key)
            .collect()
    }

    fn at(instant: &str) -> Delivery {
        Delivery {
            policy: AlertPolicy::default(),
            now: instant.parse().unwrap(),
        }
    }

    /// 10:00 in Paris, outside the quiet hours.
    const DAY: &str = "2026-11-23T09:00:00Z";

    /// Records `a` and `b` pending, and a notifier that refuses its first message.
    async fn two_records_and_one_refusal() -> (Outbox, Counting) {
        let outbox = Outbox::default();
        outbox.put_alert_once(&record("a")).await.unwrap();
        outbox.put_alert_once(&record("b")).await.unwrap();
        let notifier = Counting {
            failures: AtomicUsize::new(1),
            ..Counting::default()
        };
        (outbox, notifier)
    }

    #[tokio::test]
    async fn a_failed_publish_or_mark_leaves_the_record_pending_for_the_next_attempt() {
        let (outbox, notifier) = two_records_and_one_refusal().await;
        let day = at(DAY);
        // The first publish fails: counted, left pending; the second goes through.
        let summary = publish_pending(&outbox, &notifier, &day).await.unwrap();
        assert_eq!((summary.sent, summary.failed), (1, 1));
        assert_eq!(outbox.pending_alerts().await.unwrap().len(), 1);

        // Published but not marked: an error naming the message, the record still pending.
        outbox.mark_failures.store(1, Ordering::SeqCst);
        let pending = outbox.pending_alerts().await.unwrap()[0].key.clone();
        let err = relay_key(&outbox, &notifier, &pending, &day)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, RelayError::NotMarked { message_id, .. } if message_id == "m-2"),
            "{err}"
        );
        assert_eq!(
            outbox.pending_alerts().await.unwrap().len(),
            1,
            "never dropped"
        );

        // The retry sends it again (the documented window) and marks it; then nothing is left.
        assert_eq!(
            relay_key(&outbox, &notifier, &pending, &day).await.unwrap(),
            Relayed::Sent("m-3".into())
        );
        assert_eq!(
            relay_key(&outbox, &notifier, &pending, &day).await.unwrap(),
            Relayed::NotPending,
            "a redelivered event sends nothing"
        );
        assert_eq!(
            relay_key(&outbox, &notifier, "inconnue", &day)
                .await
                .unwrap(),
            Relayed::NotPending
        );
        assert!(outbox.pending_alerts().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_scheduled_pass_relays_a_record_left_pending_until_it_is_sent() {
        // Records created at 06:00 (Paris): the stream gave up on one (SNS failing), the
        // other is a minute old when the pass runs.
        let outbox = Outbox::default();
        outbox.put_alert_once(&record("abandonnee")).await.unwrap();
        let mut fresh = record("recente");
        fresh.created_at = "2026-11-23T08:59:00Z".parse().unwrap();
        outbox.put_alert_once(&fresh).await.unwrap();
        let notifier = Counting {
            failures: AtomicUsize::new(2),
            ..Counting::default()
        };
        // SNS still failing: counted, both left pending, the fresh one not even tried (due
        // at 09:29).
        let first = scheduled_pass(&outbox, &notifier, &at(DAY)).await.unwrap();
        assert_eq!((first.sent, first.failed), (0, 1));
        assert_eq!(notifier.failures.load(Ordering::SeqCst), 1);
        let refused = outbox.alert("abandonnee").await.unwrap().unwrap();
        assert_eq!(refused.relay_failures, 1);
        assert_eq!(
            refused.relay_due_at(),
            "2026-11-23T09:14:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        // Tried again when due, refused again: half an hour later this time.
        let second = scheduled_pass(&outbox, &notifier, &at("2026-11-23T09:15:00Z"))
            .await
            .unwrap();
        assert_eq!((second.sent, second.failed), (0, 1));
        // Nothing due at 09:20; the fresh one goes at 09:30, the other at its retry time.
        let third = scheduled_pass(&outbox, &notifier, &at("2026-11-23T09:20:00Z"))
            .await
            .unwrap();
        assert_eq!(third, PublishSummary::default());
        let fourth = scheduled_pass(&outbox, &notifier, &at("2026-11-23T09:30:00Z"))
            .await
            .unwrap();
        assert_eq!((fourth.sent, fourth.failed), (1, 0));
        assert_eq!(pending_keys(&outbox).await, ["abandonnee"]);
        let later = scheduled_pass(&outbox, &notifier, &at("2026-11-23T09:45:00Z"))
            .await
            .unwrap();
        assert_eq!((later.sent, later.failed), (1, 0));
        assert!(outbox.pending_alerts().await.unwrap().is_empty());
        // Nothing is sent twice.
        let again = scheduled_pass(&outbox, &notifier, &at("2026-11-23T10:30:00Z"))
            .await
            .unwrap();
        assert_eq!(again, PublishSummary::default());
        assert_eq!(notifier.sent.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_scheduled_pass_relays_a_bounded_number_and_a_failure_stops_nothing() {
        let outbox = Outbox::default();
        let count = OVERDUE_PER_PASS + 5;
        for i in 0..count {
            outbox
                .put_alert_once(&record(&format!("a{i:03}")))
                .await
                .unwrap();
        }
        // The first status write fails: published, not marked, counted; the others go on.
        outbox.mark_failures.store(1, Ordering::SeqCst);
        let notifier = Counting::default();
        let first = scheduled_pass(&outbox, &notifier, &at(DAY)).await.unwrap();
        assert_eq!((first.sent, first.failed), (OVERDUE_PER_PASS - 1, 1));
        let second = scheduled_pass(&outbox, &notifier, &at("2026-11-23T09:15:00Z"))
            .await
            .unwrap();
        assert_eq!((second.sent, second.failed), (6, 0));
        assert!(outbox.pending_alerts().await.unwrap().is_empty());
        // The record published but not marked was published again (the documented window).
        assert_eq!(notifier.sent.lock().unwrap().len(), count + 1);
    }

    /// A notifier that refuses every message whose subject names a poisoned record.
    #[derive(Default)]
    struct Poisoned {
        sent: Mutex<Vec<String>>,
    }

    impl Notifier for Poisoned {
        async fn publish(&self, n: &Notification) -> Result<String, StoreError> {
            if n.subject.contains("poison") {
                return Err(StoreError::Aws {
                    operation: "SNS.Publish",
                    message: "injected: refused every time".into(),
                });
            }
            let mut sent = self.sent.lock().unwrap();
            sent.push(n.subject.clone());
            Ok(format!("m-{}", sent.len()))
        }
    }

    /// Two hundred records fail every time and are the oldest: taken strictly by creation,
    /// the twenty newer ones behind them would never be tried. A refused record goes among
    /// the refused ones, which take half a pass when others wait: the newer records go out
    /// while the poisoned ones are tried in turn, stay pending, never dropped.
    #[tokio::test]
    async fn records_that_always_fail_do_not_hold_the_newer_ones() {
        const POISONED: usize = 200;
        let outbox = Outbox::default();
        let put = |key: String, poisoned: bool, created: DateTime<Utc>| {
            let mut r = record(&key);
            r.created_at = created;
            r.notification.subject = if poisoned {
                format!("poison {key}")
            } else {
                key
            };
            r
        };
        let day: DateTime<Utc> = DAY.parse().unwrap();
        let start = day - chrono::Duration::hours(4);
        for i in 0..POISONED + 20 {
            let created = start + chrono::Duration::seconds(i as i64);
            let r = put(format!("a{i:03}"), i < POISONED, created);
            outbox.put_alert_once(&r).await.unwrap();
        }
        let notifier = Poisoned::default();
        let pass = |from: DateTime<Utc>, expected_sent: usize, most: usize| {
            let (outbox, notifier) = (&outbox, &notifier);
            let mut passes = 0;
            let mut now = from;
            async move {
                while notifier.sent.lock().unwrap().len() < expected_sent {
                    passes += 1;
                    assert!(
                        passes <= most,
                        "the newer records still wait after {most} passes"
                    );
                    let done = scheduled_pass(outbox, notifier, &at(&now.to_rfc3339()))
                        .await
                        .unwrap();
                    assert!(done.sent + done.failed <= OVERDUE_PER_PASS, "{done:?}");
                    now += chrono::Duration::minutes(15);
                }
                now
            }
        };
        // A burst: every poisoned record is new too, and due before the others: ten a pass
        // after the first (the refused take the other ten), 19 passes, then the twenty.
        let mut when = pass(day, 20, 21).await;
        // Steady: two hundred refused records wait; twenty new records come due; they go out
        // within two passes.
        for i in 0..20 {
            let created = when - chrono::Duration::minutes(OVERDUE_AFTER_MINUTES);
            let r = put(format!("b{i:03}"), false, created);
            outbox.put_alert_once(&r).await.unwrap();
        }
        when = pass(when, 40, 2).await;
        let mut sent = notifier.sent.lock().unwrap().clone();
        sent.sort();
        sent.dedup();
        assert_eq!(sent.len(), 40, "each newer record sent once");
        let pending = outbox.pending_alerts().await.unwrap();
        assert_eq!(pending.len(), POISONED, "the poisoned records stay pending");
        assert!(
            pending
                .iter()
                .all(|a| a.relay_failures >= 1 && a.retry_at.is_some())
        );
        // And each is tried again, in turn: twenty a pass, 48 passes in twelve hours, 960
        // tries for 200 records.
        for _ in 0..12 * 4 {
            scheduled_pass(&outbox, &notifier, &at(&when.to_rfc3339()))
                .await
                .unwrap();
            when += chrono::Duration::minutes(15);
        }
        let pending = outbox.pending_alerts().await.unwrap();
        assert_eq!(pending.len(), POISONED);
        let fewest = pending.iter().map(|a| a.relay_failures).min().unwrap();
        assert!(
            fewest >= 4,
            "each tried again four times or more, fewest {fewest}"
        );
    }

    /// The choice of a pass: half to the refused records when both kinds wait, either kind
    /// filling what the other leaves, the due first of each.
    #[test]
    fn a_pass_gives_half_to_the_refused_records_and_fills_from_either_kind() {
        let records = |prefix: &str, n: usize| -> Vec<AlertRecord> {
            (0..n).map(|i| record(&format!("{prefix}{i:02}"))).collect()
        };
        let chosen = |fresh: usize, refused: usize| -> (usize, usize, Vec<String>) {
            let out = overdue_to_relay(records("f", fresh), records("r", refused));
            let keys: Vec<String> = out.into_iter().map(|a| a.key).collect();
            let f = keys.iter().filter(|k| k.starts_with('f')).count();
            (f, keys.len() - f, keys)
        };
        for (fresh, refused, expected) in [
            (0, 0, (0, 0)),
            (30, 30, (10, 10)),
            (3, 30, (3, 17)),
            (30, 2, (18, 2)),
            (0, 30, (0, 20)),
            (30, 0, (20, 0)),
            (12, 12, (10, 10)),
        ] {
            let (f, r, keys) = chosen(fresh, refused);
            assert_eq!((f, r), expected, "{fresh} fresh, {refused} refused");
            // The due first of each kind (the order read), never refused ones first.
            let firsts: Vec<String> = (0..f)
                .map(|i| format!("f{i:02}"))
                .chain((0..r).map(|i| format!("r{i:02}")))
                .collect();
            assert_eq!(keys, firsts);
        }
    }

    /// SNS refuses a record and its retry time cannot be written either (the table failing
    /// too): the pass goes on and ends well, the record stays pending as it was, due at once,
    /// and the next pass tries it again.
    #[tokio::test]
    async fn a_retry_time_that_cannot_be_written_leaves_the_record_due_as_before() {
        let (outbox, notifier) = two_records_and_one_refusal().await;
        outbox.mark_failures.store(1, Ordering::SeqCst);
        let first = scheduled_pass(&outbox, &notifier, &at(DAY)).await.unwrap();
        assert_eq!((first.sent, first.failed), (1, 1));
        let left = outbox.pending_alerts().await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!((left[0].relay_failures, left[0].retry_at), (0, None));
        assert_eq!(left, [record(&left[0].key)], "unchanged");
        let next = scheduled_pass(&outbox, &notifier, &at("2026-11-23T09:01:00Z"))
            .await
            .unwrap();
        assert_eq!((next.sent, next.failed), (1, 0));
        assert!(outbox.pending_alerts().await.unwrap().is_empty());
    }

    #[test]
    fn a_refused_record_waits_a_quarter_of_an_hour_then_twice_as_long_an_hour_at_most() {
        let minutes = |n| retry_delay(n).num_minutes();
        assert_eq!(
            [0, 1, 2, 3, 4, 50, u32::MAX].map(minutes),
            [15, 15, 30, 60, 60, 60, 60]
        );
        let mut r = record("a");
        assert_eq!(
            r.relay_due_at(),
            r.created_at + chrono::Duration::minutes(OVERDUE_AFTER_MINUTES)
        );
        r.retry_at = Some(r.created_at);
        assert_eq!(r.relay_due_at(), r.created_at, "the retry time, once set");
    }

    fn critical(key: &str, urgent: bool) -> AlertRecord {
        let mut r = record(key);
        r.notification.sms = Some("Medistock CRITIQUE".into());
        r.urgent = urgent;
        r.silence_scope = vec![vec!["3400949497294".into()]];
        r
    }

    #[tokio::test]
    async fn an_sms_in_the_quiet_hours_waits_for_their_end_and_the_email_goes_at_once() {
        let outbox = Outbox::default();
        outbox.put_alert_once(&critical("c", false)).await.unwrap();
        outbox.put_alert_once(&critical("u", true)).await.unwrap();
        let notifier = Counting::default();
        // 06:00 in Paris.
        let night = at("2026-11-24T05:00:00Z");
        let summary = publish_pending(&outbox, &notifier, &night).await.unwrap();
        assert_eq!((summary.sent, summary.sms_held), (1, 1), "{summary:?}");
        let held = outbox.alert("c").await.unwrap().unwrap();
        assert_eq!(held.status, AlertStatus::SmsHeld);
        assert_eq!(
            held.sms_release_at,
            Some("2026-11-24T07:00:00Z".parse().unwrap()),
            "08:00 in Paris"
        );
        {
            let sent = notifier.sent.lock().unwrap();
            let email = sent.iter().find(|n| n.sms.is_none()).unwrap();
            assert!(email.email, "the email of the held message went out");
            assert!(
                sent.iter().any(|n| n.sms.is_some() && n.email),
                "the urgent one went whole"
            );
        }
        // Before the end: nothing released.
        let early = release_held(&outbox, &notifier, &at("2026-11-24T06:59:00Z"))
            .await
            .unwrap();
        assert_eq!(early.sms_released, 0);
        // At the end: the SMS alone, once.
        let done = release_held(&outbox, &notifier, &at("2026-11-24T07:00:00Z"))
            .await
            .unwrap();
        assert_eq!(done.sms_released, 1);
        let last = notifier.sent.lock().unwrap().last().cloned().unwrap();
        assert!(!last.email && last.sms.is_some(), "{last:?}");
        let sent = outbox.alert("c").await.unwrap().unwrap();
        assert_eq!(sent.status, AlertStatus::Sent);
        assert_eq!(sent.message_id.as_deref(), Some("m-1;sms:m-3"));
        let again = release_held(&outbox, &notifier, &at("2026-11-24T08:00:00Z"))
            .await
            .unwrap();
        assert_eq!(again.sms_released, 0, "released once");
        // Urgent SMS held too when the policy says so.
        let strict = Delivery {
            policy: AlertPolicy {
                urgent_sms_in_quiet_hours: false,
                ..AlertPolicy::default()
            },
            ..night
        };
        outbox.put_alert_once(&critical("u2", true)).await.unwrap();
        assert!(matches!(
            relay_key(&outbox, &notifier, "u2", &strict).await.unwrap(),
            Relayed::SmsHeld(_)
        ));
    }

    #[tokio::test]
    async fn a_held_sms_claimed_by_another_pass_is_left_alone_until_its_lease_runs_out() {
        let outbox = Outbox::default();
        let mut claimed = critical("c", false);
        claimed.status = AlertStatus::SmsReleasing;
        claimed.message_id = Some("m-0".into());
        claimed.sms_release_at = Some("2026-11-24T07:05:00Z".parse().unwrap());
        outbox.put_alert_once(&claimed).await.unwrap();
        let notifier = Counting::default();
        let during = release_held(&outbox, &notifier, &at("2026-11-24T07:01:00Z"))
            .await
            .unwrap();
        assert_eq!(during.sms_released, 0, "another pass holds it");
        assert!(notifier.sent.lock().unwrap().is_empty());
        // That pass crashed: after its lease, the SMS goes out, once.
        let after = release_held(&outbox, &notifier, &at("2026-11-24T07:06:00Z"))
            .await
            .unwrap();
        assert_eq!(after.sms_released, 1);
        let again = release_held(&outbox, &notifier, &at("2026-11-24T07:30:00Z"))
            .await
            .unwrap();
        assert_eq!(again.sms_released, 0);
        assert_eq!(notifier.sent.lock().unwrap().len(), 1);
        assert_eq!(
            outbox.alert("c").await.unwrap().unwrap().status,
            AlertStatus::Sent
        );
        // A failed write of one record is counted; the pass goes on with the others.
        for key in ["d", "e"] {
            let mut held = critical(key, false);
            held.status = AlertStatus::SmsHeld;
            outbox.put_alert_once(&held).await.unwrap();
        }
        outbox.mark_failures.store(1, Ordering::SeqCst);
        let partial = release_held(&outbox, &notifier, &at("2026-11-24T08:00:00Z"))
            .await
            .unwrap();
        assert_eq!(
            (partial.sms_released, partial.failed),
            (1, 1),
            "{partial:?}"
        );
    }

    #[tokio::test]
    async fn a_silenced_subject_is_muted_with_why_and_an_escalation_to_rupture_is_not() {
        let outbox = Outbox::default();
        outbox.states.lock().unwrap().push(
            AlertState::new("3400949497294")
                .unwrap()
                .silenced(
                    "2026-11-30".parse().unwrap(),
                    "Jeanne",
                    "contingentement en cours",
                    Utc::now(),
                )
                .unwrap(),
        );
        outbox.put_alert_once(&critical("m", false)).await.unwrap();
        let mut rupture = critical("r", false);
        rupture.escalates_to_rupture = true;
        outbox.put_alert_once(&rupture).await.unwrap();
        let notifier = Counting::default();
        let summary = publish_pending(&outbox, &notifier, &at(DAY)).await.unwrap();
        assert_eq!((summary.sent, summary.muted), (1, 1), "{summary:?}");
        let muted = outbox.alert("m").await.unwrap().unwrap();
        assert_eq!(muted.status, AlertStatus::Muted);
        assert_eq!(
            muted.muted.as_deref(),
            Some("3400949497294 silencé jusqu'au 30/11/2026 par Jeanne (contingentement en cours)")
        );
        assert_eq!(notifier.sent.lock().unwrap().len(), 1);
        // The day after the silence, a new message goes out.
        outbox.put_alert_once(&critical("n", false)).await.unwrap();
        assert!(matches!(
            relay_key(&outbox, &notifier, "n", &at("2026-12-01T09:00:00Z"))
                .await
                .unwrap(),
            Relayed::Sent(_)
        ));
    }
}

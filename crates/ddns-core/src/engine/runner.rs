//! The mutable side of a run: record slots, desired addresses, the
//! provider gate, and the passes that bring records in line.

use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;
use tracing::{Instrument, debug, error, info, info_span, warn};

use super::DdnsEngine;
use super::gate::{Gate, backoff};
use super::report::{OnceReport, RecordOutcome};
use super::slot::{Confirm, Context, Failure, Published, Slot, Step};
use crate::error::{Error, Result};
use crate::observer::EngineEvent;
use crate::provider::{ErrorScope, ProviderError, ProviderErrorKind, RecordChange};
use crate::record::{IpFamily, Record};
use crate::source::{AddressSnapshot, IpEvent};
use crate::state::{RecordState, StateSnapshot, unix_now};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Daemon,
    Once,
}

pub(super) struct Runner<'e> {
    engine: &'e DdnsEngine,
    mode: Mode,
    slots: Vec<Slot>,
    desired: [Option<IpAddr>; 2],
    state: StateSnapshot,
    state_dirty: bool,
    state_retry_at: Option<Instant>,
    state_failing: bool,
    gate: Gate,
    credentials_accepted: bool,
    storm_coalesced: u64,
    /// Consecutive passes that confirmed every record with the provider,
    /// since start or the last failure (the readiness rule).
    confirming_passes: u32,
    /// When the engine reads every record again to collect confirmations.
    confirm_all_at: Option<Instant>,
    /// Records updated in this pass (for the log's summary).
    updated_this_pass: usize,
    rng: fastrand::Rng,
}

/// Records named one by one at info level, at start and per pass; beyond
/// that they go to debug level and one summary line counts them, so that
/// thousands of records do not flood the journal (journald's default rate
/// limit is 10,000 lines in 30 s).
const LOGGED_ONE_BY_ONE: usize = 20;

impl<'e> Runner<'e> {
    pub(super) async fn new(engine: &'e DdnsEngine, mode: Mode) -> Result<Self> {
        let provider = engine.provider.name().to_string();
        let state = match engine.store.load().await {
            Ok(state) => state,
            Err(error) => {
                warn!(store = engine.store.name(), error = %error, "cannot load state; starting empty");
                StateSnapshot::default()
            }
        };
        let now = Instant::now();
        let wall = unix_now();
        let interval = engine.settings.min_update_interval;
        let many = engine.settings.records.len() > LOGGED_ONE_BY_ONE;
        if mode == Mode::Daemon && many {
            info!(records = engine.settings.records.len(), provider = %provider, "managing records; each is named at debug level");
        }
        let slots = engine
            .settings
            .records
            .iter()
            .map(|record| {
                let supported = engine.provider.supports_record(record);
                if mode == Mode::Daemon {
                    if supported && many {
                        debug!(record = %record, provider = %provider, "managing record");
                    } else if supported {
                        info!(record = %record, provider = %provider, "managing record");
                    } else {
                        warn!(record = %record, provider = %provider, "the provider cannot manage this record; it is skipped");
                    }
                }
                let last_write = state
                    .records
                    .get(&record.key())
                    .and_then(|stored| restore_last_write(stored.written_at, wall, now, interval));
                Slot::new(record.clone(), supported, last_write)
            })
            .collect();

        let mut runner = Self {
            engine,
            mode,
            slots,
            desired: [None, None],
            state,
            state_dirty: false,
            state_retry_at: None,
            state_failing: false,
            gate: Gate::default(),
            credentials_accepted: false,
            storm_coalesced: 0,
            confirming_passes: 0,
            confirm_all_at: None,
            updated_this_pass: 0,
            rng: fastrand::Rng::new(),
        };
        for contributor in &engine.contributors {
            contributor.restore(&runner.state);
        }
        match engine.provider.check_credentials().await {
            Ok(()) => runner.credentials_accepted = true,
            Err(error) if error.is_credentials() => {
                return Err(Error::CredentialsRejected {
                    provider,
                    source: error,
                });
            }
            Err(error) => {
                warn!(provider = %provider, error = %error, "cannot check the credentials now; carrying on and retrying with the first update");
                // A rate limit at start holds for everything that follows.
                if let Some(delay) = error
                    .retry_after()
                    .filter(|_| error.scope() == ErrorScope::Provider)
                {
                    runner.gate.pause_until(Instant::now() + delay);
                }
            }
        }
        Ok(runner)
    }

    fn notify_failure(&self, index: usize, error: &ProviderError, retry_in: Option<Duration>) {
        let record = &self.slots[index].record;
        self.notify(EngineEvent::RecordFailed {
            record,
            error,
            retry_in,
        });
    }

    /// The provider answered: closes the breaker (and says so).
    fn gate_success(&mut self) {
        let was_open = self.gate.is_open();
        self.gate.on_success(self.engine.provider.name());
        if was_open {
            self.notify(EngineEvent::BreakerChanged { open: false });
        }
    }

    fn notify(&self, event: EngineEvent<'_>) {
        for observer in &self.engine.observers {
            observer.observe(&event);
        }
    }

    pub(super) fn set_addresses(&mut self, snapshot: AddressSnapshot) {
        for family in IpFamily::ALL {
            self.desired[family.index()] = snapshot.get(family);
        }
    }

    /// Applies pending address events, last one per family winning.
    fn absorb_events(&mut self) {
        if self.mode == Mode::Daemon && self.engine.intake.take_reconfirm() {
            // A failure outside the engine ended: confirm every record now
            // and again after the spacing, as after a failure of its own.
            debug!("confirming every record again");
            self.confirming_passes = 0;
            self.confirm_all_at = Some(Instant::now());
        }
        let drained = self.engine.intake.drain();
        if drained.coalesced > 0 {
            if self.storm_coalesced == 0 {
                warn!(
                    capacity = self.engine.settings.event_capacity,
                    "address events arrive faster than they are handled; coalescing them, the latest address of each family is kept"
                );
            }
            self.storm_coalesced += drained.coalesced;
            self.notify(EngineEvent::EventsCoalesced {
                count: drained.coalesced,
            });
        }
        let before = self.desired;
        for (_, event) in drained.events {
            match event {
                IpEvent::Observed(address) => {
                    debug!(address = %address, "address event");
                    self.desired[IpFamily::of(&address).index()] = Some(address);
                    self.notify(EngineEvent::AddressObserved { address });
                }
                IpEvent::Lost(family) => {
                    debug!(family = %family, "address lost event");
                    self.desired[family.index()] = None;
                    self.lose_confirmations();
                    self.notify(EngineEvent::AddressLost { family });
                }
            }
        }
        for family in IpFamily::ALL {
            let (old, new) = (before[family.index()], self.desired[family.index()]);
            if old == new {
                continue;
            }
            match new {
                Some(address) => {
                    info!(family = %family, address = %address, previous = %shown(old), "address changed")
                }
                None => {
                    info!(family = %family, previous = %shown(old), "address lost; records keep their current value")
                }
            }
        }
    }

    /// The address `record` must hold now: its family's trusted address,
    /// with the record's IPv6 interface identifier applied.
    fn desired_for(&self, record: &Record) -> Option<IpAddr> {
        self.desired[record.family().index()].map(|address| record.address_for(address))
    }

    fn context(&self, now: Instant, record: &Record) -> Context {
        Context {
            now,
            desired: self.desired_for(record),
            provider_blocked: self.gate.blocked_until(now),
            min_interval: self.engine.settings.min_update_interval,
            ignore_interval: self.mode == Mode::Once,
        }
    }

    /// Marks the records whose re-check is due for a read. Records due a
    /// little later (within a twentieth of the interval, at most a minute)
    /// are read now too, so that records written together stay in one
    /// read (one listing for a batch provider) and one wakeup.
    fn apply_rechecks(&mut self, now: Instant) {
        let window = self
            .engine
            .settings
            .recheck_interval
            .map_or(Duration::ZERO, |d| (d / 20).min(Duration::from_secs(60)));
        if !self
            .slots
            .iter()
            .any(|s| s.recheck_at.is_some_and(|t| t <= now))
        {
            return;
        }
        for slot in &mut self.slots {
            if slot.recheck_at.is_some_and(|t| t <= now + window) {
                slot.recheck_at = None;
                if slot.can_read() {
                    slot.needs_read = true;
                }
                if matches!(slot.failure, Some(Failure::Permanent { .. })) {
                    slot.failure = None;
                }
            }
        }
    }

    /// Runs reads and writes until every record is in line or waiting.
    pub(super) async fn converge(&mut self) -> Result<()> {
        for slot in &mut self.slots {
            slot.confirmed = None;
        }
        self.updated_this_pass = 0;
        loop {
            self.absorb_events();
            let now = Instant::now();
            self.apply_rechecks(now);
            self.apply_confirmation_read(now);
            let allowance = self.gate.allowance();

            let mut reads = Vec::new();
            let mut writes = Vec::new();
            let mut deferred = Vec::new();
            for (index, slot) in self.slots.iter().enumerate() {
                let cx = self.context(now, &slot.record);
                match slot.step(&cx) {
                    Step::Read => reads.push(index),
                    Step::Write(address) => writes.push((index, address)),
                    Step::Deferred(until) => deferred.push((index, cx.desired, until - now)),
                    Step::Idle | Step::Wait(_) => {}
                }
            }
            for (index, desired, delay) in deferred {
                self.log_deferred(index, desired, delay);
            }
            // A pass ends when an iteration sends nothing: everything left
            // is waiting, so looping again could only spin.
            if !reads.is_empty() {
                reads.truncate(allowance);
                if self.read(reads).await? == 0 {
                    break;
                }
                continue;
            }
            if writes.is_empty() {
                let confirms: Vec<usize> = (0..self.slots.len())
                    .filter(|i| self.slots[*i].confirm.is_some_and(|c| c.next_at <= now))
                    .collect();
                if confirms.is_empty() {
                    break;
                }
                self.confirm(confirms).await;
                continue;
            }
            writes.truncate(allowance);
            if self.write(writes).await? == 0 {
                break;
            }
        }
        if self.updated_this_pass > LOGGED_ONE_BY_ONE {
            info!(
                updated = self.updated_this_pass,
                named = LOGGED_ONE_BY_ONE,
                "records updated in this pass; those not named above are at debug level"
            );
        }
        self.report_pass();
        self.plan_confirmation();
        self.save_state().await;
        Ok(())
    }

    /// The readiness rule wants `startup_confirmations` consecutive passes
    /// that confirmed every record with the provider, at start and again
    /// after any failure. A pass that only found records in line without
    /// asking (a wake-up with nothing due, an event of another family, the
    /// retry that fixed one record of several) does not count, so while
    /// confirmations are missing and every record is in line, the engine
    /// reads them all again `startup_spacing` later. Once enough passes
    /// confirmed them, no timer is left.
    fn plan_confirmation(&mut self) {
        if self.mode != Mode::Daemon {
            return;
        }
        let (in_sync, pending, failed) = self.counts();
        if failed > 0 {
            // Retries and re-checks of the failed records come first.
            self.lose_confirmations();
            return;
        }
        if in_sync == 0 || pending > 0 {
            // The pass that writes or reads the waiting records comes by
            // itself (an address, the end of an interval).
            return;
        }
        let now = Instant::now();
        let spacing = self.engine.settings.startup_spacing;
        if self.confirmed_count() == in_sync {
            self.confirming_passes = self.confirming_passes.saturating_add(1);
            self.confirm_all_at = Some(now + spacing);
        }
        if self.confirming_passes >= self.engine.settings.startup_confirmations {
            self.confirm_all_at = None;
        } else if self.confirm_all_at.is_none() {
            self.confirm_all_at = Some(now + spacing);
        }
    }

    /// A failure or a lost address: the confirmations start again.
    fn lose_confirmations(&mut self) {
        self.confirming_passes = 0;
        self.confirm_all_at = None;
    }

    /// Marks every record for a read when a confirming pass is due. A
    /// provider that cannot read is asked too: its answer sends the engine
    /// to DNS or the state store, which is the confirmation it can give.
    fn apply_confirmation_read(&mut self, now: Instant) {
        if self.confirm_all_at.is_none_or(|t| t > now) {
            return;
        }
        self.confirm_all_at = None;
        for slot in &mut self.slots {
            if slot.supported && desired_of(&self.desired, &slot.record).is_some() {
                slot.needs_read = true;
            }
        }
    }

    /// Saves what contributors hold at shutdown (the state of the records
    /// was saved after each pass).
    pub(super) async fn save_at_exit(&mut self) {
        self.state_retry_at = None;
        if !self.engine.contributors.is_empty() {
            self.state_dirty = true;
        }
        self.save_state().await;
    }

    fn log_deferred(&mut self, index: usize, desired: Option<IpAddr>, delay: Duration) {
        let slot = &mut self.slots[index];
        if slot.deferred_logged == desired {
            return;
        }
        slot.deferred_logged = desired;
        info!(
            record = %slot.record,
            address = %shown(desired),
            delay_secs = delay.as_secs_f64().ceil() as u64,
            "update held back by the minimum update interval; it will be written when the interval ends"
        );
        let record = &self.slots[index].record;
        self.notify(EngineEvent::RecordDeferred { record, delay });
    }

    /// Whether a call planned earlier in this pass must not go out: the
    /// provider was paused, or the record failed for good, by an earlier call.
    fn halted(&self, index: usize, address: Option<IpAddr>) -> bool {
        let address = address.or(self.desired_for(&self.slots[index].record));
        self.gate.blocked_until(Instant::now()).is_some()
            || match &self.slots[index].failure {
                Some(Failure::Permanent {
                    address: failed, ..
                }) => Some(*failed) == address,
                Some(Failure::RateLimited { .. }) => true,
                _ => false,
            }
    }

    /// Reads the records; returns how many calls went out.
    async fn read(&mut self, indices: Vec<usize>) -> Result<usize> {
        let provider = self.engine.provider.clone();
        let mut calls = 0;
        for group in indices.chunks(provider.max_batch().max(1)) {
            let group: Vec<usize> = group
                .iter()
                .copied()
                .filter(|i| !self.halted(*i, None))
                .collect();
            if group.is_empty() {
                continue;
            }
            calls += 1;
            let records: Vec<Record> = group
                .iter()
                .map(|i| self.slots[*i].record.clone())
                .collect();
            let mut results = if records.len() == 1 {
                let span = info_span!("read", record = %records[0], provider = provider.name());
                vec![provider.read(&records[0]).instrument(span).await]
            } else {
                let span = info_span!(
                    "read_many",
                    records = records.len(),
                    provider = provider.name()
                );
                provider.read_many(&records).instrument(span).await
            };
            results.resize_with(group.len(), || {
                Err(ProviderError::transient(
                    "the provider returned fewer results than records",
                ))
            });
            for (index, result) in group.into_iter().zip(results) {
                match result {
                    Ok(None) => {
                        let observed = self.observe_published(index).await;
                        self.on_read(index, observed);
                    }
                    Ok(values) => self.on_read(index, values),
                    Err(error) => self.on_failure(index, error)?,
                }
            }
        }
        Ok(calls)
    }

    /// Asks the verifier what DNS serves, for a provider that cannot read.
    /// Only an authoritative answer counts.
    async fn observe_published(&mut self, index: usize) -> Option<Vec<IpAddr>> {
        let verifier = self.engine.verifier.clone()?;
        let record = &self.slots[index].record;
        if !self.engine.provider.dns_shows_published(record) {
            return None;
        }
        match verifier.observe(record).await {
            Ok(observation) if observation.authoritative => Some(observation.values),
            Ok(_) => {
                debug!(record = %record, verifier = %verifier.name(), "answer not authoritative; it cannot justify skipping a write");
                None
            }
            Err(error) => {
                debug!(record = %record, verifier = %verifier.name(), error = %error, "cannot read the published value through DNS");
                None
            }
        }
    }

    /// Checks the records whose writes wait to be seen in DNS.
    async fn confirm(&mut self, indices: Vec<usize>) {
        let Some(verifier) = self.engine.verifier.clone() else {
            return;
        };
        for index in indices {
            let Some(confirm) = self.slots[index].confirm else {
                continue;
            };
            let record = self.slots[index].record.clone();
            let observed = verifier.observe(&record).await;
            let now = Instant::now();
            let slot = &mut self.slots[index];
            let served = match &observed {
                Ok(observation) => observation.values.clone(),
                Err(_) => Vec::new(),
            };
            if served == [confirm.address] {
                info!(record = %record, address = %confirm.address, verifier = %verifier.name(), after_ms = (now - confirm.started).as_millis() as u64, "DNS serves the new value");
                slot.confirm = None;
            } else if now + confirm.delay <= confirm.deadline {
                slot.confirm = Some(Confirm {
                    next_at: now + confirm.delay,
                    delay: confirm.delay * 2,
                    ..confirm
                });
            } else {
                let served_text = served
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                match observed {
                    Err(error) => {
                        warn!(record = %record, expected = %confirm.address, verifier = %verifier.name(), error = %error, "could not confirm the write through DNS")
                    }
                    Ok(_) => {
                        warn!(record = %record, expected = %confirm.address, served = %served_text, verifier = %verifier.name(), wait_secs = (confirm.deadline - confirm.started).as_secs(), "the provider accepted the write but DNS does not serve the new value")
                    }
                }
                slot.confirm = None;
            }
        }
    }

    fn on_read(&mut self, index: usize, values: Option<Vec<IpAddr>>) {
        self.gate_success();
        self.credentials_accepted = true;
        let now = Instant::now();
        let recheck = self
            .engine
            .settings
            .recheck_interval
            .filter(|_| self.mode == Mode::Daemon);
        let desired = self.desired_for(&self.slots[index].record);
        let key = self.slots[index].record.key();
        let stored = self.state.records.get(&key).map(|s| s.address);
        let slot = &mut self.slots[index];
        slot.needs_read = false;
        slot.retry_at = None;
        if matches!(slot.failure, Some(Failure::Transient { .. })) {
            slot.failure = None;
        }
        match values {
            Some(values) => {
                debug!(record = %slot.record, values = ?values, "published values read");
                slot.published = Published::Values(values);
                slot.recheck_at = recheck.map(|d| now + d);
                if let Some(address) = desired.filter(|a| slot.holds(*a)) {
                    slot.attempts = 0;
                    slot.confirmed = Some(address);
                    debug!(record = %slot.record, address = %address, "record already holds the address");
                    let record = &self.slots[index].record;
                    self.notify(EngineEvent::RecordConfirmed { record, address });
                }
            }
            None => {
                slot.published = Published::Unreadable {
                    last_written: stored,
                };
                if let Some(address) = desired.filter(|a| slot.holds(*a)) {
                    slot.confirmed = Some(address);
                    debug!(record = %slot.record, address = %address, "record holds the address according to the state store");
                    let record = &self.slots[index].record;
                    self.notify(EngineEvent::RecordConfirmed { record, address });
                }
            }
        }
    }

    /// Writes the records; returns how many calls went out.
    async fn write(&mut self, writes: Vec<(usize, IpAddr)>) -> Result<usize> {
        let provider = self.engine.provider.clone();
        let mut calls = 0;
        for group in writes.chunks(provider.max_batch().max(1)) {
            let group: Vec<(usize, IpAddr)> = group
                .iter()
                .copied()
                .filter(|(i, a)| !self.halted(*i, Some(*a)))
                .collect();
            if group.is_empty() {
                continue;
            }
            calls += 1;
            let changes: Vec<RecordChange> = group
                .iter()
                .map(|(i, address)| RecordChange {
                    record: self.slots[*i].record.clone(),
                    address: *address,
                    expected: match &self.slots[*i].published {
                        Published::Values(values) => Some(values.clone()),
                        _ => None,
                    },
                })
                .collect();
            let mut results = if changes.len() == 1 {
                let change = &changes[0];
                let span = info_span!("update", record = %change.record, provider = provider.name(), address = %change.address);
                vec![provider.update(change).instrument(span).await]
            } else {
                let span = info_span!(
                    "update_many",
                    records = changes.len(),
                    provider = provider.name()
                );
                provider.update_many(&changes).instrument(span).await
            };
            results.resize_with(group.len(), || {
                Err(ProviderError::transient(
                    "the provider returned fewer results than changes",
                ))
            });
            for ((index, address), result) in group.into_iter().zip(results) {
                match result {
                    Ok(()) => self.on_written(index, address),
                    Err(error) => self.on_failure(index, error)?,
                }
            }
        }
        Ok(calls)
    }

    fn on_written(&mut self, index: usize, address: IpAddr) {
        self.gate_success();
        self.credentials_accepted = true;
        let now = Instant::now();
        let recheck = self
            .engine
            .settings
            .recheck_interval
            .filter(|_| self.mode == Mode::Daemon);
        let slot = &mut self.slots[index];
        let previous = std::mem::replace(&mut slot.published, Published::Unknown);
        let previous_values: Vec<IpAddr> = match &previous {
            Published::Values(values) => values.clone(),
            Published::Unreadable { last_written } => last_written.iter().copied().collect(),
            Published::Unknown => Vec::new(),
        };
        slot.published = match previous {
            Published::Unreadable { .. } => Published::Unreadable {
                last_written: Some(address),
            },
            _ => Published::Values(vec![address]),
        };
        if slot.failure.is_some() {
            info!(record = %slot.record, attempts = slot.attempts, "record recovered");
        }
        slot.failure = None;
        slot.attempts = 0;
        slot.retry_at = None;
        slot.needs_read = false;
        slot.last_write = Some(now);
        slot.deferred_logged = None;
        slot.written_this_run = true;
        slot.confirmed = Some(address);
        slot.recheck_at = recheck.filter(|_| slot.can_read()).map(|d| now + d);
        if self.engine.verifier.is_some() && self.engine.provider.dns_shows_published(&slot.record)
        {
            slot.confirm = Some(Confirm {
                address,
                next_at: now,
                delay: Duration::from_millis(100),
                deadline: now + self.engine.settings.verify_wait,
                started: now,
            });
        }
        let previous_text = if previous_values.is_empty() {
            "none".to_string()
        } else {
            previous_values
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        self.updated_this_pass += 1;
        if self.updated_this_pass <= LOGGED_ONE_BY_ONE {
            info!(record = %slot.record, address = %address, previous = %previous_text, "record updated");
        } else {
            debug!(record = %slot.record, address = %address, previous = %previous_text, "record updated");
        }
        if previous_values.len() > 1 {
            for removed in previous_values.iter().filter(|v| **v != address) {
                info!(record = %slot.record, removed = %removed, "extra value removed; ddns owns this name and type");
            }
        }
        self.state.records.insert(
            slot.record.key(),
            RecordState {
                address,
                written_at: unix_now(),
            },
        );
        self.state_dirty = true;
        let record = &self.slots[index].record;
        self.notify(EngineEvent::RecordWritten { record, address });
    }

    fn on_failure(&mut self, index: usize, error: ProviderError) -> Result<()> {
        self.lose_confirmations();
        let now = Instant::now();
        let provider = self.engine.provider.name().to_string();
        let desired = self.desired_for(&self.slots[index].record);
        let recheck = self
            .engine
            .settings
            .recheck_interval
            .filter(|_| self.mode == Mode::Daemon);

        match error.kind() {
            ProviderErrorKind::Credentials => {
                if !self.credentials_accepted {
                    return Err(Error::CredentialsRejected {
                        provider,
                        source: error,
                    });
                }
                error!(provider = %provider, error = %error, "the provider rejected the credentials; every record is marked failed until the next address change or re-check");
                let message = error.to_string();
                for slot in &mut self.slots {
                    if let Some(address) = desired_of(&self.desired, &slot.record) {
                        slot.failure = Some(Failure::Permanent {
                            address,
                            message: message.clone(),
                        });
                        slot.recheck_at = recheck.map(|d| now + d);
                    }
                }
                self.notify_failure(index, &error, None);
            }
            ProviderErrorKind::Permanent => {
                let slot = &mut self.slots[index];
                error!(record = %slot.record, address = %shown(desired), error = %error, "update failed and retrying cannot help; it is tried again when the address changes or at the next re-check");
                if let Some(address) = desired {
                    slot.failure = Some(Failure::Permanent {
                        address,
                        message: error.to_string(),
                    });
                }
                slot.recheck_at = recheck.map(|d| now + d);
                self.notify_failure(index, &error, None);
            }
            ProviderErrorKind::RateLimited if self.mode == Mode::Once => {
                let slot = &mut self.slots[index];
                warn!(record = %slot.record, error = %error, "rate limited; not writing in this run");
                slot.failure = Some(Failure::RateLimited {
                    message: error.to_string(),
                });
                self.notify_failure(index, &error, None);
            }
            _ => {
                let settings = &self.engine.settings;
                let slot = &mut self.slots[index];
                slot.attempts = slot.attempts.saturating_add(1);
                let delay = backoff(slot.attempts, error.retry_after(), settings, &mut self.rng);
                if error.scope() == ErrorScope::Provider {
                    self.gate.pause_until(now + delay);
                } else {
                    slot.retry_at = Some(now + delay);
                }
                if error.is_timeout() && slot.can_read() {
                    // The write may still land; learn what is published before writing again.
                    slot.needs_read = true;
                    slot.published = Published::Unknown;
                }
                if slot.attempts == 1 {
                    warn!(record = %slot.record, error = %error, retry_in_secs = delay.as_secs_f64().ceil() as u64, "provider request failed; retrying with back-off");
                } else {
                    debug!(record = %slot.record, error = %error, attempts = slot.attempts, retry_in_secs = delay.as_secs_f64().ceil() as u64, "provider request failed again");
                }
                slot.failure = Some(Failure::Transient {
                    message: error.to_string(),
                });
                let was_open = self.gate.is_open();
                self.gate.on_transient_failure(&provider, now, settings);
                if self.gate.is_open() && !was_open {
                    self.notify(EngineEvent::BreakerChanged { open: true });
                }
                self.notify_failure(index, &error, Some(delay));
            }
        }
        Ok(())
    }

    async fn save_state(&mut self) {
        for contributor in &self.engine.contributors {
            if contributor.contribute(&mut self.state) {
                self.state_dirty = true;
            }
        }
        if !self.state_dirty || self.state_retry_at.is_some_and(|t| t > Instant::now()) {
            return;
        }
        match self.engine.store.save(&self.state).await {
            Ok(()) => {
                if self.state_failing {
                    info!(store = self.engine.store.name(), "state saved again");
                }
                self.state_dirty = false;
                self.state_failing = false;
                self.state_retry_at = None;
            }
            Err(error) => {
                let retry = self.engine.settings.state_retry;
                if self.state_failing {
                    debug!(store = self.engine.store.name(), error = %error, "state still cannot be saved");
                } else {
                    warn!(store = self.engine.store.name(), error = %error, retry_in_secs = retry.as_secs(), "cannot save state; carrying on from memory and retrying");
                }
                self.state_failing = true;
                self.state_retry_at = Some(Instant::now() + retry);
            }
        }
    }

    fn counts(&self) -> (usize, usize, usize) {
        let (mut in_sync, mut pending, mut failed) = (0, 0, 0);
        for slot in &self.slots {
            let desired = self.desired_for(&slot.record);
            if slot.failure.is_some() {
                failed += 1;
            } else if desired.is_some_and(|a| slot.holds(a)) {
                in_sync += 1;
            } else {
                pending += 1;
            }
        }
        (in_sync, pending, failed)
    }

    /// Records in line that the provider confirmed in this pass.
    fn confirmed_count(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| {
                slot.failure.is_none()
                    && self
                        .desired_for(&slot.record)
                        .is_some_and(|a| slot.confirmed == Some(a) && slot.holds(a))
            })
            .count()
    }

    fn report_pass(&self) {
        let (in_sync, pending, failed) = self.counts();
        let confirmed = self.confirmed_count();
        debug!(in_sync, pending, failed, confirmed, "pass completed");
        self.notify(EngineEvent::PassCompleted {
            in_sync,
            pending,
            failed,
            confirmed,
        });
    }

    /// Called when the engine is about to sleep: closes the summaries of
    /// repeated warnings.
    pub(super) fn before_idle(&mut self) {
        if self.storm_coalesced > 0 {
            warn!(
                coalesced = self.storm_coalesced,
                "event burst over; coalesced events were folded into the latest address"
            );
            self.storm_coalesced = 0;
        }
    }

    /// The earliest moment something becomes due, or `None` when nothing
    /// is pending (the engine then sleeps until an event arrives).
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let now = Instant::now();
        let mut earliest = self.state_retry_at.filter(|_| self.state_dirty);
        let mut consider = |t: Instant| {
            earliest = Some(earliest.map_or(t, |e: Instant| e.min(t)));
        };
        for slot in &self.slots {
            let cx = self.context(now, &slot.record);
            match slot.step(&cx) {
                Step::Wait(t) | Step::Deferred(t) => consider(t),
                Step::Read | Step::Write(_) => consider(now),
                Step::Idle => {}
            }
            if let Some(t) = slot.recheck_at.filter(|_| self.mode == Mode::Daemon) {
                consider(t);
            }
            if let Some(confirm) = slot.confirm {
                consider(confirm.next_at);
            }
        }
        if let Some(t) = self.confirm_all_at {
            consider(t);
        }
        earliest
    }

    pub(super) fn report(&self) -> OnceReport {
        let records = self
            .slots
            .iter()
            .map(|slot| {
                let desired = self.desired_for(&slot.record);
                let outcome = match (desired, &slot.failure) {
                    (_, _) if !slot.supported => RecordOutcome::Unsupported,
                    (None, _) => RecordOutcome::NoAddress,
                    (Some(_), Some(Failure::RateLimited { message })) => {
                        RecordOutcome::RateLimited(message.clone())
                    }
                    (Some(_), Some(Failure::Permanent { message, .. })) => {
                        RecordOutcome::Failed(message.clone())
                    }
                    (Some(_), Some(Failure::Transient { message })) => RecordOutcome::Failed(
                        format!("still failing after {} attempts: {message}", slot.attempts),
                    ),
                    (Some(address), None) if slot.holds(address) => {
                        if slot.written_this_run {
                            RecordOutcome::Updated(address)
                        } else {
                            RecordOutcome::Unchanged(address)
                        }
                    }
                    (Some(_), None) => {
                        RecordOutcome::Failed("not brought up to date in the time allowed".into())
                    }
                };
                (slot.record.clone(), outcome)
            })
            .collect();
        OnceReport { records }
    }

    #[cfg(test)]
    pub(super) fn gate_open(&self) -> bool {
        self.gate.is_open()
    }
}

/// Turns a stored wall-clock write time into a monotonic instant, so the
/// minimum interval holds across restarts. A time in the future is clamped
/// to now; one older than the interval no longer matters.
fn restore_last_write(
    written_at: u64,
    wall_now: u64,
    now: Instant,
    interval: Duration,
) -> Option<Instant> {
    if written_at > wall_now {
        return Some(now);
    }
    let age = Duration::from_secs(wall_now - written_at);
    if age >= interval {
        return None;
    }
    now.checked_sub(age)
}

/// The address `record` must hold given the desired address per family.
fn desired_of(desired: &[Option<IpAddr>; 2], record: &Record) -> Option<IpAddr> {
    desired[record.family().index()].map(|address| record.address_for(address))
}

/// An optional address as a log field: the address, or `none`.
fn shown(address: Option<IpAddr>) -> String {
    address.map_or_else(|| "none".to_string(), |a| a.to_string())
}

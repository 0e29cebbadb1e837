//! File transfer in the tool: the commands, the accept prompt, progress bars and the lines
//! printed for transfer events.

mod accept;
pub mod bars;
pub mod commands;
mod names;
mod parse;
mod print;
mod prompts;
mod refusals;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rats::rats_transfer::{
    self, Direction, IncomingOffer, Kind, TransferEvent, TransferId, TransferInfo, TransferService,
};
use rats::{Event, RatsClient};

use crate::output::Output;
use bars::Bars;
use names::Destinations;
use prompts::Prompts;
use refusals::Refusals;

/// Finished transfers remembered so that none is reported twice.
const REPORTED_KEPT: usize = 64;

/// The transfer side of the tool, shared by the input loop, the event printer and the
/// accept callback.
pub struct Ui {
    /// The node's transfer service.
    pub service: Arc<TransferService>,
    /// Where lines go.
    pub out: Output,
    /// Offers waiting for `y` / `n`.
    pub prompts: Prompts,
    names: Destinations,
    bars: Bars,
    reported: Mutex<VecDeque<TransferId>>,
    refusals: Mutex<Refusals>,
}

impl Ui {
    /// Sets up transfers for `client`: the accept callback (asking, or accepting into
    /// `accept_dir`), and says so. `share_dir` is only announced (it is configured at
    /// start). `None` when the transfer service is switched off.
    pub fn install(
        client: &RatsClient,
        out: Output,
        accept_dir: Option<PathBuf>,
        share_dir: Option<&Path>,
    ) -> Option<Arc<Ui>> {
        let Some(service) = client.transfers() else {
            if accept_dir.is_some() || share_dir.is_some() {
                out.notice(
                    "file transfer is switched off in the configuration: \
                     --accept-dir and --share-dir do nothing",
                );
            }
            return None;
        };
        let trusted = &service.config().trusted_peers;
        let who = if trusted.is_empty() {
            "any connected peer".to_string()
        } else {
            let ids: Vec<String> = trusted.iter().map(|p| p.short()).collect();
            format!("only trusted peers ({})", ids.join(", "))
        };
        if let Some(d) = &accept_dir {
            out.notice(&format!(
                "accepting every file {who} offers into {} without asking",
                d.display()
            ));
        }
        if let Some(d) = share_dir {
            out.notice(&format!(
                "{who} may pull files from {} with `get`",
                d.display()
            ));
        }
        let ui = Arc::new(Ui {
            service,
            out,
            prompts: Prompts::default(),
            names: Destinations::default(),
            bars: Bars::default(),
            reported: Mutex::new(VecDeque::new()),
            refusals: Mutex::new(Refusals::default()),
        });
        accept::install(&ui, accept_dir);
        Some(ui)
    }

    /// Destinations of incoming transfers still running.
    fn busy_paths(&self) -> Vec<PathBuf> {
        self.service
            .transfers()
            .into_iter()
            .filter(|i| i.direction == Direction::Incoming && !i.state.is_finished())
            .map(|i| i.local_path)
            .collect()
    }

    /// A free path in `dir` for something called `name`.
    pub fn free_path(&self, dir: &Path, name: &str, is_file: bool) -> Result<PathBuf, String> {
        self.names.pick(dir, name, is_file, &self.busy_paths())
    }

    /// A free path in `dir` for `offer`.
    fn destination(&self, dir: &Path, offer: &IncomingOffer) -> Result<PathBuf, String> {
        self.free_path(dir, &offer.name, offer.kind == Kind::File)
    }

    /// Handles `e` if it is a transfer event; false for every other event.
    pub fn on_event(&self, e: &Event) -> bool {
        let Event::Service { service, event } = e else {
            return false;
        };
        if *service != rats_transfer::SERVICE_NAME {
            return false;
        }
        let Some(event) = event.downcast_ref::<TransferEvent>() else {
            return false;
        };
        match event {
            // The accept callback prints offers: it knows whether it asks.
            TransferEvent::Offered(offer) => self.lock_refusals().offered(offer.id),
            TransferEvent::FileCompleted { .. } => {}
            TransferEvent::Refused {
                id,
                peer,
                pull,
                reason,
            } => {
                let shown = self.lock_refusals().refused(
                    *id,
                    *peer,
                    *pull,
                    reason,
                    std::time::Instant::now(),
                );
                if let Some(r) = shown {
                    self.out.refused(&r);
                }
            }
            TransferEvent::Started(info) => {
                let new_bar = self.bars.start(info);
                if new_bar {
                    self.out.transfer_started(info);
                }
            }
            TransferEvent::Progress { id, progress, .. } => {
                if !self.bars.has(*id)
                    && let Some(info) = self.service.transfer(*id)
                    && !info.state.is_finished()
                {
                    self.bars.start(&info);
                }
                self.bars.progress(*id, progress);
            }
            TransferEvent::Paused {
                id,
                by_peer,
                reason,
            } => {
                let text = if *by_peer { "paused by peer" } else { "paused" };
                self.bars.message(*id, text);
                self.out
                    .transfer_paused(*id, true, *by_peer, reason.as_deref());
            }
            TransferEvent::Resumed { id } => {
                self.bars.message(*id, "");
                self.out.transfer_paused(*id, false, false, None);
            }
            TransferEvent::Finished(info) => self.finished(info),
            // Events a newer rats-transfer adds are not shown.
            _ => {}
        }
        true
    }

    fn lock_refusals(&self) -> std::sync::MutexGuard<'_, Refusals> {
        self.refusals.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn finished(&self, info: &TransferInfo) {
        self.bars.finish(info.id);
        self.names.release(&info.local_path);
        {
            let mut reported = self.reported.lock().unwrap_or_else(|e| e.into_inner());
            if reported.contains(&info.id) {
                return;
            }
            if reported.len() >= REPORTED_KEPT {
                reported.pop_front();
            }
            reported.push_back(info.id);
        }
        self.out.transfer_finished(info);
    }

    /// After missed events: reports the transfers with a bar that ended meanwhile.
    pub fn catch_up(&self) {
        for id in self.bars.ids() {
            match self.service.transfer(id) {
                Some(info) if info.state.is_finished() => self.finished(&info),
                Some(_) => {}
                None => self.bars.finish(id),
            }
        }
    }
}

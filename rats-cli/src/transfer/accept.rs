//! The accept callback: asks the user (`y` / `n`), or with `--accept-dir` accepts every
//! offer into that folder. Either way the destination gets a name nothing else uses.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use rats::rats_transfer::{AcceptDecision, IncomingOffer};

use super::Ui;
use super::prompts::Answer;

/// Sent to a peer whose offer finds no free name (the local folder stays private).
const NO_NAME: &str = "no free file name for it here";

/// Sets the service's accept callback; `accept_dir` accepts without asking.
pub fn install(ui: &Arc<Ui>, accept_dir: Option<PathBuf>) {
    // Weak: the service keeps the callback and the UI keeps the service.
    let weak: Weak<Ui> = Arc::downgrade(ui);
    let dir = accept_dir.map(Arc::new);
    ui.service.set_accept_callback(move |offer| {
        let (weak, dir) = (weak.clone(), dir.clone());
        async move {
            let Some(ui) = weak.upgrade() else {
                return AcceptDecision::Reject("shutting down".into());
            };
            match dir {
                Some(dir) => accept_into(&ui, &dir, &offer),
                None => ask(&ui, &offer).await,
            }
        }
    });
}

fn accept_into(ui: &Ui, dir: &Path, offer: &IncomingOffer) -> AcceptDecision {
    match ui.destination(dir, offer) {
        Ok(dest) => {
            ui.out.offer_accepted(offer, &dest);
            AcceptDecision::Accept(dest)
        }
        Err(e) => {
            ui.out.offer_closed(offer.id, &format!("rejected: {e}"));
            AcceptDecision::Reject(NO_NAME.into())
        }
    }
}

/// Closes the prompt when the callback ends, also when the service gives up waiting (it
/// drops the callback's future after `offer_timeout_ms`).
struct Open<'a> {
    ui: &'a Ui,
    offer: &'a IncomingOffer,
    answered: bool,
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.ui.prompts.close(self.offer.id);
        if !self.answered {
            self.ui
                .out
                .offer_closed(self.offer.id, "not answered in time; rejected");
        }
    }
}

async fn ask(ui: &Ui, offer: &IncomingOffer) -> AcceptDecision {
    let Some(rx) = ui.prompts.open(offer.id) else {
        let reason = "too many pending prompts";
        ui.out.offer_closed(
            offer.id,
            &format!("from {} rejected: {reason}", offer.peer.short()),
        );
        return AcceptDecision::Reject(reason.into());
    };
    let mut open = Open {
        ui,
        offer,
        answered: false,
    };
    let timeout = Duration::from_millis(ui.service.config().offer_timeout_ms);
    ui.out.offer_prompt(offer, timeout);
    let answer = rx.await;
    open.answered = true;
    let decision = match answer {
        Ok(Answer::Accept) => match std::env::current_dir() {
            Ok(cwd) => match ui.destination(&cwd, offer) {
                Ok(dest) => AcceptDecision::Accept(dest),
                Err(e) => {
                    ui.out.error("accept", &e);
                    AcceptDecision::Reject(NO_NAME.into())
                }
            },
            Err(e) => {
                ui.out
                    .error("accept", &format!("cannot tell the current directory: {e}"));
                AcceptDecision::Reject("the receiver has no folder for it".into())
            }
        },
        Ok(Answer::Reject(reason)) => AcceptDecision::Reject(reason),
        Err(_) => AcceptDecision::Reject("not answered".into()),
    };
    let dest = match &decision {
        AcceptDecision::Accept(d) => Some(d.as_path()),
        AcceptDecision::Reject(_) => None,
    };
    ui.out.offer_answered(offer.id, dest);
    decision
}

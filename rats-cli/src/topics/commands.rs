//! The publish/subscribe commands: `sub <topic>`, `unsub <topic>`, `pub <topic> <text>`,
//! `topics`.

use super::Ui;

/// Runs publish/subscribe command `word` with arguments `rest`.
pub fn run(ui: &Ui, word: &str, rest: &str) {
    let result = match word {
        "sub" => subscribe(ui, rest),
        "unsub" => unsubscribe(ui, rest),
        "pub" => publish(ui, rest),
        "topics" => {
            list(ui);
            Ok(())
        }
        _ => Err(format!("unknown command {word:?}")),
    };
    if let Err(e) = result {
        ui.out.error(word, &e);
    }
}

/// The one-word topic in `rest`, or why not.
fn one_topic<'a>(rest: &'a str, usage: &str) -> Result<&'a str, String> {
    match rest.split_once(char::is_whitespace) {
        _ if rest.is_empty() => Err(format!("usage: {usage}")),
        None => Ok(rest),
        Some(_) => Err(format!("a topic is one word; usage: {usage}")),
    }
}

/// `sub <topic>`.
fn subscribe(ui: &Ui, rest: &str) -> Result<(), String> {
    let topic = one_topic(rest, "sub <topic>")?;
    let new = ui.service.subscribe(topic).map_err(|e| e.to_string())?;
    ui.out.subscribed(topic, new);
    Ok(())
}

/// `unsub <topic>`.
fn unsubscribe(ui: &Ui, rest: &str) -> Result<(), String> {
    let topic = one_topic(rest, "unsub <topic>")?;
    if !ui.service.unsubscribe(topic).map_err(|e| e.to_string())? {
        return Err(format!("not subscribed to {topic:?}"));
    }
    ui.out.unsubscribed(topic);
    Ok(())
}

/// `pub <topic> <text>`: the rest of the line, as UTF-8.
fn publish(ui: &Ui, rest: &str) -> Result<(), String> {
    const USAGE: &str = "usage: pub <topic> <text>";
    let (topic, text) = rest
        .split_once(char::is_whitespace)
        .map(|(t, x)| (t, x.trim()))
        .unwrap_or((rest, ""));
    if topic.is_empty() || text.is_empty() {
        return Err(USAGE.into());
    }
    let peers = ui.service.topic_peers(topic).len();
    let id = ui
        .service
        .publish(topic, text.as_bytes().to_vec())
        .map_err(|e| e.to_string())?;
    ui.out.published(topic, &id, peers);
    Ok(())
}

/// `topics`: ours, each with its topic peers and mesh peers.
fn list(ui: &Ui) {
    let topics: Vec<(String, usize, usize)> = ui
        .service
        .subscribed_topics()
        .into_iter()
        .map(|t| {
            let peers = ui.service.topic_peers(&t).len();
            let mesh = ui.service.topic_mesh_peers(&t).len();
            (t, peers, mesh)
        })
        .collect();
    ui.out.topics(&topics);
}

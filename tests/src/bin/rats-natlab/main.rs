//! `rats-natlab`: the NAT lab's connectivity matrix, and the lab node it runs.
//!
//! ```text
//! rats-natlab matrix          (as root) for every pair of NAT kinds among public, full cone,
//!                             port-restricted cone and symmetric: a rendezvous node, two nodes
//!                             behind those NATs that know only the rendezvous, coturn for
//!                             STUN and TURN; prints one JSON line per pair and a summary line;
//!                             exits 1 if a pair ended unlike physics allows
//! rats-natlab node [options]  a rats node for the lab (run inside a lab namespace): prints
//!                             JSON lines for its peers, methods, messages and attempts
//! rats-natlab ice ...         an ICE agent exchanging datagrams with another (the aioice
//!                             interop test); offers through stdin/stdout
//! rats-natlab dht-serve|dht-lookup|stun-bind ...
//!                             DHT and STUN clients for the fault tests (see `faults.rs`)
//! ```

mod faults;
mod ice;
mod matrix;
mod node;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("matrix") => matrix::run().await,
        Some("node") => node::run(&args[1..]).await,
        Some("ice") => ice::run(&args[1..]).await,
        Some(mode @ ("dht-serve" | "dht-lookup" | "stun-bind")) => {
            faults::run(mode, &args[1..]).await
        }
        _ => {
            eprintln!(
                "usage: rats-natlab matrix | node [options] | ice controlling|controlled ... \
                 | dht-serve | dht-lookup | stun-bind ..."
            );
            2
        }
    };
    std::process::exit(code);
}

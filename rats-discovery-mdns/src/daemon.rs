//! Opening an mdns-sd daemon for a node: interfaces, and our service registered on it.

use std::net::IpAddr;

use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo};

use crate::config::MdnsConfig;
use crate::names::NodeTxt;
use crate::plugin::MdnsError;

/// What we advertise.
#[derive(Clone, Debug)]
pub(crate) struct Advert {
    /// `_rats._tcp.local.`
    pub service_type: String,
    /// Our instance label.
    pub instance: String,
    /// Our host name.
    pub host: String,
    /// Our TXT record.
    pub txt: NodeTxt,
    /// Specific addresses (when the node listens on specific IPs); empty = every interface's.
    pub addrs: Vec<IpAddr>,
}

impl Advert {
    /// The full instance name.
    pub fn fullname(&self) -> String {
        format!("{}.{}", self.instance, self.service_type)
    }
}

/// Starts a daemon with the configured interfaces and registers `advert` (if any). On any
/// error the daemon is shut down again (its thread would otherwise stay in the multicast
/// groups).
pub(crate) fn open(cfg: &MdnsConfig, advert: Option<&Advert>) -> Result<ServiceDaemon, MdnsError> {
    let daemon =
        ServiceDaemon::new_with_port(cfg.port).map_err(|e| MdnsError::Daemon(e.to_string()))?;
    match configure(&daemon, cfg, advert) {
        Ok(()) => Ok(daemon),
        Err(e) => {
            let _ = daemon.shutdown();
            Err(MdnsError::Daemon(e.to_string()))
        }
    }
}

fn configure(
    daemon: &ServiceDaemon,
    cfg: &MdnsConfig,
    advert: Option<&Advert>,
) -> Result<(), mdns_sd::Error> {
    if !cfg.interfaces.is_empty() {
        daemon.disable_interface(IfKind::All)?;
        for name in &cfg.interfaces {
            daemon.enable_interface(IfKind::Name(name.clone()))?;
        }
    }
    if !cfg.ipv6 {
        daemon.disable_interface(IfKind::IPv6)?;
    }
    if cfg.interface_check_secs > 0 {
        daemon.set_ip_check_interval(cfg.interface_check_secs)?;
    }
    let Some(a) = advert else {
        return Ok(());
    };
    let props = a.txt.properties();
    let info = if a.addrs.is_empty() {
        ServiceInfo::new(
            &a.service_type,
            &a.instance,
            &a.host,
            (),
            a.txt.port,
            &props[..],
        )?
        .enable_addr_auto()
    } else {
        ServiceInfo::new(
            &a.service_type,
            &a.instance,
            &a.host,
            &a.addrs[..],
            a.txt.port,
            &props[..],
        )?
    };
    daemon.register(info)
}

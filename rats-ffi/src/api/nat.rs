//! STUN and NAT (librats' names), on `RatsClient::nat()` (the `stun` plugin).

use std::ffi::{c_char, c_int};
use std::net::IpAddr;

use super::{
    RATS_ERROR_INVALID_HANDLE, RATS_ERROR_INVALID_PARAMETER, RATS_ERROR_NOT_RUNNING,
    RATS_ERROR_OPERATION_FAILED, RATS_SUCCESS, rats_client_t, rats_error_t, with_client,
};
use crate::client::Client;
use crate::engine::nat::{self as n, StunFail};
use crate::util::{block_on, c_string, guard, str_arg};

fn add_ignored(c: &Client, ip: &str) {
    let mut list = c.ignored.lock();
    if !list.iter().any(|a| a == ip) {
        list.push(ip.to_string());
    }
}

/// Asks STUN server `stun_server:stun_port` (port <= 0: 3478) for our public address, or
/// with `stun_server` NULL the configured servers (`stun.servers`; default: public ones),
/// remembers it (`rats_get_public_ip`) and adds it to the ignored addresses. Waits for the
/// answer (about 8 s at most). `RATS_ERROR_NOT_RUNNING` before start,
/// `RATS_ERROR_OPERATION_FAILED` without an answer (or, with NULL, when the `stun` plugin is
/// off).
///
/// # Safety
/// `stun_server` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_discover_and_ignore_public_ip(
    client: rats_client_t,
    stun_server: *const c_char,
    stun_port: c_int,
) -> rats_error_t {
    guard(RATS_ERROR_OPERATION_FAILED, || {
        with_client(client, RATS_ERROR_INVALID_HANDLE, |c| {
            let port = if stun_port <= 0 {
                3478
            } else {
                match u16::try_from(stun_port) {
                    Ok(p) => p,
                    Err(_) => return RATS_ERROR_INVALID_PARAMETER,
                }
            };
            // SAFETY: the contract above.
            let server = match unsafe { str_arg(stun_server) } {
                None if !stun_server.is_null() => return RATS_ERROR_INVALID_PARAMETER,
                None => None,
                Some("") => return RATS_ERROR_INVALID_PARAMETER,
                Some(s) => Some((s.trim_matches(['[', ']']).to_string(), port)),
            };
            let Ok(rc) = c.rc() else {
                return RATS_ERROR_NOT_RUNNING;
            };
            match block_on(async move { n::public_address(&rc, server).await }) {
                Some(Ok(ip)) => {
                    let ip = ip.to_string();
                    add_ignored(c, &ip);
                    *c.public_ip.lock() = Some(ip);
                    RATS_SUCCESS
                }
                Some(Err(StunFail::Unavailable | StunFail::NoAnswer)) | None => {
                    RATS_ERROR_OPERATION_FAILED
                }
            }
        })
    })
}

/// Our public IP: the last `rats_discover_and_ignore_public_ip` answer, else what the `stun`
/// plugin found (or the IP connected peers see us at); free it. NULL when unknown.
#[unsafe(no_mangle)]
pub extern "C" fn rats_get_public_ip(client: rats_client_t) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        with_client(client, std::ptr::null_mut(), |c| {
            let ip = c.public_ip.lock().clone().or_else(|| {
                c.rc()
                    .ok()
                    .and_then(|rc| n::known_public_ip(&rc))
                    .map(|ip| ip.to_string())
            });
            ip.map_or(std::ptr::null_mut(), |ip| c_string(&ip))
        })
    })
}

/// Runs the RFC 5780 NAT behaviour tests against the configured STUN servers (waits) and
/// returns librats' number: 0 unknown, 1 open internet, 2 full cone, 3 restricted cone, 4
/// port-restricted cone, 5 symmetric, 6 blocked (no server answered). 0 for a bad handle,
/// a client not running or the `stun` plugin off.
#[unsafe(no_mangle)]
pub extern "C" fn rats_detect_nat_type(client: rats_client_t) -> c_int {
    guard(0, || {
        with_client(client, 0, |c| match c.rc() {
            Ok(rc) => block_on(async move { n::detect_nat_type(&rc).await }).unwrap_or(0),
            Err(_) => 0,
        })
    })
}

/// What the last NAT check found, as JSON (librats' keys and rats' extras, see the README);
/// free it. NULL for a bad handle or a client not running.
#[unsafe(no_mangle)]
pub extern "C" fn rats_get_nat_characteristics_json(client: rats_client_t) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        Client::get(client)
            .and_then(|c| c.rc().ok())
            .map_or(std::ptr::null_mut(), |rc| {
                c_string(&n::characteristics_json(&rc))
            })
    })
}

/// Adds an IP address of ours: `rats_connect` and `rats_connect_with_strategy` refuse it
/// (rats also drops any connection that turns out to be to itself, by peer id). Not an IP
/// address: ignored.
///
/// # Safety
/// `ip_address` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rats_add_ignored_address(
    client: rats_client_t,
    ip_address: *const c_char,
) {
    guard((), || {
        // SAFETY: the contract above.
        let Some(ip) = (unsafe { str_arg(ip_address) })
            .and_then(|s| s.trim_matches(['[', ']']).parse::<IpAddr>().ok())
        else {
            return;
        };
        if let Some(c) = Client::get(client) {
            add_ignored(&c, &ip.to_string());
        }
    })
}

/// NAT traversal status as JSON (rats' keys, see the README); free it. NULL for a bad handle
/// or a client not running.
#[unsafe(no_mangle)]
pub extern "C" fn rats_get_nat_traversal_statistics_json(client: rats_client_t) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        with_client(client, std::ptr::null_mut(), |c| {
            let Ok(rc) = c.rc() else {
                return std::ptr::null_mut();
            };
            let ignored = c.ignored.lock().clone();
            c_string(&n::traversal_statistics_json(&rc, &ignored))
        })
    })
}

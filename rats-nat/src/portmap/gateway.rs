//! The default IPv4 gateway (Linux: `/proc/net/route`), where NAT-PMP and PCP requests go.

use std::net::Ipv4Addr;

/// The gateway of the IPv4 default route, if there is one.
pub fn default_gateway() -> Option<Ipv4Addr> {
    let table = std::fs::read_to_string("/proc/net/route").ok()?;
    parse_route_table(&table)
}

/// Reads the default route's gateway from the text of `/proc/net/route` (fields are
/// little-endian hex).
pub fn parse_route_table(table: &str) -> Option<Ipv4Addr> {
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 3 || f[1] != "00000000" {
            return None;
        }
        let gw = u32::from_str_radix(f[2], 16).ok().filter(|g| *g != 0)?;
        Some(Ipv4Addr::from(gw.swap_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_default_route() {
        let t = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n\
                 eth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\n\
                 eth0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\n";
        assert_eq!(parse_route_table(t), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(parse_route_table("Iface\tDestination\n"), None);
    }
}

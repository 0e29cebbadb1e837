//! Round-trip properties of what rats puts in its DNS-SD records: a node's TXT properties,
//! through mdns-sd's service record and back as the browser reads them, give the same node
//! (version and protocol cut to the TXT limit); reading arbitrary properties never panics;
//! service types and instance names are always valid names.

use std::collections::HashMap;
use std::sync::OnceLock;

use mdns_sd::ServiceInfo;
use proptest::prelude::*;
use rats_core::{Identity, PeerId};

use crate::names::{NodeTxt, clean_instance, clip, service_type};

fn peer_id() -> impl Strategy<Value = PeerId> {
    static POOL: OnceLock<Vec<PeerId>> = OnceLock::new();
    prop::sample::select(
        POOL.get_or_init(|| (0..8).map(|_| Identity::generate().peer_id()).collect())
            .as_slice(),
    )
}

fn node_txt() -> impl Strategy<Value = NodeTxt> {
    (peer_id(), ".{0,80}", ".{0,80}", 1..=u16::MAX).prop_map(|(peer, version, protocol, port)| {
        NodeTxt {
            peer,
            version,
            protocol,
            port,
        }
    })
}

proptest! {
    #[test]
    fn txt_records_round_trip_through_a_service_record(txt in node_txt()) {
        let props = txt.properties();
        let info = ServiceInfo::new(
            "_rats._tcp.local.",
            "rats-node",
            "host.local.",
            "127.0.0.1",
            txt.port,
            &props[..],
        )
        .unwrap();
        let resolved = info.as_resolved_service();
        let back = NodeTxt::parse(|k| resolved.get_property_val_str(k)).unwrap();
        let want = NodeTxt {
            version: clip(&txt.version),
            protocol: clip(&txt.protocol),
            ..txt
        };
        prop_assert_eq!(back, want);
    }

    #[test]
    fn reading_arbitrary_properties_never_panics(
        map in prop::collection::hash_map(
            prop::sample::select(vec!["id", "v", "proto", "port", "x"]),
            ".{0,70}|[0-9]{1,6}|[0-9a-f]{64}",
            0..5,
        ),
    ) {
        let map: HashMap<&str, String> = map;
        if let Some(txt) = NodeTxt::parse(|k| map.get(k).map(String::as_str)) {
            // What was read writes the same properties back.
            let props = txt.properties();
            let again = NodeTxt::parse(|k| {
                props.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
            });
            prop_assert_eq!(again, Some(txt));
        }
    }

    #[test]
    fn service_types_and_instances_are_valid_names(name in ".{0,40}") {
        let ty = service_type(&name);
        let label = ty
            .strip_prefix('_')
            .and_then(|t| t.strip_suffix("._tcp.local."))
            .unwrap();
        prop_assert!((1..=15).contains(&label.len()), "{}", ty);
        prop_assert!(label.starts_with(|c: char| c.is_ascii_lowercase()), "{}", ty);
        prop_assert!(!label.ends_with('-') && !label.contains("--"), "{}", ty);
        prop_assert!(
            label.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{}",
            ty
        );
        prop_assert_eq!(service_type(label), ty.clone());
        let inst = clean_instance(&name);
        prop_assert!(inst.len() <= 63 && !inst.chars().any(char::is_control));
        prop_assert_eq!(clean_instance(&inst), inst);
    }
}

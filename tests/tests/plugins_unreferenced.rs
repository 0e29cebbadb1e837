//! Why the docs ask for `use my_plugin as _;`: this test binary depends on a plugin crate that
//! submits `ptcp` to the registry but never references the crate, and the linker drops it.
//! Should a toolchain ever keep it, this test fails and the docs' rule can be relaxed.

#[test]
fn an_unreferenced_inventory_plugin_is_not_linked() {
    assert!(
        !rats::core::registry::factories().any(|f| f.name == "ptcp"),
        "the unreferenced crate's factory was linked after all"
    );
}

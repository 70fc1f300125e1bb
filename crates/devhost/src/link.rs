//! Linking a component: the imports devhost implements, plus traps for the
//! rest.
//!
//! spin-sdk components may import interfaces devhost does not implement
//! (key-value, SQLite, older Postgres versions …). Like Spin, the component
//! should still run and only trap if it calls one. wasmtime's own
//! `define_unknown_imports_as_traps` cannot be used here: it defines a
//! fresh instance under the exact imported version (`wasi:http/types@0.2.6`)
//! which shadows the semver-compatible host definition and breaks resource
//! identity. So only imports that devhost does not provide are stubbed.

use wasmtime::Engine;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker, LinkerInstance, ResourceType};

use crate::state::HostState;

/// WASI packages the host provides (WASIp2, any 0.2.x patch release).
const WASI_P2_PACKAGES: &[&str] = &[
    "wasi:cli/",
    "wasi:clocks/",
    "wasi:filesystem/",
    "wasi:io/",
    "wasi:random/",
    "wasi:sockets/",
    "wasi:http/types@",
    "wasi:http/outgoing-handler@",
];

/// Spin interfaces implemented natively (exact versions).
const SPIN_INTERFACES: &[&str] = &[
    "spin:postgres/postgres@4.0.0",
    "fermyon:spin/redis@2.0.0",
    "fermyon:spin/variables@2.0.0",
];

/// Whether the base linker satisfies this top-level import.
pub fn is_provided(import: &str) -> bool {
    if SPIN_INTERFACES.contains(&import) {
        return true;
    }
    let Some((_, version)) = import.rsplit_once('@') else {
        return false;
    };
    WASI_P2_PACKAGES.iter().any(|p| import.starts_with(p))
        && version.starts_with("0.2.")
        && !version.contains('-')
}

/// Defines every import of `component` that `is_provided` rejects as a
/// trap ("unknown import … has not been defined" when called).
pub fn stub_unknown_imports(
    linker: &mut Linker<HostState>,
    engine: &Engine,
    component: &Component,
) -> anyhow::Result<Vec<String>> {
    let ty = component.component_type();
    let mut stubbed = Vec::new();
    for (name, ext) in ty.imports(engine) {
        if is_provided(name) {
            continue;
        }
        stub(&mut linker.root(), engine, name, &ext.ty, name)?;
        stubbed.push(name.to_string());
    }
    Ok(stubbed)
}

fn stub(
    linker: &mut LinkerInstance<'_, HostState>,
    engine: &Engine,
    name: &str,
    item: &ComponentItem,
    path: &str,
) -> anyhow::Result<()> {
    match item {
        ComponentItem::ComponentFunc(_) => {
            let what = path.to_string();
            linker.func_new(name, move |_, _, _, _| {
                wasmtime::bail!("unknown import: `{what}` is not implemented by devhost")
            })?;
        }
        ComponentItem::ComponentInstance(inst) => {
            let mut child = linker.instance(name)?;
            for (export, ext) in inst.exports(engine) {
                stub(
                    &mut child,
                    engine,
                    export,
                    &ext.ty,
                    &format!("{path}#{export}"),
                )?;
            }
        }
        ComponentItem::Resource(_) => {
            linker.resource(name, ResourceType::host::<()>(), |_, _| Ok(()))?;
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provided_imports() {
        for yes in [
            "wasi:http/types@0.2.6",
            "wasi:http/outgoing-handler@0.2.0",
            "wasi:io/streams@0.2.3",
            "wasi:cli/environment@0.2.6",
            "spin:postgres/postgres@4.0.0",
            "fermyon:spin/variables@2.0.0",
        ] {
            assert!(is_provided(yes), "{yes}");
        }
        for no in [
            "spin:postgres/postgres@3.0.0",
            "fermyon:spin/key-value@2.0.0",
            "wasi:keyvalue/store@0.2.0-draft2",
            "wasi:config/store@0.2.0-draft-2024-09-27",
            "wasi:http/types@0.2.0-rc-2023-10-18",
            "wasi:http/handler@0.3.0-rc-2026-01-06",
            "wasi:cli/environment@0.3.0",
        ] {
            assert!(!is_provided(no), "{no}");
        }
    }
}

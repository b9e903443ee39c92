//! What the tests share: components to sign, keys, and byte surgery on
//! signed modules.

#![allow(dead_code)] // each test binary uses its own part of this

use drbook_signing::{PublicKey, SigningKey};
use wasm_encoder::{
    Component, ConstExpr, CustomSection, DataSection, MemorySection, MemoryType, Module,
    ModuleSection,
};

/// A component holding a core module with `data` bytes of data in its
/// memory, and the custom sections named in `custom`: the shape of a
/// runbook (a component around a core module), of any size.
pub fn component(data: usize, custom: &[(&str, &[u8])]) -> Vec<u8> {
    let mut module = Module::new();
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: (data as u64).div_ceil(65536).max(1),
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    module.section(&memories);
    let mut segments = DataSection::new();
    let bytes: Vec<u8> = (0..data).map(|i| (i * 31 % 251) as u8).collect();
    segments.active(0, &ConstExpr::i32_const(0), bytes);
    module.section(&segments);
    let mut component = Component::new();
    component.section(&ModuleSection(&module));
    for (name, data) in custom {
        component.section(&CustomSection {
            name: (*name).into(),
            data: (*data).into(),
        });
    }
    component.finish()
}

/// Whether wasmparser, the parser wasmtime uses, still accepts `bytes`.
pub fn is_valid(bytes: &[u8]) -> bool {
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(bytes)
        .is_ok()
}

/// The keys, of `keys`, that verify `module`'s signatures (none if it fails).
pub fn signers(module: &[u8], keys: &[PublicKey]) -> Vec<PublicKey> {
    drbook_signing::verify(module, keys)
        .map(|verified| verified.signers)
        .unwrap_or_default()
}

pub fn key(comment: &str) -> (SigningKey, PublicKey) {
    let key = SigningKey::generate(comment).expect("a key");
    let public = key.public_key();
    (key, public)
}

/// Where a signed module's `signature` section is: the whole section, and
/// its data (after its name).
pub struct SignatureSection {
    pub section: std::ops::Range<usize>,
    pub data: std::ops::Range<usize>,
}

pub fn signature_section(signed: &[u8]) -> SignatureSection {
    assert_eq!(signed[8], 0, "the first section is a custom section");
    let (len, payload_start) = leb128(signed, 9);
    let (name_len, name_start) = leb128(signed, payload_start);
    assert_eq!(&signed[name_start..name_start + name_len], b"signature");
    SignatureSection {
        section: 8..payload_start + len,
        data: name_start + name_len..payload_start + len,
    }
}

/// A custom section named `name` holding `data`, framed.
pub fn custom_section(name: &str, data: &[u8]) -> Vec<u8> {
    let mut component = Component::new();
    component.section(&CustomSection {
        name: name.into(),
        data: data.into(),
    });
    component.finish()[8..].to_vec()
}

fn leb128(bytes: &[u8], mut at: usize) -> (usize, usize) {
    let (mut value, mut shift) = (0usize, 0);
    loop {
        let byte = bytes[at];
        at += 1;
        value |= usize::from(byte & 0x7f) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            return (value, at);
        }
    }
}

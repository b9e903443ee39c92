//! What loading a runbook may cost, checked before it is compiled.
//!
//! Compiling is the one costly step a module's author controls before any
//! limit of the sandbox applies: a component of 300,000 functions took 27 s
//! and 1.9 GB to compile. Compile time and memory grow with a module's size
//! and its number of functions, so both are capped, and a module past either
//! is refused after a scan of its sections (milliseconds), before the
//! compiler sees it. A module is also scanned for the memory its instances
//! need at least, so that one that could never start under a job's memory
//! limit is refused before it is stored (see [`Runbook::fits`]).
//!
//! [`Runbook::fits`]: crate::Runbook::fits

use bytesize::ByteSize;
use wasmparser::{Parser, Payload};

/// Caps on a module, checked before it is compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadLimits {
    /// Size of the module file, in bytes.
    pub module_bytes: u64,
    /// Functions defined by all the core modules of the component.
    pub functions: u64,
}

impl Default for LoadLimits {
    /// 32 MiB and 100,000 functions: the example runbooks are 60 to 100 KiB
    /// with a few thousand functions; a module at the caps compiles in
    /// seconds.
    fn default() -> Self {
        LoadLimits {
            module_bytes: 32 << 20,
            functions: 100_000,
        }
    }
}

/// What a scan of a module found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    /// Functions defined by all its core modules.
    pub functions: u64,
    /// The memory an instance needs at least: the initial sizes of all its
    /// core modules' memories, in bytes.
    pub memory_minimum: u64,
}

/// A module past a cap of [`LoadLimits`], or one the scan cannot read.
#[derive(Debug, thiserror::Error)]
pub enum Exceeded {
    #[error(
        "it is {} and at most {} is loaded (the `module-bytes` limit); build it in release mode, \
         or raise the limit if the module is trusted",
        ByteSize(*found),
        ByteSize(*limit)
    )]
    Size { found: u64, limit: u64 },
    #[error(
        "it defines {found} functions and at most {limit} are compiled (the `module-functions` \
         limit); split the runbook, or raise the limit if the module is trusted"
    )]
    Functions { found: u64, limit: u64 },
    #[error("it cannot be read as WebAssembly: {0}")]
    Malformed(String),
}

/// Scans `bytes` (a component, sniffed already) against `limits`, without
/// validating or compiling it.
pub fn scan(bytes: &[u8], limits: &LoadLimits) -> Result<Cost, Exceeded> {
    let size = bytes.len() as u64;
    if size > limits.module_bytes {
        return Err(Exceeded::Size {
            found: size,
            limit: limits.module_bytes,
        });
    }
    let mut cost = Cost::default();
    // `parse_all` walks nested modules and components too.
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| Exceeded::Malformed(e.to_string()))? {
            Payload::FunctionSection(functions) => {
                cost.functions += u64::from(functions.count());
                if cost.functions > limits.functions {
                    return Err(Exceeded::Functions {
                        found: cost.functions,
                        limit: limits.functions,
                    });
                }
            }
            Payload::MemorySection(memories) => {
                for memory in memories {
                    let memory = memory.map_err(|e| Exceeded::Malformed(e.to_string()))?;
                    let page = 1u64 << memory.page_size_log2.unwrap_or(16);
                    cost.memory_minimum = cost
                        .memory_minimum
                        .saturating_add(memory.initial.saturating_mul(page));
                }
            }
            _ => {}
        }
    }
    Ok(cost)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn leb(mut n: u64, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    fn section(id: u8, body: &[u8], out: &mut Vec<u8>) {
        out.push(id);
        leb(body.len() as u64, out);
        out.extend_from_slice(body);
    }

    /// A component holding one core module of `functions` empty functions
    /// and a memory of `pages` 64 KiB pages (encoded by hand: the test needs
    /// no text-format parser).
    pub(crate) fn component(functions: u64, pages: u64) -> Vec<u8> {
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        section(1, &[1, 0x60, 0, 0], &mut module); // one type: () -> ()
        let mut decls = Vec::new();
        leb(functions, &mut decls);
        decls.extend(std::iter::repeat_n(0u8, functions as usize));
        section(3, &decls, &mut module);
        let mut memory = vec![1, 0];
        leb(pages, &mut memory);
        section(5, &memory, &mut module);
        let mut code = Vec::new();
        leb(functions, &mut code);
        for _ in 0..functions {
            code.extend_from_slice(&[2, 0, 0x0b]); // size 2: no locals, `end`
        }
        section(10, &code, &mut module);
        let mut component = b"\0asm\x0d\0\x01\0".to_vec();
        section(1, &module, &mut component); // a core module section
        component
    }

    #[test]
    fn a_scan_counts_functions_and_memory() {
        let cost = scan(&component(3, 2), &LoadLimits::default()).unwrap();
        assert_eq!(
            cost,
            Cost {
                functions: 3,
                memory_minimum: 2 << 16
            }
        );
    }

    #[test]
    fn a_module_past_a_cap_is_refused_naming_it() {
        let limits = LoadLimits {
            module_bytes: 100 << 10,
            functions: 1_000,
        };
        let err = scan(&component(1_001, 1), &limits).unwrap_err();
        assert!(
            matches!(
                err,
                Exceeded::Functions {
                    found: 1_001,
                    limit: 1_000
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains("`module-functions` limit"),
            "{err}"
        );

        let big = component(50_000, 1);
        let err = scan(&big, &limits).unwrap_err();
        assert!(matches!(err, Exceeded::Size { .. }), "{err}");
        assert!(err.to_string().contains("`module-bytes` limit"), "{err}");
    }
}

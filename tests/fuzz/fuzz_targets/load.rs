//! Any bytes through the policy loader and the disassembler, as given and
//! with the checksum recomputed, so that mutations reach the verifier behind
//! it. A panic, a hang or a huge allocation is a bug; so is a file that
//! loads but does not survive another encode and decode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wanc::bytecode;

fn load(bytes: &[u8]) {
    let decoded = bytecode::decode(bytes);
    assert_eq!(bytecode::disasm(bytes).is_ok(), decoded.is_ok());
    if let Ok(site) = decoded {
        assert_eq!(bytecode::decode(&bytecode::encode(&site)), Ok(site));
    }
}

fuzz_target!(|data: &[u8]| {
    load(data);
    if data.len() >= 8 {
        let mut sealed = data.to_vec();
        let crc = bytecode::crc32(&sealed[8..]);
        sealed[4..8].copy_from_slice(&crc.to_le_bytes());
        load(&sealed);
    }
});

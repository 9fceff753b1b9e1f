//! Any bytes as a capture file: the pcap/pcapng reader returns frames or an error, never
//! panics, and never hands out more bytes than the file holds.
#![no_main]

use appliance::capture::PacketSource;
use appliance::capture::pcap::PcapSource;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let reader = Box::new(std::io::Cursor::new(data.to_vec()));
    let Ok(source) = PcapSource::from_reader("fuzz", reader) else {
        return;
    };
    // A small buffer exercises records that straddle refills.
    let mut source = source.with_buffer_size(64);
    let mut total = 0usize;
    loop {
        match source.next_batch(16, &mut |f| total += f.data.len()) {
            Ok(0) | Err(_) => break,
            Ok(_) => assert!(total <= data.len(), "more frame bytes than input bytes"),
        }
    }
});

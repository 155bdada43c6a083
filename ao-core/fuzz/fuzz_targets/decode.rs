//! Feeds arbitrary bytes to every decoder in ao-core. None may panic; an item that decodes must
//! re-encode to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(item) = ao_core::DataItem::decode(bytes) {
        assert_eq!(item.encode(), bytes);
        let _ = item.verify();
        let _ = ao_core::ao::item_type(&item);
        let _ = ao_core::ao::Assignment::from_item(&item);
    }
    let _ = ao_core::tags::decode(bytes);
    let _ = ao_core::bundle::decode(bytes);
});

//! What is sealed: a value packed with LZ4 behind a one-byte mark. The cache and the
//! outbox hold JSON, which packs to a fifth or less of its size (a million pupil records
//! of five fields: 135 MiB of batches packed to 24 MiB), so far fewer bytes are sealed,
//! written, logged by the database and checkpointed.
//!
//! Values sealed before packing was introduced carry no mark: JSON text never begins
//! with the mark's byte, so they open as they were written.
//!
//! Packing comes before sealing, so a sealed value's length says a little about how
//! repetitive its contents are. Only someone who can read the state database sees that
//! length, and the record counts beside it already say more.

/// The mark of a value packed with LZ4, its unpacked length first.
const LZ4: u8 = 0x01;

/// `value` packed for sealing: the mark, the length as four bytes little-endian, then
/// the LZ4 block. A value of 4 GiB or more is sealed as it is.
pub(crate) fn pack(value: &[u8]) -> Vec<u8> {
    let Ok(length) = u32::try_from(value.len()) else {
        return value.to_vec();
    };
    let mut packed = vec![0; 5 + lz4_flex::block::get_maximum_output_size(value.len())];
    packed[0] = LZ4;
    packed[1..5].copy_from_slice(&length.to_le_bytes());
    match lz4_flex::block::compress_into(value, &mut packed[5..]) {
        Ok(written) => {
            packed.truncate(5 + written);
            packed
        }
        // The buffer has the largest size LZ4 can write; should it be short, seal the
        // value as it is.
        Err(_) => value.to_vec(),
    }
}

/// The value `opened` holds; `None` when it is marked as packed but does not unpack,
/// which for a value that passed authentication means it was written by something else.
pub(crate) fn unpack(opened: Vec<u8>) -> Option<Vec<u8>> {
    match opened.split_first() {
        Some((&LZ4, packed)) => lz4_flex::decompress_size_prepended(packed).ok(),
        _ => Some(opened),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_unpacks_to_itself_and_json_sealed_unpacked_opens_as_it_was() {
        let records =
            br#"[{"sourcedId":"stu-1","givenName":"A"},{"sourcedId":"stu-2","givenName":"A"}]"#
                .repeat(200);
        let packed = pack(&records);
        assert!(packed.len() * 4 < records.len(), "{} bytes", packed.len());
        assert_eq!(unpack(packed).as_deref(), Some(records.as_slice()));
        assert_eq!(unpack(pack(b"")).as_deref(), Some(&b""[..]));

        // Written before packing: plain JSON, opened unchanged.
        for earlier in [&b"[]"[..], b"{\"type\":\"records\"}", b" [1]", b""] {
            assert_eq!(unpack(earlier.to_vec()).as_deref(), Some(earlier));
        }
    }

    #[test]
    fn a_marked_value_that_does_not_unpack_is_refused() {
        let mut packed = pack(&b"x".repeat(1_000));
        packed.truncate(packed.len() - 3);
        assert_eq!(unpack(packed), None);
        assert_eq!(unpack(vec![LZ4]), None);
    }
}

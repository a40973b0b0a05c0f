//! Bit streams for the item codec: an MSB-first bit writer and reader with Elias-gamma codes.
//!
//! Invariant: the reader never panics and never reads past its slice; a gamma code longer than
//! [`GAMMA_BITS_MAX`] bits, or one that runs off the end, is an error, so corrupt input costs at
//! most one failed decode. Values are `u64`.
//! Does not know about items: `item_codec` decides what the numbers mean.

/// Longest gamma prefix (leading zero bits) accepted: values stay below 2^63.
pub(crate) const GAMMA_BITS_MAX: u32 = 63;

/// Appends bits, most significant first, to a byte vector.
#[derive(Debug, Default)]
pub(crate) struct BitWriter {
    bytes: Vec<u8>,
    /// Bits already used in the last byte (0 means the last byte is full or absent).
    used: u32,
}

impl BitWriter {
    /// An empty writer with room for about `bytes` bytes.
    pub(crate) fn with_capacity(bytes: usize) -> BitWriter {
        BitWriter {
            bytes: Vec::with_capacity(bytes),
            used: 0,
        }
    }

    /// Writes the low `count` bits of `value` (count ≤ 64), most significant first.
    pub(crate) fn write_bits(&mut self, value: u64, count: u32) {
        debug_assert!(count <= 64, "bit count {count} > 64");
        for shift in (0..count).rev() {
            self.write_bit(value >> shift & 1 == 1);
        }
    }

    /// Writes one bit.
    pub(crate) fn write_bit(&mut self, bit: bool) {
        if self.used == 0 {
            self.bytes.push(0);
        }
        if bit {
            let last = self.bytes.len() - 1;
            self.bytes[last] |= 0x80 >> self.used;
        }
        self.used = (self.used + 1) % 8;
    }

    /// Writes `value ≥ 1` as an Elias-gamma code: `bits(value) - 1` zeros, then `value`.
    pub(crate) fn write_gamma(&mut self, value: u64) {
        assert!(value >= 1, "gamma codes start at 1");
        let width = u64::BITS - value.leading_zeros();
        self.write_bits(0, width - 1);
        self.write_bits(value, width);
    }

    /// The bytes written (the last one padded with zero bits).
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// Why a bit stream could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BitError {
    /// The stream ended inside a value.
    Truncated,
    /// A gamma code longer than [`GAMMA_BITS_MAX`].
    GammaTooLong,
}

/// Reads bits, most significant first, from a byte slice.
#[derive(Debug)]
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    /// Position in bits from the start.
    position: usize,
}

impl<'a> BitReader<'a> {
    /// A reader at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> BitReader<'a> {
        BitReader { bytes, position: 0 }
    }

    /// Bits not yet read (padding included).
    pub(crate) fn remaining_bits(&self) -> usize {
        self.bytes.len() * 8 - self.position
    }

    /// Reads one bit.
    pub(crate) fn read_bit(&mut self) -> Result<bool, BitError> {
        let byte = *self
            .bytes
            .get(self.position / 8)
            .ok_or(BitError::Truncated)?;
        let bit = byte & (0x80 >> (self.position % 8)) != 0;
        self.position += 1;
        Ok(bit)
    }

    /// Reads `count ≤ 64` bits as an integer.
    pub(crate) fn read_bits(&mut self, count: u32) -> Result<u64, BitError> {
        debug_assert!(count <= 64, "bit count {count} > 64");
        if (count as usize) > self.remaining_bits() {
            return Err(BitError::Truncated);
        }
        let mut value = 0u64;
        for _ in 0..count {
            value = value << 1 | u64::from(self.read_bit()?);
        }
        Ok(value)
    }

    /// Reads an Elias-gamma code (a value ≥ 1).
    pub(crate) fn read_gamma(&mut self) -> Result<u64, BitError> {
        let mut zeros = 0u32;
        while !self.read_bit()? {
            zeros += 1;
            if zeros > GAMMA_BITS_MAX {
                return Err(BitError::GammaTooLong);
            }
        }
        let rest = self.read_bits(zeros)?;
        Ok(1u64 << zeros | rest)
    }

    /// True when every remaining bit is a zero padding bit of the last byte.
    pub(crate) fn at_padding(&self) -> bool {
        let rest = self.remaining_bits();
        if rest >= 8 {
            return false;
        }
        let last = self.bytes.last().copied().unwrap_or(0);
        rest == 0 || last & ((1u8 << rest) - 1) == 0
    }
}

/// Bits of the gamma code of `value ≥ 1`.
#[cfg(test)]
pub(crate) fn gamma_bits(value: u64) -> u32 {
    2 * (u64::BITS - value.leading_zeros()) - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_codes_round_trip() {
        let values = [
            1u64,
            2,
            3,
            4,
            7,
            8,
            255,
            256,
            65_535,
            1 << 40,
            u64::MAX >> 1,
        ];
        let mut writer = BitWriter::default();
        for &value in &values {
            writer.write_gamma(value);
            writer.write_bit(true);
            writer.write_bits(0b101, 3);
        }
        let bytes = writer.into_bytes();
        let mut reader = BitReader::new(&bytes);
        for &value in &values {
            assert_eq!(reader.read_gamma(), Ok(value));
            assert_eq!(reader.read_bit(), Ok(true));
            assert_eq!(reader.read_bits(3), Ok(0b101));
        }
        assert!(reader.at_padding());
        let expected_bits: u32 = values.iter().map(|&v| gamma_bits(v) + 4).sum();
        assert_eq!(bytes.len(), expected_bits.div_ceil(8) as usize);
    }

    #[test]
    fn gamma_of_one_is_one_bit_and_small_values_are_short() {
        assert_eq!(gamma_bits(1), 1);
        assert_eq!(gamma_bits(2), 3);
        assert_eq!(gamma_bits(3), 3);
        assert_eq!(gamma_bits(4), 5);
    }

    #[test]
    fn corrupt_streams_are_errors_not_panics() {
        assert_eq!(BitReader::new(&[]).read_bit(), Err(BitError::Truncated));
        assert_eq!(
            BitReader::new(&[0; 9]).read_gamma(),
            Err(BitError::GammaTooLong)
        );
        assert_eq!(
            BitReader::new(&[0, 0]).read_gamma(),
            Err(BitError::Truncated)
        );
        assert_eq!(
            BitReader::new(&[0x01]).read_gamma(),
            Err(BitError::Truncated)
        );
        assert!(!BitReader::new(&[0x01]).at_padding());
    }
}

//! The storage format of an item: the bytes of a B+tree value.
//!
//! Layout (version 1):
//!
//! ```text
//! version        u8 = 1
//! checksum       u32 little-endian, CRC32C of every byte after it
//! structure_len  LEB128 varint: length of the structure stream in bytes
//! structure      bit stream (MSB first): types, lengths and counts as Elias-gamma codes
//! data           bytes: attribute-name suffixes, S/B payloads, number exponents and digits
//! ```
//!
//! Structure, per value: a 4-bit type (NULL, FALSE, TRUE, S, B, N zero, N positive, N negative,
//! M, L, SS, BS, NS), then S/B `gamma(len + 1)`; N `gamma(coefficient bytes)` (data: biased
//! leading exponent, little-endian coefficient); M `gamma(count + 1)` and its entries; L
//! `gamma(count + 1)` and its elements; SS/BS members sorted by (length, bytes) in groups of
//! equal length, `gamma(groups)` then per group `gamma(len + 1)` (first) or `gamma(len - previous
//! len)` and `gamma(count)`; NS `gamma(count)` then per member `gamma(coefficient bytes + 1)`
//! (1 = zero) and a sign bit. The item itself is a map. Map entries are front-coded against the
//! previous name of the same map (names are sorted): `gamma(shared + 1)`, `gamma(suffix len)`.
//!
//! Invariant (the size bound): structure and data cost at most 1.25 × the item's DynamoDB size
//! (§2.3) plus about 8.5 KB, so every item of at most 400 KB encodes within the engine's
//! `VALUE_SIZE_MAX` (512 KiB). The argument: names, strings and binaries are copied once, a
//! number's data is at most its §2.3 size, and every element's structure bits fit in the 25%
//! margin of its own size (lists and maps pay 1 byte per element and 3 per document; front
//! coding pays for top-level names, which carry no per-element charge; length groups pay for
//! set members). Only top-level entries whose name shares at most one byte with the previous
//! name can overdraw, by at most 1.125 bytes, and there are at most 256 + 65,536 of those.
//! `tests::adversarial_items_fit` exercises the worst shapes. Decoding verifies the checksum and
//! every structural rule (types, UTF-8, sorted unique names, unique set members, normalised
//! numbers, nesting depth, exact lengths): corrupt bytes are an `InternalServerError`, never a
//! panic and never a different item.
//! Does not validate items against DynamoDB's rules beyond what decoding needs; writers
//! validate with `shoal_wire::validate` before encoding.

use shoal_wire::Error;
use shoal_wire::Number;
use shoal_wire::limits::DOCUMENT_DEPTH_MAX;
use shoal_wire::value::{AttributeValue, Item};

use super::bits::{BitError, BitReader, BitWriter};
use crate::storage::btree::VALUE_SIZE_MAX;

/// The current format version (first byte of every value).
pub const ITEM_FORMAT_VERSION: u8 = 1;
/// Bytes before the structure length: version and checksum.
const HEADER_SIZE: usize = 5;
/// Longest LEB128 varint accepted for the structure length.
const VARINT_SIZE_MAX: usize = 5;
/// Bias of the stored leading exponent (−130..=125 → 0..=255).
const EXPONENT_BIAS: i32 = 130;
/// Most coefficient bytes of a number (38 digits < 2^127).
const COEFFICIENT_SIZE_MAX: u64 = 16;

const TYPE_NULL: u64 = 0;
const TYPE_FALSE: u64 = 1;
const TYPE_TRUE: u64 = 2;
const TYPE_S: u64 = 3;
const TYPE_B: u64 = 4;
const TYPE_N_ZERO: u64 = 5;
const TYPE_N_POSITIVE: u64 = 6;
const TYPE_N_NEGATIVE: u64 = 7;
const TYPE_M: u64 = 8;
const TYPE_L: u64 = 9;
const TYPE_SS: u64 = 10;
const TYPE_BS: u64 = 11;
const TYPE_NS: u64 = 12;
/// Width of a type code in bits.
const TYPE_BITS: u32 = 4;

/// Encodes an item. Fails (an `InternalServerError`) only for items that validation rejects
/// (an empty attribute name, an empty set) or that exceed the value size limit.
pub fn encode(item: &Item) -> Result<Vec<u8>, Error> {
    let mut encoder = Encoder {
        bits: BitWriter::with_capacity(64),
        data: Vec::with_capacity(256),
    };
    encoder.map(item.iter())?;
    let structure = encoder.bits.into_bytes();
    let total = HEADER_SIZE + VARINT_SIZE_MAX + structure.len() + encoder.data.len();
    if total > VALUE_SIZE_MAX {
        return Err(Error::internal(format!(
            "encoded item of {total} bytes exceeds the value limit of {VALUE_SIZE_MAX} bytes"
        )));
    }
    let mut out = Vec::with_capacity(total);
    out.push(ITEM_FORMAT_VERSION);
    out.extend_from_slice(&[0; 4]);
    write_varint(&mut out, structure.len() as u64);
    out.extend_from_slice(&structure);
    out.extend_from_slice(&encoder.data);
    let checksum = crc32c::crc32c(&out[HEADER_SIZE..]);
    out[1..HEADER_SIZE].copy_from_slice(&checksum.to_le_bytes());
    Ok(out)
}

/// Decodes and fully verifies an item.
pub fn decode(bytes: &[u8]) -> Result<Item, Error> {
    let corrupt = |reason: &str| Error::internal(format!("corrupt item value: {reason}"));
    let (&version, rest) = bytes.split_first().ok_or_else(|| corrupt("empty value"))?;
    if version != ITEM_FORMAT_VERSION {
        return Err(corrupt(&format!("unknown format version {version}")));
    }
    if rest.len() < 4 {
        return Err(corrupt("value shorter than its header"));
    }
    let (stored, body) = rest.split_at(4);
    let stored = u32::from_le_bytes(stored.try_into().expect("split at 4"));
    let actual = crc32c::crc32c(body);
    if stored != actual {
        return Err(corrupt(&format!(
            "checksum {actual:#010x} does not match stored {stored:#010x}"
        )));
    }
    let (structure_len, used) = read_varint(body).ok_or_else(|| corrupt("bad structure length"))?;
    let body = &body[used..];
    let structure_len = usize::try_from(structure_len)
        .ok()
        .filter(|len| *len <= body.len())
        .ok_or_else(|| corrupt("structure length beyond the value"))?;
    let (structure, data) = body.split_at(structure_len);
    let mut decoder = Decoder {
        bits: BitReader::new(structure),
        data,
        offset: 0,
    };
    let item = decoder.map(1).map_err(|e| corrupt(&e))?;
    if !decoder.bits.at_padding() || decoder.offset != data.len() {
        return Err(corrupt("trailing bytes after the item"));
    }
    Ok(item)
}

struct Encoder {
    bits: BitWriter,
    data: Vec<u8>,
}

impl Encoder {
    fn map<'a>(
        &mut self,
        entries: impl ExactSizeIterator<Item = (&'a String, &'a AttributeValue)>,
    ) -> Result<(), Error> {
        self.bits.write_gamma(entries.len() as u64 + 1);
        let mut previous: &[u8] = &[];
        for (name, value) in entries {
            let name = name.as_bytes();
            let shared = common_prefix(previous, name);
            let suffix = name.len() - shared;
            if suffix == 0 {
                return Err(Error::internal("cannot encode an empty or unsorted name"));
            }
            self.bits.write_gamma(shared as u64 + 1);
            self.bits.write_gamma(suffix as u64);
            self.data.extend_from_slice(&name[shared..]);
            self.value(value)?;
            previous = name;
        }
        Ok(())
    }

    fn value(&mut self, value: &AttributeValue) -> Result<(), Error> {
        match value {
            AttributeValue::Null => self.bits.write_bits(TYPE_NULL, TYPE_BITS),
            AttributeValue::Bool(false) => self.bits.write_bits(TYPE_FALSE, TYPE_BITS),
            AttributeValue::Bool(true) => self.bits.write_bits(TYPE_TRUE, TYPE_BITS),
            AttributeValue::S(text) => self.bytes(TYPE_S, text.as_bytes()),
            AttributeValue::B(bytes) => self.bytes(TYPE_B, bytes),
            AttributeValue::N(number) => self.number(number),
            AttributeValue::M(map) => {
                self.bits.write_bits(TYPE_M, TYPE_BITS);
                self.map(map.iter())?;
            }
            AttributeValue::L(list) => {
                self.bits.write_bits(TYPE_L, TYPE_BITS);
                self.bits.write_gamma(list.len() as u64 + 1);
                for element in list {
                    self.value(element)?;
                }
            }
            AttributeValue::Ss(set) => {
                self.bits.write_bits(TYPE_SS, TYPE_BITS);
                self.byte_set(set.iter().map(|s| s.as_bytes()).collect())?;
            }
            AttributeValue::Bs(set) => {
                self.bits.write_bits(TYPE_BS, TYPE_BITS);
                self.byte_set(set.iter().map(Vec::as_slice).collect())?;
            }
            AttributeValue::Ns(set) => self.number_set(set)?,
        }
        Ok(())
    }

    fn bytes(&mut self, type_code: u64, bytes: &[u8]) {
        self.bits.write_bits(type_code, TYPE_BITS);
        self.bits.write_gamma(bytes.len() as u64 + 1);
        self.data.extend_from_slice(bytes);
    }

    fn number(&mut self, number: &Number) {
        if number.is_zero() {
            self.bits.write_bits(TYPE_N_ZERO, TYPE_BITS);
            return;
        }
        let type_code = if number.is_negative() {
            TYPE_N_NEGATIVE
        } else {
            TYPE_N_POSITIVE
        };
        self.bits.write_bits(type_code, TYPE_BITS);
        let size = coefficient_size(number);
        self.bits.write_gamma(size);
        self.number_data(number, size);
    }

    fn number_data(&mut self, number: &Number, size: u64) {
        let exponent = u8::try_from(number.leading_exponent() + EXPONENT_BIAS)
            .expect("a valid number's leading exponent is within -130..=125");
        self.data.push(exponent);
        let coefficient = number.coefficient().to_le_bytes();
        self.data.extend_from_slice(&coefficient[..size as usize]);
    }

    fn byte_set(&mut self, mut members: Vec<&[u8]>) -> Result<(), Error> {
        members.sort_unstable_by(|a, b| (a.len(), *a).cmp(&(b.len(), *b)));
        let groups = group_lengths(&members);
        if groups.is_empty() {
            return Err(Error::internal("cannot encode an empty set"));
        }
        self.bits.write_gamma(groups.len() as u64);
        let mut previous: Option<usize> = None;
        for &(len, count) in &groups {
            match previous {
                None => self.bits.write_gamma(len as u64 + 1),
                Some(prev) => self.bits.write_gamma((len - prev) as u64),
            }
            self.bits.write_gamma(count as u64);
            previous = Some(len);
        }
        for member in members {
            self.data.extend_from_slice(member);
        }
        Ok(())
    }

    fn number_set(&mut self, set: &[Number]) -> Result<(), Error> {
        if set.is_empty() {
            return Err(Error::internal("cannot encode an empty set"));
        }
        self.bits.write_bits(TYPE_NS, TYPE_BITS);
        self.bits.write_gamma(set.len() as u64);
        for number in set {
            if number.is_zero() {
                self.bits.write_gamma(1);
                continue;
            }
            let size = coefficient_size(number);
            self.bits.write_gamma(size + 1);
            self.bits.write_bit(number.is_negative());
            self.number_data(number, size);
        }
        Ok(())
    }
}

/// (length, count) runs of members sorted by length.
fn group_lengths(members: &[&[u8]]) -> Vec<(usize, usize)> {
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for member in members {
        match groups.last_mut() {
            Some((len, count)) if *len == member.len() => *count += 1,
            _ => groups.push((member.len(), 1)),
        }
    }
    groups
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Bytes of a non-zero number's coefficient in minimal little-endian form (1..=16).
fn coefficient_size(number: &Number) -> u64 {
    let bits = u128::BITS - number.coefficient().leading_zeros();
    u64::from(bits.div_ceil(8))
}

fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A varint and the bytes it used; `None` if truncated or longer than allowed.
fn read_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (index, &byte) in bytes.iter().take(VARINT_SIZE_MAX).enumerate() {
        value |= u64::from(byte & 0x7F) << (7 * index);
        if byte & 0x80 == 0 {
            return Some((value, index + 1));
        }
    }
    None
}

struct Decoder<'a> {
    bits: BitReader<'a>,
    data: &'a [u8],
    offset: usize,
}

type Decoded<T> = Result<T, String>;

fn bit_error(error: BitError) -> String {
    match error {
        BitError::Truncated => "structure stream truncated".to_owned(),
        BitError::GammaTooLong => "length code too long".to_owned(),
    }
}

impl<'a> Decoder<'a> {
    fn gamma(&mut self) -> Decoded<u64> {
        self.bits.read_gamma().map_err(bit_error)
    }

    /// A count from `gamma(count + offset)`, bounded by the bits left (each element costs at
    /// least `bits_each`), so corrupt counts cannot cause huge allocations.
    fn count(&mut self, offset: u64, bits_each: usize) -> Decoded<usize> {
        let count = self.gamma()? - offset;
        if count > (self.bits.remaining_bits() / bits_each) as u64 {
            return Err(format!("count {count} exceeds the remaining structure"));
        }
        Ok(count as usize)
    }

    fn take(&mut self, len: u64) -> Decoded<&'a [u8]> {
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| self.offset.checked_add(len))
            .filter(|end| *end <= self.data.len())
            .ok_or_else(|| format!("length {len} runs past the data"))?;
        let slice = &self.data[self.offset..end];
        self.offset = end;
        Ok(slice)
    }

    fn map(&mut self, level: u32) -> Decoded<Item> {
        let count = self.count(1, 2 + TYPE_BITS as usize)?;
        let mut map = Item::new();
        let mut previous: Vec<u8> = Vec::new();
        for _ in 0..count {
            let shared = self.gamma()? - 1;
            if shared > previous.len() as u64 {
                return Err("shared name prefix longer than the previous name".into());
            }
            let suffix = self.gamma()?;
            let mut name = previous[..shared as usize].to_vec();
            name.extend_from_slice(self.take(suffix)?);
            if name <= previous && !map.is_empty() {
                return Err("attribute names out of order".into());
            }
            let text = String::from_utf8(name.clone()).map_err(|_| "name is not UTF-8")?;
            let value = self.value(level + 1)?;
            map.insert(text, value);
            previous = name;
        }
        Ok(map)
    }

    fn value(&mut self, level: u32) -> Decoded<AttributeValue> {
        let type_code = self.bits.read_bits(TYPE_BITS).map_err(bit_error)?;
        Ok(match type_code {
            TYPE_NULL => AttributeValue::Null,
            TYPE_FALSE => AttributeValue::Bool(false),
            TYPE_TRUE => AttributeValue::Bool(true),
            TYPE_S => {
                let len = self.gamma()? - 1;
                let bytes = self.take(len)?;
                let text = std::str::from_utf8(bytes).map_err(|_| "string is not UTF-8")?;
                AttributeValue::S(text.to_owned())
            }
            TYPE_B => {
                let len = self.gamma()? - 1;
                AttributeValue::B(self.take(len)?.to_vec())
            }
            TYPE_N_ZERO => AttributeValue::N(Number::ZERO),
            TYPE_N_POSITIVE | TYPE_N_NEGATIVE => {
                let size = self.gamma()?;
                AttributeValue::N(self.number(size, type_code == TYPE_N_NEGATIVE)?)
            }
            TYPE_M | TYPE_L if level > DOCUMENT_DEPTH_MAX => {
                return Err(format!("documents nested deeper than {DOCUMENT_DEPTH_MAX}"));
            }
            TYPE_M => AttributeValue::M(self.map(level)?),
            TYPE_L => {
                let count = self.count(1, TYPE_BITS as usize)?;
                let mut list = Vec::with_capacity(count);
                for _ in 0..count {
                    list.push(self.value(level + 1)?);
                }
                AttributeValue::L(list)
            }
            TYPE_SS => {
                let members = self.byte_set()?;
                let strings = members
                    .into_iter()
                    .map(|m| String::from_utf8(m).map_err(|_| "set member is not UTF-8"))
                    .collect::<Result<Vec<_>, _>>()?;
                AttributeValue::Ss(strings)
            }
            TYPE_BS => AttributeValue::Bs(self.byte_set()?),
            TYPE_NS => AttributeValue::Ns(self.number_set()?),
            other => return Err(format!("unknown type code {other}")),
        })
    }

    fn number(&mut self, size: u64, negative: bool) -> Decoded<Number> {
        if size > COEFFICIENT_SIZE_MAX {
            return Err(format!("number coefficient of {size} bytes"));
        }
        let exponent_byte = self.take(1)?[0];
        let bytes = self.take(size)?;
        if bytes.last() == Some(&0) {
            return Err("number coefficient not minimal".into());
        }
        let mut buffer = [0u8; 16];
        buffer[..bytes.len()].copy_from_slice(bytes);
        let coefficient = u128::from_le_bytes(buffer);
        let leading = i32::from(exponent_byte) - EXPONENT_BIAS;
        let digits = coefficient.checked_ilog10().map_or(1, |log| log + 1) as i32;
        let number = Number::from_parts(negative, coefficient, leading - digits + 1)
            .map_err(|e| format!("bad number: {e}"))?;
        if number.coefficient() != coefficient || number.leading_exponent() != leading {
            return Err("number not normalised".into());
        }
        Ok(number)
    }

    fn byte_set(&mut self) -> Decoded<Vec<Vec<u8>>> {
        let groups = self.count(0, 2)?;
        if groups == 0 {
            return Err("empty set".into());
        }
        let mut shape = Vec::with_capacity(groups);
        let mut len = 0u64;
        for index in 0..groups {
            let step = self.gamma()?;
            len = if index == 0 {
                step - 1
            } else {
                len.saturating_add(step)
            };
            let count = self.gamma()?;
            let room = (self.data.len() - self.offset) as u64;
            if count.saturating_mul(len.max(1)) > room.max(1) || (len == 0 && count > 1) {
                return Err("set members run past the data".into());
            }
            shape.push((len, count));
        }
        let mut members = Vec::new();
        for (len, count) in shape {
            let mut previous: Option<&[u8]> = None;
            for _ in 0..count {
                let member = self.take(len)?;
                if previous.is_some_and(|p| p >= member) {
                    return Err("set members out of order or duplicated".into());
                }
                members.push(member.to_vec());
                previous = Some(member);
            }
        }
        Ok(members)
    }

    fn number_set(&mut self) -> Decoded<Vec<Number>> {
        let count = self.count(0, 1)?;
        if count == 0 {
            return Err("empty set".into());
        }
        let mut set = Vec::with_capacity(count);
        for _ in 0..count {
            let size = self.gamma()? - 1;
            if size == 0 {
                set.push(Number::ZERO);
                continue;
            }
            let negative = self.bits.read_bit().map_err(bit_error)?;
            set.push(self.number(size, negative)?);
        }
        let mut sorted: Vec<&Number> = set.iter().collect();
        sorted.sort_unstable();
        if sorted.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err("number set members duplicated".into());
        }
        Ok(set)
    }
}

//! DynamoDB numbers: exact decimals with at most 38 significant digits and magnitudes from
//! 1E-130 to 9.9999999999999999999999999999999999999E+125 (dynamodb-semantics.md §1.3).
//!
//! A [`Number`] is `(-1)^negative × coefficient × 10^exponent`, always normalised: the
//! coefficient has no trailing zero digit, zero is `(false, 0, 0)`, the coefficient has at most
//! [`NUMBER_DIGITS_MAX`] digits and the leading digit's exponent lies in
//! [`NUMBER_EXPONENT_MIN`]..=[`NUMBER_EXPONENT_MAX`]. Because the form is unique, derived
//! equality and hashing are numeric (`1.0` ≡ `1` ≡ `0.1e1`), and `Display` is the canonical
//! text DynamoDB returns: plain decimal notation, never scientific.
//!
//! Invariant: no floating point anywhere; parse, compare, add and subtract are exact integer
//! arithmetic on a `u128` coefficient (10^38 < 2^127).
//! Does not do multiplication or division (DynamoDB has neither) and does not know about
//! key encoding (see `key`), which only reads the parts through accessors.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use rkyv::rancor::{Fallible, Source};
use rkyv::{Archive, Deserialize, Place, Serialize};

use crate::limits::NUMBER_EXPONENT_MIN;
use crate::limits::{ERROR_ECHO_SIZE_MAX, NUMBER_DIGITS_MAX, NUMBER_EXPONENT_MAX};

/// An exact decimal number with DynamoDB's range and precision. See the module doc.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Number {
    coefficient: u128,
    exponent: i16,
    negative: bool,
}

/// Why a text or an arithmetic result is not a valid DynamoDB number. `Display` gives
/// DynamoDB's exact message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NumberError {
    /// The text is not a number (`NaN`, `dog`, `""`, surrounding spaces...).
    #[error("The parameter cannot be converted to a numeric value: {text}")]
    Invalid {
        /// The offending text, cut to [`ERROR_ECHO_SIZE_MAX`] bytes.
        text: String,
    },
    /// More than 38 significant digits in a parsed text.
    #[error("Attempting to store more than 38 significant digits in a Number")]
    TooManyDigits,
    /// The magnitude is above 9.99…E+125, or an arithmetic result is not exactly
    /// representable in 38 digits (DynamoDB reports both with the overflow wording).
    #[error(
        "Number overflow. Attempting to store a number with magnitude larger than supported range"
    )]
    Overflow,
    /// A non-zero magnitude below 1E-130.
    #[error(
        "Number underflow. Attempting to store a number with magnitude smaller than supported \
         range"
    )]
    Underflow,
}

/// Largest coefficient: 38 nines.
const COEFFICIENT_MAX: u128 = 10u128.pow(NUMBER_DIGITS_MAX) - 1;

impl Number {
    /// Zero.
    pub const ZERO: Number = Number {
        coefficient: 0,
        exponent: 0,
        negative: false,
    };

    /// Parses DynamoDB number text: optional sign (`+` or `-`), digits with an optional `.`
    /// (at least one digit), optional exponent `e`/`E` with optional sign and at least one
    /// digit. No spaces, no `NaN`/`Infinity`. The result is normalised.
    pub fn parse(text: &str) -> Result<Number, NumberError> {
        let scan =
            Scan::run(text.as_bytes()).ok_or_else(|| NumberError::Invalid { text: echo(text) })?;
        if scan.coefficient == 0 {
            // "0e999" is accepted as zero: the semantics doc prefers that over DynamoDB's
            // nominal-exponent quirk (§1.3 edge).
            return Ok(Number::ZERO);
        }
        if scan.digit_count > u64::from(NUMBER_DIGITS_MAX) {
            return Err(NumberError::TooManyDigits);
        }
        let digits = i64::try_from(scan.digit_count).expect("digit count <= 38");
        let leading = scan.exponent.saturating_add(digits - 1);
        check_range(leading)?;
        let exponent = i16::try_from(scan.exponent).expect("exponent within checked range");
        Ok(Number {
            coefficient: scan.coefficient,
            exponent,
            negative: scan.negative,
        })
    }

    /// Builds a number from parts, normalising and range-checking them (a coefficient with
    /// more than 38 digits after removing trailing zeros is [`NumberError::TooManyDigits`]).
    pub fn from_parts(
        negative: bool,
        coefficient: u128,
        exponent: i32,
    ) -> Result<Number, NumberError> {
        if coefficient == 0 {
            return Ok(Number::ZERO);
        }
        let (coefficient, exponent) = strip_trailing_zeros(coefficient, i64::from(exponent));
        let digits = digit_count(coefficient);
        if digits > NUMBER_DIGITS_MAX {
            return Err(NumberError::TooManyDigits);
        }
        check_range(exponent + i64::from(digits) - 1)?;
        let exponent = i16::try_from(exponent).expect("exponent within checked range");
        Ok(Number {
            coefficient,
            exponent,
            negative,
        })
    }

    /// The sign: true for negative numbers (never for zero).
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// True for zero.
    pub fn is_zero(&self) -> bool {
        self.coefficient == 0
    }

    /// The coefficient: the significant digits as an integer, without trailing zeros.
    pub fn coefficient(&self) -> u128 {
        self.coefficient
    }

    /// The exponent applied to the coefficient: value = ±coefficient × 10^exponent.
    pub fn exponent(&self) -> i32 {
        i32::from(self.exponent)
    }

    /// Number of significant digits (1 for zero).
    pub fn significant_digits(&self) -> u32 {
        digit_count(self.coefficient).max(1)
    }

    /// Exponent of the leading digit in scientific notation (0 for zero): `1234` → 3,
    /// `0.05` → -2.
    pub fn leading_exponent(&self) -> i32 {
        if self.is_zero() {
            return 0;
        }
        self.exponent() + self.significant_digits() as i32 - 1
    }

    /// The number with its sign flipped (zero stays zero).
    pub fn negate(&self) -> Number {
        if self.is_zero() {
            return *self;
        }
        Number {
            negative: !self.negative,
            ..*self
        }
    }

    /// Size in DynamoDB's item-size accounting (§2.3): `ceil(digits / 2) + 1` bytes.
    pub fn size_bytes(&self) -> u32 {
        self.significant_digits().div_ceil(2) + 1
    }

    /// Exact `self + other`, or DynamoDB's error when the result needs more than 38 digits
    /// ([`NumberError::Overflow`], as DynamoDB words it) or leaves the range.
    pub fn checked_add(&self, other: &Number) -> Result<Number, NumberError> {
        if other.is_zero() {
            return Ok(*self);
        }
        if self.is_zero() {
            return Ok(*other);
        }
        let (high, low) = if self.exponent >= other.exponent {
            (self, other)
        } else {
            (other, self)
        };
        // Align `high` to `low`'s exponent. When the shift does not fit, the exact result has
        // more than 38 digits: its last digit sits at `low.exponent` (low's last digit is
        // non-zero and high contributes only zeros there) and its magnitude is at least
        // 3.4e38 - 1e38 units of 10^low.exponent.
        let shift = u32::try_from(i32::from(high.exponent) - i32::from(low.exponent))
            .expect("high exponent >= low exponent");
        let high_aligned = 10u128
            .checked_pow(shift)
            .and_then(|scale| high.coefficient.checked_mul(scale))
            .ok_or(NumberError::Overflow)?;
        let (negative, magnitude) = if high.negative == low.negative {
            let sum = high_aligned
                .checked_add(low.coefficient)
                .ok_or(NumberError::Overflow)?;
            (high.negative, sum)
        } else if high_aligned >= low.coefficient {
            (high.negative, high_aligned - low.coefficient)
        } else {
            (low.negative, low.coefficient - high_aligned)
        };
        if magnitude == 0 {
            return Ok(Number::ZERO);
        }
        let (coefficient, exponent) = strip_trailing_zeros(magnitude, i64::from(low.exponent));
        let digits = digit_count(coefficient);
        if digits > NUMBER_DIGITS_MAX {
            return Err(NumberError::Overflow);
        }
        check_range(exponent + i64::from(digits) - 1)?;
        let exponent = i16::try_from(exponent).expect("exponent within checked range");
        Ok(Number {
            coefficient,
            exponent,
            negative,
        })
    }

    /// Exact `self - other`; errors as [`Number::checked_add`].
    pub fn checked_sub(&self, other: &Number) -> Result<Number, NumberError> {
        self.checked_add(&other.negate())
    }

    /// The value as an `i64` when it is an integer in range (used for TTL seconds, limits).
    pub fn to_i64(&self) -> Option<i64> {
        if self.exponent < 0 {
            return None;
        }
        let scale = 10u128.checked_pow(u32::try_from(self.exponent).ok()?)?;
        let magnitude = self.coefficient.checked_mul(scale)?;
        let magnitude = i128::try_from(magnitude).ok()?;
        i64::try_from(if self.negative { -magnitude } else { magnitude }).ok()
    }

    /// The integer part, rounded toward negative infinity, when it fits an `i64` (TTL compares
    /// epoch seconds with fractions).
    pub fn floor_i64(&self) -> Option<i64> {
        if self.exponent >= 0 {
            return self.to_i64();
        }
        let shift = u32::try_from(-i32::from(self.exponent)).expect("negative exponent");
        let Some(scale) = 10u128.checked_pow(shift) else {
            // |value| < 1: the floor is 0 or -1.
            return Some(if self.negative { -1 } else { 0 });
        };
        let whole = self.coefficient / scale;
        let has_fraction = !self.coefficient.is_multiple_of(scale);
        let whole = i128::try_from(whole).ok()?;
        let floor = if self.negative {
            -whole - i128::from(has_fraction)
        } else {
            whole
        };
        i64::try_from(floor).ok()
    }

    /// The raw parts in their wire form.
    fn parts(&self) -> NumberParts {
        NumberParts {
            coefficient: self.coefficient,
            exponent: self.exponent,
            negative: self.negative,
        }
    }
}

impl From<i64> for Number {
    fn from(value: i64) -> Number {
        let magnitude = u128::from(value.unsigned_abs());
        Number::from_parts(value < 0, magnitude, 0).expect("every i64 is a valid number")
    }
}

impl FromStr for Number {
    type Err = NumberError;

    fn from_str(text: &str) -> Result<Number, NumberError> {
        Number::parse(text)
    }
}

impl Default for Number {
    fn default() -> Number {
        Number::ZERO
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Number) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => compare_magnitude(self, other),
            (true, true) => compare_magnitude(other, self),
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Number {
    /// The canonical text (§1.3): plain decimal, no exponent, no `+`, no leading or trailing
    /// zeros beyond those the notation needs (`0.5`, `1000`, `-1.23`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        let digits = self.coefficient.to_string();
        let mut text = String::with_capacity(digits.len() + 8);
        if self.negative {
            text.push('-');
        }
        if self.exponent >= 0 {
            text.push_str(&digits);
            push_zeros(
                &mut text,
                usize::try_from(self.exponent).expect("non-negative"),
            );
        } else {
            let fraction = usize::try_from(-i32::from(self.exponent)).expect("positive");
            if digits.len() > fraction {
                let (whole, part) = digits.split_at(digits.len() - fraction);
                text.push_str(whole);
                text.push('.');
                text.push_str(part);
            } else {
                text.push_str("0.");
                push_zeros(&mut text, fraction - digits.len());
                text.push_str(&digits);
            }
        }
        f.pad(&text)
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Number({self})")
    }
}

/// The wire (rkyv) form of a [`Number`]: its raw parts, 19 bytes. The archived type is
/// [`ArchivedNumber`]; bytes from the network may hold parts that are not normalised, so the
/// only way back to a [`Number`] ([`ArchivedNumber::to_number`] or rkyv deserialisation)
/// re-checks them.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[rkyv(archived = ArchivedNumber, derive(Debug))]
pub struct NumberParts {
    /// Significant digits as an integer.
    pub coefficient: u128,
    /// Power of ten applied to the coefficient.
    pub exponent: i16,
    /// Sign.
    pub negative: bool,
}

impl ArchivedNumber {
    /// Converts the archived parts back to a number, checking that they are normalised and in
    /// range (they came from the network).
    pub fn to_number(&self) -> Result<Number, NumberError> {
        let number = Number::from_parts(
            self.negative,
            self.coefficient.to_native(),
            i32::from(self.exponent.to_native()),
        )?;
        let same = number.coefficient == self.coefficient.to_native()
            && number.exponent == self.exponent.to_native()
            && number.negative == self.negative;
        if !same {
            return Err(NumberError::Invalid {
                text: format!("{number} (not normalised)"),
            });
        }
        Ok(number)
    }
}

impl Archive for Number {
    type Archived = ArchivedNumber;
    type Resolver = NumberPartsResolver;

    fn resolve(&self, resolver: NumberPartsResolver, out: Place<ArchivedNumber>) {
        self.parts().resolve(resolver, out);
    }
}

impl<S: Fallible + ?Sized> Serialize<S> for Number {
    fn serialize(&self, serializer: &mut S) -> Result<NumberPartsResolver, S::Error> {
        self.parts().serialize(serializer)
    }
}

impl<D: Fallible + ?Sized> Deserialize<Number, D> for ArchivedNumber
where
    D::Error: Source,
{
    fn deserialize(&self, _deserializer: &mut D) -> Result<Number, D::Error> {
        self.to_number().map_err(D::Error::new)
    }
}

/// Result of scanning number text, before range checks.
struct Scan {
    negative: bool,
    /// Significant digits (saturated once more than 38 are seen; then only counted).
    coefficient: u128,
    /// Count of significant digits.
    digit_count: u64,
    /// Exponent of the coefficient's last digit, saturated far outside any valid range.
    exponent: i64,
}

/// Bound for saturating exponent arithmetic: far outside the valid range, far inside i64.
const EXPONENT_SATURATION: i64 = 1 << 40;

impl Scan {
    /// Scans `sign? digits ('.' digits)? (('e'|'E') sign? digits)?` with at least one mantissa
    /// digit; `None` on any syntax error. One pass, bounded by the input length.
    fn run(bytes: &[u8]) -> Option<Scan> {
        let mut scan = Scan {
            negative: false,
            coefficient: 0,
            digit_count: 0,
            exponent: 0,
        };
        let mut index = 0;
        if let Some(&sign @ (b'+' | b'-')) = bytes.first() {
            scan.negative = sign == b'-';
            index = 1;
        }
        let mut mantissa_digits = 0u64;
        let mut fraction_digits = 0i64;
        let mut pending_zeros = 0u64;
        let mut seen_point = false;
        while let Some(&byte) = bytes.get(index) {
            match byte {
                b'0'..=b'9' => {
                    mantissa_digits += 1;
                    if seen_point {
                        fraction_digits = (fraction_digits + 1).min(EXPONENT_SATURATION);
                    }
                    scan.push_digit(byte - b'0', &mut pending_zeros);
                }
                b'.' if !seen_point => seen_point = true,
                b'e' | b'E' => break,
                _ => return None,
            }
            index += 1;
        }
        if mantissa_digits == 0 {
            return None;
        }
        let written = if index < bytes.len() {
            parse_exponent(&bytes[index + 1..])?
        } else {
            0
        };
        let pending = i64::try_from(pending_zeros).unwrap_or(EXPONENT_SATURATION);
        scan.exponent = (written - fraction_digits + pending.min(EXPONENT_SATURATION))
            .clamp(-EXPONENT_SATURATION, EXPONENT_SATURATION);
        if scan.coefficient == 0 {
            scan.negative = false;
        }
        Some(scan)
    }

    /// Adds one mantissa digit. Zeros after the last non-zero digit stay pending: they become
    /// part of the coefficient only if a non-zero digit follows, else they move the exponent.
    fn push_digit(&mut self, digit: u8, pending_zeros: &mut u64) {
        if digit == 0 {
            if self.digit_count > 0 {
                *pending_zeros += 1;
            }
            return;
        }
        self.digit_count += *pending_zeros + 1;
        if self.digit_count <= u64::from(NUMBER_DIGITS_MAX) {
            let scale = 10u128.pow(u32::try_from(*pending_zeros + 1).expect("<= 38"));
            self.coefficient = self.coefficient * scale + u128::from(digit);
        } else {
            // Too many digits: keep counting for the error, keep a non-zero marker.
            self.coefficient = self.coefficient.max(1);
        }
        *pending_zeros = 0;
    }
}

/// Parses the exponent after `e`: optional sign and at least one digit, saturating.
fn parse_exponent(bytes: &[u8]) -> Option<i64> {
    let (negative, digits) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    if digits.is_empty() {
        return None;
    }
    let mut value = 0i64;
    for &byte in digits {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = (value * 10 + i64::from(byte - b'0')).min(EXPONENT_SATURATION);
    }
    Some(if negative { -value } else { value })
}

/// Checks the exponent of the leading digit against DynamoDB's range.
fn check_range(leading_exponent: i64) -> Result<(), NumberError> {
    if leading_exponent > i64::from(NUMBER_EXPONENT_MAX) {
        return Err(NumberError::Overflow);
    }
    if leading_exponent < i64::from(NUMBER_EXPONENT_MIN) {
        return Err(NumberError::Underflow);
    }
    Ok(())
}

/// Removes trailing zero digits from a non-zero coefficient, moving them to the exponent.
fn strip_trailing_zeros(mut coefficient: u128, mut exponent: i64) -> (u128, i64) {
    debug_assert!(coefficient != 0, "zero has no trailing zeros to strip");
    // Bounded: a u128 has at most 39 decimal digits.
    while coefficient.is_multiple_of(10) {
        coefficient /= 10;
        exponent += 1;
    }
    (coefficient, exponent)
}

/// Decimal digits of a coefficient (0 for zero).
fn digit_count(coefficient: u128) -> u32 {
    if coefficient == 0 {
        0
    } else {
        coefficient.ilog10() + 1
    }
}

/// Compares |a| and |b|.
fn compare_magnitude(a: &Number, b: &Number) -> Ordering {
    match (a.is_zero(), b.is_zero()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        (false, false) => {}
    }
    let by_exponent = a.leading_exponent().cmp(&b.leading_exponent());
    if by_exponent != Ordering::Equal {
        return by_exponent;
    }
    // Same leading exponent: pad the shorter coefficient to the longer one's digit count.
    let (digits_a, digits_b) = (digit_count(a.coefficient), digit_count(b.coefficient));
    let width = digits_a.max(digits_b);
    let padded_a = a.coefficient * 10u128.pow(width - digits_a);
    let padded_b = b.coefficient * 10u128.pow(width - digits_b);
    padded_a.cmp(&padded_b)
}

fn push_zeros(text: &mut String, count: usize) {
    text.extend(std::iter::repeat_n('0', count));
}

/// Cuts a text echoed into an error message to [`ERROR_ECHO_SIZE_MAX`] bytes on a char boundary.
pub(crate) fn echo(text: &str) -> String {
    if text.len() <= ERROR_ECHO_SIZE_MAX {
        return text.to_owned();
    }
    let mut end = ERROR_ECHO_SIZE_MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

// Two coefficients add without overflowing a u128 (checked_add aligns at most one of them).
const _: () = assert!(COEFFICIENT_MAX <= u128::MAX / 2);

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str) -> String {
        Number::parse(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .to_string()
    }

    #[test]
    fn normalisation_matches_the_semantics_doc() {
        let cases = [
            ("1.0", "1"),
            ("1.10", "1.1"),
            ("007", "7"),
            ("1e3", "1000"),
            ("1.5e2", "150"),
            ("123e-2", "1.23"),
            ("0e5", "0"),
            ("-0", "0"),
            ("-0.000", "0"),
            (".5", "0.5"),
            ("+3", "3"),
            ("-7.1234", "-7.1234"),
            ("-17e5", "-1700000"),
            (".123", "0.123"),
            ("0001.23", "1.23"),
            ("1e+5", "100000"),
            ("1E-20", "0.00000000000000000001"),
            ("5.", "5"),
            ("100", "100"),
            ("0.0e126", "0"),
            ("0e126", "0"),
            ("120.0300", "120.03"),
            ("-0.5", "-0.5"),
        ];
        for (input, expected) in cases {
            assert_eq!(canonical(input), expected, "input {input}");
        }
        let big = canonical("1e125");
        assert_eq!(big.len(), 126);
        assert!(big.starts_with('1') && big[1..].bytes().all(|b| b == b'0'));
    }

    #[test]
    fn rejected_texts_carry_dynamodb_messages() {
        let invalid = [
            "NaN",
            "Infinity",
            "-Infinity",
            "dog",
            " 1",
            "1 ",
            "",
            "+",
            "-",
            ".",
            "e5",
            "1e",
            "1e+",
            "1..2",
            "1.2.3",
            "0x10",
            "1e5.5",
            "--1",
            "1,000",
            "١",
        ];
        for text in invalid {
            let err = Number::parse(text).expect_err(text);
            assert_eq!(
                err.to_string(),
                format!("The parameter cannot be converted to a numeric value: {text}")
            );
        }
        let cases = [
            (
                "123456789012345678901234567890123456789",
                NumberError::TooManyDigits,
            ),
            (
                "1.00000000000000000000000000000000000001",
                NumberError::TooManyDigits,
            ),
            ("1e126", NumberError::Overflow),
            ("10e125", NumberError::Overflow),
            ("-1e126", NumberError::Overflow),
            ("1e-131", NumberError::Underflow),
            ("0.1e-130", NumberError::Underflow),
            ("1e99999999999999999999", NumberError::Overflow),
            ("1e-99999999999999999999", NumberError::Underflow),
        ];
        for (text, expected) in cases {
            assert_eq!(Number::parse(text), Err(expected), "{text}");
        }
        assert_eq!(
            NumberError::TooManyDigits.to_string(),
            "Attempting to store more than 38 significant digits in a Number"
        );
        assert!(
            NumberError::Overflow
                .to_string()
                .starts_with("Number overflow.")
        );
        assert!(
            NumberError::Underflow
                .to_string()
                .starts_with("Number underflow.")
        );
    }

    #[test]
    fn range_edges_are_accepted() {
        let max = "9.9999999999999999999999999999999999999E+125";
        assert_eq!(Number::parse(max).unwrap().significant_digits(), 38);
        assert!(Number::parse("-9.9999999999999999999999999999999999999E+125").is_ok());
        assert!(Number::parse("1E-130").is_ok());
        assert!(Number::parse("1.5E-130").is_ok());
        assert!(Number::parse("12345678901234567890123456789012345678").is_ok());
        // Trailing and leading zeros are not significant.
        assert!(Number::parse("1234567890123456789012345678901234567800000").is_ok());
        assert!(Number::parse("0.000012345678901234567890123456789012345678").is_ok());
        let zeros = format!("0.{}1", "0".repeat(100));
        assert_eq!(Number::parse(&zeros).unwrap().leading_exponent(), -101);
    }

    #[test]
    fn equality_and_order_are_numeric() {
        let n = |t: &str| Number::parse(t).unwrap();
        assert_eq!(n("1000"), n("1e3"));
        assert_eq!(n("1"), n("1.0"));
        assert_eq!(n("-0"), n("0"));
        let ordered = [
            "-1e125", "-100", "-99.5", "-1", "-0.001", "0", "1e-130", "0.5", "1", "1.5", "9", "10",
            "100", "1e125",
        ];
        for pair in ordered.windows(2) {
            assert!(n(pair[0]) < n(pair[1]), "{} < {}", pair[0], pair[1]);
            assert!(n(pair[1]) > n(pair[0]));
        }
    }

    #[test]
    fn arithmetic_is_exact_and_checked() {
        let n = |t: &str| Number::parse(t).unwrap();
        let add = |a: &str, b: &str| n(a).checked_add(&n(b));
        assert_eq!(add("0.1", "0.2").unwrap().to_string(), "0.3");
        assert_eq!(add("1", "-1").unwrap(), Number::ZERO);
        assert_eq!(add("-5", "3").unwrap().to_string(), "-2");
        assert_eq!(
            add("1e20", "1").unwrap().to_string(),
            "100000000000000000001"
        );
        assert_eq!(add("9e125", "9e125"), Err(NumberError::Overflow));
        assert_eq!(add("1e50", "1"), Err(NumberError::Overflow));
        assert_eq!(add("1.1e-130", "-1e-130"), Err(NumberError::Underflow));
        let nines = "99999999999999999999999999999999999999";
        assert_eq!(
            add(nines, "1").unwrap().to_string(),
            format!("1{}", "0".repeat(38))
        );
        assert_eq!(add(nines, "2"), Err(NumberError::Overflow));
        assert_eq!(n("10").checked_sub(&n("0.5")).unwrap().to_string(), "9.5");
        assert_eq!(n("1e40").checked_sub(&n("1e40")).unwrap(), Number::ZERO);
        assert_eq!(n("1e40").checked_sub(&n("1")), Err(NumberError::Overflow));
        assert_eq!(n("5").checked_sub(&n("0")).unwrap().to_string(), "5");
        assert_eq!(n("0").checked_sub(&n("5")).unwrap().to_string(), "-5");
    }

    #[test]
    fn sizes_and_integer_views() {
        let n = |t: &str| Number::parse(t).unwrap();
        assert_eq!(n("0").size_bytes(), 2);
        assert_eq!(n("12").size_bytes(), 2);
        assert_eq!(n("123").size_bytes(), 3);
        assert_eq!(n("1e100").size_bytes(), 2);
        assert_eq!(n("-42").to_i64(), Some(-42));
        assert_eq!(n("4.2").to_i64(), None);
        assert_eq!(n("4.2").floor_i64(), Some(4));
        assert_eq!(n("-4.2").floor_i64(), Some(-5));
        assert_eq!(n("-1e-100").floor_i64(), Some(-1));
        assert_eq!(n("1e30").to_i64(), None);
        assert_eq!(Number::from(i64::MIN).to_string(), i64::MIN.to_string());
    }

    #[test]
    fn archived_parts_are_rechecked() {
        let number = Number::parse("-12.5").unwrap();
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&number).unwrap();
        assert_eq!(bytes.len(), 19);
        let archived = rkyv::access::<ArchivedNumber, rkyv::rancor::Error>(&bytes).unwrap();
        assert_eq!(archived.to_number().unwrap(), number);
        let back: Number = rkyv::deserialize::<Number, rkyv::rancor::Error>(archived).unwrap();
        assert_eq!(back, number);
        // Not normalised: a trailing zero in the coefficient.
        let parts = NumberParts {
            coefficient: 1250,
            exponent: -2,
            negative: true,
        };
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&parts).unwrap();
        let archived = rkyv::access::<ArchivedNumber, rkyv::rancor::Error>(&bytes).unwrap();
        assert!(archived.to_number().is_err());
        assert!(rkyv::deserialize::<Number, rkyv::rancor::Error>(archived).is_err());
    }

    mod model {
        //! Property tests against an exact big-integer model: every number is
        //! `coefficient × 10^(exponent + SCALE)` as a `BigInt`, which represents every valid
        //! number and every sum of two exactly.
        use super::super::*;
        use crate::value::tests::number_strategy;
        use num_bigint::BigInt;
        use proptest::prelude::*;

        const SCALE: i32 = 400;

        fn scaled(n: &Number) -> BigInt {
            let magnitude = BigInt::from(n.coefficient())
                * BigInt::from(10).pow(u32::try_from(n.exponent() + SCALE).unwrap());
            if n.is_negative() {
                -magnitude
            } else {
                magnitude
            }
        }

        /// What DynamoDB says about an exact value (scaled): fine, or the error, with
        /// arithmetic's wording (too many digits reads as overflow).
        fn classify(value: &BigInt, digits_error: NumberError) -> Result<(), NumberError> {
            if *value == BigInt::from(0) {
                return Ok(());
            }
            let text = value.magnitude().to_string();
            let significant = text.trim_end_matches('0').len();
            let leading = text.len() as i32 - 1 - SCALE;
            if significant > 38 {
                return Err(digits_error);
            }
            if leading > NUMBER_EXPONENT_MAX {
                return Err(NumberError::Overflow);
            }
            if leading < NUMBER_EXPONENT_MIN {
                return Err(NumberError::Underflow);
            }
            Ok(())
        }

        /// Pairs of numbers, half of them with nearby exponents so that sums are exact.
        fn pair() -> impl Strategy<Value = (Number, Number)> {
            let near = (
                number_strategy(),
                0u128..10u128.pow(38),
                -3i32..=3,
                any::<bool>(),
            )
                .prop_filter_map("in range", |(a, coefficient, delta, negative)| {
                    let b = Number::from_parts(negative, coefficient, a.exponent() + delta).ok()?;
                    Some((a, b))
                });
            let small = (-1000i64..1000, -1000i64..1000)
                .prop_map(|(a, b)| (Number::from(a), Number::from(b)));
            prop_oneof![(number_strategy(), number_strategy()), near, small]
        }

        /// Number texts in every accepted spelling, including too many digits and huge
        /// exponents.
        fn number_text() -> impl Strategy<Value = String> {
            (
                prop_oneof![Just(""), Just("+"), Just("-")],
                "[0-9]{0,42}",
                proptest::option::of("[0-9]{0,42}"),
                proptest::option::of((
                    prop_oneof![Just("e"), Just("E")],
                    prop_oneof![Just(""), Just("+"), Just("-")],
                    0u32..300,
                )),
            )
                .prop_filter("a mantissa digit", |(_, whole, fraction, _)| {
                    !whole.is_empty() || fraction.as_ref().is_some_and(|f| !f.is_empty())
                })
                .prop_map(|(sign, whole, fraction, exponent)| {
                    let mut text = format!("{sign}{whole}");
                    if let Some(fraction) = fraction {
                        text.push('.');
                        text.push_str(&fraction);
                    }
                    if let Some((e, exponent_sign, value)) = exponent {
                        text.push_str(&format!("{e}{exponent_sign}{value}"));
                    }
                    text
                })
        }

        /// The model's reading of a text produced by `number_text`.
        fn model_parse(text: &str) -> Result<BigInt, NumberError> {
            let (negative, rest) = match text.as_bytes()[0] {
                b'-' => (true, &text[1..]),
                b'+' => (false, &text[1..]),
                _ => (false, text),
            };
            let (mantissa, exponent) = match rest.find(['e', 'E']) {
                Some(at) => (&rest[..at], rest[at + 1..].parse::<i32>().unwrap()),
                None => (rest, 0),
            };
            let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
            let digits = format!("{whole}{fraction}");
            let trimmed = digits.trim_start_matches('0');
            if trimmed.is_empty() {
                return Ok(BigInt::from(0));
            }
            if trimmed.trim_end_matches('0').len() > 38 {
                return Err(NumberError::TooManyDigits);
            }
            let power = exponent - fraction.len() as i32 + SCALE;
            let magnitude = trimmed.parse::<BigInt>().unwrap() * BigInt::from(10).pow(power as u32);
            let value = if negative { -magnitude } else { magnitude };
            classify(&value, NumberError::TooManyDigits).map(|()| value)
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

            #[test]
            fn arbitrary_text_never_panics(text in "[-+.eE0-9 a-z\\x00¿]{0,60}") {
                if let Ok(number) = Number::parse(&text) {
                    prop_assert_eq!(Number::parse(&number.to_string()), Ok(number));
                }
            }

            #[test]
            fn parse_matches_the_model(text in number_text()) {
                let expected = model_parse(&text);
                match Number::parse(&text) {
                    Ok(number) => {
                        prop_assert_eq!(Ok(scaled(&number)), expected);
                        let canonical = number.to_string();
                        prop_assert_eq!(Number::parse(&canonical), Ok(number));
                        let shape = canonical.strip_prefix('-').unwrap_or(&canonical);
                        prop_assert!(!shape.contains(['e', 'E', '+']));
                        prop_assert!(shape == "0" || !shape.starts_with("00"));
                        if let Some((whole, fraction)) = shape.split_once('.') {
                            prop_assert!(!fraction.ends_with('0') && !fraction.is_empty());
                            prop_assert!(whole == "0" || !whole.starts_with('0'));
                        } else {
                            prop_assert!(shape == "0" || !shape.starts_with('0'));
                        }
                    }
                    Err(error) => prop_assert_eq!(Err(error), expected.map(|_| ())),
                }
            }

            #[test]
            fn arithmetic_matches_the_model((a, b) in pair()) {
                let sum = scaled(&a) + scaled(&b);
                match a.checked_add(&b) {
                    Ok(result) => {
                        prop_assert_eq!(classify(&sum, NumberError::Overflow), Ok(()));
                        prop_assert_eq!(scaled(&result), sum);
                    }
                    Err(error) => {
                        prop_assert_eq!(Err(error), classify(&sum, NumberError::Overflow))
                    }
                }
                let difference = scaled(&a) - scaled(&b);
                match a.checked_sub(&b) {
                    Ok(result) => prop_assert_eq!(scaled(&result), difference),
                    Err(error) => {
                        prop_assert_eq!(Err(error), classify(&difference, NumberError::Overflow))
                    }
                }
            }

            #[test]
            fn order_and_equality_match_the_model((a, b) in pair()) {
                prop_assert_eq!(a.cmp(&b), scaled(&a).cmp(&scaled(&b)));
                prop_assert_eq!(a == b, scaled(&a) == scaled(&b));
            }

            #[test]
            fn every_spelling_normalises_to_one_value(
                number in number_strategy(),
                extra in 0usize..5,
            ) {
                // coefficient followed by `extra` zeros, exponent lowered to match.
                let sign = if number.is_negative() { "-" } else { "" };
                let text = format!(
                    "{sign}{}{}e{}",
                    number.coefficient(),
                    "0".repeat(extra),
                    number.exponent() - extra as i32
                );
                prop_assert_eq!(Number::parse(&text), Ok(number));
                let back = Number::from_parts(
                    number.is_negative(),
                    number.coefficient(),
                    number.exponent(),
                );
                prop_assert_eq!(back, Ok(number));
            }
        }
    }
}

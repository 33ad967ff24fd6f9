//! Exact decimal parsing. Money enters as text (from the wire or from the caller) and must
//! never be rounded: input that does not fit `Decimal` exactly is an error, not an approximation.

use rust_decimal::Decimal;

/// Largest exponent magnitude worth expanding; anything beyond cannot fit 28 digits anyway.
const MAX_EXPONENT: i64 = 64;

/// Why a number was refused. The caller adds the field name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    #[error("'{0}' is not a decimal number")]
    Malformed(String),
    #[error("'{0}' does not fit a 96-bit decimal with at most 28 fractional digits exactly")]
    OutOfRange(String),
}

/// Parses plain (`"0.00100000"`, `"-12"`) or scientific (`"1.5E-7"`) notation exactly.
/// Trailing zeros are kept (they carry the venue's precision) unless they alone make the
/// value exceed 28 fractional digits, in which case dropping them loses nothing.
pub fn parse_decimal(text: &str) -> Result<Decimal, DecimalError> {
    match plain_fast(text.as_bytes()) {
        Some(value) => Ok(value),
        None => parse_general(text),
    }
}

fn parse_general(text: &str) -> Result<Decimal, DecimalError> {
    let malformed = || DecimalError::Malformed(text.to_owned());
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > 256 {
        return Err(malformed());
    }
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => {
            let exponent: i64 = text[at + 1..].parse().map_err(|_| malformed())?;
            (&text[..at], exponent)
        }
        None => (text, 0),
    };
    let (negative, digits) = match mantissa.as_bytes().first() {
        Some(b'-') => (true, &mantissa[1..]),
        Some(b'+') => (false, &mantissa[1..]),
        _ => (false, mantissa),
    };
    let (int_part, frac_part) = match digits.split_once('.') {
        Some((i, f)) => (i, f),
        None => (digits, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty())
        || !all_digits(int_part)
        || !all_digits(frac_part)
    {
        return Err(malformed());
    }
    if exponent.abs() > MAX_EXPONENT {
        return Err(DecimalError::OutOfRange(text.to_owned()));
    }
    // Move the decimal point by `exponent` on the digit string, then parse exactly.
    let mut all =
        String::with_capacity(int_part.len() + frac_part.len() + MAX_EXPONENT as usize + 2);
    all.push_str(int_part);
    all.push_str(frac_part);
    let mut point = int_part.len() as i64 + exponent;
    if point < 0 {
        all.insert_str(0, &"0".repeat((-point) as usize));
        point = 0;
    }
    while (all.len() as i64) < point {
        all.push('0');
    }
    let point = point as usize;
    let (int_digits, frac_digits) = all.split_at(point);
    let int_digits = int_digits.trim_start_matches('0');
    let mut frac_digits = frac_digits;
    if frac_digits.len() > 28 {
        let significant = frac_digits.trim_end_matches('0').len();
        frac_digits = &frac_digits[..significant.max(28)];
    }
    let mut plain = String::with_capacity(all.len() + 3);
    if negative {
        plain.push('-');
    }
    plain.push_str(if int_digits.is_empty() {
        "0"
    } else {
        int_digits
    });
    if !frac_digits.is_empty() {
        plain.push('.');
        plain.push_str(frac_digits);
    }
    Decimal::from_str_exact(&plain).map_err(|_| DecimalError::OutOfRange(text.to_owned()))
}

/// The wire's usual form, `-?digits[.digits]` with at most 28 digits, read straight into the
/// mantissa (every such value fits 96 bits); anything else takes the general path.
fn plain_fast(bytes: &[u8]) -> Option<Decimal> {
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, bytes),
    };
    if digits.first().is_none_or(|b| !b.is_ascii_digit()) || digits.len() > 29 {
        return None;
    }
    let mut mantissa: i128 = 0;
    let mut scale: Option<u32> = None;
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + i128::from(b - b'0');
                scale = scale.map(|s| s + 1);
            }
            b'.' if scale.is_none() => scale = Some(0),
            _ => return None,
        }
    }
    let scale = match scale {
        Some(0) => return None, // "1.": the general path decides
        Some(s) => s,
        None => 0,
    };
    if digits.len() - usize::from(scale > 0) > 28 {
        return None;
    }
    Decimal::try_from_i128_with_scale(if negative { -mantissa } else { mantissa }, scale).ok()
}

/// Room for any `Decimal` as text: a sign, 29 digits, a point and a leading zero.
pub const TEXT_MAX: usize = 32;

/// `value` as `to_string()` writes it (every trailing zero kept), into `buf` without the
/// formatting machinery or an allocation: money is turned into Python `Decimal`s through text
/// once per price and quantity a reader touches.
pub fn write_decimal(value: Decimal, buf: &mut [u8; TEXT_MAX]) -> &str {
    let scale = value.scale() as usize;
    let mut at = buf.len();
    let mantissa = value.mantissa().unsigned_abs();
    // Prices and quantities fit 64 bits almost always; 128-bit division is far slower.
    let (mut small, mut wide) = match u64::try_from(mantissa) {
        Ok(small) => (small, None),
        Err(_) => (0, Some(mantissa)),
    };
    let mut written = 0;
    loop {
        if written == scale && scale > 0 {
            at -= 1;
            buf[at] = b'.';
        }
        let (digit, rest) = match wide.as_mut() {
            None => {
                let digit = (small % 10) as u8;
                small /= 10;
                (digit, small == 0)
            }
            Some(w) => {
                let digit = (*w % 10) as u8;
                *w /= 10;
                (digit, *w == 0)
            }
        };
        at -= 1;
        buf[at] = b'0' + digit;
        written += 1;
        if rest && written > scale {
            break;
        }
    }
    if value.is_sign_negative() {
        at -= 1;
        buf[at] = b'-';
    }
    std::str::from_utf8(&buf[at..]).expect("ASCII digits")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly_or_refuses() {
        let ok = [
            // case 0: venue strings keep their trailing zeros
            ("0.00100000", "0.00100000"),
            // case 1: 18 fractional digits survive
            ("0.123456789012345678", "0.123456789012345678"),
            // case 2: 28 significant digits, large
            (
                "1234567890123456789012345678",
                "1234567890123456789012345678",
            ),
            // case 3: the largest representable value
            (
                "79228162514264337593543950335",
                "79228162514264337593543950335",
            ),
            // case 4: scientific notation as Python's str(Decimal) writes it
            ("1.5E-7", "0.00000015"),
            ("1E+3", "1000"),
            ("-2.50e2", "-250"),
            // case 5: zeros beyond 28 fractional digits carry no value
            (
                "1.000000000000000000000000000000",
                "1.0000000000000000000000000000",
            ),
            ("+7", "7"),
            (".5", "0.5"),
        ];
        for (input, want) in ok {
            assert_eq!(parse_decimal(input).unwrap().to_string(), want, "{input}");
        }
        let malformed = [
            "", "abc", "1.2.3", "NaN", "Infinity", "1e", "--1", "1_000", " 1", "0x10", ".",
        ];
        for input in malformed {
            assert!(
                matches!(parse_decimal(input), Err(DecimalError::Malformed(_))),
                "{input}"
            );
        }
        let out_of_range = [
            "79228162514264337593543950336",
            "1e29",
            "1e-29",
            "0.00000000000000000000000000001",
            "1e999",
        ];
        for input in out_of_range {
            assert!(
                matches!(parse_decimal(input), Err(DecimalError::OutOfRange(_))),
                "{input}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn fast_path_agrees_with_the_general_one(text in "-?[0-9]{1,30}(\\.[0-9]{0,30})?") {
            if let Some(fast) = plain_fast(text.as_bytes()) {
                let general = parse_general(&text).unwrap();
                proptest::prop_assert_eq!(fast, general);
                proptest::prop_assert_eq!(fast.to_string(), general.to_string());
            }
        }

        #[test]
        fn round_trips_any_decimal(mantissa in proptest::num::i128::ANY, scale in 0u32..=28) {
            let m = mantissa % 79_228_162_514_264_337_593_543_950_335i128;
            let value = Decimal::from_i128_with_scale(m, scale);
            let text = value.to_string();
            let back = parse_decimal(&text).unwrap();
            proptest::prop_assert_eq!(back, value);
            proptest::prop_assert_eq!(back.to_string(), text);
        }

        #[test]
        fn writes_what_to_string_writes(mantissa in proptest::num::i128::ANY, scale in 0u32..=28, small in proptest::num::i64::ANY) {
            let m = mantissa % 79_228_162_514_264_337_593_543_950_335i128;
            for value in [Decimal::from_i128_with_scale(m, scale), Decimal::new(small, scale)] {
                let mut buf = [0; TEXT_MAX];
                proptest::prop_assert_eq!(write_decimal(value, &mut buf), value.to_string());
                let mut buf = [0; TEXT_MAX];
                proptest::prop_assert_eq!(write_decimal(-value, &mut buf), (-value).to_string());
            }
        }
    }

    #[test]
    fn writes_the_edges_as_to_string_does() {
        for text in [
            "0",
            "0.0",
            "0.00000000",
            "-1",
            "1",
            "0.01234",
            "65432.10",
            "100",
            "-0.5",
            "79228162514264337593543950335",
            "-79228162514264337593543950335",
            "0.0000000000000000000000000001",
            "7.9228162514264337593543950335",
        ] {
            let value = parse_decimal(text).unwrap();
            let mut buf = [0; TEXT_MAX];
            assert_eq!(write_decimal(value, &mut buf), value.to_string(), "{text}");
        }
        let negative_zero = -Decimal::new(0, 2);
        let mut buf = [0; TEXT_MAX];
        assert_eq!(
            write_decimal(negative_zero, &mut buf),
            negative_zero.to_string()
        );
    }
}

//! Kubernetes resource quantities (`"500m"`, `"1.5"`, `"2Gi"`, `"512M"`, `"1e3"`), parsed into
//! exact CPU millicores and memory bytes, and produced back in canonical form. Nomad's MHz and MB
//! are derived from the same values.

use crate::error::Error;

/// CPU in millicores (`"500m"` = 500, `"2"` = 2000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Cpu(pub u64);

/// Memory in bytes (`"1Ki"` = 1024, `"1k"` = 1000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Memory(pub u64);

/// A quantity as an exact rational `mantissa * 10^exp10 * 2^exp2`, before it is scaled.
#[derive(Debug, Clone, Copy)]
struct Parsed {
    digits: u128,
    exp10: i32,
    exp2: u32,
}

fn bad(field: &str, text: &str, why: &str) -> Error {
    Error::InvalidInput { field: field.to_owned(), problem: format!("{text:?} is not a valid quantity: {why}") }
}

fn parse(field: &str, text: &str) -> Result<Parsed, Error> {
    let s = text.trim();
    if s.is_empty() {
        return Err(bad(field, text, "it is empty"));
    }
    if s.starts_with('-') {
        return Err(bad(field, text, "negative quantities are not allowed here"));
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    let num_end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (number, suffix) = s.split_at(num_end);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return Err(bad(field, text, "expected a number such as 500m, 1.5, 2Gi"));
    }
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    let mut digits: u128 = 0;
    for c in int_part.chars().chain(frac_part.chars()) {
        digits = digits
            .checked_mul(10)
            .and_then(|d| d.checked_add(u128::from(c as u8 - b'0')))
            .ok_or_else(|| bad(field, text, "too large"))?;
    }
    let mut exp10 = -(frac_part.len() as i32);
    let mut exp2 = 0;
    match suffix {
        "" => {}
        "m" => exp10 -= 3,
        "k" => exp10 += 3,
        "M" => exp10 += 6,
        "G" => exp10 += 9,
        "T" => exp10 += 12,
        "P" => exp10 += 15,
        "E" => exp10 += 18,
        "Ki" => exp2 = 10,
        "Mi" => exp2 = 20,
        "Gi" => exp2 = 30,
        "Ti" => exp2 = 40,
        "Pi" => exp2 = 50,
        "Ei" => exp2 = 60,
        s if s.starts_with(['e', 'E']) => {
            let e: i32 = s[1..].parse().map_err(|_| bad(field, text, "bad exponent"))?;
            if !(-30..=30).contains(&e) {
                return Err(bad(field, text, "exponent out of range"));
            }
            exp10 += e;
        }
        _ => return Err(bad(field, text, "unknown suffix (use m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or eN)")),
    }
    Ok(Parsed { digits, exp10, exp2 })
}

/// `value * 10^exp10 * 2^exp2 * 10^scale`, rounded up to an integer (Kubernetes rounds up when
/// a quantity is finer than the unit asked for).
fn scaled(field: &str, text: &str, p: Parsed, scale: i32) -> Result<u64, Error> {
    let too_large = || bad(field, text, "too large");
    let mut v = p.digits.checked_shl(p.exp2).filter(|v| v >> p.exp2 == p.digits).ok_or_else(too_large)?;
    let e = p.exp10 + scale;
    if e >= 0 {
        for _ in 0..e {
            v = v.checked_mul(10).ok_or_else(too_large)?;
        }
    } else {
        let mut div: u128 = 1;
        for _ in 0..(-e) {
            div = div.saturating_mul(10);
        }
        v = v.div_ceil(div);
    }
    u64::try_from(v).map_err(|_| too_large())
}

impl Cpu {
    /// Parse a CPU quantity (`"500m"`, `"1.5"`, `"2"`, `"1e3"`).
    pub fn parse(text: &str) -> Result<Cpu, Error> {
        let p = parse("cpu", text)?;
        if p.exp2 != 0 {
            return Err(bad("cpu", text, "binary suffixes (Ki, Mi, ...) are for memory"));
        }
        scaled("cpu", text, p, 3).map(Cpu)
    }

    /// Millicores.
    pub fn millis(self) -> u64 {
        self.0
    }

    /// Canonical Kubernetes form: whole cores when exact (`"2"`), else millicores (`"1500m"`).
    pub fn to_quantity(self) -> String {
        if self.0.is_multiple_of(1000) {
            (self.0 / 1000).to_string()
        } else {
            format!("{}m", self.0)
        }
    }

    /// Nomad CPU shares in MHz, given the MHz of one core (Nomad's `cpu.totalcompute / cores`;
    /// 1000 is a common assumption when unknown). Never less than Nomad's minimum of 1.
    pub fn to_mhz(self, mhz_per_core: u64) -> u64 {
        (self.0.saturating_mul(mhz_per_core)).div_ceil(1000).max(1)
    }
}

impl Memory {
    /// Parse a memory quantity (`"2Gi"`, `"512M"`, `"1e9"`, `"128974848"`).
    pub fn parse(text: &str) -> Result<Memory, Error> {
        let p = parse("memory", text)?;
        scaled("memory", text, p, 0).map(Memory)
    }

    /// Bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }

    /// Canonical Kubernetes form: the shortest of the largest exact binary suffix (`2Gi`) and the
    /// largest exact decimal suffix (`512M`), else plain bytes.
    pub fn to_quantity(self) -> String {
        let v = self.0;
        if v == 0 {
            return "0".into();
        }
        let binary = [(60, "Ei"), (50, "Pi"), (40, "Ti"), (30, "Gi"), (20, "Mi"), (10, "Ki")]
            .into_iter()
            .find(|(shift, _)| v.is_multiple_of(1u64 << shift))
            .map(|(shift, suffix)| format!("{}{suffix}", v >> shift));
        let decimal = [(18, "E"), (15, "P"), (12, "T"), (9, "G"), (6, "M"), (3, "k")]
            .into_iter()
            .find(|(pow, _)| v.is_multiple_of(10u64.pow(*pow)))
            .map(|(pow, suffix)| format!("{}{suffix}", v / 10u64.pow(pow)));
        [binary, decimal].into_iter().flatten().min_by_key(String::len).unwrap_or_else(|| v.to_string())
    }

    /// Nomad memory in MB (MiB, as Nomad means it), rounded up, at least 1.
    pub fn to_nomad_mb(self) -> u64 {
        self.0.div_ceil(1 << 20).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_forms() {
        assert_eq!(Cpu::parse("500m").ok(), Some(Cpu(500)));
        assert_eq!(Cpu::parse("1.5").ok(), Some(Cpu(1500)));
        assert_eq!(Cpu::parse("2").ok(), Some(Cpu(2000)));
        assert_eq!(Cpu::parse("1e3").ok(), Some(Cpu(1_000_000)));
        assert_eq!(Cpu::parse("0.0001").ok(), Some(Cpu(1)), "rounds up");
        assert_eq!(Cpu(1500).to_quantity(), "1500m");
        assert_eq!(Cpu(2000).to_quantity(), "2");
        assert_eq!(Cpu(500).to_mhz(1000), 500);
        assert!(Cpu::parse("1Gi").is_err());
    }

    #[test]
    fn memory_forms() {
        assert_eq!(Memory::parse("2Gi").ok(), Some(Memory(2 << 30)));
        assert_eq!(Memory::parse("512M").ok(), Some(Memory(512_000_000)));
        assert_eq!(Memory::parse("1e3").ok(), Some(Memory(1000)));
        assert_eq!(Memory::parse("1.5Gi").ok(), Some(Memory(3 << 29)));
        assert_eq!(Memory::parse("128974848").ok(), Some(Memory(128_974_848)));
        assert_eq!(Memory(2 << 30).to_quantity(), "2Gi");
        assert_eq!(Memory(512_000_000).to_quantity(), "512M");
        assert_eq!(Memory(256 << 20).to_nomad_mb(), 256);
        assert_eq!(Memory::parse("512M").map(|m| m.to_nomad_mb()).ok(), Some(489));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for s in ["", "-1", "abc", "1.2.3", "1Xi", "1e99", "99999999999999999999999999999999999999999", ".", "1e"] {
            assert!(Memory::parse(s).is_err(), "{s}");
            assert!(Cpu::parse(s).is_err(), "{s}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_is_refused_without_panicking(s in "[+-]?[0-9.]{0,45}([eE][+-]?[0-9]{0,4}|[kMGTPE]i?|m)?|\\PC{0,20}") {
            let _ = Memory::parse(&s);
            let _ = Cpu::parse(&s);
        }

        #[test]
        fn canonical_forms_parse_back_to_the_same_value(n in 0u64..(1 << 50)) {
            proptest::prop_assert_eq!(Memory::parse(&Memory(n).to_quantity()).ok(), Some(Memory(n)));
            proptest::prop_assert_eq!(Cpu::parse(&Cpu(n).to_quantity()).ok(), Some(Cpu(n)));
        }
    }
}

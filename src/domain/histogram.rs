//! The prices in force in one series cell as a histogram (price in thousandths → number of
//! stations), its compact encoding, and the percentiles read from it.
//!
//! A histogram is a list of `(price, count)` sorted by price, distinct prices, every count
//! positive. Sum, count, min, max and any percentile follow exactly from it, and an import moves
//! it by adding and removing prices: the stored band (10th and 90th percentiles) stays equal to
//! a full recomputation without reading the history again.
//!
//! Encoding: for each entry in price order, the varint (LEB128) of the zigzagged difference with
//! the previous price (0 before the first), then the varint of the count. A national cell of
//! ~600 distinct prices takes about 1.2 KB; a département's of ~60, about 120 bytes.

/// A cell's prices: `(price, count)`, sorted by price, counts positive.
pub type Histogram = Vec<(i32, i32)>;

/// Appends the encoding of `hist` to `out`.
pub fn encode(hist: &[(i32, i32)], out: &mut Vec<u8>) {
    let mut prev = 0i64;
    for &(price, count) in hist {
        let d = i64::from(price) - prev;
        put_varint(out, zigzag(d));
        put_varint(out, u64::from(count.unsigned_abs()));
        prev = i64::from(price);
    }
}

/// The encoding of `hist` as a new buffer.
pub fn to_bytes(hist: &[(i32, i32)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hist.len() * 2 + 1);
    encode(hist, &mut out);
    out
}

/// Reads an encoding back; `None` when the bytes are not one (truncated, out of range, or not
/// strictly increasing prices with positive counts).
pub fn decode(mut bytes: &[u8]) -> Option<Histogram> {
    let mut out = Vec::with_capacity(bytes.len() / 2);
    let mut prev = 0i64;
    while !bytes.is_empty() {
        let d = unzigzag(take_varint(&mut bytes)?);
        let price = prev.checked_add(d)?;
        let count = take_varint(&mut bytes)?;
        if !out.is_empty() && d <= 0 || count == 0 {
            return None;
        }
        out.push((i32::try_from(price).ok()?, i32::try_from(count).ok()?));
        prev = price;
    }
    Some(out)
}

/// A signed difference as an unsigned one, small for small values of either sign.
pub(crate) fn zigzag(d: i64) -> u64 {
    ((d << 1) ^ (d >> 63)) as u64
}

/// The inverse of [`zigzag`].
pub(crate) fn unzigzag(z: u64) -> i64 {
    (z >> 1) as i64 ^ -((z & 1) as i64)
}

/// Appends `v` as a varint (LEB128): 7 bits a byte, low bits first.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a varint from the front of `bytes` (`None`: truncated or over 64 bits).
pub(crate) fn take_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Adds `count` stations at `price` (negative: removes them), keeping the order; an entry
/// whose count reaches 0 goes. Counts may go negative here (moves not applied yet).
pub fn add(hist: &mut Histogram, price: i32, count: i32) {
    match hist.binary_search_by_key(&price, |e| e.0) {
        Ok(i) => {
            hist[i].1 += count;
            if hist[i].1 == 0 {
                hist.remove(i);
            }
        }
        Err(i) if count != 0 => hist.insert(i, (price, count)),
        Err(_) => {}
    }
}

/// `hist` plus the moves `moves` (sorted by price, signed counts); `None` when a count would go
/// negative (the moves removed a price the cell did not hold).
pub fn apply(hist: &[(i32, i32)], moves: &[(i32, i32)]) -> Option<Histogram> {
    let mut out = Vec::with_capacity(hist.len() + moves.len());
    let (mut i, mut j) = (0, 0);
    while i < hist.len() || j < moves.len() {
        let (price, count) = match (hist.get(i), moves.get(j)) {
            (Some(&(p, c)), Some(&(q, m))) if p == q => {
                i += 1;
                j += 1;
                (p, c + m)
            }
            (Some(&(p, c)), Some(&(q, _))) if p < q => {
                i += 1;
                (p, c)
            }
            (Some(&(p, c)), None) => {
                i += 1;
                (p, c)
            }
            (_, Some(&(q, m))) => {
                j += 1;
                (q, m)
            }
            (None, None) => break,
        };
        match count {
            0 => {}
            c if c < 0 => return None,
            c => out.push((price, c)),
        }
    }
    Some(out)
}

/// What a histogram says of its cell: stations, sum, min, max, 10th and 90th percentiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub stations: i32,
    pub total: i64,
    pub min: i32,
    pub max: i32,
    pub p10: i32,
    pub p90: i32,
}

/// The summary of a non-empty histogram (`None` when it is empty).
pub fn summary(hist: &[(i32, i32)]) -> Option<Summary> {
    let (&(min, _), &(max, _)) = (hist.first()?, hist.last()?);
    let stations: i64 = hist.iter().map(|e| i64::from(e.1)).sum();
    let total = hist.iter().map(|e| i64::from(e.0) * i64::from(e.1)).sum();
    Some(Summary {
        stations: i32::try_from(stations).unwrap_or(i32::MAX),
        total,
        min,
        max,
        p10: percentile(hist, 10)?,
        p90: percentile(hist, 90)?,
    })
}

/// The `p`th percentile by nearest rank: the smallest price `x` with `count(≤ x) ≥ ⌈p·n/100⌉`
/// (at least the first station). `None` for an empty histogram.
pub fn percentile(hist: &[(i32, i32)], p: u32) -> Option<i32> {
    let n: i64 = hist.iter().map(|e| i64::from(e.1)).sum();
    let rank = (i64::from(p) * n + 99).div_euclid(100).max(1);
    let mut seen = 0i64;
    for &(price, count) in hist {
        seen += i64::from(count);
        if seen >= rank {
            return Some(price);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The percentile by its definition, over the sorted list of every station's price.
    fn brute(prices: &[i32], p: u32) -> i32 {
        let mut v = prices.to_vec();
        v.sort_unstable();
        let rank = (p as usize * v.len()).div_ceil(100).max(1);
        v[rank - 1]
    }

    fn of(prices: &[i32]) -> Histogram {
        let mut h = Histogram::new();
        for &p in prices {
            add(&mut h, p, 1);
        }
        h
    }

    #[test]
    fn round_trip() {
        for h in [
            vec![],
            vec![(1_799, 1)],
            vec![(0, 3), (1, 1), (1_500, 200), (1_501, 2), (9_999, 70_000)],
            vec![(-5, 1), (7, 2)],
            vec![(i32::MIN, 1), (i32::MAX, i32::MAX)],
        ] {
            let bytes = to_bytes(&h);
            assert_eq!(decode(&bytes), Some(h.clone()), "{h:?}");
        }
        // Small steps between prices take a byte each, counts under 128 one more.
        assert_eq!(to_bytes(&[(1_500, 3), (1_501, 1), (1_510, 2)]).len(), 3 + 2 + 2);
    }

    #[test]
    fn malformed_bytes_are_refused() {
        let good = to_bytes(&[(1_500, 3), (1_600, 1)]);
        for cut in 1..good.len() {
            let d = decode(&good[..cut]);
            assert!(d.is_none() || d.as_ref().is_some_and(|h| h.len() == 1), "{cut}: {d:?}");
        }
        assert_eq!(decode(&[0x80]), None, "unterminated varint");
        assert_eq!(decode(&[2, 0]), None, "a zero count");
        assert_eq!(decode(&[2, 1, 0, 1]), None, "a repeated price");
        assert_eq!(decode(&[0xff; 11]), None, "a varint over 64 bits");
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        assert_eq!(percentile(&[], 10), None);
        let h = of(&[1_500]);
        assert_eq!((percentile(&h, 10), percentile(&h, 90)), (Some(1_500), Some(1_500)));
        // Ten stations 1..=10: p10 is the 1st, p90 the 9th.
        let h = of(&(1..=10).collect::<Vec<_>>());
        assert_eq!((percentile(&h, 10), percentile(&h, 90)), (Some(1), Some(9)));
        // Eleven: ⌈1.1⌉ = 2nd and ⌈9.9⌉ = 10th.
        let h = of(&(1..=11).collect::<Vec<_>>());
        assert_eq!((percentile(&h, 10), percentile(&h, 90)), (Some(2), Some(10)));
        // Against the definition, on pseudo-random multisets.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for n in 1..300usize {
            let prices: Vec<i32> = (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    1_400 + (x % 97) as i32
                })
                .collect();
            let h = of(&prices);
            for p in [0, 10, 50, 90, 100] {
                assert_eq!(percentile(&h, p), Some(brute(&prices, p)), "n {n} p {p}");
            }
            let s = summary(&h).unwrap();
            assert_eq!(s.stations as usize, n);
            assert_eq!(s.total, prices.iter().map(|&p| i64::from(p)).sum::<i64>());
            assert_eq!((s.min, s.max), (*prices.iter().min().unwrap(), *prices.iter().max().unwrap()));
        }
    }

    #[test]
    fn moves_apply() {
        let h = of(&[1_500, 1_500, 1_600, 1_700]);
        let mut moves = Histogram::new();
        add(&mut moves, 1_500, -1);
        add(&mut moves, 1_550, 1);
        add(&mut moves, 1_700, -1);
        add(&mut moves, 1_800, 2);
        add(&mut moves, 1_900, 1);
        add(&mut moves, 1_900, -1);
        assert_eq!(moves, [(1_500, -1), (1_550, 1), (1_700, -1), (1_800, 2)]);
        assert_eq!(apply(&h, &moves), Some(vec![(1_500, 1), (1_550, 1), (1_600, 1), (1_800, 2)]));
        assert_eq!(apply(&h, &[(1_400, -1)]), None, "a price the cell did not hold");
        assert_eq!(apply(&h, &[(1_600, -2)]), None);
        assert_eq!(apply(&[], &[]), Some(vec![]));
    }
}

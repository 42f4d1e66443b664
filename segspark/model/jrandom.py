"""The JVM's random number generators, draw for draw: java.util.Random and Spark's XORShiftRandom.

The k search (`model.search`) replays MLlib's KMeans in numpy, and MLlib draws
its initial centres from these generators; the same seed must give the same
draws. Pure Python integers with explicit 32- and 64-bit wrapping.
"""

from __future__ import annotations

_M32 = (1 << 32) - 1
_M48 = (1 << 48) - 1
_M64 = (1 << 64) - 1
_MULT = 0x5DEECE66D
_DOUBLE_UNIT = 2.0**-53


def int32(x: int) -> int:
    """Wrap to a signed 32-bit value (Java int overflow)."""
    x &= _M32
    return x - (1 << 32) if x >= 1 << 31 else x


def int64(x: int) -> int:
    """Wrap to a signed 64-bit value (Java long overflow)."""
    x &= _M64
    return x - (1 << 64) if x >= 1 << 63 else x


class JavaRandom:
    """java.util.Random: the 48-bit linear congruential generator."""

    def __init__(self, seed: int) -> None:
        self.set_seed(seed)

    def set_seed(self, seed: int) -> None:
        self._state = (seed ^ _MULT) & _M48

    def next_bits(self, bits: int) -> int:
        self._state = (self._state * _MULT + 0xB) & _M48
        return int32(self._state >> (48 - bits))

    def next_int(self, bound: int | None = None) -> int:
        if bound is None:
            return self.next_bits(32)
        r = self.next_bits(31)
        m = bound - 1
        if bound & m == 0:  # a power of two
            return int32((bound * r) >> 31)
        u = r
        while True:
            r = u % bound
            if u - r + m < 1 << 31:  # Java's overflow test: u - r + m < 0 as a 32-bit int
                return r
            u = self.next_bits(31)

    def next_long(self) -> int:
        return int64((self.next_bits(32) << 32) + self.next_bits(32))

    def next_double(self) -> float:
        return ((self.next_bits(26) << 27) + self.next_bits(27)) * _DOUBLE_UNIT


def _rotl32(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _M32


def _mix_last(h: int, k: int) -> int:
    k = (k * 0xCC9E2D51) & _M32
    k = _rotl32(k, 15)
    k = (k * 0x1B873593) & _M32
    return h ^ k


def _bytes_hash(data: bytes, seed: int) -> int:
    """Scala's MurmurHash3.bytesHash (x86 32-bit murmur3), as an unsigned 32-bit value."""
    h = seed & _M32
    n = len(data)
    i = 0
    while n - i >= 4:
        k = int.from_bytes(data[i : i + 4], "little")
        h = _mix_last(h, k)
        h = (_rotl32(h, 13) * 5 + 0xE6546B64) & _M32
        i += 4
    tail = data[i:]
    if tail:
        h = _mix_last(h, int.from_bytes(tail, "little"))
    h ^= n
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M32
    h ^= h >> 16
    return h


def _hash_seed(seed: int) -> int:
    data = (seed & _M64).to_bytes(8, "big")
    low = _bytes_hash(data, 0x3C074A61)
    high = _bytes_hash(data, low)
    return (high << 32) | low


class XorShiftRandom(JavaRandom):
    """Spark's org.apache.spark.util.random.XORShiftRandom: java.util.Random with a xorshift `next`."""

    def set_seed(self, seed: int) -> None:
        self._state = _hash_seed(seed)

    def next_bits(self, bits: int) -> int:
        s = self._state
        s ^= (s << 21) & _M64
        s ^= s >> 35
        s ^= (s << 4) & _M64
        self._state = s
        return int32(s & ((1 << bits) - 1))

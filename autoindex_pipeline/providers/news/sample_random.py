"""Counter-based random numbers for the sample news provider, and the table that turns one into a
story count.

SplitMix64 over a BLAKE2b hash of ``(seed, symbol)``: a story's numbers are a pure function of
its key, computed in vectorised uint64 NumPy, so they do not depend on the NumPy version, the
requested window or the other symbols requested (the determinism the provider promises).
"""

from __future__ import annotations

import hashlib

import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser, vectorised (uint64 arithmetic wraps)."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def uniform(keys: np.ndarray, stream: np.uint64) -> np.ndarray:
    """One U[0, 1) per key for ``stream``."""
    return (mix(keys ^ stream) >> np.uint64(11)).astype(np.float64) * (1.0 / 2**53)


def symbol_hash(seed: int, symbol: str) -> np.uint64:
    """The 64-bit root of a symbol's keys; stable across processes (unlike ``hash()``)."""
    digest = hashlib.blake2b(f"{seed}\x1fnews\x1f{symbol}".encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def uuid_text(hi: np.ndarray, lo: np.ndarray) -> list[str]:
    """UUID-like text (``8-4-4-4-12`` hex) from two uint64 halves per id."""
    out = []
    for high, low in zip(hi.tolist(), lo.tolist(), strict=True):
        high = (high & 0xFFFFFFFFFFFF0FFF) | 0x4000  # version 4 layout, for looks
        low = (low & 0x3FFFFFFFFFFFFFFF) | 0x8000000000000000
        s = f"{high:016x}{low:016x}"
        out.append(f"{s[:8]}-{s[8:12]}-{s[12:16]}-{s[16:20]}-{s[20:]}")
    return out


def poisson_cdf_table(means: np.ndarray, cap: int) -> np.ndarray:
    """Poisson CDF at ``0..cap`` per mean (rows), so a count is the number of entries a uniform
    exceeds; a zero mean gives 0 always. Closed-form, so no NumPy sampler stream is involved."""
    k = np.arange(cap + 1)
    log_fact = np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, cap + 1)))))
    with np.errstate(divide="ignore"):
        log_pmf = k[None, :] * np.log(means[:, None]) - means[:, None] - log_fact[None, :]
    pmf = np.where(means[:, None] > 0, np.exp(log_pmf), (k[None, :] == 0).astype(float))
    return np.cumsum(pmf, axis=1)

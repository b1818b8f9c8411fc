"""float32 exp, expm1, tanh, sigmoid, log and log1p that a compiled loop can vectorise.

The fused kernel (fused_kernel.py) runs members across SIMD lanes. Numba would call libm for
``math.exp``/``math.tanh``, and this llvmlite has no SVML, so every such call stays a scalar call
and the whole loop stops vectorising (PITFALLS.md). These are branch-free (selects only) versions
in the style of SLEEF and musl, which torch's own vectorised CPU kernels resemble: a range
reduction by powers of two (built from integer bits), then a short polynomial. Every constant is a
float32 global, so no operation widens to float64. Accuracy against torch is tested over a wide
range (tests/test_fused_math.py): a few ulp at most.

No fastmath anywhere: without it LLVM neither reassociates nor contracts to FMA, so a value
computed in a vector lane is bit-identical to the same value computed in a scalar remainder loop,
and a member's numbers never depend on the lane it lands in (member i == the lone run of seed+i).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

f32 = np.float32


@intrinsic
def as_int(typingctx, x):
    """The bits of a float32 as an int32 (a bitcast, free in a vector register)."""
    if x != types.float32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return types.int32(types.float32), codegen


@intrinsic
def as_float(typingctx, x):
    """An int32's bits as a float32 (the inverse of ``as_int``)."""
    if x != types.int32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


ONE, TWO, HALF, ZERO = f32(1.0), f32(2.0), f32(0.5), f32(0.0)
LOG2E = f32(1.4426950408889634)
LN2_HI = f32(0.693145751953125)      # ln 2 in a few bits, so n * LN2_HI is exact (Cody-Waite)
LN2_LO = f32(1.428606765330187e-06)
ROUNDER = f32(12582912.0)            # 1.5 * 2**23: x + ROUNDER - ROUNDER rounds x to an integer
EXP_MAX, EXP_MIN = f32(89.0), f32(-104.0)  # exp overflows to inf above ~88.72, is 0 below ~-103.97
TANH_ONE = f32(9.0)                  # float32 tanh is 1 (to the last bit) beyond ~9.01
INF = f32(np.inf)
NAN = f32(np.nan)
# expm1(r) = r + r^2 (1/2 + r/6 + ...) on |r| <= ln2/2: Taylor to r^8, truncation < 0.1 ulp
C2, C3, C4, C5 = f32(1 / 2), f32(1 / 6), f32(1 / 24), f32(1 / 120)
C6, C7, C8 = f32(1 / 720), f32(1 / 5040), f32(1 / 40320)
# musl logf: log(1+f) = f - hfsq + s (hfsq + R(s^2)), s = f / (2 + f)
LG1, LG2 = f32(0.66666662693), f32(0.40000972152)
LG3, LG4 = f32(0.28498786688), f32(0.24279078841)
SQRT_HALF_BITS = np.int32(0x3F3504F3)  # sqrt(1/2): the mantissa is reduced into [sqrt(1/2), sqrt(2))
ONE_BITS = np.int32(0x3F800000)
MANTISSA = np.int32(0x007FFFFF)
TINY = f32(1.1754943508222875e-38)   # the smallest normal float32; subnormals are scaled by 2^25 first
SCALE25 = f32(33554432.0)
SQRT2_M1 = f32(0.41421356)


@njit(inline="always", error_model="numpy")
def _pow2(n):
    """2^n for an integer-valued n in [-150, 130], as two normal factors (so neither over- nor underflows)."""
    half = np.int32(n) >> np.int32(1)
    a = as_float(np.int32((half + np.int32(127)) << np.int32(23)))
    b = as_float(np.int32((np.int32(n) - half + np.int32(127)) << np.int32(23)))
    return a, b


@njit(inline="always", error_model="numpy")
def _reduce(x):
    """x = n ln2 + r with |r| <= ln2/2; returns (n as float32, r, expm1(r))."""
    x = EXP_MAX if x > EXP_MAX else x
    x = EXP_MIN if x < EXP_MIN else x
    x = ZERO if x != x else x  # NaN: any finite path, the caller restores NaN
    n = (x * LOG2E + ROUNDER) - ROUNDER
    r = (x - n * LN2_HI) - n * LN2_LO
    p = r * r * (C2 + r * (C3 + r * (C4 + r * (C5 + r * (C6 + r * (C7 + r * C8)))))) + r
    return n, r, p


@njit(inline="always", error_model="numpy")
def exp(x):
    n, _, p = _reduce(x)
    a, b = _pow2(np.int32(n))
    y = ((p + ONE) * a) * b
    return x if x != x else y


@njit(inline="always", error_model="numpy")
def expm1(x):
    """exp(x) - 1, accurate for small |x|. Meant for x <= 40 (above, exp(x) is the answer)."""
    n, _, p = _reduce(x)
    a, b = _pow2(np.int32(n))
    scale = a * b
    y = p * scale + (scale - ONE)
    return x if x != x else y


@njit(inline="always", error_model="numpy")
def tanh(x):
    """SLEEF's tanhf: d = expm1(2|x|), tanh = d / (d + 2), the sign put back."""
    a = abs(x)
    d = expm1(TWO * (TANH_ONE if a > TANH_ONE else a))
    y = d / (d + TWO)
    y = ONE if a > TANH_ONE else y
    y = -y if x < ZERO else y
    return x if x != x else y


@njit(inline="always", error_model="numpy")
def sigmoid(x):
    """1 / (1 + exp(-x)), as torch's CPU sigmoid computes it (0 below about -88.7)."""
    return ONE / (ONE + exp(-x))


@njit(inline="always", error_model="numpy")
def _log_reduced(f, k, c):
    """log(2^k (1 + f)) + c for f in [sqrt(1/2) - 1, sqrt(2) - 1] (musl's logf/log1pf tail)."""
    s = f / (TWO + f)
    z = s * s
    w = z * z
    t1 = w * (LG2 + w * LG4)
    t2 = z * (LG1 + w * LG3)
    hfsq = HALF * f * f
    return s * (hfsq + t1 + t2) + (k * LN2_LO + c) - hfsq + f + k * LN2_HI


@njit(inline="always", error_model="numpy")
def log(x):
    small = x < TINY
    xs = x * SCALE25 if small else x
    ix = as_int(xs) + (ONE_BITS - SQRT_HALF_BITS)
    k = f32((ix >> np.int32(23)) - np.int32(127)) - (f32(25.0) if small else ZERO)
    m = as_float(np.int32((ix & MANTISSA) + SQRT_HALF_BITS))
    y = _log_reduced(m - ONE, k, ZERO)
    y = -INF if x == ZERO else y
    y = NAN if x < ZERO else y
    y = x if x == INF else y
    return x if x != x else y


@njit(inline="always", error_model="numpy")
def log1p(x):
    """log(1 + x) for x > -1, accurate for small |x| (musl's log1pf: the rounding of 1 + x corrected)."""
    u = ONE + x
    iu = as_int(u) + (ONE_BITS - SQRT_HALF_BITS)
    k = f32((iu >> np.int32(23)) - np.int32(127))
    c = ((ONE - (u - x)) if k >= TWO else (x - (u - ONE))) / u
    m = as_float(np.int32((iu & MANTISSA) + SQRT_HALF_BITS))
    near = abs(x) < SQRT2_M1  # 1 + x within [sqrt(1/2), sqrt(2)): f = x itself, nothing to correct
    y = _log_reduced(x if near else m - ONE, ZERO if near else k, ZERO if near else c)
    y = -INF if x == -ONE else y
    y = NAN if x < -ONE else y
    y = x if x == INF else y
    return x if x != x else y


@njit(inline="always", error_model="numpy")
def log_sigmoid(x):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), as torch's CPU log_sigmoid."""
    return (x if x < ZERO else ZERO) - log1p(exp(-abs(x)))


@njit(error_model="numpy", cache=True)
def _apply(kind, x, out):
    for i in range(x.shape[0]):
        v = x[i]
        if kind == 0:
            out[i] = exp(v)
        elif kind == 1:
            out[i] = expm1(v)
        elif kind == 2:
            out[i] = tanh(v)
        elif kind == 3:
            out[i] = sigmoid(v)
        elif kind == 4:
            out[i] = log(v)
        elif kind == 5:
            out[i] = log1p(v)
        else:
            out[i] = log_sigmoid(v)


NAMES = ("exp", "expm1", "tanh", "sigmoid", "log", "log1p", "log_sigmoid")


def evaluate(name: str, x: np.ndarray) -> np.ndarray:
    """One of these functions over a float32 array (for the accuracy tests)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    out = np.empty_like(x)
    _apply(NAMES.index(name), x, out)
    return out

"""The fused kernel: a whole block of full-batch epochs of a population in one compiled function.

One hidden layer (``in -> hidden -> 1``). Members are laid out in chunks of ``LANES``, each chunk
as ``[values, LANES]`` (structure of arrays): every loop over lanes is a run of identical,
independent float32 operations that LLVM turns into SIMD instructions, and chunks run on threads
(``prange``). A chunk's weights, optimizer state and scratch (~20 KiB) stay in L1 for the block.

Per epoch, as the torch block loop does (core/module.py ``_full_batch_block``): the forward on the
whole table (which is also the observation of the weights after the previous epoch), the facts
(loss, divergence, best, early stop), the hand-derived backward of the per-member mean loss, and the
optimizer step with torch.optim's formulas (Adam, AdamW, SGD with momentum/Nesterov, RMSprop with
momentum/centered, Adagrad), each hyperparameter per member. What the block loop needs afterwards
is written out per epoch: each member's loss, its worst row's signed confidence and how many rows
are right (verdict.py's tie rule: strictly on its side of p = 0.5).

Every value of a member is computed from that member's numbers alone, in the same order, with no
fastmath: member i's results do not depend on its lane, its chunk or the population size.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from xor_lightning.core.engines import ACTIVATIONS, LOSSES, OPTIMIZERS  # noqa: F401  (the kernel's codes)
from xor_lightning.core.fused_math import exp, log, log1p, log_sigmoid, sigmoid, tanh

# Members per chunk. The kernel reads it from the arrays' shape: with a compile-time count LLVM
# unrolls each lane loop fully and then cannot vectorise it (it cannot prove the arrays apart),
# while a runtime count gets the loop vectoriser, which checks that at run time. It vectorises
# 16 float32 lanes (AVX-512) 4 times interleaved: 64 lanes per iteration; 128 per chunk amortises
# the run-time alias checks of each short loop (measured: ~1.5x faster than 16 or 64).
LANES = 128

# Rows of the per-member hyperparameter array, per optimizer (torch.optim's argument names).
HYPER = {
    "sgd": ("lr", "momentum", "dampening", "nesterov", "weight_decay"),
    "adam": ("lr", "beta1", "beta2", "eps", "weight_decay"),
    "adamw": ("lr", "beta1", "beta2", "eps", "weight_decay"),
    "rmsprop": ("lr", "alpha", "eps", "weight_decay", "momentum", "centered"),
    "adagrad": ("lr", "lr_decay", "eps", "weight_decay", "initial_accumulator_value"),
}
# torch.optim's state per parameter, in the order of the kernel's state arrays S0, S1, S2.
STATE = {
    "sgd": ("momentum_buffer",),
    "adam": ("exp_avg", "exp_avg_sq"),
    "adamw": ("exp_avg", "exp_avg_sq"),
    "rmsprop": ("square_avg", "momentum_buffer", "grad_avg"),
    "adagrad": ("sum",),
}

f32 = np.float32
ZERO, ONE, HALF, TWO = f32(0.0), f32(1.0), f32(0.5), f32(2.0)
LOG_FLOOR = f32(-100.0)     # binary_cross_entropy clamps each log at -100
BCE_EPS = f32(1e-12)        # ... and its backward divides by max(p (1 - p), 1e-12)
LEAK = f32(0.01)            # F.leaky_relu's default negative_slope
NEVER = -1


@njit(error_model="numpy")
def _activate(act, z, h):
    """h = act(z) over [rows * hidden, lanes]."""
    lanes = z.shape[1]
    for q in range(z.shape[0]):
        if act == 0:
            for lane in range(lanes):
                h[q, lane] = tanh(z[q, lane])
        elif act == 1:
            for lane in range(lanes):
                h[q, lane] = sigmoid(z[q, lane])
        elif act == 2:
            for lane in range(lanes):
                v = z[q, lane]
                h[q, lane] = v if v > ZERO else ZERO
        elif act == 3:
            for lane in range(lanes):
                v = z[q, lane]
                h[q, lane] = v if v > ZERO else v * LEAK
        elif act == 4:  # elu, alpha 1: exp(z) - 1 for z <= 0
            for lane in range(lanes):
                v = z[q, lane]
                h[q, lane] = v if v > ZERO else exp(v) - ONE
        else:
            for lane in range(lanes):
                h[q, lane] = z[q, lane]


@njit(error_model="numpy")
def _activation_backward(act, z, h, g):
    """g (dL/dh) becomes dL/dz in place, each as torch's autograd computes it."""
    lanes = z.shape[1]
    for q in range(z.shape[0]):
        if act == 0:  # tanh_backward: g (1 - h^2)
            for lane in range(lanes):
                v = h[q, lane]
                g[q, lane] = g[q, lane] * (ONE - v * v)
        elif act == 1:  # sigmoid_backward: g (1 - h) h
            for lane in range(lanes):
                v = h[q, lane]
                g[q, lane] = g[q, lane] * (ONE - v) * v
        elif act == 2:  # threshold_backward on the result
            for lane in range(lanes):
                v, grad = h[q, lane], g[q, lane]
                g[q, lane] = grad if v > ZERO else ZERO
        elif act == 3:
            for lane in range(lanes):
                v, grad = z[q, lane], g[q, lane]
                g[q, lane] = grad if v > ZERO else grad * LEAK
        elif act == 4:  # elu_backward on the input: g exp(z) for z <= 0
            for lane in range(lanes):
                v, grad = z[q, lane], g[q, lane]
                g[q, lane] = grad if v > ZERO else grad * exp(v)


@njit(error_model="numpy")
def _loss_rows(loss, prob_in, out, y, s, row_loss, g_out, inv_n):
    """Each row's loss and dL/d(output) of the member's mean over rows; ``s`` = sigmoid(output)."""
    lanes = out.shape[1]
    for r in range(out.shape[0]):
        t = y[r]
        for lane in range(lanes):
            sv, ov = s[r, lane], out[r, lane]
            u = sv if prob_in else ov
            if loss == 0:  # bce_with_logits: (1 - y) u - log_sigmoid(u); d/du = sigmoid(u) - y
                value = (ONE - t) * u - log_sigmoid(u)
                du = (sigmoid(u) if prob_in else sv) - t
            elif loss == 1:  # bce on a probability, each log clamped at -100
                lp = log(u)
                lq = log1p(-u)
                value = (t - ONE) * (lq if lq > LOG_FLOOR else LOG_FLOOR) - t * (lp if lp > LOG_FLOOR else LOG_FLOOR)
                pq = (ONE - u) * u
                du = (u - t) / (pq if pq > BCE_EPS else BCE_EPS)
            elif loss == 2:
                d = u - t
                value = d * d
                du = TWO * d
            else:
                d = u - t
                value = abs(d)
                du = ONE if d > ZERO else (-ONE if d < ZERO else ZERO)
            du = du * inv_n
            if prob_in:  # sigmoid_backward: g (1 - s) s
                du = du * (ONE - sv) * sv
            row_loss[r, lane] = value
            g_out[r, lane] = du


@njit(error_model="numpy")
def _chunk(X, Y, P, S, B, HP, best_loss, best_epoch, stopped_at, diverged_at, margin,
           loss_out, worst_out, right_out, first, epochs, step0, act, loss, prob_in, opt, fresh,
           stop_on, min_epochs, tol):
    n, n_in = X.shape
    n_par, lanes = P.shape
    hid = (n_par - 1) // (n_in + 2)
    w1, b0, b1 = n_in * hid, n_in * hid + hid, n_in * hid + 2 * hid  # offsets: W0, W1, b0, b1 (parameters() order)
    z = np.empty((n * hid, lanes), np.float32)
    h = np.empty((n * hid, lanes), np.float32)
    out = np.empty((n, lanes), np.float32)
    s = np.empty((n, lanes), np.float32)
    row_loss = np.empty((n, lanes), np.float32)
    g_out = np.empty((n, lanes), np.float32)
    g = np.empty((n_par, lanes), np.float32)
    done = np.empty(lanes, np.bool_)
    coef = np.empty((8, lanes), np.float32)
    total = np.empty(lanes, np.float32)
    worst = np.empty(lanes, np.float32)
    right = np.empty(lanes, np.int32)
    stop_rows = np.empty(lanes, np.int32)
    improved = np.empty(lanes, np.bool_)
    n_rows = f32(n)
    # Powers of the decay rates at the current step, in float64 as torch's Python scalars are.
    pow1 = np.empty(lanes, np.float64)
    pow2 = np.empty(lanes, np.float64)
    for lane in range(lanes):
        pow1[lane] = math.pow(HP[1, lane], step0) if opt in (1, 2) else 1.0
        pow2[lane] = math.pow(HP[2, lane], step0) if opt in (1, 2) else 1.0
    inv_n = f32(1.0 / n)
    for e in range(epochs + 1):
        t = first + e
        all_done = True
        for lane in range(lanes):
            done[lane] = stopped_at[lane] >= 0 or diverged_at[lane] >= 0
            all_done = all_done and done[lane]
        if all_done and e > 0:  # nothing of these members changes any more
            for lane in range(lanes):
                loss_out[e, lane] = loss_out[e - 1, lane]
                worst_out[e, lane] = worst_out[e - 1, lane]
                right_out[e, lane] = right_out[e - 1, lane]
            continue
        # forward: z = x W0 + b0, h = act(z), out = h W1 + b1
        for r in range(n):
            for j in range(hid):
                q = r * hid + j
                for lane in range(lanes):
                    z[q, lane] = X[r, 0] * P[j, lane]
                for i in range(1, n_in):
                    for lane in range(lanes):
                        z[q, lane] = z[q, lane] + X[r, i] * P[i * hid + j, lane]
                for lane in range(lanes):
                    z[q, lane] = z[q, lane] + P[b0 + j, lane]
        _activate(act, z, h)
        for r in range(n):
            for lane in range(lanes):
                out[r, lane] = ZERO
            for j in range(hid):
                for lane in range(lanes):
                    out[r, lane] = out[r, lane] + h[r * hid + j, lane] * P[w1 + j, lane]
            for lane in range(lanes):
                out[r, lane] = out[r, lane] + P[b1, lane]
                s[r, lane] = sigmoid(out[r, lane])
        _loss_rows(loss, prob_in, out, Y, s, row_loss, g_out, inv_n)
        # the facts of the weights after epoch t: rows summed lane-wise first (so it vectorises)
        for lane in range(lanes):
            total[lane] = ZERO
            worst[lane] = np.float32(np.inf)
            right[lane] = 0
            stop_rows[lane] = 0
        for r in range(n):
            sign = TWO * Y[r] - ONE
            for lane in range(lanes):
                total[lane] = total[lane] + row_loss[r, lane]
                signed = (s[r, lane] - HALF) * sign
                worst[lane] = signed if (signed < worst[lane] or signed != signed) else worst[lane]
                ok = signed > tol
                right[lane] += np.int32(ok)
                stop_rows[lane] += np.int32(ok and (margin[lane] <= ZERO or signed >= margin[lane]))
        any_improved = False
        any_diverged = False
        for lane in range(lanes):
            value = total[lane] / n_rows
            loss_out[e, lane] = value
            worst_out[e, lane] = worst[lane]
            right_out[e, lane] = right[lane]
            improved[lane] = False
            if not done[lane] and not np.isfinite(value):
                diverged_at[lane] = max(t, 1) if e == 0 else t
                done[lane] = True
                any_diverged = True
            if e > 0 and not done[lane] and value < best_loss[lane]:
                best_loss[lane] = value
                best_epoch[lane] = t
                improved[lane] = True
                any_improved = True
            if e > 0 and not done[lane] and stop_on and t >= min_epochs and stop_rows[lane] == n:
                stopped_at[lane] = t
                done[lane] = True  # keeps the weights it has now: no step from here on
        if any_improved:
            for p in range(n_par):
                for lane in range(lanes):
                    now, before, take = P[p, lane], B[p, lane], improved[lane]
                    B[p, lane] = now if take else before
        if any_diverged:  # a diverged member is zero from now on: weights and state
            for lane in range(lanes):
                if diverged_at[lane] == t:
                    for p in range(n_par):
                        P[p, lane] = ZERO
                        for k in range(S.shape[0]):
                            S[k, p, lane] = ZERO
        if e == epochs:
            break
        # backward of the member's mean loss
        for lane in range(lanes):
            g[b1, lane] = ZERO
        for j in range(hid):
            for lane in range(lanes):
                g[w1 + j, lane] = ZERO
        for r in range(n):
            for lane in range(lanes):
                g[b1, lane] = g[b1, lane] + g_out[r, lane]
            for j in range(hid):
                for lane in range(lanes):
                    g[w1 + j, lane] = g[w1 + j, lane] + h[r * hid + j, lane] * g_out[r, lane]
        _hidden_grads(act, X, P, z, h, g_out, g, hid, w1, b0)
        _step(opt, P, g, S, HP, done, pow1, pow2, coef, step0 + e + 1, fresh and e == 0)
    return 0


@njit(error_model="numpy")
def _hidden_grads(act, X, P, z, h, g_out, g, hid, w1, b0):
    """dL/dW0 and dL/db0: through W1 and the activation's derivative, then summed over rows."""
    n, n_in = X.shape
    lanes = P.shape[1]
    gz = np.empty((n * hid, lanes), np.float32)
    for r in range(n):
        for j in range(hid):
            for lane in range(lanes):
                gz[r * hid + j, lane] = g_out[r, lane] * P[w1 + j, lane]
    _activation_backward(act, z, h, gz)
    for j in range(hid):
        for lane in range(lanes):
            g[b0 + j, lane] = ZERO
        for i in range(n_in):
            for lane in range(lanes):
                g[i * hid + j, lane] = ZERO
        for r in range(n):
            for lane in range(lanes):
                g[b0 + j, lane] = g[b0 + j, lane] + gz[r * hid + j, lane]
            for i in range(n_in):
                x = X[r, i]
                for lane in range(lanes):
                    g[i * hid + j, lane] = g[i * hid + j, lane] + x * gz[r * hid + j, lane]


@njit(inline="always", error_model="numpy")
def _lerp(a, b, w):
    """torch.lerp with a scalar weight: a + w (b - a) below 0.5, else b - (b - a) (1 - w)."""
    return a + w * (b - a) if w < HALF else b - (b - a) * (ONE - w)


@njit(error_model="numpy")
def _step(opt, P, g, S, HP, done, pow1, pow2, coef, step, fresh):
    """One optimizer step of every member not done, torch.optim's single-tensor formulas; the scalars
    torch computes in Python (bias corrections, learning rates) in float64, then cast to float32."""
    n_par, lanes = P.shape
    if opt == 1 or opt == 2:  # adam, adamw: HP rows lr, betas, eps, weight_decay
        for lane in range(lanes):
            lr, b1, b2, d = HP[0, lane], HP[1, lane], HP[2, lane], HP[4, lane]
            pow1[lane] *= b1
            pow2[lane] *= b2
            coef[0, lane] = f32(lr / (1.0 - pow1[lane]))  # step size
            coef[1, lane] = f32(math.sqrt(1.0 - pow2[lane]))
            coef[2, lane] = f32(1.0 - b1)
            coef[3, lane] = f32(b2)
            coef[4, lane] = f32(1.0 - b2)
            coef[5, lane] = f32(HP[3, lane])
            coef[6, lane] = f32(d) if opt == 1 else ZERO
            coef[7, lane] = f32(1.0 - lr * d) if opt == 2 else ONE
    elif opt == 0:  # sgd: lr, momentum, dampening, nesterov, weight_decay
        for lane in range(lanes):
            coef[0, lane] = f32(HP[0, lane])
            coef[1, lane] = f32(HP[1, lane])
            coef[2, lane] = f32(1.0 - HP[2, lane])
            coef[6, lane] = f32(HP[4, lane])
    elif opt == 3:  # rmsprop: lr, alpha, eps, weight_decay, momentum, centered
        for lane in range(lanes):
            coef[0, lane] = f32(HP[0, lane])
            coef[1, lane] = f32(HP[1, lane])
            coef[2, lane] = f32(1.0 - HP[1, lane])
            coef[3, lane] = f32(HP[2, lane])
            coef[4, lane] = f32(HP[4, lane])
            coef[6, lane] = f32(HP[3, lane])
    else:  # adagrad: lr, lr_decay, eps, weight_decay
        for lane in range(lanes):
            coef[0, lane] = f32(HP[0, lane] / (1.0 + (step - 1) * HP[1, lane]))
            coef[3, lane] = f32(HP[2, lane])
            coef[6, lane] = f32(HP[3, lane])
    # Each lane loads everything first and selects after: a load under a condition stops LLVM
    # from vectorising the loop.
    for p in range(n_par):
        if opt == 1 or opt == 2:
            for lane in range(lanes):
                w0, m0, v0, grad0, keep = P[p, lane], S[0, p, lane], S[1, p, lane], g[p, lane], done[lane]
                step_size, bc2, w_m, b2, w_v = coef[0, lane], coef[1, lane], coef[2, lane], coef[3, lane], coef[4, lane]
                eps, l2, decay = coef[5, lane], coef[6, lane], coef[7, lane]
                w = w0 * decay
                grad = grad0 + l2 * w if l2 != ZERO else grad0
                m = _lerp(m0, grad, w_m)
                v = v0 * b2 + w_v * grad * grad
                w = w + (-step_size * m) / (math.sqrt(v) / bc2 + eps)
                P[p, lane] = w0 if keep else w
                S[0, p, lane] = m0 if keep else m
                S[1, p, lane] = v0 if keep else v
        elif opt == 0:
            for lane in range(lanes):
                w0, buf0, grad0, keep = P[p, lane], S[0, p, lane], g[p, lane], done[lane]
                lr, mom, damp, l2, nesterov = coef[0, lane], coef[1, lane], coef[2, lane], coef[6, lane], HP[3, lane]
                grad = grad0 + l2 * w0 if l2 != ZERO else grad0
                buf = grad if fresh else buf0 * mom + damp * grad  # every member, as the population optimizer
                direction = (grad + mom * buf if nesterov != 0.0 else buf) if mom != ZERO else grad
                w = w0 + (-lr) * direction
                P[p, lane] = w0 if keep else w
                S[0, p, lane] = buf0 if keep else buf
        elif opt == 3:
            for lane in range(lanes):
                w0, sq0, buf0, ga0, grad0, keep = P[p, lane], S[0, p, lane], S[1, p, lane], S[2, p, lane], g[p, lane], done[lane]
                lr, alpha, w_sq, eps = coef[0, lane], coef[1, lane], coef[2, lane], coef[3, lane]
                mom, l2 = coef[4, lane], coef[6, lane]
                centered = HP[5, lane] != 0.0
                grad = grad0 + l2 * w0 if l2 != ZERO else grad0
                sq = sq0 * alpha + w_sq * grad * grad
                ga = _lerp(ga0, grad, w_sq) if centered else ga0
                avg = math.sqrt(sq + (-ONE * ga) * ga if centered else sq) + eps
                buf = buf0 * mom + grad / avg  # every member, as the population optimizer (the slot may be scratch)
                w = w0 + (-lr) * buf if mom != ZERO else w0 + (-lr * grad) / avg
                P[p, lane] = w0 if keep else w
                S[0, p, lane] = sq0 if keep else sq
                S[1, p, lane] = buf0 if keep else buf
                S[2, p, lane] = ga0 if keep else ga
        else:
            for lane in range(lanes):
                w0, sum0, grad0, keep = P[p, lane], S[0, p, lane], g[p, lane], done[lane]
                clr, eps, l2 = coef[0, lane], coef[3, lane], coef[6, lane]
                grad = grad0 + l2 * w0 if l2 != ZERO else grad0
                total = sum0 + grad * grad
                w = w0 + (-clr * grad) / (math.sqrt(total) + eps)
                P[p, lane] = w0 if keep else w
                S[0, p, lane] = sum0 if keep else total


@njit(parallel=True, error_model="numpy", cache=True)
def run_block(X, Y, P, S, B, HP, best_loss, best_epoch, stopped_at, diverged_at, margin,
              loss_out, worst_out, right_out, first, epochs, step0, act, loss, prob_in, opt, fresh,
              stop_on, min_epochs, tol):
    """Epochs first+1 .. first+epochs of every chunk (arrays chunk-major: P [chunks, params, LANES],
    S [chunks, states, params, LANES], outputs [chunks, epochs + 1, LANES]; row 0 is the weights
    after ``first``, whose facts the previous block recorded: only divergence is checked there)."""
    for c in prange(P.shape[0]):
        _chunk(X, Y, P[c], S[c], B[c], HP[c], best_loss[c], best_epoch[c], stopped_at[c], diverged_at[c], margin[c],
               loss_out[c], worst_out[c], right_out[c], first, epochs, step0, act, loss, prob_in, opt, fresh,
               stop_on, min_epochs, tol)


@njit(error_model="numpy", cache=True)
def run_block_serial(X, Y, P, S, B, HP, best_loss, best_epoch, stopped_at, diverged_at, margin,
                     loss_out, worst_out, right_out, first, epochs, step0, act, loss, prob_in, opt, fresh,
                     stop_on, min_epochs, tol):
    """``run_block`` on the calling thread: no thread pool to wake (one thread, or one chunk)."""
    for c in range(P.shape[0]):
        _chunk(X, Y, P[c], S[c], B[c], HP[c], best_loss[c], best_epoch[c], stopped_at[c], diverged_at[c], margin[c],
               loss_out[c], worst_out[c], right_out[c], first, epochs, step0, act, loss, prob_in, opt, fresh,
               stop_on, min_epochs, tol)

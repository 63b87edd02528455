"""The two views of the demo world without the cargo: the terminal and the truck seen from
above (:func:`top_view`) or from an elevated side position (:func:`side_view`). Each returns
the geometry that the cargo and the occluders are placed by."""

from __future__ import annotations

from typing import Any

import numpy as np

from leakview.synth.canvas import Canvas, pick, smoothstep, tint, value_noise

_CAB_COLORS = ((0.60, 0.14, 0.12), (0.15, 0.26, 0.55), (0.90, 0.90, 0.88), (0.20, 0.40, 0.26),
               (0.25, 0.25, 0.27), (0.56, 0.58, 0.62), (0.45, 0.10, 0.22))
_BODY_COLORS = ((0.62, 0.64, 0.66), (0.86, 0.86, 0.84), (0.60, 0.15, 0.12), (0.18, 0.30, 0.52),
                (0.22, 0.40, 0.28), (0.40, 0.42, 0.44))


def ground(cv: Canvas, rng: np.random.Generator, k: float, y0: int = 0) -> None:
    """Concrete or asphalt from row ``y0`` down, with stains, grit and slab joints."""
    h, w = cv.h - y0, cv.w
    if h <= 0:
        return
    concrete = rng.random() < 0.55
    grey = rng.uniform(0.55, 0.66) if concrete else rng.uniform(0.25, 0.36)
    base = tint(rng, (grey * 1.02, grey, grey * 0.96), 0.012)
    tex = (1 + 0.06 * value_noise(rng, h, w, 50 * k) + 0.035 * value_noise(rng, h, w, 7 * k)
           + 0.045 * rng.standard_normal((h, w), dtype=np.float32))
    region = cv.img[y0:]
    region[:] = base * tex[..., None]
    if concrete:  # slab joints
        step = rng.uniform(70, 120) * k
        off = rng.uniform(0, step, 2)
        xs = np.arange(w, dtype=np.float32)
        ys = np.arange(h, dtype=np.float32)
        region[:, ((xs + off[0]) % step) < max(1.0, k)] *= 0.7
        region[((ys + off[1]) % (step * 0.8)) < max(1.0, k)] *= 0.7
    for _ in range(int(rng.integers(0, 4))):  # oil / water stains
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        rx, ry = rng.uniform(6, 30) * k, rng.uniform(4, 18) * k
        yy, xx = np.ogrid[:h, :w]
        d = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2
        region *= (1 - 0.25 * smoothstep(1.2 - d)).astype(np.float32)[..., None]


def top_view(cv: Canvas, rng: np.random.Generator, k: float) -> dict[str, Any]:
    """Ground, lane marks, the pit's grate and the truck seen from above; the cargo box is the
    body's inside."""
    W, H = cv.w, cv.h
    ground(cv, rng, k)
    Lt = rng.uniform(0.62, 0.86) * W
    Bw = min(Lt * rng.uniform(0.27, 0.33), 0.55 * H)
    tx0 = rng.uniform(0.03 * W, 0.97 * W - Lt)
    cy = rng.uniform(0.12 * H + Bw / 2, 0.88 * H - Bw / 2)
    facing = "right" if rng.random() < 0.5 else "left"

    def span(s0: float, s1: float) -> tuple[float, float]:
        return (tx0 + s0, tx0 + s1) if facing == "right" else (tx0 + Lt - s1, tx0 + Lt - s0)

    # terminal features under and around the truck
    lane = tint(rng, pick(rng, ((0.92, 0.78, 0.20), (0.90, 0.90, 0.88))), 0.03)
    lw = max(1.0, 3 * k)
    for ly in (cy - Bw * rng.uniform(0.8, 1.1), cy + Bw * rng.uniform(0.8, 1.1)):
        if rng.random() < 0.75:
            m = cv.rect(0, ly - lw / 2, W, ly + lw / 2)
            if rng.random() < 0.4:  # dashed
                dash = rng.uniform(14, 26) * k
                m &= ((np.arange(W) // dash) % 2 == 0)[None, :]
            cv.paint(m, lane * (0.9 + 0.1 * rng.random()))
    if rng.random() < 0.55:  # the receiving pit's grate
        gw_ = rng.uniform(0.18, 0.32) * W
        gx = rng.uniform(tx0, tx0 + Lt - gw_)
        gh_ = Bw * rng.uniform(1.25, 1.6)
        grate = cv.rect(gx, cy - gh_ / 2, gx + gw_, cy + gh_ / 2)
        cv.paint(grate, tint(rng, (0.16, 0.16, 0.17), 0.02))
        bars = grate & ((np.arange(W) % max(2, int(round(4 * k)))) == 0)[None, :]
        cv.paint(bars, tint(rng, (0.45, 0.45, 0.46), 0.04))
    # the truck's shadow on the ground
    sdx, sdy = rng.uniform(-0.05, 0.05) * Lt, rng.uniform(0.03, 0.08) * Lt
    cv.shade(cv.rect(tx0 + sdx, cy - Bw / 2 + sdy, tx0 + Lt + sdx, cy + Bw / 2 + sdy), 0.55)

    cab_len, gap = 0.19 * Lt, 0.03 * Lt
    body_len = Lt - cab_len - gap
    # body (rear) at s in [0, body_len), cab at the front
    bx0, bx1 = span(0, body_len)
    by0, by1 = cy - Bw / 2, cy + Bw / 2
    wall = tint(rng, pick(rng, _BODY_COLORS), 0.04)
    cv.paint(cv.rect(bx0, by0, bx1, by1), wall)
    cv.paint(cv.rect(bx0, by0, bx1, by0 + max(1, 0.02 * Bw)), np.minimum(wall * 1.25, 1))
    t = max(2.0, 0.075 * Bw)
    ix0, ix1 = span(t * 1.4, body_len - t)  # rear wall (tailgate) a bit thicker
    iy0, iy1 = by0 + t, by1 - t
    # stakes along the long walls
    stake = wall * 0.72
    for s in np.arange(0.06, 1.0, rng.uniform(0.09, 0.13)):
        sx0, _ = span(s * body_len, s * body_len)
        cv.paint(cv.rect(sx0 - max(1, 0.5 * k), by0, sx0 + max(1, 0.5 * k), iy0), stake)
        cv.paint(cv.rect(sx0 - max(1, 0.5 * k), iy1, sx0 + max(1, 0.5 * k), by1), stake)
    # hitch / gap and cab
    hx0, hx1 = span(body_len, body_len + gap)
    cv.paint(cv.rect(hx0, cy - 0.2 * Bw, hx1, cy + 0.2 * Bw), tint(rng, (0.12, 0.12, 0.13)))
    cx0, cx1 = span(body_len + gap, Lt)
    cab = tint(rng, pick(rng, _CAB_COLORS), 0.04)
    cw = Bw * 0.92
    cv.paint(cv.rect(cx0, cy - cw / 2, cx1, cy + cw / 2), cab)
    cv.paint(cv.rect(cx0, cy - cw * 0.3, cx1, cy + cw * 0.3), np.minimum(cab * 1.12 + 0.03, 1))
    wx0, wx1 = span(Lt - 0.32 * cab_len, Lt - 0.08 * cab_len)  # windscreen
    cv.paint(cv.rect(wx0, cy - cw * 0.44, wx1, cy + cw * 0.44), tint(rng, (0.22, 0.30, 0.38)))
    mx0, mx1 = span(Lt - 0.42 * cab_len, Lt - 0.3 * cab_len)  # mirrors
    for my in (cy - cw / 2 - 0.08 * Bw, cy + cw / 2):
        cv.paint(cv.rect(mx0, my, mx1, my + 0.08 * Bw), tint(rng, (0.10, 0.10, 0.11)))
    ex0, ex1 = span(body_len + gap, body_len + gap + 0.06 * cab_len)  # exhaust / deflector
    cv.paint(cv.rect(ex0, cy - cw * 0.45, ex1, cy + cw * 0.45), cab * 0.6)

    cargo_box = (ix0, iy0, ix1, iy1)
    body_box = (min(bx0, bx1), by0, max(bx0, bx1), by1)
    truck_box = (tx0, cy - Bw / 2 - 0.08 * Bw, tx0 + Lt, cy + Bw / 2 + 0.08 * Bw)
    return {"cargo_box": cargo_box, "body_box": body_box, "truck_box": truck_box,
            "facing": facing, "Lt": Lt, "Bw": Bw, "wall": wall}


def side_view(cv: Canvas, rng: np.random.Generator, k: float) -> dict[str, Any]:
    """Sky, silos, the elevator house and the truck from an elevated side position; the cargo
    box is the band of the body's inside seen above the near wall."""
    W, H = cv.w, cv.h
    horizon = int(rng.uniform(0.38, 0.55) * H)
    # sky
    overcast = rng.random() < 0.35
    top = tint(rng, (0.66, 0.69, 0.72) if overcast else (0.45, 0.62, 0.86), 0.04)
    low = tint(rng, (0.82, 0.83, 0.84) if overcast else (0.80, 0.86, 0.92), 0.03)
    t = (np.arange(horizon, dtype=np.float32) / max(horizon, 1))[:, None, None]
    cv.img[:horizon] = top + (low - top) * t
    if horizon > 0:
        cv.img[:horizon] *= (1 + 0.04 * value_noise(rng, horizon, W, 30 * k))[..., None]
    # terminal: silos, an elevator house, a gallery
    n_silos = int(rng.integers(1, 5))
    silo_col = tint(rng, pick(rng, ((0.78, 0.77, 0.73), (0.70, 0.72, 0.75))), 0.03)
    x = rng.uniform(-0.05, 0.2) * W
    tops = []
    for _ in range(n_silos):
        sw = rng.uniform(0.07, 0.12) * W
        sh = rng.uniform(0.45, 0.85) * horizon
        xs = np.arange(W, dtype=np.float32)
        shade = 0.78 + 0.3 * np.cos(np.clip((xs - x - sw * 0.4) / (sw / 2), -1.6, 1.6))
        body = cv.rect(x, horizon - sh, x + sw, horizon)
        col = silo_col[None, None, :] * shade[None, :, None]
        cv.paint(body, np.broadcast_to(col, (H, W, 3)))
        cv.paint(cv.poly([(x, horizon - sh), (x + sw, horizon - sh),
                          (x + sw / 2, horizon - sh - 0.25 * sw)]), silo_col * 0.8)
        tops.append((x + sw / 2, horizon - sh - 0.25 * sw))
        x += sw + rng.uniform(0.0, 0.06) * W
    if rng.random() < 0.7:
        ew, eh = rng.uniform(0.08, 0.14) * W, rng.uniform(0.85, 1.0) * horizon
        ex = rng.uniform(0.55, 0.9) * W
        house = cv.rect(ex, horizon - eh, ex + ew, horizon)
        col = tint(rng, (0.74, 0.75, 0.76), 0.04)
        ribs = 1 - 0.08 * ((np.arange(W) % max(2, int(round(3 * k)))) == 0)
        cv.paint(house, np.broadcast_to(col[None, None] * ribs[None, :, None], (H, W, 3)))
        for wy in np.arange(horizon - eh + 0.1 * eh, horizon - 0.1 * eh, 0.18 * eh):
            cv.paint(cv.rect(ex + 0.3 * ew, wy, ex + 0.7 * ew, wy + 0.06 * eh),
                     tint(rng, (0.25, 0.30, 0.36)))
        if tops:
            cv.paint(cv.line([tops[-1], (ex, horizon - eh + 0.1 * eh)], 3 * k),
                     tint(rng, (0.55, 0.56, 0.57)))
    # ground
    ground(cv, rng, k, y0=horizon)
    cv.paint(cv.rect(0, horizon, W, horizon + max(1, 2 * k)), tint(rng, (0.70, 0.70, 0.68)))

    # the truck
    Lt = rng.uniform(0.66, 0.9) * W
    tx0 = rng.uniform(0.03 * W, 0.97 * W - Lt)
    facing = "right" if rng.random() < 0.5 else "left"

    def span(s0: float, s1: float) -> tuple[float, float]:
        return (tx0 + s0, tx0 + s1) if facing == "right" else (tx0 + Lt - s1, tx0 + Lt - s0)

    r = 0.055 * Lt
    yg = min(H - 2.0, rng.uniform(0.80, 0.94) * H)
    hw = Lt * rng.uniform(0.13, 0.17)           # near wall height
    hb = hw * rng.uniform(0.7, 1.0)             # visible inside band (elevated camera)
    rim = max(1.0, 0.08 * hw)
    chassis_top = yg - 2.1 * r
    wall_top = chassis_top - hw
    band_top = wall_top - hb
    cab_len, gap = 0.2 * Lt, 0.02 * Lt
    body_len = Lt - cab_len - gap
    wall = tint(rng, pick(rng, _BODY_COLORS), 0.04)
    cv.shade(cv.rect(tx0 - 0.02 * Lt, yg - 0.25 * r, tx0 + Lt * 1.02, yg + 0.35 * r), 0.5)
    # chassis
    cx0, cx1 = span(0.02 * Lt, Lt - 0.05 * Lt)
    dark = tint(rng, (0.10, 0.10, 0.11), 0.02)
    cv.paint(cv.rect(cx0, chassis_top, cx1, chassis_top + 0.9 * r), dark)
    # body: far rim, inside band (cargo), near wall, end posts
    bx0, bx1 = span(0, body_len)
    post = max(2.0, 0.022 * Lt)
    cv.paint(cv.rect(bx0, band_top - rim, bx1, band_top), wall * 0.8)
    cv.paint(cv.rect(bx0, band_top, bx1, chassis_top), wall * 0.55)  # placeholder inside
    ix0, ix1 = bx0 + post, bx1 - post
    cv.paint(cv.rect(bx0, wall_top, bx1, chassis_top), wall)
    cv.paint(cv.rect(bx0, wall_top, bx1, wall_top + rim), np.minimum(wall * 1.25 + 0.05, 1))
    cv.paint(cv.rect(bx0, chassis_top - 1.5 * rim, bx1, chassis_top), wall * 0.7)
    for s in np.arange(0.0, 1.0001, 1 / int(rng.integers(4, 8))):
        sx = bx0 + post / 2 + s * (bx1 - bx0 - post)
        cv.paint(cv.rect(sx - max(1, 0.4 * post), wall_top + rim, sx + max(1, 0.4 * post),
                         chassis_top - 1.5 * rim), wall * 0.8)
    for px in (bx0, bx1 - post):
        cv.paint(cv.rect(px, band_top - rim, px + post, chassis_top), wall * 0.85)
    # cab
    kx0, kx1 = span(body_len + gap, Lt)
    cab = tint(rng, pick(rng, _CAB_COLORS), 0.04)
    cab_top = band_top - rim - rng.uniform(-0.05, 0.15) * hw
    front_x = kx1 if facing == "right" else kx0
    back_x = kx0 if facing == "right" else kx1
    sgn = 1 if facing == "right" else -1
    cab_poly = [(back_x, cab_top), (front_x - sgn * 0.18 * cab_len, cab_top),
                (front_x, cab_top + 0.3 * (chassis_top - cab_top)), (front_x, chassis_top + r),
                (back_x, chassis_top + r)]
    cv.paint(cv.poly(cab_poly), cab)
    ch = chassis_top - cab_top
    win = [(back_x + sgn * 0.35 * cab_len, cab_top + 0.1 * ch),
           (front_x - sgn * 0.2 * cab_len, cab_top + 0.1 * ch),
           (front_x - sgn * 0.06 * cab_len, cab_top + 0.42 * ch),
           (back_x + sgn * 0.35 * cab_len, cab_top + 0.42 * ch)]
    cv.paint(cv.poly(win), tint(rng, (0.35, 0.45, 0.55)))
    cv.paint(cv.line([(back_x + sgn * 0.3 * cab_len, cab_top + 0.05 * ch),
                      (back_x + sgn * 0.3 * cab_len, chassis_top + 0.8 * r)], max(1, k)),
             cab * 0.55)
    cv.paint(cv.rect(min(front_x, front_x - sgn * 0.1 * cab_len), chassis_top + 0.2 * r,
                     max(front_x, front_x - sgn * 0.1 * cab_len), chassis_top + r), dark)
    hl = front_x - sgn * 0.05 * cab_len
    cv.paint(cv.rect(min(hl, front_x), chassis_top - 0.5 * r, max(hl, front_x),
                     chassis_top - 0.1 * r), tint(rng, (0.92, 0.90, 0.78)))
    ex = back_x - sgn * 0.02 * Lt  # exhaust stack
    cv.paint(cv.rect(min(ex, ex + sgn * 0.012 * Lt), cab_top - 0.3 * hw,
                     max(ex, ex + sgn * 0.012 * Lt), chassis_top), tint(rng, (0.62, 0.63, 0.64)))
    # wheels: one axle under the cab, a tandem under the body's rear
    tyre, hub = tint(rng, (0.07, 0.07, 0.08), 0.01), tint(rng, (0.62, 0.62, 0.62), 0.05)
    for s in (Lt - 0.1 * Lt, 0.12 * Lt, 0.12 * Lt + 2.2 * r):
        wx, _ = span(s, s)
        cv.paint(cv.ellipse(wx, yg - r, r, r), tyre)
        cv.paint(cv.ellipse(wx, yg - r, 0.55 * r, 0.55 * r), hub)
        cv.paint(cv.ellipse(wx, yg - r, 0.18 * r, 0.18 * r), dark)
    cargo_box = (ix0, band_top, ix1, wall_top)
    body_box = (bx0, band_top - rim, bx1, chassis_top)
    truck_box = (tx0, min(cab_top - 0.3 * hw, band_top - rim), tx0 + Lt, yg)
    return {"cargo_box": cargo_box, "body_box": body_box, "truck_box": truck_box,
            "facing": facing, "Lt": Lt, "Bw": hb, "wall": wall, "yg": yg,
            "hw": hw, "band_top": band_top, "wall_top": wall_top}


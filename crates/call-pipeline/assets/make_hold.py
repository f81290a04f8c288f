#!/usr/bin/env python3
"""Writes hold.ulaw: the hold audio a caller hears while the advisor's phone rings.

A soft two-bar arpeggio (sine tones with their octave, gentle attack and decay, quiet), 8 kHz
mono G.711 mu-law, no header; the call plays it in a loop. Run from this directory.
"""
import math

RATE = 8000
NOTES = [523.25, 659.25, 783.99, 659.25, 587.33, 698.46, 880.00, 698.46]
NOTE_SECONDS = 0.75
PEAK = 0.12 * 32767


def mulaw(sample: int) -> int:
    # G.711 mu-law encoding of a 16-bit linear sample.
    bias, clip = 0x84, 32635
    sign = 0x80 if sample < 0 else 0
    sample = min(abs(sample), clip) + bias
    exponent = 7
    mask = 0x4000
    while exponent > 0 and not sample & mask:
        exponent -= 1
        mask >>= 1
    mantissa = (sample >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


out = bytearray()
n = int(RATE * NOTE_SECONDS)
for freq in NOTES:
    for i in range(n):
        t = i / RATE
        attack = min(1.0, t / 0.04)
        decay = math.exp(-3.0 * t / NOTE_SECONDS)
        value = math.sin(2 * math.pi * freq * t) + 0.3 * math.sin(4 * math.pi * freq * t)
        out.append(mulaw(int(PEAK * attack * decay * value / 1.3)))
with open("hold.ulaw", "wb") as f:
    f.write(out)

"""Writes the hand-made seeds of tests/fuzz/corpus/ (run from the repository root).

Each seed is spelled in the byte format the targets decode (see input.hpp and the
targets' spec_from / run): a byte for a small count is `value - low` (mod the
range), a stochastic row is a mode byte (1: weights) then one weight byte per
stage, an amount is a tag byte (1: int8 times 10) then the byte.
"""

from pathlib import Path

CORPUS = Path(__file__).parent / "corpus"


def journey(n, segments, streams, rows, start, amounts, tail, flags=0, tol=0):
    """One segment per entry of `segments` (share byte), `rows` per segment: the
    weight rows of a single tenure piece (None: absorbing), amounts per stream."""
    b = [n - 1, len(segments) - 1, streams, flags, tol]
    b += [1] * streams  # discount rate 0.01
    for share, seg_rows in zip(segments, rows):
        b += share  # share bytes (nothing consumed for one segment but its tag)
        b += [0]  # one tenure piece
        b += [0]  # its start (0)
        b += [0]  # square matrix
        for r in seg_rows:
            b += [0] if r is None else [1, *r]
        b += [0]  # no piece dropped
        for k in range(streams):
            b += [0, 0, 0]  # same rate, one value piece starting at 0
            b += [0]  # one value per stage
            for a in amounts[k]:
                b += [1, a & 0xFF]
            b += [0]  # no values on moves
        b += [0, *start]  # start weights
    return bytes(b + tail)


def main():
    j = CORPUS / "fuzz_journey"
    j.mkdir(parents=True, exist_ok=True)
    # active -> won 0.1, churned 0.2; revenue 10 in active; 12 periods, then a
    # simulation of 100 customers over 6 periods.
    three = [[[7, 1, 2], None, None]]
    tail = [0, 0, 0, 0, 0]  # detected absorbing, no value stage, weights, cohort
    tail += [12, 0, 0, 0, 0, 0, 1]  # analyze(12, start); value sensitivities, lifetime
    tail += [0, 1, 1, 5]  # first_visits(segment 0, stage 0, 0, 4)
    tail += [100, 0, 6, 7, 0, 1, 0, 0, 1, 1, 0]  # simulate 100 customers, 6 periods
    (j / "three_stages").write_bytes(
        journey(3, [[0]], 1, three, [1, 0, 0], [[1, 0, 0]], tail)
    )
    # Two segments, two streams (a cost), arrivals of 50 and 30, end-of-period
    # accrual, a value stage; simulated with a capacity rule (10 per period).
    rows = [
        [[6, 2, 1, 1], [1, 6, 1, 2], None, None],
        [[4, 4, 1, 1], [2, 5, 2, 1], None, None],
    ]
    tail2 = [0, 1, 3, 0, 0, 2, 1, 5, 1, 3]
    tail2 += [20, 1, 0, 0, 0, 0, 1, 0, 10, 1, 2, 1, 8]
    tail2 += [200, 0, 10, 9, 0, 2, 1, 0, 1, 1, 1]
    tail2 += [11, 0, 1, 0, 0, 0, 0, 4, 0, 0, 1, 0, 0, 0]
    (j / "segments_arrivals").write_bytes(
        journey(
            4,
            [[2, 128], [2, 127]],
            2,
            rows,
            [3, 1, 0, 0],
            [[1, 1, 0, 0], [0xFF, 0xFF, 0, 0]],
            tail2,
        )
    )
    # Two segments, the first with share tag 6 (a special number: NaN): refused.
    (j / "nan_share").write_bytes(
        bytes([1, 1, 0, 0, 0, 6, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1])
    )

    c = CORPUS / "fuzz_count_transitions"
    c.mkdir(parents=True, exist_ok=True)
    # 3 stages, 1 segment, carry forward, sorted; tenure pieces [0, 2]; then the
    # rows (customer step, period, stage, segment bytes).
    by_hand = [4, 2, 1, 2, 0, 1, 0, 0, 1, 4, 4, 0, 9, 0, 3, 0, 0, 2, 1, 0, 0]
    by_hand += [1, 0, 2, 0, 0, 0, 0, 3, 0, 0, 0, 0]
    (c / "by_hand").write_bytes(bytes(by_hand))
    # Snapshots (no carry forward) with a segment column, unsorted.
    (c / "unsorted").write_bytes(bytes([3, 3, 6, 1, 0, 0, 1, 0, 3, 40, *range(40)]))
    # Periods near int64 max (tag 0: max - byte).
    huge = [3, 2, 1, 1, 0, 0, 0, 3, 0, 255, 12, 0, 5, 31, 0, 0, 1, 0, 3, 1, 0, 31]
    (c / "huge_periods").write_bytes(bytes([*huge, 0, 1, 0]))


if __name__ == "__main__":
    main()

"""Time-ordered UUIDs (version 7, RFC 9562): the layout, the order, the randomness."""

from __future__ import annotations

import itertools
import threading
import time
import uuid

from hypothesis import given
from hypothesis import strategies as st

from civicdesk.core import identifiers
from civicdesk.core.identifiers import uuid7, uuid7_time, uuid7s


def test_a_version_7_uuid_of_now():
    before = time.time()
    made = uuid7()
    after = time.time()
    assert isinstance(made, uuid.UUID)
    assert made.version == 7 and made.variant == uuid.RFC_4122
    assert before - 0.002 <= uuid7_time(made) <= after + 0.002
    # The same value whichever way it is read back: text, hex, bytes.
    assert uuid.UUID(str(made)) == made == uuid.UUID(hex=made.hex) == uuid.UUID(bytes=made.bytes)
    assert hash(uuid.UUID(str(made))) == hash(made)


@given(st.lists(st.integers(min_value=0, max_value=300), min_size=1, max_size=12))
def test_every_uuid_is_greater_than_the_ones_before(counts):
    made = [uuid7()]
    for count in counts:
        made += uuid7s(count)
    assert all(a < b for a, b in itertools.pairwise(made))
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in made)
    assert len({u.int & 0xFFFFFFFF for u in made}) > len(made) // 2  # random low bits


def test_the_order_holds_when_the_clock_steps_back(monkeypatch):
    first = uuid7s(3)
    monkeypatch.setattr(identifiers.time, "time_ns", lambda: 1_000_000_000_000)  # 2001
    later = uuid7s(3)
    assert first[-1] < later[0] and uuid7_time(later[0]) >= uuid7_time(first[-1])


def test_a_counter_that_runs_out_moves_to_the_next_millisecond(monkeypatch):
    frozen = time.time_ns() + 10**9  # ahead of anything made so far
    monkeypatch.setattr(identifiers.time, "time_ns", lambda: frozen)
    first = uuid7()
    identifiers._uuid7_last[1] = (1 << identifiers._COUNTER_BITS) - 2  # nearly full
    more = uuid7s(5)
    assert first < more[0] and all(a < b for a, b in itertools.pairwise(more))
    # Compared in whole milliseconds: seconds as floats do not add up exactly.
    assert round(uuid7_time(more[0]) * 1000) == round(uuid7_time(first) * 1000) + 1


def test_threads_never_make_the_same_uuid():
    made: list[uuid.UUID] = []
    lock = threading.Lock()

    def work():
        mine = [uuid7() for _ in range(500)] + uuid7s(500)
        with lock:
            made.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == len(made) == 4000


def test_nothing_asked_nothing_made():
    assert uuid7s(0) == [] and uuid7s(-1) == []


def test_readings_get_version_7_public_ids_by_default():
    from civicdesk.metering.models import Reading

    assert Reading._meta.get_field("public_id").default is uuid7

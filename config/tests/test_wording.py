from __future__ import annotations

import pytest

from config.wording import wait_in_words


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "under a second"),
        (0.4, "under a second"),
        (1, "1 second"),
        (1.2, "2 seconds"),
        (5, "5 seconds"),
        (60, "1 minute"),
        (120, "2 minutes"),
    ],
)
def test_a_wait_reads_as_a_person_says_it(seconds: float, words: str) -> None:
    assert wait_in_words(seconds) == words

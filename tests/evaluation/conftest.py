"""Fixtures of the BCI benchmark tests: a tiny MOABB FakeDataset (fast, deterministic)."""
from __future__ import annotations

import warnings

import pytest


def make_fake(n_subjects: int = 3, n_sessions: int = 2, seed: int = 1, events=("left_hand", "right_hand")):
    """A small left/right MOABB FakeDataset: 6 channels, 128 Hz, ~40 trials per session."""
    from moabb.datasets.fake import FakeDataset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return FakeDataset(event_list=events, n_subjects=n_subjects, n_sessions=n_sessions, n_runs=1,
                           channels=("C3", "Cz", "C4", "Fz", "Pz", "Oz"), sfreq=128, duration=60,
                           n_events=40, seed=seed)


@pytest.fixture
def fake_dataset():
    return make_fake()


@pytest.fixture(autouse=True)
def _quiet_warnings():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="moabb")
        yield


@pytest.fixture
def fake_factory():
    """The :func:`make_fake` factory, for tests that need several variants."""
    return make_fake

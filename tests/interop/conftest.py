"""Fixtures that run govmomi's vcsim as an interop peer (see tests/interop/vcsim.py).

vcsim is a required peer: when Go or govmomi are missing the fixtures fail, they never
skip, so a machine without the toolchain cannot report a green interop run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.interop.vcsim import FlagValue, Vcsim, VcsimBuildError, VcsimError

VcsimFactory = Callable[..., Vcsim]


def _start(**flags: FlagValue) -> Vcsim:
    try:
        return Vcsim().start(**flags)
    except VcsimBuildError as exc:
        pytest.fail(f"cannot build vcsim, the interop peer:\n{exc}", pytrace=False)
    except VcsimError as exc:
        pytest.fail(f"cannot start vcsim:\n{exc}", pytrace=False)


@pytest.fixture(scope="session")
def vcsim() -> Iterator[Vcsim]:
    """A vcsim with the default VPX inventory, shared by the whole session: don't mutate it."""
    sim = _start()
    yield sim
    sim.stop()


@pytest.fixture
def vcsim_factory() -> Iterator[VcsimFactory]:
    """Start custom vcsims, e.g. ``vcsim_factory(session_idle_timeout="1s", vm=0)``.

    Keyword arguments are main.go's flags with ``_`` for ``-``. All are stopped at teardown.
    """
    started: list[Vcsim] = []

    def start(**flags: FlagValue) -> Vcsim:
        sim = _start(**flags)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()

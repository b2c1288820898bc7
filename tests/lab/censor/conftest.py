"""The `lab` fixture: a three-namespace censored internet with servers running, torn down after."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from lab import netns

from .netlab import Lab, new_lab

TEARDOWN_TIMEOUT_S = 30.0


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[Lab]:
    """Yield a built lab with the resolver and web servers up; remove everything afterwards."""
    world = new_lab(tmp_path)
    try:
        await world.build()
        await world.start_servers()
        yield world
    finally:
        with trio.move_on_after(TEARDOWN_TIMEOUT_S, shield=True):
            await world.close()
        assert await netns.list_namespaces(world.prefix) == []
